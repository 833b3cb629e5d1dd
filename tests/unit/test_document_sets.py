"""The documents benchmark's documents (tests/support/document_sets.py): each file holds the
pages its truth says, readable as a reader would read it, with that text on them."""

from __future__ import annotations

import io

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from tests.support import document_sets, pages
from tests.support.document_sets import (
    IMAGE,
    PAGES,
    PDF,
    SCANNED_PAGES,
    SETS,
    TIFF_DPI,
    TIFF_PAGES,
    Document,
    document,
    lay_out,
)

A4_PT = (595.28, 841.89)
# The cheap ones to make; the 200 and 300 dpi scans take the same path at more pixels.
QUICK = ("pdf-en", "pdf-zh", "scan-en-150", "scan-zh-150", "tiff-en", "tiff-zh")


def squeezed(lines) -> str:
    return "".join("".join(lines).split())


def pdf_pages(doc: Document) -> list[pdfium.PdfPage]:
    pdf = pdfium.PdfDocument(doc.data)
    return [pdf[i] for i in range(len(pdf))]


def test_sets_are_english_and_chinese_of_each_kind():
    assert len(SETS) == 10
    kinds = {tuple(name.split("-")[:2]) for name in SETS}
    assert kinds == {(k, lang) for k in ("pdf", "scan", "tiff") for lang in ("en", "zh")}
    with pytest.raises(KeyError, match="no document set"):
        document("fax-en")


@pytest.mark.parametrize("name", ["pdf-en", "pdf-zh"])
def test_born_digital_pdf_has_its_pages_and_their_text(name):
    doc = document(name)
    assert doc.file_type == PDF and doc.kind == "born-digital"
    found = pdf_pages(doc)
    assert len(found) == doc.pages == 3
    for page, truth in zip(found, doc.truth):
        assert page.get_size() == pytest.approx(A4_PT, abs=0.5)
        text = page.get_textpage().get_text_range()
        assert squeezed(text.splitlines()) == squeezed(truth)  # real text, in reading order
        image = np.asarray(page.render(scale=1).to_pil().convert("L"))
        assert (image < 128).mean() > 0.003  # and drawn (the font is embedded)


def test_born_digital_pages_are_dense_with_small_print():
    sizes = [PAGES["en"][i].pt for i in document_sets.BORN_DIGITAL_PAGES]
    assert min(sizes) == 8 and 9 in sizes
    assert max(len(t) for t in document("pdf-en").truth) >= 40  # lines on the densest page


def test_born_digital_lines_stay_inside_the_margins():
    right = A4_PT[0] - pages.MARGIN_MM / pages.MM_PER_INCH * 72
    for specs in PAGES.values():
        for spec in specs:
            placed = lay_out(spec)
            assert [p.text for p in placed][0] == spec.paragraphs[0]  # the heading first
            font = pages.ImageFont.truetype(str(pages.checked(spec.font)), spec.pt * 20,
                                            layout_engine=pages.LAYOUT)
            assert max(p.x + font.getlength(p.text) / 20 for p in placed) <= right + 0.01


@pytest.mark.parametrize("name", ["scan-en-150", "scan-zh-150"])
def test_scanned_pdf_has_image_pages_of_the_rendered_text(name):
    doc = document(name)
    lang, dpi = name.split("-")[1], int(name.split("-")[2])
    assert doc.file_type == PDF and doc.kind == "scanned"
    found = pdf_pages(doc)
    assert len(found) == doc.pages == len(SCANNED_PAGES)
    for page, truth, index in zip(found, doc.truth, SCANNED_PAGES):
        spec = PAGES[lang][index]
        _, rendered_truth = pages.render_page(list(spec.paragraphs), pages.checked(spec.font),
                                              spec.pt, dpi, spec.wrap_by)
        assert list(truth) == rendered_truth  # the lines drawn on the scanned image
        assert page.get_size() == pytest.approx(A4_PT, abs=1.0)
        assert page.get_textpage().get_text_range().strip() == ""  # pixels only, no text
        grey = np.asarray(page.render(scale=dpi / 72).to_pil().convert("L"))
        height, width = grey.shape  # PDFium rounds the page's points to pixels its own way
        assert abs(height - pages.pixels(297, dpi)) <= 1 and abs(width - pages.pixels(210, dpi)) <= 1
        assert 200 < np.median(grey) < 250  # grey paper, not pure white
        assert (grey < 128).mean() > 0.002  # ink


def test_scanned_look_is_turned_blurred_and_noisy_but_seeded():
    spec = PAGES["en"][0]
    clean, _ = document_sets.rendered(spec, 150)
    one = document_sets.scanned_look(clean, 150, "x")
    assert one.mode == "L" and one.size == clean.size
    assert np.array_equal(np.asarray(one), np.asarray(document_sets.scanned_look(clean, 150, "x")))
    assert not np.array_equal(np.asarray(one),
                              np.asarray(document_sets.scanned_look(clean, 150, "y")))
    values = np.asarray(one)
    assert values.min() > 0 and 220 < np.median(values) < 250 and values.std() > 5


@pytest.mark.parametrize("name", ["tiff-en", "tiff-zh"])
def test_tiff_has_a_frame_per_page(name):
    doc = document(name)
    assert doc.file_type == IMAGE and doc.kind == "tiff"
    with Image.open(io.BytesIO(doc.data)) as tiff:
        assert tiff.n_frames == doc.pages == len(TIFF_PAGES)
        for frame in range(tiff.n_frames):
            tiff.seek(frame)
            assert tiff.mode == "1"
            assert tiff.size == (pages.pixels(210, TIFF_DPI), pages.pixels(297, TIFF_DPI))
            assert tiff.info["compression"] == "group4"
            ink = 1 - np.asarray(tiff.convert("L")) / 255
            assert 0.005 < ink.mean() < 0.2


def test_documents_are_the_same_bytes_every_time():
    for name in ("pdf-en", "tiff-zh", "scan-zh-150"):
        again = document.__wrapped__(name)
        assert again.data == document(name).data and again.truth == document(name).truth


def test_truth_has_every_paragraph_in_order():
    for name in QUICK:
        doc = document(name)
        lang = doc.lang
        for truth, page_name in zip(doc.truth, doc.page_names):
            spec = next(s for s in PAGES[lang]
                        if page_name.startswith(f"{s.lang}-{s.font.label}-{s.pt:g}pt"))
            assert squeezed(truth) == squeezed(spec.paragraphs)
