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
