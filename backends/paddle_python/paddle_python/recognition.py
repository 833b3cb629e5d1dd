"""Text recognition: crop pre-processing into width buckets, and CTC decoding.

Each crop is resized to height 48 keeping its aspect, then padded on the right to the
smallest *width bucket* that holds it. The bucket depends on the crop alone, so a crop's
input (and its text) is the same whichever other crops it is batched with, and the
predictor only ever sees a few shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REC_HEIGHT = 48  # input height of the PP-OCRv4 recognizer


@dataclass(frozen=True)
class RecOptions:
    """Recognition pre-processing and filtering (``ocr_postprocess`` parameters)."""

    rec_width_buckets: tuple[int, ...] = (320, 480, 640, 960, 1280)
    min_score: float = 0.5  # lines recognised with a lower score are not returned


@dataclass(frozen=True)
class CtcOptions:
    """``text_rec`` parameters beyond the predictor's."""

    dictionary: str = "ppocr_keys_v1.txt"  # in the model's version directory


def resize_normalize(crop: np.ndarray, height: int, width: int, resized_w: int | None = None
                     ) -> np.ndarray:
    """Resize to ``height`` keeping aspect (at most ``width``), scale to [-1, 1], pad right."""
    h, w = crop.shape[:2]
    if resized_w is None:
        resized_w = min(width, math.ceil(height * w / h))
    resized = cv2.resize(crop, (max(resized_w, 1), height)).astype(np.float32)
    tensor = np.zeros((3, height, width), dtype=np.float32)
    tensor[:, :, :resized_w] = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return tensor


def bucket_width(crop_h: int, crop_w: int, buckets: tuple[int, ...]) -> tuple[int, int]:
    """(resized width, bucket width) for a crop; crops wider than every bucket are squeezed."""
    resized = math.ceil(REC_HEIGHT * crop_w / crop_h)
    for bucket in sorted(buckets):
        if resized <= bucket:
            return resized, bucket
    widest = max(buckets)
    return widest, widest


def preprocess(crop: np.ndarray, opts: RecOptions) -> np.ndarray:
    """One crop -> ``3 x 48 x W`` float32, W its width bucket."""
    resized, bucket = bucket_width(crop.shape[0], crop.shape[1], opts.rec_width_buckets)
    return resize_normalize(crop, REC_HEIGHT, bucket, resized)


def load_dictionary(path: str | Path) -> list[str]:
    """CTC classes: index 0 is the blank, then the dictionary's characters, then a space."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return ["<blank>", *lines, " "]


class CtcDecoder:
    """Greedy CTC decoding: best class per time step, merge repeats, drop blanks."""

    def __init__(self, characters: list[str]):
        self.characters = characters

    def __call__(self, probs: np.ndarray) -> tuple[list[str], np.ndarray]:
        """``n x T x C`` probabilities -> texts and mean confidence of the kept characters."""
        if probs.shape[-1] != len(self.characters):
            raise ValueError(
                f"model has {probs.shape[-1]} classes, dictionary has {len(self.characters)}"
            )
        best = probs.argmax(axis=2)
        confidence = np.take_along_axis(probs, best[..., None], axis=2)[..., 0]
        repeated = np.zeros_like(best, dtype=bool)
        repeated[:, 1:] = best[:, 1:] == best[:, :-1]
        keep = (best != 0) & ~repeated
        texts, scores = [], np.zeros(len(best), dtype=np.float32)
        for row in range(len(best)):
            texts.append("".join(self.characters[i] for i in best[row][keep[row]]))
            if keep[row].any():
                scores[row] = confidence[row][keep[row]].mean()
        return texts, scores
