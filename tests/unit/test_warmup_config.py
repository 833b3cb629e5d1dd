"""``model_warmup`` must cover every shape the predictors will see, largest first.

The shapes follow from other models' parameters (detection buckets in ``ocr_preprocess``,
recognition widths in ``ocr_postprocess``, batch sizes in each Paddle model), so this test
keeps the configs consistent with each other.
"""

import itertools

import numpy as np
import pytest

from paddle_python import detection
from paddle_python.detection import DetResize
from paddle_python.imaging import ImageLimits
from paddle_python.model_files import PaddleModels
from paddle_python.options import load_model_config, read_options
from paddle_python.pipeline import PipelineConfig
from paddle_python.predictor import PredictorOptions


def warmup_shapes(repository, model: str, variant: str | None = None) -> list[tuple[int, ...]]:
    config = load_model_config(repository / model, variant)
    shapes = []
    for sample in config.get("model_warmup", []):
        (value,) = sample["inputs"].values()
        assert value.get("zero_data"), sample["name"]
        shapes.append((int(sample.get("batch_size", 1)), *map(int, value["dims"])))
    return shapes


def assert_largest_first(shapes):
    sizes = [int(np.prod(shape)) for shape in shapes]
    assert sizes == sorted(sizes, reverse=True), "warm-up must go from the largest shape down"


@pytest.mark.parametrize("variant", [None, "pages"])
def test_detection_warmup_covers_every_bucket(repository, variant):
    (resize,) = read_options(load_model_config(repository / "ocr_preprocess", variant),
                             DetResize, PaddleModels, ImageLimits)[:1]
    (det,) = read_options(load_model_config(repository / "text_det", variant), PredictorOptions)
    sides = resize.det_bucket_sides
    assert det.input_heights == det.input_widths == sides
    expected = {(b, 3, h, w) for b in det.batch_sizes for h, w in itertools.product(sides, sides)}
    shapes = warmup_shapes(repository, "text_det", variant)
    assert set(shapes) == expected and len(shapes) == len(expected)
    assert_largest_first(shapes)
    detection.check_resize(resize)  # the default limit is within the buckets
    assert max(sides) == (1920 if variant else 960)


def test_recognition_warmup_covers_every_width_and_batch_size(repository):
    config = PipelineConfig.from_repository(repository)
    expected = {(b, 3, 48, w) for w in config.rec.rec_width_buckets
                for b in config.rec_predictor.batch_sizes_for(w)}
    shapes = warmup_shapes(repository, "text_rec")
    assert set(shapes) == expected and len(shapes) == len(expected)
    assert_largest_first(shapes)


def test_classifier_warmup_covers_every_batch_size(repository):
    config = PipelineConfig.from_repository(repository)
    shapes = warmup_shapes(repository, "text_cls")
    assert set(shapes) == {(b, 3, 48, 192) for b in config.cls_predictor.batch_sizes}
    assert_largest_first(shapes)


def test_bls_chunks_fit_the_callees(repository):
    post = load_model_config(repository / "ocr_postprocess")["parameters"]
    for key, model in (("bls_max_batch", "text_rec"), ("cls_bls_max_batch", "text_cls")):
        chunk = int(post[key]["string_value"])
        assert 0 < chunk <= load_model_config(repository / model)["max_batch_size"]


def test_preprocess_warms_up_with_a_real_image_of_the_declared_size(repository):
    from paddle_python.imaging import decode_image

    (sample,) = load_model_config(repository / "ocr_preprocess")["model_warmup"]
    (value,) = sample["inputs"].values()
    data = (repository / "ocr_preprocess" / "warmup" / value["input_data_file"]).read_bytes()
    assert [int(d) for d in value["dims"]] == [len(data)]
    assert decode_image(data).shape[2] == 3


def test_paddle_models_accept_exactly_the_shapes_the_pipeline_produces(repository):
    config = PipelineConfig.from_repository(repository)
    assert config.det_predictor.input_heights == config.resize.det_bucket_sides
    assert config.det_predictor.input_widths == config.resize.det_bucket_sides
    assert config.rec_predictor.input_widths == config.rec.rec_width_buckets


def test_every_model_has_a_bounded_queue(repository):
    for config_file in sorted(repository.glob("*/config.pbtxt")):
        config = load_model_config(config_file.parent)
        if config.get("platform") == "ensemble":
            continue
        if config["name"] == "text_cls":
            # Triton's default scheduler (no queue policy): its one caller, the
            # post-processing, has at most bls_max_in_flight requests out per instance.
            assert "dynamic_batching" not in config
            post = load_model_config(repository / "ocr_postprocess")
            assert int(post["parameters"]["bls_max_in_flight"]["string_value"]) > 0
            continue
        policy = config["dynamic_batching"]["default_queue_policy"]
        assert int(policy["max_queue_size"]) > 0, config["name"]
        assert policy.get("timeout_action", "REJECT") == "REJECT"
        assert int(policy["default_timeout_microseconds"]) > 0
