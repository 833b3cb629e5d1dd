"""A raw HTTP/1.1 client connection to the front door, for what tritonclient cannot send:
pipelined requests, malformed heads, slow or stalled uploads."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

from paddle_python.frontdoor import FrontDoor

READ_TIMEOUT = 10.0  # no test may wait longer than this for a byte
HEALTH = b"GET /v2/health/ready HTTP/1.1\r\nHost: door\r\n\r\n"
ECHO_JSON = json.dumps({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32",
                                    "data": [1, 2]}]}).encode()


def infer(body: bytes = ECHO_JSON, length: int | None = None, extra: bytes = b"") -> bytes:
    """A request to the echo model: ``body`` under a Content-Length of ``length`` (default:
    its own), with ``extra`` header lines."""
    size = len(body) if length is None else length
    return (b"POST /v2/models/echo/infer HTTP/1.1\r\nHost: door\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n%b\r\n" % (size, extra)
            + body)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> str:
        assert self.headers.get("content-type", "").startswith("application/json"), self
        return json.loads(self.body)["error"]


class Wire:
    """A raw client connection that reads Content-Length framed responses, in order."""

    def __init__(self, door: FrontDoor) -> None:
        self.sock = socket.create_connection(("127.0.0.1", door.http_port), timeout=READ_TIMEOUT)
        self.buffer = b""

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed after {self.buffer[:200]!r}")
        self.buffer += chunk

    def response(self) -> Response:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        assert "transfer-encoding" not in headers, head
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Response(int(lines[0].split()[1]), headers, body)

    def closed_within(self, seconds: float) -> float:
        """Seconds until the door closed the connection (nothing more may arrive)."""
        started = time.monotonic()
        self.sock.settimeout(seconds)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buffer += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            raise AssertionError(f"still open after {seconds} s") from None
        return time.monotonic() - started
