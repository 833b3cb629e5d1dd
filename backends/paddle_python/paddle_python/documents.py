"""Documents: a PDF, a multi-page TIFF or one image, opened and turned into page images.

``ocr_document`` reads each page as one ``ocr`` request, so the pages of a document spread
over the instances and meet other requests in the dynamic batchers. Pages are made one at a
time as they are sent (``Pages.page``), never all first, so memory is bounded by the pages in
flight whatever the document holds; the page count, the bytes and the pixels of each page are
checked before anything large is made.

PDF pages are rendered by PDFium (``pypdfium2``, the renderer PaddleX uses) at the requested
resolution, scaled down where the page would exceed ``max_page_pixels`` (a 200 x 200 inch
poster is read, smaller, not refused). A rendered page goes to ``ocr`` as a BMP: its header is
all there is to encode and decode. TIFF frames are read with Pillow and converted like any
image (``imaging.to_bgr``: 16-bit, CMYK, palette). Any other bytes are one page, decoded
here once to be checked and measured (``ImagePages``) and passed to ``ocr`` as they are.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError
from .imaging import decode_image, to_bgr
from .options import RequestOption, request_value, with_request

PAGE_SEPARATOR = "\n\n"  # between pages in the document's text (ocr_pages)
PDF_MAGIC = b"%PDF-"
PDF_HEADER_WINDOW = 1024  # the PDF header may start anywhere in the first 1024 bytes
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
POINTS_PER_INCH = 72.0  # PDF user space
SHRINK_STEP = 0.999  # how a scale that rounds to one pixel too many is brought down
PDFIUM_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD: the document is encrypted
WHITE = (255, 255, 255, 255)  # what a PDF page is drawn on

# What a request may ask of ocr_document itself; every other parameter goes to each page's
# ``ocr`` request (``options.REQUEST_OPTIONS``).
DOCUMENT_OPTIONS = {
    "dpi": RequestOption(int, 36, 600),  # PDF rendering resolution
    "visualize": RequestOption(bool),  # each page as a JPEG with its boxes drawn
}
DPI_OPTION = DOCUMENT_OPTIONS["dpi"]
BOX_COLOUR = (0, 160, 0)  # BGR: the boxes drawn on a visualized page
BOX_THICKNESS = 2
JPEG_QUALITY = 85


@dataclass(frozen=True)
class DocumentOptions:
    """``ocr_document`` parameters (``ocr_pages`` uses the first two)."""

    ocr_model: str = "ocr"
    max_pages: int = 64  # pages per document: refused beyond, before a page is made
    # PDF rendering resolution; a request may ask for another (``dpi``). 200 read the documents
    # benchmark best (perf/results/documents-dpi-2026-12-04.md).
    dpi: int = 200
    max_document_bytes: int = 64 * 1024 * 1024  # the front door's default body limit
    # Pixels of one page image: a PDF page is rendered smaller to fit, a TIFF frame beyond it
    # is refused. A BMP of this many pixels must fit ``ocr``'s max_image_bytes (32 MiB).
    max_page_pixels: int = 11_000_000
    pages_in_flight: int = 2  # pages of one document made and sent before the first is read
    documents_in_flight: int = 4  # documents one instance reads at once

    def __post_init__(self) -> None:
        if not DPI_OPTION.low <= self.dpi <= DPI_OPTION.high:  # type: ignore[operator]
            raise ValueError(f"dpi {self.dpi} outside {DPI_OPTION.low:g}..{DPI_OPTION.high:g}")
        for name in ("max_pages", "max_document_bytes", "max_page_pixels", "pages_in_flight",
                     "documents_in_flight"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")


def check_pages(count: int, options: DocumentOptions) -> None:
    if count == 0:
        raise InputError("no pages: send a document of at least one page", "empty")
    if count > options.max_pages:
        raise InputError(f"{count} pages, more than max_pages={options.max_pages}", "pages")


def document_text(pages: list[list[str]]) -> tuple[list[str], str]:
    """Each page's lines joined by newlines, and the pages joined by a blank line."""
    page_texts = ["\n".join(lines) for lines in pages]
    return page_texts, PAGE_SEPARATOR.join(page_texts)


def split_parameters(params: Mapping[str, Any], options: DocumentOptions
                     ) -> tuple[DocumentRequest, dict[str, Any]]:
    """What the request asks of the document model, and the parameters for each page's
    ``ocr`` request, all checked here so that a bad one is named once, not once per page."""
    rest = {k: v for k, v in params.items() if k not in DOCUMENT_OPTIONS}
    with_request(rest)  # unknown names, wrong types, out of range: the caller's error
    asked = {name: request_value(name, params[name], option)
             for name, option in DOCUMENT_OPTIONS.items() if name in params}
    return DocumentRequest(dpi=asked.get("dpi", options.dpi),
                           visualize=asked.get("visualize", False)), rest


@dataclass(frozen=True)
class DocumentRequest:
    """One request's own settings (``DOCUMENT_OPTIONS``)."""

    dpi: int
    visualize: bool = False


def draw_page(image: bytes, boxes: np.ndarray) -> bytes:
    """A page with its lines' boxes drawn, as a JPEG (PaddleX's ``ocrImage``)."""
    bgr = decode_image(image)
    cv2.polylines(bgr, [np.round(box).astype(np.int32) for box in boxes], True, BOX_COLOUR,
                  BOX_THICKNESS)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"cannot encode a page of shape {bgr.shape} as JPEG")
    return encoded.tobytes()


@dataclass
class Page:
    """One page ready for ``ocr``: an encoded image and its size in pixels (as rendered)."""

    index: int
    image: bytes
    width: int
    height: int


class Pages(Protocol):
    """An open document: how many pages, each page on demand, then closed."""

    kind: str  # "pdf", "tiff" or "image"
    count: int

    def page(self, index: int) -> Page: ...

    def close(self) -> None: ...


def document_kind(data: bytes) -> str:
    if PDF_MAGIC in data[:PDF_HEADER_WINDOW]:
        return "pdf"
    if data[:4] in TIFF_MAGICS:
        return "tiff"
    return "image"


def open_document(data: bytes, options: DocumentOptions, dpi: int) -> Pages:
    """The document's pages, its bytes and page count checked (nothing rendered yet)."""
    if len(data) == 0:
        raise InputError("document is empty (0 bytes)", "empty")
    if len(data) > options.max_document_bytes:
        raise InputError(f"document is {len(data)} bytes, more than max_document_bytes="
                         f"{options.max_document_bytes}", "too_many_bytes")
    kind = document_kind(data)
    pages: Pages
    if kind == "pdf":
        pages = PdfPages(data, dpi, options.max_page_pixels)
    elif kind == "tiff":
        pages = TiffPages(data, options.max_page_pixels)
    else:
        pages = ImagePages(data)
    try:
        check_pages(pages.count, options)
    except InputError:
        pages.close()
        raise
    return pages


def render_scale(width_pt: float, height_pt: float, dpi: int, max_pixels: int) -> float:
    """Pixels per point: ``dpi`` / 72, or less where the page would exceed ``max_pixels``
    (PDFium rounds the bitmap's sides up, so the rounded sides are what must fit)."""
    scale = dpi / POINTS_PER_INCH
    pixels = width_pt * height_pt * scale * scale
    if pixels > max_pixels:
        scale *= (max_pixels / pixels) ** 0.5
    while math.ceil(width_pt * scale) * math.ceil(height_pt * scale) > max_pixels:
        scale *= SHRINK_STEP
    return scale


def encode_page(bgr: np.ndarray) -> bytes:
    """A page image as a BMP (no compression: the cheapest file ``ocr`` decodes)."""
    ok, encoded = cv2.imencode(".bmp", bgr)
    if not ok:
        raise RuntimeError(f"cannot encode a page of shape {bgr.shape} as BMP")
    return encoded.tobytes()


class PdfPages:
    """A PDF opened with PDFium; each page rendered on demand. PDFium is not thread-safe:
    call from one thread at a time (``ocr_document`` keeps it on one worker thread)."""

    kind = "pdf"

    def __init__(self, data: bytes, dpi: int, max_pixels: int):
        try:
            self._pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if getattr(exc, "err_code", None) == PDFIUM_PASSWORD_ERROR:
                raise InputError("the PDF is encrypted: a password is needed to open it, and "
                                 "this service takes none; send it decrypted",
                                 "encrypted") from None
            raise InputError(f"cannot read the PDF ({len(data)} bytes): {exc}",
                             "undecodable") from None
        self.count = len(self._pdf)
        self.dpi, self.max_pixels = dpi, max_pixels

    def page(self, index: int) -> Page:
        try:
            page = self._pdf[index]
        except pdfium.PdfiumError as exc:  # a broken page tree, a page object that is not one
            raise InputError(f"cannot read page {index} of the PDF: {exc}",
                             "undecodable") from None
        try:
            width, height = page.get_size()
            if not (width > 0 and height > 0):
                raise InputError(f"page {index} has no area ({width:g} x {height:g} pt)",
                                 "undecodable")
            scale = render_scale(width, height, self.dpi, self.max_pixels)
            bitmap = page.render(scale=scale, fill_color=WHITE)
            try:
                pixels = bitmap.to_numpy()
                bgr = pixels if pixels.shape[2] == 3 else np.ascontiguousarray(pixels[..., :3])
                return Page(index, encode_page(bgr), bgr.shape[1], bgr.shape[0])
            finally:
                bitmap.close()
        finally:
            page.close()

    def close(self) -> None:
        self._pdf.close()


class TiffPages:
    """Every frame of a TIFF, read with Pillow one at a time."""

    kind = "tiff"

    def __init__(self, data: bytes, max_pixels: int):
        try:
            self._image = Image.open(io.BytesIO(data))
            self.count = getattr(self._image, "n_frames", 1)
        except Exception as exc:  # Pillow raises many types for corrupt data
            why = ("not a complete TIFF file" if isinstance(exc, UnidentifiedImageError)
                   else str(exc))
            raise InputError(f"cannot read the TIFF ({len(data)} bytes): {why}",
                             "undecodable") from None
        self.max_pixels = max_pixels

    def page(self, index: int) -> Page:
        try:
            self._image.seek(index)
            width, height = self._image.size
            if width * height > self.max_pixels:
                raise InputError(f"page {index} is {width}x{height} pixels, more than "
                                 f"max_page_pixels={self.max_pixels}", "too_many_pixels")
            bgr = to_bgr(ImageOps.exif_transpose(self._image))
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"cannot read page {index} of the TIFF: {exc}",
                             "undecodable") from None
        return Page(index, encode_page(bgr), bgr.shape[1], bgr.shape[0])

    def close(self) -> None:
        self._image.close()


class ImagePages:
    """One image file: decoded here once, so that an undecodable file is the caller's error
    (``ocr``'s own refusal reaches a BLS caller as INTERNAL in Triton 2.51), and its size is
    known; ``ocr`` is sent the file as it is."""

    kind = "image"
    count = 1

    def __init__(self, data: bytes):
        self.data = data
        height, width = decode_image(data).shape[:2]
        self.size = (width, height)

    def page(self, index: int) -> Page:
        return Page(index, self.data, *self.size)

    def close(self) -> None:
        pass


@dataclass
class DocumentResult:
    """Every page's lines, in page order, with the page of each line; and each page's words."""

    kind: str
    page_sizes: list[tuple[int, int]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    line_pages: list[int] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    word_boxes: list[np.ndarray] = field(default_factory=list)
    word_lines: list[np.ndarray] = field(default_factory=list)
    page_images: list[bytes] = field(default_factory=list)  # with visualize: JPEGs

    def add_page(self, page: Page, out: Mapping[str, np.ndarray]) -> None:
        """Append one page's ``ocr`` outputs (batch dimension removed)."""
        first_line = len(self.texts)
        texts = [t.decode("utf-8") for t in out["texts"].reshape(-1)]
        self.page_sizes.append((page.width, page.height))
        self.texts += texts
        self.scores.append(out["scores"].reshape(-1))
        self.boxes.append(out["boxes"].reshape(-1, 4, 2))
        self.line_pages += [page.index] * len(texts)
        if "words" in out:
            self.words += [w.decode("utf-8") for w in out["words"].reshape(-1)]
            self.word_boxes.append(out["word_boxes"].reshape(-1, 4, 2))
            self.word_lines.append(out["word_lines"].reshape(-1) + first_line)

    def arrays(self) -> dict[str, Any]:
        """The outputs as arrays (no batch dimension): texts and words as lists of str."""
        def joined(parts: list[np.ndarray], shape: tuple[int, ...], dtype: Any) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype)

        return {
            "texts": self.texts,
            "scores": joined(self.scores, (0,), np.float32),
            "boxes": joined(self.boxes, (0, 4, 2), np.float32),
            "line_pages": np.array(self.line_pages, dtype=np.int32),
            "page_sizes": np.array(self.page_sizes, dtype=np.int32).reshape(-1, 2),
            "document_type": [self.kind],
            "words": self.words,
            "word_boxes": joined(self.word_boxes, (0, 4, 2), np.float32),
            "word_lines": joined(self.word_lines, (0,), np.int32),
            "page_images": self.page_images,
        }
