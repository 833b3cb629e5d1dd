"""Check KServe resources against KServe's own schema, without a cluster.

The InferenceService CRD is not in kubernetes-validate. KServe's Python SDK wheel (fetched
by ``make test``, never installed) holds models generated from KServe's OpenAPI schema: each
``kserve/models/v1beta1_*.py`` class lists its fields (``openapi_types``), their JSON names
(``attribute_map``) and the ones that must not be missing. They are read from the wheel with
``ast``, nothing of it is imported. Fields of Kubernetes types (``V1Container``, ``V1Probe``,
...) are checked against kubernetes-validate's strict JSON schema of that type.

What this catches: unknown or misspelt fields anywhere, wrong value types, missing required
fields. What it does not: KServe's webhooks (which runtime accepts which model format, value
ranges), since those are code in the controller.
"""

from __future__ import annotations

import ast
import re
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from kubernetes_validate import utils as kv

KSERVE_PREFIXES = ("V1beta1", "V1alpha1", "Knative")
SCALARS = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
           "object": (object,), "ResourceQuantity": (str, int, float), "V1Time": (str,)}


@dataclass(frozen=True)
class Model:
    fields: dict[str, str]  # JSON name -> type, e.g. "storageUri" -> "str"
    required: frozenset[str]  # JSON names


class KServeSchema:
    def __init__(self, wheel: Path, kubernetes_version: str):
        self.wheel = wheel
        self.kubernetes_version = kubernetes_version

    @cached_property
    def models(self) -> dict[str, Model]:
        """Every generated model class in the wheel, by class name."""
        models = {}
        with zipfile.ZipFile(self.wheel) as wheel:
            for name in wheel.namelist():
                if name.startswith("kserve/models/") and name.endswith(".py"):
                    models.update(_read_models(wheel.read(name).decode()))
        return models

    @cached_property
    def _kubernetes(self) -> tuple[dict, referencing.Registry]:
        version = kv.all_versions()[-1] if self.kubernetes_version == "latest" \
            else self.kubernetes_version
        folder = f"kubernetes-json-schema/v{version}-local-strict"
        definitions = kv.schema_contents(f"{folder}/_definitions.json", version)
        registry = referencing.Resource.from_contents(definitions) @ referencing.Registry()
        return definitions, registry

    def errors(self, data: Any, type_name: str, path: str = "$") -> list[str]:
        """Every place where ``data`` does not fit ``type_name`` (empty when it fits)."""
        if data is None:
            return []
        if match := re.fullmatch(r"list\[(.+)\]", type_name):
            if not isinstance(data, list):
                return [f"{path}: expected a list, got {data!r}"]
            return [e for i, item in enumerate(data)
                    for e in self.errors(item, match.group(1), f"{path}[{i}]")]
        if match := re.fullmatch(r"dict\(str, (.+)\)", type_name):
            if not isinstance(data, dict):
                return [f"{path}: expected a mapping, got {data!r}"]
            return [e for key, item in data.items()
                    for e in self.errors(item, match.group(1), f"{path}.{key}")]
        if type_name in SCALARS:
            ok = isinstance(data, SCALARS[type_name]) and not (
                type_name in ("int", "float") and isinstance(data, bool))
            return [] if ok else [f"{path}: expected {type_name}, got {data!r}"]
        if type_name.startswith(KSERVE_PREFIXES):
            return self._model_errors(data, type_name, path)
        return self._kubernetes_errors(data, type_name, path)

    def _model_errors(self, data: Any, type_name: str, path: str) -> list[str]:
        model = self.models[type_name]
        if not isinstance(data, dict):
            return [f"{path}: expected a {type_name} mapping, got {data!r}"]
        found = [f"{path}.{key}: not a field of {type_name}" for key in data
                 if key not in model.fields]
        found += [f"{path}: {type_name} needs {key!r}" for key in model.required
                  if key not in data]
        for key, value in data.items():
            if key in model.fields:
                found += self.errors(value, model.fields[key], f"{path}.{key}")
        return found

    def _kubernetes_errors(self, data: Any, type_name: str, path: str) -> list[str]:
        """A Kubernetes type (``V1Probe``) checked with the strict schema of its definition."""
        definitions, registry = self._kubernetes
        name = re.sub(r"^V1", "", type_name)
        candidates = [f"io.k8s.api.core.v1.{name}", f"io.k8s.apimachinery.pkg.apis.meta.v1.{name}"]
        key = next((c for c in candidates if c in definitions["$defs"]), None)
        if key is None:
            return [f"{path}: no Kubernetes schema for {type_name}"]
        schema = {"$ref": f"{definitions['$id']}#/$defs/{key}"}
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        return [f"{path}{''.join(f'.{p}' for p in error.absolute_path)}: {error.message}"
                for error in validator.iter_errors(data)]


def _read_models(source: str) -> dict[str, Model]:
    """The generated classes of one module: their field types, JSON names, required ones."""
    models = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        values = {target.id: ast.literal_eval(statement.value)
                  for statement in node.body if isinstance(statement, ast.Assign)
                  for target in statement.targets
                  if isinstance(target, ast.Name) and target.id in ("openapi_types", "attribute_map")}
        if "openapi_types" not in values:
            continue
        names = values["attribute_map"]
        class_source = ast.get_source_segment(source, node) or ""
        required = re.findall(r"Invalid value for `(\w+)`, must not be `None`", class_source)
        models[node.name] = Model({names[attr]: kind for attr, kind in values["openapi_types"].items()},
                                  frozenset(names[attr] for attr in required))
    return models
