"""Documents of several page images, read through the served ``ocr`` model (``ocr_pages``)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError

PAGE_SEPARATOR = "\n\n"  # between pages in the document's text


@dataclass(frozen=True)
class DocumentOptions:
    """``ocr_pages`` parameters."""

    ocr_model: str = "ocr"
    max_pages: int = 64  # pages per request: each becomes an ``ocr`` request, all at once


def check_pages(count: int, options: DocumentOptions) -> None:
    if count == 0:
        raise InputError("'pages' is empty: send at least one page image", "empty")
    if count > options.max_pages:
        raise InputError(f"{count} pages, more than max_pages={options.max_pages}", "batch")


def document_text(pages: list[list[str]]) -> tuple[list[str], str]:
    """Each page's lines joined by newlines, and the pages joined by a blank line."""
    page_texts = ["\n".join(lines) for lines in pages]
    return page_texts, PAGE_SEPARATOR.join(page_texts)
