"""Documents made by the tests: PDFs with real text (fpdf2, the tests' TTF font), multi-page
TIFFs of rendered pages, and hostile documents (encrypted, truncated, garbage after the
header, a 200-inch page, thousands of blank pages, a page tree that loops). ``DOCUMENT_CASES``
says what ``ocr_document`` must answer for each, next to the image corpus."""

from __future__ import annotations

import io
import os
from functools import lru_cache

import numpy as np
from fpdf import FPDF
from PIL import Image

from tests.support.corpus import Case, Tensors
from tests.support.render import FONT, LATIN, render

# fpdf2 measures in points here, so sizes read as in a PDF's user space.
A4_PT = (595.28, 841.89)
POSTER_PT = 14400.0  # 200 inches: the largest page PDF allows
FONT_NAME = "ipaexg"

PAGES = [  # a page each; lines short enough for one line of A4 at 14 pt
    ["Invoice 4721 for Triton Paddle", "Total due 1280 euros by Friday"],
    ["Second page of the document", "Quarterly report of the reading service"],
    ["Third page has the last words", "Thank you for reading this far"],
]


def text_pdf(pages: list[list[str]] = PAGES, size_pt: float = 14, page_pt=A4_PT,
             password: str | None = None) -> bytes:
    """A born-digital PDF: each page's lines as real text in the tests' TTF font."""
    pdf = FPDF(unit="pt", format=page_pt)
    pdf.add_font(FONT_NAME, fname=str(FONT))
    pdf.set_auto_page_break(False)
    for lines in pages:
        pdf.add_page()
        pdf.set_font(FONT_NAME, size=size_pt)
        for row, line in enumerate(lines):
            pdf.set_xy(72, 72 + row * size_pt * 3)
            pdf.cell(text=line)
    if password is not None:
        pdf.set_encryption(owner_password=password + "-owner", user_password=password)
    return bytes(pdf.output())


def poster_pdf(text: str = "POSTER 2026") -> bytes:
    """One 200 x 200 inch page with huge letters: read after scaling to the pixel limit."""
    pdf = FPDF(unit="pt", format=(POSTER_PT, POSTER_PT))
    pdf.add_font(FONT_NAME, fname=str(FONT))
    pdf.add_page()
    pdf.set_font(FONT_NAME, size=1200)
    pdf.set_xy(1000, 6000)
    pdf.cell(text=text)
    return bytes(pdf.output())


def blank_pdf(pages: int) -> bytes:
    pdf = FPDF(unit="pt", format=A4_PT)
    for _ in range(pages):
        pdf.add_page()
    return bytes(pdf.output())


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF from its numbered objects (1 is the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def looping_pdf() -> bytes:
    """A page tree whose node lists its own parent as a kid: a reader that follows it loops."""
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 2 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 4 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 200 200] >>",
    ])


def no_pages_pdf() -> bytes:
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [] /Count 0 >>"])


def page_images(pages: list[list[str]] = PAGES, size=(1240, 400)) -> list[Image.Image]:
    return [Image.open(io.BytesIO(render(lines, size=size, font_size=40))).convert("RGB")
            for lines in pages]


def tiff(images: list[Image.Image], compression: str = "tiff_lzw") -> bytes:
    out = io.BytesIO()
    first, *rest = [image.copy() for image in images]  # copies: see platform notes
    first.save(out, "TIFF", save_all=True, append_images=rest, compression=compression)
    return out.getvalue()


def oversized_tiff_frame() -> bytes:
    """A readable first page, then a 1-bit 4000 x 3000 frame: 12 MP, over max_page_pixels."""
    return tiff([page_images()[0], Image.new("1", (4000, 3000), 1)], compression="packbits")


@lru_cache(maxsize=None)
def text_pdf_bytes() -> bytes:
    return text_pdf()


def document_tensor(data: bytes) -> Tensors:
    return [("document", np.frombuffer(data, np.uint8)[None], "UINT8")]


def _has(page_count: int, *words: str):
    def check(out: dict[str, np.ndarray]) -> None:
        text = " ".join(t.decode() for t in out["texts"][0])
        assert len(out["page_sizes"][0]) == page_count, out["page_sizes"]
        for word in words:
            assert word in text, text
    return check


def _poster_within_pixels(out: dict[str, np.ndarray]) -> None:
    (width, height), = out["page_sizes"][0]
    assert width * height <= 11_000_000 and width > 3000, (width, height)
    assert "POSTER" in " ".join(t.decode() for t in out["texts"][0])


DOCUMENT_CASES = [
    Case("pdf-text", "ocr_document", lambda: document_tensor(text_pdf_bytes()),
         check=_has(3, "Invoice", "Quarterly", "Thank")),
    Case("pdf-encrypted", "ocr_document", lambda: document_tensor(text_pdf(password="s3cret")),
         error="password is needed"),
    Case("pdf-truncated", "ocr_document",
         lambda: document_tensor(text_pdf_bytes()[: len(text_pdf_bytes()) // 2]),
         error="cannot read the PDF"),
    Case("pdf-header-then-garbage", "ocr_document",
         lambda: document_tensor(b"%PDF-1.7\n" + os.urandom(20000)), error="cannot read the PDF"),
    Case("pdf-200-inch-page", "ocr_document", lambda: document_tensor(poster_pdf()),
         check=_poster_within_pixels),
    Case("pdf-3000-blank-pages", "ocr_document", lambda: document_tensor(blank_pdf(3000)),
         error="3000 pages, more than max_pages=100"),
    Case("pdf-page-tree-loops", "ocr_document", lambda: document_tensor(looping_pdf()),
         error="cannot read page 0 of the PDF"),  # PDFium stops at the loop: no hang
    Case("pdf-empty-page-tree", "ocr_document", lambda: document_tensor(no_pages_pdf()),
         error="cannot read the PDF"),
    Case("tiff-three-pages", "ocr_document", lambda: document_tensor(tiff(page_images())),
         check=_has(3, "Invoice", "Quarterly", "Thank")),
    Case("tiff-truncated", "ocr_document",
         lambda: document_tensor(tiff(page_images())[:300]), error="TIFF"),
    Case("tiff-oversized-frame", "ocr_document", lambda: document_tensor(oversized_tiff_frame()),
         error="page 1 is 4000x3000 pixels, more than max_page_pixels=11000000"),
    Case("image-png", "ocr_document", lambda: document_tensor(render(LATIN)),
         check=_has(1, "Triton")),
    Case("random-bytes", "ocr_document", lambda: document_tensor(os.urandom(5000)),
         error="cannot decode image"),
    Case("empty", "ocr_document", lambda: [("document", np.zeros((1, 0), np.uint8), "UINT8")],
         error="empty"),
    Case("bad-dpi", "ocr_document", lambda: document_tensor(text_pdf_bytes()),
         error="request parameter 'dpi' is 5; allowed 36 to 600", parameters={"dpi": 5}),
    Case("unknown-parameter", "ocr_document", lambda: document_tensor(text_pdf_bytes()),
         error="unknown request parameter 'colour'", parameters={"colour": "red"}),
]
