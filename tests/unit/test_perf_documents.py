"""The documents benchmark's pieces that need no server: the request both systems get, how an
answer in PaddleX's shape is read, PaddleX's pipeline configuration and its lock."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from perf import documents, paddlex_serving
from perf.documents import Pass, Reading, changed_pages, field_value, parse_reply, request_body
from tests.support.document_sets import IMAGE, PDF, Document

DOC = Document("pdf-en", "pdf-en.pdf", "born-digital", "en", PDF, b"%PDF-1.7 fake",
               (("a b",), ("c",)), ("p1", "p2"))


def answer(pages: list[list[str]], num_pages: int | None = None, status: int = 200,
           code: int = 0) -> tuple[int, bytes]:
    body = {"logId": "x", "errorCode": code, "errorMsg": "Success" if not code else "bad",
            "result": {"ocrResults": [{"prunedResult": {"rec_texts": p, "rec_scores": []}}
                                      for p in pages],
                       "dataInfo": {"numPages": len(pages) if num_pages is None else num_pages,
                                    "type": "pdf"}}}
    return status, json.dumps(body).encode()


def test_request_is_paddlex_shaped_and_the_same_for_every_system():
    body = json.loads(request_body(DOC, {"textDetLimitSideLen": 960}))
    assert body == {"file": base64.b64encode(DOC.data).decode(), "fileType": PDF,
                    "visualize": False, "textDetLimitSideLen": 960}
    tiff = Document("tiff-en", "t.tif", "tiff", "en", IMAGE, b"II*\0", (("x",),), ("p",))
    assert json.loads(request_body(tiff, {}))["fileType"] == 1


def test_fields_are_read_as_json_where_they_are():
    assert field_value("textDetLimitSideLen=960") == ("textDetLimitSideLen", 960)
    assert field_value("textDetLimitType=max") == ("textDetLimitType", "max")
    assert field_value("useTextlineOrientation=false") == ("useTextlineOrientation", False)
    with pytest.raises(Exception, match="KEY=VALUE"):
        field_value("novalue")


def test_reply_pages_are_read_in_order():
    assert parse_reply(*answer([["a b"], ["c"]]), DOC) == ([["a b"], ["c"]], "")


@pytest.mark.parametrize("reply, error", [
    (answer([["a b"]]), "1 pages read of 2"),
    (answer([["a"], ["c"]], num_pages=5), "dataInfo.numPages 5"),
    (answer([], status=422, code=422), "HTTP 422, errorCode 422: bad"),
    ((502, b"<html>"), "not JSON"),
])
def test_a_wrong_reply_is_a_failure(reply, error):
    assert error in parse_reply(*reply, DOC)[1]


def test_later_rounds_are_compared_page_by_page():
    first = Pass("s", 0, 1.0, [Reading("pdf-en", 1.0, [["a"], ["b"]])], 1.0)
    same = Pass("s", 1, 1.0, [Reading("pdf-en", 1.0, [["a"], ["b"]])], 1.0)
    other = Pass("s", 2, 1.0, [Reading("pdf-en", 1.0, [["a"], ["B"]])], 1.0)
    assert changed_pages([first, same]) == 0
    assert changed_pages([first, same, other]) == 1


def test_paddlex_config_is_its_ocr_pipeline_on_the_served_files(tmp_path):
    for name in ("det", "rec"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "inference.yml").write_text(
            f"Global:\n  model_name: PP-OCRv5_mobile_{name}\n")
    config = yaml.safe_load(paddlex_serving.pipeline_config(tmp_path / "det", tmp_path / "rec"))
    assert config["pipeline_name"] == "OCR"
    assert config["use_doc_preprocessor"] is False
    assert config["use_textline_orientation"] is False
    assert "DocPreprocessor" not in config.get("SubPipelines", {})
    det, rec = config["SubModules"]["TextDetection"], config["SubModules"]["TextRecognition"]
    assert (det["model_name"], det["model_dir"]) == ("PP-OCRv5_mobile_det", str(tmp_path / "det"))
    assert (rec["model_name"], rec["model_dir"]) == ("PP-OCRv5_mobile_rec", str(tmp_path / "rec"))
    # PaddleX's own defaults for PP-OCRv5 detection: pages detected as they arrive.
    assert (det["limit_side_len"], det["limit_type"], det["max_side_limit"]) == (64, "min", 4000)
    with pytest.raises(FileNotFoundError, match="PP-OCRv5_mobile_det"):
        paddlex_serving.pipeline_config(tmp_path / "rec", tmp_path / "rec")


def test_lock_pins_every_package_and_the_versions_asked_for():
    pins = [line for line in paddlex_serving.LOCK.read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)
    versions = paddlex_serving.versions()
    assert versions["paddlex"] == "3.7.2" and versions["paddlepaddle"] == "3.2.2"
    for package in ("fastapi", "uvicorn", "opencv-contrib-python", "pypdfium2"):
        assert package in versions  # `paddlex --install serving` and the OCR pipeline's needs


def test_cpu_info_names_the_cpu():
    info = documents.cpu_info()
    assert info["name"] and info["flags"]
