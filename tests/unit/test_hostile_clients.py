"""Hostile HTTP clients against the front door over raw sockets (real tritonserver, echo model).

The door runs with small limits so every timeout is reached within seconds; each test checks
both that the hostile connection gets its answer (or is closed) within the limit and that a
good request on another connection is served meanwhile.
"""

from __future__ import annotations

import json
import re
import select
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from paddle_python.frontdoor import DEFAULT_MAX_REQUEST_BYTES, FrontDoor, FrontDoorOptions, Limits
from tests.support.server import RunningServer, alive, free_ports, start_server
from tests.support.wire import ECHO_JSON, HEALTH, READ_TIMEOUT, Wire, infer

ECHO = Path(__file__).parent / "echo_repository"
LIMITS = Limits(head_timeout=1.0, body_timeout=1.0, keepalive_timeout=1.5, max_connections=8,
                max_url_bytes=1000, max_header_bytes=1100, max_headers=10)
MAX_BODY = 64 * 1024
SLACK = 1.5  # seconds a timeout may overrun (timers, a loaded 2-core machine)
LINGER = 3.0  # the door lingers up to 2 s after a refusal before it closes
# For the body's minimum rate and the per-address cap: the other timeouts are long enough
# that only the limit under test can answer.
PACED = Limits(head_timeout=5.0, body_timeout=5.0, keepalive_timeout=5.0, max_connections=8,
               max_url_bytes=1000, max_header_bytes=1100, max_headers=10, body_rate_grace=1.0,
               min_body_rate=100, max_connections_per_client=3)
TRICKLE_S = 0.2  # a byte this often: 5 bytes/s, far below PACED.min_body_rate
STEADY_BYTES, STEADY_PIECES, STEADY_S = 2000, 20, 0.1  # 2 s at 1000 bytes/s
OTHER_ADDRESS = "127.0.0.2"  # loopback too (Linux routes all of 127/8 to lo): another client
SLOW_BODY = re.compile(r"request body arrived at (\d+) bytes/s, below the minimum of "
                       rf"{PACED.min_body_rate} bytes/s")
@pytest.fixture(scope="module")
def triton(tmp_path_factory) -> Iterator[RunningServer]:
    running = start_server(ECHO, tmp_path_factory.mktemp("hostile") / "server.log", timeout=120)
    yield running
    assert running.stop() == 0, running.log.read_text()[-3000:]


def door_to(triton: RunningServer, limits: Limits) -> FrontDoor:
    http_port, grpc_port = free_ports(2)
    return FrontDoor(FrontDoorOptions("127.0.0.1", http_port, grpc_port, triton.http_port,
                                      triton.grpc_port, max_request_bytes=MAX_BODY,
                                      limits=limits))


@pytest.fixture(scope="module")
def door(triton) -> Iterator[FrontDoor]:
    with door_to(triton, LIMITS) as running:
        yield running


@pytest.fixture
def paced_door(triton) -> Iterator[FrontDoor]:
    """A door of its own for each test: the per-address counts start from nothing."""
    with door_to(triton, PACED) as running:
        yield running


class WireFrom(Wire):
    """A raw client connection from another local address."""

    def __init__(self, door: FrontDoor, address: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", door.http_port),
                                             timeout=READ_TIMEOUT, source_address=(address, 0))
        self.buffer = b""


def padded(size: int) -> bytes:
    """The echo request as a JSON body of ``size`` bytes: blanks after its opening brace, so
    Triton can only parse it once the last byte has arrived."""
    return b"{" + b" " * (size - len(ECHO_JSON)) + ECHO_JSON[1:]


def served(door: FrontDoor) -> None:
    """A good request on a connection of its own is answered."""
    with Wire(door) as wire:
        wire.send(infer())
        reply = wire.response()
    assert reply.status == 200 and json.loads(reply.body)["outputs"][0]["data"] == [2, 4]


# --- pipelining -----------------------------------------------------------------------------

def test_pipelined_requests_are_all_answered_in_order(door):
    """Triton's own HTTP server loses answers to pipelined requests: the door sends them on
    one at a time. Health checks and inferences mixed, in one packet, ten times."""
    requests = [HEALTH, infer(), HEALTH,
                infer(json.dumps({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32",
                                              "data": [7]}]}).encode()),
                HEALTH]
    for _ in range(10):
        with Wire(door) as wire:
            wire.send(b"".join(requests))
            replies = [wire.response() for _ in requests]
            assert [r.status for r in replies] == [200] * len(requests)
            assert json.loads(replies[1].body)["outputs"][0]["data"] == [2, 4]
            assert json.loads(replies[3].body)["outputs"][0]["data"] == [14]
            wire.send(HEALTH)  # and the connection is still good for more
            assert wire.response().status == 200
            assert wire.buffer == b"", "each request is answered once"


# --- malformed heads and bodies: each gets its 4xx, then the connection closes ---------------

MALFORMED = {
    "bare LF line ends": (b"GET /v2/health/ready HTTP/1.1\nHost: door\n\n", 400),
    "lowercase method": (b"get /v2/health/ready HTTP/1.1\r\nHost: door\r\n\r\n", 400),
    "NUL in a header name": (b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\nX-A\0b: 1\r\n\r\n",
                             400),
    "NUL in a header value": (b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\nX-A: a\0b\r\n\r\n",
                              400),
    "space before the colon": (b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\nX-Bad : 1\r\n\r\n",
                               400),
    "folded header line": (b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\nX-A: 1\r\n 2\r\n\r\n",
                           400),
    "no Host in HTTP/1.1": (b"GET /v2/health/ready HTTP/1.1\r\n\r\n", 400),
    "not HTTP at all": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    "unknown HTTP version": (b"GET /v2/health/ready HTTP/3.7\r\nHost: door\r\n\r\n", 400),
    "Content-Length: N, N": (infer(extra=b"Content-Length: 2, 2\r\n"), 400),
    "two Content-Lengths": (infer(length=2, extra=b"Content-Length: 3\r\n"), 400),
    "Content-Length not a number": (b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: door\r\n"
                                    b"Content-Length: 0x10\r\n\r\n", 400),
    "Content-Length and chunked": (infer(extra=b"Transfer-Encoding: chunked\r\n"), 400),
    "chunked body": (b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: door\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 411),
    "body over the limit": (infer(b"", length=MAX_BODY + 1), 413),
    "unknown expectation": (infer(extra=b"Expect: tea\r\n"), 417),
    "request target over the limit": (
        b"GET /v2/health/ready?" + b"a" * LIMITS.max_url_bytes + b" HTTP/1.1\r\nHost: door\r\n\r\n",
        414),
    "header over the limit": (
        b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\nX-Big: " + b"a" * LIMITS.max_header_bytes
        + b"\r\n\r\n", 431),
    "header name and value together over the limit": (
        b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\n" + b"X" * 600 + b": " + b"a" * 600
        + b"\r\n\r\n", 431),
    "header line of 64 KiB": (
        b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n", 431),
    "too many headers": (
        b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(LIMITS.max_headers + 1)) + b"\r\n", 431),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_heads_get_their_4xx_and_nothing_reaches_triton(door, name):
    raw, status = MALFORMED[name]
    with Wire(door) as wire:
        wire.send(raw)
        reply = wire.response()
        assert reply.status == status, (name, reply)
        assert reply.error()
        assert wire.closed_within(LINGER) < LINGER
    served(door)


def test_a_body_longer_than_its_content_length_is_not_taken_for_a_request(door):
    """The surplus is parsed as the next head and refused (aiohttp drops a good request that
    arrived in the same packet as a refused one: then the 400 is the only answer)."""
    with Wire(door) as wire:
        wire.send(infer() + b"trailing garbage\r\n\r\n")
        statuses = [wire.response().status]
        if statuses[0] == 200:
            statuses.append(wire.response().status)
        assert statuses[-1] == 400
        wire.closed_within(LINGER)
    served(door)


def test_a_body_triton_cannot_read_gets_tritons_answer(door):
    with Wire(door) as wire:
        wire.send(infer(b"{not json"))
        reply = wire.response()
        assert reply.status >= 400 and "failed to parse" in reply.error()
        wire.send(HEALTH)  # Triton's refusal leaves the connection usable
        assert wire.response().status == 200


def test_expect_100_continue_over_the_limit_is_refused_before_the_body(door):
    with Wire(door) as wire:
        wire.send(infer(b"", length=MAX_BODY + 1, extra=b"Expect: 100-continue\r\n"))
        reply = wire.response()
        assert reply.status == 413 and f"limit of {MAX_BODY} bytes" in reply.error()


# --- slow and idle clients ------------------------------------------------------------------

def test_a_head_sent_byte_by_byte_gets_408_while_others_are_served(door):
    with Wire(door) as slow:
        started = time.monotonic()
        for byte in HEALTH[:12]:
            slow.send(bytes([byte]))
            served(door)
            time.sleep(0.1)
            if time.monotonic() - started > LIMITS.head_timeout:
                break
        reply = slow.response()
        took = time.monotonic() - started
        assert reply.status == 408 and "head" in reply.error()
        assert LIMITS.head_timeout - 0.2 < took < LIMITS.head_timeout + SLACK


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(door):
    with Wire(door) as silent:
        took = silent.closed_within(LIMITS.head_timeout + SLACK)
        assert silent.buffer == b"", "nothing was asked: nothing is answered"
    assert took > LIMITS.head_timeout - 0.2


def test_an_idle_keepalive_connection_is_closed_silently_after_its_timeout(door):
    with Wire(door) as idle:
        idle.send(HEALTH)
        assert idle.response().status == 200
        time.sleep(LIMITS.keepalive_timeout - 0.5)
        idle.send(HEALTH)  # still open just before the timeout, which starts again
        assert idle.response().status == 200
        took = idle.closed_within(LIMITS.keepalive_timeout + SLACK)
        assert took > LIMITS.keepalive_timeout - 0.2 and idle.buffer == b""


def test_a_stalled_body_gets_408_within_the_body_timeout(door):
    with Wire(door) as stalled:
        stalled.send(infer()[:-10])
        started = time.monotonic()
        served(door)
        reply = stalled.response()
        took = time.monotonic() - started
        assert reply.status == 408 and "body" in reply.error()
        assert took < LIMITS.body_timeout + SLACK
        stalled.closed_within(LINGER)


def test_a_body_that_keeps_trickling_is_served(door):
    """The body timeout is between reads, not for the whole body."""
    raw = infer()
    with Wire(door) as wire:
        wire.send(raw[:-len(ECHO_JSON)])
        for start in range(0, len(ECHO_JSON), 20):
            time.sleep(LIMITS.body_timeout / 4)
            wire.send(ECHO_JSON[start:start + 20])
        assert wire.response().status == 200


def test_a_body_trickling_below_the_minimum_rate_gets_408_after_the_grace(paced_door):
    """A byte every 0.2 s never pauses as long as the body timeout: the minimum rate ends it
    once the grace period is over, and others are served meanwhile."""
    body = padded(STEADY_BYTES)
    with Wire(paced_door) as trickle:
        trickle.send(infer(body)[:-len(body)])
        started = time.monotonic()
        for byte in body:
            trickle.send(bytes([byte]))
            if select.select([trickle.sock], [], [], TRICKLE_S)[0]:
                break  # answered
        else:
            raise AssertionError("the whole trickled body was taken")
        reply = trickle.response()
        took = time.monotonic() - started
        assert reply.status == 408, reply
        matched = SLOW_BODY.fullmatch(reply.error())
        assert matched and int(matched[1]) < PACED.min_body_rate, reply.error()
        assert PACED.body_rate_grace - 0.2 < took < PACED.body_rate_grace + SLACK
        served(paced_door)
        trickle.closed_within(LINGER)


def test_a_body_at_a_steady_pace_may_take_longer_than_the_grace(paced_door):
    """The grace is not a deadline: a body above the minimum rate takes as long as it needs."""
    body = padded(STEADY_BYTES)
    piece = STEADY_BYTES // STEADY_PIECES
    with Wire(paced_door) as steady:
        steady.send(infer(body)[:-len(body)])
        started = time.monotonic()
        for start in range(0, len(body), piece):
            time.sleep(STEADY_S)
            steady.send(body[start:start + piece])
        assert time.monotonic() - started > PACED.body_rate_grace
        reply = steady.response()
        assert reply.status == 200, reply
        assert json.loads(reply.body)["outputs"][0]["data"] == [2, 4]


def test_a_64_mib_body_at_full_speed_passes_the_default_limits(triton):
    """The largest body the default size limit takes (a big PDF) is not taken for a trickle."""
    http_port, grpc_port = free_ports(2)
    options = FrontDoorOptions("127.0.0.1", http_port, grpc_port, triton.http_port,
                               triton.grpc_port)
    assert options.max_request_bytes == DEFAULT_MAX_REQUEST_BYTES == 64 * 1024 * 1024
    body = padded(DEFAULT_MAX_REQUEST_BYTES)
    with FrontDoor(options) as door, Wire(door) as wire:
        wire.send(infer(body))
        reply = wire.response()
    assert reply.status == 200, reply
    assert json.loads(reply.body)["outputs"][0]["data"] == [2, 4]


def test_connections_over_the_per_address_cap_get_503_and_others_are_served(paced_door):
    cap = PACED.max_connections_per_client
    held = [Wire(paced_door) for _ in range(cap)]
    try:
        for wire in held:  # answered: the door has counted each of them
            wire.send(HEALTH)
            assert wire.response().status == 200
        with Wire(paced_door) as over:
            started = time.monotonic()
            reply = over.response()  # at once, without a request
            assert time.monotonic() - started < SLACK
            assert reply.status == 503, reply
            assert reply.error() == "too many connections from this address; retry later"
        with WireFrom(paced_door, OTHER_ADDRESS) as other:
            other.send(HEALTH)
            assert other.response().status == 200
        for wire in held:  # the held ones are still served
            wire.send(HEALTH)
            assert wire.response().status == 200
        held.pop().sock.close()
        deadline = time.monotonic() + SLACK
        while True:  # served as soon as the door has seen the close
            with Wire(paced_door) as again:
                again.send(HEALTH)
                status = again.response().status
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(TRICKLE_S / 4)
        assert status == 200
    finally:
        for wire in held:
            wire.sock.close()


def test_connections_over_the_cap_get_503_and_the_door_recovers(door):
    held = [Wire(door) for _ in range(LIMITS.max_connections)]
    try:
        time.sleep(0.2)
        with Wire(door) as over:
            reply = over.response()
            assert reply.status == 503 and "too many connections" in reply.error()
    finally:
        for wire in held:
            wire.sock.close()
    time.sleep(0.2)
    served(door)


# --- SIGTERM with hostile clients connected -------------------------------------------------

def test_sigterm_with_hostile_clients_connected_exits_0_at_once(tmp_path):
    """The launcher with default limits: idle, slow-head and stalled-upload connections and an
    idle gRPC client neither hold the drain nor leave anything behind."""
    running = start_server(ECHO, tmp_path / "server.log", timeout=60)
    processes = running.children()
    url = ("127.0.0.1", running.http_port)
    hostile: list[socket.socket] = []
    try:
        for data in (HEALTH, b"", HEALTH[:10], infer()[:-10]):
            sock = socket.create_connection(url, timeout=READ_TIMEOUT)
            sock.sendall(HEALTH * 3 + data)  # pipelined answers first, then the hostile part
            hostile.append(sock)
        client = grpcclient.InferenceServerClient(running.grpc_url)
        x = grpcclient.InferInput("x", [1, 2], "FP32")
        x.set_data_from_numpy(np.array([[1, 2]], dtype=np.float32))
        assert client.infer("echo", [x]).as_numpy("y").tolist() == [[2, 4]]
        time.sleep(0.5)
        started = time.monotonic()
        code = running.stop(signal.SIGTERM, timeout=30)
        took = time.monotonic() - started
    finally:
        for sock in hostile:
            sock.close()
    assert code == 0, running.log.read_text()[-3000:]
    assert took < 10, f"the drain waited for idle or uploading clients: {took:.1f} s"
    assert alive(processes) == []
    assert running.shm_regions() == []
    client.close()


def test_a_request_in_triton_is_answered_during_the_drain_while_hostiles_are_refused(triton):
    """The drain's two sides at once: an upload and a slow head are refused (503) and do not
    hold it; the request Triton has is answered."""
    http_port, grpc_port = free_ports(2)
    options = FrontDoorOptions("127.0.0.1", http_port, grpc_port, triton.http_port,
                               triton.grpc_port, limits=LIMITS)
    door = FrontDoor(options)
    door.start()
    slow = json.dumps({"parameters": {"delay_s": 1.0}, "inputs": [
        {"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [3]}]}).encode()
    with Wire(door) as inside, Wire(door) as uploading, Wire(door) as heading:
        inside.send(infer(slow))
        uploading.send(infer()[:-5])
        heading.send(HEALTH[:5])
        time.sleep(0.3)
        stopping = threading.Thread(target=door.stop, args=(30,))
        started = time.monotonic()
        stopping.start()
        for wire in (uploading, heading):
            reply = wire.response()
            assert reply.status == 503 and "shutting down" in reply.error()
        reply = inside.response()
        assert reply.status == 200 and json.loads(reply.body)["outputs"][0]["data"] == [6]
        stopping.join(LINGER + SLACK)
        assert not stopping.is_alive()
        assert time.monotonic() - started < LINGER + SLACK


def test_grpc_calls_over_the_cap_get_resource_exhausted(door):
    """gRPC's side of the connection cap: calls in progress beyond it are refused at once."""
    from concurrent.futures import ThreadPoolExecutor

    from tritonclient.utils import InferenceServerException

    def call(_: int) -> str:
        with grpcclient.InferenceServerClient(f"127.0.0.1:{door.grpc_port}") as client:
            x = grpcclient.InferInput("x", [1, 1], "FP32")
            x.set_data_from_numpy(np.array([[1]], dtype=np.float32))
            try:
                client.infer("echo", [x], parameters={"delay_s": 0.2}, client_timeout=30)
                return "ok"
            except InferenceServerException as exc:
                return exc.status()

    extra = 3
    with ThreadPoolExecutor(LIMITS.max_connections + extra) as pool:
        outcomes = list(pool.map(call, range(LIMITS.max_connections + extra)))
    assert outcomes.count("StatusCode.RESOURCE_EXHAUSTED") >= 1, outcomes
    assert outcomes.count("ok") >= LIMITS.max_connections - extra, outcomes
