"""Faults an operator causes: a stub killed under load, clients giving up, SIGTERM under load.

These tests break their server on purpose, so they run against one of their own (the
session server stays untouched). Tests run in file order; the last one stops the server.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from tests.support.calls import image_input
from tests.support.render import LATIN, render, squash
from tests.support.server import RunningServer, alive, http_get, start_server

HEAL_WITHIN_S = 60  # the bound for a killed stub
ANSWER_WITHIN_S = 30  # no in-flight request may hang longer than this


@pytest.fixture(scope="module")
def own_server(repository, tmp_path_factory) -> RunningServer:
    running = start_server(repository, tmp_path_factory.mktemp("faults") / "server.log")
    yield running
    if running.process.poll() is None:
        running.stop()


def ready(running: RunningServer) -> int:
    return http_get(f"http://{running.http_url}/v2/health/ready")


def timed_call(url: str, data: bytes, timeout: float = ANSWER_WITHIN_S):
    """(seconds, result or the exception) of one gRPC ``ocr`` call with its own client."""
    start = time.monotonic()
    client = grpcclient.InferenceServerClient(url)
    try:
        result: object = ocr_with_timeout(client, data, timeout)
    except InferenceServerException as exc:
        result = exc
    finally:
        client.close()
    return time.monotonic() - start, result


def ocr_with_timeout(client, data: bytes, timeout: float):
    reply = client.infer("ocr", [image_input("grpc", data)], client_timeout=timeout)
    return [t.decode() for t in reply.as_numpy("texts")[0]]


def test_killed_stub_fails_in_flight_requests_then_the_service_heals(own_server):
    image = render(LATIN)
    assert [squash(t) for t in timed_call(own_server.grpc_url, image)[1]] == [squash(t) for t in LATIN]
    stubs = own_server.stubs()
    (victim,) = [pid for pid, model in stubs.items() if model == "text_rec"][:1]
    with ThreadPoolExecutor(8) as pool:
        calls = [pool.submit(timed_call, own_server.grpc_url, image) for _ in range(32)]
        time.sleep(1.0)  # requests are queued and running
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        states = []  # readiness every 0.2 s until it has been broken and is ready again
        while time.monotonic() - killed_at < HEAL_WITHIN_S:
            states.append(ready(own_server))
            if states[-1] == 200 and any(s != 200 for s in states):
                break
            time.sleep(0.2)
        done, pending = wait(calls, timeout=ANSWER_WITHIN_S)
    assert not pending, "in-flight requests hung"
    outcomes = [call.result() for call in calls]
    assert all(seconds < ANSWER_WITHIN_S for seconds, _ in outcomes)
    failed = [r for _, r in outcomes if isinstance(r, InferenceServerException)]
    assert failed, "the requests in flight when the stub died should have failed"
    assert any(s != 200 for s in states), "readiness must report the broken server"
    assert states[-1] == 200, f"not ready again within {HEAL_WITHIN_S} s: {states[-10:]}"
    # Healed: a good request is answered correctly (gRPC may take a moment longer than HTTP
    # to reconnect behind the front door).
    while True:
        _, result = timed_call(own_server.grpc_url, image)
        if isinstance(result, list) or time.monotonic() - killed_at > HEAL_WITHIN_S:
            break
        time.sleep(0.5)
    assert [squash(t) for t in result] == [squash(t) for t in LATIN], result
    # The dead server's processes and shared memory are gone: one region per live stub.
    assert victim not in alive([victim])
    stubs_now = own_server.stubs()
    assert len(stubs_now) == len(stubs)
    assert len(own_server.shm_regions()) == len(stubs_now)


def test_client_timeouts_leave_no_work_queued(own_server):
    """Requests whose callers gave up are dropped from the queues, not run for ever."""
    client = grpcclient.InferenceServerClient(own_server.grpc_url)
    image = render(LATIN)
    # Queue timeouts: each request asks to wait at most 200 ms in any model's queue.
    results = []

    def call(_):
        try:
            client.infer("ocr", [image_input("grpc", image)], timeout=200_000,
                         client_timeout=ANSWER_WITHIN_S)
            return "ok"
        except InferenceServerException as exc:
            return exc

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(call, range(64)))
    timed_out = [r for r in results if isinstance(r, InferenceServerException)]
    assert timed_out, "a burst of 64 with 200 ms queue timeouts should time some out"
    assert all("timeout" in r.message().lower() or r.status() == "StatusCode.UNAVAILABLE"
               for r in timed_out), [r.message() for r in timed_out[:3]]
    assert pending_requests(own_server) == 0
    assert [squash(t) for t in ocr_with_timeout(client, image, 60)] == [squash(t) for t in LATIN]
    client.close()


def pending_requests(running: RunningServer) -> float:
    """Requests queued in any model, from Triton's Prometheus metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_port}/metrics") as reply:
        text = reply.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("nv_inference_pending_request_count"))


PIPELINED_HEALTH = b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\n\r\n" * 4
EXIT_WITHIN_S = 30  # the launcher's --exit-timeout: idle or uploading clients must not use it up


def hostile_connections(running: RunningServer) -> list[socket.socket]:
    """HTTP clients that hold connections open without a request in flight: one that
    pipelined health checks (issue 16: Triton lost some answers and the drain then waited the
    whole exit timeout), one idle keep-alive, one stalled in its head, one stalled in its body."""
    body = b"{}" * 50
    stalled_upload = (b"POST /v2/models/ocr/infer HTTP/1.1\r\nHost: door\r\n"
                      b"Content-Length: %d\r\n\r\n%b" % (len(body), body[:10]))
    opened = []
    one_request = PIPELINED_HEALTH[:len(PIPELINED_HEALTH) // 4]
    for data in (PIPELINED_HEALTH, one_request, b"GET /v2/he", stalled_upload):
        sock = socket.create_connection(("127.0.0.1", running.http_port), timeout=10)
        sock.sendall(data)
        opened.append(sock)
    answers = b""
    while answers.count(b"HTTP/1.1 200") < 4:
        answers += opened[0].recv(65536)
    assert answers.count(b"HTTP/1.1 200") == 4, "every pipelined request is answered once"
    return opened


def test_sigterm_after_mixed_traffic_with_hostile_clients_exits_0_in_time(own_server, photos):
    """The issue's case and more: pipelined HTTP, then gRPC ``ocr`` requests (three done,
    eight in flight at the signal), with idle and stalled HTTP clients connected. The eight
    finish, the rest do not hold the drain, and the launcher exits 0 within its exit timeout
    leaving no process or shared memory."""
    image = (photos / "english.png").read_bytes()
    processes = own_server.children()
    hostile = hostile_connections(own_server)
    try:
        for _ in range(3):
            _, texts = timed_call(own_server.grpc_url, image)
            assert isinstance(texts, list) and len(texts) > 3, texts
        with ThreadPoolExecutor(8) as pool:
            calls = [pool.submit(timed_call, own_server.grpc_url, image, 120) for _ in range(8)]
            time.sleep(1.5)  # all eight are in flight: queued or running
            started = time.monotonic()
            own_server.process.send_signal(signal.SIGTERM)
            code = own_server.process.wait(120)
            took = time.monotonic() - started
            outcomes = [call.result() for call in calls]
    finally:
        for sock in hostile:
            sock.close()
    log = own_server.log.read_text(errors="replace")[-3000:]
    assert code == 0, log
    assert took < EXIT_WITHIN_S, f"exit took {took:.1f} s:\n{log}"
    failed = [r for _, r in outcomes if isinstance(r, Exception)]
    assert not failed, f"in-flight requests were lost: {failed[:2]}"
    assert all(len(r) > 3 for _, r in outcomes)
    assert alive(processes) == []
    assert own_server.shm_regions() == []
