"""The accuracy benchmark: what each system reads, against ground truth (``make accuracy``).

    .venv/bin/python -m perf.accuracy [--name NAME] [--systems served-v5 ...]
        [--in-process NAME:PARAM=VALUE,...]    # a variant of the pipeline, in this process

The images (``tests.support.pages`` and ``tests.support.labelled``): rendered A4 pages of
English and Chinese prose at 150, 200 and 300 dpi in several fonts and sizes, lines rendered
upside down and pages turned 180 degrees, and the labelled real images (scene-text words,
receipts, a scanned page turned 0, 90 and 180 degrees). The systems, in one run on the same
images: the served pipeline with each model pack (a real ``ocr-server``, over gRPC), the same
package in-process, and rapidocr 3.10 (PP-OCRv6 small on onnxruntime) with its defaults and
at the served sizing. Scores (``tests.support.scoring``): characters in reading order and
whole words, per image and pooled per set. On the upright sets, the lines the served
pipeline read turned 180 degrees are counted (``ocr_lines_turned_total``): there should be
none. Writes ``perf/results/accuracy-<name>.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from paddle_python.pipeline import OcrPipeline, PipelineConfig
from paddle_python.weights import DEFAULT_PACK
from perf.harness import REPOSITORY, RESULTS, WORK, serve, server_rss_mb, usable_cpus
from tests.support.calls import ocr
from tests.support.labelled import labelled_cases
from tests.support.pages import Case, page_cases, upside_down_cases
from tests.support.prometheus import scrape, value
from tests.support.scoring import Score, combine, score
from tests.support.server import pack_repository

TURNED = "ocr_lines_turned_total"
FACTS = ("ready s", "RSS MB at ready", "RSS MB at the end")
# Sets whose every line is upright: a line read turned over there is the classifier's mistake.
UPRIGHT_PREFIXES = ("pages-en-", "pages-zh-", "words", "receipts")


@dataclass
class Reading:
    texts: list[str]
    boxes: np.ndarray  # n x 4 x 2
    seconds: float
    turned: int | None = None  # lines read turned 180 degrees, where the system tells


@dataclass
class SystemRun:
    name: str
    readings: dict[str, Reading] = field(default_factory=dict)  # case name -> reading
    facts: dict[str, str] = field(default_factory=dict)  # e.g. a server's start-up time


Reader = Callable[[bytes], tuple[list[str], np.ndarray, int | None]]


def cases() -> list[Case]:
    return [*page_cases(), *upside_down_cases(), *labelled_cases()]


def server_reader(server, client) -> Reader:
    """Read through a running server's ``ocr`` with a gRPC client; the lines turned from its
    metrics."""
    def read(data: bytes) -> tuple[list[str], np.ndarray, int]:
        before = value(scrape(server), TURNED, model="ocr_postprocess")
        result = ocr(client, "grpc", data)
        turned = value(scrape(server), TURNED, model="ocr_postprocess") - before
        return result.texts, result.boxes, int(turned)

    return read


@contextlib.contextmanager
def served(repository: Path, log: Path, extra: tuple[str, ...] = (),
           facts: dict[str, str] | None = None) -> Iterator[Reader]:
    """A real ocr-server on ``repository``, read over gRPC; turned lines from its metrics.
    ``facts`` gets its launch-to-ready time and memory (summed RSS) at ready and at the end."""
    import tritonclient.grpc as grpcclient

    server, ready_s = serve(repository, log, extra)
    facts = {} if facts is None else facts
    facts.update({"ready s": f"{ready_s:.1f}", "RSS MB at ready": f"{server_rss_mb(server):.0f}"})
    client = grpcclient.InferenceServerClient(server.grpc_url)
    try:
        yield server_reader(server, client)
        facts["RSS MB at the end"] = f"{server_rss_mb(server):.0f}"
    finally:
        client.close()
        code = server.stop()
        if code != 0:
            raise RuntimeError(f"ocr-server exited with {code}; see {log}")


def pipeline_reader(pipeline: OcrPipeline) -> Reader:
    def read(data: bytes) -> tuple[list[str], np.ndarray, int]:
        result = pipeline(data)
        return result.texts, result.boxes, result.turned

    return read


@contextlib.contextmanager
def in_process(parameters: dict[str, str] | None = None) -> Iterator[Reader]:
    """The package's pipeline in this process, as configured or with ``parameters`` changed."""
    config = PipelineConfig.from_repository(REPOSITORY).with_parameters(parameters or {})
    yield pipeline_reader(OcrPipeline(REPOSITORY, config=config))


def rapidocr_engine(served_sizing: bool):
    """rapidocr 3.10 with its defaults (shortest side raised to 736, longest at most 2000), or
    with the served detection sizing (longest side at most the served limit)."""
    from rapidocr import RapidOCR

    params = {"Global.log_level": "warning"}
    if usable_cpus() < (os.cpu_count() or 1):
        # A pinned run (perf.run --cpus): onnxruntime places its default threads on every
        # core of the machine whatever the process may use; as many threads as allowed cores.
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = usable_cpus()
    if served_sizing:
        resize = PipelineConfig.from_repository(REPOSITORY).resize
        params.update({"Det.limit_side_len": resize.det_limit_side_len,
                       "Det.limit_type": resize.det_limit_type})
    return RapidOCR(params=params)


def rapidocr_reader(engine) -> Reader:
    def read(data: bytes) -> tuple[list[str], np.ndarray, None]:
        result = engine(data)
        boxes = np.zeros((0, 4, 2)) if result.boxes is None else np.asarray(result.boxes)
        return list(result.txts or ()), boxes, None

    return read


@contextlib.contextmanager
def rapidocr(served_sizing: bool) -> Iterator[Reader]:
    yield rapidocr_reader(rapidocr_engine(served_sizing))


def summary(read: Reader, some: list[Case]) -> Score:
    """One system's score over ``some`` cases pooled: characters over every case, words over
    those whose script has spaces (what a speed figure is shown next to)."""
    scores = []
    for case in some:
        texts, boxes, _ = read(case.image)
        scores.append(score(texts, case.truth, case.compare, boxes, case.regions))
    return combine(scores)


Facts = dict[str, str]
SYSTEMS: dict[str, Callable[[Facts], contextlib.AbstractContextManager[Reader]]] = {
    "served-v5": lambda facts: served(REPOSITORY, WORK / "accuracy-served-v5.log", (), facts),
    "served-v5-pages": lambda facts: served(REPOSITORY, WORK / "accuracy-served-v5-pages.log",
                                            ("--", "--model-config-name=pages"), facts),
    "served-v4": lambda facts: served(pack_repository(REPOSITORY, WORK / "repository-v4",
                                                      "ppocrv4-mobile"),
                                      WORK / "accuracy-served-v4.log", (), facts),
    "served-v6-small": lambda facts: served(pack_repository(REPOSITORY, WORK / "repository-v6-small",
                                                            "ppocrv6-small"),
                                            WORK / "accuracy-served-v6-small.log", (), facts),
    "in-process-v5": lambda facts: in_process(),
    "rapidocr-default": lambda facts: rapidocr(served_sizing=False),
    "rapidocr-served-sizing": lambda facts: rapidocr(served_sizing=True),
}


DESCRIPTIONS = {
    "served-v5": f"`ocr-server` with the ppocrv5-mobile pack (the default, {DEFAULT_PACK}), read "
                 "over gRPC with the configured defaults",
    "served-v5-pages": "the same with `--model-config-name=pages` (detection up to 1920 a side)",
    "served-v4": "`ocr-server` with the ppocrv4-mobile pack",
    "served-v6-small": "`ocr-server` with the ppocrv6-small pack (PP-OCRv6 small imported from "
                       "rapidocr 3.10's ONNX files)",
    "in-process-v5": "the same package's `OcrPipeline` in this process",
    "rapidocr-default": "rapidocr 3.10 (PP-OCRv6 small on onnxruntime) as installed",
    "rapidocr-served-sizing": "rapidocr 3.10 with the served detection limit",
}


def describe(system: str, variants: dict[str, dict[str, str]]) -> str:
    if system in variants:
        return "the in-process pipeline with " + ", ".join(
            f"`{k}: {v}`" for k, v in variants[system].items())
    return DESCRIPTIONS[system]


def variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME:key=value,key=value`` -> the in-process system NAME with those parameters (a
    value may hold commas: ``rec_width_buckets=80,160,320,min_score=0.5``; a key may name
    its stage: ``det_predictor.cpu_precision=bf16``)."""
    name, _, changes = text.partition(":")
    return name, dict(change.split("=", 1)
                      for change in re.split(r",(?=[\w.]+=)", changes) if change)


def run(system: str, all_cases: list[Case], variants: dict[str, dict[str, str]]) -> SystemRun:
    result = SystemRun(system)
    start = (lambda facts: in_process(variants[system])) if system in variants else SYSTEMS[system]
    with start(result.facts) as read:
        for case in all_cases:
            start = time.perf_counter()
            texts, boxes, turned = read(case.image)
            result.readings[case.name] = Reading(texts, boxes, time.perf_counter() - start,
                                                 turned)
    return result


def case_scores(run_: SystemRun, all_cases: list[Case]) -> dict[str, Score]:
    return {c.name: score(run_.readings[c.name].texts, c.truth, c.compare,
                          run_.readings[c.name].boxes, c.regions) for c in all_cases}


def cell(s: Score) -> str:
    words = "—" if s.word_recall is None else f"{s.word_recall:.3f}"
    return f"{s.char_accuracy:.3f} / {words}"


def report(runs: list[SystemRun], all_cases: list[Case], command: str, seconds: float,
           variants: dict[str, dict[str, str]]) -> str:
    sets = list(dict.fromkeys(c.set for c in all_cases))
    scores = {r.name: case_scores(r, all_cases) for r in runs}
    header = "| set | images | " + " | ".join(r.name for r in runs) + " |"
    rule = "|---|---|" + "---|" * len(runs)
    lines = [
        f"# Accuracy against ground truth ({datetime.date.today().isoformat()})", "",
        f"`{command}` ({seconds / 60:.1f} min on this machine). Each cell: character accuracy "
        "(1 - edit distance / length, lines in reading order) / whole-word recall (words "
        "found whole and in order; — where the script has no spaces). Pooled over the set's "
        "images, each weighing its length.", "",
        "Receipts are scored box by box: each line read counts for the annotated box it "
        "overlaps most, upper-cased without spaces as the annotation is written, and the words "
        "are the boxes read exactly (the annotation gives no reading order).", "",
        "Systems: " + "; ".join(f"`{r.name}`: {describe(r.name, variants)}" for r in runs) + ".",
        "", header, rule,
    ]
    for name in sets:
        members = [c.name for c in all_cases if c.set == name]
        row = [cell(combine(scores[r.name][m] for m in members)) for r in runs]
        lines.append(f"| {name} | {len(members)} | " + " | ".join(row) + " |")
    lines += ["", "## Upright lines read turned over", "",
              "Lines the direction classifier turned on sets where every line is upright "
              "(should be 0), and where the system can tell.", "",
              "| system | upright lines turned | cases |", "|---|---|---|"]
    for r in runs:
        upright = [c for c in all_cases if c.set.startswith(UPRIGHT_PREFIXES)]
        counts = [r.readings[c.name].turned for c in upright]
        if all(n is not None for n in counts):
            lines.append(f"| {r.name} | {sum(counts)} | {len(upright)} |")
    served_runs = [r for r in runs if r.facts]
    if served_runs:
        lines += ["", "## Served systems", "", "| system | " + " | ".join(FACTS) + " |",
                  "|---|" + "---|" * len(FACTS)]
        for r in served_runs:
            lines.append(f"| {r.name} | " + " | ".join(r.facts.get(f, "") for f in FACTS) + " |")
    lines += ["", "## Seconds per image (informational: one pass, no warm-up, shared machine)",
              "", header, rule]
    for name in sets:
        members = [c.name for c in all_cases if c.set == name]
        row = [f"{sum(r.readings[m].seconds for m in members) / len(members):.2f}" for r in runs]
        lines.append(f"| {name} | {len(members)} | " + " | ".join(row) + " |")
    lines += ["", "## Per image", "", header.replace("| set | images |", "| image | set |"), rule]
    for c in all_cases:
        row = [cell(scores[r.name][c.name]) for r in runs]
        lines.append(f"| {c.name} | {c.set} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    parser.add_argument("--name", default=datetime.date.today().isoformat(),
                        help="the report is perf/results/accuracy-NAME.md")
    parser.add_argument("--sets", nargs="+", help="only cases of these sets")
    parser.add_argument("--in-process", action="append", default=[], type=variant,
                        metavar="NAME:PARAM=VALUE,...",
                        help="also the in-process pipeline with these parameters changed "
                             "(e.g. squeeze:cls_max_windows=1,cls_verify=false)")
    args = parser.parse_args(argv)
    variants = dict(args.in_process)
    WORK.mkdir(parents=True, exist_ok=True)
    all_cases = [c for c in cases() if not args.sets or c.set in args.sets]
    start = time.perf_counter()
    runs = []
    for system in [*args.systems, *variants]:
        print(f"accuracy: {system} on {len(all_cases)} images", file=sys.stderr, flush=True)
        runs.append(run(system, all_cases, variants))
    command = "python -m perf.accuracy " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(runs, all_cases, command.strip(), time.perf_counter() - start, variants)
    out = RESULTS / f"accuracy-{args.name}.md"
    out.write_text(text)
    print(text)
    print(f"accuracy: written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
