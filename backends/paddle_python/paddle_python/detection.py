"""Text detection around the DB (Differentiable Binarization) model.

Pre-processing resizes the image so its sides are multiples of 32 within a side limit and
pads it into a fixed *bucket* shape: Paddle with oneDNN keeps memory for every distinct input
shape, so a handful of buckets keeps memory bounded and lets images of similar size share one
batch. The detector's input stays uint8 until the detector's own process normalises it: a
quarter of the float32 bytes in every shared-memory region it passes through.
Post-processing turns the probability map into boxes: binarize, find contours, score each box
on the map, expand it (unclip), scale it back to the original image, and sort lines top to
bottom, then left to right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper

from .errors import InputError

_STRIDE = 32  # the network downsamples by 32, so inputs must be multiples of it
_MIN_BOX_SIDE = 3  # boxes thinner than this (in map pixels) are noise
_SAME_LINE = 0.5  # boxes whose tops differ by less than this share of the lower box's height
_VERTICAL_RATIO = 1.5  # a box this many times taller than wide holds a vertical line
_WHOLE_PAGE = 0.9  # share of the text (by length) that must lie one way to turn the page


@dataclass(frozen=True)
class DetResize:
    """How an image is sized for the detector (``ocr_preprocess`` parameters; the detector's
    ``inference.yml`` gives the defaults of the limit)."""

    det_limit_side_len: int = 960
    det_limit_type: str = "max"  # "max": longest side <= limit; "min": shortest side >= limit
    det_bucket_sides: tuple[int, ...] = (320, 480, 640, 800, 960)


@dataclass(frozen=True)
class DetNormalize:
    """How the detector's uint8 input becomes the float32 it takes (``text_det`` parameters,
    defaults from its ``inference.yml``): the statistics it was trained with (ImageNet's),
    applied to BGR channels as-is."""

    det_mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    det_std: tuple[float, ...] = (0.229, 0.224, 0.225)

    def padding(self) -> np.ndarray:
        """The uint8 colour that normalises to (nearly) zero: bucket padding then reads as it
        did when the padding was added after normalising (within 0.01)."""
        return np.round(np.array(self.det_mean) * 255).astype(np.uint8)


def normalize(batch: np.ndarray, opts: DetNormalize) -> np.ndarray:
    """``n x 3 x H x W`` uint8 -> the detector's float32 input."""
    mean = np.array(opts.det_mean, np.float32)[:, None, None]
    std = np.array(opts.det_std, np.float32)[:, None, None]
    return (batch.astype(np.float32) * np.float32(1.0 / 255.0) - mean) / std


@dataclass(frozen=True)
class DbOptions:
    """DB post-processing thresholds (``ocr_postprocess`` parameters; the detector's
    ``inference.yml`` gives the defaults of the first four)."""

    det_thresh: float = 0.3
    det_box_thresh: float = 0.6
    det_unclip_ratio: float = 1.5
    det_max_candidates: int = 1000  # contours looked at per image
    det_use_dilation: bool = False
    det_max_boxes: int = 500  # lines kept per image (highest detection scores): bounds the work


def resized_shape(height: int, width: int, opts: DetResize) -> tuple[int, int]:
    """The size the detector sees the image at, before bucket padding."""
    if opts.det_limit_type == "max":
        longest = max(height, width)
        ratio = opts.det_limit_side_len / longest if longest > opts.det_limit_side_len else 1.0
    elif opts.det_limit_type == "min":
        shortest = min(height, width)
        ratio = opts.det_limit_side_len / shortest if shortest < opts.det_limit_side_len else 1.0
    else:
        raise ValueError(f"det_limit_type must be 'max' or 'min', not {opts.det_limit_type!r}")
    # Never past the largest bucket: the detector is set up for the bucket shapes alone (a
    # "min" limit can ask for more).
    ratio = min(ratio, max(opts.det_bucket_sides) / max(height, width))
    new_h = max(_STRIDE, round(int(height * ratio) / _STRIDE) * _STRIDE)
    new_w = max(_STRIDE, round(int(width * ratio) / _STRIDE) * _STRIDE)
    return new_h, new_w


def check_resize(opts: DetResize) -> None:
    """Refuse a longest-side limit past the largest bucket (a caller would get less than
    asked for): those are the sizes the detector is set up and warmed for."""
    largest = max(opts.det_bucket_sides)
    if opts.det_limit_type == "max" and opts.det_limit_side_len > largest:
        raise InputError(
            f"det_limit_side_len {opts.det_limit_side_len} is more than the largest detection "
            f"bucket, {largest} (det_bucket_sides of ocr_preprocess; serve with "
            "--model-config-name=pages for buckets up to 1920)", "bad_parameter")


def bucket_side(side: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket that holds ``side``; past the largest, the next multiple of 32."""
    for bucket in sorted(buckets):
        if side <= bucket:
            return bucket
    return math.ceil(side / _STRIDE) * _STRIDE


def preprocess(image: np.ndarray, opts: DetResize, norm: DetNormalize
               ) -> tuple[np.ndarray, np.ndarray]:
    """BGR image -> (``3 x H x W`` uint8 bucket-padded input, int32 ``[src_h, src_w, h, w]``);
    ``normalize`` makes it the detector's."""
    src_h, src_w = image.shape[:2]
    new_h, new_w = resized_shape(src_h, src_w, opts)
    resized = cv2.resize(image, (new_w, new_h))
    pad_h = bucket_side(new_h, opts.det_bucket_sides)
    pad_w = bucket_side(new_w, opts.det_bucket_sides)
    tensor = np.empty((3, pad_h, pad_w), dtype=np.uint8)
    tensor[:] = norm.padding()[:, None, None]
    tensor[:, :new_h, :new_w] = resized.transpose(2, 0, 1)
    return tensor, np.array([src_h, src_w, new_h, new_w], dtype=np.int32)


def check_input(batch: np.ndarray) -> None:
    """Refuse detector inputs the network cannot take (sides must be multiples of 32)."""
    height, width = batch.shape[-2:]
    if height % _STRIDE or width % _STRIDE or height == 0 or width == 0:
        raise InputError(f"detector input is {height}x{width}; both sides must be positive "
                         f"multiples of {_STRIDE}", "bad_shape")


def check_det_shape(det_shape: np.ndarray, prob_shape: tuple[int, ...],
                    image_shape: tuple[int, ...]) -> None:
    """Refuse a ``det_shape`` that does not describe this image and this probability map."""
    values = [int(v) for v in np.ravel(det_shape)]
    if len(values) != 4 or min(values) <= 0:
        raise InputError(f"det_shape {values} must be four positive sizes: source h, w; "
                         "resized h, w", "bad_det_shape")
    src_h, src_w, new_h, new_w = values
    if (src_h, src_w) != tuple(image_shape[:2]):
        raise InputError(f"det_shape says the image is {src_h}x{src_w} but image_bgr is "
                         f"{image_shape[0]}x{image_shape[1]}", "bad_det_shape")
    if new_h > prob_shape[-2] or new_w > prob_shape[-1]:
        raise InputError(f"det_shape says the detector saw {new_h}x{new_w} but det_prob is "
                         f"{prob_shape[-2]}x{prob_shape[-1]}", "bad_det_shape")


def min_area_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The minimum-area rectangle around ``points``, corners clockwise from top-left."""
    rect = cv2.minAreaRect(points.reshape(-1, 1, 2).astype(np.float32))
    corners = cv2.boxPoints(rect)
    return order_clockwise(corners), float(min(rect[1]))


def order_clockwise(corners: np.ndarray) -> np.ndarray:
    """Four corners ordered top-left, top-right, bottom-right, bottom-left."""
    by_x = corners[np.argsort(corners[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], dtype=np.float32)


def box_score(prob: np.ndarray, box: np.ndarray) -> float:
    """Mean probability inside the box: how confident the map is that this is text."""
    height, width = prob.shape
    x0 = int(np.clip(np.floor(box[:, 0].min()), 0, width - 1))
    x1 = int(np.clip(np.ceil(box[:, 0].max()), 0, width - 1))
    y0 = int(np.clip(np.floor(box[:, 1].min()), 0, height - 1))
    y1 = int(np.clip(np.ceil(box[:, 1].max()), 0, height - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    shifted = (box - np.array([x0, y0], dtype=np.float32)).astype(np.int32)
    cv2.fillPoly(mask, shifted.reshape(1, -1, 2), 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def unclip(box: np.ndarray, ratio: float) -> np.ndarray:
    """Grow the shrunk text kernel back to the text's extent (offset = area * ratio / perimeter)."""
    distance = cv2.contourArea(box) * ratio / cv2.arcLength(box, True)
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(box.tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    paths = offset.Execute(distance)
    if not paths:
        return np.zeros((0, 2), dtype=np.float32)
    return np.array(paths[0], dtype=np.float32)


def db_boxes(
    prob: np.ndarray, det_shape: np.ndarray, opts: DbOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Probability map (padded bucket) -> boxes ``n x 4 x 2`` in source pixels, and their scores."""
    src_h, src_w, new_h, new_w = (int(v) for v in det_shape)
    prob = np.ascontiguousarray(prob.reshape(prob.shape[-2:])[:new_h, :new_w], dtype=np.float32)
    bitmap = (prob > opts.det_thresh).astype(np.uint8)
    if opts.det_use_dilation:
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), dtype=np.uint8))
    contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    scale = np.array([src_w / new_w, src_h / new_h], dtype=np.float32)
    boxes, scores = [], []
    for contour in contours[: opts.det_max_candidates]:
        box, short_side = min_area_box(contour)
        if short_side < _MIN_BOX_SIDE:
            continue
        score = box_score(prob, box)
        if score < opts.det_box_thresh:
            continue
        grown = unclip(box, opts.det_unclip_ratio)
        if len(grown) < 3:
            continue
        box, short_side = min_area_box(grown)
        if short_side < _MIN_BOX_SIDE + 2:
            continue
        box = np.round(box * scale)
        box[:, 0] = np.clip(box[:, 0], 0, src_w - 1)
        box[:, 1] = np.clip(box[:, 1], 0, src_h - 1)
        box = order_clockwise(box)
        if min(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[0] - box[3])) <= _MIN_BOX_SIDE:
            continue
        boxes.append(box)
        scores.append(score)
    if not boxes:
        return np.zeros((0, 4, 2), dtype=np.float32), np.zeros((0,), dtype=np.float32)
    boxes, scores = np.stack(boxes), np.array(scores, dtype=np.float32)
    if len(boxes) > opts.det_max_boxes:
        best = np.sort(np.argsort(-scores, kind="stable")[: opts.det_max_boxes])
        boxes, scores = boxes[best], scores[best]
    order = reading_order(boxes)
    return boxes[order], scores[order]


def reading_order(boxes: np.ndarray) -> list[int]:
    """Indices of boxes sorted top to bottom, then left to right within a line.

    Two boxes are on one line when their top-left corners are within half the lower box's
    height: a fixed 10 pixels, as PaddleOCR has it, put a small tilted word ("a" between
    two words of 48-pixel text) after the rest of its line.
    """
    heights = boxes[:, :, 1].max(axis=1) - boxes[:, :, 1].min(axis=1)
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][0][1], boxes[i][0][0]))
    # One insertion pass: a box on the same line but further left moves ahead of its
    # neighbour.
    for i in range(len(order) - 1):
        for j in range(i, -1, -1):
            upper, lower = boxes[order[j]][0], boxes[order[j + 1]][0]
            near = _SAME_LINE * min(heights[order[j]], heights[order[j + 1]])
            if abs(lower[1] - upper[1]) < near and lower[0] < upper[0]:
                order[j], order[j + 1] = order[j + 1], order[j]
            else:
                break
    return order


def box_size(box: np.ndarray) -> tuple[int, int]:
    """(width, height) of a box in pixels: its longer top/bottom and left/right edges."""
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    return max(width, 1), max(height, 1)


def is_vertical(box: np.ndarray) -> bool:
    """A box much taller than wide holds a line running down or up the image."""
    width, height = box_size(box)
    return height >= _VERTICAL_RATIO * width


def crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Perspective-crop one box out of the image; vertical crops are turned a quarter
    counter-clockwise, so a line running down the image reads left to right."""
    width, height = box_size(box)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(box.astype(np.float32), target)
    patch = cv2.warpPerspective(
        image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    if is_vertical(box):
        patch = np.rot90(patch)
    return np.ascontiguousarray(patch)


def line_turns(vertical: np.ndarray, turned: np.ndarray) -> np.ndarray:
    """Quarter turns (counter-clockwise) that would set each line upright in the image: 0 for
    an upright line, 2 for one upside down, 1 for one running down the image (a vertical crop
    that read as cut), 3 for one running up (a vertical crop read turned over)."""
    return np.where(vertical, np.where(turned, 3, 1), np.where(turned, 2, 0))


def page_turns(turns: np.ndarray, lengths: np.ndarray) -> int:
    """The quarter turns that set the page upright: those of nearly all its text (by length).

    An image with some lines upside down where they stand and others upright (a sign, a
    collage) still reads top to bottom: only a page turned whole is read in its own order.
    """
    if len(turns) == 0:
        return 0
    share = np.bincount(turns, weights=lengths, minlength=4) / lengths.sum()
    best = int(np.argmax(share))
    return best if share[best] >= _WHOLE_PAGE else 0


def turn_points(points: np.ndarray, turns: int, image_shape: tuple[int, ...]) -> np.ndarray:
    """``points`` (``... x 2``) as they lie once the image is turned ``turns`` quarters
    counter-clockwise, as ``np.rot90`` turns it."""
    height, width = image_shape[:2]
    x, y = points[..., 0], points[..., 1]
    for _ in range(turns % 4):
        x, y, width, height = y, width - 1 - x, height, width
    return np.stack([x, y], axis=-1)


def page_order(boxes: np.ndarray, read_turned: np.ndarray, image_shape: tuple[int, ...]
               ) -> list[int]:
    """Reading order of the lines, on the page set upright: which way it lies follows from
    its lines' directions (vertical or not, read turned or not), weighted by their length."""
    vertical = np.array([is_vertical(b) for b in boxes], dtype=bool)
    lengths = np.array([max(box_size(b)) for b in boxes], dtype=np.float64)
    turns = page_turns(line_turns(vertical, read_turned), lengths)
    return page_reading_order(boxes, turns, image_shape)


def page_reading_order(boxes: np.ndarray, turns: int, image_shape: tuple[int, ...]) -> list[int]:
    """Reading order of the lines of a page that lies ``turns`` quarters from upright: the
    order of their boxes on the page set upright."""
    if turns % 4 == 0:
        return list(range(len(boxes)))
    upright = np.stack([order_clockwise(b) for b in turn_points(boxes, turns, image_shape)])
    return reading_order(upright)
