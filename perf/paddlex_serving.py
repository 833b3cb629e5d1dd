"""PaddleX 3.7's basic serving (``paddlex --serve``), installed for the benchmarks only: the
documents benchmark's peer (perf/documents.py), on the served weights and the same cores.

    .venv/bin/python -m perf.paddlex_serving install     # .venv-paddlex from the lock
    .venv/bin/python -m perf.paddlex_serving lock        # re-resolve the pins into the lock
    .venv/bin/python -m perf.paddlex_serving check       # start it with no network, read a page
    .venv/bin/python -m perf.paddlex_serving serve --port 8080   # until Ctrl-C

The venv (``.venv-paddlex``, git-ignored) holds ``paddlepaddle==3.2.2`` and
``paddlex[ocr-core,serving]==3.7.2``: the ``serving`` extra is what ``paddlex --install
serving`` installs (FastAPI, uvicorn, aiohttp, ...; ``paddlex.utils.deps.get_serving_dep_specs``
reads the same list), ``ocr-core`` what the OCR pipeline imports (OpenCV, pyclipper, shapely,
pypdfium2). Every package is pinned in ``perf/paddlex-serving.lock`` and installed
``--no-deps`` from it.

The pipeline configuration (``pipeline_config``) is PaddleX's own ``OCR.yaml`` as the wheel
ships it, changed only where the served pipeline differs: PP-OCRv5 mobile detection and
recognition from ``model_repository/text_det/2`` and ``text_rec/2`` (the very files
``ocr-server`` serves, as local ``model_dir``s: nothing comes from a model hub), and neither
the document preprocessor (orientation, unwarping) nor the text-line orientation model, which
PaddleX would otherwise fetch. Detection keeps PaddleX's defaults for PP-OCRv5 (shortest side
at least 64, longest at most 4000: a page is detected at the resolution it arrives in;
thresholds 0.3 / 0.6, unclip 1.5), recognition its batch of 6. PaddleX renders a PDF's pages
at scale 2 (144 dpi) and reads at most 10 pages of a request (``max_num_input_imgs``); its
serving runs one pipeline call at a time.

It is started on 127.0.0.1 on a free port, pinned with ``taskset`` to the cores this process
may use, with as many Paddle CPU threads as those cores (PaddleX's default is 10), and with
``PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK`` set so that it does not probe the model hubs at
start. ``check`` runs it in a network namespace of its own with only a loopback device and
reads a document there: it needs no network.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from paddle_python.model_files import served_dir
from perf.harness import REPOSITORY, ROOT, WORK
from tests.support.server import free_ports

VENV = ROOT / ".venv-paddlex"
LOCK = ROOT / "perf" / "paddlex-serving.lock"
# What the lock resolves: the engine the served pipeline uses and PaddleX with its serving and
# OCR extras.
REQUIREMENTS = ("paddlepaddle==3.2.2", "paddlex[ocr-core,serving]==3.7.2")
INSTALLED = VENV / ".installed"  # the sha256 of the lock it was installed from
DET_DIR = served_dir(REPOSITORY / "text_det")  # model_repository/text_det/2: PP-OCRv5 mobile
REC_DIR = served_dir(REPOSITORY / "text_rec")
READY_TIMEOUT_S = 300
OFFLINE_MARK = "PADDLEX_SERVING_NETNS"  # set inside the namespace `check` runs in

# PaddleX's defaults for PP-OCRv5 (its OCR.yaml), kept: what a PaddleX user gets.
DETECTION = {"limit_side_len": 64, "limit_type": "min", "max_side_limit": 4000,
             "thresh": 0.3, "box_thresh": 0.6, "unclip_ratio": 1.5}
RECOGNITION = {"batch_size": 6, "score_thresh": 0.0}


def pipeline_config(det_dir: Path = DET_DIR, rec_dir: Path = REC_DIR) -> str:
    """PaddleX's OCR pipeline configuration (YAML) on the served PP-OCRv5 mobile files."""
    for model_dir, name in ((det_dir, "PP-OCRv5_mobile_det"), (rec_dir, "PP-OCRv5_mobile_rec")):
        described = (model_dir / "inference.yml").read_text() if model_dir.is_dir() else ""
        if f"model_name: {name}" not in described:
            raise FileNotFoundError(f"{model_dir} holds no {name} (run `make models`)")
    def block(values: dict) -> str:
        return "".join(f"    {key}: {value}\n" for key, value in values.items())

    return (
        "pipeline_name: OCR\n"
        "text_type: general\n"
        "use_doc_preprocessor: False\n"
        "use_textline_orientation: False\n"
        "SubModules:\n"
        "  TextDetection:\n"
        "    module_name: text_detection\n"
        "    model_name: PP-OCRv5_mobile_det\n"
        f"    model_dir: {det_dir}\n" + block(DETECTION) +
        "  TextRecognition:\n"
        "    module_name: text_recognition\n"
        "    model_name: PP-OCRv5_mobile_rec\n"
        f"    model_dir: {rec_dir}\n" + block(RECOGNITION)
    )


def lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def installed() -> bool:
    return INSTALLED.is_file() and INSTALLED.read_text().strip() == lock_digest()


def _pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", *args], check=True)


def _new_venv(venv: Path) -> None:
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)


def install(force: bool = False) -> Path:
    """``.venv-paddlex`` with exactly the lock's packages (skipped when it already has them)."""
    if installed() and not force:
        return VENV
    print(f"paddlex-serving: installing {VENV.name} from {LOCK.name}", file=sys.stderr,
          flush=True)
    _new_venv(VENV)
    _pip(VENV, "--no-deps", "-r", str(LOCK))
    probe = ("from paddlex.utils.deps import is_serving_plugin_available, is_extra_available; "
             "assert is_serving_plugin_available() and is_extra_available('ocr-core')")
    subprocess.run([str(VENV / "bin" / "python"), "-c", probe], check=True)
    INSTALLED.write_text(lock_digest() + "\n")
    return VENV


def lock() -> None:
    """Resolve ``REQUIREMENTS`` in a scratch venv and write every installed version to the lock."""
    with tempfile.TemporaryDirectory() as scratch:
        venv = Path(scratch) / "venv"
        _new_venv(venv)
        _pip(venv, *REQUIREMENTS)
        frozen = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze",
                                 "--disable-pip-version-check"],
                                check=True, capture_output=True, text=True).stdout
    header = ("# PaddleX 3.7 basic serving for the benchmarks (perf/paddlex_serving.py), "
              "installed --no-deps.\n# Resolved from: " + " ".join(REQUIREMENTS) +
              "\n# Regenerate: .venv/bin/python -m perf.paddlex_serving lock\n")
    LOCK.write_text(header + frozen)


def versions() -> dict[str, str]:
    """The pinned versions of the packages that matter, from the lock."""
    pins = dict(line.split("==", 1) for line in LOCK.read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    return {name: pins[name] for name in ("paddlex", "paddlepaddle", "fastapi", "uvicorn",
                                          "opencv-contrib-python", "pypdfium2") if name in pins}


@dataclass
class PaddlexServer:
    process: subprocess.Popen
    port: int
    log: Path
    cpus: list[int]
    threads: int
    ready_s: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (uvicorn shuts down cleanly), then SIGKILL to its group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()


def health(port: int, timeout: float = 5) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("GET", "/health")
        reply = connection.getresponse()
        body = reply.read()
        connection.close()
        return reply.status == 200 and json.loads(body).get("errorCode") == 0
    except (OSError, ValueError, http.client.HTTPException):
        return False


def start(log: Path, cpus: list[int] | None = None, threads: int | None = None,
          port: int | None = None, config_dir: Path | None = None) -> PaddlexServer:
    """``paddlex --serve`` on 127.0.0.1, pinned to ``cpus`` (by default the cores this process
    may use), with ``threads`` Paddle CPU threads (by default one per core); returns once
    ``GET /health`` answers."""
    install()
    cpus = sorted(cpus or os.sched_getaffinity(0))
    threads = threads or len(cpus)
    port = port or free_ports(1)[0]
    config_dir = config_dir or WORK / "paddlex"
    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "OCR.yaml"
    config.write_text(pipeline_config())
    env = {**os.environ, "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True",
           "PADDLE_PDX_CPU_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    command = ["taskset", "-c", ",".join(map(str, cpus)), str(VENV / "bin" / "paddlex"),
               "--serve", "--pipeline", str(config), "--host", "127.0.0.1",
               "--port", str(port), "--device", "cpu"]
    started = time.monotonic()
    handle = open(log, "wb")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                               start_new_session=True, cwd=config_dir)
    handle.close()
    server = PaddlexServer(process, port, log, cpus, threads, 0.0)
    deadline = started + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"paddlex --serve exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')[-4000:]}")
        if health(port):
            server.ready_s = time.monotonic() - started
            return server
        time.sleep(0.5)
    server.stop()
    raise TimeoutError(f"paddlex --serve not healthy in {READY_TIMEOUT_S} s:\n"
                       f"{log.read_text(errors='replace')[-4000:]}")


@contextlib.contextmanager
def running(log: Path, **options) -> Iterator[PaddlexServer]:
    server = start(log, **options)
    try:
        yield server
    finally:
        server.stop()


def post_ocr(port: int, data: bytes, file_type: int, fields: dict | None = None,
             timeout: float = 600) -> tuple[int, dict]:
    """``POST /ocr`` in PaddleX's request shape; returns the HTTP status and the JSON reply."""
    body = json.dumps({"file": base64.b64encode(data).decode("ascii"), "fileType": file_type,
                       "visualize": False, **(fields or {})}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/ocr", body, {"Content-Type": "application/json"})
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read() or b"{}")
    finally:
        connection.close()


# --- offline -----------------------------------------------------------------------------------

def network_devices() -> list[str]:
    """The network devices of this process's network namespace (``/proc/self/net/dev``)."""
    lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines)


def can_isolate() -> bool:
    """Whether a network namespace of our own can be made here (root, or user namespaces)."""
    done = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    return done.returncode == 0


def in_own_namespace(argv: list[str]) -> int:
    """Run ``python -m <argv>`` in a new network namespace with only its loopback device up:
    nothing in it can reach another machine."""
    script = 'ip link set lo up && exec "$@"'
    env = {**os.environ, OFFLINE_MARK: "1"}
    return subprocess.run(["unshare", "--net", "sh", "-c", script, "sh", sys.executable, "-m",
                           *argv], env=env).returncode


def check() -> int:
    """Start PaddleX's serving and read a two-page scanned PDF and a born-digital one; inside
    the namespace ``main`` makes, the only network device is the loopback."""
    from tests.support.document_sets import document
    from tests.support.scoring import combine, score

    WORK.mkdir(parents=True, exist_ok=True)
    devices = network_devices()
    print(f"paddlex-serving: network devices here: {', '.join(devices)}", flush=True)
    with running(WORK / "paddlex-check.log") as server:
        print(f"paddlex-serving: healthy after {server.ready_s:.1f} s on port {server.port}, "
              f"cores {server.cpus}, {server.threads} threads", flush=True)
        for name in ("scan-en-150", "pdf-zh"):
            doc = document(name)
            begun = time.perf_counter()
            status, reply = post_ocr(server.port, doc.data, doc.file_type)
            seconds = time.perf_counter() - begun
            if status != 200 or reply.get("errorCode") != 0:
                print(f"paddlex-serving: {name}: HTTP {status} {reply}", flush=True)
                return 1
            results = reply["result"]["ocrResults"]
            pooled = combine(score(r["prunedResult"]["rec_texts"], list(t))
                             for r, t in zip(results, doc.truth))
            words = "" if pooled.word_recall is None else f", words {pooled.word_recall:.3f}"
            print(f"paddlex-serving: {name}: {len(results)} pages of {doc.pages} in "
                  f"{seconds:.1f} s, chars {pooled.char_accuracy:.3f}{words}; dataInfo "
                  f"{reply['result']['dataInfo']}", flush=True)
    offline = devices == ["lo"]
    print(f"paddlex-serving: {'ran offline' if offline else 'ran WITH a network'}", flush=True)
    return 0 if offline or not os.environ.get(OFFLINE_MARK) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install").add_argument("--force", action="store_true")
    sub.add_parser("lock")
    checking = sub.add_parser("check")
    checking.add_argument("--with-network", action="store_true",
                          help="do not make a network namespace of its own")
    serving = sub.add_parser("serve")
    serving.add_argument("--port", type=int, default=8080)
    serving.add_argument("--threads", type=int)
    serving.add_argument("--print-config", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "install":
        install(force=args.force)
        return 0
    if args.command == "lock":
        lock()
        return 0
    if args.command == "check":
        if args.with_network or os.environ.get(OFFLINE_MARK):
            return check()
        if not can_isolate():
            raise SystemExit("cannot make a network namespace here (unshare --net): run "
                             "`check --with-network`")
        install()  # before the network goes
        return in_own_namespace(["perf.paddlex_serving", "check"])
    if args.print_config:
        print(pipeline_config())
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    with running(WORK / "paddlex-serve.log", port=args.port, threads=args.threads) as server:
        print(f"paddlex-serving: {server.url} (log {server.log}); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
