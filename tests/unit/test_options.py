from dataclasses import dataclass

import pytest

from paddle_python.options import from_parameters, load_model_config, parameters, read_options
from paddle_python.pipeline import PipelineConfig


@dataclass(frozen=True)
class Sample:
    threads: int = 2
    ratio: float = 1.5
    enabled: bool = True
    name: str = "x"
    sizes: tuple[int, ...] = (1, 2)


def config(**values: str) -> dict:
    return {"name": "m", "parameters": {k: {"string_value": v} for k, v in values.items()}}


def test_values_are_converted_to_field_types():
    got = from_parameters(Sample, parameters(config(threads="4", ratio="2.5", enabled="false",
                                                     name="y", sizes="1, 4,16")))
    assert got == Sample(4, 2.5, False, "y", (1, 4, 16))


def test_missing_keys_keep_defaults():
    assert from_parameters(Sample, {}) == Sample()


def test_unknown_key_fails_loudly():
    with pytest.raises(ValueError, match="unknown parameters.*'thread'"):
        read_options(config(thread="4"), Sample)


@pytest.mark.parametrize("key,value", [("threads", "two"), ("enabled", "maybe"), ("sizes", "1,x")])
def test_unreadable_value_names_its_key(key, value):
    with pytest.raises(ValueError, match=f"parameter '{key}'"):
        from_parameters(Sample, {key: value})


def test_every_model_config_parses_and_its_parameters_are_known(repository):
    for model in ("ocr", "ocr_preprocess", "text_det", "ocr_postprocess", "text_cls", "text_rec"):
        assert load_model_config(repository / model)["name"] == model
    config = PipelineConfig.from_repository(repository)
    assert config.resize.det_limit_side_len == 960
    assert config.rec_predictor.batch_sizes == (1, 2, 4, 8)


def test_request_parameters_override_only_known_fields_within_range():
    from paddle_python.classification import ClsOptions
    from paddle_python.detection import DbOptions
    from paddle_python.errors import InputError
    from paddle_python.options import with_request

    db, cls = with_request({"det_box_thresh": 0.8, "use_angle_cls": False}, DbOptions(),
                           ClsOptions())
    assert db.det_box_thresh == 0.8 and db.det_thresh == DbOptions().det_thresh
    assert cls.use_angle_cls is False and cls.cls_thresh == ClsOptions().cls_thresh
    assert with_request({}, DbOptions()) == (DbOptions(),)
    for params, message in (({"det_thresh": 1.5}, "allowed 0 to 1"),
                            ({"det_limit_side_len": 5000}, "allowed 32 to 4096"),
                            ({"min_score": "high"}, "cannot read 'high'"),
                            ({"dpi": 300}, "unknown request parameter 'dpi'")):
        with pytest.raises(InputError, match=message):
            with_request(params, DbOptions())
