"""The bad-input corpus against the real server, over HTTP and gRPC, to ``ocr`` and directly to
each composing model: a correct result or a clear error, in bounded time, and the next good
request still answered correctly."""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from tests.support.calls import MODULES, ocr
from tests.support.corpus import COMPOSING_CASES, OCR_CASES, Case
from tests.support.documents import DOCUMENT_CASES
from tests.support.render import LATIN, render, squash

ANSWER_WITHIN_S = 30.0


@lru_cache(maxsize=None)
def good_image() -> bytes:
    return render(LATIN[:1], size=(400, 100), font_size=40)


def send(client, protocol: str, case: Case) -> dict[str, np.ndarray]:
    module = MODULES[protocol]
    inputs = []
    for name, array, datatype in case.tensors():
        tensor = module.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = client.infer(case.model, inputs, parameters=case.parameters)
    response = result.get_response()
    names = ([o["name"] for o in response["outputs"]] if protocol == "http"
             else [o.name for o in response.outputs])
    return {name: result.as_numpy(name) for name in names}


@pytest.mark.parametrize("case", OCR_CASES + COMPOSING_CASES + DOCUMENT_CASES,
                         ids=lambda c: f"{c.model}:{c.name}")
def test_bad_input_gets_a_result_or_a_clear_error(http, grpc, protocol, case):
    client = http if protocol == "http" else grpc
    start = time.monotonic()
    if case.error is not None:
        with pytest.raises(InferenceServerException) as caught:
            send(client, protocol, case)
        assert case.error in caught.value.message(), caught.value.message()
        assert str(caught.value.status()) == case.status[protocol], caught.value.message()
    else:
        outputs = send(client, protocol, case)
        if case.texts is not None:
            texts = [t.decode() for t in outputs["texts"][0]]
            assert [squash(t) for t in texts] == [squash(t) for t in case.texts]
        if case.check is not None:
            case.check(outputs)
    assert time.monotonic() - start < ANSWER_WITHIN_S
    # The server is unharmed: the next good request is answered correctly.
    assert [squash(t) for t in ocr(client, protocol, good_image()).texts] == [squash(LATIN[0])]


def test_the_corpus_is_large_enough():
    assert len(OCR_CASES) >= 25 and len({c.model for c in COMPOSING_CASES}) == 5
    assert len(DOCUMENT_CASES) >= 15
