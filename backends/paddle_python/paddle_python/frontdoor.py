"""Public "front doors" for tritonserver: size limits, timeouts, connection caps, (mutual) TLS.

Triton 2.51 has no flag to cap request sizes (its gRPC accepts 2 GB messages, its HTTP
server any body), no timeouts for slow or idle clients, serves neither HTTPS nor gRPC over
TLS, and its HTTP server (evhtp) loses answers to pipelined requests and drops, without an
answer, heads it cannot parse. The launcher therefore runs tritonserver on loopback-only
internal ports and puts these front doors on the public ports:

* HTTP: aiohttp's server parses every request (llhttp, strict for requests) and answers
  what it refuses itself, in Triton's error shape ``{"error": ...}``: 400 for a malformed
  head, 408 for a head or body that stalls or a body that trickles in below the minimum rate
  once its grace period is over, 411 for chunked bodies, 413 for a body over the limit
  (before a byte of it is read), 414/431 for oversized request lines and headers, 503 over
  the connection cap (for the door, or for one client address) or while shutting down.
  What passes is forwarded with aiohttp's client, one request at a time per client
  connection (pipelined requests are answered in order), its body streamed, over a pool of
  keep-alive connections to Triton.
* gRPC: a ``grpc.aio`` server whose generic handler forwards every method as raw bytes over
  one shared upstream channel; gRPC enforces the size limit (RESOURCE_EXHAUSTED), the
  connection cap, the handshake timeout and the idle timeout through its channel options.

Both run on a private event loop in a background thread so a synchronous launcher can use
them::

    with FrontDoor(FrontDoorOptions("0.0.0.0", 8000, 8001, 18000, 18001)):
        ...  # serve until told to stop
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http
import json
import logging
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import grpc
import grpc.aio
import yarl
from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from multidict import CIMultiDict

from .paddlex_api import PATH as OCR_API_PATH
from .paddlex_api import OcrApi, failure

LOG = logging.getLogger(__name__)

UPSTREAM_HOST = "127.0.0.1"
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
# Timeouts and caps (launcher flags; nginx's defaults are 60 s, 60 s and 75 s).
DEFAULT_HEAD_TIMEOUT_S = 60.0  # from accept, or from a head's first byte, to its end
DEFAULT_BODY_TIMEOUT_S = 60.0  # longest wait between two reads of a request body
DEFAULT_KEEPALIVE_TIMEOUT_S = 75.0  # an idle connection (no request begun) is closed after
DEFAULT_MAX_CONNECTIONS = 512  # per door; HTTP beyond it gets 503
# One client address may hold an eighth of the door: a single host (or a client behind one
# NAT) cannot shut everyone else out; the cap is counted on loopback too.
DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 64
# A body must keep up a minimum rate once a grace period is over, as with Apache
# mod_reqtimeout's ``body=20,MinRate=...``: it may take DEFAULT_BODY_RATE_GRACE_S however
# slowly, and then one second more for every DEFAULT_MIN_BODY_RATE bytes it has sent. Only the
# time spent waiting for the client counts, not the time the door takes handing chunks on to
# Triton. 64 KiB/s is about half a Mbit/s: a 64 MiB PDF over a 10 Mbit/s link (1.25 MB/s,
# 54 s) arrives at 19 times the minimum and over a 1 Mbit/s uplink at twice it, while a client
# sending a byte every two seconds is refused 20 s in. At the minimum itself a 64 MiB body may
# take 20 + 1024 s, so to hold all 512 connections that long a client needs 32 MiB/s
# (about 270 Mbit/s) of upload and, with the per-address cap, 8 addresses.
DEFAULT_BODY_RATE_GRACE_S = 20.0
DEFAULT_MIN_BODY_RATE = 64 * 1024  # bytes/s
# Triton's HTTP server drops, unanswered, any head line of about 8 KiB or more (measured:
# 8107-byte lines pass, 8199-byte ones are dropped), so both limits stay below that. They
# differ on purpose: aiohttp reports both as ``LineTooLong`` carrying the limit that was hit,
# which is how a long request target (414) is told from a long header (431).
DEFAULT_MAX_URL_BYTES = 8000  # the request target (path and query)
DEFAULT_MAX_HEADER_BYTES = 8100  # one header: name and value
TRITON_MAX_LINE_BYTES = 8100  # the largest either limit may be set to
DEFAULT_MAX_HEADERS = 100
TLS_HANDSHAKE_SECONDS = 10.0  # a client that does not finish its handshake is dropped
LINGER_SECONDS = 2.0  # after a refusal, how long input is read and discarded before closing
EXIT_GRACE_SECONDS = 5.0  # what leaving a ``with FrontDoor(...)`` block gives requests in flight
CLOSE_SECONDS = 1.0  # how long closing may wait for connections to go after they are aborted
CLOSE_POLL_SECONDS = 0.01  # how often a stop looks whether the connections have gone
# aiohttp's own idle close would also cut a slowly arriving head short, without an answer:
# it is pushed out of the way and ``_Connection`` keeps both timers itself.
AIOHTTP_IDLE_BACKSTOP_S = 24 * 3600.0
UPSTREAM_IDLE_S = 15.0  # pooled connections to Triton unused this long are closed
UPSTREAM_CONNECT_S = 5.0  # Triton is on loopback: longer means it is not there
CHUNK_BYTES = 256 * 1024  # largest single read while streaming bodies
UNLIMITED = -1  # gRPC channel option value: no message size limit
RECONNECT_BACKOFF_MS = 250  # first retry of a lost upstream connection
MAX_RECONNECT_BACKOFF_MS = 1000  # and the longest wait between retries
MAX_CACHED_METHODS = 64  # Triton has about 30; callers' made-up names must not grow memory
STREAM_METHOD_SUFFIX = "/ModelStreamInfer"  # Triton's only streaming method
RESERVED_METADATA_PREFIXES = (":", "grpc-")  # transport metadata gRPC sets itself
RESERVED_METADATA_KEYS = frozenset({"user-agent", "content-type", "te", "host"})
# Headers about one hop, not the message (RFC 9110 7.6.1), and those the door handles itself.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                        "transfer-encoding", "upgrade", "expect", "proxy-authenticate",
                        "proxy-authorization"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
VERSIONS = frozenset({aiohttp.HttpVersion10, aiohttp.HttpVersion11})
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"  # what aiohttp's own routing writes for Expect
TOO_MANY_HEADERS = "Too many headers"  # how aiohttp's parsers say it (both of them)
TOO_MANY_CONNECTIONS = "too many connections; retry later"
TOO_MANY_FROM_ADDRESS = "too many connections from this address; retry later"


@dataclass(frozen=True)
class Limits:
    """How long the HTTP door waits for a client, and how much it takes from one."""

    head_timeout: float = DEFAULT_HEAD_TIMEOUT_S
    body_timeout: float = DEFAULT_BODY_TIMEOUT_S
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_url_bytes: int = DEFAULT_MAX_URL_BYTES
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_headers: int = DEFAULT_MAX_HEADERS
    # Added last: callers (and the launcher's tests) pass the ones above by position.
    body_rate_grace: float = DEFAULT_BODY_RATE_GRACE_S
    min_body_rate: int = DEFAULT_MIN_BODY_RATE  # bytes/s, once body_rate_grace is over
    max_connections_per_client: int = DEFAULT_MAX_CONNECTIONS_PER_CLIENT

    def __post_init__(self) -> None:
        for name in ("head_timeout", "body_timeout", "keepalive_timeout", "body_rate_grace"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        for name in ("max_connections", "max_headers", "min_body_rate",
                     "max_connections_per_client"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        for name in ("max_url_bytes", "max_header_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 < value <= TRITON_MAX_LINE_BYTES:
                raise ValueError(f"{name} must be in 1..{TRITON_MAX_LINE_BYTES} (Triton drops "
                                 f"longer head lines), not {value!r}")
        if self.max_url_bytes == self.max_header_bytes:
            raise ValueError("max_url_bytes and max_header_bytes must differ: the limit that "
                             "was hit tells a long request line (414) from a long header (431)")
        if self.max_connections_per_client > self.max_connections:
            if self.max_connections_per_client != DEFAULT_MAX_CONNECTIONS_PER_CLIENT:
                raise ValueError(f"max_connections_per_client must be at most max_connections "
                                 f"({self.max_connections}), not "
                                 f"{self.max_connections_per_client!r}")
            # Left at its default, the per-address cap follows a lower max_connections down.
            object.__setattr__(self, "max_connections_per_client", self.max_connections)


@dataclass(frozen=True)
class FrontDoorOptions:
    """Where the doors listen, where Triton listens, the size limit, TLS files and limits.

    With ``tls_cert``/``tls_key`` both doors speak TLS only; with ``tls_ca`` as well, clients
    must present a certificate signed by that CA (mutual TLS).
    """

    host: str
    http_port: int
    grpc_port: int
    upstream_http_port: int
    upstream_grpc_port: int
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    limits: Limits = field(default_factory=Limits)
    # The model repository Triton serves: with it, the HTTP door also answers PaddleX's
    # ``POST /ocr`` (``paddlex_api``), whose answers quote the served defaults.
    model_repository: Path | None = None

    def __post_init__(self) -> None:
        for name in ("tls_cert", "tls_key", "tls_ca", "model_repository"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        for name in ("http_port", "grpc_port", "upstream_http_port", "upstream_grpc_port"):
            port = getattr(self, name)
            lowest = 1 if name.startswith("upstream") else 0  # 0 lets the system pick
            if not isinstance(port, int) or not lowest <= port <= 65535:
                raise ValueError(f"{name} must be a port number in {lowest}..65535, not {port!r}")
        if not isinstance(self.max_request_bytes, int) or self.max_request_bytes <= 0:
            raise ValueError(f"max_request_bytes must be a positive integer, "
                             f"not {self.max_request_bytes!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        if self.tls_ca is not None and self.tls_cert is None:
            raise ValueError("tls_ca (mutual TLS) needs tls_cert and tls_key as well")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def mutual_tls(self) -> bool:
        return self.tls_ca is not None


def http_ssl_context(options: FrontDoorOptions) -> ssl.SSLContext | None:
    """Server-side TLS for the HTTP door (TLS 1.2+, client certificates when a CA is set)."""
    if not options.tls:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(options.tls_cert, options.tls_key)
    if options.tls_ca is not None:
        context.load_verify_locations(cafile=options.tls_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def grpc_server_credentials(options: FrontDoorOptions) -> grpc.ServerCredentials | None:
    """Server-side TLS for the gRPC door, requiring client certificates when a CA is set."""
    if not options.tls:
        return None
    ca = options.tls_ca.read_bytes() if options.tls_ca is not None else None
    return grpc.ssl_server_credentials(
        [(options.tls_key.read_bytes(), options.tls_cert.read_bytes())],
        root_certificates=ca, require_client_auth=ca is not None)


# --- HTTP -----------------------------------------------------------------------------------

class ShuttingDown(Exception):
    """Ends the upload of a request the door will not forward because it is stopping."""


class BodyTooSlow(Exception):
    """Ends the upload of a body that fell behind the minimum rate after its grace period:
    a trickle would otherwise hold its connection for as long as it keeps sending."""

    def __init__(self, received: int, seconds: float, minimum: int) -> None:
        rate = int(received / seconds) if seconds > 0 else 0
        super().__init__(f"request body arrived at {rate} bytes/s, below the minimum of "
                         f"{minimum} bytes/s")


class _BodyPace:
    """How long the next read of a body may wait: the body timeout, or less when the body
    is about to fall behind its minimum rate (``body_rate_grace`` seconds, then one second
    more per ``min_body_rate`` bytes received)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.received = 0  # bytes so far
        self.waited = 0.0  # seconds spent waiting for them

    async def read(self, content: aiohttp.StreamReader) -> bytes:
        """The next chunk (b"" at the end), or ``asyncio.TimeoutError`` / ``BodyTooSlow``."""
        limits = self.limits
        allowed = limits.body_rate_grace + self.received / limits.min_body_rate - self.waited
        wait = min(limits.body_timeout, max(0.0, allowed))
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            chunk = await asyncio.wait_for(content.readany(), wait)
        except asyncio.TimeoutError:
            if wait < limits.body_timeout:  # the rate's deadline, not a pause between reads
                raise BodyTooSlow(self.received, self.waited + loop.time() - started,
                                  limits.min_body_rate) from None
            raise
        self.waited += loop.time() - started
        self.received += len(chunk)
        return chunk


def error_response(status: http.HTTPStatus, message: str) -> web.Response:
    """An answer of the door's own, in Triton's error shape, that closes the connection."""
    response = web.json_response({"error": message}, status=status.value)
    response.force_close()
    return response


def raw_error_response(status: http.HTTPStatus, message: str) -> bytes:
    """The same answer as bytes, for the two moments aiohttp has no request to answer:
    a head that never completes (408) and a connection over the cap (503)."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("latin-1") + body


def _parse_error_status(error: BaseException | None, limits: Limits) -> http.HTTPStatus:
    """The status for a head aiohttp's parser refused (it says 400 for all of them)."""
    if isinstance(error, LineTooLong):
        if error.args[1:2] == (limits.max_url_bytes,):
            return http.HTTPStatus.REQUEST_URI_TOO_LONG
        return http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    if TOO_MANY_HEADERS in str(getattr(error, "message", "")):
        return http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    return http.HTTPStatus.BAD_REQUEST


class _Connection(web.RequestHandler):
    """aiohttp's per-connection protocol plus what it does not do: a head timeout that
    answers 408, idle and head timers that tell an idle keep-alive connection (closed
    silently: no request to answer, and a client reusing it would take a stray 408 for the
    answer to its next request) from a head that stalls, errors in Triton's shape, a linger
    after refusals so the answer is not lost to a reset, and the drain's view of it.
    """

    def __init__(self, door: HttpDoor, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.door = door
        self.busy = False  # a request's head has been parsed and it is not answered yet
        self.in_triton = False  # ... and its body is all forwarded: Triton has it
        self.draining = False
        self.payload: aiohttp.StreamReader | None = None  # the body being read, if any
        self.upload_error: BaseException | None = None  # why reading that body stopped
        self.address: str | None = None  # the client's, once counted against its cap
        self._head_bytes = False  # bytes of a head not yet parsed have arrived
        self._pipelined_bytes = False  # ... arrived while the previous request was busy
        self._discarding = False  # refused: input is read and dropped until closing
        self._linger_after = False  # the answer being sent is a refusal
        self._timer: asyncio.TimerHandle | None = None
        self._timer_for_head = False
        self._eof: asyncio.Future[None] | None = None

    # -- connection life --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The per-address cap is checked here, not in ``_Server.__call__``: the protocol
        # factory runs before there is a peer address to count.
        address = _client_address(transport)
        if not self.door.admit(address):
            overloaded = _Overloaded(TOO_MANY_FROM_ADDRESS)
            transport.set_protocol(overloaded)  # this connection is never aiohttp's
            overloaded.connection_made(transport)
            return
        self.address = address
        super().connection_made(transport)
        self.door.connections.add(self)
        # The first head must come within the head timeout of the accept (as in nginx).
        self._start_timer(self.door.limits.head_timeout, for_head=True)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.door.connections.discard(self)
        if self.address is not None:
            self.door.release(self.address)
            self.address = None
        self._stop_timer()
        if self._eof is not None and not self._eof.done():
            self._eof.set_result(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if not self.busy:
            self._head_bytes = True
            if not self._timer_for_head:  # idle until now: the head timeout starts
                self._start_timer(self.door.limits.head_timeout, for_head=True)
        elif self.in_triton:  # the body is complete: these bytes begin a pipelined request
            self._pipelined_bytes = True
        super().data_received(data)

    def eof_received(self) -> None:
        if self._eof is not None and not self._eof.done():
            self._eof.set_result(None)
        # Returning None closes the connection: a half-closed client's request is cancelled.

    # -- timers --

    def _start_timer(self, seconds: float, for_head: bool) -> None:
        self._stop_timer()
        self._timer_for_head = for_head
        self._timer = self._loop.call_later(seconds, self._timed_out)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_for_head = False

    def _timed_out(self) -> None:
        self._timer = None
        if self.busy or self.transport is None:
            return
        if self._head_bytes:
            limit = self.door.limits.head_timeout
            self.refuse_now(http.HTTPStatus.REQUEST_TIMEOUT,
                            f"the request head did not arrive within {limit:g} s")
        else:
            self.force_close()

    # -- requests --

    def request_started(self, request: web.BaseRequest) -> None:
        """Called by the door's handler: a head is parsed; its timers stop."""
        self._stop_timer()
        self.busy = True
        self.in_triton = False
        self._head_bytes = False
        self.payload = request.content
        self.upload_error = None

    async def finish_response(self, request: web.BaseRequest, resp: web.StreamResponse,
                              start_time: float | None) -> tuple[web.StreamResponse, bool]:
        if self.draining and not resp.prepared:
            resp.force_close()
        result = await super().finish_response(request, resp, start_time)
        if self._linger_after:
            await self._linger()
        self.busy = self.in_triton = False
        self.payload = None
        if self.draining:
            self.close()  # after this answer, not before
        elif self._pipelined_bytes:
            self._head_bytes, self._pipelined_bytes = True, False
            self._start_timer(self.door.limits.head_timeout, for_head=True)
        else:
            self._start_timer(self.door.limits.keepalive_timeout, for_head=False)
        return result

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """Heads the parser refused (``status`` 400) and failures of the door's handler."""
        if isinstance(exc, ConnectionError):  # the client left: aiohttp just closes
            raise exc
        if request.writer.output_size > 0:  # an answer has begun: it cannot be replaced
            raise ConnectionError("the response was already started")
        if status == http.HTTPStatus.BAD_REQUEST:
            code = _parse_error_status(exc, self.door.limits)
            text = getattr(exc, "message", None) or message or code.phrase
            LOG.debug("front door: refused a request head: %s", text)
        else:
            LOG.error("front door: HTTP request failed", exc_info=exc)
            code, text = http.HTTPStatus(status), "internal error in the front door"
        return self.refusal(code, text)

    def refusal(self, status: http.HTTPStatus, message: str) -> web.Response:
        """A refusal as the answer to the current request; input is dropped after it."""
        self._linger_after = True
        return error_response(status, message)

    def refuse_now(self, status: http.HTTPStatus, message: str) -> None:
        """Answer with no request to answer (a head that never ended, a shutdown) and close
        after a linger."""
        self._stop_timer()
        self._discard_input()
        if self.transport is not None:
            self.transport.write(raw_error_response(status, message))
            if self.transport.can_write_eof():
                self.transport.write_eof()
        self._loop.call_later(LINGER_SECONDS, self.force_close)

    async def _linger(self) -> None:
        """Closing with unread input makes the kernel send a reset, which can destroy the
        answer before the client reads it: stop sending, read and drop what the client still
        sends until it closes or ``LINGER_SECONDS`` pass."""
        self._discard_input()
        if self.transport is None:
            return
        self._eof = self._loop.create_future()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._eof, LINGER_SECONDS)
        self.force_close()

    def _discard_input(self) -> None:
        self._discarding = True
        if self.transport is not None:
            with contextlib.suppress(AttributeError, NotImplementedError, RuntimeError):
                self.transport.resume_reading()  # flow control may have paused it

    # -- shutdown --

    def drain(self) -> None:
        """Shutdown: idle connections close now, uploads are answered 503 at once; requests
        Triton already has are answered, then the connection closes."""
        self.draining = True
        if not self.busy:
            if self._head_bytes:
                self.refuse_now(http.HTTPStatus.SERVICE_UNAVAILABLE, "the server is shutting down")
            else:
                self.force_close()
        elif not self.in_triton and self.payload is not None:
            self.payload.set_exception(ShuttingDown())


class _Overloaded(asyncio.Protocol):
    """A connection over a cap (the door's, or its address's): answered 503 at once, its
    input dropped, closed soon."""

    def __init__(self, message: str = TOO_MANY_CONNECTIONS) -> None:
        self.message = message

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(raw_error_response(http.HTTPStatus.SERVICE_UNAVAILABLE, self.message))
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)

    def data_received(self, data: bytes) -> None:
        pass  # dropped: see _Connection._linger


class _Server(web.Server):
    """aiohttp's low-level server, making ``_Connection``s (or refusing over the cap)."""

    def __init__(self, door: HttpDoor, handler: Callable[[web.BaseRequest],
                                                        Awaitable[web.StreamResponse]],
                 **kwargs: Any) -> None:
        super().__init__(handler, handler_cancellation=True, **kwargs)
        self._door = door

    def __call__(self) -> asyncio.Protocol:  # type: ignore[override]
        if len(self._door.connections) >= self._door.limits.max_connections:
            return _Overloaded()
        return _Connection(self._door, self, loop=self._loop, **self._kwargs)


def _client_address(transport: asyncio.BaseTransport) -> str:
    """The client's IP address without its port: what the per-address cap counts."""
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


def _upstream_headers(request: web.BaseRequest) -> CIMultiDict[str]:
    """The client's headers as Triton should see them: end-to-end ones only."""
    named = {name.strip().lower() for value in request.headers.getall("Connection", [])
             for name in value.split(",")}
    return CIMultiDict((name, value) for name, value in request.headers.items()
                       if name.lower() not in HOP_BY_HOP and name.lower() not in named)


def _downstream_headers(response: aiohttp.ClientResponse) -> CIMultiDict[str]:
    """Triton's headers as the client should see them (framing is aiohttp's job)."""
    return CIMultiDict((name, value) for name, value in response.headers.items()
                       if name.lower() not in HOP_BY_HOP and name.lower() != "content-length")


class HttpDoor:
    """The HTTP listener, the connections it is serving, and the pool of connections to Triton."""

    def __init__(self, options: FrontDoorOptions) -> None:
        self.options = options
        self.limits = options.limits
        self.connections: set[_Connection] = set()
        self.per_client: dict[str, int] = {}  # client address -> its open connections
        self._upstream_port = options.upstream_http_port
        self._session: aiohttp.ClientSession | None = None
        self._listener: asyncio.Server | None = None
        self.ocr_api = (None if options.model_repository is None else OcrApi.serving(
            options.model_repository, f"{UPSTREAM_HOST}:{self._upstream_port}"))

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``, or say it is over that address's cap."""
        count = self.per_client.get(address, 0)
        if count >= self.limits.max_connections_per_client:
            return False
        self.per_client[address] = count + 1
        return True

    def release(self, address: str) -> None:
        """A counted connection closed (addresses with none are dropped: the dict stays
        as small as the connections)."""
        count = self.per_client.pop(address, 0) - 1
        if count > 0:
            self.per_client[address] = count

    async def start(self) -> int:
        """Bind the listener; returns the bound port."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=UPSTREAM_IDLE_S),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=UPSTREAM_CONNECT_S),
            auto_decompress=False,  # bodies pass through as Triton encoded them
            # Only what the client sent: no User-Agent, Accept or Accept-Encoding of aiohttp's.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"))
        server = _Server(self, self._forward, access_log=None,
                         keepalive_timeout=AIOHTTP_IDLE_BACKSTOP_S, lingering_time=0,
                         max_line_size=self.limits.max_url_bytes,
                         max_field_size=self.limits.max_header_bytes,
                         max_headers=self.limits.max_headers, read_bufsize=CHUNK_BYTES,
                         auto_decompress=False)
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            server, self.options.host or None, self.options.http_port,
            ssl=http_ssl_context(self.options),
            ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS if self.options.tls else None)
        return self._listener.sockets[0].getsockname()[1]

    async def _forward(self, request: web.BaseRequest) -> web.StreamResponse:
        """One request to Triton and its answer back, or the door's own refusal."""
        connection = request.protocol
        assert isinstance(connection, _Connection)
        connection.request_started(request)
        refusal = self._refusal(request)
        if refusal is not None:
            return connection.refusal(*refusal)
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(CONTINUE)
        if self.ocr_api is not None and request.path == OCR_API_PATH:
            return await self._ocr_api(request, connection)
        body = self._body(request, connection) if request.body_exists else None
        if body is None:
            connection.in_triton = True
        assert self._session is not None
        target = request.rel_url  # as the client wrote it: Triton sees the same path
        url = yarl.URL.build(scheme="http", host=UPSTREAM_HOST, port=self._upstream_port,
                             path=target.raw_path, query_string=target.raw_query_string,
                             encoded=True)
        try:
            upstream = await self._session.request(
                request.method, url, headers=_upstream_headers(request), data=body,
                allow_redirects=False)
        except (aiohttp.ClientError, asyncio.TimeoutError, ShuttingDown, BodyTooSlow) as exc:
            return self._upload_failed(connection, exc)
        try:
            response = await self._relay(request, connection, upstream)
        except BaseException:
            upstream.close()  # half relayed: this upstream connection cannot be reused
            raise
        upstream.release()
        return response

    def _refusal(self, request: web.BaseRequest) -> tuple[http.HTTPStatus, str] | None:
        """Why the door answers this request itself, or None to forward it."""
        # What llhttp refuses but aiohttp's pure-Python parser (no C extension) lets through,
        # and Triton would drop unanswered: a method it does not know, another HTTP version.
        if request.method not in METHODS or request.version not in VERSIONS:
            return (http.HTTPStatus.BAD_REQUEST,
                    f"unsupported method or version: {request.method} HTTP/"
                    f"{request.version.major}.{request.version.minor}")
        # aiohttp's C parser bounds a header's name and its value each by max_field_size, not
        # together, so a line twice as long as Triton takes would pass: count them here.
        longest = max((len(name) + len(value) for name, value in request.raw_headers),
                      default=0)
        if longest > self.limits.max_header_bytes:
            return (http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"a header of {longest} bytes exceeds the limit of "
                    f"{self.limits.max_header_bytes} bytes")
        if "Transfer-Encoding" in request.headers:
            return (http.HTTPStatus.LENGTH_REQUIRED,
                    "chunked request bodies are not accepted; send Content-Length")
        length = request.content_length or 0
        limit = self.options.max_request_bytes
        if length > limit:
            return (http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"request body of {length} bytes exceeds the limit of {limit} bytes")
        expect = request.headers.get("Expect")
        if expect is not None and expect.lower() != "100-continue":
            return http.HTTPStatus.EXPECTATION_FAILED, f"unknown expectation {expect!r}"
        return None

    async def _body(self, request: web.BaseRequest, connection: _Connection
                    ) -> AsyncIterator[bytes]:
        """The request body as it arrives, each read bounded by the body timeout and all of
        them by the minimum rate (``_BodyPace``). Why it stopped early is kept on the
        connection: aiohttp's client wraps it on the way out."""
        pace = _BodyPace(self.limits)
        try:
            while chunk := await pace.read(request.content):
                yield chunk
        except BaseException as exc:
            connection.upload_error = exc
            raise
        connection.in_triton = True

    async def _ocr_api(self, request: web.BaseRequest, connection: _Connection
                       ) -> web.StreamResponse:
        """``POST /ocr``, PaddleX's OCR serving API: the body is read under the same limits as
        any other, then answered by ``ocr_document`` on Triton (``paddlex_api.OcrApi``)."""
        assert self.ocr_api is not None
        if request.method != "POST":
            status, answer = http.HTTPStatus.METHOD_NOT_ALLOWED, "use POST"
            return web.json_response(failure("", status.value, answer), status=status.value,
                                     headers={"Allow": "POST"})
        try:
            body = b"".join([chunk async for chunk in self._body(request, connection)])
        except Exception as exc:
            return self._upload_failed(connection, exc)
        connection.in_triton = True  # a drain waits for its answer, as for Triton's own
        status, answer = await self.ocr_api.answer(body)
        response = web.json_response(answer, status=status)
        if connection.draining:
            response.force_close()
        return response

    def _upload_failed(self, connection: _Connection, exc: BaseException) -> web.StreamResponse:
        """Forwarding stopped before Triton answered: say why, if the client is still there."""
        reason = connection.upload_error
        if isinstance(reason, asyncio.TimeoutError):
            limit = self.limits.body_timeout
            return connection.refusal(http.HTTPStatus.REQUEST_TIMEOUT,
                                      f"no request body bytes for {limit:g} s")
        if isinstance(reason, BodyTooSlow):
            return connection.refusal(http.HTTPStatus.REQUEST_TIMEOUT, str(reason))
        if isinstance(reason, ShuttingDown):
            return connection.refusal(http.HTTPStatus.SERVICE_UNAVAILABLE,
                                      "the server is shutting down")
        if reason is not None:  # the client went away or broke its body off
            raise ConnectionResetError("the client stopped its upload") from reason
        return connection.refusal(http.HTTPStatus.BAD_GATEWAY,
                                  f"the inference server is not reachable: {exc}")

    async def _relay(self, request: web.BaseRequest, connection: _Connection,
                     upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason,
                                      headers=_downstream_headers(upstream))
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        if connection.draining:
            response.force_close()
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def stop(self, grace: float) -> None:
        """Stop listening; close idle connections and refuse uploads now; let requests Triton
        already has finish within ``grace``; then close everything, the pool last."""
        if self._listener is not None:
            self._listener.close()
        for connection in list(self.connections):
            connection.drain()
        await self._until_closed(grace)
        for connection in list(self.connections):
            connection.force_close()
        await self._until_closed(CLOSE_SECONDS)
        if self._session is not None:
            await self._session.close()
        if self.ocr_api is not None:
            await self.ocr_api.close()

    async def _until_closed(self, seconds: float) -> None:
        """Wait until every client connection has gone, or ``seconds`` have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(min(CLOSE_POLL_SECONDS, max(0.0, deadline - loop.time())))


# --- gRPC -----------------------------------------------------------------------------------

def _forwardable(metadata: object) -> tuple[tuple[str, str | bytes], ...]:
    """Metadata a caller (or Triton) set itself, without what the transport adds.

    A tuple: ``grpc.aio`` refuses lists for trailing metadata.
    """
    return tuple((key, value) for key, value in (metadata or ())
                 if not key.startswith(RESERVED_METADATA_PREFIXES)
                 and key not in RESERVED_METADATA_KEYS)


class GrpcForwarder(grpc.GenericRpcHandler):
    """Forwards every method, as raw bytes, over one shared channel to Triton."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._channel = channel
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}  # made once per method

    def service(self, handler_call_details: grpc.HandlerCallDetails
                ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is None:
            if method.endswith(STREAM_METHOD_SUFFIX):
                handler = grpc.stream_stream_rpc_method_handler(self._stream_handler(method))
            else:
                handler = grpc.unary_unary_rpc_method_handler(self._unary_handler(method))
            if len(self._handlers) < MAX_CACHED_METHODS:
                self._handlers[method] = handler
        return handler

    def _unary_handler(self, method: str
                       ) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]:
        upstream = self._channel.unary_unary(method)

        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            call = upstream(request, metadata=_forwardable(context.invocation_metadata()),
                            timeout=context.time_remaining())
            try:
                response = await call
                context.set_trailing_metadata(_forwardable(await call.trailing_metadata()))
                return response
            except grpc.aio.AioRpcError as exc:
                await _abort(context, exc)

        return forward

    def _stream_handler(self, method: str
                        ) -> Callable[[AsyncIterator[bytes], grpc.aio.ServicerContext],
                                      AsyncIterator[bytes]]:
        upstream = self._channel.stream_stream(method)

        async def forward(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
                          ) -> AsyncIterator[bytes]:
            call = upstream(requests, metadata=_forwardable(context.invocation_metadata()),
                            timeout=context.time_remaining())
            try:
                async for response in call:
                    yield response
                context.set_trailing_metadata(_forwardable(await call.trailing_metadata()))
            except grpc.aio.AioRpcError as exc:
                await _abort(context, exc)
            finally:
                call.cancel()  # no-op once finished; stops Triton's side if the caller left

        return forward


async def _abort(context: grpc.aio.ServicerContext, exc: grpc.aio.AioRpcError) -> None:
    """Give the caller Triton's status, details and trailing metadata."""
    await context.abort(exc.code(), exc.details() or "",
                        _forwardable(exc.trailing_metadata()))


def grpc_server_options(options: FrontDoorOptions) -> list[tuple[str, int]]:
    """The HTTP door's limits where gRPC has them: size, the handshake (its "head"), idle
    connections and metadata size. gRPC has no per-read body timeout; the connection cap is a
    cap on calls in progress (``grpc.aio.server``'s ``maximum_concurrent_rpcs``: grpcio 1.85
    accepted connections past ``grpc.max_allowed_incoming_connections`` when tried here).
    Streams per connection are not capped: a client's burst opened before it reads the
    server's limit is refused with a bare RST_STREAM (seen with 300 calls on one channel)
    instead of reaching Triton's queue, which answers UNAVAILABLE with the reason."""
    limits = options.limits
    return [("grpc.max_receive_message_length", options.max_request_bytes),
            ("grpc.max_send_message_length", UNLIMITED),
            ("grpc.server_handshake_timeout_ms", int(limits.head_timeout * 1000)),
            ("grpc.max_connection_idle_ms", int(limits.keepalive_timeout * 1000)),
            ("grpc.max_metadata_size", limits.max_header_bytes),
            # gRPC shares ports by default: a taken port would "bind" silently.
            ("grpc.so_reuseport", 0)]


class GrpcDoor:
    """The gRPC listener and its shared upstream channel."""

    def __init__(self, options: FrontDoorOptions) -> None:
        self.options = options
        self._channel: grpc.aio.Channel | None = None
        self._server: grpc.aio.Server | None = None

    async def start(self) -> int:
        """Bind the listener; returns the bound port."""
        self._channel = grpc.aio.insecure_channel(
            f"{UPSTREAM_HOST}:{self.options.upstream_grpc_port}",
            options=[("grpc.max_send_message_length", UNLIMITED),
                     ("grpc.max_receive_message_length", UNLIMITED),
                     # Triton restarts (the launcher replaces it when a stub dies): reconnect
                     # within a second, not after gRPC's default backoff of up to two minutes.
                     ("grpc.initial_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
                     ("grpc.min_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
                     ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS)])
        self._server = grpc.aio.server(
            handlers=[GrpcForwarder(self._channel)], options=grpc_server_options(self.options),
            maximum_concurrent_rpcs=self.options.limits.max_connections)
        address = f"{_grpc_host(self.options.host)}:{self.options.grpc_port}"
        credentials = grpc_server_credentials(self.options)
        try:
            if credentials is None:
                port = self._server.add_insecure_port(address)
            else:
                port = self._server.add_secure_port(address, credentials)
        except RuntimeError as exc:
            raise OSError(f"cannot listen for gRPC on {address}: {exc}") from None
        if port == 0:  # older gRPC reports a failed bind this way
            raise OSError(f"cannot listen for gRPC on {address}")
        await self._server.start()
        return port

    async def stop(self, grace: float) -> None:
        if self._server is not None:
            await self._server.stop(grace)
        if self._channel is not None:
            await self._channel.close()


def _grpc_host(host: str) -> str:
    """``host`` as gRPC wants it in an address: IPv6 literals in brackets."""
    if not host:
        return "[::]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _network_errors_to_debug(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Failed TLS handshakes (scanners, plain-text clients, refused client certificates) are
    the clients' problem: asyncio would log each one as an ERROR with a traceback."""
    error = context.get("exception")
    if isinstance(error, OSError):  # ssl.SSLError, resets, handshake timeouts
        LOG.debug("front door: %s: %r", context.get("message"), error)
    else:
        loop.default_exception_handler(context)


class FrontDoor:
    """Both doors on a private event loop in a background thread.

    ``start()`` returns once both listeners are bound (raising if they cannot be);
    ``stop(grace)`` closes idle connections at once and gives requests in flight up to
    ``grace`` seconds. Stop the doors before Triton, so it sees no open connection.
    """

    def __init__(self, options: FrontDoorOptions) -> None:
        self.options = options
        self.http_port: int | None = None  # as bound (useful when asked for port 0)
        self.grpc_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._http: HttpDoor | None = None
        self._grpc: GrpcDoor | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("front door already started")
        self._loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(started,),
                                        name="front-door", daemon=True)
        self._thread.start()
        try:
            started.result()
        except BaseException:
            self._thread.join()
            self._thread = None
            raise

    def stop(self, grace: float = 0.0) -> None:
        """Stop both doors; safe to call more than once."""
        if self._thread is None:
            return
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._close(grace), self._loop)
        try:
            future.result()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FrontDoor:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop(EXIT_GRACE_SECONDS)

    def _run(self, started: concurrent.futures.Future[None]) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_network_errors_to_debug)
        try:
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:
                loop.run_until_complete(self._close(0.0))
                started.set_exception(exc)
                return
            started.set_result(None)
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _open(self) -> None:
        self._http = HttpDoor(self.options)
        self.http_port = await self._http.start()
        self._grpc = GrpcDoor(self.options)
        self.grpc_port = await self._grpc.start()
        LOG.info("front door: HTTP %s:%d, gRPC %s:%d -> 127.0.0.1:%d, :%d; limit %d bytes%s",
                 self.options.host, self.http_port, self.options.host, self.grpc_port,
                 self.options.upstream_http_port, self.options.upstream_grpc_port,
                 self.options.max_request_bytes,
                 "; mutual TLS" if self.options.mutual_tls else "; TLS" if self.options.tls
                 else "")

    async def _close(self, grace: float) -> None:
        doors = [door.stop(grace) for door in (self._http, self._grpc) if door is not None]
        await asyncio.gather(*doors)
