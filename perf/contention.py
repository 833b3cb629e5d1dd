"""What models running side by side cost each other on this CPU: the served pipeline runs
detection and two recognition instances at once, where the in-process pipeline runs one
model at a time on all cores.

    .venv/bin/python -m perf.contention --seconds 15 --rounds 2

Each case starts one process per model (pinned as the served instances are), waits until
all are warm, times them together, and prints wall and CPU milliseconds per unit (a crop of
width 480 for recognition, a 640 x 960 image for detection).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np

from perf.harness import REPOSITORY

# (model, threads, cores): recognition as each served text_rec instance, detection as text_det
CASES = {
    "rec alone": [("rec", 1, [0])],
    "rec + rec": [("rec", 1, [0]), ("rec", 1, [1])],
    "rec + det on 1 thread": [("rec", 1, [0]), ("det", 1, [1])],
    "det on 2 threads alone": [("det", 2, [0, 1])],
    "det on 2 threads + rec + rec": [("det", 2, [0, 1]), ("rec", 1, [0]), ("rec", 1, [1])],
}


def child(model: str, threads: int, cores: list[int], seconds: float) -> None:
    from paddle_python.model_files import served_dir
    from paddle_python.pipeline import PipelineConfig
    from paddle_python.predictor import Predictor

    os.sched_setaffinity(0, cores)
    config = PipelineConfig.from_repository(REPOSITORY)
    options = config.rec_predictor if model == "rec" else config.det_predictor
    predictor = Predictor(served_dir(REPOSITORY / f"text_{model}"),
                          replace(options, cpu_threads=threads))
    batch = np.random.rand(*((4, 3, 48, 480) if model == "rec" else (1, 3, 640, 960)))
    for _ in range(3):
        predictor(batch)
    print("ready", flush=True)
    sys.stdin.readline()
    units, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        predictor(batch)
        units += len(batch)
    print(json.dumps({"wall_ms": 1000 * (time.perf_counter() - start) / units,
                      "cpu_ms": 1000 * (time.process_time() - cpu) / units}), flush=True)


def measure(case: list[tuple[str, int, list[int]]], seconds: float) -> list[dict[str, float]]:
    procs = [subprocess.Popen(
        [sys.executable, "-m", "perf.contention", "--child", model, str(threads),
         ",".join(map(str, cores)), "--seconds", str(seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for model, threads, cores in case]
    for proc in procs:
        while proc.stdout.readline().strip() != "ready":
            pass
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(proc.stdout.readline()) for proc in procs]
    for proc in procs:
        proc.wait()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "THREADS", "CORES"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        model, threads, cores = args.child
        child(model, int(threads), [int(c) for c in cores.split(",")], args.seconds)
        return 0
    print("| case | round | model (threads, cores): wall / CPU ms per unit |\n|---|---|---|")
    for round_ in range(1, args.rounds + 1):
        for name, case in CASES.items():
            cells = [f"{m} ({t}, {','.join(map(str, c))}): {r['wall_ms']:.1f} / {r['cpu_ms']:.1f}"
                     for (m, t, c), r in zip(case, measure(case, args.seconds))]
            print(f"| {name} | {round_} | {'; '.join(cells)} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
