"""Real images with known text, shared by the team, with their truth (for the accuracy benchmark).

The images live in ../shared/images/labelled/ and are never copied into this repository. Their
notice (from that folder's README.md), kept here beside the code that reads them:

- words/: 10 cropped words from real scene photos; truth in labels.txt. From mmocr's test data
  (tests/data/rec_toy_dataset), Apache-2.0 (open-mmlab).
- receipts/: 2 photographed shop receipts; truth in annotations.jsonl, each box's corners and
  text, upper-case with spaces removed (as the WildReceipt set writes them). From mmocr's test
  data (tests/data/kie_toy_dataset/wildreceipt), Apache-2.0 (open-mmlab); WildReceipt is mmocr's
  own data set.
- pages/: a scanned page of English text (1-bit PNG), the same page turned 180 degrees, and
  turned 90 degrees; no text file. From Tesseract's test data (test/testdata/phototest*.png),
  Apache-2.0.

Oddities in the truth, kept as the data sets give it:

- words: 1210236.jpg is labelled "DAVIDSON" but the photo shows "Davidson" (the truth is
  case-sensitive, so a faithful reading loses the word); 1190237.jpg ("ANING") has its first
  letter cut off at the edge.
- receipts: the annotation has typos ("ATOREMGRTOMMILAZZO" for STORE MGR TOM MILAZZO,
  "MuitipliedCpn", "MuitieliedCpn", "1OIY" for 1 QTY), mixed case in spite of the convention
  ("Regprice", "CardSavings"; compared upper-cased anyway), "￥17.99" where the receipt prints
  $17.99, and four boxes with empty text (lines cut off at the bottom edge) that add nothing.
  The truth has no reading order (wildreceipt_1 is photographed at a slant, so its axis-aligned
  boxes do not even line up with the printed rows): receipts are scored box by box.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.pages import Case
from tests.support.render import ROOT
from tests.support.scoring import PLAIN, REGIONS

LABELLED = ROOT.parent / "shared" / "images" / "labelled"

SET_WORDS = "words"
SET_RECEIPTS = "receipts"
SET_SCAN = "pages-scan"

SCANS = ("phototest.png", "phototest-rotated-180.png", "phototest-rotated-L.png")
# The upright phototest.png, read by eye, one line per printed line (its double space after
# "on" is layout, written as one).
SCAN_TRUTH = (
    "This is a lot of 12 point text to test the",
    "ocr code and see if it works on all types",
    "of file format.",
    "The quick brown dog jumped over the",
    "lazy fox. The quick brown dog jumped",
    "over the lazy fox. The quick brown dog",
    "jumped over the lazy fox. The quick",
    "brown dog jumped over the lazy fox.",
)


def folder() -> Path:
    if not LABELLED.is_dir():
        raise FileNotFoundError(f"{LABELLED} is missing: the team's labelled images")
    return LABELLED


def word_cases() -> list[Case]:
    """Cropped words; the truth is the label as written, case and all."""
    words = folder() / "words"
    cases = []
    for row in (words / "labels.txt").read_text(encoding="utf-8").splitlines():
        if not row.strip():
            continue
        name, text = row.split(maxsplit=1)
        cases.append(Case(SET_WORDS, f"word-{Path(name).stem}", (words / name).read_bytes(),
                          [text.strip()]))
    return sorted(cases, key=lambda case: case.name)


def receipt_cases() -> list[Case]:
    """Photographed receipts: the truth is each box's text and corners (empty boxes left out),
    scored region by region (`scoring.REGIONS`): the set has no reading order to score."""
    receipts = folder() / "receipts"
    cases = []
    for row in (receipts / "annotations.jsonl").read_text(encoding="utf-8").splitlines():
        if not row.strip():
            continue
        entry = json.loads(row)
        image = folder() / entry["file_name"]
        boxes = [(a["text"].strip(), tuple(zip(a["box"][0::2], a["box"][1::2])))
                 for a in entry["annotations"] if a["text"].strip()]
        cases.append(Case(SET_RECEIPTS, image.stem, image.read_bytes(), [t for t, _ in boxes],
                          REGIONS, tuple(corners for _, corners in boxes)))
    return cases


def scan_cases() -> list[Case]:
    """The scanned page upright, turned 180 degrees and turned 90: the truth is the upright page."""
    pages = folder() / "pages"
    return [Case(SET_SCAN, Path(name).stem, (pages / name).read_bytes(), list(SCAN_TRUTH), PLAIN)
            for name in SCANS]


def labelled_cases() -> list[Case]:
    """Every labelled real image: sets "words", "receipts" and "pages-scan"."""
    return word_cases() + receipt_cases() + scan_cases()
