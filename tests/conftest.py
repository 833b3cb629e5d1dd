"""Shared fixtures: paths, and the rendered-text font every image test needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from paddle_python.model_files import served_dir
from tests.support.render import FONT, ROOT
from tests.support.server import pack_repository

REPOSITORY = ROOT / "model_repository"
PHOTOS = ROOT.parent / "shared" / "images"


@pytest.fixture(scope="session")
def repository() -> Path:
    missing = [p for p in map(served_dir, REPOSITORY.glob("text_*"))
               if not (p / "inference.pdiparams").is_file()]
    assert not missing, f"weights missing in {missing}: run `make models`"
    return REPOSITORY


@pytest.fixture(scope="session")
def v4_repository(repository, tmp_path_factory) -> Path:
    """A copy of the repository switched to the ppocrv4-mobile pack (``ocr-prepare-models --pack``)."""
    return pack_repository(repository, tmp_path_factory.mktemp("packs") / "model_repository",
                           "ppocrv4-mobile")


@pytest.fixture(scope="session", autouse=True)
def _font_present() -> None:
    assert FONT.is_file(), f"{FONT} is missing: `make test` fetches it"


@pytest.fixture(scope="session")
def photos() -> Path:
    """Real photographs shared by the team (Apache-2.0, see their README)."""
    assert PHOTOS.is_dir(), f"{PHOTOS} is missing"
    return PHOTOS
