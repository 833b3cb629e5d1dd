"""The Kubernetes and KServe manifests under docker/kubernetes/, checked without a cluster:
Kubernetes' own strict schemas (kubernetes-validate), KServe's schema from its SDK wheel, the
launcher's argument parser and tritonserver's own list of flags."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from kubernetes_validate import utils as kv

from paddle_python import server
from tests.support.deploy import (
    ADAPTER,
    BASE,
    DOCKER,
    DOCKERFILES,
    KSERVE,
    KUBERNETES,
    base_manifests,
    deployment_container,
    image_command,
    instructions,
    kserve_model,
    launcher_args,
    yaml_docs,
)
from tests.support.kserve_schema import KServeSchema
from tests.support.render import ROOT

# The oldest Kubernetes the manifests are meant for, and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.29.0", kv.latest_version()]
# The container KServe's ClusterServingRuntime `kserve-tritonserver` runs (KServe's
# config/runtimes/kserve-tritonserver.yaml); an InferenceService's args are appended to these.
KSERVE_TRITON_ARGS = ["tritonserver", "--model-store=/mnt/models", "--grpc-port=9000",
                      "--http-port=8080", "--allow-grpc=true", "--allow-http=true"]


def validate_all(docs: list[dict], version: str) -> None:
    for doc in docs:
        kv.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_base_manifests_pass_kubernetes_strict_schemas(version):
    validate_all(list(base_manifests().values()), version)


def test_schema_check_is_live():
    deployment = base_manifests()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["startupprobe"] = {}
    with pytest.raises(kv.ValidationError, match="startupprobe"):
        kv.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomization_lists_every_base_manifest():
    (kustomization,) = yaml_docs(BASE / "kustomization.yaml")
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_gpu_overlay_renders_valid_manifests():
    """`kubectl kustomize` renders the overlay offline; kubectl is not part of `make test`'s
    set-up, so this runs where it is installed (it is on the development machines)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the GPU overlay is not rendered")
    rendered = subprocess.run([kubectl, "kustomize", str(KUBERNETES / "gpu")], capture_output=True,
                              text=True, check=True).stdout
    docs = {doc["kind"]: doc for doc in yaml.safe_load_all(rendered)}
    for version in KUBERNETES_VERSIONS:
        validate_all(list(docs.values()), version)
    (container,) = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ocr-triton:gpu"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["args"] == deployment_container()["args"]


def test_deployment_runs_the_launcher_as_the_images_do():
    pod = base_manifests()["Deployment"]["spec"]["template"]
    container = deployment_container()
    assert "command" not in container, "args only: the image's entrypoint (tini) stays"
    args = server.parse_args(launcher_args(container["args"]))
    assert args == server.parse_args(launcher_args(image_command(DOCKERFILES["cpu"])))
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": args.http_port, "grpc": args.grpc_port, "metrics": args.metrics_port}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= args.ready_timeout
    # Room for the preStop pause, the drain and Triton's own stop before the kubelet kills.
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["spec"]["terminationGracePeriodSeconds"] >= pause + args.exit_timeout + 10
    (admin,) = [env for env in container["env"] if env["name"] == server.ADMIN_KEY_ENV]
    assert admin["valueFrom"]["secretKeyRef"]["optional"] is True


def test_pod_has_shared_memory_resources_and_no_root():
    pod = base_manifests()["Deployment"]["spec"]["template"]["spec"]
    container = deployment_container()
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/dev/shm"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["emptyDir"]["medium"] == "Memory" and volume["emptyDir"]["sizeLimit"] == "2Gi"
    image_uid = instructions(DOCKERFILES["cpu"], "USER")[0].split(":")[0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == image_uid
    resources = container["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "2"
    gib = {key: int(resources[key]["memory"].removesuffix("Gi")) for key in ("requests", "limits")}
    # 4 GB measured summed RSS; the limit also holds /dev/shm (it counts against the pod).
    assert gib["requests"] >= 4 and gib["limits"] >= gib["requests"] + 2


def test_service_and_scraping_use_the_container_ports():
    manifests = base_manifests()
    pod = manifests["Deployment"]["spec"]["template"]
    container_ports = {p["name"]: p["containerPort"] for p in deployment_container()["ports"]}
    service = manifests["Service"]["spec"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["ports"]} == {
        name: (number, name) for name, number in container_ports.items()}
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(container_ports["metrics"])
    (job,) = yaml.safe_load((DOCKER / "prometheus.yml").read_text())["scrape_configs"]
    assert annotations["prometheus.io/path"] == job["metrics_path"]


def adapter_rule() -> dict:
    (rule,) = yaml.safe_load(ADAPTER.read_text())["rules"]["custom"]
    return rule


def test_autoscaler_scales_the_deployment_on_the_adapter_metric():
    manifests = base_manifests()
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    target = hpa["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", manifests["Deployment"]["metadata"]["name"])
    (pods,) = [metric["pods"] for metric in hpa["metrics"] if metric["type"] == "Pods"]
    rule = adapter_rule()
    assert pods["metric"]["name"] == rule["name"]["as"]
    assert re.fullmatch(rule["name"]["matches"], rule["seriesQuery"].split("{")[0])
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]


@pytest.fixture(scope="module")
def kserve_schema() -> KServeSchema:
    requirement = re.search(r"^KSERVE := kserve==(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    wheel = ROOT / ".cache" / "wheels" / f"kserve-{requirement.group(1)}-py3-none-any.whl"
    assert wheel.is_file(), f"{wheel} is missing: `make test` fetches it"
    return KServeSchema(wheel, KUBERNETES_VERSIONS[0])


def test_inference_service_fits_kserve_schema(kserve_schema):
    (isvc,) = yaml_docs(KSERVE)
    assert (isvc["apiVersion"], isvc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    assert kserve_schema.errors(isvc, "V1beta1InferenceService") == []
    model = isvc["spec"]["predictor"]["model"]
    broken = {**isvc, "spec": {"predictor": {"model": {**model, "storageURI": model["storageUri"]}}}}
    assert kserve_schema.errors(broken, "V1beta1InferenceService") == [
        "$.spec.predictor.model.storageURI: not a field of V1beta1ModelSpec"], "the check is live"


def test_inference_service_uses_kserve_triton_runtime_with_the_gpu_image():
    (isvc,) = yaml_docs(KSERVE)
    predictor = isvc["spec"]["predictor"]
    model = kserve_model()
    assert model["runtime"] == "kserve-tritonserver" and model["modelFormat"]["name"] == "triton"
    assert model["image"] == "ocr-triton:gpu" and model["storageUri"]
    # The runtime's args replace the image's CMD, not its ENTRYPOINT, which therefore must not
    # hold the launcher: NGC's entrypoint then runs `tritonserver ...` as in the stock image.
    entrypoint = yaml.safe_load(instructions(DOCKERFILES["gpu"], "ENTRYPOINT")[0])
    assert entrypoint[-1] == "/opt/nvidia/nvidia_entrypoint.sh" and "ocr-server" not in entrypoint
    for probe in ("readinessProbe", "livenessProbe"):
        assert f"--http-port={model[probe]['httpGet']['port']}" in KSERVE_TRITON_ARGS
    (mount,) = model["volumeMounts"]
    (volume,) = predictor["volumes"]
    assert mount["mountPath"] == "/dev/shm" and volume["emptyDir"]["medium"] == "Memory"


def test_tritonserver_accepts_every_flag_the_manifests_give_it():
    flags = KSERVE_TRITON_ARGS[1:] + kserve_model()["args"]
    usage = subprocess.run([str(server.TritonDistribution.find().binary), "--help"],
                           capture_output=True, text=True, timeout=60)
    known = set(re.findall(r"^\s+(--[\w-]+)", usage.stdout + usage.stderr, re.MULTILINE))
    assert len(known) > 50, usage.stdout[-2000:]
    assert {flag.split("=")[0] for flag in flags} <= known
    # What the args set is what the launcher sets for its own tritonserver.
    args = server.parse_args([])
    assert f"--backend-config=python,shm-default-byte-size={args.shm_bytes}" in flags
    assert f"--exit-timeout-secs={args.exit_timeout}" in flags


def test_paths_in_comments_exist():
    """The manifests point at each other by path; keep those paths true."""
    for path in [*KUBERNETES.rglob("*.yaml"), *DOCKER.glob("*.yaml"), *DOCKERFILES.values()]:
        for ref in re.findall(r"\b(?:docker|tests)/[\w./-]+\.(?:yaml|yml|py|cpu|gpu)\b", path.read_text()):
            assert (ROOT / ref).exists(), f"{path.name} mentions {ref}"
        for ref in re.findall(r"\.\./[\w./-]+\.yaml", path.read_text()):
            assert (path.parent / ref).resolve().exists(), f"{path.name} mentions {ref}"
