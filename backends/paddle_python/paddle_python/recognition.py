"""Text recognition: crop pre-processing into width buckets, and CTC decoding.

Each crop is resized to the recognizer's input height (48 for PP-OCRv4 and v5) keeping its
aspect, then padded on the right to the smallest *width bucket* that holds it. The bucket
depends on the crop alone, so a crop's input (and its text) is the same whichever other
crops it is batched with, and the predictor only ever sees a few shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .model_files import DESCRIPTION, character_dict, described_parameters, read_description


@dataclass(frozen=True)
class RecOptions:
    """Recognition pre-processing and filtering (``ocr_postprocess`` parameters)."""

    rec_width_buckets: tuple[int, ...] = (320, 480, 640, 960, 1280, 1600, 1920, 2560)
    # A long line a little wider than a bucket of at least ``rec_squeeze_from`` columns is
    # squeezed into it, down to this share of its width, rather than padded into the next: such
    # lines read as well or better a little narrower (Chinese ones better: the recognizer drops
    # characters of very long inputs; perf/results/documents-*). Narrower crops are padded into
    # a bucket that holds them, as are all with 1.
    rec_max_squeeze: float = 0.75
    rec_squeeze_from: int = 1280
    min_score: float = 0.5  # lines recognised with a lower score are not returned
    # The recognizer's input height; by default what its inference.yml says (RecResizeImg).
    rec_height: int = 48
    # Also return each word's text and box, located by the CTC steps of its line (words.py).
    return_word_boxes: bool = False


@dataclass(frozen=True)
class CtcOptions:
    """``text_rec`` parameters beyond the predictor's."""

    # For a model without inference.yml (PaddleOCR 2.x): its dictionary, a character per
    # line, in the version directory. A PaddleOCR 3.x model's own dictionary comes first.
    dictionary: str = "ppocr_keys_v1.txt"


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


def bucket_width(crop_h: int, crop_w: int, opts: RecOptions) -> tuple[int, int]:
    """(resized width, bucket width) for a crop resized to the recognizer's height: the
    smallest bucket that holds it (a long one squeezed by at most ``rec_max_squeeze``); crops
    wider than every bucket are squeezed into the widest."""
    resized = math.ceil(opts.rec_height * crop_w / crop_h)
    for bucket in sorted(opts.rec_width_buckets):
        squeeze = opts.rec_max_squeeze if bucket >= opts.rec_squeeze_from else 1.0
        if resized * squeeze <= bucket:
            return min(resized, bucket), bucket
    widest = max(opts.rec_width_buckets)
    return widest, widest


def preprocess(crop: np.ndarray, opts: RecOptions) -> np.ndarray:
    """One crop -> ``3 x H x W`` float32: H the recognizer's height, W the crop's width bucket."""
    resized, bucket = bucket_width(crop.shape[0], crop.shape[1], opts)
    return resize_normalize(crop, opts.rec_height, bucket, resized)


def ctc_classes(model_dir: str | Path, opts: CtcOptions) -> list[str]:
    """The recognizer's CTC classes: index 0 the blank, then its dictionary, then a space (as
    PP-OCR trains them). The dictionary is the model's own where its ``inference.yml`` holds
    one, else the ``dictionary`` file."""
    model_dir = Path(model_dir)
    chars = character_dict(read_description(model_dir / DESCRIPTION))
    if chars is None:
        path = model_dir / opts.dictionary
        if not path.is_file():
            raise FileNotFoundError(f"{model_dir} has neither an inference.yml with a "
                                    f"character_dict nor the dictionary {opts.dictionary!r}")
        chars = path.read_text(encoding="utf-8").splitlines()
    return ["<blank>", *chars, " "]


def check_input_height(model_config: dict, model_dir: str | Path) -> None:
    """Refuse a recognizer whose ``inference.yml`` input height is not the ``config.pbtxt``
    input's (``dims: [ 3, H, -1 ]``): crops cut to one would be refused by the other."""
    described = described_parameters(read_description(Path(model_dir) / DESCRIPTION))
    dims = [int(d) for d in model_config["input"][0]["dims"]]
    if "rec_height" in described and int(described["rec_height"]) != dims[1]:
        raise ValueError(f"{model_config['name']}: the model in {model_dir} takes inputs "
                         f"{described['rec_height']} high (inference.yml) but config.pbtxt's "
                         f"input dims are {dims}: set dims, model_warmup and the trt shapes to "
                         f"height {described['rec_height']}")


class CtcDecoder:
    """Greedy CTC decoding: best class per time step, merge repeats, drop blanks.

    In two steps, so that the ``n x T x C`` probabilities (PP-OCRv5: 18385 classes, 2.9 MB
    per crop of width 320) are reduced where each predictor run makes them, and only the
    ``n x T x 2`` best paths of a whole batch are kept together.
    """

    def __init__(self, characters: list[str]):
        self.characters = characters
        # Characters of text each class adds when kept (the blank adds none).
        self.lengths = np.array([0, *map(len, characters[1:])], dtype=np.int32)

    def best_path(self, probs: np.ndarray) -> np.ndarray:
        """``n x T x C`` probabilities -> ``n x T x 2``: the best class of each time step (a
        float32 holds every index exactly) and its probability."""
        if probs.shape[-1] != len(self.characters):
            raise ValueError(
                f"model has {probs.shape[-1]} classes, dictionary has {len(self.characters)}"
            )
        best = probs.argmax(axis=2)
        confidence = np.take_along_axis(probs, best[..., None], axis=2)[..., 0]
        return np.stack([best.astype(np.float32), confidence.astype(np.float32)], axis=2)

    @staticmethod
    def _kept(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each step's best class, and whether greedy CTC keeps it (not blank, not a repeat)."""
        best = paths[..., 0].astype(np.int64)
        repeated = np.zeros_like(best, dtype=bool)
        repeated[:, 1:] = best[:, 1:] == best[:, :-1]
        return best, (best != 0) & ~repeated

    def decode(self, paths: np.ndarray) -> tuple[list[str], np.ndarray]:
        """``best_path`` output -> texts and mean confidence of the kept characters."""
        best, keep = self._kept(paths)
        confidence = paths[..., 1]
        texts, scores = [], np.zeros(len(best), dtype=np.float32)
        for row in range(len(best)):
            texts.append("".join(self.characters[i] for i in best[row][keep[row]]))
            if keep[row].any():
                scores[row] = confidence[row][keep[row]].mean()
        return texts, scores

    def steps(self, paths: np.ndarray) -> np.ndarray:
        """``best_path`` output -> ``n x T`` int32: how many characters of ``decode``'s text
        the class kept at each step adds (0 at blanks and repeats). The ``k``-th character of
        a text (from 0) is at the step where the running sum first exceeds ``k``
        (``words.char_steps``)."""
        best, keep = self._kept(paths)
        return np.where(keep, self.lengths[best], 0).astype(np.int32)
