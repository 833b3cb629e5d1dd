"""Documents without a server: what is a PDF, a TIFF or an image, how pages are sized and
made one at a time, and the limits checked before anything large is made."""

import numpy as np
import pytest

from paddle_python.documents import (
    DocumentOptions,
    DocumentRequest,
    check_pages,
    document_kind,
    document_text,
    draw_page,
    open_document,
    render_scale,
    split_parameters,
)
from paddle_python.errors import InputError
from paddle_python.imaging import decode_image
from tests.support.documents import (
    A4_PT,
    PAGES,
    blank_pdf,
    looping_pdf,
    page_images,
    poster_pdf,
    text_pdf,
    tiff,
)
from tests.support.render import LATIN, render

OPTIONS = DocumentOptions(max_pages=100)


def test_pages_are_joined_lines_then_blank_lines():
    page_texts, text = document_text([["a", "b"], [], ["c"]])
    assert page_texts == ["a\nb", "", "c"]
    assert text == "a\nb\n\n\n\nc"


def test_page_count_is_bounded():
    check_pages(2, DocumentOptions(max_pages=2))
    with pytest.raises(InputError, match="3 pages, more than max_pages=2"):
        check_pages(3, DocumentOptions(max_pages=2))
    with pytest.raises(InputError, match="at least one page"):
        check_pages(0, DocumentOptions())


def test_the_kind_is_read_from_the_first_bytes():
    assert document_kind(text_pdf()) == "pdf"
    assert document_kind(b"\xef\xbb\xbf junk first\n%PDF-1.4 ...") == "pdf"  # within 1024 bytes
    assert document_kind(tiff(page_images()[:1])) == "tiff"
    assert document_kind(render(LATIN)) == "image"


def test_a_pdf_page_renders_at_the_dpi_asked_for():
    pages = open_document(text_pdf(), OPTIONS, 200)
    assert (pages.kind, pages.count) == ("pdf", len(PAGES))
    page = pages.page(1)
    assert (page.width, page.height) == (round(A4_PT[0] * 200 / 72), round(A4_PT[1] * 200 / 72))
    image = decode_image(page.image)  # what ocr_preprocess will decode
    assert image.shape == (page.height, page.width, 3)
    assert image.min() < 50 < 250 < image.max()  # black text on a white page
    pages.close()


def test_a_page_too_large_is_rendered_smaller_not_refused():
    assert render_scale(*A4_PT, 200, 11_000_000) == pytest.approx(200 / 72)
    scale = render_scale(14400, 14400, 200, 11_000_000)
    assert (14400 * scale) ** 2 == pytest.approx(11_000_000, rel=0.01)
    pages = open_document(poster_pdf(), OPTIONS, 200)
    page = pages.page(0)
    assert page.width * page.height <= 11_000_000 and page.width > 3000
    pages.close()


def test_thousands_of_pages_are_refused_before_any_is_rendered():
    with pytest.raises(InputError, match="3000 pages, more than max_pages=100"):
        open_document(blank_pdf(3000), OPTIONS, 200)


def test_an_encrypted_pdf_says_a_password_is_needed():
    with pytest.raises(InputError, match="encrypted: a password is needed"):
        open_document(text_pdf(password="s3cret"), OPTIONS, 200)


def test_a_page_tree_that_loops_is_an_error_naming_the_page():
    pages = open_document(looping_pdf(), OPTIONS, 200)
    with pytest.raises(InputError, match="cannot read page 0 of the PDF"):
        for index in range(pages.count):
            pages.page(index)


def test_every_tiff_frame_is_a_page():
    images = page_images()
    pages = open_document(tiff(images), OPTIONS, 200)
    assert (pages.kind, pages.count) == ("tiff", 3)
    for index, expected in enumerate(images):
        page = pages.page(index)
        assert (page.width, page.height) == expected.size
        assert decode_image(page.image)[:, :, ::-1].tobytes() == expected.tobytes()


def test_an_image_is_one_page_passed_as_it_is():
    data = render(LATIN, size=(640, 480))
    pages = open_document(data, OPTIONS, 200)
    page = pages.page(0)
    assert (pages.kind, pages.count, page.image, page.width, page.height) == (
        "image", 1, data, 640, 480)


def test_document_bytes_are_bounded():
    with pytest.raises(InputError, match="more than max_document_bytes=1000"):
        open_document(text_pdf(), DocumentOptions(max_document_bytes=1000), 200)
    with pytest.raises(InputError, match="empty"):
        open_document(b"", OPTIONS, 200)


def test_dpi_is_the_document_model_s_and_the_rest_goes_to_each_page():
    assert split_parameters({}, OPTIONS) == (DocumentRequest(200, False), {})
    assert split_parameters({"dpi": 300, "min_score": 0.7, "visualize": True}, OPTIONS) == (
        DocumentRequest(300, True), {"min_score": 0.7})
    with pytest.raises(InputError, match="'dpi' is 5; allowed 36 to 600"):
        split_parameters({"dpi": 5}, OPTIONS)
    with pytest.raises(InputError, match="unknown request parameter 'colour'"):
        split_parameters({"colour": "red"}, OPTIONS)
    with pytest.raises(ValueError, match="dpi 1000"):
        DocumentOptions(dpi=1000)


def test_a_visualized_page_is_a_jpeg_of_the_page_with_its_boxes():
    page = open_document(render(LATIN, size=(640, 480)), OPTIONS, 200).page(0)
    box = np.array([[[10, 10], [200, 10], [200, 60], [10, 60]]], np.float32)
    drawn = decode_image(draw_page(page.image, box))
    assert drawn.shape == (480, 640, 3)
    assert tuple(drawn[10, 100]) != (255, 255, 255)  # on the box's top edge
    assert tuple(drawn[300, 600]) == (255, 255, 255)  # far from it, the white page
