"""Where one image's time goes at concurrency 1: each photo served (gRPC, one request at a
time) against the same package in-process, with the served models' share of it.

    .venv/bin/python -m perf.latency --repeats 5 --out perf/results/latency.md

The served columns come from the server itself: Triton's per-model queue + compute time and
the models' own ``ocr_stage_seconds`` (recognition's wall time inside ``ocr_postprocess``,
and the summed time of text_rec's predictor runs, which may overlap on two instances).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from perf.baselines import in_process_pipeline
from perf.harness import REPOSITORY, WORK, model_stats, photos, serve, stats_delta
from perf.run import served_reader, table
from tests.support.prometheus import scrape, value


def timed(call, data: bytes, repeats: int) -> float:
    """Median milliseconds of ``repeats`` calls, after one untimed call."""
    call(data)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(data)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def in_process(files: list[Path], repeats: int) -> dict[str, float]:
    pipeline = in_process_pipeline()
    return {f.name: timed(pipeline, f.read_bytes(), repeats) for f in files}


def served(files: list[Path], repeats: int) -> dict[str, list[float]]:
    """Per photo: client ms, then per-request means of preprocess, detection and
    postprocess (queue + compute), recognition inside postprocess, text_rec predictor runs."""
    server, _ = serve(REPOSITORY, WORK / "latency.log")
    try:
        read, client = served_reader(server.grpc_url)
        rows = {}
        for f in files:
            data = f.read_bytes()
            read(data)
            stats, stages = model_stats(server.http_url), scrape(server)
            client_ms = timed(read, data, repeats)
            delta = stats_delta(stats, model_stats(server.http_url))
            after = scrape(server)
            per_image = repeats + 1  # timed() makes one untimed call too

            def stage_ms(model: str, stage: str) -> float:
                seconds = [value(samples, "ocr_stage_seconds_sum", model=model, stage=stage)
                           for samples in (after, stages)]
                return 1000 * (seconds[0] - seconds[1]) / per_image

            rows[f.name] = [
                client_ms,
                *(delta[m].queue_ms + delta[m].compute_ms
                  for m in ("ocr_preprocess", "text_det", "ocr_postprocess")),
                stage_ms("ocr_postprocess", "recognize"),
                stage_ms("text_rec", "predict"),
            ]
        client.close()
        return rows
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed requests per photo")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    files = photos()
    remote = served(files, args.repeats)  # first: no Paddle threads of ours in its way
    local = in_process(files, args.repeats)
    rows = []
    for name, (client_ms, pre, det, post, recognize, rec_runs) in remote.items():
        rows.append([name, f"{local[name]:.0f}", f"{client_ms:.0f}",
                     f"{client_ms / local[name]:.2f}", f"{pre:.0f}", f"{det:.0f}", f"{post:.0f}",
                     f"{recognize:.0f}", f"{rec_runs:.0f}",
                     f"{client_ms - pre - det - post:.0f}"])
    report = table(["photo", "in-process ms", "served ms", "ratio", "preprocess", "text_det",
                    "postprocess", "of it recognition", "text_rec runs (summed)",
                    "outside the models"], rows)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
