"""Pieces the benchmarks share: a served model repository, perf_analyzer runs, Triton's
per-model statistics, and process memory.

Everything measures the real thing: ``ocr-server`` (the launcher users run), perf_analyzer
2.51.0 from the tritonclient wheel, and ``/proc`` for memory.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from tests.support.server import RunningServer, children, start_server

ROOT = Path(__file__).resolve().parents[1]

PERF_ANALYZER = ROOT / "perf" / "perf_analyzer"
REPOSITORY = ROOT / "model_repository"
RESULTS = ROOT / "perf" / "results"  # reports and plots that are committed
WORK = ROOT / "perf" / "work"  # inputs and logs of a run
PHOTOS = ROOT.parent / "shared" / "images"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def photos() -> list[Path]:
    """The team's real photographs: the benchmark workload."""
    return sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def mixed_sizes(images: list[Path], folder: Path) -> list[Path]:
    """The photos at several scales: every detection bucket and many crop widths get used."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in images:
        image = cv2.imread(str(path))
        for scale in (0.5, 0.75, 1.0, 1.5, 2.0):
            target = folder / f"{path.stem}_{int(scale * 100)}.jpg"
            resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(target), resized, [cv2.IMWRITE_JPEG_QUALITY, 92])
            out.append(target)
    return out


def write_input_data(images: list[Path], path: Path) -> Path:
    from perf.make_input_data import input_data

    path.write_text(json.dumps(input_data(images)))
    return path


def variant_repository(target: Path, overrides: dict[str, dict[str, str]]) -> Path:
    """A copy of the model repository with some config.pbtxt text replaced.

    ``overrides`` maps a model name to ``{old text: new text}``; the weights are linked.
    """
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(REPOSITORY, target, symlinks=True,
                    ignore=shutil.ignore_patterns("inference.*", "*.txt", "__pycache__"))
    for weights in REPOSITORY.glob("*/1/*"):
        if weights.name.startswith("inference.") or weights.suffix == ".txt":
            (target / weights.relative_to(REPOSITORY)).symlink_to(weights)
    for model, replacements in overrides.items():
        config = target / model / "config.pbtxt"
        text = config.read_text()
        for old, new in replacements.items():
            if old not in text:
                raise KeyError(f"{model}/config.pbtxt has no {old!r}")
            text = text.replace(old, new)
        config.write_text(text)
    return target


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes together, in MB."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total * 4096 / 2**20


def pss_mb(pids: list[int]) -> float:
    """Proportional set size together, in MB: shared library pages counted once overall,
    where summed RSS counts Paddle's libraries again in every stub."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total / 1024


def server_pss_mb(server: RunningServer) -> float:
    return pss_mb(children(server.process.pid))


def server_rss_mb(server: RunningServer) -> float:
    """tritonserver and every stub (all descendants of the launcher)."""
    return rss_mb(children(server.process.pid))


class MemorySampler:
    """Samples the server's summed RSS and PSS (MB) in the background while a workload runs;
    ``samples`` holds (seconds, rss, pss)."""

    def __init__(self, server: RunningServer, interval: float = 1.0):
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "MemorySampler":
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = children(self.server.process.pid)
            self.samples.append((time.monotonic() - self._start, rss_mb(pids), pss_mb(pids)))
            self._stop.wait(self.interval)


def model_stats(http_url: str) -> dict[str, dict]:
    with urllib.request.urlopen(f"http://{http_url}/v2/models/stats", timeout=10) as reply:
        return {m["name"]: m for m in json.load(reply)["model_stats"]}


@dataclass
class StageStats:
    """One model's share of a run: from the difference of two statistics snapshots."""

    requests: int
    executions: int
    inferences: int
    queue_ms: float  # mean per request
    compute_ms: float  # mean compute_infer per execution

    @property
    def batch(self) -> float:
        return self.inferences / self.executions if self.executions else 0.0


def stats_delta(before: dict[str, dict], after: dict[str, dict]) -> dict[str, StageStats]:
    out = {}
    for name, now in after.items():
        then = before.get(name)
        if then is None:
            continue

        def diff(*keys: str, source: dict = now, old: dict = then) -> int:
            a, b = source, old
            for key in keys:
                a, b = a[key], b[key]
            return int(a) - int(b)

        requests = diff("inference_stats", "success", "count")
        executions = diff("execution_count")
        out[name] = StageStats(
            requests=requests,
            executions=executions,
            inferences=diff("inference_count"),
            queue_ms=diff("inference_stats", "queue", "ns") / 1e6 / max(requests, 1),
            compute_ms=diff("inference_stats", "compute_infer", "ns") / 1e6 / max(executions, 1),
        )
    return out


@dataclass
class LoadResult:
    """One perf_analyzer measurement at one concurrency."""

    system: str
    protocol: str
    concurrency: int
    throughput: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    stages: dict[str, StageStats] = field(default_factory=dict)


def run_perf_analyzer(url: str, protocol: str, input_data: Path, concurrency: int,
                      window: list[str], model: str = "ocr",
                      extra: list[str] = ()) -> subprocess.CompletedProcess:
    """perf_analyzer at one concurrency with the given window flags; three windows, averaged
    (stability is not required to converge). Raises with its output if it fails."""
    command = [
        str(PERF_ANALYZER), "-m", model, "-i", protocol, "-u", url,
        "--input-data", str(input_data), "--concurrency-range", str(concurrency),
        *window, "--stability-percentage", "999", "--max-trials", "3", *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"perf_analyzer failed ({done.returncode}):\n{done.stdout[-3000:]}"
                           f"\n{done.stderr[-3000:]}")
    return done


def perf_analyzer(url: str, protocol: str, input_data: Path, concurrency: int,
                  window_requests: int, model: str = "ocr", system: str = "served",
                  stats_url: str | None = None) -> LoadResult:
    """Run perf_analyzer at one concurrency; read its CSV and, for Triton, the stage stats.

    Windows are counted in requests, not seconds: the photos differ in cost by 10x, so a
    window must hold whole passes over them for the numbers to settle.
    """
    csv_path = input_data.with_name(f"pa_{system}_{protocol}_{concurrency}.csv")
    window = ["--measurement-mode", "count_windows", "--measurement-request-count",
              str(max(window_requests, concurrency))]
    before = model_stats(stats_url) if stats_url else {}
    run_perf_analyzer(url, protocol, input_data, concurrency, window, model, ["-f", str(csv_path)])
    after = model_stats(stats_url) if stats_url else {}
    with open(csv_path) as handle:
        row = next(csv.DictReader(handle))
    return LoadResult(
        system=system, protocol=protocol, concurrency=concurrency,
        throughput=float(row["Inferences/Second"]),
        p50_ms=float(row["p50 latency"]) / 1000, p90_ms=float(row["p90 latency"]) / 1000,
        p99_ms=float(row["p99 latency"]) / 1000,
        stages=stats_delta(before, after) if stats_url else {},
    )


def serve(repository: Path, log: Path, extra: list[str] = ()) -> tuple[RunningServer, float]:
    """Start the server; return it and the seconds from launch to ready."""
    start = time.monotonic()
    server = start_server(repository, log, extra=list(extra))
    return server, time.monotonic() - start
