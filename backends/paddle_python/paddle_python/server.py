"""``ocr-server``: start the real ``tritonserver`` on the model repository.

Triton 2.51.0 comes from the ``nvidia-pytriton`` wheel, used only as a distribution of the
server binary and its Python backend. The launcher gives the server a backend directory
whose Python backend has the stub built for the running Python, points the stub at this
virtual environment, binds to loopback unless told otherwise, reports readiness, and on
SIGINT/SIGTERM lets Triton drain and stop its stubs, then removes their shared memory.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SHM_DIR = Path("/dev/shm")
SHM_DEFAULT_BYTES = 32 * 1024 * 1024  # per stub; regions grow by the same step when needed


@dataclass(frozen=True)
class TritonDistribution:
    """Paths inside the installed ``nvidia-pytriton`` wheel."""

    root: Path  # .../site-packages/pytriton/tritonserver
    libs: Path  # .../site-packages/nvidia_pytriton.libs

    @classmethod
    def find(cls) -> "TritonDistribution":
        spec = importlib.util.find_spec("pytriton")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("nvidia-pytriton is not installed; run `make install`")
        package = Path(next(iter(spec.submodule_search_locations)))
        dist = cls(package / "tritonserver", package.parent / "nvidia_pytriton.libs")
        for path in (dist.binary, dist.stub, dist.python_backend / "libtriton_python.so"):
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing from the nvidia-pytriton wheel")
        return dist

    @property
    def binary(self) -> Path:
        return self.root / "bin" / "tritonserver"

    @property
    def python_backend(self) -> Path:
        return self.root / "backends" / "python"

    @property
    def stub(self) -> Path:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return self.root / "python_backend_stubs" / version / "triton_python_backend_stub"


def make_backend_dir(dist: TritonDistribution, parent: Path) -> Path:
    """A backend directory whose ``python/`` holds the backend and this Python's stub."""
    python_dir = parent / "backends" / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for source in (*dist.python_backend.iterdir(), dist.stub):
        if source.is_file():
            (python_dir / source.name).symlink_to(source)
    return python_dir.parent


def server_env(dist: TritonDistribution, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment in which the stub imports this venv's packages and finds its libraries."""
    env = dict(os.environ if base is None else base)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "/usr/bin:/bin")])
    libdirs = [str(dist.libs), sysconfig.get_config_var("LIBDIR") or ""]
    if env.get("LD_LIBRARY_PATH"):
        libdirs.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(d for d in libdirs if d)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ocr-server", description="Serve the OCR model repository with tritonserver.",
        epilog="Arguments after `--` are passed to tritonserver as they are.",
    )
    parser.add_argument("--model-repository", type=Path, default=Path("model_repository"))
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
    parser.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def server_command(args: argparse.Namespace, dist: TritonDistribution, backend_dir: Path,
                   shm_prefix: str) -> list[str]:
    python_config = {
        "shm-default-byte-size": args.shm_bytes,
        "shm-growth-byte-size": args.shm_bytes,
        "shm-region-prefix-name": shm_prefix,
    }
    return [
        str(dist.binary),
        f"--model-repository={args.model_repository.resolve()}",
        f"--backend-directory={backend_dir}",
        f"--http-address={args.host}", f"--http-port={args.http_port}",
        f"--grpc-address={args.host}", f"--grpc-port={args.grpc_port}",
        f"--metrics-address={args.host}", f"--metrics-port={args.metrics_port}",
        "--allow-metrics=true", "--allow-gpu-metrics=false",
        "--model-control-mode=none",
        f"--exit-timeout-secs={args.exit_timeout}",
        f"--log-verbose={args.log_verbose}",
        *(f"--backend-config=python,{key}={value}" for key, value in python_config.items()),
        *args.extra,
    ]


def wait_ready(url: str, process: subprocess.Popen, timeout: float) -> bool:
    """Poll ``/v2/health/ready`` until it answers 200, the server exits, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.model_repository.is_dir():
        print(f"ocr-server: no model repository at {args.model_repository}", file=sys.stderr)
        return 2
    dist = TritonDistribution.find()
    runtime = Path(tempfile.mkdtemp(prefix="ocr-server-"))
    shm_prefix = f"ocr_server_{os.getpid()}_"
    command = server_command(args, dist, make_backend_dir(dist, runtime), shm_prefix)
    # A session of its own: a terminal's Ctrl-C reaches the launcher alone, which then asks
    # Triton to drain instead of every stub dying at once.
    process = subprocess.Popen(command, env=server_env(dist), start_new_session=True,
                               preexec_fn=_die_with_parent)
    signals = []

    def forward(signum: int, _frame: object) -> None:
        signals.append(signum)
        process.send_signal(signal.SIGTERM if len(signals) == 1 else signal.SIGKILL)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        ready_url = f"http://{_url_host(args.host)}:{args.http_port}/v2/health/ready"
        if wait_ready(ready_url, process, args.ready_timeout):
            print(f"ocr-server: ready; HTTP {args.host}:{args.http_port}, gRPC "
                  f"{args.host}:{args.grpc_port}, metrics {args.host}:{args.metrics_port}",
                  flush=True)
        elif process.poll() is None and not signals:
            print(f"ocr-server: not ready after {args.ready_timeout:.0f} s; stopping",
                  file=sys.stderr, flush=True)
            process.send_signal(signal.SIGTERM)
        code = process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        leaked = remove_shm(shm_prefix)
        if leaked:
            print(f"ocr-server: removed {len(leaked)} stale shared-memory regions",
                  file=sys.stderr)
        shutil.rmtree(runtime, ignore_errors=True)
    print(f"ocr-server: tritonserver exited with {code}", file=sys.stderr, flush=True)
    return code if code >= 0 else 128 - code


def _url_host(host: str) -> str:
    """Where to reach a server bound to ``host`` from this machine."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":
    sys.exit(main())
