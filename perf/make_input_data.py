"""Write perf_analyzer ``--input-data`` JSON for the ``ocr`` model from image files.

Each image becomes one entry whose ``image`` tensor is the file's bytes (``b64`` content,
its byte count as the shape), so perf_analyzer sends real encoded images in turn.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path


def input_data(images: list[Path]) -> dict:
    return {
        "data": [
            {"image": {"content": {"b64": base64.b64encode(p.read_bytes()).decode("ascii")},
                       "shape": [p.stat().st_size]}}
            for p in images
        ]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    args.output.write_text(json.dumps(input_data(args.images)))
    print(f"{len(args.images)} images -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
