"""The images and compose files under docker/, checked with what runs here (no Docker daemon,
so nothing is built): hadolint, the Compose Specification's schema, the launcher's own
argument parser, the pins the images install, and the build context they copy from."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from paddle_python import server
from paddle_python.weights import VERSIONS, repository_paths
from tests.support.deploy import (
    COMPOSE,
    COMPOSE_GPU,
    DOCKER,
    DOCKERFILES,
    image_command,
    instructions,
    launcher_args,
    url_path,
)
from tests.support.render import ROOT

BIN = Path(sys.executable).parent
# NVIDIA's release notes: NGC container 24.10 is Triton 2.51.0, the release of the
# nvidia-pytriton wheel the tests run (tests/integration/test_stock_triton.py reads it).
NGC_TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:24.10-py3"
# Releases in requirements.lock with no build for Python 3.10 (NGC 24.10's Python): the GPU
# image pins the newest release that has one.
NO_PY310_BUILD = {"pillow", "networkx", "multidict", "zope-interface"}


def pins(path: Path) -> dict[str, str]:
    """name -> version of a requirements file of ``name==version`` lines."""
    found = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            found[canonicalize_name(name)] = version
    return found


def makefile_value(name: str) -> str:
    (value,) = re.findall(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    return value


def test_dockerfiles_pass_hadolint(tmp_path):
    done = subprocess.run([BIN / "hadolint", "--no-color", *DOCKERFILES.values()],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    # The linter is live: an unpinned base image and a `cd` in RUN are reported.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /tmp && ls\n")
    done = subprocess.run([BIN / "hadolint", "--no-color", bad], capture_output=True, text=True)
    assert done.returncode != 0 and "DL3006" in done.stdout and "DL3003" in done.stdout


@pytest.mark.parametrize("flavour", sorted(DOCKERFILES))
def test_image_runs_the_launcher_the_tests_run(flavour):
    """ENTRYPOINT + CMD is ``ocr-server`` (behind tini, and NGC's entrypoint in the GPU image)
    with arguments the launcher accepts; ports, user, health check and weights fit them."""
    path = DOCKERFILES[flavour]
    args = server.parse_args(launcher_args(image_command(path)))
    assert args.host == "0.0.0.0" and args.model_repository == Path("/models")
    exposed = {int(port) for value in instructions(path, "EXPOSE") for port in value.split()}
    assert exposed == {args.http_port, args.grpc_port, args.metrics_port}
    (user,) = instructions(path, "USER")
    assert user.split(":")[0] not in ("root", "0"), "the service runs as a non-root user"
    (check,) = instructions(path, "HEALTHCHECK")
    assert f"127.0.0.1:{args.http_port}" in check and url_path(check) == "/v2/health/ready"
    assert "model_repository /models" in instructions(path, "COPY")
    # The weights are fetched and checked while building: a container downloads nothing.
    assert any(run.startswith("ocr-prepare-models --model-repository /models")
               for run in instructions(path, "RUN"))


def test_cpu_image_installs_the_tested_pins():
    runs = " ".join(instructions(DOCKERFILES["cpu"], "RUN"))
    assert instructions(DOCKERFILES["cpu"], "FROM")[0].startswith(
        f"python:{sys.version_info.major}.{sys.version_info.minor}-"), "the Python of the lock"
    assert "-c requirements.lock" in runs
    assert f"--no-deps {makefile_value('PYTRITON')}" in runs, "the Triton the Makefile installs"


def test_gpu_image_runs_ngc_triton_with_the_tested_paddle():
    path = DOCKERFILES["gpu"]
    assert instructions(path, "FROM") == [NGC_TRITON_IMAGE]
    args = dict(arg.partition("=")[::2] for arg in instructions(path, "ARG"))
    assert args["PADDLE_VERSION"] == pins(ROOT / "requirements.lock")["paddlepaddle"]
    assert args["PADDLE_INDEX_URL"] == "", "no package index is written into the file"
    env = " ".join(instructions(path, "ENV"))
    assert f"{server.TRITON_ROOT_ENV}=/opt/tritonserver" in env, "the image's own tritonserver"
    for name, value in server.PROCESS_ENV.items():  # also for a bare `tritonserver` (KServe)
        assert f"{name}={value}" in env
    assert "-r requirements-gpu.lock" in " ".join(instructions(path, "RUN"))


def pip_installs(path: Path) -> list[list[str]]:
    """The arguments of every ``pip install`` in the Dockerfile's RUN instructions."""
    found = []
    for run in instructions(path, "RUN"):
        for command in run.split("&&"):
            words = shlex.split(command)
            if "pip" in words and words[words.index("pip") + 1:][:1] == ["install"]:
                found.append(words[words.index("pip") + 2:])
    return found


@pytest.mark.parametrize("flavour", sorted(DOCKERFILES))
def test_images_install_only_pinned_packages_and_local_paths(flavour):
    """A bare name would be looked up on the package index: `clients` is someone else's
    project there. Everything is `name==version`, a `./` path, or pinned by a -c/-r file."""
    installs = pip_installs(DOCKERFILES[flavour])
    assert installs
    for args in installs:
        pinned: dict[str, str] = {}
        targets = []
        words = iter(args)
        for word in words:
            if word in ("-c", "-r"):  # a lock file, copied from the root or from docker/
                name = next(words)
                pinned |= pins(ROOT / name if (ROOT / name).is_file() else DOCKER / name)
            elif word == "--extra-index-url":
                next(words)
            elif not word.startswith("-"):
                targets.append(word)
        for target in targets:
            if target.startswith("./"):
                assert (ROOT / target.split("[")[0]).is_dir(), target
            elif "==" not in target:
                assert canonicalize_name(target) in pinned, f"{target} is not pinned"


def dependency_closure(roots: list[str], python_version: str) -> set[str]:
    """Names of every distribution ``roots`` need, from the installed metadata, with markers
    evaluated for ``python_version`` (the image's Python)."""
    environment = {"python_version": python_version, "python_full_version": f"{python_version}.0"}
    seen: set[str] = set()
    todo = [Requirement(root) for root in roots]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue  # a back-port only older Pythons need (exceptiongroup): not installed here
        for spec in requires:
            needed = Requirement(spec)
            extras = requirement.extras | {""}
            if needed.marker is None or any(needed.marker.evaluate({**environment, "extra": e})
                                            for e in extras):
                todo.append(needed)
    return seen


def test_cpu_image_install_is_fully_pinned_by_requirements_lock():
    """Dockerfile.cpu installs the package, the client and setuptools with requirements.lock as
    constraints: everything they pull in must be pinned there, or a build could drift."""
    own = {"paddle-python", "ocr-client"}
    needed = dependency_closure(["paddle-python[paddle]", "ocr-client", "setuptools"], "3.11")
    assert needed - own - set(pins(ROOT / "requirements.lock")) == set()


def test_gpu_lock_follows_requirements_lock_for_python_310():
    """The same closure for Python 3.10 (Paddle's own dependencies in place of the CPU wheel's
    name), pinned exactly, at requirements.lock's versions wherever they exist for 3.10."""
    gpu, cpu = pins(DOCKER / "requirements-gpu.lock"), pins(ROOT / "requirements.lock")
    needed = dependency_closure(["paddle-python", "ocr-client", "setuptools", "paddlepaddle"],
                                "3.10") - {"paddle-python", "ocr-client", "paddlepaddle"}
    assert set(gpu) == needed
    differing = {name for name in set(gpu) & set(cpu) if gpu[name] != cpu[name]}
    assert differing == NO_PY310_BUILD


def dockerignore_keeps(path: str, patterns: list[str]) -> bool:
    """Whether Docker sends ``path`` in the build context: the last pattern matching it or one
    of its parent folders decides; ``!`` patterns put paths back."""
    keep = True
    parents = [str(Path(*Path(path).parts[:n])) for n in range(1, len(Path(path).parts) + 1)]
    for pattern in patterns:
        exception = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        regex = (re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
                 .replace(r"\*", "[^/]*").replace(r"\?", "[^/]"))
        if any(re.fullmatch(regex, candidate) for candidate in parents):
            keep = exception
    return keep


def test_build_context_holds_what_the_images_copy_and_no_weights():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for dockerfile in DOCKERFILES.values():
        for copy in instructions(dockerfile, "COPY"):
            source = copy.split()[0]
            files = [f for f in tracked if f == source or f.startswith(source.rstrip("/") + "/")]
            assert files, f"{dockerfile.name}: COPY {source} copies nothing tracked"
            dropped = [f for f in files if not dockerignore_keeps(f, patterns)]
            assert dropped == [], f"{dockerfile.name}: .dockerignore drops {dropped}"
    weights = [f"model_repository/{path}" for key in VERSIONS for path in repository_paths(*key)]
    assert not any(dockerignore_keeps(f, patterns) for f in weights), "weights are fetched, not copied"
    assert not any(dockerignore_keeps(f, patterns) for f in tracked if f.startswith(("tests/", "perf/")))


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec",
                           *files], capture_output=True, text=True)


def test_compose_files_follow_the_compose_specification(tmp_path):
    done = check_jsonschema(COMPOSE, COMPOSE_GPU)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  ocr:\n    shm_sise: 2gb\n")
    assert check_jsonschema(bad).returncode != 0, "the schema check is live"


def seconds(duration: str) -> float:
    return float(duration.rstrip("s"))


def test_compose_runs_the_launcher_like_the_image():
    compose = yaml.safe_load(COMPOSE.read_text())
    ocr = compose["services"]["ocr"]
    args = server.parse_args(launcher_args(ocr["command"]))
    assert args == server.parse_args(launcher_args(image_command(DOCKERFILES["cpu"])))
    published = {}
    for port in ocr["ports"]:
        host, outside, inside = port.split(":")
        assert host == "127.0.0.1", "published on loopback unless someone decides otherwise"
        published[int(inside)] = int(outside)
    assert set(published) == {args.http_port, args.grpc_port, args.metrics_port}
    assert re.fullmatch(r"\d+gb", ocr["shm_size"]) and int(ocr["shm_size"][:-2]) >= 1
    assert seconds(ocr["stop_grace_period"]) > args.exit_timeout, "room for the drain"
    assert (ROOT / ocr["build"]["dockerfile"]) == DOCKERFILES["cpu"]
    gpu = yaml.safe_load(COMPOSE_GPU.read_text())["services"]["ocr"]
    assert (ROOT / gpu["build"]["dockerfile"]) == DOCKERFILES["gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]


def test_prometheus_and_grafana_are_wired_to_the_service():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    metrics_port = server.parse_args(launcher_args(services["ocr"]["command"])).metrics_port
    scrape = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"ocr:{metrics_port}"]
    for service in ("prometheus", "grafana"):
        for volume in services[service]["volumes"]:
            assert (DOCKER / volume.split(":")[0]).exists(), volume
    source = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090" and "prometheus" in services
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/ocr.yaml").read_text())
    dashboards = provider["providers"][0]["options"]["path"]
    assert any(volume.split(":")[1].startswith(dashboards + "/") for volume in
               services["grafana"]["volumes"]), "the dashboard is mounted where Grafana looks"
