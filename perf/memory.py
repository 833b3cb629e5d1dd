"""Where the memory goes: per process of a running server, and per Paddle predictor setting.

    python -m perf.memory server [--seconds 60] [--model-config-name pages]   # after warm-up and load
    python -m perf.memory predictor rec [--engine onednn --cache 1] [--repository DIR]

``server`` starts ``ocr-server`` (the launcher's defaults, plus anything in the environment,
e.g. ``MALLOC_MMAP_THRESHOLD_``), prints each process's RSS, PSS, anonymous memory and the
resident part of its shared-memory regions once ready, then again after perf_analyzer has
driven the mixed-size photos at concurrency 8. ``predictor`` warms one predictor on every
bucket shape, largest first, sends random bucket shapes, and prints the anonymous memory each
step added and how long the random calls took, with the launcher's allocator settings (the
model as served, or as ``--repository`` serves it). Results: ``perf/results/memory-*.md``
and ``perf/results/engines-*.md``.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

from perf.harness import (
    REPOSITORY,
    WORK,
    mixed_sizes,
    photos,
    run_perf_analyzer,
    serve,
    write_input_data,
)
from tests.support.server import RunningServer, children

MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")
COLUMNS = ("rss", "pss", "anon", "shm")


def process_memory(pid: int) -> dict[str, float]:
    """MB of RSS, PSS, anonymous memory and resident shared-memory (``/dev/shm``) pages."""
    rollup = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        rollup[key] = int(value.split()[0]) / 1024
    shm, in_shm = 0.0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if MAPPING.match(line):
            in_shm = "/dev/shm/" in line
        elif in_shm and line.startswith("Rss:"):
            shm += int(line.split()[1]) / 1024
    return {"rss": rollup["Rss"], "pss": rollup["Pss"], "anon": rollup["Anonymous"], "shm": shm}


def breakdown(server: RunningServer) -> list[tuple[str, dict[str, float]]]:
    """(name, memory) for tritonserver and each stub, largest RSS first."""
    stubs = server.stubs()
    rows = []
    for pid in children(server.process.pid):
        try:
            name = stubs.get(pid) or Path(f"/proc/{pid}/comm").read_text().strip()
            rows.append((name, process_memory(pid)))
        except OSError:  # the process ended meanwhile
            continue
    return sorted(rows, key=lambda row: -row[1]["rss"])


def table(rows: list[tuple[str, dict[str, float]]]) -> str:
    """A Markdown table of ``breakdown`` with a total row."""
    total = {c: sum(memory[c] for _, memory in rows) for c in COLUMNS}
    lines = ["| process | RSS MB | PSS MB | anonymous MB | /dev/shm resident MB |",
             "|---|---|---|---|---|"]
    for name, memory in [*rows, ("**total**", total)]:
        lines.append(f"| {name} | " + " | ".join(f"{memory[c]:.0f}" for c in COLUMNS) + " |")
    return "\n".join(lines)


def server_main(seconds: int, config_name: str | None) -> None:
    images = mixed_sizes(photos(), WORK / "mixed")
    data = write_input_data(images, WORK / "mixed.json")
    extra = ["--", f"--model-config-name={config_name}"] if config_name else []
    server, ready_s = serve(REPOSITORY, WORK / "memory-server.log", extra)
    try:
        print(f"ready after {ready_s:.1f} s\n\n{table(breakdown(server))}\n", flush=True)
        done = run_perf_analyzer(server.grpc_url, "grpc", data, 8,
                                 ["--measurement-interval", str(seconds * 1000 // 3)])
        print(done.stdout.strip().splitlines()[-1])
        print(f"\nafter {seconds} s at concurrency 8 on {len(images)} images:\n\n"
              f"{table(breakdown(server))}")
    finally:
        server.stop()


def anonymous_mb() -> float:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) / 1024
    return 0.0


def predictor_main(model: str, cache: int, calls: int, engine: str | None,
                   repository: Path, fold: bool = True) -> None:
    import numpy as np

    from paddle_python.model_files import served_dir
    from paddle_python.pipeline import PipelineConfig
    from paddle_python.predictor import Predictor

    config = PipelineConfig.from_repository(repository)
    served = config.rec_predictor if model == "rec" else config.det_predictor
    options = replace(served, onednn_cache_capacity=cache, cpu_engine=engine or served.cpu_engine,
                      fold_affine_blocks=fold and served.fold_affine_blocks)
    # Every shape the served model is warmed with, largest first (its config.pbtxt).
    if model == "rec":
        shapes = [(b, 3, config.rec.rec_height, w) for w in sorted(options.input_widths, reverse=True)
                  for b in options.batch_sizes_for(w)]
    else:
        shapes = sorted(((b, 3, h, w) for h in options.input_heights
                         for w in options.input_widths for b in options.batch_sizes),
                        key=lambda s: -s[2] * s[3])
    base = anonymous_mb()
    model_dir = served_dir(repository / f"text_{model}")
    predictor = Predictor(model_dir, options)
    made = anonymous_mb()
    for shape in shapes:
        predictor(np.random.rand(*shape).astype(np.float32))
    warm = anonymous_mb()
    rng = random.Random(0)
    took = []
    for _ in range(calls):
        batch = np.random.rand(*rng.choice(shapes)).astype(np.float32)
        start = time.perf_counter()
        predictor(batch)
        took.append(time.perf_counter() - start)
    end = anonymous_mb()
    print(f"text_{model} ({model_dir}), {options.cpu_engine}, onednn_cache_capacity {cache}, "
          f"{predictor.folding}: "
          f"anonymous MB: paddle {base:.0f}, predictor +{made - base:.0f}, {len(shapes)} shapes "
          f"warmed +{warm - made:.0f}, {calls} random calls +{end - warm:.0f} "
          f"({sum(took):.1f} s, median {1000 * float(np.median(took)):.0f} ms), total {end:.0f}")


def with_server_environment() -> None:
    """Run again with the allocator and OpenMP settings the launcher gives the stubs, unless
    they are set: a predictor's speed and memory depend on them (server.PROCESS_ENV)."""
    import os

    from paddle_python.server import PROCESS_ENV

    missing = {k: v for k, v in PROCESS_ENV.items() if k not in os.environ}
    if missing:
        os.execve(sys.executable, [sys.executable, "-m", "perf.memory", *sys.argv[1:]],
                  {**os.environ, **missing})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    on_server = sub.add_parser("server")
    on_server.add_argument("--seconds", type=int, default=60)
    on_server.add_argument("--model-config-name", help="serve a config variant, e.g. pages")
    alone = sub.add_parser("predictor")
    alone.add_argument("model", choices=("det", "rec"))
    alone.add_argument("--cache", type=int, default=1, help="onednn_cache_capacity (0: no limit)")
    alone.add_argument("--calls", type=int, default=150)
    alone.add_argument("--engine", choices=("openvino", "onednn", "native"),
                       help="cpu_engine (default: as configured)")
    alone.add_argument("--repository", type=Path, default=REPOSITORY,
                       help="a model repository (e.g. one serving another pack)")
    alone.add_argument("--unfolded", action="store_true",
                       help="run the program as exported (fold_affine_blocks false)")
    args = parser.parse_args()
    if args.what == "server":
        server_main(args.seconds, args.model_config_name)
    else:
        with_server_environment()
        from paddle_python.predictor import paddle_inference

        paddle_inference()  # loaded first, so that its own memory is the baseline

        predictor_main(args.model, args.cache, args.calls, args.engine, args.repository,
                       fold=not args.unfolded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
