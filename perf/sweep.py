"""Compare server configurations under the same load: which threads, instance counts and
queue delays pay on this machine. Each variant is the model repository with a few
config.pbtxt edits, served by a fresh server and driven by perf_analyzer.

    .venv/bin/python perf/sweep.py --concurrency 8 --window 20000 --out perf/results/sweep.md
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness import perf_analyzer, photos, serve, server_rss_mb, variant_repository, write_input_data


def threads(det: int, rec: int, cls: int = 1) -> dict[str, dict[str, str]]:
    key = '{{ key: "cpu_threads", value: {{ string_value: "{}" }} }}'
    return {
        "text_det": {key.format(2): key.format(det)},
        "text_rec": {key.format(2): key.format(rec)},
        "text_cls": {key.format(1): key.format(cls)},
    }


def instances(model: str, count: int) -> dict[str, dict[str, str]]:
    return {model: {"instance_group [ { count: 1 } ]": f"instance_group [ {{ count: {count} }} ]"}}


def merge(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for part in parts:
        for model, edits in part.items():
            out.setdefault(model, {}).update(edits)
    return out


def rec_widths(widths: str) -> dict[str, dict[str, str]]:
    key = '{{ key: "rec_width_buckets", value: {{ string_value: "{}" }} }}'
    return {"ocr_postprocess": {key.format("320,480,640,960,1280"): key.format(widths)}}


def queue_delay(model: str, old: int, new: int) -> dict[str, dict[str, str]]:
    text = "dynamic_batching {{ max_queue_delay_microseconds: {} }}"
    return {model: {text.format(old): text.format(new)}}


VARIANTS: dict[str, dict[str, dict[str, str]]] = {
    "as configured": {},
    "det 2 / rec 2 threads": threads(2, 2),
    "det 1 / rec 1 threads": threads(1, 1),
    "det 1 / rec 2 threads": threads(1, 2),
    "det 2 / rec 1 threads": threads(2, 1),
    "rec x2 instances, 1 thread each": merge(threads(1, 1), instances("text_rec", 2)),
    "det x2 instances, 1 thread each": merge(threads(1, 2), instances("text_det", 2)),
    "rec widths 160..1280 (7)": rec_widths("160,320,480,640,800,960,1280"),
    "rec widths 320..1280 step 160 (7)": rec_widths("320,480,640,800,960,1120,1280"),
    "rec queue delay 0": queue_delay("text_rec", 2000, 0),
    "rec queue delay 10 ms": queue_delay("text_rec", 2000, 10000),
    "postprocess x2 instances": {"ocr_postprocess": {"count: 1, kind: KIND_CPU": "count: 2, kind: KIND_CPU"}},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8])
    parser.add_argument("--window", type=int, default=20000, help="measurement window, ms")
    parser.add_argument("--only", nargs="*", help="variant names to run")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ocr-sweep-"))
    data = write_input_data(photos(), work / "input.json")
    rows = ["| variant | concurrency | images/s | p50 ms | p99 ms | text_rec batch | RSS MB |",
            "|---|---|---|---|---|---|---|"]
    for name, overrides in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        repo = variant_repository(work / "repo", overrides)
        server, _ = serve(repo, work / "server.log")
        try:
            perf_analyzer(server.grpc_url, "grpc", data, max(args.concurrency), 5000)  # warm
            for concurrency in args.concurrency:
                r = perf_analyzer(server.grpc_url, "grpc", data, concurrency, args.window,
                                  stats_url=server.http_url)
                row = (f"| {name} | {concurrency} | {r.throughput:.2f} | {r.p50_ms:.0f} | "
                       f"{r.p99_ms:.0f} | {r.stages['text_rec'].batch:.1f} | "
                       f"{server_rss_mb(server):.0f} |")
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
