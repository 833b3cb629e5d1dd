import pytest

from paddle_python.documents import DocumentOptions, check_pages, document_text
from paddle_python.errors import InputError


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
