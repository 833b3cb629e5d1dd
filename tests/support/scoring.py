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

A case may ask for another comparison (`COMPARES`): "upper-nospace" for truth written upper-case
without spaces (WildReceipt), where both sides are upper-cased and stripped of spaces, and the
words are the truth's boxes (see `box_recall`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterable

from rapidfuzz.distance import LCSseq, Levenshtein

PLAIN = "plain"
UPPER_NOSPACE = "upper-nospace"
COMPARES = (PLAIN, UPPER_NOSPACE)

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


def box_recall(read: list[str], truth: list[str]) -> tuple[int, int]:
    """(boxes found, boxes) for a truth of boxes written upper-case without spaces.

    Each truth line holds its boxes separated by spaces. A box counts as found if its text occurs
    verbatim in the reading (upper-cased, spaces removed) within one line; each stretch of the
    reading is used for one box only, the longest boxes taking theirs first so that a short box
    ("B") cannot use up the letters of a long one. Order is not checked: how a receipt's columns
    are interleaved is not something a reader gets wrong. Very short boxes are easy to find.
    """
    boxes = sorted((box.upper() for line in normalise(truth) for box in line.split()),
                   key=len, reverse=True)
    text = LINE_BREAK.join(squash_upper(read))
    found = 0
    for box in boxes:
        at = text.find(box)
        if at >= 0:
            found += 1
            text = text[:at] + LINE_BREAK + text[at + len(box):]
    return found, len(boxes)


@dataclass
class Score:
    """A case's score, or a set's (`combine`). word_recall is None where words are not counted."""

    chars: int  # truth characters (after normalisation, newlines between lines included)
    char_accuracy: float
    words: int  # truth words counted (0 where not counted)
    word_recall: float | None
    errors: int  # edits, capped at chars: what pools into a set's char accuracy
    words_found: int  # what pools into a set's word recall


def score(read: list[str], truth: list[str], compare: str = PLAIN) -> Score:
    """Score one reading; words are counted where the truth is spaced, or boxes for receipts."""
    if compare not in COMPARES:
        raise ValueError(f"unknown comparison {compare!r}; expected one of {COMPARES}")
    if compare == UPPER_NOSPACE:
        errors, chars = _edits(squash_upper(read), squash_upper(truth))
        accuracy = char_accuracy(squash_upper(read), squash_upper(truth))
        found, words = box_recall(read, truth)
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
