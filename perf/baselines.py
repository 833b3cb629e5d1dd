"""In-process baselines, each measured in a fresh process of its own so that no other
engine's threads or memory are in the way:

    .venv/bin/python -m perf.baselines in-process --passes 3 --out result.json
    .venv/bin/python -m perf.baselines rapidocr-960 | rapidocr-default ...

``in-process`` is this package's pipeline called sequentially, every predictor on all cores;
``rapidocr-960`` is rapidocr 3.10 (PP-OCRv6 small on onnxruntime, what a user installs
today) with the served detection sizing (longest side 960), ``rapidocr-default`` the same
package with its own defaults (shortest side raised to 736). Each reports throughput and
latency over the photos and, unless told not to, its accuracy on the accuracy benchmark's
images (``perf.accuracy.summary``: characters in reading order, whole words).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from perf.accuracy import cases, pipeline_reader, rapidocr_engine, rapidocr_reader, summary
from perf.harness import ROOT, photos, usable_cpus

SYSTEMS = ("in-process", "rapidocr-960", "rapidocr-default")


def sequential(call: Callable, images: list, passes: int) -> dict[str, float]:
    """Images one after another; every shape is seen once before timing starts."""
    for image in images:
        call(image)
    latencies = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(passes):
        for image in images:
            t = time.perf_counter()
            call(image)
            latencies.append(time.perf_counter() - t)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"throughput": len(latencies) / elapsed,
            "cpu_ms": 1000 * cpu / len(latencies),
            "p50_ms": 1000 * float(np.percentile(latencies, 50)),
            "p90_ms": 1000 * float(np.percentile(latencies, 90)),
            "p99_ms": 1000 * float(np.percentile(latencies, 99))}


def in_process_pipeline(repository: Path = ROOT / "model_repository"):
    """This package's pipeline as one process would run it: every predictor on all the cores
    this process may use."""
    from paddle_python.pipeline import OcrPipeline, PipelineConfig

    config = PipelineConfig.from_repository(repository).for_one_process(usable_cpus())
    return OcrPipeline(repository, config=config)


def measure(system: str, passes: int, sets: list[str]) -> dict[str, object]:
    """Throughput and latency on the photos; accuracy on the cases of ``sets`` (none: not
    measured)."""
    if system == "in-process":
        call = in_process_pipeline()
        read = pipeline_reader(call)
    elif system in SYSTEMS:
        call = rapidocr_engine(served_sizing=system == "rapidocr-960")
        read = rapidocr_reader(call)
    else:
        raise SystemExit(f"unknown system {system!r}")
    result = {"system": system,
              **sequential(call, [p.read_bytes() for p in photos()], passes)}
    if sets:
        pooled = summary(read, [c for c in cases() if c.set in sets])
        result.update(char_accuracy=pooled.char_accuracy, word_recall=pooled.word_recall)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("--passes", type=int, default=3,
                        help="timed passes over the photos")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--accuracy-sets", nargs="*", default=[],
                        help="score these sets of the accuracy benchmark too")
    args = parser.parse_args()
    result = measure(args.system, args.passes, args.accuracy_sets)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
