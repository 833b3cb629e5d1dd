"""Documents of known text for the documents benchmark (perf/documents.py): born-digital PDFs,
scanned PDFs and multi-page TIFFs, in English and Chinese, with the truth of every page.

- Born-digital PDFs (``pdf-en``, ``pdf-zh``): A4 pages of real text written with fpdf2 in the
  corpus's fonts (DejaVu, IPAex Gothic, Noto Serif CJK SC), laid out as
  ``tests.support.pages`` lays out its images (the same margins, line spacing, indents and
  wrapping), 8 to 10 pt. The text is in the PDF: a reader may extract it or render the page.
- Scanned PDFs (``scan-en-150`` ... ``scan-zh-300``): ``tests.support.pages.render_page``'s
  images at 150, 200 and 300 dpi, made to look scanned (turned by less than a degree, a little
  blur, grey paper, darker-than-white noise, ink not quite black), greyscale, each page put
  into the PDF as a JPEG at its resolution, so every page is A4.
- Multi-page TIFFs (``tiff-en``, ``tiff-zh``): the same rendered pages at 200 dpi, scanned the
  same way and then made bilevel (CCITT Group 4), as document archives keep them.

Every set is one document; its truth is a list of lines per page in reading order, exactly as
wrapped. The prose is the corpus's own (``tests.support.pages``): single articles at 10-11 pt,
two articles on one page at 9 pt (dense) and 8 pt (small print). Everything is made from
seeds, so the bytes are the same on every run.
"""

from __future__ import annotations

import datetime
import functools
import io
import zlib
from dataclasses import dataclass

import numpy as np
from fpdf import FPDF
from PIL import Image, ImageFilter, ImageFont

from tests.support import pages
from tests.support.pages import (
    A4_MM,
    BICYCLE_UPDATE,
    CHARS,
    DEJAVU_SANS,
    DEJAVU_SERIF,
    INDENT_EMS,
    IPAEX_GOTHIC,
    LAYOUT,
    LIBRARY_NOTES,
    LINE_SPACING,
    MARGIN_MM,
    MM_PER_INCH,
    NOTO_SERIF_SC,
    PARAGRAPH_GAP_LINES,
    POINTS_PER_INCH,
    READING_ROOM,
    SMALL_TOWN,
    WORDS,
    WRAPPERS,
    PageSpec,
    checked,
)

PDF = 0  # PaddleX's fileType for a PDF
IMAGE = 1  # ... and for an image (a multi-page TIFF is one)
SCAN_DPIS = (150, 200, 300)
TIFF_DPI = 200
SCAN_JPEG_QUALITY = 80
BILEVEL_THRESHOLD = 150  # of 255: a scanner's fixed threshold on the grey scan
# Text is laid out at this many pixels per point, so that wrapping measures as finely as the
# PDF places it (fpdf2 writes in points).
LAYOUT_SCALE = 20
_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)  # every file's date

# The pages, by language: two single articles, then two articles to a page, dense and small.
PAGES = {
    "en": (
        PageSpec("en", DEJAVU_SERIF, 10, LIBRARY_NOTES, WORDS),
        PageSpec("en", DEJAVU_SANS, 11, BICYCLE_UPDATE, WORDS),
        PageSpec("en", DEJAVU_SANS, 9, LIBRARY_NOTES + BICYCLE_UPDATE, WORDS),
        PageSpec("en", DEJAVU_SERIF, 8, BICYCLE_UPDATE + LIBRARY_NOTES, WORDS),
    ),
    "zh": (
        PageSpec("zh", IPAEX_GOTHIC, 10, SMALL_TOWN, CHARS),
        PageSpec("zh", NOTO_SERIF_SC, 11, READING_ROOM, CHARS),
        PageSpec("zh", NOTO_SERIF_SC, 9, SMALL_TOWN + READING_ROOM, CHARS),
        PageSpec("zh", NOTO_SERIF_SC, 8, READING_ROOM + SMALL_TOWN, CHARS),
    ),
}
# Which of a language's pages each kind of document holds: the scans hold the same two pages
# at every resolution (11 pt and 8 pt), so that resolution is all that differs between them.
BORN_DIGITAL_PAGES = (0, 2, 3)
SCANNED_PAGES = (1, 3)
TIFF_PAGES = (0, 1, 2)


@dataclass(frozen=True)
class Document:
    """One file to read, with the truth of each of its pages (lines in reading order)."""

    set: str  # e.g. "scan-en-200"
    name: str  # a file name: e.g. "scan-en-200.pdf"
    kind: str  # "born-digital", "scanned" or "tiff"
    lang: str
    file_type: int  # PaddleX's fileType: PDF or IMAGE
    data: bytes
    truth: tuple[tuple[str, ...], ...]  # one tuple of lines per page
    page_names: tuple[str, ...]  # e.g. "en-sans-9pt" per page

    @property
    def pages(self) -> int:
        return len(self.truth)


def seed(name: str) -> int:
    return zlib.crc32(name.encode())


# --- born-digital PDFs ---------------------------------------------------------------------

@dataclass(frozen=True)
class PlacedLine:
    x: float  # points from the left edge
    baseline: float  # points from the top edge
    text: str


def lay_out(spec: PageSpec) -> list[PlacedLine]:
    """An A4 page of ``spec``'s paragraphs in points, laid out as ``pages.render_page`` lays
    out its images; raises where the text does not fit (the truth is always the whole text)."""
    size_pt = [mm / MM_PER_INCH * POINTS_PER_INCH for mm in A4_MM]
    margin = MARGIN_MM / MM_PER_INCH * POINTS_PER_INCH
    font = ImageFont.truetype(str(checked(spec.font)), spec.pt * LAYOUT_SCALE,
                              layout_engine=LAYOUT)
    ascent, descent = (v / LAYOUT_SCALE for v in font.getmetrics())
    step = spec.pt * LINE_SPACING[spec.wrap_by]
    indent = INDENT_EMS[spec.wrap_by] * spec.pt
    width = size_pt[0] - 2 * margin
    wrap = WRAPPERS[spec.wrap_by]
    placed: list[PlacedLine] = []
    baseline = margin + ascent
    for number, paragraph in enumerate(spec.paragraphs):
        if number:
            baseline += PARAGRAPH_GAP_LINES * step
        lines = wrap(paragraph, font, width * LAYOUT_SCALE, (width - indent) * LAYOUT_SCALE)
        for row, line in enumerate(lines):
            placed.append(PlacedLine(margin + (indent if row == 0 else 0), baseline, line))
            baseline += step
    if baseline - step + descent > size_pt[1] - margin:
        raise ValueError(f"the text does not fit on one page at {spec.pt} pt")
    return placed


def text_pdf(specs: list[PageSpec]) -> tuple[bytes, list[list[str]]]:
    """A born-digital PDF of these pages (real text in the pages' fonts) and each page's lines."""
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(_EPOCH)  # the same bytes on every run
    families: dict[str, str] = {}
    truth = []
    for spec in specs:
        path = checked(spec.font)
        if str(path) not in families:
            families[str(path)] = f"font{len(families)}"
            pdf.add_font(families[str(path)], fname=str(path))
        pdf.add_page()
        pdf.set_font(families[str(path)], size=spec.pt)
        placed = lay_out(spec)
        for line in placed:
            pdf.text(line.x, line.baseline, line.text)
        truth.append([line.text for line in placed])
    return bytes(pdf.output()), truth


# --- scanned pages ---------------------------------------------------------------------------

def scanned_look(image: Image.Image, dpi: int, name: str) -> Image.Image:
    """A clean rendered page as a flatbed scanner returns it: greyscale, turned by up to 0.8
    degrees, a little out of focus, grey paper with noise, ink not quite black."""
    rng = np.random.default_rng(seed(name))
    grey = image.convert("L")
    angle = float(rng.uniform(0.25, 0.8) * rng.choice([-1, 1]))
    grey = grey.rotate(angle, resample=Image.BICUBIC, fillcolor=255)
    grey = grey.filter(ImageFilter.GaussianBlur(radius=0.45 * dpi / 150))
    pixels = np.asarray(grey, np.float32)
    ink, paper = float(rng.uniform(25, 45)), float(rng.uniform(228, 242))
    pixels = ink + pixels * (paper - ink) / 255
    pixels += rng.normal(0, 5, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")


def rendered(spec: PageSpec, dpi: int) -> tuple[Image.Image, list[str]]:
    """``pages.render_page``'s image of ``spec`` at ``dpi``, and its lines."""
    png, truth = pages.render_page(list(spec.paragraphs), checked(spec.font), spec.pt, dpi,
                                   spec.wrap_by)
    with Image.open(io.BytesIO(png)) as opened:
        return opened.convert("RGB"), truth


def scanned_pdf(images: list[Image.Image], dpi: int) -> bytes:
    """Page images into a PDF as JPEGs at ``dpi`` (so an A4 image makes an A4 page)."""
    out = io.BytesIO()
    first, *rest = [image.copy() for image in images]  # copies: saving sets options on them
    first.save(out, "PDF", save_all=True, append_images=rest, resolution=dpi,
               quality=SCAN_JPEG_QUALITY, producer="document_sets",
               creationDate=_EPOCH.timetuple(), modDate=_EPOCH.timetuple())
    return out.getvalue()


def bilevel(image: Image.Image) -> Image.Image:
    return image.convert("L").point(lambda v: 255 if v >= BILEVEL_THRESHOLD else 0, "1")


def multipage_tiff(images: list[Image.Image], dpi: int, compression: str = "group4") -> bytes:
    """The images as the frames of one TIFF (copies: an image saved into another file keeps
    that file's options, which the TIFF encoder refuses)."""
    out = io.BytesIO()
    first, *rest = [image.copy() for image in images]
    first.save(out, "TIFF", save_all=True, append_images=rest, compression=compression,
               dpi=(dpi, dpi))
    return out.getvalue()


# --- the sets ----------------------------------------------------------------------------------

def _chosen(lang: str, indices: tuple[int, ...]) -> list[PageSpec]:
    return [PAGES[lang][i] for i in indices]


def born_digital(lang: str) -> Document:
    specs = _chosen(lang, BORN_DIGITAL_PAGES)
    data, truth = text_pdf(specs)
    name = f"pdf-{lang}"
    return Document(name, f"{name}.pdf", "born-digital", lang, PDF, data,
                    tuple(tuple(t) for t in truth),
                    tuple(f"{s.lang}-{s.font.label}-{s.pt:g}pt" for s in specs))


def scanned(lang: str, dpi: int) -> Document:
    specs = _chosen(lang, SCANNED_PAGES)
    name = f"scan-{lang}-{dpi}"
    images, truth = [], []
    for number, spec in enumerate(specs):
        image, lines = rendered(spec, dpi)
        images.append(scanned_look(image, dpi, f"{name}-{number}"))
        truth.append(tuple(lines))
    return Document(name, f"{name}.pdf", "scanned", lang, PDF, scanned_pdf(images, dpi),
                    tuple(truth), tuple(s.name(dpi) for s in specs))


def tiff(lang: str, dpi: int = TIFF_DPI) -> Document:
    specs = _chosen(lang, TIFF_PAGES)
    name = f"tiff-{lang}"
    images, truth = [], []
    for number, spec in enumerate(specs):
        image, lines = rendered(spec, dpi)
        images.append(bilevel(scanned_look(image, dpi, f"{name}-{number}")))
        truth.append(tuple(lines))
    return Document(name, f"{name}.tif", "tiff", lang, IMAGE, multipage_tiff(images, dpi),
                    tuple(truth), tuple(s.name(dpi) for s in specs))


SETS = tuple([f"pdf-{lang}" for lang in PAGES]
             + [f"scan-{lang}-{dpi}" for lang in PAGES for dpi in SCAN_DPIS]
             + [f"tiff-{lang}" for lang in PAGES])


@functools.lru_cache(maxsize=None)
def document(set_name: str) -> Document:
    kind, lang, *dpi = set_name.split("-")
    if kind == "pdf":
        return born_digital(lang)
    if kind == "scan":
        return scanned(lang, int(dpi[0]))
    if kind == "tiff":
        return tiff(lang)
    raise KeyError(f"no document set {set_name!r}; sets: {', '.join(SETS)}")


def document_sets(names: tuple[str, ...] = SETS) -> list[Document]:
    """The documents of these sets (all of them by default), made once per process."""
    return [document(name) for name in names]
