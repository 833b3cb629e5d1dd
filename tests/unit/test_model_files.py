"""Reading both export formats, and what a PaddleOCR 3.x model says about itself."""

import shutil

import pytest

from paddle_python.classification import ClsOptions
from paddle_python.detection import DbOptions, DetResize
from paddle_python.imaging import ImageLimits
from paddle_python.model_files import (
    described_parameters,
    model_files,
    read_described,
    read_description,
    served_dir,
)
from paddle_python.options import load_model_config
from paddle_python.pipeline import BlsOptions
from paddle_python.recognition import RecOptions


def test_both_formats_are_found_and_a_missing_model_names_the_fix(repository, v4_repository,
                                                                 tmp_path):
    v5 = model_files(served_dir(repository / "text_det"))
    assert v5.program.name == "inference.json" and v5.pir
    assert v5.description["Global"]["model_name"] == "PP-OCRv5_mobile_det"
    v4 = model_files(served_dir(v4_repository / "text_det"))
    assert v4.program.name == "inference.pdmodel" and not v4.pir and v4.description == {}
    with pytest.raises(FileNotFoundError, match="make models"):
        model_files(tmp_path)


def test_the_v5_descriptions_give_the_detection_and_recognition_defaults(repository):
    det = described_parameters(read_description(served_dir(repository / "text_det") /
                                                "inference.yml"))
    assert det == {"det_limit_side_len": "960", "det_limit_type": "max",
                   "det_mean": "0.485,0.456,0.406", "det_std": "0.229,0.224,0.225",
                   "det_thresh": "0.3", "det_box_thresh": "0.6", "det_unclip_ratio": "1.5",
                   "det_max_candidates": "1000"}
    rec = described_parameters(read_description(served_dir(repository / "text_rec") /
                                                 "inference.yml"))
    assert rec == {"rec_height": "48"}


def test_a_detector_description_is_the_default_and_config_pbtxt_the_override(repository,
                                                                             tmp_path):
    # A copy of the repository whose detector says other thresholds and another limit.
    repo = tmp_path / "repo"
    for model in ("ocr_preprocess", "ocr_postprocess", "text_det", "text_rec"):
        shutil.copytree(repository / model, repo / model, symlinks=True,
                        ignore=shutil.ignore_patterns("inference.json", "inference.pdiparams"))
    yml = served_dir(repo / "text_det") / "inference.yml"
    yml.write_text(yml.read_text().replace("thresh: 0.3", "thresh: 0.25")
                   .replace("resize_long: 960", "resize_long: 640"))
    post = load_model_config(repo / "ocr_postprocess")
    _, db, _, rec, _ = read_described(post, repo, DbOptions, ClsOptions, RecOptions, BlsOptions)
    assert db.det_thresh == 0.25 and db.det_box_thresh == 0.6 and rec.rec_height == 48
    pre = load_model_config(repo / "ocr_preprocess")
    _, _, resize = read_described(pre, repo, ImageLimits, DetResize)
    assert resize.det_limit_side_len == 960  # ocr_preprocess's config.pbtxt sets it
    del pre["parameters"]["det_limit_side_len"]
    assert read_described(pre, repo, ImageLimits, DetResize)[2].det_limit_side_len == 640
