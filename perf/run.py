"""The benchmark: the served pipeline against what a user would otherwise run, in one run.

    make perf         # full: longer windows, a 5-minute memory soak
    make perf-quick   # about 3-4 minutes

Writes ``perf/results/<name>.md`` with tables, and PNG plots beside it; prints the ratios.
Systems, all on the same images and the same cores:

- served: this repository on ``ocr-server``, driven by perf_analyzer over gRPC and HTTP;
- in-process: the same package's pipeline called sequentially in one Python process;
- classic: one synchronous HTTP server holding one pipeline (``perf/classic_server.py``),
  driven by the same perf_analyzer;
- rapidocr_onnxruntime in-process, with the served detection sizing and with its defaults.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from perf.baselines import accuracy
from perf.harness import (
    RESULTS,
    ROOT,
    WORK,
    LoadResult,
    MemorySampler,
    mixed_sizes,
    perf_analyzer,
    photos,
    run_perf_analyzer,
    serve,
    server_pss_mb,
    server_rss_mb,
    write_input_data,
)
from tests.support.render import accuracy_set
from tests.support.server import free_ports


@dataclass
class Mode:
    points: tuple[tuple[str, int], ...]  # (protocol, concurrency) served measurements
    window: int  # requests per perf_analyzer window (a multiple of the 9 photos)
    rounds: int  # passes over the images for in-process baselines
    soak_s: int


QUICK = Mode((("grpc", 1), ("grpc", 4), ("grpc", 8), ("http", 8)), 9, 1, 30)
FULL = Mode(tuple((p, c) for p in ("grpc", "http") for c in (1, 2, 4, 8, 16)), 45, 5, 300)


def served_reader(url: str):
    import tritonclient.grpc as grpcclient

    from tests.support.calls import ocr

    client = grpcclient.InferenceServerClient(url)
    return lambda data: ocr(client, "grpc", data).texts, client


@dataclass
class ColdStart:
    """The first pass over the photos straight after ready, against three later passes."""

    first_ms: float  # the very first request (photos[0])
    steady_p50_ms: float  # p50 of every request of the later passes
    first_pass_ratios: list[float]  # per photo: first-pass latency / its later median
    same_image_ms: float  # photos[0] repeated back to back (a hotter reference)


def cold_start(url: str, images: list[Path]) -> ColdStart:
    """Time a fresh server's first requests; the client connects first (a health call), so
    only the server's side is timed."""
    read, client = served_reader(url)
    client.is_server_ready()
    payloads = [p.read_bytes() for p in images]
    passes = []
    for _ in range(4):
        times = []
        for data in payloads:
            t = time.perf_counter()
            read(data)
            times.append(1000 * (time.perf_counter() - t))
        passes.append(times)
    repeats = []
    for _ in range(5):
        t = time.perf_counter()
        read(payloads[0])
        repeats.append(1000 * (time.perf_counter() - t))
    client.close()
    later = passes[1:]
    return ColdStart(
        first_ms=passes[0][0],
        steady_p50_ms=statistics.median(v for times in later for v in times),
        first_pass_ratios=[passes[0][i] / statistics.median(t[i] for t in later)
                           for i in range(len(payloads))],
        same_image_ms=statistics.median(repeats),
    )


def soak(server, data: Path, seconds: int) -> dict[str, float]:
    """Summed RSS and PSS of tritonserver and its stubs under concurrency 8 on mixed sizes."""
    window = ["--measurement-interval", str(seconds * 1000 // 4)]
    with MemorySampler(server, interval=2.0) as sampler:
        run_perf_analyzer(server.grpc_url, "grpc", data, 8, window)
    rss = [r for _, r, _ in sampler.samples]
    pss = [p for _, _, p in sampler.samples]
    settled = next(i for i, (t, _, _) in enumerate(sampler.samples) if t >= min(60.0, seconds / 3))
    return {"seconds": sampler.samples[-1][0], "max_mb": max(rss), "settled_mb": rss[settled],
            "end_mb": rss[-1], "pss_settled_mb": pss[settled], "pss_max_mb": max(pss),
            "pss_end_mb": pss[-1], "growth_after_warmup": (rss[-1] - rss[settled]) / rss[settled]}


def classic_baseline(mode: Mode, data: Path) -> list[LoadResult]:
    (port,) = free_ports(1)
    log = open(WORK / "classic.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "perf.classic_server", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "ready" not in (WORK / "classic.log").read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError((WORK / "classic.log").read_text()[-2000:])
            time.sleep(0.5)
        return [perf_analyzer(f"127.0.0.1:{port}", "http", data, c, mode.window,
                              system="classic") for c in (1, 8)]
    finally:
        process.terminate()
        process.wait()


def plots(served: list[LoadResult], baselines: dict[str, float], out: Path) -> list[Path]:
    """Throughput vs concurrency (with the baselines), and latency vs throughput."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = sorted({r.protocol for r in served})

    def save(fig, ax, title: str, xlabel: str, ylabel: str, suffix: str) -> Path:
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out.with_name(f"{out.stem}-{suffix}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for protocol in protocols:
        rows = [r for r in served if r.protocol == protocol]
        ax.plot([r.concurrency for r in rows], [r.throughput for r in rows], "o-",
                label=f"served ({protocol})")
    for (name, value), color in zip(baselines.items(), ("tab:gray", "tab:red", "tab:green")):
        ax.axhline(value, linestyle="--", linewidth=1.2, label=name, color=color)
    ax.set_xscale("log", base=2)
    throughput = save(fig, ax, "Throughput vs concurrency", "concurrency (requests in flight)",
                      "images / s", "throughput")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for protocol in protocols:
        rows = [r for r in served if r.protocol == protocol]
        ax.plot([r.throughput for r in rows], [r.p50_ms for r in rows], "o-", label=f"p50 ({protocol})")
        ax.plot([r.throughput for r in rows], [r.p99_ms for r in rows], "s--", label=f"p99 ({protocol})")
    ax.set_yscale("log")
    latency = save(fig, ax, "Latency vs throughput (served)", "images / s", "latency (ms)", "latency")
    return [throughput, latency]


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL
    name = args.name or ("quick" if args.quick else "full") + datetime.date.today().strftime("-%Y-%m-%d")
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    images = photos()
    data = write_input_data(images, WORK / "input.json")
    mixed = write_input_data(mixed_sizes(images, WORK / "mixed"), WORK / "mixed.json")
    report: list[str] = []

    # --- served -------------------------------------------------------------------------
    server, ready_s = serve(ROOT / "model_repository", WORK / "server.log")
    try:
        ready_rss, ready_pss = server_rss_mb(server), server_pss_mb(server)
        cold = cold_start(server.grpc_url, images)
        print(f"launch to ready {ready_s:.1f} s; first request {cold.first_ms:.0f} ms, steady "
              f"p50 {cold.steady_p50_ms:.0f} ms", flush=True)
        served: list[LoadResult] = []
        with MemorySampler(server) as load_memory:
            for protocol, concurrency in mode.points:
                url = server.grpc_url if protocol == "grpc" else server.http_url
                result = perf_analyzer(url, protocol, data, concurrency, mode.window,
                                       stats_url=server.http_url)
                served.append(result)
                print(f"served {protocol} c={concurrency}: {result.throughput:.2f} img/s "
                      f"p50 {result.p50_ms:.0f} ms p99 {result.p99_ms:.0f} ms", flush=True)
        read, client = served_reader(server.grpc_url)
        served_accuracy = accuracy(read)
        client.close()
        memory = soak(server, mixed, mode.soak_s)
        print(f"soak: {memory}", flush=True)
    finally:
        exit_code = server.stop()

    # --- baselines, each in a process of its own ----------------------------------------
    labels = {"in-process": "in-process (same package, sequential)",
              "onnx-960": "rapidocr_onnxruntime (served sizing: max side 960)",
              "onnx-default": "rapidocr_onnxruntime (its defaults: min side 736)"}
    measured = {}
    for system in labels:
        out = WORK / f"baseline-{system}.json"
        subprocess.run([sys.executable, "-m", "perf.baselines", system,
                        "--rounds", str(mode.rounds), "--out", str(out)],
                       check=True, capture_output=True)
        measured[system] = json.loads(out.read_text())
        print(f"{labels[system]}: {measured[system]['throughput']:.2f} img/s", flush=True)
    in_process, peers = measured["in-process"], [measured["onnx-960"], measured["onnx-default"]]
    classic = classic_baseline(mode, data)
    print(f"classic c=8: {classic[1].throughput:.2f} img/s", flush=True)

    # --- report -------------------------------------------------------------------------
    best = max((r for r in served if r.protocol == "grpc"), key=lambda r: r.throughput)
    c1 = next(r for r in served if r.protocol == "grpc" and r.concurrency == 1)
    c8 = next(r for r in served if r.protocol == "grpc" and r.concurrency == 8)
    classic8 = classic[1]
    ratios = [
        ["served best (gRPC c=%d) / in-process sequential" % best.concurrency,
         f"{best.throughput / in_process['throughput']:.2f}", ">= 1.1"],
        ["served / classic server, both at c=8", f"{c8.throughput / classic8.throughput:.2f}",
         ">= 1.2"],
        ["served p99 / classic p99 at c=8", f"{c8.p99_ms / classic8.p99_ms:.2f}", "< 1"],
        ["served best / rapidocr_onnxruntime (served sizing)",
         f"{best.throughput / peers[0]['throughput']:.2f}", ">= 1.3"],
        ["served best / rapidocr_onnxruntime (its defaults)",
         f"{best.throughput / peers[1]['throughput']:.2f}", "-"],
        ["served c=1 p50 / in-process p50", f"{c1.p50_ms / in_process['p50_ms']:.2f}", "<= 1.15"],
        ["first request after ready / steady-state p50", f"{cold.first_ms / cold.steady_p50_ms:.2f}",
         "<= 1.5"],
        ["first pass / later passes, per photo: median, max",
         f"{statistics.median(cold.first_pass_ratios):.2f}, {max(cold.first_pass_ratios):.2f}", "-"],
        ["first request / the same photo repeated back to back",
         f"{cold.first_ms / cold.same_image_ms:.2f}", "-"],
        ["launch to ready (s)", f"{ready_s:.1f}", "<= 15"],
        ["text_rec average batch at c=8", f"{c8.stages['text_rec'].batch:.1f}", "> 2"],
        ["memory after warm-up / soak max, summed RSS (MB)",
         f"{memory['settled_mb']:.0f} / {memory['max_mb']:.0f}", "< 3072"],
        ["memory after warm-up / soak max, PSS (MB)",
         f"{memory['pss_settled_mb']:.0f} / {memory['pss_max_mb']:.0f}", "< 3072"],
        ["RSS growth after warm-up during soak", f"{100 * memory['growth_after_warmup']:.1f}%",
         "< 10%"],
    ]
    for row in ratios:
        print(f"{row[0]}: {row[1]} (target {row[2]})")

    throughput_rows = [[r.protocol, r.concurrency, f"{r.throughput:.2f}", f"{r.p50_ms:.0f}",
                        f"{r.p99_ms:.0f}"] for r in served]
    stage_rows = []
    for r in served:
        for stage in ("ocr_preprocess", "text_det", "ocr_postprocess", "text_cls", "text_rec"):
            s = r.stages.get(stage)
            if s:
                stage_rows.append([r.protocol, r.concurrency, stage, s.requests, s.executions,
                                   f"{s.batch:.1f}", f"{s.queue_ms:.0f}", f"{s.compute_ms:.0f}"])
    baseline_rows = [[labels[b["system"]], f"{b['throughput']:.2f}", f"{b['p50_ms']:.0f}",
                      f"{b['p99_ms']:.0f}"] for b in (in_process, *peers)]
    baseline_rows += [[f"classic server c={r.concurrency} (perf_analyzer, HTTP)",
                       f"{r.throughput:.2f}", f"{r.p50_ms:.0f}", f"{r.p99_ms:.0f}"] for r in classic]
    accuracy_rows = [["served (gRPC)", *map("{:.3f}".format, served_accuracy)]]
    accuracy_rows += [[labels[b["system"]] + (" and classic (same code)" if b is in_process else ""),
                       f"{b['lines_exact']:.3f}", f"{b['char_accuracy']:.3f}"]
                      for b in (in_process, *peers)]

    out = RESULTS / f"{name}.md"
    pictures = plots(served, {"in-process": in_process["throughput"],
                              "classic c=8": classic8.throughput,
                              "rapidocr_onnxruntime (960)": peers[0]["throughput"]}, out)
    report += [
        f"# OCR benchmark: {name}",
        "",
        f"`{' '.join(['make', 'perf-quick' if args.quick else 'perf'])}` on "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. Workload: "
        f"{len(images)} real photographs ({', '.join(p.name for p in images)}), sent in turn; "
        f"perf_analyzer windows of {mode.window} requests, three per point. Server exit code after the run: "
        f"{exit_code}.",
        "",
        "## Ratios and targets",
        "",
        table(["measure", "value", "target"], ratios),
        "",
        f"![throughput]({pictures[0].name})",
        f"![latency]({pictures[1].name})",
        "",
        "## Served (perf_analyzer)",
        "",
        table(["protocol", "concurrency", "images/s", "p50 ms", "p99 ms"], throughput_rows),
        "",
        "## Baselines (same images, same machine, same run)",
        "",
        table(["system", "images/s", "p50 ms", "p99 ms"], baseline_rows),
        "",
        "## Accuracy on rendered images of known text",
        "",
        "Lines read exactly, and character accuracy (1 - edit distance / characters), spaces "
        f"ignored, over {len(accuracy_set())} rendered images "
        f"({sum(len(t) for _, _, t in accuracy_set())} lines).",
        "",
        table(["system", "lines exact", "character accuracy"], accuracy_rows),
        "",
        "## Where the time goes (Triton statistics per composing model)",
        "",
        "Batch = inferences / executions; queue is per request, compute per execution "
        "(compute includes waiting for a core when models run at once).",
        "",
        table(["protocol", "concurrency", "model", "requests", "executions", "batch",
               "queue ms", "compute ms"], stage_rows),
        "",
        "## Memory and start-up",
        "",
        "Summed RSS counts Paddle's shared libraries (about 300 MB) once per stub and each "
        "shared-memory tensor region in both the stub and the server; PSS divides shared pages "
        "among the processes that map them, so it is what the machine actually spends.",
        "",
        table(["measure", "value"], [
            ["launch to ready", f"{ready_s:.1f} s"],
            ["first request after ready; steady-state p50 of the photos (sequential passes 2-4); "
             "the first photo repeated back to back",
             f"{cold.first_ms:.0f} / {cold.steady_p50_ms:.0f} / {cold.same_image_ms:.0f} ms"],
            ["RSS (tritonserver + stubs, summed) at ready", f"{ready_rss:.0f} MB"],
            ["PSS at ready (shared libraries counted once)", f"{ready_pss:.0f} MB"],
            ["RSS / PSS max during the load runs",
             f"{max(r for _, r, _ in load_memory.samples):.0f} / "
             f"{max(p for _, _, p in load_memory.samples):.0f} MB"],
            [f"soak: {memory['seconds']:.0f} s at c=8 on {len(images) * 5} mixed-size images, "
             "RSS after warm-up / max / end",
             f"{memory['settled_mb']:.0f} / {memory['max_mb']:.0f} / {memory['end_mb']:.0f} MB"],
            ["soak PSS after warm-up / max / end",
             f"{memory['pss_settled_mb']:.0f} / {memory['pss_max_mb']:.0f} / {memory['pss_end_mb']:.0f} MB"],
        ]),
        "",
    ]
    out.write_text("\n".join(report))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
