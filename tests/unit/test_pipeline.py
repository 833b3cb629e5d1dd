"""The stages in order, in-process, with the real weights."""

import pytest

from paddle_python import metrics
from paddle_python.errors import InputError
from paddle_python.pipeline import ONE_PROCESS_MAX_BATCH_WIDTH, OcrPipeline, PipelineConfig
from tests.support.render import CHINESE, LATIN, blank, render, squash


@pytest.fixture(scope="module")
def pipeline(repository):
    return OcrPipeline(repository)


@pytest.mark.parametrize("lines", [LATIN, CHINESE], ids=["latin", "chinese"])
def test_reads_rendered_lines_in_order(pipeline, lines):
    result = pipeline(render(lines))
    assert [squash(t) for t in result.texts] == [squash(t) for t in lines]
    assert result.boxes.shape == (len(lines), 4, 2)
    assert all(result.boxes[i, 0, 1] < result.boxes[i + 1, 0, 1] for i in range(len(lines) - 1))
    assert (result.scores > 0.8).all()


def test_upside_down_line_is_turned_by_the_classifier(pipeline):
    result = pipeline(render(LATIN, upside_down=(1,)))
    assert [squash(t) for t in result.texts] == [squash(t) for t in LATIN]


def test_no_text_gives_no_lines(pipeline):
    result = pipeline(blank())
    assert result.texts == [] and result.boxes.shape == (0, 4, 2) and result.scores.shape == (0,)


def test_bad_bytes_are_input_errors(pipeline):
    with pytest.raises(InputError):
        pipeline(b"not an image")


def test_one_process_config_gives_every_predictor_the_cores_and_no_onednn_cache_limit(repository):
    served = PipelineConfig.from_repository(repository)
    alone = served.for_one_process(3)
    for options in (alone.det_predictor, alone.cls_predictor, alone.rec_predictor):
        assert options.cpu_threads == 3 and options.onednn_cache_capacity == 0
    assert alone.rec_predictor.batch_sizes == served.rec_predictor.batch_sizes
    assert alone.rec_predictor.max_batch_width == ONE_PROCESS_MAX_BATCH_WIDTH
    assert served.rec_predictor.max_batch_width < ONE_PROCESS_MAX_BATCH_WIDTH


def test_a_lent_recorder_sees_every_stage_by_the_served_names(pipeline):
    class Recorder:
        def __init__(self):
            self.stages, self.batches = [], []

        def seconds(self, stage, value):
            self.stages.append(stage)
            assert value >= 0

        def batch(self, rows):
            self.batches.append(rows)

    recorder = Recorder()
    with metrics.recording(recorder):
        pipeline(render(LATIN))
    assert recorder.stages == ["decode", "resize", "detect", "boxes", "classify", "recognize"]
    assert metrics.current() is None  # given back
    pipeline(render(LATIN))  # and nothing recorded without one
    assert len(recorder.stages) == 6


def test_parameters_apply_to_every_stage_that_has_them(repository):
    served = PipelineConfig.from_repository(repository)
    changed = served.with_parameters({"cls_max_windows": "1", "cpu_threads": "3"})
    assert changed.cls.cls_max_windows == 1 and changed.cls.cls_verify == served.cls.cls_verify
    assert {changed.det_predictor.cpu_threads, changed.rec_predictor.cpu_threads} == {3}
    with pytest.raises(ValueError, match="no stage has parameters"):
        served.with_parameters({"colour": "red"})


def test_a_parameter_named_with_its_stage_applies_to_that_stage_alone(repository):
    served = PipelineConfig.from_repository(repository)
    changed = served.with_parameters({"det_predictor.cpu_precision": "bf16",
                                      "cpu_threads": "3"})
    assert changed.det_predictor.cpu_precision == "bf16"
    assert {changed.cls_predictor.cpu_precision, changed.rec_predictor.cpu_precision} == {
        served.rec_predictor.cpu_precision}
    assert {changed.det_predictor.cpu_threads, changed.rec_predictor.cpu_threads} == {3}
    with pytest.raises(ValueError, match="no stage has parameters"):
        served.with_parameters({"det.cpu_precision": "bf16"})
