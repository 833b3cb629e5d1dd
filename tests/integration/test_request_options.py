"""Per-request options: Triton request parameters, handed by the ensemble to every step."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from tests.support.calls import image_input
from tests.support.pages import turned
from tests.support.render import CHINESE, LATIN, render, squash


def read(client, protocol: str, data: bytes, **parameters) -> tuple[list[str], list]:
    result = client.infer("ocr", [image_input(protocol, data)], parameters=parameters)
    return [t.decode() for t in result.as_numpy("texts")[0]], result.as_numpy("boxes")[0]


def test_options_change_the_result_for_that_request_only(http, grpc, protocol):
    client = http if protocol == "http" else grpc
    upside_down = turned(render(LATIN))  # the whole image upside down
    texts, _ = read(client, protocol, upside_down)
    assert [squash(t) for t in texts] == [squash(t) for t in LATIN]
    # Without the direction classifier the turned lines are read as they are: not the text.
    texts, _ = read(client, protocol, upside_down, use_angle_cls=False)
    assert [squash(t) for t in texts] != [squash(t) for t in LATIN]
    # Nothing is sure enough to keep at a minimum score of 1.
    assert read(client, protocol, render(LATIN), min_score=1.0)[0] == []
    # A smaller detection size still finds the lines, and boxes stay in source pixels.
    texts, boxes = read(client, protocol, render(LATIN, size=(1280, 960), font_size=80),
                        det_limit_side_len=480)
    assert [squash(t) for t in texts] == [squash(t) for t in LATIN]
    assert boxes[..., 0].max() > 640
    # And the next request without options is served with the configured defaults.
    texts, _ = read(client, protocol, upside_down)
    assert [squash(t) for t in texts] == [squash(t) for t in LATIN]


def test_word_boxes_come_only_when_asked(http, grpc, protocol):
    client = http if protocol == "http" else grpc
    image = image_input(protocol, render(LATIN + CHINESE[:1]))
    result = client.infer("ocr", [image], parameters={"return_word_boxes": True})
    texts = [t.decode() for t in result.as_numpy("texts")[0]]
    found = [w.decode() for w in result.as_numpy("words")[0]]
    lines = result.as_numpy("word_lines")[0]
    boxes = result.as_numpy("word_boxes")[0]
    assert [squash(t) for t in texts] == [squash(t) for t in LATIN + CHINESE[:1]]
    assert lines.dtype == np.int32 and boxes.dtype == np.float32
    assert boxes.shape == (len(found), 4, 2) and lines.shape == (len(found),)
    assert np.all(np.diff(lines) >= 0)
    # Each line's words put together are its text without spaces; Chinese a word a character.
    assert ["".join(w for w, n in zip(found, lines) if n == i) for i in range(len(texts))] == [
        squash(t) for t in texts]
    assert [w for w, n in zip(found, lines) if n == len(texts) - 1] == list(CHINESE[0])
    # Every word's box lies within its line's.
    line_boxes = result.as_numpy("boxes")[0][lines]
    assert np.all(boxes.min(axis=1) >= line_boxes.min(axis=1) - 1)
    assert np.all(boxes.max(axis=1) <= line_boxes.max(axis=1) + 1)
    # Without the option the three outputs are there, and empty.
    plain = client.infer("ocr", [image])
    assert plain.as_numpy("words").shape == (1, 0) and plain.as_numpy("word_lines").shape == (1, 0)
    assert plain.as_numpy("word_boxes").shape == (1, 0, 4, 2)
    assert [t.decode() for t in plain.as_numpy("texts")[0]] == texts


@pytest.mark.parametrize("parameters,message", [
    ({"det_thresh": 2}, "request parameter 'det_thresh' is 2.0; allowed 0 to 1"),
    ({"det_limit_side_len": 2000}, "det_limit_side_len 2000 is more than the largest detection bucket, 960"),
    ({"colour": "red"}, "unknown request parameter 'colour'"),
])
def test_bad_options_are_named(http, grpc, protocol, parameters, message):
    client = http if protocol == "http" else grpc
    with pytest.raises(InferenceServerException) as caught:
        read(client, protocol, render(LATIN), **parameters)
    assert message in caught.value.message()
    assert str(caught.value.status()) in ("400", "StatusCode.INVALID_ARGUMENT")
