"""The documents benchmark: whole PDFs and multi-page TIFFs through PaddleX's OCR serving API,
the same requests to the served pipeline and to PaddleX 3.7's own basic serving.

    .venv/bin/python -m perf.documents [--name NAME] [--systems served paddlex] [--rounds 2]
        [--clients 4] [--sets pdf-en ...] [--field textDetLimitSideLen=960 ...] [--cpus N]

Documents (``tests.support.document_sets``): born-digital PDFs, scanned PDFs at 150, 200 and
300 dpi and bilevel multi-page TIFFs, English and Chinese, the truth of every page known.
Systems, on the same cores in one run:

- ``served``: ``ocr-server`` (``make serve``), started here on free ports, ``POST /ocr`` on its
  HTTP port;
- ``paddlex``: ``paddlex --serve`` with its OCR pipeline on the same PP-OCRv5 mobile files
  (``perf/paddlex_serving.py``: its own venv, its defaults for PP-OCRv5, no document
  preprocessor and no text-line orientation model, pinned to the same cores).

Both get the same request bodies: ``{"file": base64, "fileType": 0 | 1, "visualize": false}``
and whatever ``--field`` adds (PaddleX's request fields, e.g. ``textDetLimitSideLen``); each
answers in PaddleX's response shape, and ``result.ocrResults[i].prunedResult.rec_texts`` is
page i's reading. Each round, each system reads every document once with ``--clients``
threads sending whole documents back to back from one queue (the longest first), and the
order of the systems is reversed on alternate rounds (``perf.harness.round_order``), as
``perf/run.py`` measures: these shared machines drift, and a steady drift then moves both
alike. Speed: pages/s over each pass (first request sent to last answer), latency per
document; accuracy per page (``tests.support.scoring``: characters in reading order, whole
words) from the first round, and whether later rounds read the same.

By default the whole run is made in a network namespace of its own with only a loopback
device (``unshare --net``, where this machine allows it): neither server can reach anything.
Writes ``perf/results/documents-<date>[-NAME].md``.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.client
import json
import os
import queue
import shlex
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paddle_python.pipeline import PipelineConfig
from perf import paddlex_serving
from perf.harness import REPOSITORY, RESULTS, WORK, round_order, serve, usable_cpus
from perf.run import table
from tests.support.document_sets import SETS, Document, document_sets
from tests.support.scoring import Score, combine, score

SYSTEMS = ("served", "paddlex")
LABELS = {"served": "served (`ocr-server`, POST /ocr)",
          "paddlex": "PaddleX 3.7 basic serving (POST /ocr)"}
CPU_FLAGS = ("amx_bf16", "amx_tile", "amx_int8", "avx512_bf16", "avx512_vnni", "avx512f",
             "avx2")
REQUEST_TIMEOUT_S = 900
ANSWERING = (400, 405, 415, 422)  # what a route that exists answers an empty POST


@dataclass
class Reading:
    """One document's answer."""

    set: str
    seconds: float
    pages: list[list[str]] = field(default_factory=list)  # texts read, per page
    error: str = ""
    sent: float = 0.0  # seconds from the pass's start
    client: int = 0


@dataclass
class Pass:
    """One system reading every document once with ``clients`` threads."""

    system: str
    round: int
    seconds: float
    readings: list[Reading]
    all_busy_s: float  # until the first client found the queue empty

    @property
    def pages(self) -> int:
        return sum(len(r.pages) for r in self.readings if not r.error)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds

    @property
    def failures(self) -> int:
        return sum(bool(r.error) for r in self.readings)


# --- the wire --------------------------------------------------------------------------------

def request_body(doc: Document, fields: dict) -> bytes:
    """PaddleX's ``POST /ocr`` request for ``doc``, the same for every system."""
    return json.dumps({"file": base64.b64encode(doc.data).decode("ascii"),
                       "fileType": doc.file_type, "visualize": False, **fields}).encode()


def parse_reply(status: int, body: bytes, doc: Document) -> tuple[list[list[str]], str]:
    """Each page's texts from a PaddleX-shaped answer, or what is wrong with it."""
    try:
        reply = json.loads(body)
    except ValueError:
        return [], f"HTTP {status}, not JSON: {body[:200]!r}"
    if status != 200 or reply.get("errorCode") != 0:
        return [], f"HTTP {status}, errorCode {reply.get('errorCode')}: {reply.get('errorMsg')}"
    result = reply.get("result") or {}
    pages = [list(r["prunedResult"]["rec_texts"]) for r in result.get("ocrResults", [])]
    info = result.get("dataInfo") or {}
    if len(pages) != doc.pages:
        return pages, f"{len(pages)} pages read of {doc.pages}"
    if info.get("numPages", doc.pages) != doc.pages:
        return pages, f"dataInfo.numPages {info.get('numPages')} for {doc.pages} pages"
    return pages, ""


class Client:
    """One kept-alive HTTP connection to a server's ``/ocr``."""

    def __init__(self, port: int):
        self.port = port
        self.connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, bytes]:
        for attempt in (0, 1):  # once more on a connection the server had closed
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                             timeout=REQUEST_TIMEOUT_S)
            try:
                self.connection.request("POST", "/ocr", body,
                                        {"Content-Type": "application/json"})
                reply = self.connection.getresponse()
                return reply.status, reply.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def has_ocr_route(port: int) -> bool:
    """Whether the server answers ``POST /ocr`` (an empty one: refused as a bad request, not
    as an unknown path)."""
    client = Client(port)
    try:
        status, _ = client.post(b"")
    finally:
        client.close()
    return status in ANSWERING


# --- measuring -------------------------------------------------------------------------------

def read_pass(system: str, number: int, port: int, docs: list[Document],
              bodies: dict[str, bytes], clients: int) -> Pass:
    """Every document once, ``clients`` threads taking the next one from a shared queue."""
    order = sorted(docs, key=lambda d: (-d.pages, -len(d.data)))  # the longest first
    work: queue.Queue[Document] = queue.Queue()
    for doc in order:
        work.put(doc)
    readings: list[Reading] = []
    lock = threading.Lock()
    idle_at: list[float] = []
    start = time.perf_counter()

    def client_loop(index: int) -> None:
        client = Client(port)
        try:
            while True:
                try:
                    doc = work.get_nowait()
                except queue.Empty:
                    with lock:
                        idle_at.append(time.perf_counter() - start)
                    return
                sent = time.perf_counter()
                try:
                    status, body = client.post(bodies[doc.set])
                    pages, error = parse_reply(status, body, doc)
                except (OSError, http.client.HTTPException) as exc:
                    pages, error = [], f"{type(exc).__name__}: {exc}"
                    client.close()
                reading = Reading(doc.set, time.perf_counter() - sent, pages, error,
                                  sent - start, index)
                with lock:
                    readings.append(reading)
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    result = Pass(system, number, seconds, readings, min(idle_at) if idle_at else seconds)
    errors = [f"{r.set}: {r.error}" for r in readings if r.error]
    print(f"  {system}: {result.pages} pages in {seconds:.1f} s, {result.pages_per_s:.3f} "
          f"pages/s, all {clients} clients busy for {result.all_busy_s:.0f} s"
          + (f"; FAILED {errors}" if errors else ""), flush=True)
    return result


def warm_up(system: str, port: int, docs: list[Document], bodies: dict[str, bytes]) -> None:
    """The shortest PDF and the shortest TIFF, untimed: the first pages of a size run slower
    (every PDF's pages are rendered to one size, every TIFF's come in one)."""
    client = Client(port)
    try:
        for file_type in dict.fromkeys(d.file_type for d in docs):
            doc = min((d for d in docs if d.file_type == file_type), key=lambda d: d.pages)
            status, body = client.post(bodies[doc.set])
            _, error = parse_reply(status, body, doc)
            if error:
                raise RuntimeError(f"{system} could not read {doc.name}: {error}")
    finally:
        client.close()


# --- the machine -----------------------------------------------------------------------------

def cpu_info() -> dict[str, str]:
    """The CPU's name and the vector and matrix extensions that matter to Paddle's kernels."""
    text = Path("/proc/cpuinfo").read_text()
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.startswith("model name")), "unknown")
    flags_line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    flags = set(flags_line.split(":", 1)[-1].split())
    return {"name": name, "flags": ", ".join(f for f in CPU_FLAGS if f in flags) or "none of "
            + ", ".join(CPU_FLAGS)}


# --- the report ------------------------------------------------------------------------------

def page_scores(run: Pass, docs: list[Document]) -> dict[str, list[Score]]:
    """Per set, each page's score (a page not read scores as read empty)."""
    by_set = {r.set: r for r in run.readings}
    out = {}
    for doc in docs:
        reading = by_set[doc.set]
        out[doc.set] = [score(reading.pages[i] if i < len(reading.pages) else [], list(truth))
                        for i, truth in enumerate(doc.truth)]
    return out


def cell(s: Score) -> tuple[str, str]:
    return ("—" if s.word_recall is None else f"{s.word_recall:.3f}"), f"{s.char_accuracy:.3f}"


def changed_pages(passes: list[Pass]) -> int:
    """Pages read differently in a later round than in the first."""
    first = {r.set: r.pages for r in passes[0].readings}
    return sum(a != b for p in passes[1:] for r in p.readings
               for a, b in zip(first.get(r.set, []), r.pages))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def report(passes: dict[str, list[Pass]], docs: list[Document], args, command: str,
           facts: dict[str, dict[str, str]], seconds: float, offline: bool) -> str:
    systems = list(passes)
    cpu = cpu_info()
    scores = {s: page_scores(passes[s][0], docs) for s in systems}
    title = " and ".join({"served": "the served pipeline",
                          "paddlex": "PaddleX's basic serving"}[s] for s in systems)
    lines = [
        f"# Documents: {title} ({datetime.date.today().isoformat()})", "",
        f"`{command}`", "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{seconds / 60:.1f} min. CPU: {cpu['name']} ({cpu['flags']}); {usable_cpus()} of "
        f"{os.cpu_count()} cores (both servers and the clients on the same ones); network: "
        + ("none (the run had a network namespace of its own, loopback only)" if offline
           else "the machine's (not isolated)") + ".", "",
        f"Workload: {len(docs)} documents, {sum(d.pages for d in docs)} pages "
        "(`tests/support/document_sets.py`). Each round every system reads every document "
        f"once, {args.clients} client threads sending whole documents back to back from one "
        "queue, the longest first; "
        f"{args.rounds} rounds, the order of the systems reversed on alternate rounds. Each "
        "system read the shortest PDF and the shortest TIFF before the first round (untimed).",
        "",
        "Request body, the same to both: `{\"file\": <base64>, \"fileType\": 0 (PDF) | 1 "
        "(TIFF), \"visualize\": false"
        + "".join(f", \"{k}\": {json.dumps(v)}" for k, v in args.fields.items()) + "}`.", "",
        "Systems:", "",
    ]
    for system in systems:
        lines.append(f"- **{system}**: {facts[system]['description']}")
    lines += ["", "## Accuracy per set (first round)", "",
              "Characters in reading order (1 - edit distance / length, lines joined in the "
              "order read) and whole words in order, pooled over the set's pages "
              "(`tests/support/scoring.py`); Chinese: characters only.", ""]
    header = ["set", "kind", "pages"]
    for system in systems:
        header += [f"{system} words", f"{system} chars"]
    rows = []
    groups = [(d.set, [d]) for d in docs]
    groups += [(f"**all {lang}**", [d for d in docs if d.lang == lang])
               for lang in dict.fromkeys(d.lang for d in docs)]
    for name, members in groups:
        row: list[object] = [name, ", ".join(dict.fromkeys(d.kind for d in members)),
                             sum(d.pages for d in members)]
        for system in systems:
            row += cell(combine(s for d in members for s in scores[system][d.set]))
        rows.append(row)
    lines.append(table(header, rows))
    lines += ["", "Pages read differently in later rounds than in the first: "
              + ", ".join(f"{s} {changed_pages(passes[s])}" for s in systems) + ".", ""]

    lines += ["## Speed", "",
              f"Pages/s over each pass (first request sent to last answer; the last documents "
              f"run with fewer than {args.clients} in flight: 'all busy' is the share of the "
              "pass before the first client found the queue empty); latency per document over "
              "every round's documents, from sending it to its answer (queueing in the server "
              "included); per page: a document's latency over its pages. With "
              f"{len(docs)} documents a round, p99 is close to the slowest.", ""]
    speed_rows = []
    for system in systems:
        runs = passes[system]
        latencies = [r.seconds * 1000 for p in runs for r in p.readings if not r.error]
        per_page = [r.seconds * 1000 / len(r.pages) for p in runs for r in p.readings
                    if not r.error and r.pages]
        speed_rows.append([
            LABELS[system], len(runs),
            f"**{statistics.mean(p.pages_per_s for p in runs):.3f}** ("
            + ", ".join(f"{p.pages_per_s:.3f}" for p in runs) + ")",
            f"{statistics.mean(len(p.readings) / p.seconds for p in runs):.3f}",
            f"{percentile(latencies, 50):.0f}", f"{percentile(latencies, 99):.0f}",
            f"{percentile(per_page, 50):.0f}",
            f"{statistics.mean(p.all_busy_s / p.seconds for p in runs):.0%}",
            sum(p.failures for p in runs), facts[system].get("ready s", "")])
    lines.append(table(["system", "rounds", f"pages/s at {args.clients} documents in flight "
                    "(per round)", "documents/s",
                    "p50 ms / document", "p99 ms / document", "p50 ms / page", "all busy",
                    "failed", "ready s"], speed_rows))
    if {"served", "paddlex"} <= set(systems):
        top = [p.pages_per_s for p in passes["served"]]
        bottom = [p.pages_per_s for p in passes["paddlex"]]
        lines += ["", f"**served / PaddleX pages/s: {sum(top) / sum(bottom):.2f}** "
                  f"(ratio of the means; per round "
                  + ", ".join(f"{a / b:.2f}" for a, b in zip(top, bottom)) + ")."]
    lines += ["", "## Per page (first round)", "",
              table(["set", "page", "lines", *(f"{s} words / chars" for s in systems)],
                     [[d.set, f"{i + 1}: {d.page_names[i]}", len(d.truth[i]),
                       *(" / ".join(cell(scores[s][d.set][i])) for s in systems)]
                      for d in docs for i in range(d.pages)]),
              "", "## Per document and round (seconds)", "",
              table(["system", "round", *(d.set for d in docs)],
                     [[s, p.round + 1, *(next(f"{r.seconds:.1f}" + (" (failed)" if r.error
                                                                   else "")
                                              for r in p.readings if r.set == d.set)
                                         for d in docs)]
                      for s in systems for p in passes[s]]), ""]
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------------

def field_value(text: str) -> tuple[str, object]:
    """``KEY=VALUE``; the value read as JSON where it is (``960``, ``false``), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="", help="the report is documents-<date>-NAME.md")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4, help="documents in flight")
    parser.add_argument("--field", dest="field_list", action="append", default=[],
                        type=field_value, metavar="KEY=VALUE",
                        help="a PaddleX request field sent to both (textDetLimitSideLen=960)")
    parser.add_argument("--cpus", type=int, help="pin the whole run to this many cores")
    parser.add_argument("--paddlex-threads", type=int,
                        help="Paddle CPU threads of PaddleX's serving (default: one per core)")
    parser.add_argument("--served-args", default="",
                        help="more ocr-server arguments, e.g. \"-- --model-config-name=pages\"")
    parser.add_argument("--network", action="store_true",
                        help="run with the machine's network (default: a namespace of its own, "
                             "loopback only, where the machine allows it)")
    args = parser.parse_args(argv)
    args.fields = dict(args.field_list)
    return args


def start_served(args, facts: dict) -> tuple[object, int]:
    log = WORK / "documents-served.log"
    server, ready_s = serve(REPOSITORY, log, shlex.split(args.served_args))
    port = server.http_port
    if not has_ocr_route(port):
        server.stop()
        raise SystemExit("ocr-server answers no POST /ocr on its HTTP port yet: run with "
                         "--systems paddlex")
    resize = PipelineConfig.from_repository(REPOSITORY).resize
    facts["served"] = {
        "ready s": f"{ready_s:.1f}",
        "description": "`ocr-server --model-repository model_repository"
                       + (f" {args.served_args}" if args.served_args else "")
                       + "` (the default pack, PP-OCRv5 mobile), its HTTP port's `POST /ocr`, "
                       "as configured: PDF pages rendered at `ocr_document`'s resolution, "
                       f"detection at {resize.det_limit_type} side {resize.det_limit_side_len} "
                       "unless a request field says otherwise; the server inherits this "
                       "run's cores."}
    return server, port


def start_paddlex(args, facts: dict) -> tuple[paddlex_serving.PaddlexServer, int]:
    server = paddlex_serving.start(WORK / "documents-paddlex.log", threads=args.paddlex_threads)
    pins = paddlex_serving.versions()
    detection = ", ".join(f"{k} {v}" for k, v in paddlex_serving.DETECTION.items())
    facts["paddlex"] = {
        "ready s": f"{server.ready_s:.1f}",
        "description": f"`paddlex --serve` (paddlex {pins.get('paddlex')}, paddlepaddle "
                       f"{pins.get('paddlepaddle')}, `perf/paddlex_serving.py`, its own venv) "
                       "with PaddleX's OCR pipeline on the same files "
                       f"(`{paddlex_serving.DET_DIR.relative_to(REPOSITORY.parent)}`, "
                       f"`{paddlex_serving.REC_DIR.relative_to(REPOSITORY.parent)}`, "
                       "PP-OCRv5 mobile) at PaddleX's PP-OCRv5 defaults (detection: "
                       f"{detection}; recognition batch "
                       f"{paddlex_serving.RECOGNITION['batch_size']}), "
                       "`use_doc_preprocessor: False`, `use_textline_orientation: False`; "
                       "PDF pages rendered at 144 dpi (its scale 2); one pipeline call at a "
                       f"time; pinned to cores {server.cpus} with {server.threads} Paddle "
                       "threads."}
    return server, server.port


def run(args, command: str, offline: bool) -> int:
    if args.cpus:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.cpus])
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    begun = time.perf_counter()
    docs = document_sets(tuple(args.sets))
    bodies = {d.set: request_body(d, args.fields) for d in docs}
    print(f"documents: {len(docs)} documents, {sum(d.pages for d in docs)} pages; "
          f"systems {', '.join(args.systems)}", flush=True)
    facts: dict[str, dict[str, str]] = {}
    servers, ports = {}, {}
    try:
        for system in args.systems:
            start = start_served if system == "served" else start_paddlex
            servers[system], ports[system] = start(args, facts)
            print(f"documents: {system} ready in {facts[system]['ready s']} s on port "
                  f"{ports[system]}", flush=True)
        for system in args.systems:
            warm_up(system, ports[system], docs, bodies)
        passes: dict[str, list[Pass]] = {s: [] for s in args.systems}
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}", flush=True)
            for system in round_order(list(args.systems), number):
                passes[system].append(read_pass(system, number, ports[system], docs, bodies,
                                                args.clients))
    finally:
        for system, server in servers.items():
            server.stop()
    text = report(passes, docs, args, command, facts, time.perf_counter() - begun, offline)
    date = datetime.date.today().isoformat()
    out = RESULTS / (f"documents-{date}" + (f"-{args.name}" if args.name else "") + ".md")
    out.write_text(text)
    print(text)
    print(f"documents: written to {out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    command = shlex.join(["python", "-m", "perf.documents", *argv])
    inside = bool(os.environ.get(paddlex_serving.OFFLINE_MARK))
    if inside or args.network:
        return run(args, command, offline=inside and paddlex_serving.network_devices() == ["lo"])
    if not paddlex_serving.can_isolate():
        raise SystemExit("cannot make a network namespace here (unshare --net): pass --network")
    if "paddlex" in args.systems:
        paddlex_serving.install()  # while there is a network to install from
    return paddlex_serving.in_own_namespace(["perf.documents", *argv])


if __name__ == "__main__":
    sys.exit(main())
