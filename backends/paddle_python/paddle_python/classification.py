"""Text direction: the classifier tells upright crops from upside-down ones.

Crops are resized to the classifier's fixed ``3 x 48 x 192`` input (aspect kept, padded on
the right); a crop is turned 180 degrees only when the model is confident it is upside down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .recognition import resize_normalize

CLS_SHAPE = (3, 48, 192)  # input of the PP-OCR mobile v2 direction classifier
ANGLES = (0, 180)  # the classifier's labels, in output order


@dataclass(frozen=True)
class ClsOptions:
    """Direction classification (``ocr_postprocess`` parameters)."""

    use_angle_cls: bool = True
    cls_thresh: float = 0.9


def preprocess(crop: np.ndarray) -> np.ndarray:
    """One crop -> the classifier's ``3 x 48 x 192`` float32 input."""
    _, height, width = CLS_SHAPE
    return resize_normalize(crop, height, width)


def decode(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classifier probabilities ``n x 2`` -> angles (0 or 180) and their probabilities."""
    best = probs.argmax(axis=1)
    return np.asarray(ANGLES, dtype=np.int32)[best], probs.max(axis=1).astype(np.float32)


def upright(crops: list[np.ndarray], angles: np.ndarray, scores: np.ndarray,
            opts: ClsOptions) -> list[np.ndarray]:
    """Turn the crops the classifier is confident are upside down."""
    return [
        np.ascontiguousarray(np.rot90(c, 2)) if a == 180 and s > opts.cls_thresh else c
        for c, a, s in zip(crops, angles, scores)
    ]
