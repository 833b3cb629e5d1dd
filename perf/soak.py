"""The soak: a long, steady load of mixed images; nothing may fail, leak or grow.

    make soak                      # 10 minutes at concurrency 8 (SOAK_ARGS to change)

Starts ``ocr-server``, drives ``ocr`` with perf_analyzer over gRPC on the shared photos at
five scales, and samples once every few seconds the summed RSS and PSS of tritonserver and
its stubs, their open file descriptors and the Python backend's shared-memory regions.
Passes when no good request failed (Triton's statistics), RSS grew less than 10% from the
end of warm-up (the first minute) to the end, and descriptors and shared memory did not grow.
Writes ``perf/results/soak-<date>.md``; exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from perf.harness import (
    REPOSITORY,
    RESULTS,
    WORK,
    mixed_sizes,
    model_stats,
    photos,
    pss_mb,
    rss_mb,
    run_perf_analyzer,
    serve,
    write_input_data,
)
from perf.memory import breakdown, table
from tests.support.server import RunningServer, children, stub_region

WARMUP_S = 60.0  # memory is compared from the end of the first minute
MAX_GROWTH = 0.10  # RSS may grow at most this much after warm-up
SAMPLE_EVERY_S = 5.0


@dataclass
class Sample:
    seconds: float
    rss_mb: float
    pss_mb: float
    fds: int
    shm_regions: int
    shm_mb: float


def open_fds(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(list(Path(f"/proc/{pid}/fd").iterdir()))
        except OSError:
            continue
    return total


def sample(server: RunningServer, start: float) -> Sample:
    pids = children(server.process.pid)
    regions = server.shm_regions()
    shm_bytes = sum(r.stat().st_size for r in regions if r.exists())
    return Sample(time.monotonic() - start, rss_mb(pids), pss_mb(pids),
                  open_fds(pids + [server.process.pid]), len(regions), shm_bytes / 2**20)


def shm_by_model(server: RunningServer) -> dict[str, float]:
    """MB of shared memory per model: each stub names its region on its command line."""
    out: dict[str, float] = {}
    for pid, model in server.stubs().items():
        try:
            size = stub_region(pid).stat().st_size / 2**20
        except OSError:  # the stub or its region is gone
            continue
        out[model] = out.get(model, 0.0) + size
    return out


def ocr_counts(http_url: str) -> tuple[int, int]:
    """(succeeded, failed) ``ocr`` requests so far."""
    stats = model_stats(http_url)["ocr"]["inference_stats"]
    return int(stats["success"]["count"]), int(stats["fail"]["count"])


def soak(server: RunningServer, data: Path, seconds: int, concurrency: int
         ) -> tuple[list[Sample], tuple[int, int], str, list[tuple[float, dict[str, float]]]]:
    """Run the load, sampling in the background; returns samples, request counts, and what
    perf_analyzer reported (or its error)."""
    samples: list[Sample] = []
    shm_log: list[tuple[float, dict[str, float]]] = []
    stop = threading.Event()
    start = time.monotonic()

    def sampler() -> None:
        while not stop.is_set():
            samples.append(sample(server, start))
            by_model = shm_by_model(server)
            if not shm_log or shm_log[-1][1] != by_model:
                shm_log.append((samples[-1].seconds, by_model))
            stop.wait(SAMPLE_EVERY_S)

    thread = threading.Thread(target=sampler, daemon=True)
    before = ocr_counts(server.http_url)
    thread.start()
    try:
        # Three measurement windows after perf_analyzer's own warm-up fill the time asked for.
        window = ["--measurement-interval", str(seconds * 1000 // 3)]
        done = run_perf_analyzer(server.grpc_url, "grpc", data, concurrency, window)
        outcome = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    except RuntimeError as exc:
        outcome = f"perf_analyzer failed: {exc}"
    finally:
        stop.set()
        thread.join()
    after = ocr_counts(server.http_url)
    return samples, (after[0] - before[0], after[1] - before[1]), outcome, shm_log


def verdict(samples: list[Sample], counts: tuple[int, int]) -> list[tuple[str, bool, str]]:
    settled = next(s for s in samples if s.seconds >= WARMUP_S)
    end = samples[-1]
    growth = (end.rss_mb - settled.rss_mb) / settled.rss_mb
    later = [s for s in samples if s.seconds >= WARMUP_S]
    return [
        ("no good request failed", counts[1] == 0 and counts[0] > 0,
         f"{counts[0]} succeeded, {counts[1]} failed"),
        (f"RSS growth after warm-up < {MAX_GROWTH:.0%}", growth < MAX_GROWTH,
         f"{settled.rss_mb:.0f} MB at {settled.seconds:.0f} s -> {end.rss_mb:.0f} MB at end "
         f"({growth:+.1%}); max {max(s.rss_mb for s in samples):.0f} MB"),
        ("file descriptors flat", max(s.fds for s in later) <= settled.fds + 8,
         f"{settled.fds} after warm-up, max {max(s.fds for s in later)}, end {end.fds}"),
        ("shared memory flat", max(s.shm_mb for s in later) <= settled.shm_mb
         and max(s.shm_regions for s in later) <= settled.shm_regions,
         f"{settled.shm_regions} regions / {settled.shm_mb:.0f} MB after warm-up, "
         f"max {max(s.shm_regions for s in later)} / {max(s.shm_mb for s in later):.0f} MB"),
    ]


def report(name: str, minutes: float, concurrency: int, images: int, ready_s: float,
           samples: list[Sample], counts: tuple[int, int], outcome: str, exit_code: int,
           shm_log: list[tuple[float, dict[str, float]]], per_process: str) -> str:
    checks = verdict(samples, counts)
    lines = [
        f"# Soak `{name}`", "",
        f"`make soak` (`python -m perf.soak --minutes {minutes:g} --concurrency {concurrency}`): "
        f"perf_analyzer over gRPC at concurrency {concurrency} on {images} images (the shared "
        f"photos at 5 scales) for {samples[-1].seconds / 60:.1f} minutes; launch to ready "
        f"{ready_s:.1f} s; server exit code {exit_code}.", "",
        f"perf_analyzer: `{outcome}`", "",
        "| check | result | measured |", "|---|---|---|",
        *(f"| {check} | {'pass' if ok else 'FAIL'} | {detail} |" for check, ok, detail in checks),
        "", "Samples (tritonserver and its stubs; file descriptors include the launcher):", "",
        "| s | RSS MB | PSS MB | fds | shm regions | shm MB |", "|---|---|---|---|---|---|",
    ]
    step = max(1, len(samples) // 20)
    for s in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
        lines.append(f"| {s.seconds:.0f} | {s.rss_mb:.0f} | {s.pss_mb:.0f} | {s.fds} | "
                     f"{s.shm_regions} | {s.shm_mb:.0f} |")
    lines += ["", "Shared memory per model (MB), whenever it changed:", "",
              "| s | " + " | ".join(sorted(shm_log[0][1])) + " |",
              "|---|" + "---|" * len(shm_log[0][1])]
    for seconds, by_model in shm_log:
        lines.append(f"| {seconds:.0f} | " + " | ".join(f"{by_model.get(m, 0):.0f}"
                                                       for m in sorted(shm_log[0][1])) + " |")
    lines += ["", "Per process at the end of the load (`perf/memory.py`):", "", per_process]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--name", default="soak" + datetime.date.today().strftime("-%Y-%m-%d"))
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    images = mixed_sizes(photos(), WORK / "mixed")
    data = write_input_data(images, WORK / "mixed.json")
    server, ready_s = serve(REPOSITORY, WORK / "soak-server.log")
    try:
        samples, counts, outcome, shm_log = soak(server, data, int(args.minutes * 60),
                                                 args.concurrency)
        per_process = table(breakdown(server))
    finally:
        exit_code = server.stop()
    text = report(args.name, args.minutes, args.concurrency, len(images), ready_s, samples,
                  counts, outcome, exit_code, shm_log, per_process)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)
    passed = all(ok for _, ok, _ in verdict(samples, counts)) and exit_code == 0
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
