import numpy as np
import pytest

from paddle_python import classification, recognition
from paddle_python.classification import ClsOptions
from paddle_python.recognition import CtcDecoder, RecOptions


@pytest.mark.parametrize("crop,expected", [
    ((48, 100), (100, 320)),
    ((24, 200), (400, 480)),
    ((48, 5000), (1280, 1280)),  # wider than every bucket: squeezed into the widest
])
def test_bucket_width(crop, expected):
    assert recognition.bucket_width(*crop, (320, 480, 640, 960, 1280)) == expected


def test_preprocess_scales_to_minus_one_one_and_pads_right():
    crop = np.full((24, 100, 3), 255, dtype=np.uint8)
    tensor = recognition.preprocess(crop, RecOptions())
    assert tensor.shape == (3, 48, 320)
    assert np.allclose(tensor[:, :, :200], 1.0) and np.all(tensor[:, :, 200:] == 0)


def test_dictionary_has_blank_first_and_space_last(repository):
    chars = recognition.load_dictionary(repository / "text_rec" / "1" / "ppocr_keys_v1.txt")
    assert chars[0] == "<blank>" and chars[-1] == " " and len(chars) == 6625


def one_hot(indices, classes=5):
    probs = np.full((1, len(indices), classes), 0.01, dtype=np.float32)
    for t, i in enumerate(indices):
        probs[0, t, i] = 0.9 - 0.1 * (t % 2)
    return probs


def test_ctc_merges_repeats_and_drops_blanks():
    decoder = CtcDecoder(["<blank>", "a", "b", "c", " "])
    texts, scores = decoder(one_hot([1, 1, 0, 1, 2, 2, 0, 0, 3]))
    assert texts == ["aabc"]
    assert scores[0] == pytest.approx(np.mean([0.9, 0.9, 0.8, 0.9]))  # the kept steps only


def test_ctc_empty_line_scores_zero_and_class_mismatch_is_an_error():
    decoder = CtcDecoder(["<blank>", "a", "b", "c", " "])
    assert decoder(one_hot([0, 0, 0])) == ([""], pytest.approx(np.zeros(1)))
    with pytest.raises(ValueError, match="classes"):
        decoder(np.zeros((1, 3, 7), dtype=np.float32))


def test_classifier_decode_and_flip_only_when_confident():
    angles, scores = classification.decode(np.array([[0.2, 0.8], [0.05, 0.95], [0.7, 0.3]]))
    assert angles.tolist() == [180, 180, 0]
    crop = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    out = classification.upright([crop, crop, crop], angles, scores, ClsOptions(cls_thresh=0.9))
    assert out[0] is crop and out[2] is crop
    assert np.array_equal(out[1], crop[::-1, ::-1])
    assert classification.preprocess(np.zeros((30, 500, 3), np.uint8)).shape == (3, 48, 192)
