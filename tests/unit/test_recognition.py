import numpy as np
import pytest

from paddle_python import classification, recognition
from paddle_python.classification import ClsOptions
from paddle_python.model_files import served_dir
from paddle_python.recognition import CtcDecoder, CtcOptions, RecOptions


@pytest.mark.parametrize("crop,expected", [
    ((48, 100), (100, 320)),
    ((24, 200), (400, 480)),
    ((48, 5000), (1280, 1280)),  # wider than every bucket: squeezed into the widest
])
def test_bucket_width(crop, expected):
    padded = RecOptions(rec_width_buckets=(320, 480, 640, 960, 1280), rec_max_squeeze=1.0)
    assert recognition.bucket_width(*crop, padded) == expected


@pytest.mark.parametrize("crop,expected", [
    ((48, 100), (100, 320)),
    ((48, 400), (400, 480)),  # below rec_squeeze_from: padded, never squeezed
    ((48, 1500), (1280, 1280)),  # 1280 holds 1500 columns at 0.85 of their width: squeezed
    ((48, 1720), (1600, 1600)),  # 0.74 of 1720 is more than 1280: into the next bucket
    ((48, 2300), (1920, 1920)),
    ((48, 9000), (2560, 2560)),
])
def test_a_long_line_is_squeezed_a_little_rather_than_padded_into_the_next_bucket(crop,
                                                                                   expected):
    assert recognition.bucket_width(*crop, RecOptions()) == expected


def test_preprocess_scales_to_minus_one_one_and_pads_right():
    crop = np.full((24, 100, 3), 255, dtype=np.uint8)
    tensor = recognition.preprocess(crop, RecOptions())
    assert tensor.shape == (3, 48, 320)
    assert np.allclose(tensor[:, :, :200], 1.0) and np.all(tensor[:, :, 200:] == 0)


def test_ctc_classes_of_both_formats_have_blank_first_and_space_last(repository, tmp_path):
    # PaddleOCR 3.x (PP-OCRv5): the dictionary is the model's own, in its inference.yml.
    served = recognition.ctc_classes(served_dir(repository / "text_rec"), CtcOptions())
    assert served[0] == "<blank>" and served[-1] == " " and len(served) == 18385
    assert served[1] == "\u3000" and "ポ" in served and "港" in served
    # PaddleOCR 2.x (no inference.yml): the ``dictionary`` file.
    (tmp_path / "keys.txt").write_text("a\nb\nc\n", encoding="utf-8")
    assert recognition.ctc_classes(tmp_path, CtcOptions(dictionary="keys.txt")) == [
        "<blank>", "a", "b", "c", " "]
    with pytest.raises(FileNotFoundError, match="character_dict"):
        recognition.ctc_classes(tmp_path, CtcOptions())


def test_a_recognizer_whose_description_disagrees_with_its_input_dims_is_refused(tmp_path):
    (tmp_path / "inference.yml").write_text(
        "PreProcess:\n  transform_ops:\n  - RecResizeImg:\n      image_shape: [3, 32, 320]\n")
    config = {"name": "text_rec_x", "input": [{"name": "x", "dims": ["3", "48", "-1"]}]}
    with pytest.raises(ValueError, match="32 high"):
        recognition.check_input_height(config, tmp_path)
    config["input"][0]["dims"][1] = "32"
    recognition.check_input_height(config, tmp_path)


def one_hot(indices, classes=5):
    probs = np.full((1, len(indices), classes), 0.01, dtype=np.float32)
    for t, i in enumerate(indices):
        probs[0, t, i] = 0.9 - 0.1 * (t % 2)
    return probs


def test_ctc_merges_repeats_and_drops_blanks():
    decoder = CtcDecoder(["<blank>", "a", "b", "c", " "])
    texts, scores = decoder.decode(decoder.best_path(one_hot([1, 1, 0, 1, 2, 2, 0, 0, 3])))
    assert texts == ["aabc"]
    assert scores[0] == pytest.approx(np.mean([0.9, 0.9, 0.8, 0.9]))  # the kept steps only


def test_ctc_best_paths_of_separate_runs_decode_together():
    # text_rec reduces each predictor run to its best path (n x T x 2) and decodes a whole
    # batch at once: the same texts and scores as the runs' probabilities taken together,
    # with the last of 18385 classes kept exactly.
    classes = ["<blank>", *(f"c{i}" for i in range(1, 18384)), " "]
    decoder = CtcDecoder(classes)
    first, second = one_hot([18384, 0, 3], classes=len(classes)), one_hot([5, 5, 7],
                                                                          classes=len(classes))
    paths = np.concatenate([decoder.best_path(first), decoder.best_path(second)])
    assert paths.shape == (2, 3, 2)
    texts, scores = decoder.decode(paths)
    assert texts == [" c3", "c5c7"]
    both = decoder.decode(decoder.best_path(np.concatenate([first, second])))
    assert texts == both[0] and scores == pytest.approx(both[1])


def test_ctc_empty_line_scores_zero_and_class_mismatch_is_an_error():
    decoder = CtcDecoder(["<blank>", "a", "b", "c", " "])
    assert decoder.decode(decoder.best_path(one_hot([0, 0, 0]))) == ([""], pytest.approx(np.zeros(1)))
    with pytest.raises(ValueError, match="classes"):
        decoder.best_path(np.zeros((1, 3, 7), dtype=np.float32))


def test_classifier_decode_and_turn_only_when_confident():
    angles, scores = classification.decode(np.array([[0.2, 0.8], [0.05, 0.95], [0.7, 0.3]]))
    assert angles.tolist() == [180, 180, 0] and np.allclose(scores, [0.8, 0.95, 0.7])
    turned = classification.upside_down(angles, scores, [0, 1, 2], 3, ClsOptions(cls_thresh=0.9))
    assert turned.tolist() == [False, True, False]
    crop = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert np.array_equal(classification.turn(crop), crop[::-1, ::-1])


def test_a_long_line_is_classified_in_windows_at_its_own_scale():
    short, long = np.zeros((30, 100, 3), np.uint8), np.zeros((30, 1500, 3), np.uint8)
    assert len(classification.windows(short, 4)) == 1
    assert classification.windows(short, 4)[0].shape == (3, 48, 192)
    parts = classification.windows(long, 4)  # a window covers 120 of the 1500 pixels
    assert len(parts) == 4 and all(p.shape == (3, 48, 192) for p in parts)
    assert len(classification.windows(long, 1)) == 1  # squeezed, as PP-OCR does
    # Windows vote by their mean log-odds: one sure window against three does not turn the
    # line, and one that cannot tell (a line's half-empty end) does not hold it back.
    upside_down = classification.upside_down
    angles, scores = np.array([180, 0, 0, 0]), np.array([0.99, 0.999, 0.97, 0.95])
    assert upside_down(angles, scores, [0, 0, 0, 0], 1, ClsOptions()).tolist() == [False]
    angles, scores = np.array([180, 180, 180, 180]), np.array([1.0, 1.0, 0.995, 0.542])
    assert upside_down(angles, scores, [0, 0, 0, 0], 1, ClsOptions()).tolist() == [True]
    assert np.mean(scores) < ClsOptions().cls_thresh  # a mean of probabilities would not turn it
