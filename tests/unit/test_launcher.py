"""The launcher starts the real tritonserver and stops it cleanly (tiny model, no Paddle)."""

import signal
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from paddle_python import server
from tests.support.server import alive, http_get, start_server

ECHO = Path(__file__).parent / "echo_repository"


def test_defaults_bind_to_loopback_and_pass_python_backend_settings(tmp_path):
    args = server.parse_args([])
    dist = server.TritonDistribution.find()
    command = server.server_command(args, dist, tmp_path, "prefix_")
    for flag in ("--http-address=127.0.0.1", "--grpc-address=127.0.0.1",
                 "--metrics-address=127.0.0.1", "--model-control-mode=none"):
        assert flag in command
    assert "--backend-config=python,shm-region-prefix-name=prefix_" in command
    assert dist.binary.is_file() and dist.stub.is_file()


def test_backend_dir_holds_the_stub_for_this_python(tmp_path):
    dist = server.TritonDistribution.find()
    python_dir = server.make_backend_dir(dist, tmp_path) / "python"
    assert (python_dir / "triton_python_backend_stub").resolve() == dist.stub.resolve()
    assert (python_dir / "libtriton_python.so").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_stops_cleanly(tmp_path, signum):
    running = start_server(ECHO, tmp_path / "server.log", timeout=60)
    try:
        assert http_get(f"http://{running.http_url}/v2/health/ready") == 200
        with httpclient.InferenceServerClient(running.http_url) as client:
            x = httpclient.InferInput("x", [1, 3], "FP32")
            x.set_data_from_numpy(np.array([[1, 2, 3]], dtype=np.float32))
            assert client.infer("echo", [x]).as_numpy("y").tolist() == [[2, 4, 6]]
        assert running.descendants, "tritonserver and its stub should be running"
        assert running.shm_regions(), "the stub's shared memory should exist while serving"
    finally:
        code = running.stop(signum)
    assert code == 0, running.log.read_text()[-3000:]
    assert alive(running.descendants) == []
    assert running.shm_regions() == []


def test_missing_repository_is_a_clear_error(tmp_path, capsys):
    assert server.main(["--model-repository", str(tmp_path / "nope")]) == 2
    assert "no model repository" in capsys.readouterr().err
