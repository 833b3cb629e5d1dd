"""``ocr-client``: OCR images, PDFs and multi-page TIFFs (files, folders or globs) through the server.

    ocr-client photo.jpg report.pdf
    ocr-client scans/ "more/**/*.tif" --concurrency 8 --format jsonl > lines.jsonl

Images go to the ``ocr`` model; PDFs and TIFFs to ``ocr_document``, and each of their pages is
a result of its own (``"page"``, from 1). A folder gives the files directly inside it; a
``**`` pattern reaches into subfolders.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, TextIO

from .client import DEFAULT_URLS, OcrClient, OcrClientError, ServerError, UnreachableError
from .draw import draw_lines

DOCUMENT_SUFFIXES = {".pdf", ".tif", ".tiff"}  # every page read (ocr_document)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"} | DOCUMENT_SUFFIXES
FORMATS = ("text", "json", "jsonl", "csv")
CSV_COLUMNS = ["image", "page", "line", "text", "score", "box", "error"]


def image_paths(inputs: list[str | Path]) -> list[Path]:
    """Files as given, folders expanded to the images directly inside them, glob patterns
    (``*``, ``?``, ``[...]``, ``**``) to the images they match; each in sorted order."""
    paths: list[Path] = []
    for item in map(str, inputs):
        if glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            paths.extend(m for m in matches if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES)
        elif Path(item).is_dir():
            paths.extend(sorted(p for p in Path(item).iterdir()
                                if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            paths.append(Path(item))
    return paths


def draw_target(draw: Path, image: Path, many: bool, page: int | None = None) -> Path:
    """Where the drawing of ``image`` (or of its ``page``) goes: ``draw`` itself, or a file in
    folder ``draw``; a document's pages are always files in folder ``draw``."""
    if not many and page is None:
        return draw
    draw.mkdir(parents=True, exist_ok=True)
    return draw / (f"{image.stem}.ocr.png" if page is None else f"{image.stem}.p{page}.ocr.jpg")


class Progress:
    """``done/total`` on one line of stderr, when asked for or when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool, stream: TextIO = sys.stderr):
        self.total, self.enabled, self.stream = total, enabled, stream
        self.done = self.failed = 0
        self._lock = threading.Lock()

    def step(self, failed: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += failed
            if self.enabled:
                end = "\n" if self.done == self.total else ""
                self.stream.write(f"\rocr-client: {self.done}/{self.total} images"
                                  f"{f', {self.failed} failed' if self.failed else ''}{end}")
                self.stream.flush()


def read_all(paths: list[Path], args: argparse.Namespace, progress: Progress) -> Iterator[dict]:
    """One result per image and per page of a document, in the order given, read
    ``args.concurrency`` files at a time (each worker thread has its own client)."""
    local = threading.local()
    clients: list[OcrClient] = []

    def read(path: Path) -> list[dict]:
        if not hasattr(local, "client"):
            local.client = OcrClient(args.url, args.protocol, args.timeout)
            clients.append(local.client)
        try:
            results = (read_document(local.client, path, args)
                       if path.suffix.lower() in DOCUMENT_SUFFIXES else read_image(path))
        except (ServerError, OSError, ValueError) as exc:
            progress.step(failed=True)
            return [{"image": str(path), "error": str(exc)}]
        progress.step(failed=False)
        return results

    def read_image(path: Path) -> list[dict]:
        lines = local.client.read_file(path)
        if args.draw:
            target = draw_target(args.draw, path, len(paths) > 1)
            draw_lines(path.read_bytes(), lines, args.font).save(target)
        return [{"image": str(path), "lines": [line.as_dict() for line in lines]}]

    try:
        with ThreadPoolExecutor(max(1, args.concurrency)) as pool:
            for results in pool.map(read, paths):
                yield from results
    finally:
        for client in clients:
            client.close()


def read_document(client: OcrClient, path: Path, args: argparse.Namespace) -> list[dict]:
    """Each page of a PDF or TIFF as a result; with ``--draw`` the server's picture of each
    page (its boxes drawn) is saved as ``<name>.p<page>.ocr.jpg``."""
    pages = client.read_document(path.read_bytes(), visualize=bool(args.draw))
    results = []
    for page in pages:
        if args.draw and page.picture is not None:
            draw_target(args.draw, path, True, page.index + 1).write_bytes(page.picture)
        results.append({"image": str(path), "page": page.index + 1,
                        "size": [page.width, page.height],
                        "lines": [line.as_dict() for line in page.lines]})
    return results


def write(result: dict, fmt: str, many: bool, out: TextIO, writer: csv.DictWriter | None) -> None:
    """One image's result in the chosen format (``json`` is written at the end instead)."""
    if "error" in result:
        print(f"ocr-client: {result['image']}: {result['error']}", file=sys.stderr)
    if fmt == "jsonl":
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        if "error" in result:
            writer.writerow({"image": result["image"], "error": result["error"]})
        for number, line in enumerate(result.get("lines", []), start=1):
            writer.writerow({"image": result["image"], "page": result.get("page", ""),
                             "line": number, "text": line["text"], "score": line["score"],
                             "box": json.dumps(line["box"])})
    elif fmt == "text" and "lines" in result:
        if "page" in result:
            out.write(f"== {result['image']} page {result['page']}\n")
        elif many:
            out.write(f"== {result['image']}\n")
        for line in result["lines"]:
            out.write(line["text"] + "\n")


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr.close()
        return 0


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ocr-client", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+",
                        help="images, PDFs, TIFFs, folders or quoted glob patterns")
    parser.add_argument("--protocol", choices=sorted(DEFAULT_URLS), default="http")
    parser.add_argument("--url", help="host:port (default 127.0.0.1:8000 for http, :8001 for grpc)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default), json (one document), jsonl (a line per image), csv "
                             "(a row per text line)")
    parser.add_argument("--json", action="store_const", const="json", dest="format",
                        help="the same as --format json")
    parser.add_argument("--concurrency", type=int, default=1, help="images in flight at once")
    parser.add_argument("--progress", action="store_true",
                        help="show progress on stderr (default: when stderr is a terminal)")
    parser.add_argument("--draw", type=Path, metavar="OUT",
                        help="write the image with boxes and text (a folder for several images; "
                             "a document's pages as <name>.p<N>.ocr.jpg in folder OUT)")
    parser.add_argument("--font", type=Path, help="a TrueType font for --draw (for CJK text)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = parser.parse_args(argv)

    paths = image_paths(args.images)
    if not paths:
        print("ocr-client: no images found", file=sys.stderr)
        return 2
    many = len(paths) > 1 or paths[0].suffix.lower() in DOCUMENT_SUFFIXES
    progress = Progress(len(paths), args.progress or sys.stderr.isatty())
    writer = None
    if args.format == "csv":
        writer = csv.DictWriter(sys.stdout, CSV_COLUMNS)
        writer.writeheader()
    results = []
    try:
        with OcrClient(args.url, args.protocol, args.timeout) as client:
            client.check_ready()
        for result in read_all(paths, args, progress):
            results.append(result)
            write(result, args.format, many, sys.stdout, writer)
            sys.stdout.flush()
    except UnreachableError as exc:
        print(f"ocr-client: {exc}", file=sys.stderr)
        return 2
    except OcrClientError as exc:
        print(f"ocr-client: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        json.dump(results if many else results[0], sys.stdout, ensure_ascii=False, indent=2)
        print()
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
