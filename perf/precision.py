"""CPU engines and precisions against the reference (oneDNN, float32) on the real photos and
the rendered accuracy set: speed per model, and whether the lines read stay the same. An
engine or precision is adopted only where they do.

    .venv/bin/python -m perf.precision [--threads 2] [--passes 3]

Each variant runs the whole in-process pipeline (same options as served, one process, all
predictors on ``--threads``) and is compared line by line with the reference: the same
texts in the same order, and how far any box moved (pixels).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from paddle_python.pipeline import OcrPipeline, OcrResult, PipelineConfig
from perf.harness import REPOSITORY, photos
from tests.support.render import accuracy_set

VARIANTS = {  # name -> (cpu_engine, cpu_precision); the first is the reference
    "onednn fp32": ("onednn", "fp32"),
    "openvino fp32": ("openvino", "fp32"),
    "openvino bf16": ("openvino", "bf16"),
    "onednn bf16": ("onednn", "bf16"),
}


def pipeline(engine: str, precision: str, threads: int) -> OcrPipeline:
    config = PipelineConfig.from_repository(REPOSITORY).for_one_process(threads)
    return OcrPipeline(REPOSITORY, config=config.with_predictors(cpu_engine=engine,
                                                                  cpu_precision=precision))


def timed(call, inputs: list, passes: int) -> float:
    """Seconds per input, after one untimed pass (every shape seen once)."""
    for item in inputs:
        call(item)
    start = time.perf_counter()
    for _ in range(passes):
        for item in inputs:
            call(item)
    return (time.perf_counter() - start) / (passes * len(inputs))


def compare(reference: list[OcrResult], results: list[OcrResult]) -> tuple[int, int, float]:
    """(images whose lines read the same, lines differing, largest box shift in pixels)."""
    same_images = differing = 0
    shift = 0.0
    for want, got in zip(reference, results):
        if want.texts == got.texts:
            same_images += 1
            if len(want.boxes):
                shift = max(shift, float(np.abs(want.boxes - got.boxes).max()))
        else:
            differing += sum(a != b for a, b in zip(want.texts, got.texts))
            differing += abs(len(want.texts) - len(got.texts))
    return same_images, differing, shift


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    images = [p.read_bytes() for p in photos()] + [data for _, data, _ in accuracy_set()]
    reference: list[OcrResult] = []
    print(f"{len(images)} images ({len(photos())} photos, the rest rendered text); "
          f"{args.threads} threads")
    for name, (engine, precision) in VARIANTS.items():
        try:
            ocr = pipeline(engine, precision, args.threads)
            results = [ocr(data) for data in images]
        except Exception as exc:  # a precision some model cannot run
            print(f"{name}: fails: {str(exc).strip().splitlines()[-1][:160]}")
            continue
        seconds = timed(ocr, images[:len(photos())], args.passes)
        reference = reference or results
        same, differing, shift = compare(reference, results)
        lines = sum(len(r.texts) for r in reference)
        print(f"{name}: {1000 * seconds:.0f} ms per photo; {same}/{len(images)} images read "
              f"the same as {next(iter(VARIANTS))} ({differing} of {lines} lines differ), boxes "
              f"within {shift:.1f} px", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
