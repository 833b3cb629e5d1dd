import numpy as np
import pytest

from paddle_python import detection
from paddle_python.detection import DbOptions, DetNormalize, DetResize
from paddle_python.errors import InputError


@pytest.mark.parametrize("size,limit_type,expected", [
    ((480, 905), "max", (480, 896)),    # fits: only rounded to multiples of 32
    ((1000, 2000), "max", (480, 960)),  # longest side scaled down to 960
    ((10, 10), "max", (32, 32)),        # never below one stride
    ((200, 400), "min", (480, 960)),    # shortest side up to the limit, but within the buckets
    ((600, 700), "min", (832, 960)),
])
def test_resized_shape(size, limit_type, expected):
    opts = DetResize(det_limit_side_len=960, det_limit_type=limit_type)
    assert detection.resized_shape(*size, opts) == expected


def test_a_limit_past_the_largest_bucket_is_refused():
    detection.check_resize(DetResize(det_limit_side_len=960))
    with pytest.raises(InputError, match="det_limit_side_len 1920 is more than the largest "
                                         "detection bucket, 960"):
        detection.check_resize(DetResize(det_limit_side_len=1920))
    pages = DetResize(det_limit_side_len=1920, det_bucket_sides=(320, 960, 1920))
    detection.check_resize(pages)
    assert detection.resized_shape(2339, 1654, pages) == (1920, 1344)  # A4 at 200 dpi


def test_bucket_side_takes_the_smallest_bucket_that_fits():
    buckets = (320, 640, 960)
    assert [detection.bucket_side(s, buckets) for s in (32, 320, 352, 960, 992)] == [
        320, 320, 640, 960, 992]


def test_preprocess_pads_into_the_bucket_and_reports_sizes():
    image = np.full((300, 500, 3), 255, dtype=np.uint8)
    norm = DetNormalize()
    tensor, det_shape = detection.preprocess(image, DetResize(det_bucket_sides=(320, 640)), norm)
    assert tensor.shape == (3, 320, 640) and tensor.dtype == np.uint8  # a quarter of float32
    assert det_shape.tolist() == [300, 500, 288, 512]
    assert np.all(tensor[:, :288, :512] == 255)
    # The detector normalises: the image white, the padding (the mean colour) about zero.
    normalized = detection.normalize(tensor[None], norm)[0]
    assert normalized.dtype == np.float32 and normalized[:, :288, :512].min() > 1.5
    assert np.abs(normalized[:, 288:, :]).max() < 0.01
    assert np.abs(normalized[:, :, 512:]).max() < 0.01


def test_normalize_uses_the_detectors_statistics_per_channel():
    batch = np.zeros((2, 3, 32, 32), np.uint8)
    batch[:, 1] = 255
    out = detection.normalize(batch, DetNormalize(det_mean=(0.5, 0.5, 0.0), det_std=(0.5, 0.25, 1.0)))
    assert out.shape == batch.shape
    assert out[:, 0] == pytest.approx(-1.0) and out[:, 1] == pytest.approx(2.0)
    assert out[:, 2] == pytest.approx(0.0)


def probability_map(shape, rects):
    prob = np.zeros(shape, dtype=np.float32)
    for x0, y0, x1, y1 in rects:
        prob[y0:y1, x0:x1] = 0.95
    return prob


def test_db_boxes_finds_rectangles_in_reading_order_and_scales_them():
    # Map at half the source resolution: boxes come back in source pixels.
    prob = probability_map((320, 320), [(150, 40, 300, 60), (10, 42, 120, 58), (10, 200, 200, 230)])
    det_shape = np.array([640, 640, 320, 320])
    boxes, scores = detection.db_boxes(prob[None], det_shape, DbOptions())
    assert boxes.shape == (3, 4, 2)
    lefts = boxes[:, 0, 0]
    tops = boxes[:, 0, 1]
    assert lefts[0] < lefts[1] and tops[2] > tops[0]  # same line left to right, then next line
    assert np.all(scores > 0.8)
    first = boxes[0]
    assert 0 <= first[:, 0].min() < 20 and 230 < first[:, 0].max() < 260  # ~x 10..120 doubled


def test_reading_order_keeps_a_small_tilted_word_on_its_line():
    def box(x0, y0, x1, y1):
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)

    tilted_a = np.array([[257, 137], [286, 129], [297, 164], [267, 172]], np.float32)
    boxes = np.stack([box(28, 120, 180, 170), box(188, 129, 260, 170), box(306, 121, 426, 175),
                      box(429, 125, 556, 181), tilted_a, box(30, 32, 172, 80)])
    # "Reads on a dark page" below "White": the "a" top is 16 px below "Reads"'s.
    assert detection.reading_order(boxes) == [5, 0, 1, 4, 2, 3]
    assert detection.reading_order(boxes[:0]) == []


def test_a_page_turned_by_quarters_reads_in_its_own_order():
    # Two lines of a page turned a quarter clockwise (text running down the image): the first
    # line is the rightmost column. Set upright, the page's own order comes back.
    first, second = (np.array([[x, 10], [x + 30, 10], [x + 30, 300], [x, 300]], np.float32)
                     for x in (200, 100))
    boxes = np.stack([second, first])
    assert detection.page_reading_order(boxes, 0, (400, 300)) == [0, 1]
    turns = detection.page_turns(detection.line_turns(np.array([True, True]),
                                                      np.array([False, False])),
                                 np.array([290.0, 290.0]))
    assert turns == 1
    assert detection.page_reading_order(boxes, turns, (400, 300)) == [1, 0]
    # Most of the text upright: the page is read as it stands.
    assert detection.page_turns(np.array([2, 0]), np.array([50.0, 500.0])) == 0
    assert detection.page_turns(np.array([2, 2, 0]), np.array([500.0, 500.0, 20.0])) == 2


def test_db_boxes_ignores_padding_and_weak_regions():
    prob = probability_map((320, 320), [(250, 250, 310, 300)])  # inside the padded area only
    boxes, _ = detection.db_boxes(prob[None], np.array([200, 200, 200, 200]), DbOptions())
    assert boxes.shape == (0, 4, 2)
    weak = np.full((1, 64, 64), 0.35, dtype=np.float32)  # above det_thresh, below box_thresh
    assert len(detection.db_boxes(weak, np.array([64, 64, 64, 64]), DbOptions())[0]) == 0


def test_order_clockwise_and_unclip():
    corners = np.array([[10, 20], [0, 0], [0, 20], [10, 0]], dtype=np.float32)
    assert detection.order_clockwise(corners).tolist() == [[0, 0], [10, 0], [10, 20], [0, 20]]
    grown = detection.unclip(detection.order_clockwise(corners), 1.5)
    assert grown[:, 0].min() < 0 and grown[:, 1].max() > 20


def test_crop_follows_the_box_and_turns_tall_crops():
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[10:30, 20:120] = 255
    box = np.array([[20, 10], [120, 10], [120, 30], [20, 30]], dtype=np.float32)
    patch = detection.crop(image, box)
    assert patch.shape == (20, 100, 3) and patch.mean() > 200
    tall = np.array([[0, 0], [10, 0], [10, 60], [0, 60]], dtype=np.float32)
    assert detection.crop(image, tall).shape == (10, 60, 3)


def test_only_the_best_boxes_are_kept_past_the_limit():
    prob = np.zeros((320, 320), np.float32)
    for row, value in enumerate((0.7, 0.95, 0.8, 0.9)):
        prob[20 + row * 60 : 50 + row * 60, 40:280] = value
    shape = np.array([320, 320, 320, 320])
    boxes, scores = detection.db_boxes(prob, shape, DbOptions(det_max_boxes=2))
    assert len(boxes) == 2 and scores.tolist() == pytest.approx([0.95, 0.9])
    assert boxes[0, 0, 1] < boxes[1, 0, 1], "still in reading order"


@pytest.mark.parametrize("det_shape,message", [
    ([100, 200, 96, 192], "image is 100x200 but image_bgr is 120x200"),
    ([120, 200, 352, 192], "detector saw 352x192 but det_prob is 320x320"),
    ([120, 200, 0, 192], "four positive sizes"),
    ([120, 200, 96], "four positive sizes"),
])
def test_inconsistent_det_shape_is_refused(det_shape, message):
    with pytest.raises(InputError, match=message):
        detection.check_det_shape(np.array(det_shape), (1, 320, 320), (120, 200, 3))
    detection.check_det_shape(np.array([120, 200, 96, 160]), (1, 320, 320), (120, 200, 3))
