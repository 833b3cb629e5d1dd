"""PaddleX's OCR serving API (``POST /ocr``) on the real server, checked against PaddleX's own
pydantic schema of it, and with a client written as PaddleOCR's serving docs show one."""

from __future__ import annotations

import ast
import base64
import io
import json
import subprocess
import sys

import pytest
import requests
from PIL import Image

from tests.support.documents import PAGES, page_images, text_pdf, tiff
from tests.support.paddlex_schema import ocr_schema
from tests.support.readme import readme_block
from tests.support.render import LATIN, render, squash

TIMEOUT_S = 120


def post(server, payload: dict) -> requests.Response:
    return requests.post(f"http://{server.http_url}{ocr_schema().endpoint}", json=payload,
                         timeout=TIMEOUT_S)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def request(**fields) -> dict:
    """A request as PaddleX's schema writes it (so a field it does not know fails here)."""
    return ocr_schema().InferRequest(**fields).model_dump(exclude_none=True)


def test_a_pdf_is_answered_in_paddlex_s_shape(server):
    reply = post(server, request(file=b64(text_pdf()), fileType=0, visualize=False))
    assert reply.status_code == 200, reply.text
    answer = ocr_schema().Success.model_validate(reply.json())
    assert answer.errorCode == 0 and answer.errorMsg == "Success"
    info = answer.result.dataInfo
    assert (info.type, info.numPages) == ("pdf", len(PAGES))
    assert [(p.width, p.height) for p in info.pages] == [(1654, 2339)] * len(PAGES)
    for page, result in zip(PAGES, answer.result.ocrResults):
        pruned = result.prunedResult
        assert [squash(t) for t in pruned["rec_texts"]] == [squash(line) for line in page]
        assert len(pruned["rec_scores"]) == len(pruned["rec_polys"]) == len(pruned["rec_boxes"])
        for poly, (x0, y0, x1, y1) in zip(pruned["rec_polys"], pruned["rec_boxes"]):
            xs, ys = [x for x, _ in poly], [y for _, y in poly]
            assert (min(xs), min(ys), max(xs), max(ys)) == (x0, y0, x1, y1)
        assert pruned["text_det_params"]["limit_type"] == "max"
        assert result.ocrImage is None


def test_the_file_type_is_inferred_when_absent(server):
    reply = post(server, request(file=b64(tiff(page_images())), visualize=False))
    answer = ocr_schema().Success.model_validate(reply.json())
    assert (answer.result.dataInfo.type, answer.result.dataInfo.numPages) == ("tiff", 3)


def test_options_reach_the_models(server):
    image = b64(render(LATIN))
    everything = post(server, request(file=image, fileType=1, visualize=False)).json()
    strict = post(server, request(file=image, fileType=1, visualize=False,
                                  textRecScoreThresh=0.999)).json()
    kept = everything["result"]["ocrResults"][0]["prunedResult"]["rec_texts"]
    assert len(kept) == 3
    pruned = strict["result"]["ocrResults"][0]["prunedResult"]
    assert pruned["text_rec_score_thresh"] == 0.999 and len(pruned["rec_texts"]) < 3


def test_the_client_from_paddleocr_s_serving_docs_works(server, tmp_path):
    # As PaddleOCR's serving docs write their Python client: an image, fileType 1, no other
    # field; each result's prunedResult printed and its ocrImage saved.
    file_path = tmp_path / "demo.png"
    file_path.write_bytes(render(LATIN))
    with open(file_path, "rb") as file:
        file_data = base64.b64encode(file.read()).decode("ascii")
    response = requests.post(f"http://{server.http_url}/ocr",
                             json={"file": file_data, "fileType": 1}, timeout=TIMEOUT_S)
    assert response.status_code == 200
    result = response.json()["result"]
    for i, res in enumerate(result["ocrResults"]):
        print(res["prunedResult"])
        ocr_img_path = tmp_path / f"ocr_{i}.jpg"
        with open(ocr_img_path, "wb") as f:
            f.write(base64.b64decode(res["ocrImage"]))
        with Image.open(ocr_img_path) as picture:
            assert (picture.format, picture.size) == ("JPEG", (640, 480))
    assert [squash(t) for t in result["ocrResults"][0]["prunedResult"]["rec_texts"]] == \
        [squash(line) for line in LATIN]


@pytest.mark.parametrize("payload, message", [
    ({"file": "https://example.com/scan.pdf"}, "'file' is a URL"),
    ({"file": "not base64 ***"}, "neither base64 nor a URL"),
    ({"file": b64(text_pdf()), "fileType": 1}, "'fileType' is 1 (image) but the file is a PDF"),
    ({"file": b64(render(LATIN)), "fileType": 0}, "'fileType' is 0 (pdf) but the file is not"),
    ({"file": b64(text_pdf()), "useDocUnwarping": True}, "document unwarping is not available"),
    ({"file": b64(text_pdf()), "useDocOrientationClassify": True}, "orientation"),
    ({"file": b64(text_pdf()), "textDetLimitType": "min"}, "'textDetLimitType' 'min'"),
    ({"file": b64(text_pdf()), "textDetThresh": 2}, "'textDetThresh' is 2.0; allowed 0 to 1"),
    ({"file": b64(text_pdf(password="s3cret"))}, "a password is needed"),
    ({"file": b64(b"%PDF-1.7\n" + bytes(5000))}, "cannot read the PDF"),
    ({"file": b64(b"plain text, not an image")}, "cannot decode image"),
    ({"fileType": 0}, "'file' is required"),
])
def test_bad_requests_get_422_in_paddlex_s_error_shape(server, payload, message):
    reply = post(server, payload)
    assert reply.status_code == 422, reply.text
    failure = ocr_schema().Failure.model_validate(reply.json())
    assert failure.errorCode == 422 and message in failure.errorMsg, failure.errorMsg
    assert failure.logId


def test_a_body_that_is_not_json_gets_422(server):
    reply = requests.post(f"http://{server.http_url}/ocr", data=b"{not json",
                          headers={"Content-Type": "application/json"}, timeout=TIMEOUT_S)
    assert reply.status_code == 422 and "not JSON" in reply.json()["errorMsg"]


def test_the_answer_quotes_the_request_s_log_id(server):
    reply = post(server, request(file=b64(render(LATIN)), visualize=False, logId="trace-42"))
    assert reply.json()["logId"] == "trace-42"


def test_a_visualized_page_is_the_page_with_its_boxes(server):
    reply = post(server, request(file=b64(text_pdf(PAGES[:1])), fileType=0, visualize=True))
    (result,) = reply.json()["result"]["ocrResults"]
    with Image.open(io.BytesIO(base64.b64decode(result["ocrImage"]))) as picture:
        assert picture.size == (1654, 2339)


def test_return_word_box_gives_each_line_its_words(server):
    reply = post(server, request(file=b64(render(LATIN)), fileType=1, visualize=False,
                                 returnWordBox=True))
    pruned = reply.json()["result"]["ocrResults"][0]["prunedResult"]
    assert pruned["return_word_box"] is True
    assert [" ".join(words) for words in pruned["text_word"]] == LATIN
    assert [len(regions) for regions in pruned["text_word_region"]] == [2, 3, 3]
    assert all(len(region) == 4 for line in pruned["text_word_region"] for region in line)


def test_readme_curl_and_python_examples_of_ocr_work_as_written(server, tmp_path):
    (tmp_path / "report.pdf").write_bytes(text_pdf())
    heading, default_url = "### PaddleX's serving API", "127.0.0.1:8000"
    curl = readme_block(heading, "sh").replace(default_url, server.http_url)
    done = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True,
                          cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    answer = ocr_schema().Success.model_validate(json.loads(done.stdout))
    assert [[squash(t) for t in r.prunedResult["rec_texts"]] for r in answer.result.ocrResults] \
        == [[squash(line) for line in page] for page in PAGES]
    python = readme_block(heading, "python").replace(default_url, server.http_url)
    done = subprocess.run([sys.executable, "-c", python], capture_output=True, text=True,
                          cwd=tmp_path, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    assert [ast.literal_eval(line) for line in done.stdout.splitlines()] == \
        [[r for r in page.prunedResult["rec_texts"]] for page in answer.result.ocrResults]
