"""PaddleX's own schema of its OCR serving API, the test oracle of ``POST /ocr``.

``make test`` installs the ``paddlex`` wheel with ``--no-deps``: its serving schemas are
pydantic models, but ``import paddlex`` starts the whole toolkit (model hubs, pandas, ...).
The packages above the schema modules are therefore entered as bare namespaces (their
``__init__`` files not run) and only the schema modules and what they import are loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from functools import lru_cache
from pathlib import Path

BARE_PACKAGES = ("paddlex", "paddlex.inference", "paddlex.inference.serving", "paddlex.utils")


@lru_cache(maxsize=None)
def ocr_schema() -> types.SimpleNamespace:
    """``InferRequest``, ``InferResult``, and the success and error response models."""
    spec = importlib.util.find_spec("paddlex")
    assert spec is not None and spec.submodule_search_locations, \
        "paddlex is not installed: `make test` installs it --no-deps"
    root = Path(next(iter(spec.submodule_search_locations)))
    for name in BARE_PACKAGES:
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
            sys.modules[name] = package
    ocr = importlib.import_module("paddlex.inference.serving.schemas.ocr")
    models = importlib.import_module("paddlex.inference.serving.infra.models")
    return types.SimpleNamespace(
        InferRequest=ocr.InferRequest, InferResult=ocr.InferResult,
        endpoint=ocr.INFER_ENDPOINT,
        Success=models.AIStudioResultResponse[ocr.InferResult],
        Failure=models.AIStudioNoResultResponse)
