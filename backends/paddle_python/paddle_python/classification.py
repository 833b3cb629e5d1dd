"""Text direction: the classifier tells upright crops from upside-down ones.

The PP-OCR mobile v2 classifier takes ``3 x 48 x 192`` inputs. A long line squeezed into one
such input is unreadable (a line 20 times as wide as high shrinks 5 times across), and on it
the classifier answers with confidence either way: on rendered pages it turned upright lines
over at 0.98-0.99. So a crop is read in *windows* of the classifier's own aspect along the
line, each at the line's scale, and the windows vote. A crop is turned only when their
vote is confident it is upside down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .recognition import resize_normalize

CLS_SHAPE = (3, 48, 192)  # input of the PP-OCR mobile v2 direction classifier
ANGLES = (0, 180)  # the classifier's labels, in output order
_SURE = 1e-3  # a window's probabilities are taken within [_SURE, 1 - _SURE]: log-odds of +-6.9


@dataclass(frozen=True)
class ClsOptions:
    """Direction classification (``ocr_postprocess`` parameters)."""

    use_angle_cls: bool = True
    cls_thresh: float = 0.9
    cls_max_windows: int = 4  # windows classified per crop, evenly spread; 1: squeeze the line
    # Recognise a crop the classifier would turn both ways and keep the surer reading.
    cls_verify: bool = True


def preprocess(crop: np.ndarray) -> np.ndarray:
    """One crop -> the classifier's ``3 x 48 x 192`` float32 input (squeezed if wider)."""
    _, height, width = CLS_SHAPE
    return resize_normalize(crop, height, width)


def windows(crop: np.ndarray, most: int) -> list[np.ndarray]:
    """The classifier's inputs for one crop: up to ``most`` windows of its aspect, evenly
    spread along the line (the first and last at its ends), or the whole crop if it fits."""
    _, height, width = CLS_SHAPE
    crop_h, crop_w = crop.shape[:2]
    span = max(1, round(crop_h * width / height))  # crop pixels one window covers
    count = min(most, math.ceil(crop_w / span))
    if count <= 1:
        return [preprocess(crop)]
    starts = np.linspace(0, crop_w - span, count).round().astype(int)
    return [preprocess(crop[:, s : s + span]) for s in starts]


def decode(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classifier probabilities ``n x 2`` -> angles (0 or 180) and their probabilities."""
    best = probs.argmax(axis=1)
    return np.asarray(ANGLES, dtype=np.int32)[best], probs.max(axis=1).astype(np.float32)


def upside_down(angles: np.ndarray, scores: np.ndarray, owners: list[int], crops: int,
                opts: ClsOptions) -> np.ndarray:
    """Which crops to turn: those whose windows (``owners[i]``: the crop of input ``i``)
    together are more than ``cls_thresh`` sure to be upside down.

    The windows vote with their mean log-odds: a window that cannot tell (a half-empty one
    at a line's end, near 0.5) weighs little against the sure ones, where a mean of
    probabilities would let it hold a plainly turned line back.
    """
    turned = np.where(np.asarray(angles) == 180, scores, 1.0 - np.asarray(scores))
    p = np.clip(turned, _SURE, 1.0 - _SURE)
    sums = np.bincount(owners, weights=np.log(p / (1.0 - p)), minlength=crops)
    mean = sums / np.maximum(np.bincount(owners, minlength=crops), 1)
    return 1.0 / (1.0 + np.exp(-mean)) > opts.cls_thresh


def turn(crop: np.ndarray) -> np.ndarray:
    """The crop turned 180 degrees."""
    return np.ascontiguousarray(np.rot90(crop, 2))
