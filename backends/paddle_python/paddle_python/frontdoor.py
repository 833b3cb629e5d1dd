"""Public "front doors" for tritonserver: request size limits and optional (mutual) TLS.

Triton 2.51 has no flag to cap request sizes (its gRPC accepts 2 GB messages, its HTTP
server any body) and serves neither HTTPS nor gRPC over TLS. The launcher therefore runs
tritonserver on loopback-only internal ports and puts these front doors on the public
ports:

* HTTP: an asyncio proxy that reads each request head, refuses bodies over the limit with
  Triton's own error shape (``413 {"error": ...}``) before a byte of them reaches Triton,
  and otherwise streams the request through one upstream connection per client
  connection, so keep-alive and ``Expect: 100-continue`` behave as with Triton itself.
* gRPC: a ``grpc.aio`` server whose generic handler forwards every method as raw bytes over
  one shared upstream channel; gRPC itself enforces the size limit (RESOURCE_EXHAUSTED).

Both run on a private event loop in a background thread so a synchronous launcher can use
them::

    with FrontDoor(FrontDoorOptions("0.0.0.0", 8000, 8001, 18000, 18001)):
        ...  # serve until told to stop
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import http
import json
import logging
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import AsyncIterator, Awaitable, Callable

import grpc
import grpc.aio

LOG = logging.getLogger(__name__)

UPSTREAM_HOST = "127.0.0.1"
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
MAX_HEAD_BYTES = 64 * 1024  # request line + headers; more is answered with 431
CHUNK_BYTES = 256 * 1024  # largest single read while streaming bodies
STREAM_LIMIT = CHUNK_BYTES  # asyncio buffer limit: bounds one head read and read-ahead
TLS_HANDSHAKE_SECONDS = 10.0  # a client that does not finish its handshake is dropped
LINGER_SECONDS = 2.0  # after a refusal, how long the rest of the body is read and discarded
CLOSE_SECONDS = 1.0  # how long closing a connection may wait for TLS close_notify
EXIT_GRACE_SECONDS = 5.0  # what leaving a ``with FrontDoor(...)`` block gives requests in flight
UNLIMITED = -1  # gRPC channel option value: no message size limit
RECONNECT_BACKOFF_MS = 250  # first retry of a lost upstream connection
MAX_RECONNECT_BACKOFF_MS = 1000  # and the longest wait between retries
MAX_CACHED_METHODS = 64  # Triton has about 30; callers' made-up names must not grow memory
STREAM_METHOD_SUFFIX = "/ModelStreamInfer"  # Triton's only streaming method
RESERVED_METADATA_PREFIXES = (":", "grpc-")  # transport metadata gRPC sets itself
RESERVED_METADATA_KEYS = frozenset({"user-agent", "content-type", "te", "host"})
NO_BODY_STATUSES = frozenset({http.HTTPStatus.NO_CONTENT, http.HTTPStatus.NOT_MODIFIED})
CRLF = b"\r\n"
HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class FrontDoorOptions:
    """Where the doors listen, where Triton listens, the size limit and TLS files.

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

    def __post_init__(self) -> None:
        for name in ("tls_cert", "tls_key", "tls_ca"):
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


class HttpError(Exception):
    """A request the door answers itself, in Triton's error shape, before closing."""

    def __init__(self, status: http.HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> bytes:
        body = json.dumps({"error": str(self)}).encode()
        head = (f"HTTP/1.1 {self.status.value} {self.status.phrase}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n")
        return head.encode("latin-1") + body


@dataclass(frozen=True)
class RequestHead:
    """What the door needs from a request head; ``raw`` is forwarded unchanged."""

    raw: bytes
    method: str
    content_length: int


def parse_request_head(raw: bytes, max_body: int) -> RequestHead:
    """Check a request head (ending in CRLFCRLF) and find its body length; raise HttpError."""
    raw = raw.lstrip(CRLF)  # stray line ends between requests are allowed (RFC 9112 2.2)
    if len(raw) > MAX_HEAD_BYTES:
        raise HttpError(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                        f"request head exceeds {MAX_HEAD_BYTES} bytes")
    lines = raw[:-len(HEAD_END)].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(http.HTTPStatus.BAD_REQUEST, "malformed request line")
    lengths: set[str] = set()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        # Folded lines and spaces before the colon are how requests get smuggled past proxies.
        if not colon or not name or name != name.strip() or line[0] in " \t":
            raise HttpError(http.HTTPStatus.BAD_REQUEST, "malformed header line")
        name = name.lower()
        if name == "transfer-encoding":
            raise HttpError(http.HTTPStatus.LENGTH_REQUIRED,
                            "chunked request bodies are not accepted; send Content-Length")
        if name == "content-length":
            lengths.update(v.strip() for v in value.split(","))
    if len(lengths) > 1 or not all(v.isdigit() and v.isascii() for v in lengths):
        raise HttpError(http.HTTPStatus.BAD_REQUEST, "invalid Content-Length")
    length = int(lengths.pop()) if lengths else 0
    if length > max_body:
        raise HttpError(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"request body of {length} bytes exceeds the limit of {max_body} bytes")
    return RequestHead(raw, parts[0], length)


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """The next message head, or None on a clean end of stream before one began."""
    try:
        return await reader.readuntil(HEAD_END)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                        f"request head exceeds {MAX_HEAD_BYTES} bytes") from None


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: int) -> None:
    """Stream exactly ``count`` bytes, in large chunks, honouring the writer's flow control."""
    while count > 0:
        chunk = await reader.read(min(count, CHUNK_BYTES))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", count)
        writer.write(chunk)
        count -= len(chunk)
        await writer.drain()


class HttpConnection:
    """One client connection and its own upstream connection to Triton's HTTP port.

    Requests are parsed (to enforce the limit and find body ends); responses are parsed
    only for their framing, so the door knows when a connection is idle and can close it at
    once on shutdown while letting responses in flight finish.
    """

    def __init__(self, door: HttpDoor, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self._door = door
        self._client_reader = reader
        self._client_writer = writer
        self._upstream_writer: asyncio.StreamWriter | None = None
        self._methods: collections.deque[str] = collections.deque()  # awaiting responses
        self._body_left = 0  # bytes of the current request body still to forward
        self._awaiting_head = True
        self._draining = False
        self._closing = False  # set once serve() is closing both sides
        self._task = asyncio.current_task()
        self._responses: asyncio.Task | None = None

    @property
    def idle(self) -> bool:
        """Between requests: nothing sent upstream is still waiting for its answer."""
        return self._awaiting_head and not self._methods

    async def serve(self) -> None:
        """Relay requests until either side closes; always close both sides at the end."""
        try:
            try:
                await self._relay_requests()
            except HttpError as exc:
                await self._refuse(exc)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # close() or stop(): the connection is finished either way
        except Exception:
            LOG.exception("front door: HTTP connection failed")
        finally:
            self._closing = True
            if self._responses is not None:
                self._responses.cancel()
                await asyncio.gather(self._responses, return_exceptions=True)
            await self._close_writers()

    def close(self) -> None:
        """End the connection now (from the loop's thread)."""
        if not self._closing and self._task is not None and not self._task.done():
            self._task.cancel()

    def drain(self) -> None:
        """Shutdown: close now if idle, else right after the response in flight."""
        self._draining = True
        if self.idle:
            self.close()

    def abort(self) -> None:
        """Shutdown after the grace period: drop both sides without TLS niceties."""
        for writer in (self._client_writer, self._upstream_writer):
            if writer is not None:
                writer.transport.abort()
        self.close()

    async def _relay_requests(self) -> None:
        max_body = self._door.options.max_request_bytes
        while True:
            self._awaiting_head = True
            if self._draining and self.idle:
                return
            raw = await _read_head(self._client_reader)
            if raw is None:
                return
            head = parse_request_head(raw, max_body)
            self._awaiting_head = False
            if self._upstream_writer is None:
                await self._connect_upstream()
            self._methods.append(head.method)
            self._body_left = head.content_length
            self._upstream_writer.write(head.raw)
            await self._upstream_writer.drain()
            # Streamed, not buffered: an ``Expect: 100-continue`` client sends its body only
            # after Triton's 100 Continue, which the response side passes on meanwhile.
            while self._body_left > 0:
                chunk = await self._client_reader.read(min(self._body_left, CHUNK_BYTES))
                if not chunk:
                    return
                self._upstream_writer.write(chunk)
                self._body_left -= len(chunk)
                await self._upstream_writer.drain()

    async def _connect_upstream(self) -> None:
        try:
            reader, writer = await asyncio.open_connection(
                UPSTREAM_HOST, self._door.options.upstream_http_port, limit=STREAM_LIMIT)
        except OSError as exc:
            raise HttpError(http.HTTPStatus.BAD_GATEWAY,
                            f"the inference server is not reachable: {exc}") from None
        self._upstream_writer = writer
        self._responses = asyncio.create_task(self._relay_responses(reader))

    async def _relay_responses(self, upstream: asyncio.StreamReader) -> None:
        """Pass responses on; end the connection when Triton closes or shutdown is due."""
        try:
            while await self._relay_response(upstream):
                if self._draining and self.idle:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ssl.SSLError, ValueError):
            pass  # Triton closed, or sent what cannot be relayed: nothing more will come
        except Exception:
            LOG.exception("front door: relaying an HTTP response failed")
        finally:
            self.close()

    async def _relay_response(self, upstream: asyncio.StreamReader) -> bool:
        """Relay one response; False when the connection cannot carry another one."""
        raw = await _read_head(upstream)
        if raw is None:
            return False
        status, lengths, chunked = _parse_response_head(raw)
        self._client_writer.write(raw)
        if status < http.HTTPStatus.OK:
            if status == http.HTTPStatus.SWITCHING_PROTOCOLS:
                return False  # no upgrades through the door
            await self._client_writer.drain()
            return True  # 100 Continue and friends: the final response is still to come
        method = self._methods.popleft() if self._methods else ""
        if method == "HEAD" or status in NO_BODY_STATUSES:
            await self._client_writer.drain()
        elif chunked:
            await self._relay_chunked(upstream)
        elif lengths is not None:
            await _copy(upstream, self._client_writer, lengths)
        else:
            await self._relay_until_close(upstream)
            return False
        # Answered before its body was all sent (an error): the rest of the client's body
        # would be read as the next request, so the connection cannot be reused.
        return self._body_left == 0 or bool(self._methods)

    async def _relay_chunked(self, upstream: asyncio.StreamReader) -> None:
        while True:
            line = await upstream.readuntil(CRLF)
            self._client_writer.write(line)
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            await _copy(upstream, self._client_writer, size + len(CRLF))
        while (line := await upstream.readuntil(CRLF)) != CRLF:  # trailers
            self._client_writer.write(line)
        self._client_writer.write(CRLF)
        await self._client_writer.drain()

    async def _relay_until_close(self, upstream: asyncio.StreamReader) -> None:
        while chunk := await upstream.read(CHUNK_BYTES):
            self._client_writer.write(chunk)
            await self._client_writer.drain()

    async def _refuse(self, error: HttpError) -> None:
        """Answer the client ourselves, then read what it still sends so it sees the answer.

        Closing with unread data makes the kernel send a reset, which can destroy the
        answer before a client that is still sending its body gets to read it. (A client
        that pipelined earlier requests may see this answer before theirs; Triton itself
        does not reliably answer pipelined requests, and its clients never pipeline.)
        """
        self._closing = True  # from here on, only the linger's own time limit ends it
        if self._responses is not None:
            self._responses.cancel()  # nothing more is relayed on a refused connection
        try:
            self._client_writer.write(error.response())
            await self._client_writer.drain()
            if self._client_writer.can_write_eof():
                self._client_writer.write_eof()
            await asyncio.wait_for(self._discard_input(), LINGER_SECONDS)
        except (ConnectionError, ssl.SSLError, asyncio.TimeoutError):
            pass

    async def _discard_input(self) -> None:
        while await self._client_reader.read(CHUNK_BYTES):
            pass

    async def _close_writers(self) -> None:
        writers = [w for w in (self._client_writer, self._upstream_writer) if w is not None]
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), CLOSE_SECONDS)
            writer.transport.abort()


def _parse_response_head(raw: bytes) -> tuple[int, int | None, bool]:
    """Status, Content-Length (None when absent) and whether the body is chunked."""
    lines = raw[:-len(HEAD_END)].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1 response: {lines[0]!r}")
    status = int(rest[:3])
    length, chunked = None, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.split(",")[0].strip())
        elif name == "transfer-encoding":
            chunked = value.strip().lower().endswith("chunked")
    return status, length, chunked


class HttpDoor:
    """The HTTP listener and the connections it is serving."""

    def __init__(self, options: FrontDoorOptions) -> None:
        self.options = options
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task, HttpConnection] = {}
        self._stopping = False

    async def start(self) -> int:
        """Bind the listener; returns the bound port."""
        self._server = await asyncio.start_server(
            self._accept, self.options.host, self.options.http_port, limit=STREAM_LIMIT,
            ssl=http_ssl_context(self.options),
            ssl_handshake_timeout=TLS_HANDSHAKE_SECONDS if self.options.tls else None)
        return self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stopping:  # accepted just before the listener closed
            writer.transport.abort()
            return
        connection = HttpConnection(self, reader, writer)
        task = asyncio.current_task()
        self._connections[task] = connection
        try:
            await connection.serve()
        except asyncio.CancelledError:
            pass  # stopped while closing: asyncio would log a cancelled callback as an error
        finally:
            del self._connections[task]

    async def stop(self, grace: float) -> None:
        """Stop listening, close idle connections now, and the others within ``grace``."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            connection.drain()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=grace)
        for connection in list(self._connections.values()):
            connection.abort()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=CLOSE_SECONDS)


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
            handlers=[GrpcForwarder(self._channel)],
            options=[("grpc.max_receive_message_length", self.options.max_request_bytes),
                     ("grpc.max_send_message_length", UNLIMITED),
                     # gRPC shares ports by default: a taken port would "bind" silently.
                     ("grpc.so_reuseport", 0)])
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
