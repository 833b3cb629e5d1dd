"""The service's own Prometheus metrics, served by Triton on its metrics port next to ``nv_*``.

Triton counts requests, queue and compute time per model; these add what only the models
know: lines found per image, lines turned upside down, the time of each stage inside a
model, the batch sizes the Paddle predictors really run, and the inputs refused, by reason.
Made with the Python backend's ``pb_utils.MetricFamily``; each stub serves one model
instance, so each creates one ``Metrics`` in ``initialize`` (``setup``) and the glue in
``triton.py`` reaches it through ``current()``. Outside a stub (unit tests, the in-process
pipeline) nothing is recorded, unless a benchmark lends a recorder of its own
(``recording``).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

LINE_BUCKETS = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500]
SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
BATCH_BUCKETS = [1, 2, 4, 8, 16]

_current: "Metrics | None" = None


class Metrics:
    """One model's metrics; every series carries the label ``model``."""

    def __init__(self, model: str):
        import triton_python_backend_utils as pb_utils

        family = pb_utils.MetricFamily
        self.model = model
        self._families = {
            kind: family(name=name, description=description, kind=metric_kind)
            for kind, name, description, metric_kind in (
                ("rejected", "ocr_rejected_inputs_total",
                 "Requests refused because of their input, by reason", family.COUNTER),
                ("lines", "ocr_lines_per_image", "Text lines returned per image", family.HISTOGRAM),
                ("stage", "ocr_stage_seconds", "Seconds spent in each stage inside a model",
                 family.HISTOGRAM),
                ("batch", "ocr_predictor_batch_size", "Rows per Paddle predictor run",
                 family.HISTOGRAM),
                ("turned", "ocr_lines_turned_total",
                 "Lines read turned 180 degrees (the direction classifier's call)", family.COUNTER),
            )
        }
        self._series: dict[tuple[str, str], Any] = {}

    def _metric(self, kind: str, label: str = "", buckets: list[float] | None = None) -> Any:
        key = (kind, label)
        if key not in self._series:
            labels = {"model": self.model}
            if kind == "rejected":
                labels["reason"] = label
            elif kind == "stage":
                labels["stage"] = label
            options = {} if buckets is None else {"buckets": buckets}
            self._series[key] = self._families[kind].Metric(labels=labels, **options)
        return self._series[key]

    def rejected(self, reason: str) -> None:
        self._metric("rejected", reason).increment(1)

    def lines(self, count: int) -> None:
        self._metric("lines", buckets=LINE_BUCKETS).observe(count)

    def turned(self, count: int) -> None:
        self._metric("turned").increment(count)

    def batch(self, rows: int) -> None:
        self._metric("batch", buckets=BATCH_BUCKETS).observe(rows)

    def seconds(self, stage: str, value: float) -> None:
        self._metric("stage", stage, SECONDS_BUCKETS).observe(value)


def setup(model: str) -> Metrics:
    """Create this stub's metrics (call from ``initialize``)."""
    global _current
    _current = Metrics(model)
    return _current


def current() -> Metrics | None:
    return _current


@contextlib.contextmanager
def recording(recorder: Any) -> Iterator[None]:
    """Send what the stages record to ``recorder`` (an object with ``Metrics``' methods)
    for a while: lets a benchmark time the in-process pipeline's stages by the same names."""
    global _current
    saved, _current = _current, recorder
    try:
        yield
    finally:
        _current = saved


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Time a stage into ``ocr_stage_seconds`` (a no-op outside a stub)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if _current is not None:
            _current.seconds(name, time.perf_counter() - start)
