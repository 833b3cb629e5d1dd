"""The served ``ocr`` ensemble through the real server, over HTTP and gRPC."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from paddle_python.model_files import served_dir
from paddle_python.pipeline import OcrPipeline
from tests.support.calls import image_input, ocr, stats
from tests.support.readme import readme_block
from tests.support.render import CHINESE, LATIN, blank, render, squash

BIN = Path(sys.executable).parent


def test_contract_of_the_ocr_model(http):
    meta = http.get_model_metadata("ocr")
    assert [(i["name"], i["datatype"], i["shape"]) for i in meta["inputs"]] == [
        ("image", "UINT8", [-1, -1])]
    assert sorted((o["name"], o["datatype"], tuple(o["shape"])) for o in meta["outputs"]) == [
        ("boxes", "FP32", (-1, -1, 4, 2)), ("scores", "FP32", (-1, -1)),
        ("texts", "BYTES", (-1, -1)), ("word_boxes", "FP32", (-1, -1, 4, 2)),
        ("word_lines", "INT32", (-1, -1)), ("words", "BYTES", (-1, -1))]
    for model in ("text_det", "text_cls", "text_rec"):
        config = http.get_model_config(model)
        # text_cls on Triton's default scheduler (its config.pbtxt says why)
        assert config["max_batch_size"] > 0
        assert ("dynamic_batching" in config) == (model != "text_cls")
        assert config["instance_group"][0]["kind"] == "KIND_CPU"  # Triton's choice: no GPU here


@pytest.mark.parametrize("lines", [LATIN, CHINESE], ids=["latin", "chinese"])
def test_reads_rendered_lines(http, grpc, protocol, lines):
    client = http if protocol == "http" else grpc
    served = ocr(client, protocol, render(lines))
    assert [squash(t) for t in served.texts] == [squash(t) for t in lines]
    assert served.boxes.shape == (len(lines), 4, 2) and served.scores.shape == (len(lines),)
    tops = served.boxes[:, 0, 1]
    assert np.all(np.diff(tops) > 0), "lines come top to bottom"


def test_upside_down_line_and_jpeg(http):
    served = ocr(http, "http", render(LATIN + CHINESE[:1], size=(640, 480), upside_down=(2,),
                                      fmt="JPEG"))
    assert [squash(t) for t in served.texts] == [squash(t) for t in LATIN + CHINESE[:1]]


def test_no_text_returns_three_empty_outputs(http, grpc, protocol):
    client = http if protocol == "http" else grpc
    result = client.infer("ocr", [image_input(protocol, blank())])
    assert result.as_numpy("texts").shape == (1, 0)
    assert result.as_numpy("scores").shape == (1, 0)
    assert result.as_numpy("boxes").shape == (1, 0, 4, 2)


@pytest.mark.parametrize("photo,expected", [
    ("chinese.jpg", ["愚园路", "YuyuanRd"]),
    ("english.png", ["Reduceyourriskofcoronavirusinfection:", "Organization"]),
    ("french.jpg", ["MuséeduLOUVRE", "duPALAIS-ROYAL"]),
])
def test_reads_real_photographs(http, grpc, protocol, photos, photo, expected):
    client = http if protocol == "http" else grpc
    served = ocr(client, protocol, (photos / photo).read_bytes())
    found = {squash(t) for t in served.texts}
    for text in expected:
        assert any(text in f for f in found), f"{text!r} not in {sorted(found)}"
    height, width = cv2.imread(str(photos / photo)).shape[:2]
    assert served.boxes[..., 0].max() < width and served.boxes[..., 1].max() < height


@pytest.fixture(scope="module")
def in_process(repository):
    return OcrPipeline(repository)


def parity_images(photos):
    return [render(LATIN), render(CHINESE), render(LATIN, upside_down=(0,)),
            *(p.read_bytes() for p in sorted(photos.iterdir()) if p.suffix in (".jpg", ".png"))]


def test_served_equals_in_process(http, in_process, photos):
    for data in parity_images(photos):
        served, local = ocr(http, "http", data), in_process(data)
        assert served.texts == local.texts
        assert np.abs(served.boxes - local.boxes).max(initial=0) <= 1.0
        assert np.allclose(served.scores, local.scores, atol=2e-3)


def test_served_words_equal_in_process(http, in_process, photos):
    with_words = copy.copy(in_process)  # the same predictors, asked for word boxes
    with_words.config = in_process.config.with_parameters({"return_word_boxes": "true"})
    for data in parity_images(photos):
        served = http.infer("ocr", [image_input("http", data)],
                            parameters={"return_word_boxes": True})
        local = with_words(data)
        assert [w.decode() for w in served.as_numpy("words")[0]] == local.words
        assert served.as_numpy("word_lines")[0].tolist() == local.word_lines.tolist()
        assert np.abs(served.as_numpy("word_boxes")[0] - local.word_boxes).max(initial=0) <= 1.0


def test_every_paddle_instance_logs_what_it_folded(server):
    # The rewrite runs in a child of each stub (paddle_python.folding); the log says it did.
    log = server.log.read_text(errors="replace")
    for instance, said in [("text_det_0_0", "folded 52 affine blocks"),
                           ("text_rec_0_0", "folded 56 affine blocks"),
                           ("text_rec_0_1", "folded 56 affine blocks"),
                           ("text_cls_0_0", "no affine blocks to fold")]:
        assert f"({instance}): {said}" in log, instance


@pytest.fixture(scope="module")
def oracle(repository, tmp_path_factory):
    """rapidocr 3.10 on its Paddle engine: an independent PP-OCR implementation, given the
    served pack's model directories and dictionary, set to the served sizing."""
    import yaml
    from rapidocr import EngineType, OCRVersion, RapidOCR

    det, cls, rec = (served_dir(repository / m) for m in ("text_det", "text_cls", "text_rec"))
    with open(rec / "inference.yml", encoding="utf-8") as handle:
        characters = yaml.safe_load(handle)["PostProcess"]["character_dict"]
    keys = tmp_path_factory.mktemp("oracle") / "keys.txt"
    keys.write_text("\n".join(characters) + "\n", encoding="utf-8")
    paddle, v5 = EngineType.PADDLE, OCRVersion.PPOCRV5
    return RapidOCR(params={
        "Det.engine_type": paddle, "Det.model_dir": str(det), "Det.ocr_version": v5,
        "Cls.engine_type": paddle, "Cls.model_dir": str(cls), "Cls.ocr_version": OCRVersion.PPOCRV4,
        "Rec.engine_type": paddle, "Rec.model_dir": str(rec), "Rec.ocr_version": v5,
        "Rec.rec_keys_path": str(keys), "Det.limit_side_len": 960, "Det.limit_type": "max",
        "Det.box_thresh": 0.6, "Det.unclip_ratio": 1.5, "Det.use_dilation": False,
        "Det.mean": [0.485, 0.456, 0.406], "Det.std": [0.229, 0.224, 0.225],
        "Global.log_level": "warning"})


@pytest.mark.parametrize("lines", [LATIN, CHINESE, LATIN[:1] + CHINESE[1:]],
                         ids=["latin", "chinese", "mixed"])
def test_agrees_with_an_independent_implementation(http, oracle, lines):
    data = render(lines)
    served = ocr(http, "http", data)
    found = oracle(data)
    # The same characters and spaces, line by line; boxes within a few pixels (their DB
    # post-processing rounds and orders corners its own way).
    assert served.texts == list(found.txts)
    assert np.abs(served.boxes - np.asarray(found.boxes, np.float32)).max() <= 4.0


def test_concurrent_requests_are_dynamically_batched(http, grpc):
    images = [render(LATIN), render(CHINESE)]
    models = ("ocr_preprocess", "text_det", "text_rec")
    before = {m: stats(http, m) for m in models}
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: ocr(grpc, "grpc", images[i % 2]), range(32)))
    for i, served in enumerate(results):
        assert [squash(t) for t in served.texts] == [squash(t) for t in (LATIN, CHINESE)[i % 2]]
    for model in models:
        moved = stats(http, model).since(before[model])
        requests, executions = moved.succeeded, moved.executions
        assert executions < requests, f"{model}: {executions} executions for {requests} requests"


@pytest.mark.parametrize("data,message", [
    (b"\x00\x01garbage" * 50, "cannot decode"),
    (b"GIF89a-but-not-really", "cannot decode"),
], ids=["random-bytes", "fake-gif"])
def test_bad_image_gets_invalid_arg(http, grpc, protocol, data, message):
    client = http if protocol == "http" else grpc
    with pytest.raises(InferenceServerException) as caught:
        client.infer("ocr", [image_input(protocol, data)])
    assert message in caught.value.message()
    assert str(caught.value.status()) in ("400", "StatusCode.INVALID_ARGUMENT")


def test_empty_tensor_and_oversized_image_are_refused(http):
    from tests.unit.test_imaging import png_header_only

    for data, message in ((np.zeros((1, 0), np.uint8), "empty"),
                          (png_header_only(30000, 30000), "30000x30000 pixels")):
        with pytest.raises(InferenceServerException, match=message):
            http.infer("ocr", [image_input("http", data)])


def test_two_images_in_one_request_are_refused(http):
    data = np.frombuffer(blank(), np.uint8)
    with pytest.raises(InferenceServerException, match="batch"):
        http.infer("ocr", [image_input("http", np.stack([data, data]))])


def test_bad_requests_do_not_harm_good_ones_batched_with_them(http, grpc):
    good, bad = render(LATIN), b"definitely not an image" * 10
    before = stats(http, "ocr_preprocess")

    def call(i: int):
        try:
            return ocr(grpc, "grpc", bad if i % 3 == 0 else good)
        except InferenceServerException as exc:
            return exc

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(call, range(24)))
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert isinstance(result, InferenceServerException) and "cannot decode" in result.message()
        else:
            assert [squash(t) for t in result.texts] == [squash(t) for t in LATIN]
    after = stats(http, "ocr_preprocess")
    assert after.since(before).executions < 24, "requests should have shared executions"
    assert [squash(t) for t in ocr(http, "http", good).texts] == [squash(t) for t in LATIN]


def test_readme_curl_and_python_examples_work_as_written(server, tmp_path):
    """The README's examples, run as they are, on a photo.jpg of known text."""
    (tmp_path / "photo.jpg").write_bytes(render(LATIN, fmt="JPEG"))
    default_url = "127.0.0.1:8000"
    curl = readme_block("**curl**", "sh").replace(default_url, server.http_url)
    done = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True,
                          cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    outputs = {o["name"]: o for o in json.loads(done.stdout)["outputs"]}
    assert [squash(t) for t in outputs["texts"]["data"]] == [squash(t) for t in LATIN]
    assert outputs["boxes"]["shape"] == [1, 3, 4, 2]
    python = readme_block("**Python, tritonclient**", "python").replace(default_url, server.http_url)
    done = subprocess.run([sys.executable, "-c", python], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # Each line: the text, the score, the box's corners.
    printed = [re.match(r"(.*) [01](\.\d+)? \[\[", line).group(1)
               for line in done.stdout.splitlines()]
    assert [squash(t) for t in printed] == [squash(t) for t in LATIN]


def test_ocr_client_command(server, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "latin.png").write_bytes(render(LATIN))
    (folder / "chinese.jpg").write_bytes(render(CHINESE, fmt="JPEG"))
    for protocol, url in (("http", server.http_url), ("grpc", server.grpc_url)):
        done = subprocess.run([str(BIN / "ocr-client"), str(folder / "latin.png"), "--json",
                               "--protocol", protocol, "--url", url, "--draw", str(tmp_path / "o.png")],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        lines = json.loads(done.stdout)["lines"]
        assert [squash(line["text"]) for line in lines] == [squash(t) for t in LATIN]
        assert len(lines[0]["box"]) == 4
        assert cv2.imread(str(tmp_path / "o.png")).shape[1] > 640
    done = subprocess.run([str(BIN / "ocr-client"), str(folder), "--url", server.http_url,
                           "--draw", str(tmp_path / "drawn")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "== " in done.stdout and "北京大学" in done.stdout
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == ["chinese.ocr.png", "latin.ocr.png"]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    done = subprocess.run([str(BIN / "ocr-client"), str(bad), "--url", server.http_url],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "cannot decode" in done.stderr


def test_ocr_client_over_a_glob_with_concurrency_jsonl_and_csv(server, tmp_path):
    import csv
    import io

    for i in range(6):
        (tmp_path / f"page{i}.png").write_bytes(render(LATIN if i % 2 == 0 else CHINESE))
    command = [str(BIN / "ocr-client"), str(tmp_path / "page*.png"), "--url", server.grpc_url,
               "--protocol", "grpc", "--concurrency", "4", "--progress"]
    done = subprocess.run([*command, "--format", "jsonl"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [Path(r["image"]).name for r in rows] == [f"page{i}.png" for i in range(6)]
    for i, row in enumerate(rows):
        assert [squash(line["text"]) for line in row["lines"]] == [
            squash(t) for t in (LATIN if i % 2 == 0 else CHINESE)]
    assert "6/6 images" in done.stderr
    done = subprocess.run([*command, "--format", "csv"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(table) == 18 and table[0]["line"] == "1" and len(json.loads(table[0]["box"])) == 4
