"""What the served default pack reads, against ground truth, with thresholds a reader would set:
rendered A4 pages of English and Chinese prose (spaces between English words count), lines
turned 180 degrees where they stand, whole pages turned 180 degrees, and light text on a
transparent background. The full comparison with the peers is ``make accuracy``
(perf/accuracy.py); these are the promises it must keep."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.support.calls import ocr
from tests.support.pages import DEJAVU_SANS, Case, checked, page_cases, upside_down_cases
from tests.support.prometheus import scrape, value
from tests.support.scoring import combine, score

TURNED = "ocr_lines_turned_total"


def read_set(server, client, cases: list[Case]) -> tuple[dict[str, list[str]], float]:
    """What the server reads on each case, and how many lines it read turned over."""
    before = value(scrape(server), TURNED, model="ocr_postprocess")
    read = {case.name: ocr(client, "grpc", case.image).texts for case in cases}
    return read, value(scrape(server), TURNED, model="ocr_postprocess") - before


@pytest.fixture(scope="module")
def pages(server, grpc) -> tuple[list[Case], dict[str, list[str]], float]:
    cases = page_cases()
    read, turned = read_set(server, grpc, cases)
    return cases, read, turned


@pytest.mark.parametrize("dpi,chars,words", [(150, 0.99, 0.98), (200, 0.99, 0.98),
                                             (300, 0.95, 0.95)])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a4_pages_read_like_a_reader(pages, lang, dpi, chars, words):
    cases, read, _ = pages
    members = [c for c in cases if c.set == f"pages-{lang}-{dpi}"]
    assert len(members) == 3
    pooled = combine(score(read[c.name], c.truth) for c in members)
    assert pooled.char_accuracy >= chars, [read[c.name] for c in members]
    if lang == "en":  # words whole: the spaces between them are read
        assert pooled.word_recall >= words
    else:
        assert pooled.word_recall is None


def test_no_upright_line_is_turned_over(pages):
    _, _, turned = pages
    assert turned == 0


def test_lines_and_pages_turned_180_degrees_read_in_order(server, grpc):
    cases = upside_down_cases()
    read, turned = read_set(server, grpc, cases)
    for case in cases:
        if case.set == "lines-upside-down":  # every line, upright or turned where it stands
            assert read[case.name] == case.truth, case.name
        else:  # a whole page turned: read top to bottom of the page, not of the image
            assert score(read[case.name], case.truth).char_accuracy >= 0.98, case.name
    assert turned > 0


def test_light_text_on_a_transparent_background_is_read(grpc):
    font = ImageFont.truetype(str(checked(DEJAVU_SANS)), 48)
    canvas = Image.new("RGBA", (900, 220), (255, 255, 255, 0))
    draw = ImageDraw.Draw(canvas)
    lines = ["White text on nothing", "Reads on a dark page"]
    for row, text in enumerate(lines):
        draw.text((30, 30 + 90 * row), text, fill=(255, 255, 255, 255), font=font)
    out = io.BytesIO()
    canvas.save(out, "PNG")
    read = ocr(grpc, "grpc", out.getvalue()).texts
    assert " ".join(read).split() == " ".join(lines).split(), read  # every word, in order
