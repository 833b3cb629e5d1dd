"""Fetch a font with Latin and CJK glyphs for rendering test images (test-only).

The IPAex Gothic font (IPA Font License) ships inside the ``japanize-matplotlib`` sdist;
it is downloaded once with ``pip download --no-deps``, checked, and the font file alone is
extracted. Nothing of the package is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

SDIST = "japanize-matplotlib==1.1.3"
SDIST_NAME = "japanize-matplotlib-1.1.3.tar.gz"
SDIST_SHA256 = "e89e7d9e109820962650e59a130403b59b33915fde3871a265a5891d9bf5e079"
MEMBER = "japanize-matplotlib-1.1.3/japanize_matplotlib/fonts/ipaexg.ttf"
FONT_SHA256 = "6726fb3c804e3fbc3ff5f45eddfd2fb1a858c2b1e03d3f1d8619bbca8d0a0ccd"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.out.is_file() and sha256(args.out.read_bytes()) == FONT_SHA256:
        return 0
    sdist = args.cache_dir / SDIST_NAME
    if not sdist.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--no-binary=:all:", "--no-build-isolation", "--dest",
                        str(args.cache_dir), SDIST], check=True)
    if sha256(sdist.read_bytes()) != SDIST_SHA256:
        print(f"fetch_font: {sdist} does not match its sha256", file=sys.stderr)
        return 1
    with tarfile.open(sdist) as archive:
        data = archive.extractfile(MEMBER).read()
    if sha256(data) != FONT_SHA256:
        print(f"fetch_font: {MEMBER} does not match its sha256", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
