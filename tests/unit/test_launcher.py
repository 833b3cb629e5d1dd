"""The launcher starts the real tritonserver and stops it cleanly (tiny model, no Paddle)."""

import http.client
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from paddle_python import server
from tests.support.server import alive, free_ports, http_get, start_server

ECHO = Path(__file__).parent / "echo_repository"


def test_defaults_bind_to_loopback_and_pass_python_backend_settings(tmp_path):
    args = server.parse_args([])
    dist = server.TritonDistribution.find()
    command = server.server_command(args, dist, tmp_path, "prefix_", (18000, 18001),
                                    server.admin_key(args))
    for flag in ("--http-address=127.0.0.1", "--http-port=18000", "--grpc-address=127.0.0.1",
                 "--grpc-port=18001", "--metrics-address=127.0.0.1", "--model-control-mode=none"):
        assert flag in command
    assert "--backend-config=python,shm-region-prefix-name=prefix_" in command
    assert not any("restricted" in flag for flag in command), "loopback: admin APIs open"
    assert dist.binary.is_file() and dist.stub.is_file()


def test_beyond_loopback_the_admin_apis_need_a_header(tmp_path, monkeypatch):
    dist = server.TritonDistribution.find()
    monkeypatch.delenv(server.ADMIN_KEY_ENV, raising=False)
    args = server.parse_args(["--host", "0.0.0.0"])
    key = server.admin_key(args)
    assert key and len(key) > 20, "no key given: a random one nobody knows"
    command = server.server_command(args, dist, tmp_path, "p_", (1, 2), key)
    apis = "model-repository,shared-memory,trace,logging"
    assert f"--http-restricted-api={apis}:admin-key={key}" in command
    assert f"--grpc-restricted-protocol={apis}:admin-key={key}" in command
    assert "--http-address=127.0.0.1" in command, "Triton itself stays behind the front door"
    monkeypatch.setenv(server.ADMIN_KEY_ENV, "chosen")
    assert server.admin_key(server.parse_args(["--host", "0.0.0.0"])) == "chosen"


def test_backend_dir_holds_the_stub_for_this_python(tmp_path):
    dist = server.TritonDistribution.find()
    python_dir = server.make_backend_dir(dist, tmp_path) / "python"
    assert (python_dir / "triton_python_backend_stub").resolve() == dist.stub.resolve()
    assert (python_dir / "libtriton_python.so").exists()


def assert_echo_serves(http_url: str) -> None:
    with httpclient.InferenceServerClient(http_url) as client:
        x = httpclient.InferInput("x", [1, 3], "FP32")
        x.set_data_from_numpy(np.array([[1, 2, 3]], dtype=np.float32))
        assert client.infer("echo", [x]).as_numpy("y").tolist() == [[2, 4, 6]]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_stops_cleanly(tmp_path, signum):
    running = start_server(ECHO, tmp_path / "server.log", timeout=60)
    try:
        assert http_get(f"http://{running.http_url}/v2/health/ready") == 200
        assert_echo_serves(running.http_url)
        assert running.descendants, "tritonserver and its stub should be running"
        assert running.shm_regions(), "the stub's shared memory should exist while serving"
    finally:
        code = running.stop(signum)
    assert code == 0, running.log.read_text()[-3000:]
    assert alive(running.descendants) == []
    assert running.shm_regions() == []


def ngc_shaped_triton(parent: Path) -> Path:
    """A Triton tree laid out like NGC's ``/opt/tritonserver``, from the wheel's files: the
    binary in ``bin/``, the Python backend with its stub in ``backends/python/``, the shared
    libraries in ``lib/``. Binary and stub are copies, so they find the libraries only through
    ``lib/``, as in the image."""
    wheel = server.TritonDistribution.find()
    root = parent / "tritonserver"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(wheel.binary, root / "bin" / "tritonserver")
    python_dir = root / "backends" / "python"
    python_dir.mkdir(parents=True)
    for source in (*wheel.python_backend.iterdir(), wheel.stub):
        if source.is_file():
            shutil.copy2(source, python_dir / source.name)
    (root / "lib").symlink_to(wheel.libs)
    return root


def test_triton_root_finds_an_ngc_shaped_installation(tmp_path, monkeypatch):
    root = ngc_shaped_triton(tmp_path)
    dist = server.TritonDistribution.find(root)
    assert dist.binary == root / "bin" / "tritonserver"
    assert dist.stub == root / "backends" / "python" / "triton_python_backend_stub"
    assert dist.libs == root / "lib"
    assert str(root / "lib") in server.server_env(dist, {})["LD_LIBRARY_PATH"].split(":")
    python_dir = server.make_backend_dir(dist, tmp_path / "runtime") / "python"
    assert (python_dir / "triton_python_backend_stub").resolve() == dist.stub
    monkeypatch.setenv(server.TRITON_ROOT_ENV, str(root))
    assert server.parse_args([]).triton_root == root
    (root / "backends" / "python" / "triton_python_backend_stub").unlink()
    with pytest.raises(FileNotFoundError, match="triton_python_backend_stub"):
        server.TritonDistribution.find(root)


def test_serves_from_an_ngc_shaped_triton_root(tmp_path):
    """What the GPU image does: ``ocr-server --triton-root /opt/tritonserver``."""
    root = ngc_shaped_triton(tmp_path)
    running = start_server(ECHO, tmp_path / "server.log", timeout=60,
                           extra=["--triton-root", str(root)])
    try:
        assert http_get(f"http://{running.http_url}/v2/health/ready") == 200
        assert_echo_serves(running.http_url)
        executables = {Path(f"/proc/{pid}/exe").resolve() for pid in running.children()}
        assert root / "bin" / "tritonserver" in executables
        assert root / "backends" / "python" / "triton_python_backend_stub" in executables
    finally:
        code = running.stop()
    assert code == 0, running.log.read_text()[-3000:]
    assert alive(running.descendants) == []
    assert running.shm_regions() == []


def test_missing_repository_is_a_clear_error(tmp_path, capsys):
    assert server.main(["--model-repository", str(tmp_path / "nope")]) == 2
    assert "no model repository" in capsys.readouterr().err


def test_safe_set_up_refuses_callers_without_certificate_or_admin_header(tmp_path):
    """The launcher's own flags: mutual TLS on both doors, a request size limit, and the
    administrative APIs behind the admin-key header."""
    import gevent.ssl
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    from tests.support.certs import make_certs

    certs = make_certs(tmp_path)
    running = start_server(ECHO, tmp_path / "server.log", timeout=60, extra=[
        "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key),
        "--tls-ca", str(certs.ca), "--admin-key", "k3y", "--max-request-bytes", str(1 << 20)])

    def https(cert=None, key=None):
        def context():
            made = gevent.ssl.create_default_context(cafile=str(certs.ca))
            if cert is not None:
                made.load_cert_chain(str(cert), str(key))
            return made
        return httpclient.InferenceServerClient(running.http_url, ssl=True, network_timeout=10,
                                                connection_timeout=10, ssl_context_factory=context)

    def grpcs(cert=None, key=None):
        return grpcclient.InferenceServerClient(
            running.grpc_url, ssl=True, root_certificates=str(certs.ca),
            certificate_chain=None if cert is None else str(cert),
            private_key=None if key is None else str(key))

    def echo(client, module, size=3):
        x = module.InferInput("x", [1, size], "FP32")
        x.set_data_from_numpy(np.ones((1, size), dtype=np.float32))
        return client.infer("echo", [x]).as_numpy("y")

    try:
        with https(certs.client_cert, certs.client_key) as client:
            assert echo(client, httpclient).tolist() == [[2, 2, 2]]
            with pytest.raises(InferenceServerException) as refused:
                client.get_model_repository_index()
            assert refused.value.status() == "403"
            with pytest.raises(InferenceServerException) as refused:
                client.load_model("echo")
            assert refused.value.status() == "403"
            assert client.get_model_repository_index(headers={"admin-key": "k3y"})
            with pytest.raises(InferenceServerException) as too_big:
                echo(client, httpclient, size=300_000)  # 1.2 MB body
            assert too_big.value.status() == "413"
        with grpcs(certs.client_cert, certs.client_key) as client:
            assert echo(client, grpcclient).tolist() == [[2, 2, 2]]
            with pytest.raises(InferenceServerException, match="admin-key"):
                client.update_log_settings({"log_file": "/tmp/elsewhere.log"})
            assert client.get_model_repository_index(
                headers={"triton-grpc-protocol-admin-key": "k3y"}).models
            with pytest.raises(InferenceServerException) as too_big:
                echo(client, grpcclient, size=300_000)
            assert str(too_big.value.status()) == "StatusCode.RESOURCE_EXHAUSTED"
        for cert, key in ((None, None), (certs.stranger_cert, certs.stranger_key)):
            with https(cert, key) as client, pytest.raises((OSError, http.client.HTTPException)):
                client.is_server_ready()
            with grpcs(cert, key) as client, pytest.raises(InferenceServerException):
                client.is_server_ready(client_timeout=10)
    finally:
        code = running.stop()
    assert code == 0, running.log.read_text()[-3000:]


def test_server_env_fixes_malloc_and_openmp_unless_told_otherwise():
    dist = server.TritonDistribution.find()
    env = server.server_env(dist, {})
    assert env["MALLOC_MMAP_THRESHOLD_"] == str(4 * 2**20)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    mine = {"MALLOC_MMAP_THRESHOLD_": "65536", "OMP_WAIT_POLICY": "ACTIVE"}
    assert server.server_env(dist, mine).items() >= mine.items()


def test_internal_ports_are_distinct_and_never_a_public_port():
    for _ in range(200):
        public = tuple(free_ports(3))
        http, grpc = server.internal_ports(public)
        assert http != grpc and not {http, grpc} & set(public)


def test_client_limits_are_flags_with_nginx_like_defaults():
    limits = server.limits(server.parse_args([]))
    assert (limits.head_timeout, limits.body_timeout, limits.keepalive_timeout) == (60, 60, 75)
    assert (limits.max_connections, limits.max_url_bytes, limits.max_header_bytes,
            limits.max_headers) == (512, 8000, 8100, 100)
    chosen = server.limits(server.parse_args([
        "--head-timeout", "5", "--body-timeout", "6", "--keepalive-timeout", "7",
        "--max-connections", "8", "--max-url-bytes", "900", "--max-header-bytes", "1000",
        "--max-headers", "20"]))
    assert chosen == type(limits)(5, 6, 7, 8, 900, 1000, 20)


@pytest.mark.parametrize("flags", [["--head-timeout", "0"], ["--max-connections", "-1"],
                                   ["--max-header-bytes", "9000"],
                                   ["--max-url-bytes", "8100"]])
def test_unusable_limits_are_a_clear_error(tmp_path, capsys, flags):
    assert server.main(["--model-repository", str(tmp_path), *flags]) == 2
    assert "ocr-server:" in capsys.readouterr().err


def test_body_rate_and_per_address_cap_are_flags():
    defaults = server.limits(server.parse_args([]))
    assert (defaults.body_rate_grace, defaults.min_body_rate,
            defaults.max_connections_per_client) == (20, 64 * 1024, 64)
    chosen = server.limits(server.parse_args([
        "--body-rate-grace", "2.5", "--min-body-rate", "1000", "--max-connections", "10",
        "--max-connections-per-client", "4"]))
    assert (chosen.body_rate_grace, chosen.min_body_rate, chosen.max_connections,
            chosen.max_connections_per_client) == (2.5, 1000, 10, 4)
    # Left at its default, the per-address cap follows a lower --max-connections down.
    assert server.limits(server.parse_args(["--max-connections", "8"])
                         ).max_connections_per_client == 8


@pytest.mark.parametrize("flags, name", [
    (["--body-rate-grace", "0"], "body_rate_grace"), (["--min-body-rate", "0"], "min_body_rate"),
    (["--max-connections-per-client", "0"], "max_connections_per_client"),
    (["--max-connections-per-client", "513"], "max_connections_per_client"),
    (["--max-connections", "8", "--max-connections-per-client", "9"],
     "max_connections_per_client")])
def test_unusable_body_rate_or_per_address_cap_is_a_clear_error(tmp_path, capsys, flags, name):
    assert server.main(["--model-repository", str(tmp_path), *flags]) == 2
    err = capsys.readouterr().err
    assert "ocr-server:" in err and name in err, err
