"""Compare server configurations under the same load: which threads, instance counts and
queue delays pay on this machine. Each variant is the model repository with a few
config.pbtxt edits, served by a fresh server and driven by perf_analyzer.

    .venv/bin/python -m perf.sweep --concurrency 8 --window 27 --out perf/results/sweep.md
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from pathlib import Path

from paddle_python import options
from perf.harness import (
    REPOSITORY,
    RunningServer,
    perf_analyzer,
    photos,
    round_order,
    serve,
    server_pss_mb,
    server_rss_mb,
    variant_repository,
    write_input_data,
)


def parameter(model: str, name: str, value: object) -> dict[str, dict[str, str]]:
    """Set one of a model's config.pbtxt parameters, whatever the repository has now."""
    current = options.parameters(options.load_model_config(REPOSITORY / model))[name]
    key = '{{ key: "%s", value: {{ string_value: "{}" }} }}' % name
    return {model: {key.format(current): key.format(value)}}


def threads(det: int, rec: int, cls: int = 1) -> dict[str, dict[str, str]]:
    """Set each Paddle model's cpu_threads."""
    return merge(parameter("text_det", "cpu_threads", det),
                 parameter("text_rec", "cpu_threads", rec),
                 parameter("text_cls", "cpu_threads", cls))


def instances(model: str, count: int) -> dict[str, dict[str, str]]:
    """Set a Paddle model's instance count, whatever the repository has now."""
    current = options.load_model_config(REPOSITORY / model)["instance_group"][0]["count"]
    return {model: {f"instance_group [ {{ count: {current} }} ]":
                    f"instance_group [ {{ count: {count} }} ]"}}


def merge(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for part in parts:
        for model, edits in part.items():
            out.setdefault(model, {}).update(edits)
    return out


def rec_widths(widths: str) -> dict[str, dict[str, str]]:
    """Other recognition width buckets, in ocr_postprocess and in what text_rec accepts
    (its warm-up still covers only the configured widths)."""
    return merge(parameter("ocr_postprocess", "rec_width_buckets", widths),
                 parameter("text_rec", "input_widths", widths))


def rec_max_batch(size: int) -> dict[str, dict[str, str]]:
    """text_rec batches of at most ``size`` crops: the batch sizes it runs, and its warm-up,
    cut to match. With BLS requests of ``size`` crops the dynamic batcher then cannot merge
    two full requests into one execution (which leaves the other instance idle)."""
    text = (REPOSITORY / "text_rec" / "config.pbtxt").read_text()
    config = options.load_model_config(REPOSITORY / "text_rec")
    sizes = options.parameters(config)["batch_sizes"]
    edits = {f"max_batch_size: {config['max_batch_size']}": f"max_batch_size: {size}"}
    for line in text.splitlines(keepends=True):
        found = re.search(r"batch_size: (\d+),", line)
        if found and int(found.group(1)) > size:
            edits[line] = ""
    return merge({"text_rec": edits}, parameter(
        "text_rec", "batch_sizes", ",".join(b for b in sizes.split(",") if int(b) <= size)))


def without_dynamic_batching(model: str) -> dict[str, dict[str, str]]:
    """Triton's default scheduler instead: one request per execution, on any free instance."""
    text = (REPOSITORY / model / "config.pbtxt").read_text()
    return {model: {re.search(r"dynamic_batching \{.*?\n\}\n", text, re.S).group(0): ""}}


def queue_delay(model: str, old: int, new: int) -> dict[str, dict[str, str]]:
    text = "max_queue_delay_microseconds: {}"
    return {model: {text.format(old): text.format(new)}}


# text_cls's dynamic batcher before 2026-11-28: with one instance, Triton 2.51 left its requests
# queued up to 500 ms beside the idle instance (model_repository/text_cls/config.pbtxt).
CLS_BATCHER = """dynamic_batching {
  max_queue_delay_microseconds: 1000
  default_queue_policy {
    max_queue_size: 256
    timeout_action: REJECT
    default_timeout_microseconds: 30000000
    allow_timeout_override: true
  }
}
"""


# Environment for the server (and so every stub) in a variant.
ENVIRONMENTS: dict[str, dict[str, str]] = {
    # The launcher's thresholds before 2026-11-28, in every process instead of the predictors'.
    "malloc thresholds 64 MiB / 128 MiB everywhere": {
        "MALLOC_MMAP_THRESHOLD_": str(64 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(128 * 2**20)},
    # OpenMP's default, which the launcher's OMP_WAIT_POLICY=PASSIVE replaces: a thread that
    # runs out of work spins for 200 ms before it sleeps.
    "OpenMP threads spin 200 ms when idle": {"KMP_BLOCKTIME": "200"},
}

VARIANTS: dict[str, dict[str, dict[str, str]]] = {
    "as configured": {},
    "one rec instance, det 2 / rec 2 threads": merge(threads(2, 2), instances("text_rec", 1)),
    "det 1 / rec 1 threads": threads(1, 1),
    "one rec instance, det 1 / rec 2 threads": merge(threads(1, 2), instances("text_rec", 1)),
    "two rec instances on 2 threads": threads(2, 2),
    "rec widths 160..1280 (7)": rec_widths("160,320,480,640,800,960,1280"),
    "rec queue delay 2 ms": queue_delay("text_rec", 0, 2000),
    "rec batches of at most 4": rec_max_batch(4),
    "rec without dynamic batching": without_dynamic_batching("text_rec"),
    "det queue delay 0": queue_delay("text_det", 2000, 0),
    "cls through a dynamic batcher": {"text_cls": {
        "instance_group [ { count: 1 } ]": CLS_BATCHER + "instance_group [ { count: 1 } ]"}},
    "rec BLS requests of at most 2 crops": parameter("ocr_postprocess", "bls_max_batch", 2),
    "cls BLS requests of at most 4 windows": parameter("ocr_postprocess", "cls_bls_max_batch", 4),
    "rec runs without a width limit": parameter("text_rec", "max_batch_width", 0),
    "rec runs of at most 1280 columns": parameter("text_rec", "max_batch_width", 1280),
    "rec buckets 80 apart, runs of 1280": merge(
        rec_widths("320,400,480,560,640,800,960,1120,1280"),
        parameter("text_rec", "max_batch_width", 1280)),
    "malloc thresholds 64 MiB / 128 MiB everywhere": {},
    "OpenMP threads spin 200 ms when idle": {},
    "rec and cls keep 128 MiB of free heap": merge(parameter("text_rec", "heap_trim_mb", 128),
                                                   parameter("text_cls", "heap_trim_mb", 128)),
    "postprocess reads 2 images at once": parameter("ocr_postprocess", "images_in_flight", 2),
    "postprocess reads 8 images at once": parameter("ocr_postprocess", "images_in_flight", 8),
    "postprocess has 8 BLS requests out": parameter("ocr_postprocess", "bls_max_in_flight", 8),
    "affine blocks not folded": merge(parameter("text_det", "fold_affine_blocks", "false"),
                                      parameter("text_rec", "fold_affine_blocks", "false")),
    "two postprocess instances, 2 images each": merge(
        {"ocr_postprocess": {"count: 1, kind: KIND_CPU": "count: 2, kind: KIND_CPU"}},
        parameter("ocr_postprocess", "images_in_flight", 2)),
}


def serve_variant(name: str, work: Path) -> RunningServer:
    """Start a server on variant ``name``'s repository (built under ``work``) and
    environment."""
    repo = variant_repository(work / "repo", VARIANTS[name])
    saved = dict(os.environ)
    os.environ.update(ENVIRONMENTS.get(name, {}))
    try:
        server, _ = serve(repo, work / "server.log")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8])
    parser.add_argument("--window", type=int, default=27, help="requests per measurement window")
    parser.add_argument("--only", nargs="*", help="variant names to run")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every variant once per round, reversing the order on "
                             "alternate rounds (the machine's speed drifts)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ocr-sweep-"))
    data = write_input_data(photos(), work / "input.json")
    rows = ["| variant | concurrency | images/s | p50 ms | p99 ms | text_rec batch | CPU ms per image "
            "| text_det CPU ms | RSS MB | PSS MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    names = [name for name in VARIANTS if not args.only or name in args.only]
    order = [name for r in range(args.rounds) for name in round_order(names, r)]
    for name in order:
        server = serve_variant(name, work)
        try:
            perf_analyzer(server.grpc_url, "grpc", data, max(args.concurrency), 9)  # warm
            for concurrency in args.concurrency:
                r = perf_analyzer(server.grpc_url, "grpc", data, concurrency, args.window,
                                  server=server)
                row = (f"| {name} | {concurrency} | {r.throughput:.2f} | {r.p50_ms:.0f} | "
                       f"{r.p99_ms:.0f} | {r.stages['text_rec'].batch:.1f} | "
                       f"{r.server_cpu_ms:.0f} | {r.cpu_ms.get('text_det', 0):.0f} | "
                       f"{server_rss_mb(server):.0f} | {server_pss_mb(server):.0f} |")
                print(row, flush=True)
                rows.append(row)
        finally:
            server.stop()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
