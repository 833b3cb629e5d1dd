"""Where one image's time goes at concurrency 1: each photo served (gRPC, one request at a
time) against the same package in-process, with the served models' share of it.

    .venv/bin/python -m perf.latency --repeats 5 --out perf/results/latency.md
    .venv/bin/python -m perf.latency --variants "as configured" "rec batches of at most 4" --rounds 2

With ``--variants`` (names from ``perf.sweep.VARIANTS``) each variant is served in turn,
alternating over ``--rounds``, and the table gives each one's client ms per photo beside
the in-process pipeline's.

Without it, each stage is timed both ways by the same names (``metrics.stage``): decode and
resize, the detection predictor, DB boxes and crops, classification and recognition (their
wall time, BLS calls included, in ``ocr_postprocess``). Served, these come from the models'
own ``ocr_stage_seconds``; in-process, from a recorder lent to the pipeline. "The rest" is
the median call less its stages: served, the front door, gRPC, the ensemble's hand-offs and
each stub's own overhead. Also given: the summed time of text_rec's predictor runs (two
instances, so they may overlap) and the queue + compute time in Triton of pre-processing and
detection (``ocr_postprocess`` answers through its response sender after its execute has
returned, so Triton's figures for it end when an image starts being read).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

from paddle_python import metrics
from perf.baselines import in_process_pipeline
from perf.harness import (
    REPOSITORY,
    WORK,
    RunningServer,
    model_stats,
    photos,
    round_order,
    serve,
)
from perf.run import served_reader, table
from perf.sweep import serve_variant
from tests.support.prometheus import scrape, value

STAGES = ("decode", "resize", "detect", "boxes", "classify", "recognize")
# Where each stage is timed in the server: (model, its ocr_stage_seconds stage).
SERVED_STAGES = {"decode": ("ocr_preprocess", "decode"), "resize": ("ocr_preprocess", "resize"),
                 "detect": ("text_det", "predict"), "boxes": ("ocr_postprocess", "boxes"),
                 "classify": ("ocr_postprocess", "classify"),
                 "recognize": ("ocr_postprocess", "recognize"),
                 "text_rec runs": ("text_rec", "predict")}


def timed(call: Callable[[bytes], object], data: bytes, repeats: int,
          counters: Callable[[], dict[str, float]] = dict) -> dict[str, float]:
    """Medians over ``repeats`` calls, after one untimed call: the call's ms ("total") and
    each running counter's growth during a call (``counters`` reads them, in ms)."""
    call(data)
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeats):
        before = counters()
        start = time.perf_counter()
        call(data)
        samples["total"].append(1000 * (time.perf_counter() - start))
        after = counters()
        for name in after:
            samples[name].append(after[name] - before.get(name, 0.0))
    return {name: statistics.median(values) for name, values in samples.items()}


class StageClock:
    """Sums the in-process pipeline's stage times (``metrics.stage``), lent to it through
    ``metrics.recording``; the other things a stub's metrics count are not needed here."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)

    def seconds(self, stage: str, value: float) -> None:
        self.totals[stage] += value

    def batch(self, rows: int) -> None:
        pass

    def lines(self, count: int) -> None:
        pass

    def ms(self) -> dict[str, float]:
        return {stage: 1000 * seconds for stage, seconds in self.totals.items()}


def in_process(files: list[Path], repeats: int) -> dict[str, dict[str, float]]:
    """Per photo: medians of the call ("total") and of each stage, in ms."""
    pipeline = in_process_pipeline()
    clock = StageClock()
    with metrics.recording(clock):
        return {f.name: timed(pipeline, f.read_bytes(), repeats, clock.ms) for f in files}


def server_counters(server: RunningServer) -> dict[str, float]:
    """The served stages' running totals (``SERVED_STAGES``) and each model's queue +
    compute time in Triton, in ms."""
    samples = scrape(server)
    stats = model_stats(server.http_url)
    counters = {name: 1000 * value(samples, "ocr_stage_seconds_sum", model=model, stage=stage)
                for name, (model, stage) in SERVED_STAGES.items()}
    for model in ("ocr_preprocess", "text_det"):
        times = stats[model]["inference_stats"]
        counters[model] = (int(times["queue"]["ns"]) + int(times["compute_infer"]["ns"])) / 1e6
    return counters


def served(files: list[Path], repeats: int, server: RunningServer) -> dict[str, dict[str, float]]:
    """Per photo: medians of the client's call ("total"), of each stage inside the models
    and of each model's queue + compute time in Triton, in ms. Stops ``server`` when done."""
    try:
        read, client = served_reader(server.grpc_url)
        rows = {f.name: timed(read, f.read_bytes(), repeats, lambda: server_counters(server))
                for f in files}
        client.close()
        return rows
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed requests per photo")
    parser.add_argument("--variants", nargs="+", help="compare these perf.sweep variants")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --variants: serve each once per round, reversing the order "
                             "on alternate rounds")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    files = photos()
    report = compare(files, args) if args.variants else breakdown(files, args.repeats)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 0


def compare(files: list[Path], args: argparse.Namespace) -> str:
    """Client ms per photo for each variant and round, beside the in-process pipeline."""
    work = Path(tempfile.mkdtemp(prefix="ocr-latency-"))
    columns = []  # (header, {photo: ms})
    for number in range(args.rounds):
        for name in round_order(args.variants, number):
            rows = served(files, args.repeats, serve_variant(name, work))
            columns.append((f"{name} ({number + 1})",
                            {photo: row["total"] for photo, row in rows.items()}))
    local = {photo: row["total"] for photo, row in in_process(files, args.repeats).items()}
    rows = [[f.name, f"{local[f.name]:.0f}",
             *(f"{ms[f.name]:.0f} ({ms[f.name] / local[f.name]:.2f})" for _, ms in columns)]
            for f in files]
    totals = ["all photos", f"{sum(local.values()):.0f}",
              *(f"{sum(ms.values()):.0f} ({sum(ms.values()) / sum(local.values()):.2f})"
                for _, ms in columns)]
    return table(["photo", "in-process ms", *(header for header, _ in columns)], rows + [totals])


def breakdown(files: list[Path], repeats: int) -> str:
    """Per photo: served against in-process, stage by stage."""
    server, _ = serve(REPOSITORY, WORK / "latency.log")
    remote = served(files, repeats, server)  # first: no Paddle threads of ours in its way
    local = in_process(files, repeats)
    rows = []
    for f in files:
        here, there = local[f.name], remote[f.name]
        rest = [row["total"] - sum(row[stage] for stage in STAGES) for row in (here, there)]
        rows.append([
            f.name, f"{here['total']:.0f}", f"{there['total']:.0f}",
            f"{there['total'] / here['total']:.2f}",
            *(f"{here[stage]:.0f} / {there[stage]:.0f}" for stage in STAGES),
            f"{there['text_rec runs']:.0f}", f"{rest[0]:.0f} / {rest[1]:.0f}",
            " / ".join(f"{there[m]:.0f}" for m in ("ocr_preprocess", "text_det")),
        ])
    return table(["photo", "in-process ms", "served ms", "ratio",
                  *(f"{stage} (in / served)" for stage in STAGES), "text_rec runs (summed)",
                  "the rest (in / served)", "pre / det in Triton"], rows)


if __name__ == "__main__":
    raise SystemExit(main())
