"""Write perf_analyzer ``--input-data`` JSON for ``ocr`` (images) or ``ocr_document`` (PDFs,
TIFFs) from files.

Each file becomes one entry whose input tensor (``image``, or ``document`` with
``--input document``) is the file's bytes (``b64`` content, its byte count as the shape), so
perf_analyzer sends real encoded files in turn.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path


def input_data(files: list[Path], name: str = "image") -> dict:
    return {
        "data": [
            {name: {"content": {"b64": base64.b64encode(p.read_bytes()).decode("ascii")},
                    "shape": [p.stat().st_size]}}
            for p in files
        ]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--input", choices=("image", "document"), default="image",
                        help="the model's input: image (ocr) or document (ocr_document)")
    args = parser.parse_args()
    args.output.write_text(json.dumps(input_data(args.files, args.input)))
    print(f"{len(args.files)} files -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
