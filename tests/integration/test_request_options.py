"""Per-request options: Triton request parameters, handed by the ensemble to every step."""

from __future__ import annotations

import pytest
from tritonclient.utils import InferenceServerException

from tests.support.calls import image_input
from tests.support.pages import turned
from tests.support.render import LATIN, render, squash


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
