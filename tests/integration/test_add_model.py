"""Adding a Paddle model is a folder: a copy of text_rec under another name, with its own
weights and dictionary in ``1/``, is served next to the others without code changes."""

from __future__ import annotations

import io
import shutil

import numpy as np
import tritonclient.http as httpclient
from PIL import Image

from paddle_python.recognition import RecOptions, preprocess
from tests.support.render import LATIN, render, squash
from tests.support.server import start_server


def test_a_copied_recognizer_is_served_under_its_own_name(repository, tmp_path):
    source, target = repository / "text_rec", tmp_path / "repo" / "text_rec_latin"
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    config = target / "config.pbtxt"
    config.write_text(config.read_text().replace('name: "text_rec"', 'name: "text_rec_latin"'))
    running = start_server(tmp_path / "repo", tmp_path / "server.log", timeout=180)
    try:
        line = np.asarray(Image.open(io.BytesIO(render(LATIN[:1], size=(300, 60), font_size=36))))
        crop = np.ascontiguousarray(line[:, :, ::-1])  # BGR, as the pipeline crops it
        x = preprocess(crop, RecOptions())[None]
        with httpclient.InferenceServerClient(running.http_url) as client:
            assert [m["name"] for m in client.get_model_repository_index()] == ["text_rec_latin"]
            tensor = httpclient.InferInput("x", list(x.shape), "FP32")
            tensor.set_data_from_numpy(x)
            text = client.infer("text_rec_latin", [tensor]).as_numpy("text")[0, 0].decode()
        assert squash(text) == squash(LATIN[0])
    finally:
        code = running.stop()
    assert code == 0, running.log.read_text()[-3000:]
