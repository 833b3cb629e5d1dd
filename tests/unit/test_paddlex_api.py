"""PaddleX's /ocr request translated without a server: field names, checks, and an answer
when Triton is not there."""

import asyncio
import base64
import json

import pytest

from paddle_python.paddlex_api import ApiError, OcrApi, ServedSettings, document_call
from tests.support.documents import text_pdf
from tests.support.render import LATIN, render
from tests.support.server import free_ports

SETTINGS = ServedSettings()


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


def test_fields_become_the_models_request_parameters():
    call = document_call(body(file=base64.b64encode(text_pdf()).decode(), fileType=0,
                              textDetThresh=0.4, textRecScoreThresh=0.7,
                              useTextlineOrientation=False, returnWordBox=True,
                              visualize=False, logId="abc"), SETTINGS)
    assert call.parameters == {"det_thresh": 0.4, "min_score": 0.7, "use_angle_cls": False,
                               "return_word_boxes": True, "visualize": False}
    assert (call.log_id, call.data[:5]) == ("abc", b"%PDF-")


def test_visualize_defaults_to_true_as_in_paddlex():
    call = document_call(body(file=base64.b64encode(render(LATIN)).decode()), SETTINGS)
    assert call.visualize and call.parameters == {"visualize": True} and call.log_id


@pytest.mark.parametrize("fields, message", [
    ({"file": "http://169.254.169.254/latest"}, "'file' is a URL"),
    ({"file": base64.b64encode(b"x").decode(), "textDetThresh": "high"}, "must be a number"),
    ({"file": base64.b64encode(b"x").decode(), "returnWordBox": 1}, "must be true or false"),
    ({"file": base64.b64encode(b"x").decode(), "fileType": 2}, "must be 0 (PDF) or 1"),
])
def test_what_cannot_be_used_is_422_saying_why(fields, message):
    with pytest.raises(ApiError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        document_call(body(**fields), SETTINGS)
    assert caught.value.status == 422


def test_an_absent_inference_server_is_502_not_a_crash():
    (port,) = free_ports(1)
    api = OcrApi(f"127.0.0.1:{port}", SETTINGS)

    async def ask():
        try:
            return await api.answer(body(file=base64.b64encode(render(LATIN)).decode()))
        finally:
            await api.close()

    status, answer = asyncio.run(ask())
    assert status == 502 and answer["errorCode"] == 502
    assert "not reachable" in answer["errorMsg"]
