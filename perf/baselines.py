"""In-process baselines, each measured in a fresh process of its own so that no other
engine's threads or memory are in the way:

    .venv/bin/python -m perf.baselines in-process --passes 3 --out result.json
    .venv/bin/python -m perf.baselines onnx-960 | onnx-default ...

``in-process`` is this package's pipeline called sequentially, every predictor on all cores; ``onnx-960`` is
rapidocr_onnxruntime with the served detection sizing (longest side 960, same DB settings),
``onnx-default`` the same package with its own defaults (shortest side raised to 736).
Each reports throughput and latency over the photos, and accuracy on rendered text.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from perf.harness import ROOT, photos
from tests.support.render import accuracy_set, squash


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def accuracy(read: Callable[[bytes], list[str]]) -> tuple[float, float]:
    """(share of lines read exactly, character accuracy) on rendered images of known text.

    Spaces are ignored: the recognizer often drops them, whichever implementation runs it.
    """
    exact = total = errors = chars = 0
    for _, data, truth in accuracy_set():
        got = [squash(t) for t in read(data)]
        want = [squash(t) for t in truth]
        exact += sum(1 for line in want if line in got)
        total += len(want)
        errors += edit_distance("".join(got), "".join(want))
        chars += len("".join(want))
    return exact / total, 1 - errors / chars


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


def decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def in_process_pipeline():
    """This package's pipeline as one process would run it: every predictor on all cores."""
    from paddle_python.pipeline import OcrPipeline, PipelineConfig

    repository = ROOT / "model_repository"
    config = PipelineConfig.from_repository(repository).for_one_process(os.cpu_count() or 1)
    return OcrPipeline(repository, config=config)


def measure(system: str, passes: int, with_accuracy: bool = True) -> dict[str, object]:
    files = photos()
    if system == "in-process":
        pipeline = in_process_pipeline()
        result = sequential(pipeline, [p.read_bytes() for p in files], passes)
        if not with_accuracy:
            return {"system": system, **result}
        lines, chars = accuracy(lambda data: pipeline(data).texts)
    else:
        from rapidocr_onnxruntime import RapidOCR

        if system == "onnx-960":
            engine = RapidOCR(det_limit_side_len=960, det_limit_type="max", det_box_thresh=0.6,
                              det_unclip_ratio=1.5, det_donot_use_dilation=True)
        elif system == "onnx-default":
            engine = RapidOCR()
        else:
            raise SystemExit(f"unknown system {system!r}")
        result = sequential(engine, [cv2.imread(str(p)) for p in files], passes)
        if not with_accuracy:
            return {"system": system, **result}

        def read(data: bytes) -> list[str]:
            found, _ = engine(decode(data))
            return [text for _, text, _ in (found or [])]

        lines, chars = accuracy(read)
    return {"system": system, **result, "lines_exact": lines, "char_accuracy": chars}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=["in-process", "onnx-960", "onnx-default"])
    parser.add_argument("--passes", type=int, default=3,
                        help="timed passes over the photos")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-accuracy", dest="accuracy", action="store_false",
                        help="time only (a repeated measurement)")
    args = parser.parse_args()
    result = measure(args.system, args.passes, args.accuracy)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
