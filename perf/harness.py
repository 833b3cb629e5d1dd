"""Pieces the benchmarks share: a served model repository, perf_analyzer runs, Triton's
per-model statistics, and process memory.

Everything measures the real thing: ``ocr-server`` (the launcher users run), perf_analyzer
2.51.0 from the tritonclient wheel, and ``/proc`` for memory.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from tests.support.server import RunningServer, children, copy_repository, start_server

ROOT = Path(__file__).resolve().parents[1]

PERF_ANALYZER = ROOT / "perf" / "perf_analyzer"
REPOSITORY = ROOT / "model_repository"
RESULTS = ROOT / "perf" / "results"  # reports and plots that are committed
WORK = ROOT / "perf" / "work"  # inputs and logs of a run
PHOTOS = ROOT.parent / "shared" / "images"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def usable_cpus() -> int:
    """The cores this process may run on (fewer than the machine's in a pinned run)."""
    return len(os.sched_getaffinity(0))


def photos() -> list[Path]:
    """The team's real photographs: the benchmark workload."""
    return sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def mixed_sizes(images: list[Path], folder: Path) -> list[Path]:
    """The photos at several scales: every detection bucket and many crop widths get used."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in images:
        image = cv2.imread(str(path))
        for scale in (0.5, 0.75, 1.0, 1.5, 2.0):
            target = folder / f"{path.stem}_{int(scale * 100)}.jpg"
            resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(target), resized, [cv2.IMWRITE_JPEG_QUALITY, 92])
            out.append(target)
    return out


def write_input_data(images: list[Path], path: Path) -> Path:
    from perf.make_input_data import input_data

    path.write_text(json.dumps(input_data(images)))
    return path


def round_order(items: list, number: int) -> list:
    """The order to measure ``items`` in, in round ``number`` (from 0): reversed on every
    other round, so that a steady drift of the machine's speed moves every item alike."""
    return items if number % 2 == 0 else items[::-1]


def variant_repository(target: Path, overrides: dict[str, dict[str, str]]) -> Path:
    """A copy of the model repository with some config.pbtxt text replaced.

    ``overrides`` maps a model name to ``{old text: new text}``; the weights are linked.
    """
    copy_repository(REPOSITORY, target)
    for weights in REPOSITORY.glob("*/*/*"):
        if weights.name.startswith("inference.") or weights.suffix == ".txt":
            (target / weights.relative_to(REPOSITORY)).symlink_to(weights)
    for model, replacements in overrides.items():
        config = target / model / "config.pbtxt"
        text = config.read_text()
        for old, new in replacements.items():
            if old not in text:
                raise KeyError(f"{model}/config.pbtxt has no {old!r}")
            text = text.replace(old, new)
        config.write_text(text)
    return target


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes together, in MB."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total * 4096 / 2**20


def pss_mb(pids: list[int]) -> float:
    """Proportional set size together, in MB: shared library pages counted once overall,
    where summed RSS counts Paddle's libraries again in every stub."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total / 1024


def server_pss_mb(server: RunningServer) -> float:
    return pss_mb(children(server.process.pid))


def server_rss_mb(server: RunningServer) -> float:
    """tritonserver and every stub (all descendants of the launcher)."""
    return rss_mb(children(server.process.pid))


class MemorySampler:
    """Samples the server's summed RSS and PSS (MB) in the background while a workload runs;
    ``samples`` holds (seconds, rss, pss)."""

    def __init__(self, server: RunningServer, interval: float = 1.0):
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "MemorySampler":
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = children(self.server.process.pid)
            self.samples.append((time.monotonic() - self._start, rss_mb(pids), pss_mb(pids)))
            self._stop.wait(self.interval)


def model_stats(http_url: str) -> dict[str, dict]:
    with urllib.request.urlopen(f"http://{http_url}/v2/models/stats", timeout=10) as reply:
        return {m["name"]: m for m in json.load(reply)["model_stats"]}


@dataclass
class StageStats:
    """One model's share of a run: from the difference of two statistics snapshots."""

    requests: int
    executions: int
    inferences: int
    queue_ms: float  # mean per request
    compute_ms: float  # mean per request: Triton charges each request its execution's time

    @property
    def batch(self) -> float:
        return self.inferences / self.executions if self.executions else 0.0

    def __add__(self, other: "StageStats") -> "StageStats":
        """Two measurements of the same model together (means weighted by their counts)."""
        requests, executions = self.requests + other.requests, self.executions + other.executions
        return StageStats(
            requests=requests, executions=executions,
            inferences=self.inferences + other.inferences,
            queue_ms=(self.queue_ms * self.requests + other.queue_ms * other.requests)
            / max(requests, 1),
            compute_ms=(self.compute_ms * self.requests + other.compute_ms * other.requests)
            / max(requests, 1),
        )


def stats_delta(before: dict[str, dict], after: dict[str, dict]) -> dict[str, StageStats]:
    out = {}
    for name, now in after.items():
        then = before.get(name)
        if then is None:
            continue

        def diff(*keys: str, source: dict = now, old: dict = then) -> int:
            a, b = source, old
            for key in keys:
                a, b = a[key], b[key]
            return int(a) - int(b)

        requests = diff("inference_stats", "success", "count")
        executions = diff("execution_count")
        out[name] = StageStats(
            requests=requests,
            executions=executions,
            inferences=diff("inference_count"),
            queue_ms=diff("inference_stats", "queue", "ns") / 1e6 / max(requests, 1),
            compute_ms=diff("inference_stats", "compute_infer", "ns") / 1e6 / max(requests, 1),
        )
    return out


@dataclass
class LoadResult:
    """One perf_analyzer measurement at one concurrency."""

    system: str
    protocol: str
    concurrency: int
    throughput: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_busy: float = 0.0  # share of the machine's cores busy meanwhile (load generator too)
    stages: dict[str, StageStats] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU per request, by process

    @property
    def server_cpu_ms(self) -> float:
        """CPU per request of the server's processes together, the load generator left out:
        the figure that moves least when something else shares the cores."""
        return sum(ms for name, ms in self.cpu_ms.items() if name != "perf_analyzer")


def mean_result(results: list[LoadResult]) -> LoadResult:
    """Repeated measurements of one point as one: throughput, latency percentiles and CPU
    averaged, Triton's statistics summed."""
    first, n = results[0], len(results)
    stages: dict[str, StageStats] = {}
    cpu_ms: dict[str, float] = {}
    for result in results:
        for name, stage in result.stages.items():
            stages[name] = stages[name] + stage if name in stages else stage
        for name, ms in result.cpu_ms.items():
            cpu_ms[name] = cpu_ms.get(name, 0.0) + ms / n
    return LoadResult(
        system=first.system, protocol=first.protocol, concurrency=first.concurrency,
        throughput=sum(r.throughput for r in results) / n,
        p50_ms=sum(r.p50_ms for r in results) / n, p90_ms=sum(r.p90_ms for r in results) / n,
        p99_ms=sum(r.p99_ms for r in results) / n, cpu_busy=sum(r.cpu_busy for r in results) / n,
        stages=stages, cpu_ms=cpu_ms,
    )


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def run_perf_analyzer(url: str, protocol: str, input_data: Path, concurrency: int,
                      window: list[str], model: str = "ocr",
                      extra: list[str] = ()) -> subprocess.CompletedProcess:
    """perf_analyzer at one concurrency with the given window flags; three windows, averaged
    (stability is not required to converge). Raises with its output if it fails."""
    command = [
        str(PERF_ANALYZER), "-m", model, "-i", protocol, "-u", url,
        "--input-data", str(input_data), "--concurrency-range", str(concurrency),
        *window, "--stability-percentage", "999", "--max-trials", "3", *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"perf_analyzer failed ({done.returncode}):\n{done.stdout[-3000:]}"
                           f"\n{done.stderr[-3000:]}")
    return done


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_s(server: RunningServer) -> dict[str, float]:
    """CPU seconds so far of the launcher (its front doors), tritonserver, and the stubs of
    each model (instances summed)."""
    stubs = server.stubs()
    used = {"launcher": process_cpu_s(server.process.pid)}
    for pid in server.children():
        name = stubs.get(pid, "tritonserver")
        used[name] = used.get(name, 0.0) + process_cpu_s(pid)
    return used


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children (perf_analyzer runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def perf_analyzer(url: str, protocol: str, input_data: Path, concurrency: int,
                  window_requests: int, model: str = "ocr", system: str = "served",
                  server: RunningServer | None = None) -> LoadResult:
    """Run perf_analyzer at one concurrency; read its CSV and, for our server, Triton's stage
    statistics and the CPU each process spent per request.

    Windows are counted in requests, not seconds: the photos differ in cost by 10x, so a
    window must hold whole passes over them for the numbers to settle.
    """
    csv_path = input_data.with_name(f"pa_{system}_{protocol}_{concurrency}.csv")
    window = ["--measurement-mode", "count_windows", "--measurement-request-count",
              str(max(window_requests, concurrency))]
    before = model_stats(server.http_url) if server else {}
    cpu_before, load_before = (server_cpu_s(server) if server else {}), children_cpu_s()
    busy_before, total_before = cpu_times()
    run_perf_analyzer(url, protocol, input_data, concurrency, window, model, ["-f", str(csv_path)])
    busy_after, total_after = cpu_times()
    cpu_after, load_after = (server_cpu_s(server) if server else {}), children_cpu_s()
    after = model_stats(server.http_url) if server else {}
    stages = stats_delta(before, after)
    cpu_ms = {}
    if server:
        requests = max(stages[model].requests, 1)
        cpu_ms = {name: 1000 * (used - cpu_before.get(name, 0.0)) / requests
                  for name, used in cpu_after.items()}
        cpu_ms["perf_analyzer"] = 1000 * (load_after - load_before) / requests
    with open(csv_path) as handle:
        row = next(csv.DictReader(handle))
    return LoadResult(
        system=system, protocol=protocol, concurrency=concurrency,
        throughput=float(row["Inferences/Second"]),
        p50_ms=float(row["p50 latency"]) / 1000, p90_ms=float(row["p90 latency"]) / 1000,
        p99_ms=float(row["p99 latency"]) / 1000,
        cpu_busy=(busy_after - busy_before) / max(total_after - total_before, 1),
        stages=stages, cpu_ms=cpu_ms,
    )


def serve(repository: Path, log: Path, extra: list[str] = ()) -> tuple[RunningServer, float]:
    """Start the server; return it and the seconds from launch to ready."""
    start = time.monotonic()
    server = start_server(repository, log, extra=list(extra))
    return server, time.monotonic() - start
