"""``ocr_pages``: a Triton model calling ``ocr`` through BLS, several pages at once."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from tests.support.calls import MODULES, stats
from tests.support.render import CHINESE, LATIN, blank, render, squash


def pages_input(protocol: str, pages: list[bytes]):
    array = np.array([pages], dtype=np.object_)
    tensor = MODULES[protocol].InferInput("pages", [1, len(pages)], "BYTES")
    tensor.set_data_from_numpy(array)
    return tensor


def test_pages_are_read_through_ocr_concurrently(http, grpc, protocol):
    client = http if protocol == "http" else grpc
    pages = [render(LATIN), render(CHINESE), blank()] * 3
    before = stats(http, "ocr_preprocess")
    result = client.infer("ocr_pages", [pages_input(protocol, pages)])
    page_texts = [t.decode() for t in result.as_numpy("page_texts")[0]]
    expected = ["\n".join(LATIN), "\n".join(CHINESE), ""] * 3
    assert [squash(t) for t in page_texts] == [squash(t) for t in expected]
    assert result.as_numpy("line_counts").tolist() == [[3, 3, 0] * 3]
    assert result.as_numpy("text")[0, 0].decode() == "\n\n".join(page_texts)
    moved = stats(http, "ocr_preprocess").since(before)
    requests, runs = moved.succeeded, moved.executions
    assert requests == len(pages)
    assert runs < requests, "the pages' ocr requests were in flight together and batched"


def test_a_bad_page_is_named(http):
    with pytest.raises(InferenceServerException) as caught:
        http.infer("ocr_pages", [pages_input("http", [render(LATIN), b"not an image"])])
    # Which page and what was wrong. (Triton 2.51 hands an ensemble's error to a BLS caller
    # as INTERNAL, so the caller's status is 500 here, not the 400 `ocr` answers directly.)
    assert "page 1: ocr: in ensemble 'ocr', ocr_preprocess: cannot decode image" in \
        caught.value.message()
