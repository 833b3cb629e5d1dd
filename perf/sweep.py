"""Compare server configurations under the same load: which threads, instance counts and
queue delays pay on this machine. Each variant is the model repository with a few
config.pbtxt edits, served by a fresh server and driven by perf_analyzer.

    .venv/bin/python -m perf.sweep --concurrency 8 --window 27 --out perf/results/sweep.md
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from paddle_python import options
from perf.harness import (
    REPOSITORY,
    perf_analyzer,
    photos,
    serve,
    server_pss_mb,
    server_rss_mb,
    variant_repository,
    write_input_data,
)


def threads(det: int, rec: int, cls: int = 1) -> dict[str, dict[str, str]]:
    """Set each Paddle model's cpu_threads, whatever the repository has now."""
    key = '{{ key: "cpu_threads", value: {{ string_value: "{}" }} }}'
    out = {}
    for model, value in (("text_det", det), ("text_rec", rec), ("text_cls", cls)):
        current = options.parameters(options.load_model_config(REPOSITORY / model))["cpu_threads"]
        out[model] = {key.format(current): key.format(value)}
    return out


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
    current = "320,480,640,960,1280"
    out = {}
    for model, name in (("ocr_postprocess", "rec_width_buckets"), ("text_rec", "input_widths")):
        key = '{{ key: "%s", value: {{ string_value: "{}" }} }}' % name
        out[model] = {key.format(current): key.format(widths)}
    return out


def queue_delay(model: str, old: int, new: int) -> dict[str, dict[str, str]]:
    text = "max_queue_delay_microseconds: {}"
    return {model: {text.format(old): text.format(new)}}


# Environment for the server (and so every stub) in a variant: OpenMP spin-waiting makes
# Paddle's idle threads in one stub take cores from the busy stub next to it.
ENVIRONMENTS: dict[str, dict[str, str]] = {
    "KMP_BLOCKTIME=0": {"KMP_BLOCKTIME": "0"},
}

VARIANTS: dict[str, dict[str, dict[str, str]]] = {
    "as configured": {},
    "one rec instance, det 2 / rec 2 threads": merge(threads(2, 2), instances("text_rec", 1)),
    "det 1 / rec 1 threads": threads(1, 1),
    "det 1 / rec 2 threads": threads(1, 2),
    "det 2 / rec 1 threads": threads(2, 1),
    "rec widths 160..1280 (7)": rec_widths("160,320,480,640,800,960,1280"),
    "rec widths 320..1280 step 160 (7)": rec_widths("320,480,640,800,960,1120,1280"),
    "rec queue delay 0": queue_delay("text_rec", 2000, 0),
    "rec queue delay 10 ms": queue_delay("text_rec", 2000, 10000),
    "KMP_BLOCKTIME=0": {},
    "det x2 instances, 1 thread each (rec as configured)": merge(threads(1, 1),
                                                                 instances("text_det", 2)),
    "postprocess x2 instances": {"ocr_postprocess": {"count: 1, kind: KIND_CPU": "count: 2, kind: KIND_CPU"}},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8])
    parser.add_argument("--window", type=int, default=27, help="requests per measurement window")
    parser.add_argument("--only", nargs="*", help="variant names to run")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ocr-sweep-"))
    data = write_input_data(photos(), work / "input.json")
    rows = ["| variant | concurrency | images/s | p50 ms | p99 ms | text_rec batch | RSS MB | PSS MB |",
            "|---|---|---|---|---|---|---|---|"]
    for name, overrides in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        repo = variant_repository(work / "repo", overrides)
        saved = dict(os.environ)
        os.environ.update(ENVIRONMENTS.get(name, {}))
        try:
            server, _ = serve(repo, work / "server.log")
        finally:
            os.environ.clear()
            os.environ.update(saved)
        try:
            perf_analyzer(server.grpc_url, "grpc", data, max(args.concurrency), 9)  # warm
            for concurrency in args.concurrency:
                r = perf_analyzer(server.grpc_url, "grpc", data, concurrency, args.window,
                                  server=server)
                row = (f"| {name} | {concurrency} | {r.throughput:.2f} | {r.p50_ms:.0f} | "
                       f"{r.p99_ms:.0f} | {r.stages['text_rec'].batch:.1f} | "
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
