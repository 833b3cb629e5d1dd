"""Typed options read from a model's ``config.pbtxt`` ``parameters``: the one place they are parsed.

Each stage declares its settings as a frozen dataclass whose defaults are the documented
defaults. ``read_options`` fills them from a model config (the JSON dict Triton hands to
``initialize``, or ``load_model_config`` for in-process use) and refuses unknown keys, so a
typo in ``config.pbtxt`` fails the model load instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parameters(model_config: Mapping[str, Any]) -> dict[str, str]:
    """The ``parameters`` of a model config as plain ``{key: string_value}``."""
    raw = model_config.get("parameters") or {}
    return {key: str(value.get("string_value", "")) for key, value in raw.items()}


def _convert(key: str, text: str, kind: Any) -> Any:
    text = text.strip()
    try:
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError("expected true or false")
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
        if typing.get_origin(kind) is tuple:
            (item,) = {arg for arg in typing.get_args(kind) if arg is not Ellipsis}
            return tuple(_convert(key, part, item) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"parameter {key!r}: cannot read {text!r} as {kind}: {exc}") from None
    raise TypeError(f"parameter {key!r}: unsupported option type {kind}")


def from_parameters(cls: type[T], params: Mapping[str, str]) -> T:
    """Build ``cls`` from the keys of ``params`` that name its fields; others keep defaults."""
    return with_parameters(cls(), params)


def with_parameters(options: T, params: Mapping[str, str]) -> T:
    """``options`` with the fields that ``params`` names read from their text."""
    hints = typing.get_type_hints(type(options))
    values = {
        field.name: _convert(field.name, params[field.name], hints[field.name])
        for field in dataclasses.fields(options)  # type: ignore[arg-type]
        if field.name in params
    }
    return dataclasses.replace(options, **values) if values else options  # type: ignore[type-var]


def read_options(model_config: Mapping[str, Any], *classes: type,
                 defaults: Mapping[str, str] | None = None) -> tuple:
    """One instance of each class from the config's parameters; unknown keys are an error.

    ``defaults`` (parameter -> text) stand in for parameters the config does not set: what
    a model's own ``inference.yml`` says (``model_files.read_described``)."""
    params = parameters(model_config)
    known = {field.name for cls in classes for field in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        name = model_config.get("name", "model")
        raise ValueError(f"{name}: unknown parameters {unknown}; known: {sorted(known)}")
    merged = {**(defaults or {}), **params}
    return tuple(from_parameters(cls, merged) for cls in classes)


def load_model_config(model_dir: str | Path, config_name: str | None = None) -> dict[str, Any]:
    """Parse ``model_dir/config.pbtxt`` (or, like ``--model-config-name``,
    ``model_dir/configs/<config_name>.pbtxt``) into the dict shape Triton gives ``initialize``."""
    from google.protobuf import json_format, text_format
    from tritonclient.grpc import model_config_pb2

    path = Path(model_dir) / ("config.pbtxt" if config_name is None
                              else f"configs/{config_name}.pbtxt")
    text = path.read_text()
    message = text_format.Parse(text, model_config_pb2.ModelConfig())
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


@dataclasses.dataclass(frozen=True)
class RequestOption:
    """A setting a caller may change for one request (a Triton request parameter)."""

    kind: type
    low: float | None = None
    high: float | None = None


# What a request may override, and the allowed range. The ``ocr`` ensemble hands a request's
# parameters to every step, so each model accepts all of these and uses those it has.
REQUEST_OPTIONS: dict[str, RequestOption] = {
    # At most the largest detection bucket: ocr_preprocess refuses more (detection.check_resize).
    "det_limit_side_len": RequestOption(int, 32, 4096),
    "det_thresh": RequestOption(float, 0.0, 1.0),
    "det_box_thresh": RequestOption(float, 0.0, 1.0),
    "det_unclip_ratio": RequestOption(float, 0.5, 4.0),
    "use_angle_cls": RequestOption(bool),
    "min_score": RequestOption(float, 0.0, 1.0),
    "return_word_boxes": RequestOption(bool),
}


def with_request(params: Mapping[str, Any], *options: Any) -> tuple:
    """Each of ``options`` with the request's parameters applied to the fields it has.

    The parameters are checked once: unknown names, wrong types and out-of-range values are
    the caller's error.
    """
    from .errors import InputError

    values = {}
    for name, raw in params.items():
        option = REQUEST_OPTIONS.get(name)
        if option is None:
            raise InputError(f"unknown request parameter {name!r}; known: "
                             f"{', '.join(sorted(REQUEST_OPTIONS))}", "bad_parameter")
        values[name] = request_value(name, raw, option)
    return tuple(_with_values(each, values) for each in options)


def request_value(name: str, raw: Any, option: RequestOption) -> Any:
    """One request parameter read as ``option`` says; a wrong type or range is the caller's
    error (INVALID_ARG naming it)."""
    from .errors import InputError

    try:
        value = _convert(name, str(raw), option.kind)
    except ValueError as exc:
        raise InputError(str(exc), "bad_parameter") from None
    if option.low is not None and not option.low <= value <= option.high:
        raise InputError(f"request parameter {name!r} is {value}; allowed "
                         f"{option.low:g} to {option.high:g}", "bad_parameter")
    return value


def _with_values(options: T, values: Mapping[str, Any]) -> T:
    changes = {f.name: values[f.name] for f in dataclasses.fields(options)  # type: ignore[arg-type]
               if f.name in values}
    return dataclasses.replace(options, **changes) if changes else options  # type: ignore[type-var]
