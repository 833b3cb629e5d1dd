"""Turning many requests into few predictor runs.

Triton's dynamic batcher hands ``execute`` several requests at once. Inputs of the same
shape are stacked and run together, in chunks whose sizes come from a short allowed list
(``batch_sizes``, which may depend on the input's width): each distinct batch size is
another shape for Paddle's per-shape caches, so the list bounds memory while still
letting large batches through.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Sequence

import numpy as np


def split_batch(count: int, sizes: Iterable[int]) -> list[int]:
    """Chunk sizes from ``sizes`` that add up to ``count``, largest first (1 is always allowed)."""
    allowed = sorted({1, *sizes}, reverse=True)
    chunks = []
    while count > 0:
        size = next(s for s in allowed if s <= count)
        chunks.append(size)
        count -= size
    return chunks


def even_chunks(count: int, most: int) -> list[int]:
    """The fewest chunks of at most ``most`` that add up to ``count``, as equal as can be.

    BLS requests are cut this way so that one image's lines spread evenly over the callee's
    instances: 9 crops go out as 3 + 3 + 3, not 4 + 4 + 1.
    """
    parts = -(-count // most)
    base, extra = divmod(count, parts) if parts else (0, 0)
    return [base + 1] * extra + [base] * (parts - extra)


def group_by_shape(inputs: Sequence[np.ndarray]) -> dict[tuple[int, ...], list[int]]:
    """Indices of the non-empty inputs, grouped by the shape of one row (all but dim 0)."""
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for index, array in enumerate(inputs):
        if len(array):
            groups[tuple(array.shape[1:])].append(index)
    return dict(groups)


def run_batched(
    inputs: Sequence[np.ndarray],
    run: Callable[[np.ndarray], np.ndarray],
    sizes: Callable[[int], Iterable[int]],
) -> list[np.ndarray]:
    """Run ``run`` over every row of every input, stacking rows of equal shape in chunks
    whose sizes ``sizes(width)`` allows (width: a row's last dimension).

    ``inputs[i]`` is ``k_i x ...``; the result ``[i]`` holds ``run``'s ``k_i`` output rows
    (an empty input gets an empty array).
    """
    outputs: list[list[np.ndarray]] = [[] for _ in inputs]
    for shape, members in group_by_shape(inputs).items():
        stacked = np.concatenate([inputs[i] for i in members])
        results, start = [], 0
        for size in split_batch(len(stacked), sizes(shape[-1])):
            results.append(run(stacked[start : start + size]))
            start += size
        merged = np.concatenate(results)
        start = 0
        for i in members:
            outputs[i].append(merged[start : start + len(inputs[i])])
            start += len(inputs[i])
    return [
        parts[0] if parts else np.zeros((0,), dtype=np.float32) for parts in outputs
    ]
