"""The front doors in front of a real tritonserver (tiny echo model): limits, TLS, shutdown."""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import gevent.ssl
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from paddle_python.frontdoor import DEFAULT_MAX_HEADER_BYTES, FrontDoor, FrontDoorOptions
from tests.support.certs import Certs, make_certs
from tests.support.server import RunningServer, free_ports, start_server
from tests.support.wire import ECHO_JSON, HEALTH, Wire, infer

ECHO = Path(__file__).parent / "echo_repository"
LIMIT = 1024 * 1024  # small, so over- and under-limit requests stay cheap
ADMIN_KEY = "s3cret"
HTTP_ADMIN = {"admin-key": ADMIN_KEY}
GRPC_ADMIN = {"triton-grpc-protocol-admin-key": ADMIN_KEY}  # Triton's prefix for gRPC
RESTRICTED = ["--", f"--http-restricted-api=model-repository:admin-key={ADMIN_KEY}",
              f"--grpc-restricted-protocol=model-repository:admin-key={ADMIN_KEY}"]
TIMEOUT = 10.0  # client-side seconds: a refused connection must fail, not hang
# A refused TLS client sees an SSL error, a reset, or (TLS 1.3: the server checks the client's
# certificate after the client thinks the handshake is done) a connection closed unanswered.
REFUSED = (OSError, http.client.HTTPException)
PROMPT = 1.0  # seconds a stop with only idle connections may take
TRITON_STOP_SECONDS = 15.0  # well under the launcher's 30 s exit timeout


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def triton(tmp_path_factory) -> Iterator[RunningServer]:
    """One echo server for the module; it must still stop quickly and cleanly at the end."""
    log = tmp_path_factory.mktemp("triton") / "server.log"
    running = start_server(ECHO, log, timeout=120, extra=RESTRICTED)
    yield running
    started = time.monotonic()
    code = running.stop()
    took = time.monotonic() - started
    assert code == 0, log.read_text()[-3000:]
    # An idle connection left open to Triton makes it wait out its whole exit timeout.
    assert took < TRITON_STOP_SECONDS, f"tritonserver took {took:.1f} s to stop"


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def _options(triton: RunningServer, **tls: Path) -> FrontDoorOptions:
    http_port, grpc_port = free_ports(2)
    return FrontDoorOptions("127.0.0.1", http_port, grpc_port, triton.http_port,
                            triton.grpc_port, max_request_bytes=LIMIT, **tls)


@pytest.fixture(scope="module")
def door(triton) -> Iterator[FrontDoor]:
    with FrontDoor(_options(triton)) as running:
        yield running


@pytest.fixture(scope="module")
def tls_door(triton, certs) -> Iterator[FrontDoor]:
    with FrontDoor(_options(triton, tls_cert=certs.server_cert,
                            tls_key=certs.server_key)) as running:
        yield running


@pytest.fixture(scope="module")
def mtls_door(triton, certs) -> Iterator[FrontDoor]:
    with FrontDoor(_options(triton, tls_cert=certs.server_cert, tls_key=certs.server_key,
                            tls_ca=certs.ca)) as running:
        yield running


# --- clients --------------------------------------------------------------------------------

def _http(door: FrontDoor, **kwargs) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(f"127.0.0.1:{door.http_port}",
                                            connection_timeout=TIMEOUT,
                                            network_timeout=TIMEOUT, **kwargs)


def _https(door: FrontDoor, certs: Certs, cert: Path | None = None, key: Path | None = None
           ) -> httpclient.InferenceServerClient:
    def context() -> gevent.ssl.SSLContext:
        made = gevent.ssl.create_default_context(cafile=str(certs.ca))
        if cert is not None:
            made.load_cert_chain(str(cert), str(key))
        return made

    return _http(door, ssl=True, ssl_context_factory=context)


def _grpc(door: FrontDoor, **kwargs) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(f"127.0.0.1:{door.grpc_port}", **kwargs)


def _grpcs(door: FrontDoor, certs: Certs, cert: Path | None = None, key: Path | None = None
           ) -> grpcclient.InferenceServerClient:
    return _grpc(door, ssl=True, root_certificates=str(certs.ca),
                 certificate_chain=None if cert is None else str(cert),
                 private_key=None if key is None else str(key))


def _input(module, values: np.ndarray):
    tensor = module.InferInput("x", list(values.shape), "FP32")
    tensor.set_data_from_numpy(values)
    return tensor


def _echo_http(client: httpclient.InferenceServerClient, values: list[float]) -> list[float]:
    x = _input(httpclient, np.array([values], dtype=np.float32))
    return client.infer("echo", [x]).as_numpy("y")[0].tolist()


def _echo_grpc(client: grpcclient.InferenceServerClient, values: list[float]) -> list[float]:
    x = _input(grpcclient, np.array([values], dtype=np.float32))
    return client.infer("echo", [x], client_timeout=TIMEOUT).as_numpy("y")[0].tolist()


def _http_body_of(size: int) -> tuple[int, str, int]:
    """Elements and request id for an infer body of exactly ``size`` bytes; and its length."""
    outputs = [httpclient.InferRequestedOutput("y", binary_data=True)]

    def length(count: int, request_id: str) -> int:
        x = _input(httpclient, np.zeros((1, count), dtype=np.float32))
        body, _ = httpclient.InferenceServerClient.generate_request_body(
            [x], outputs=outputs, request_id=request_id)
        return len(body)

    request_id = "r" * 8
    count = (size - length(1, request_id)) // 4
    while length(count, request_id) > size:
        count -= 1
    request_id += "r" * (size - length(count, request_id))  # one byte per character
    return count, request_id, length(count, request_id)


def _infer_http_of_size(client: httpclient.InferenceServerClient, size: int):
    count, request_id, actual = _http_body_of(size)
    x = _input(httpclient, np.ones((1, count), dtype=np.float32))
    reply = client.infer("echo", [x], request_id=request_id,
                         outputs=[httpclient.InferRequestedOutput("y", binary_data=True)])
    return reply, actual


# --- options --------------------------------------------------------------------------------

@pytest.mark.parametrize("tls, message", [
    ({"tls_cert": Path("c.pem")}, "tls_cert and tls_key must be given together"),
    ({"tls_key": Path("k.pem")}, "tls_cert and tls_key must be given together"),
    ({"tls_ca": Path("ca.pem")}, "tls_ca (mutual TLS) needs tls_cert"),
])
def test_tls_files_must_come_in_usable_sets(tls, message):
    with pytest.raises(ValueError) as raised:
        FrontDoorOptions("127.0.0.1", 1, 2, 3, 4, **tls)
    assert message in str(raised.value)


def test_ports_and_limit_are_checked():
    with pytest.raises(ValueError, match="upstream_http_port"):
        FrontDoorOptions("127.0.0.1", 1, 2, 0, 4)
    with pytest.raises(ValueError, match="max_request_bytes"):
        FrontDoorOptions("127.0.0.1", 1, 2, 3, 4, max_request_bytes=0)


def test_a_taken_port_fails_start(triton):
    for taken in ("http_port", "grpc_port"):
        options = _options(triton)
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", getattr(options, taken)))
            holder.listen()
            with pytest.raises(OSError):
                FrontDoor(options).start()


# --- plain HTTP and gRPC --------------------------------------------------------------------

def test_http_inference_health_and_metadata(door):
    with _http(door) as client:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("echo")
        assert client.get_model_metadata("echo")["inputs"][0]["name"] == "x"
        assert client.get_server_metadata()["name"] == "triton"
        for i in range(5):
            assert _echo_http(client, [i, 1.5]) == [2 * i, 3.0]


def test_http_keeps_the_connection_alive(door):
    connection = http.client.HTTPConnection("127.0.0.1", door.http_port, timeout=TIMEOUT)
    connection.request("GET", "/v2/health/ready")
    reply = connection.getresponse()
    reply.read()
    assert reply.status == 200
    first = connection.sock
    for _ in range(3):
        connection.request("POST", "/v2/models/echo/infer", body=ECHO_JSON)
        reply = connection.getresponse()
        assert reply.status == 200
        assert json.loads(reply.read())["outputs"][0]["data"] == [2, 4]
    assert connection.sock is first, "each request should reuse the one connection"
    connection.close()


def test_grpc_inference_health_and_metadata(door):
    with _grpc(door) as client:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("echo")
        assert client.get_model_metadata("echo").inputs[0].name == "x"
        assert client.get_server_metadata().name == "triton"
        for i in range(5):
            assert _echo_grpc(client, [i, 1.5]) == [2 * i, 3.0]


def test_grpc_streaming_inference(door):
    results: queue.Queue = queue.Queue()
    with _grpc(door) as client:
        client.start_stream(lambda result, error: results.put((result, error)))
        for i in range(3):
            client.async_stream_infer("echo", [_input(grpcclient, np.array([[i]], np.float32))])
        replies = [results.get(timeout=TIMEOUT) for _ in range(3)]
        client.stop_stream()
    assert [error for _, error in replies] == [None] * 3
    assert sorted(result.as_numpy("y")[0, 0] for result, _ in replies) == [0, 2, 4]


# --- size limits ----------------------------------------------------------------------------

def test_http_body_over_the_limit_is_413_and_the_next_request_works(door):
    with _http(door) as client:
        with pytest.raises(InferenceServerException) as raised:
            _infer_http_of_size(client, LIMIT + 1)
        assert raised.value.status() == "413"
        assert raised.value.message() == (
            f"request body of {LIMIT + 1} bytes exceeds the limit of {LIMIT} bytes")
        assert _echo_http(client, [1, 2]) == [2, 4]


def test_http_body_at_the_limit_passes(door):
    with _http(door) as client:
        reply, size = _infer_http_of_size(client, LIMIT)
        assert size == LIMIT
        y = reply.as_numpy("y")
        assert y.size > LIMIT // 5 and np.all(y == 2)


def test_http_413_is_triton_json(door):
    with Wire(door) as wire:
        wire.send(infer(b"", LIMIT + 1, b"Expect: 100-continue\r\n"))
        reply = wire.response()
        assert reply.status == 413
        assert json.loads(reply.body) == {
            "error": f"request body of {LIMIT + 1} bytes exceeds the limit of {LIMIT} bytes"}
        wire.closed_within(TIMEOUT)
        assert wire.buffer == b""


def test_grpc_message_over_the_limit_is_resource_exhausted(door):
    with _grpc(door) as client:
        with pytest.raises(InferenceServerException) as raised:
            _echo_grpc(client, [1.0] * (LIMIT // 4 + 1))
        assert raised.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
        assert _echo_grpc(client, [1, 2]) == [2, 4]


def test_grpc_message_just_under_the_limit_passes(door):
    count = (LIMIT - 4096) // 4  # room for the rest of the request message
    with _grpc(door) as client:
        y = _echo_grpc(client, [1.0] * count)
    assert len(y) == count and set(y) == {2.0}


# --- what the door answers itself -----------------------------------------------------------

def test_chunked_request_is_411(door):
    with Wire(door) as wire:
        wire.send(b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: door\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        reply = wire.response()
    assert reply.status == 411 and "Content-Length" in json.loads(reply.body)["error"]


def test_oversized_head_is_431(door):
    with Wire(door) as wire:
        wire.send(b"GET /v2/health/ready HTTP/1.1\r\nX-Big: " + b"a" * DEFAULT_MAX_HEADER_BYTES
                  + b"\r\n\r\n")
        reply = wire.response()
    assert reply.status == 431 and "error" in json.loads(reply.body)


def test_malformed_request_is_400(door):
    with Wire(door) as wire:
        wire.send(b"GET /v2/health/ready HTTP/1.1\r\nX-Bad : smuggled\r\n\r\n")
        reply = wire.response()
    assert reply.status == 400


def test_expect_100_continue_reaches_the_client(door):
    with Wire(door) as wire:
        wire.send(infer(b"", len(ECHO_JSON), b"Expect: 100-continue\r\n"))
        interim = wire.sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100"), interim
        wire.send(ECHO_JSON)
        reply = wire.response()
    assert reply.status == 200 and json.loads(reply.body)["outputs"][0]["data"] == [2, 4]


# --- Triton's answers and headers pass through ----------------------------------------------

def test_unknown_model_status_passes_through(door):
    with _http(door) as client:
        with pytest.raises(InferenceServerException) as raised:
            client.get_model_metadata("nope")
        assert raised.value.status() == "404" and "unknown model" in raised.value.message()
    with _grpc(door) as client:
        with pytest.raises(InferenceServerException) as raised:
            client.get_model_metadata("nope")
        assert raised.value.status() == "StatusCode.NOT_FOUND"
        assert "unknown model" in raised.value.message()


def test_headers_and_metadata_reach_triton(door):
    with _http(door) as client:
        with pytest.raises(InferenceServerException) as raised:
            client.get_model_repository_index()
        assert raised.value.status() == "403"
        assert client.get_model_repository_index(headers=HTTP_ADMIN)[0]["name"] == "echo"
    with _grpc(door) as client:
        with pytest.raises(InferenceServerException) as raised:
            client.get_model_repository_index()
        assert "triton-grpc-protocol-admin-key" in raised.value.message()
        index = client.get_model_repository_index(headers=GRPC_ADMIN)
        assert index.models[0].name == "echo"


def test_unreachable_triton_is_502_and_unavailable():
    http_port, grpc_port, nobody_http, nobody_grpc = free_ports(4)  # nothing listens on the last two
    options = FrontDoorOptions("127.0.0.1", http_port, grpc_port, nobody_http, nobody_grpc)
    with FrontDoor(options) as door:
        with _http(door) as client:
            with pytest.raises(InferenceServerException) as raised:
                client.get_server_metadata()
            assert raised.value.status() == "502" and "not reachable" in raised.value.message()
        with _grpc(door) as client:
            with pytest.raises(InferenceServerException) as raised:
                client.get_server_metadata(client_timeout=TIMEOUT)
            assert raised.value.status() == "StatusCode.UNAVAILABLE"


# --- TLS ------------------------------------------------------------------------------------

def test_https_and_grpc_tls(tls_door, certs):
    with _https(tls_door, certs) as client:
        assert client.is_server_ready()
        assert _echo_http(client, [1, 2]) == [2, 4]
        assert _echo_http(client, [3]) == [6]
    with _grpcs(tls_door, certs) as client:
        assert client.is_server_ready()
        assert _echo_grpc(client, [1, 2]) == [2, 4]


def test_plain_clients_are_refused_by_a_tls_port(tls_door):
    with _http(tls_door) as client:
        with pytest.raises(REFUSED):
            client.is_server_ready()
    with _grpc(tls_door) as client:
        with pytest.raises(InferenceServerException) as raised:
            client.is_server_ready(client_timeout=TIMEOUT)
        assert raised.value.status() == "StatusCode.UNAVAILABLE"


def test_mutual_tls_accepts_a_client_the_ca_signed(mtls_door, certs):
    with _https(mtls_door, certs, certs.client_cert, certs.client_key) as client:
        assert _echo_http(client, [1, 2]) == [2, 4]
    with _grpcs(mtls_door, certs, certs.client_cert, certs.client_key) as client:
        assert _echo_grpc(client, [1, 2]) == [2, 4]


@pytest.mark.parametrize("who", ["nobody", "stranger"])
def test_mutual_tls_refuses_other_clients(mtls_door, certs, who):
    cert, key = (None, None) if who == "nobody" else (certs.stranger_cert, certs.stranger_key)
    with _https(mtls_door, certs, cert, key) as client:
        with pytest.raises(REFUSED):
            client.is_server_ready()
    with _grpcs(mtls_door, certs, cert, key) as client:
        with pytest.raises(InferenceServerException) as raised:
            client.is_server_ready(client_timeout=TIMEOUT)
        assert raised.value.status() == "StatusCode.UNAVAILABLE"


# --- shutdown -------------------------------------------------------------------------------

def test_stop_closes_idle_connections_at_once(triton):
    door = FrontDoor(_options(triton))
    door.start()
    try:
        idle = Wire(door)
        idle.send(HEALTH)
        assert idle.response().status == 200
        grpc_client = _grpc(door)
        assert grpc_client.is_server_ready()
        started = time.monotonic()
        door.stop(grace=30)
        assert time.monotonic() - started < PROMPT
    finally:
        door.stop()  # does nothing once stopped
    idle.closed_within(TIMEOUT)
    assert idle.buffer == b""
    idle.sock.close()
    with pytest.raises(InferenceServerException):
        grpc_client.is_server_ready(client_timeout=TIMEOUT)
    grpc_client.close()
    with pytest.raises(ConnectionRefusedError):
        Wire(door)


IN_TRITON_S = 1.5  # how long the echo model holds a request asked to wait (``delay_s``)
SLOW_BODY = json.dumps({"parameters": {"delay_s": IN_TRITON_S}, "inputs": [
    {"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}).encode()


def test_stop_lets_a_request_in_triton_finish_and_refuses_an_upload(triton):
    """Only requests Triton already has hold the drain: an upload still arriving is answered
    503 at once, and the request inside Triton is answered before its connection closes."""
    door = FrontDoor(_options(triton))
    door.start()
    stopping = threading.Thread(target=door.stop, args=(30,))
    with Wire(door) as inside, Wire(door) as uploading:
        try:
            inside.send(infer(SLOW_BODY))
            uploading.send(infer(ECHO_JSON[:10], len(ECHO_JSON)))
            time.sleep(0.3)  # both heads are through the door; one request is inside Triton
        finally:
            started = time.monotonic()
            stopping.start()
        reply = uploading.response()
        assert reply.status == 503 and "shutting down" in json.loads(reply.body)["error"]
        assert time.monotonic() - started < PROMPT, "an upload must not wait for the drain"
        assert stopping.is_alive(), "stop() should wait for the request inside Triton"
        reply = inside.response()
        assert reply.status == 200 and json.loads(reply.body)["outputs"][0]["data"] == [2, 4]
        stopping.join(PROMPT)
        assert not stopping.is_alive(), "stop() should return once the response is sent"
        inside.closed_within(TIMEOUT)
        assert inside.buffer == b""


def test_grpc_refuses_new_calls_after_stop(triton):
    with FrontDoor(_options(triton)) as door:
        with _grpc(door) as client:
            assert _echo_grpc(client, [1]) == [2]
    with _grpc(door) as client:
        with pytest.raises(InferenceServerException) as raised:
            client.is_server_live(client_timeout=TIMEOUT)
        assert raised.value.status() == "StatusCode.UNAVAILABLE"
