"""The GPU and TensorRT variants of the Paddle models' configs (``--model-config-name``): the
same models, switched to KIND_GPU (and TensorRT) without editing code. No GPU here, so these
check the configs and the Paddle configuration they produce."""

import copy

import pytest

from paddle_python.options import load_model_config, read_options
from paddle_python.predictor import Device, PredictorOptions, config_plan
from paddle_python.recognition import CtcOptions

PADDLE_MODELS = ("text_det", "text_cls", "text_rec")


def options_of(config: dict) -> PredictorOptions:
    extra = (CtcOptions,) if config["name"] == "text_rec" else ()
    return read_options(config, PredictorOptions, *extra)[0]


@pytest.mark.parametrize("model", PADDLE_MODELS)
@pytest.mark.parametrize("variant", ["gpu", "tensorrt"])
def test_variant_differs_only_in_placement_and_tensorrt(repository, model, variant):
    default = load_model_config(repository / model)
    config = load_model_config(repository / model, variant)
    expected = copy.deepcopy(default)
    for group in expected["instance_group"]:
        group["kind"] = "KIND_GPU"
    if variant == "tensorrt":
        expected["parameters"]["use_tensorrt"]["string_value"] = "true"
    assert config == expected


@pytest.mark.parametrize("model", PADDLE_MODELS)
def test_tensorrt_variant_plans_engines_covering_every_warmed_shape(repository, model):
    config = load_model_config(repository / model, "tensorrt")
    plan = dict(config_plan(options_of(config), Device("GPU", 0)))
    assert plan["enable_use_gpu"][1] == 0
    assert plan["enable_tensorrt_engine"][3] == "fp16"
    low, high, _ = (shape["x"] for shape in plan["set_trt_dynamic_shape_info"])
    for sample in config["model_warmup"]:
        (value,) = sample["inputs"].values()
        shape = [int(sample.get("batch_size", 1)), *map(int, value["dims"])]
        assert all(lo <= s <= hi for lo, s, hi in zip(low, shape, high)), (sample["name"], shape)


def parameters_apart(a: dict, b: dict) -> set[str]:
    keys = set(a["parameters"]) | set(b["parameters"])
    return {k for k in keys if a["parameters"].get(k) != b["parameters"].get(k)}


def test_pages_variant_differs_only_in_the_detection_buckets(repository):
    for model, differing in (("ocr_preprocess", {"det_limit_side_len", "det_bucket_sides"}),
                             ("text_det", {"input_heights", "input_widths", "trt_max_shape"})):
        default = load_model_config(repository / model)
        pages = load_model_config(repository / model, "pages")
        assert parameters_apart(default, pages) == differing, model
        rest = {k for k in default if k not in ("parameters", "model_warmup")}
        assert {k: default[k] for k in rest} == {k: pages[k] for k in rest}, model
