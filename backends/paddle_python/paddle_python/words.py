"""Word boxes: where each word of a recognised line lies in the image (``return_word_boxes``).

The recognizer reads a crop in ``T`` time steps, step ``t`` looking at input columns
``[t W / T, (t + 1) W / T)``, and greedy CTC keeps each character at one step (``text_rec``'s
``steps`` output says which), so the ``k``-th character of a line is located at a known step,
as PaddleOCR 3.x's ``return_word_box`` has it. A word spans from its first character's left
ink edge to its last character's right one, in crop columns; that span is mapped back through
the crop's turns and perspective warp onto the line's box, so a word's box is a slice of its
line's box, the line's full height.

A kept step marks where a character is, not how wide: PaddleOCR spans a word from its first
step to one past its last, which on rendered lines put word ends a median 4.5 px and up to
22 px off the ink at 32-px type. Here each end character is widened by the ink width its kind
of character usually has (a few classes: an "i" inks a fifth of an "m"), in ems measured by
the line's own pitch between steps: a median 1.6 px off, 99% within 5.5 px.
"""

from __future__ import annotations

import unicodedata

import cv2
import numpy as np

from .detection import box_size, is_vertical

# A kept step lies, on average, 0.3 of a step left of its character's ink centre (PP-OCRv5
# mobile 0.32, PP-OCRv4 0.27, sd 0.4, over 5500 characters of rendered lines in three fonts at
# 24-40 px): the centre is taken there.
_CENTRE = 0.5 + 0.3

# Code points whose characters are each a word of their own: Hangul Jamo, CJK radicals,
# Japanese iteration marks, kana, Bopomofo, Hangul compatibility Jamo, CJK ideographs (and
# their extensions and compatibility forms), Hangul syllables, half-width katakana.
_CJK = ((0x1100, 0x11FF), (0x2E80, 0x2FDF), (0x3005, 0x3007), (0x3040, 0x30FF),
        (0x3100, 0x318F), (0x31A0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
        (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F), (0x20000, 0x3FFFF))

# (advance, ink width) in ems of classes of characters, rounded from DejaVu Sans, DejaVu Serif
# and IPAex Gothic: the line's pitch gives the em from the advances, a character's ends are
# half its ink width either side of its centre.
_NARROW = (0.3, 0.15)
_SEMI = (0.38, 0.32)
_WIDE = (0.9, 0.8)
_CAPITAL = (0.68, 0.6)  # capitals and digits
_PLAIN = (0.58, 0.5)  # lower case, and whatever else
_CLASSES = {**dict.fromkeys("ijlI!|.,:;'`", _NARROW), **dict.fromkeys("frt1()[]{}-/\"", _SEMI),
            **dict.fromkeys("mwMW%@", _WIDE)}
_FULL = (1.0, 0.9)  # CJK and full-width characters fill their square
_FULL_MARK = (1.0, 0.3)  # but full-width punctuation ("，", "、", "「") inks a corner of it
_SPACE = (0.3, 0.0)


def _kind(char: str) -> str:
    """'mark' (punctuation, symbols, combining marks), 'cjk' or 'letter' (letters, digits)."""
    if unicodedata.category(char)[0] in "PSMZ":
        return "mark"
    code = ord(char)
    return "cjk" if any(lo <= code <= hi for lo, hi in _CJK) else "letter"


def split_words(text: str) -> list[tuple[int, int]]:
    """The words of a line as ``[start, end)`` ranges of its characters.

    Words are apart at white space; every CJK character (ideograph, kana, Hangul syllable) is
    a word of its own, and a run of other letters and digits is one word. Punctuation and
    symbols join the word before them, or at the start of a space-delimited token the word
    after (``"said,"``, ``"(see"``, ``"好，"``, ``"「你"``), so the words of a line put
    together are its text without white space (PaddleOCR drops them instead).
    """
    words: list[tuple[int, int]] = []
    start: int | None = None
    core = after_cjk = False  # the word has a letter or CJK character; its last one was CJK
    for i, char in enumerate(text):
        if char.isspace():
            if start is not None:
                words.append((start, i))
            start = None
            continue
        kind = _kind(char)
        if start is not None and (kind == "cjk" and core or kind == "letter" and after_cjk):
            words.append((start, i))
            start = None
        if start is None:
            start, core, after_cjk = i, False, False
        if kind != "mark":
            core, after_cjk = True, kind == "cjk"
    if start is not None:
        words.append((start, len(text)))
    return words


def char_steps(steps: np.ndarray) -> np.ndarray:
    """The time step of each character of the text, from ``text_rec``'s ``steps`` row (how
    many characters each step's kept class contributes)."""
    steps = np.asarray(steps, dtype=np.int64)
    return np.repeat(np.arange(len(steps)), steps)


def _widths(char: str) -> tuple[float, float]:
    if char.isspace():
        return _SPACE
    if _kind(char) == "cjk":
        return _FULL
    if unicodedata.east_asian_width(char) in "FW":
        return _FULL_MARK if _kind(char) == "mark" else _FULL
    if char in _CLASSES:
        return _CLASSES[char]
    return _CAPITAL if char.isupper() or char.isdigit() else _PLAIN


def char_edges(text: str, at: np.ndarray, content: float) -> tuple[np.ndarray, np.ndarray]:
    """Left and right ink edges of each character, in time steps, within ``[0, content]``
    (the steps the crop fills, before padding).

    Each character is centred at its step and as wide as its class, in ems; an em is the
    median over neighbouring characters of their distance in steps over their mean
    advance (a median: a space the recognizer left out makes one pair look far apart).
    A line of one character has no pitch: it fills the crop.
    """
    if len(text) < 2:
        return np.zeros(len(text)), np.full(len(text), content)
    centre = at + _CENTRE
    advance, ink = np.array([_widths(char) for char in text], dtype=np.float64).T
    em = np.median(np.diff(centre) / ((advance[1:] + advance[:-1]) / 2))
    half = ink * em / 2
    return np.clip(centre - half, 0, content), np.clip(centre + half, 0, content)


def crop_columns(x: np.ndarray, steps: int, width: int, resized: int, crop_w: int) -> np.ndarray:
    """Time steps -> columns of the crop: ``steps`` steps cover the ``width``-wide input, whose
    first ``resized`` columns are the crop (``recognition.bucket_width``) resized."""
    return np.asarray(x, dtype=np.float64) * (width / steps) * (crop_w / resized)


def box_slice(box: np.ndarray, x0: float, x1: float, turned: bool) -> np.ndarray:
    """The part of a line's box (``4 x 2``) under crop columns ``[x0, x1]``, corners in the
    box's own order.

    ``detection.crop`` warps the box onto a ``width x height`` patch (corner ``i`` of the box
    to corner ``i`` of the patch) and turns a vertical one a quarter counter-clockwise, so a
    crop column is a patch row; ``classification.turn`` turns a crop read upside down by a
    half, so its column ``x`` is ``along - x`` of the crop as cut. Crop pixel ``j`` is the
    patch's sample at ``j``: its edges are half a pixel either side.
    """
    width, height = box_size(box)
    vertical = is_vertical(box)
    along = height if vertical else width
    if turned:
        x0, x1 = along - x1, along - x0
    x0, x1 = (float(np.clip(x - 0.5, 0, along)) for x in (x0, x1))
    if vertical:
        rect = [[0, x0], [width, x0], [width, x1], [0, x1]]
    else:
        rect = [[x0, 0], [x1, 0], [x1, height], [x0, height]]
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(target, box.astype(np.float32))
    return cv2.perspectiveTransform(np.array([rect], dtype=np.float32), matrix)[0]


def line_words(text: str, steps: np.ndarray, box: np.ndarray, turned: bool, width: int,
               resized: int, crop_w: int) -> tuple[list[str], np.ndarray]:
    """The words of one recognised line and their boxes (``k x 4 x 2``, image pixels).

    ``steps`` is the line's row of ``text_rec``'s ``steps`` (its recognizer input ``width``
    wide, the crop ``crop_w`` wide resized to ``resized`` of it); ``turned``: the crop was
    read turned 180 degrees.
    """
    at = char_steps(steps)
    if len(at) != len(text):
        raise ValueError(f"steps place {len(at)} characters but the text has {len(text)}")
    words = split_words(text)
    if not words:
        return [], np.zeros((0, 4, 2), dtype=np.float32)
    left, right = char_edges(text, at, len(steps) * resized / width)
    spans = crop_columns(np.array([[left[a], right[b - 1]] for a, b in words]),
                         len(steps), width, resized, crop_w)
    boxes = np.stack([box_slice(box, x0, x1, turned) for x0, x1 in spans])
    return [text[a:b] for a, b in words], boxes.astype(np.float32)
