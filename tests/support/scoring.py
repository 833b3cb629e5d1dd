"""Score a reading against ground truth the way a reader would: characters in reading order, and
whole words.

- Character accuracy: 1 - edit distance / truth length, over the lines joined with newlines, so
  a reading loses for wrong, missing or extra characters and for text read out of order; not a
  bag of characters.
- Word recall: the longest common subsequence of whitespace-separated words, over the truth's
  words. Glued words ("analysisinvideos") count as wrong: a reader that drops the gaps between
  words loses those words. Punctuation is part of its word ("fox." is the word a reader sees).
  Only meaningful where the truth separates words with spaces (see `is_spaced`): for Chinese
  and Japanese, `score` reports character accuracy alone.

Both sides are normalised first (`normalise`): NFKC, so full-width and half-width forms of
punctuation and digits compare equal; whitespace collapsed; empty lines dropped.

A case may ask for another comparison (`COMPARES`): "regions" for a truth of boxes with no
reading order, written upper-case without spaces (WildReceipt's receipts). Each line read is
given to the truth box it overlaps most; a box's reading is its lines left to right, upper-cased
without spaces, scored against its text; the words are the boxes read exactly (`region_edits`).
How a reader orders a receipt's columns is not in that truth, so it is not scored.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

from rapidfuzz.distance import LCSseq, Levenshtein
from shapely.geometry import Polygon

PLAIN = "plain"
MOSTLY = 0.5  # share of a read line's box a truth region must cover for the line to count there
REGIONS = "regions"
COMPARES = (PLAIN, REGIONS)

LINE_BREAK = "\n"
# Scripts written without spaces between words (the first word of a character's Unicode name).
UNSPACED_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR",
                              "TIBETAN"})


def normalise(lines: Iterable[str]) -> list[str]:
    """NFKC each line, collapse whitespace runs to one space, strip, drop empty lines."""
    out = []
    for line in lines:
        text = " ".join(unicodedata.normalize("NFKC", line).split())
        if text:
            out.append(text)
    return out


def squash_upper(lines: Iterable[str]) -> list[str]:
    """Normalised lines upper-cased without spaces, as WildReceipt writes its truth."""
    return [line.replace(" ", "").upper() for line in normalise(lines)]


def _joined(lines: Iterable[str]) -> str:
    return LINE_BREAK.join(normalise(lines))


def _words(lines: Iterable[str]) -> list[str]:
    return _joined(lines).split()


def _edits(read: list[str], truth: list[str]) -> tuple[int, int]:
    """(errors, truth characters); errors are capped at the truth length, as accuracy floors at 0."""
    expected = _joined(truth)
    errors = Levenshtein.distance(_joined(read), expected)
    return min(errors, len(expected)), len(expected)


def char_accuracy(read: list[str], truth: list[str]) -> float:
    """1 - edit distance / truth characters, over the normalised lines joined by newlines; >= 0.

    An empty truth is read perfectly only by an empty reading.
    """
    errors, chars = _edits(read, truth)
    if not chars:
        return 0.0 if _joined(read) else 1.0
    return 1 - errors / chars


def _common_words(read: list[str], truth: list[str]) -> tuple[int, int]:
    expected = _words(truth)
    return LCSseq.similarity(_words(read), expected), len(expected)


def word_recall(read: list[str], truth: list[str]) -> float:
    """Truth words found whole and in order (longest common subsequence) / truth words.

    With no truth words there is nothing to miss: 1.0.
    """
    found, words = _common_words(read, truth)
    return found / words if words else 1.0


def _script(char: str) -> str:
    return unicodedata.name(char, "").split(" ", 1)[0]


def is_spaced(truth: list[str]) -> bool:
    """Whether the truth separates its words with spaces, so that word recall means something.

    True unless most of its letters belong to scripts written without spaces (Chinese, Japanese,
    Thai...); a truth of digits and signs alone ("03/09/2009") counts as spaced.
    """
    letters = [char for char in "".join(truth) if char.isalpha()]
    unspaced = sum(_script(char) in UNSPACED_SCRIPTS for char in letters)
    return 2 * unspaced < len(letters) or not letters


def region_edits(read: list[str], boxes: Sequence, truth: list[str], regions: Sequence
                 ) -> tuple[int, int, int, int]:
    """(errors, truth characters, boxes read exactly, boxes) of a reading of ``regions``.

    ``boxes`` are the read lines' boxes and ``regions`` the truth's (four corners each). A
    line goes to the region it overlaps most, if that covers at least half of it; else it is
    not scored (a line cut off at the photo's edge, which the annotation leaves empty, is not
    an error of the region it grazes). A region's reading is its lines left to right. Both
    sides upper-cased without spaces (`squash_upper`).
    """
    areas = [Polygon(region).buffer(0) for region in regions]
    given: list[list[tuple[float, str]]] = [[] for _ in regions]
    for text, box in zip(read, boxes):
        shape = Polygon(box).buffer(0)
        overlaps = [shape.intersection(area).area for area in areas]
        if overlaps and max(overlaps) >= MOSTLY * shape.area > 0:
            given[overlaps.index(max(overlaps))].append((shape.bounds[0], text))
    errors = chars = exact = 0
    for texts, expected in zip(given, truth):
        want = "".join(squash_upper([expected]))
        got = "".join(squash_upper([text for _, text in sorted(texts)]))
        errors += min(Levenshtein.distance(got, want), len(want))
        chars += len(want)
        exact += got == want
    return errors, chars, exact, len(truth)


@dataclass
class Score:
    """A case's score, or a set's (`combine`). word_recall is None where words are not counted."""

    chars: int  # truth characters (after normalisation, newlines between lines included)
    char_accuracy: float
    words: int  # truth words counted (0 where not counted)
    word_recall: float | None
    errors: int  # edits, capped at chars: what pools into a set's char accuracy
    words_found: int  # what pools into a set's word recall


def score(read: list[str], truth: list[str], compare: str = PLAIN, boxes: Sequence = (),
          regions: Sequence = ()) -> Score:
    """Score one reading; words are counted where the truth is spaced, or boxes for a truth of
    regions (``boxes``: the read lines' boxes; ``regions``: the truth's)."""
    if compare not in COMPARES:
        raise ValueError(f"unknown comparison {compare!r}; expected one of {COMPARES}")
    if compare == REGIONS:
        errors, chars, found, words = region_edits(read, boxes, truth, regions)
        accuracy = 1 - errors / chars if chars else 1.0
    else:
        errors, chars = _edits(read, truth)
        accuracy = char_accuracy(read, truth)
        found, words = _common_words(read, truth) if is_spaced(truth) else (0, 0)
    return Score(chars, accuracy, words, found / words if words else None, errors, found)


def combine(scores: Iterable[Score]) -> Score:
    """Pool a set's scores: all its errors over all its characters, all words found over all
    words. Long texts weigh as much as their length, not as much as one short line.

    A case with no truth characters weighs nothing in the pool.
    """
    scores = list(scores)
    if not scores:
        raise ValueError("no scores to combine")
    chars = sum(s.chars for s in scores)
    errors = sum(s.errors for s in scores)
    words = sum(s.words for s in scores)
    found = sum(s.words_found for s in scores)
    if chars:
        accuracy = 1 - errors / chars
    else:
        accuracy = min(s.char_accuracy for s in scores)
    return Score(chars, accuracy, words, found / words if words else None, errors, found)
