"""``ocr-client``: OCR image files, a list of them, or a folder, through the server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .client import DEFAULT_URLS, OcrClient, OcrClientError, ServerError, UnreachableError
from .draw import draw_lines

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def image_paths(inputs: list[Path]) -> list[Path]:
    """Files as given, folders expanded to the images directly inside them (sorted)."""
    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            paths.extend(sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            paths.append(item)
    return paths


def draw_target(draw: Path, image: Path, many: bool) -> Path:
    """Where the drawing of ``image`` goes: ``draw`` itself, or a file in folder ``draw``."""
    if not many:
        return draw
    draw.mkdir(parents=True, exist_ok=True)
    return draw / f"{image.stem}.ocr.png"


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr.close()
        return 0


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ocr-client", description=__doc__)
    parser.add_argument("images", nargs="+", type=Path, help="image files or folders")
    parser.add_argument("--protocol", choices=sorted(DEFAULT_URLS), default="http")
    parser.add_argument("--url", help="host:port (default 127.0.0.1:8000 for http, :8001 for grpc)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--draw", type=Path, metavar="OUT",
                        help="write the image with boxes and text (a folder for several images)")
    parser.add_argument("--font", type=Path, help="a TrueType font for --draw (for CJK text)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    args = parser.parse_args(argv)

    paths = image_paths(args.images)
    if not paths:
        print("ocr-client: no images found", file=sys.stderr)
        return 2
    failures, results = 0, []
    try:
        with OcrClient(args.url, args.protocol, args.timeout) as client:
            client.check_ready()
            for path in paths:
                try:
                    lines = client.read_file(path)
                except (ServerError, OSError) as exc:
                    failures += 1
                    print(f"ocr-client: {path}: {exc}", file=sys.stderr)
                    results.append({"image": str(path), "error": str(exc)})
                    continue
                results.append({"image": str(path), "lines": [ln.as_dict() for ln in lines]})
                if not args.json:
                    if len(paths) > 1:
                        print(f"== {path}")
                    for line in lines:
                        print(line.text)
                if args.draw:
                    target = draw_target(args.draw, path, len(paths) > 1)
                    draw_lines(path.read_bytes(), lines, args.font).save(target)
    except UnreachableError as exc:
        print(f"ocr-client: {exc}", file=sys.stderr)
        return 2
    except OcrClientError as exc:
        print(f"ocr-client: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(results if len(paths) > 1 else results[0], sys.stdout, ensure_ascii=False,
                  indent=2)
        print()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
