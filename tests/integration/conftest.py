"""One real server for the whole integration session, stopped and checked at the end."""

from __future__ import annotations

import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from tests.support.server import RunningServer, alive, start_server


@pytest.fixture(scope="session")
def server(repository, tmp_path_factory) -> RunningServer:
    log = tmp_path_factory.mktemp("server") / "server.log"
    running = start_server(repository, log)
    yield running
    code = running.stop()
    # Shutting down is part of the contract: a clean exit, no stub, no shared memory left.
    assert code == 0, log.read_text()[-4000:]
    assert alive(running.descendants) == [], "stub processes outlived the server"
    assert running.shm_regions() == [], "shared-memory regions were left behind"


@pytest.fixture(scope="session")
def http(server):
    client = httpclient.InferenceServerClient(server.http_url, concurrency=16,
                                              network_timeout=300, connection_timeout=300)
    yield client
    client.close()  # an open connection would hold the server's shutdown for its whole timeout


@pytest.fixture(scope="session")
def grpc(server):
    client = grpcclient.InferenceServerClient(server.grpc_url)
    yield client
    client.close()


@pytest.fixture(params=["http", "grpc"])
def protocol(request) -> str:
    return request.param
