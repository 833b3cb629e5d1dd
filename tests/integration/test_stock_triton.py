"""model_repository/ as it stands, served by a bare ``tritonserver``: no launcher, no front
doors, no flag of ours beyond where the repository and the backends are. This is what the
stock NGC image (KServe's Triton runtime, docker/kubernetes/kserve/) runs, given Paddle and
this package in its Python."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from paddle_python.options import load_model_config
from paddle_python.server import TritonDistribution, make_backend_dir, server_env, stub_pids
from tests.support.calls import ocr
from tests.support.deploy import kserve_model
from tests.support.render import LATIN, render, squash
from tests.support.server import alive, children, free_ports, http_get, stub_region


def test_stock_tritonserver_serves_the_repository_as_it_stands(repository, photos, tmp_path):
    dist = TritonDistribution.find()
    http_port, grpc_port, metrics_port = free_ports(3)
    command = [
        str(dist.binary),
        f"--model-repository={repository}",
        # The wheel keeps its stub apart from the backend; NGC's image has it in place.
        f"--backend-directory={make_backend_dir(dist, tmp_path)}",
        f"--http-port={http_port}", f"--grpc-port={grpc_port}", f"--metrics-port={metrics_port}",
        # Loopback only on the test machine (Triton's defaults listen on every interface).
        "--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1",
    ]
    log = tmp_path / "tritonserver.log"
    with open(log, "wb") as out:
        # server_env: this venv's python3 first on PATH, as the image's Python is for its stub.
        process = subprocess.Popen(command, env=server_env(dist), stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    ready = f"http://127.0.0.1:{http_port}/v2/health/ready"
    try:
        deadline = time.monotonic() + 300
        while http_get(ready) != 200:
            assert process.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.5)
        assert re.search(r"server_version\s*\|\s*2\.51\.0", log.read_text()), "Triton 2.51.0 (NGC 24.10)"
        for probe in ("readinessProbe", "livenessProbe"):  # KServe's probes of this server
            assert http_get(f"http://127.0.0.1:{http_port}{kserve_model()[probe]['httpGet']['path']}") == 200
        with httpclient.InferenceServerClient(f"127.0.0.1:{http_port}", network_timeout=120) as client:
            served = ocr(client, "http", render(LATIN))
            assert [squash(t) for t in served.texts] == [squash(t) for t in LATIN]
        with grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}") as client:
            served = ocr(client, "grpc", (photos / "chinese.jpg").read_bytes())
            assert any("愚园路" in squash(t) for t in served.texts), served.texts
        processes = children(process.pid)
        regions = [stub_region(pid) for pid in stub_pids(process.pid)]
        instances = sum(group.get("count", 1)
                        for config in map(load_model_config, repository.iterdir())
                        if config.get("backend") == "python"
                        for group in config["instance_group"])
        assert len(regions) == instances == 8, "one stub per model instance"
        assert all(region.exists() for region in regions)
    finally:
        process.send_signal(signal.SIGTERM)  # what a container stop sends to Triton
        try:
            code = process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert code == 0, log.read_text()[-4000:]
    assert alive(processes) == [], "stubs outlived tritonserver"
    assert [region for region in regions if region.exists()] == [], "shared memory left behind"
