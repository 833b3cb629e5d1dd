"""Folding PP-LCNetV3's learnable affine blocks: the real PP-OCRv5 programs, rewritten, read the same."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from paddle_python import predictor as predictor_module
from paddle_python.folding import folded_copy
from paddle_python.model_files import served_dir
from paddle_python.pipeline import OcrPipeline, PipelineConfig
from paddle_python.predictor import Predictor, PredictorOptions


def operators(program_dir: Path) -> Counter:
    """How many of each operator a PIR program (``inference.json``) holds."""
    return Counter(re.findall(r'"#":"1\.(\w+)"', (program_dir / "inference.json").read_text()))


@pytest.mark.parametrize("model,blocks", [("text_det", 52), ("text_rec", 56)])
def test_the_v5_programs_lose_their_affine_blocks(repository, tmp_path, model, blocks):
    source = served_dir(repository / model)
    target, folded = folded_copy(source, tmp_path / "folded")
    assert target == tmp_path / "folded" and folded.total == blocks
    before, after = operators(source), operators(target)
    assert after["multiply"] == before["multiply"] - blocks
    assert after["add"] == before["add"] - blocks
    assert after["scale"] == before["scale"] + folded.into_scale
    assert folded.into_convolution == 28 and folded.into_next_convolution >= 10


def test_a_paddleocr_2x_program_is_loaded_as_it_is(v4_repository, tmp_path):
    source = v4_repository / "text_rec" / "1"
    assert (source / "inference.pdmodel").is_file()
    target, folded = folded_copy(source, tmp_path / "folded")
    assert target == source and folded.total == 0
    assert not (tmp_path / "folded").exists()


def test_a_failed_rewrite_says_what_the_child_said(repository, tmp_path):
    occupied = tmp_path / "a-file"
    occupied.write_text("not a directory")
    with pytest.raises(RuntimeError, match="folding .* failed .*exit"):
        folded_copy(served_dir(repository / "text_rec"), occupied)


def test_a_predictor_whose_rewrite_fails_runs_the_export_as_it_is(repository, monkeypatch):
    def fails(source, target):
        raise RuntimeError("the child was killed")

    monkeypatch.setattr(predictor_module, "folded_copy", fails)
    rec = Predictor(served_dir(repository / "text_rec"), PredictorOptions(cpu_threads=1))
    assert rec.fold_error == "the child was killed"
    assert "runs as it is" in rec.folding
    assert rec(np.zeros((1, 3, 48, 320), np.float32)).shape[2] == 18385


def test_folded_predictors_give_the_exports_outputs(repository):
    rng = np.random.default_rng(0)
    for model, batch in [("text_det", rng.random((1, 3, 256, 320), np.float32)),
                         ("text_rec", rng.uniform(-1, 1, (2, 3, 48, 320)).astype(np.float32))]:
        options = PredictorOptions(cpu_threads=1, cpu_engine="onednn")
        folded = Predictor(served_dir(repository / model), options)
        export = Predictor(served_dir(repository / model),
                           replace(options, fold_affine_blocks=False))
        assert folded.folding.startswith("folded ") and "not folded" in export.folding
        np.testing.assert_allclose(folded(batch), export(batch), atol=1e-4)


def test_folded_pipeline_reads_photos_as_the_export_does(repository, photos):
    config = PipelineConfig.from_repository(repository).for_one_process(threads=2)
    folded = OcrPipeline(repository, config=config)
    export = OcrPipeline(repository, config=config.with_predictors(fold_affine_blocks=False))
    for name in ("english.png", "chinese.jpg", "french.jpg"):
        data = (photos / name).read_bytes()
        ours, theirs = folded(data), export(data)
        assert ours.texts == theirs.texts, name
        assert len(ours.texts) > 3, name
        np.testing.assert_allclose(ours.boxes, theirs.boxes, atol=1.0)
        np.testing.assert_allclose(ours.scores, theirs.scores, atol=1e-3)
