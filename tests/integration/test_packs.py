"""The other ways to serve the repository, each on a real server of its own: the ppocrv4-mobile
and ppocrv6-small packs (switched to with ``ocr-prepare-models --pack``), and the pages configuration
(``--model-config-name=pages``: detection buckets up to 1920, every one warmed)."""

from __future__ import annotations

import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from paddle_python.model_files import described_parameters, model_files
from tests.support.calls import image_input, ocr
from tests.support.pages import page_cases
from tests.support.render import CHINESE, LATIN, render, squash
from tests.support.scoring import score
from tests.support.server import pack_repository, start_server


@pytest.fixture(scope="module")
def v4_server(v4_repository, tmp_path_factory):
    running = start_server(v4_repository, tmp_path_factory.mktemp("v4") / "server.log")
    yield running
    assert running.stop() == 0, running.log.read_text()[-3000:]


@pytest.mark.parametrize("photo,expected", [
    ("chinese.jpg", ["愚园路", "YuyuanRd"]),
    ("english.png", ["Reduceyourriskofcoronavirusinfection:", "Organization"]),
    ("japanese.jpg", ["NOLITTER"]),
])
def test_the_v4_pack_reads_the_photographs(v4_server, photos, photo, expected):
    with grpcclient.InferenceServerClient(v4_server.grpc_url) as client:
        found = {squash(t) for t in ocr(client, "grpc", (photos / photo).read_bytes()).texts}
    for text in expected:
        assert any(text in f for f in found), f"{text!r} not in {sorted(found)}"


def test_the_v4_pack_serves_its_own_versions(v4_server):
    with grpcclient.InferenceServerClient(v4_server.grpc_url) as client:
        for model, version in (("text_det", "1"), ("text_rec", "1"), ("text_cls", "1")):
            assert client.is_model_ready(model, version)
            assert not client.is_model_ready(model, "2")


@pytest.fixture(scope="module")
def v6_server(repository, tmp_path_factory):
    """A copy of the repository switched to ppocrv6-small: PP-OCRv6 small imported from the
    ONNX files of the rapidocr wheel (ocr-import-onnx, at prepare time)."""
    target = tmp_path_factory.mktemp("v6")
    running = start_server(pack_repository(repository, target / "model_repository",
                                           "ppocrv6-small"), target / "server.log")
    yield running
    assert running.stop() == 0, running.log.read_text()[-3000:]


def test_the_v6_pack_reads_english_and_chinese_lines(v6_server):
    model_dir = v6_server.log.parent / "model_repository"
    # The detector is normalised as rapidocr 3.10 feeds it, not with ImageNet's statistics.
    described = described_parameters(model_files(model_dir / "text_det" / "3").description)
    assert (described["det_mean"], described["det_std"]) == ("0.5,0.5,0.5", "0.5,0.5,0.5")
    with grpcclient.InferenceServerClient(v6_server.grpc_url) as client:
        for model, version in (("text_det", "3"), ("text_rec", "3"), ("text_cls", "1")):
            assert client.is_model_ready(model, version)
            assert not client.is_model_ready(model, "2")
        assert ocr(client, "grpc", render(LATIN)).texts == LATIN  # spaces and all
        assert [squash(t) for t in ocr(client, "grpc", render(CHINESE)).texts] == CHINESE


def test_the_pages_configuration_reads_small_print_at_1920(repository, tmp_path):
    running = start_server(repository, tmp_path / "server.log",
                           extra=["--", "--model-config-name=pages"])
    try:
        (page,) = [c for c in page_cases() if c.name == "en-sans-9pt-300dpi"]
        with grpcclient.InferenceServerClient(running.grpc_url) as client:
            read = ocr(client, "grpc", page.image).texts
            assert score(read, page.truth).word_recall >= 0.98
            # Any limit up to the largest bucket may be asked for; past it is refused.
            smaller = client.infer("ocr", [image_input("grpc", page.image)],
                                   parameters={"det_limit_side_len": 1280})
            assert len(smaller.as_numpy("texts")[0]) > 0
            with pytest.raises(InferenceServerException, match="largest detection bucket, 1920"):
                client.infer("ocr", [image_input("grpc", page.image)],
                             parameters={"det_limit_side_len": 2400})
    finally:
        code = running.stop()
    assert code == 0, running.log.read_text()[-3000:]
