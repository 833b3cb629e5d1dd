"""The container and cluster files under ``docker/``, read the way the tests need them."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import yaml
from dockerfile_parse import DockerfileParser

from tests.support.render import ROOT

DOCKER = ROOT / "docker"
DOCKERFILES = {"cpu": DOCKER / "Dockerfile.cpu", "gpu": DOCKER / "Dockerfile.gpu"}
COMPOSE = DOCKER / "compose.yaml"
COMPOSE_GPU = DOCKER / "compose.gpu.yaml"
KUBERNETES = DOCKER / "kubernetes"
BASE = KUBERNETES / "base"
KSERVE = KUBERNETES / "kserve" / "inferenceservice.yaml"
ADAPTER = KUBERNETES / "prometheus-adapter-values.yaml"
# What an image's entrypoint may put before the launcher; each runs what follows it.
WRAPPERS = ("/usr/bin/tini", "--", "/opt/nvidia/nvidia_entrypoint.sh")
URL = re.compile(r"https?://[^/\s'\"]+(/[^\s'\"]*)")


def instructions(path: Path, name: str) -> list[str]:
    """The values of every ``name`` instruction (continuations joined, comments dropped)."""
    parser = DockerfileParser(fileobj=io.BytesIO(path.read_bytes()))
    return [item["value"] for item in parser.structure if item["instruction"] == name]


def image_command(path: Path) -> list[str]:
    """What a container of the image runs by default: ENTRYPOINT then CMD, both exec form."""
    (entrypoint,) = instructions(path, "ENTRYPOINT")
    (cmd,) = instructions(path, "CMD")
    return json.loads(entrypoint) + json.loads(cmd)


def launcher_args(command: list[str]) -> list[str]:
    """The arguments given to ``ocr-server`` by a container command (wrappers skipped)."""
    rest = list(command)
    while rest and rest[0] in WRAPPERS:
        rest.pop(0)
    assert rest and rest[0] == "ocr-server", f"{command} does not run the launcher"
    return rest[1:]


def yaml_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def base_manifests() -> dict[str, dict]:
    """The base Kubernetes manifests, by kind."""
    docs = [doc for path in sorted(BASE.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in yaml_docs(path)]
    return {doc["kind"]: doc for doc in docs}


def deployment_container() -> dict:
    (container,) = base_manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def kserve_model() -> dict:
    (isvc,) = yaml_docs(KSERVE)
    return isvc["spec"]["predictor"]["model"]


def url_path(text: str) -> str:
    """The path of the one URL in a health-check command."""
    (path,) = URL.findall(text)
    return path


def health_paths() -> dict[str, str]:
    """Every HTTP path a container file asks of the service to decide it is up: where -> path."""
    paths = {f"Dockerfile.{name} HEALTHCHECK": url_path(instructions(path, "HEALTHCHECK")[0])
             for name, path in DOCKERFILES.items()}
    for compose in (COMPOSE, COMPOSE_GPU):
        check = yaml.safe_load(compose.read_text())["services"]["ocr"]["healthcheck"]
        paths[f"{compose.name} healthcheck"] = url_path(" ".join(check["test"]))
    for source, container in (("Deployment", deployment_container()), ("KServe", kserve_model())):
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe in container:
                paths[f"{source} {probe}"] = container[probe]["httpGet"]["path"]
    return paths
