"""``ocr-server``: start the real ``tritonserver`` on the model repository.

Triton 2.51.0 comes from the ``nvidia-pytriton`` wheel, used only as a distribution of the
server binary and its Python backend, or from a Triton installation laid out like NGC's
``/opt/tritonserver`` (``--triton-root``, as in the GPU container). The launcher gives the
server a backend directory whose Python backend has the stub built for the running Python
and points the stub at this Python's packages. Triton listens on internal loopback ports;
the public ports are the front doors (``frontdoor.py``: size limits, TLS), bound to loopback
unless told otherwise. The launcher reports readiness, restarts the server when a stub dies
(Triton 2.51 does not), and on SIGINT/SIGTERM drains the doors, lets Triton stop its stubs,
then removes their shared memory.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, fields
from pathlib import Path

from .frontdoor import DEFAULT_MAX_REQUEST_BYTES, UPSTREAM_HOST, FrontDoor, FrontDoorOptions, Limits

SHM_DIR = Path("/dev/shm")
SHM_DEFAULT_BYTES = 64 * 1024 * 1024  # per stub; regions grow by the same step when needed
STUB_NAME = "triton_python_backend_stub"
# Triton's administrative APIs: they change what the server loads, logs or traces, or map
# shared memory. Beyond loopback they need this header (gRPC metadata
# ``triton-grpc-protocol-admin-key``).
ADMIN_APIS = ("model-repository", "shared-memory", "trace", "logging")
ADMIN_HEADER = "admin-key"
ADMIN_KEY_ENV = "OCR_ADMIN_KEY"
TRITON_ROOT_ENV = "OCR_TRITON_ROOT"
WATCH_INTERVAL_S = 0.5  # how often the launcher checks that every stub is alive
RESTART_LIMIT = 5  # restarts allowed within RESTART_WINDOW_S before the launcher gives up
RESTART_WINDOW_S = 600.0
# The launcher flag (--head-timeout, ...) for each of the front doors' limits says this.
LIMIT_HELP = {
    "head_timeout": "seconds for a request head to arrive, from the connection or from its "
                    "first byte; then 408",
    "body_timeout": "seconds a request body may pause between two reads; then 408",
    "keepalive_timeout": "seconds an idle connection is kept open (HTTP keep-alive, gRPC idle "
                         "connections)",
    "max_connections": "open connections per door; HTTP beyond it gets 503",
    "max_url_bytes": "longest request target (path and query); then 414",
    "max_header_bytes": "longest header, name and value (also gRPC metadata in all); then 431",
    "max_headers": "most headers in a request; then 431",
    "body_rate_grace": "seconds a request body may take however slowly before "
                       "--min-body-rate applies",
    "min_body_rate": "bytes/s a request body must keep up once --body-rate-grace is over "
                     "(every this many bytes received allow one second more); then 408",
    "max_connections_per_client": "open HTTP connections from one client address (loopback "
                                  "too; at most --max-connections); then 503",
}
# glibc raises its mmap threshold each time a large block is freed, after which image-sized
# arrays come from the heap and fragment it: each stub grew by 50-120 MB under load
# (perf/results/memory-2026-11-22.md). A fixed 4 MiB threshold bounds that: larger blocks get
# their own mapping, returned when freed. Processes that run a Paddle predictor raise theirs
# for Paddle's activations (predictor.keep_activations_in_heap); with 64 MiB everywhere
# tritonserver and the pre- and post-processing stubs held 0.5 GB more under load
# (perf/results/memory-2026-11-28.md).
#
# OpenMP threads (a multi-threaded predictor's: detection's two) spin for 200 ms when they run
# out of work, by default. Beside the other stubs a spinning thread takes a core from work
# that is waiting for it: PASSIVE (sleep at once) halved text_det's CPU per image (220 -> 110
# ms) and cut the whole server's by a tenth (perf/results/sweep-2026-11-28.md).
PROCESS_ENV = {"MALLOC_MMAP_THRESHOLD_": str(4 * 2**20), "OMP_WAIT_POLICY": "PASSIVE"}


@dataclass(frozen=True)
class TritonDistribution:
    """Where the ``tritonserver`` binary, its Python backend, the stub for this Python and
    their shared libraries are."""

    binary: Path
    python_backend: Path  # libtriton_python.so and triton_python_backend_utils.py
    stub: Path
    libs: Path

    @classmethod
    def find(cls, root: Path | None = None) -> "TritonDistribution":
        """The installation at ``root`` (NGC's layout), else the ``nvidia-pytriton`` wheel's."""
        dist = cls._installed(root) if root is not None else cls._wheel()
        for path in (dist.binary, dist.stub, dist.python_backend / "libtriton_python.so"):
            if not path.exists():
                where = root if root is not None else "the nvidia-pytriton wheel"
                raise FileNotFoundError(f"{path} is missing from {where}")
        return dist

    @classmethod
    def _wheel(cls) -> "TritonDistribution":
        """The wheel keeps one stub per Python version apart from its backend directory."""
        spec = importlib.util.find_spec("pytriton")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("nvidia-pytriton is not installed; run `make install`")
        package = Path(next(iter(spec.submodule_search_locations)))
        root = package / "tritonserver"
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return cls(root / "bin" / "tritonserver", root / "backends" / "python",
                   root / "python_backend_stubs" / version / STUB_NAME,
                   package.parent / "nvidia_pytriton.libs")

    @classmethod
    def _installed(cls, root: Path) -> "TritonDistribution":
        """A Triton install tree (NGC's ``/opt/tritonserver``): the stub, built for the
        image's own Python, sits inside ``backends/python``."""
        root = root.resolve()
        python_backend = root / "backends" / "python"
        return cls(root / "bin" / "tritonserver", python_backend, python_backend / STUB_NAME,
                   root / "lib")


def make_backend_dir(dist: TritonDistribution, parent: Path) -> Path:
    """A backend directory whose ``python/`` holds the backend and this Python's stub."""
    python_dir = parent / "backends" / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    sources = {path.name: path for path in dist.python_backend.iterdir() if path.is_file()}
    sources[STUB_NAME] = dist.stub  # NGC's stub is already among them; the wheel's is not
    for name, source in sources.items():
        (python_dir / name).symlink_to(source)
    return python_dir.parent


def server_env(dist: TritonDistribution, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment in which the stub imports this Python's packages and finds its libraries.

    The stub finds its packages through ``python3`` on ``PATH`` (a venv's ``pyvenv.cfg``, or
    the system Python's own site-packages in the NGC image)."""
    env = dict(os.environ if base is None else base)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "/usr/bin:/bin")])
    libdirs = [str(dist.libs), sysconfig.get_config_var("LIBDIR") or ""]
    if env.get("LD_LIBRARY_PATH"):
        libdirs.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(d for d in libdirs if d)
    env.setdefault("PYTHONUNBUFFERED", "1")
    for name, value in PROCESS_ENV.items():
        env.setdefault(name, value)
    return env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ocr-server", description="Serve the OCR model repository with tritonserver.",
        epilog="Arguments after `--` are passed to tritonserver as they are.",
    )
    parser.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--triton-root", type=Path,
                        default=Path(os.environ[TRITON_ROOT_ENV]) if os.environ.get(TRITON_ROOT_ENV)
                        else None,
                        help="a Triton installation laid out like NGC's /opt/tritonserver "
                             f"(default: ${TRITON_ROOT_ENV}, else the nvidia-pytriton wheel's)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address for HTTP, gRPC and metrics (default: loopback only)")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--log-verbose", type=int, default=0)
    parser.add_argument("--exit-timeout", type=int, default=30,
                        help="seconds in-flight requests get to finish on shutdown")
    parser.add_argument("--ready-timeout", type=float, default=300.0,
                        help="seconds to wait for /v2/health/ready before giving up")
    parser.add_argument("--shm-bytes", type=int, default=SHM_DEFAULT_BYTES,
                        help="Python-backend shared memory per stub, and its growth step")
    parser.add_argument("--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES,
                        help="largest HTTP body or gRPC message accepted (default 64 MiB)")
    limits = parser.add_argument_group(
        "client timeouts and caps (the front doors; HTTP answers 408, 414, 431 or 503)")
    for limit in fields(Limits):
        limits.add_argument("--" + limit.name.replace("_", "-"), type=type(limit.default),
                            default=limit.default,
                            help=f"{LIMIT_HELP[limit.name]} (default {limit.default:g})")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate: HTTPS and gRPC over TLS")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    parser.add_argument("--tls-ca", type=Path,
                        help="PEM CA: clients must present a certificate it signed (mutual TLS)")
    parser.add_argument("--admin-key", default=os.environ.get(ADMIN_KEY_ENV),
                        help=f"value of the {ADMIN_HEADER!r} header that opens the administrative "
                             f"APIs (default: ${ADMIN_KEY_ENV}); required for them whenever "
                             "--host is not loopback")
    parser.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def limits(args: argparse.Namespace) -> Limits:
    """The front doors' timeouts and caps from the command line."""
    return Limits(**{limit.name: getattr(args, limit.name) for limit in fields(Limits)})


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def admin_key(args: argparse.Namespace) -> str | None:
    """The key that opens Triton's administrative APIs, or None to leave them open.

    Beyond loopback they are always closed behind a header: with no key given, behind a
    random one nobody knows.
    """
    if args.admin_key:
        return args.admin_key
    return None if is_loopback(args.host) else secrets.token_urlsafe(32)


def server_command(args: argparse.Namespace, dist: TritonDistribution, backend_dir: Path,
                   shm_prefix: str, internal_ports: tuple[int, int] = (0, 0),
                   key: str | None = None) -> list[str]:
    """tritonserver's command line: HTTP and gRPC on internal loopback ports behind the front
    doors, metrics where asked, models loaded once (no model control for clients)."""
    http_port, grpc_port = internal_ports
    restricted = []
    if key is not None:
        apis = ",".join(ADMIN_APIS)
        restricted = [f"--http-restricted-api={apis}:{ADMIN_HEADER}={key}",
                      f"--grpc-restricted-protocol={apis}:{ADMIN_HEADER}={key}"]
    python_config = {
        "shm-default-byte-size": args.shm_bytes,
        "shm-growth-byte-size": args.shm_bytes,
        "shm-region-prefix-name": shm_prefix,
    }
    return [
        str(dist.binary),
        f"--model-repository={args.model_repository.resolve()}",
        f"--backend-directory={backend_dir}",
        f"--http-address={UPSTREAM_HOST}", f"--http-port={http_port}",
        f"--grpc-address={UPSTREAM_HOST}", f"--grpc-port={grpc_port}",
        f"--metrics-address={args.host}", f"--metrics-port={args.metrics_port}",
        *restricted,
        "--allow-metrics=true", "--allow-gpu-metrics=false",
        "--model-control-mode=none",
        f"--exit-timeout-secs={args.exit_timeout}",
        f"--log-verbose={args.log_verbose}",
        *(f"--backend-config=python,{key}={value}" for key, value in python_config.items()),
        *args.extra,
    ]


def wait_ready(url: str, process: subprocess.Popen, timeout: float, stopping: list[int]) -> bool:
    """Poll ``/v2/health/ready`` until it answers 200, the server exits, we are asked to
    stop, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None and not stopping:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    return False


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the launcher dies, so no server is left orphaned."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def remove_shm(prefix: str) -> list[Path]:
    """Delete the shared-memory regions left under ``prefix``; return what was removed."""
    left = sorted(SHM_DIR.glob(f"{prefix}*"))
    for path in left:
        path.unlink(missing_ok=True)
    return left


def stub_pids(server_pid: int) -> dict[int, str]:
    """Live Python-backend stubs of a ``tritonserver`` process: pid -> the model they serve."""
    stubs = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        state, parent = fields[0], int(fields[1])
        if parent == server_pid and state != "Z" and argv[0].endswith(STUB_NAME.encode()):
            stubs[int(entry.name)] = Path(argv[1].decode(errors="replace")).parent.parent.name
    return stubs


def watch(process: subprocess.Popen, stubs: dict[int, str], stopping: list[int]) -> str | None:
    """Wait while the server is healthy. Returns why it is not (a stub or the server died),
    or None once the launcher is asked to stop."""
    while not stopping:
        code = process.poll()
        if code is not None:
            return f"tritonserver exited unexpectedly with {code}"
        dead = set(stubs) - set(stub_pids(process.pid))
        if dead:
            pid = min(dead)
            return f"the stub of model {stubs[pid]!r} (pid {pid}) died"
        time.sleep(WATCH_INTERVAL_S)
    return None


class Restarts:
    """Counts restarts; too many in a short time means restarting does not help."""

    def __init__(self, limit: int = RESTART_LIMIT, window_s: float = RESTART_WINDOW_S):
        self.limit, self.window_s, self.times = limit, window_s, []

    def allow(self) -> bool:
        now = time.monotonic()
        self.times = [t for t in self.times if now - t < self.window_s] + [now]
        return len(self.times) <= self.limit


def internal_ports(avoid: tuple[int, ...]) -> tuple[int, int]:
    """Two free loopback TCP ports for Triton's HTTP and gRPC endpoints, distinct from each
    other and from ``avoid`` (the public ports, not bound yet): probed while all are held, so
    the kernel cannot hand the same port out twice."""
    found: list[int] = []
    probes: list[socket.socket] = []
    try:
        while len(found) < 2:
            probe = socket.socket()
            probes.append(probe)
            probe.bind((UPSTREAM_HOST, 0))
            if (port := probe.getsockname()[1]) not in avoid:
                found.append(port)
    finally:
        for probe in probes:
            probe.close()
    return found[0], found[1]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.model_repository.is_dir():
        print(f"ocr-server: no model repository at {args.model_repository}", file=sys.stderr)
        return 2
    dist = TritonDistribution.find(args.triton_root)
    internal = internal_ports((args.http_port, args.grpc_port, args.metrics_port))
    try:
        door = FrontDoor(FrontDoorOptions(
            args.host, args.http_port, args.grpc_port, *internal, args.max_request_bytes,
            args.tls_cert, args.tls_key, args.tls_ca, limits(args), args.model_repository))
    except ValueError as exc:
        print(f"ocr-server: {exc}", file=sys.stderr)
        return 2
    door.start()  # the public ports are taken now, before minutes of model loading
    runtime = Path(tempfile.mkdtemp(prefix="ocr-server-"))
    shm_prefix = f"ocr_server_{os.getpid()}_"
    command = server_command(args, dist, make_backend_dir(dist, runtime), shm_prefix, internal,
                             admin_key(args))
    stopping: list[int] = []
    current: list[subprocess.Popen] = []

    def on_signal(signum: int, _frame: object) -> None:
        """First signal: drain and stop (in the main loop). Second: stop now."""
        stopping.append(signum)
        if len(stopping) > 1 and current:
            _kill_group(current[-1], wait=False)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    ready_url = f"http://{UPSTREAM_HOST}:{internal[0]}/v2/health/ready"
    scheme = "https" if args.tls_cert else "http"
    restarts = Restarts()
    code = 1
    try:
        while True:
            # A session of its own: a terminal's Ctrl-C reaches the launcher alone, which then
            # drains the doors and asks Triton to stop, instead of every stub dying at once.
            process = subprocess.Popen(command, env=server_env(dist), start_new_session=True,
                                       preexec_fn=_die_with_parent)
            current.append(process)
            if not wait_ready(ready_url, process, args.ready_timeout, stopping):
                if process.poll() is None and not stopping:
                    print(f"ocr-server: not ready after {args.ready_timeout:.0f} s; stopping",
                          file=sys.stderr, flush=True)
                code = _stop(process)
                break
            print(f"ocr-server: ready; HTTP {scheme}://{args.host}:{args.http_port}, gRPC "
                  f"{args.host}:{args.grpc_port}{' (TLS)' if args.tls_cert else ''}, metrics "
                  f"{args.host}:{args.metrics_port}", flush=True)
            fault = watch(process, stub_pids(process.pid), stopping)
            if fault is None:
                # Drain at the doors first: Triton refuses an ensemble's later steps and BLS
                # calls once it is stopping, so requests must finish while it still runs.
                door.stop(args.exit_timeout)
                code = _stop(process)
                break
            # Triton 2.51 neither restarts a dead stub nor reports the model unready: requests
            # to it fail until the process is replaced. Restart the whole server (its stubs
            # with it) from a clean state; callers see errors, then a ready server again.
            print(f"ocr-server: {fault}; restarting tritonserver", file=sys.stderr, flush=True)
            _kill_group(process)
            remove_shm(shm_prefix)
            if not restarts.allow():
                print(f"ocr-server: more than {RESTART_LIMIT} restarts in {RESTART_WINDOW_S:.0f} s;"
                      " giving up", file=sys.stderr, flush=True)
                code = 1
                break
    finally:
        door.stop()
        for process in current:
            if process.poll() is None:
                _kill_group(process)
        leaked = remove_shm(shm_prefix)
        if leaked:
            print(f"ocr-server: removed {len(leaked)} stale shared-memory regions",
                  file=sys.stderr)
        shutil.rmtree(runtime, ignore_errors=True)
    print(f"ocr-server: tritonserver exited with {code}", file=sys.stderr, flush=True)
    return code if code >= 0 else 128 - code


def _stop(process: subprocess.Popen) -> int:
    """Ask Triton to finish what it holds and exit (bounded by its exit timeout)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait()


def _kill_group(process: subprocess.Popen, wait: bool = True) -> None:
    """SIGKILL the server and its stubs (they share its process group) and reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if wait:
        process.wait()


def _url_host(host: str) -> str:
    """Where to reach a server bound to ``host`` from this machine."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":
    sys.exit(main())
