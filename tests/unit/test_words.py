"""Word boxes: splitting lines into words, CTC steps to crop columns to image pixels, and the
in-process pipeline placing the words of rendered lines where they were drawn."""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from paddle_python import classification, detection, words
from paddle_python.pipeline import OcrPipeline, PipelineConfig
from paddle_python.recognition import CtcDecoder
from tests.support.render import FONT, squash


def split(text: str) -> list[str]:
    return [text[a:b] for a, b in words.split_words(text)]


@pytest.mark.parametrize("text,expected", [
    ("Hello Triton", ["Hello", "Triton"]),
    ("  Invoice No. 4721,  dated 2026-11-30 ", ["Invoice", "No.", "4721,", "dated", "2026-11-30"]),
    ('He said: "(see p. 3)!"', ["He", "said:", '"(see', "p.", '3)!"']),
    ("北京大学", ["北", "京", "大", "学"]),
    ("你好，世界。", ["你", "好，", "世", "界。"]),  # punctuation joins the word before it
    ("「東京」へ行く", ["「東", "京」", "へ", "行", "く"]),  # or, opening a token, the one after
    ("カタカナーと漢字", ["カ", "タ", "カ", "ナ", "ー", "と", "漢", "字"]),
    ("안녕 하세요", ["안", "녕", "하", "세", "요"]),
    ("PP-OCRv5は2025年に", ["PP-OCRv5", "は", "2025", "年", "に"]),
    ("iPhone 15发布会", ["iPhone", "15", "发", "布", "会"]),
    ("価格\u3000100元", ["価", "格", "100", "元"]),  # the ideographic space (a class of PP-OCRv5)
    ("...", ["..."]),
    ("", []),
])
def test_lines_split_into_words_as_paddleocr_groups_them(text, expected):
    assert split(text) == expected
    assert "".join(split(text)) == "".join(text.split())  # every character but white space


def test_ctc_steps_place_each_character_of_the_decoded_text():
    decoder = CtcDecoder(["<blank>", "a", "b", "ab", " "])
    # best classes per step: a a - a b b - ␣ - ab
    paths = np.zeros((1, 10, 2), np.float32)
    paths[0, :, 0] = [1, 1, 0, 1, 2, 2, 0, 4, 0, 3]
    paths[0, :, 1] = 0.9
    (text,), _ = decoder.decode(paths)
    steps = decoder.steps(paths)
    assert text == "aab ab" and steps.dtype == np.int32 and steps.shape == (1, 10)
    assert steps[0].tolist() == [1, 0, 0, 1, 1, 0, 0, 1, 0, 2]  # repeats and blanks add none
    assert words.char_steps(steps[0]).tolist() == [0, 3, 4, 7, 9, 9]  # "ab" is one class


def test_steps_map_to_crop_columns_through_the_bucket_padding():
    # 40 steps over a 320-wide input whose first 200 columns are a 100-wide crop resized.
    assert words.crop_columns(np.array([0, 10, 25]), 40, 320, 200, 100).tolist() == [0, 40, 100]


def test_character_edges_follow_the_line_pitch_and_each_characters_width():
    # "mill" at 10 steps to the em: centres (0.8 step past the kept steps) half an advance apart.
    at = np.array([5, 11, 14, 17], dtype=float)
    left, right = words.char_edges("mill", at, 30.0)
    assert left.tolist() == pytest.approx([1.8, 11.05, 14.05, 17.05])  # an "m" inks 0.8 em,
    assert right.tolist() == pytest.approx([9.8, 12.55, 15.55, 18.55])  # an "i" or "l" 0.15
    # A line of one character has no pitch to go by: it fills the crop.
    assert words.char_edges("x", np.array([3.0]), 12.5) == (pytest.approx([0.0]), pytest.approx([12.5]))


def dot_image(point: tuple[int, int]) -> np.ndarray:
    image = np.full((300, 400, 3), 255, np.uint8)
    cv2.circle(image, point, 3, (0, 0, 0), -1)
    return image


@pytest.mark.parametrize("box,turned", [
    ([[40, 60], [330, 90], [325, 140], [35, 110]], False),  # a tilted line
    ([[40, 60], [330, 90], [325, 140], [35, 110]], True),  # read turned 180 by the classifier
    ([[150, 20], [200, 25], [190, 280], [140, 275]], False),  # a vertical line: cut a quarter turned
    ([[150, 20], [200, 25], [190, 280], [140, 275]], True),
])
def test_a_span_of_crop_columns_maps_back_onto_its_place_in_the_box(box, turned):
    """A dot inside the box is found in the crop as recognition sees it (detection.crop, then
    classification.turn); the slice of the box under the dot's crop columns holds the dot."""
    box = np.array(box, np.float32)
    vertical = detection.is_vertical(box)
    # The line's middle, from its start to its end.
    start, end = ((box[0] + box[1]) / 2, (box[3] + box[2]) / 2) if vertical else (
        (box[0] + box[3]) / 2, (box[1] + box[2]) / 2)
    for share in (0.15, 0.5, 0.85):
        point = tuple(int(round(v)) for v in start + share * (end - start))
        crop = detection.crop(dot_image(point), box)
        if turned:
            crop = classification.turn(crop)
        columns = np.flatnonzero((crop.min(axis=(0, 2)) < 128))
        part = words.box_slice(box, columns[0], columns[-1] + 1, turned)
        assert cv2.pointPolygonTest(part.reshape(-1, 1, 2), point, True) >= -0.5, (share, part)
        # A slice, not the whole line: about the dot's width (7 px) along it.
        along = np.linalg.norm(part[3] - part[0] if vertical else part[1] - part[0])
        assert 5 <= along <= 11
        # And the whole crop is the box itself, corner for corner (to the half pixel by which
        # the crop's pixels sit off the box's corners).
        whole = words.box_slice(box, 0, crop.shape[1], turned)
        assert np.abs(whole - box).max() < 1


def test_line_words_are_slices_of_the_line_box_in_reading_order():
    box = np.array([[10, 20], [330, 20], [330, 68], [10, 68]], np.float32)  # a 320 x 48 crop
    steps = np.zeros(40, np.int32)  # 40 steps of 8 columns of a 320-wide input, crop unscaled
    steps[[3, 6, 9, 12, 20, 23, 26]] = 1
    found, boxes = words.line_words("abc d日本", steps, box, False, 320, 320, 320)
    assert found == ["abc", "d", "日", "本"] and boxes.shape == (4, 4, 2)
    assert np.all(np.diff(boxes[:, 0, 0]) > 0) and np.all(np.diff(boxes[:, 1, 0]) > 0)
    assert boxes[:, :, 0].min() >= 10 and boxes[:, :, 0].max() <= 330
    assert np.allclose(boxes[:, [0, 1], 1], 20) and np.allclose(boxes[:, [2, 3], 1], 68)
    turned, turned_boxes = words.line_words("abc d日本", steps, box, True, 320, 320, 320)
    assert turned == found and np.all(np.diff(turned_boxes[:, 0, 0]) < 0)  # right to left
    with pytest.raises(ValueError, match="7 characters"):
        words.line_words("abc", steps, box, False, 320, 320, 320)


# Rendered lines: each word's ink is known to the pixel.
FONT_PX = 32
# Horizontal tolerance at 32-px type. A word's ends are placed from single CTC steps, 5.7 px
# of the image at this size, and a kept step wanders about its character's centre (sd 0.4
# step, 2.3 px): over 1400 word edges rendered in three fonts at 32 px, 90% came within 3.6 px
# of the ink, 99% within 5.5, the worst 10 (PaddleOCR's first-to-last-step spans: median 4.5,
# worst 22). On these lines the worst is 6.9 px ("call", ending in a narrow "l" read late),
# so a word is allowed 8 px, and the line's median edge 3 px.
TOLERANCE_PX = 8
MEDIAN_PX = 3
LINES = ["Invoice No. 4721 dated 2026-11-30", "Please call me at 10:30 tomorrow",
         "北京大学的春夏秋冬", "東京駅まで歩いて十分です"]


def ink_box(size: tuple[int, int], at: tuple[float, float], text: str,
            font: ImageFont.FreeTypeFont) -> tuple[int, int, int, int]:
    """Where ``text`` drawn at ``at`` puts ink (half-covered pixels or more): x0, y0, x1, y1."""
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).text(at, text, fill=255, font=font)
    ink = np.array(mask) > 127
    cols, rows = np.flatnonzero(ink.any(axis=0)), np.flatnonzero(ink.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def render_words(text: str, degrees: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A line drawn in black on white and turned ``degrees`` counter-clockwise (0, 90, 180):
    the BGR image, its words, and each word's ink box (x0, y0, x1, y1) in the turned image."""
    font = ImageFont.truetype(str(FONT), FONT_PX)
    size = (int(font.getlength(text)) + 80, FONT_PX * 3)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.text((40, FONT_PX), text, fill="black", font=font)
    spans = words.split_words(text)
    inks = np.array([ink_box(size, (40 + draw.textlength(text[:a], font=font), FONT_PX),
                             text[a:b], font) for a, b in spans], dtype=np.float32)
    width, height = size
    x0, y0, x1, y1 = inks.T
    if degrees == 180:  # (x, y) -> (W - x, H - y), edges swap
        inks = np.stack([width - x1, height - y1, width - x0, height - y0], axis=1)
    elif degrees == 90:  # (x, y) -> (y, W - x)
        inks = np.stack([y0, width - x1, y1, width - x0], axis=1)
    turned = np.array(image.rotate(degrees, expand=True))
    return cv2.cvtColor(turned, cv2.COLOR_RGB2BGR), [text[a:b] for a, b in spans], inks


@pytest.fixture(scope="module")
def word_pipeline(repository):
    config = PipelineConfig.from_repository(repository).with_parameters(
        {"return_word_boxes": "true"})
    return OcrPipeline(repository, config=config)


@pytest.mark.parametrize("degrees", [0, 180, 90], ids=["upright", "upside-down", "vertical"])
@pytest.mark.parametrize("text", LINES, ids=["latin", "time", "chinese", "japanese"])
def test_words_of_rendered_lines_are_boxed_where_they_were_drawn(word_pipeline, text, degrees):
    image, expected, inks = render_words(text, degrees)
    result = word_pipeline.read_image(image)
    assert [squash(t) for t in result.texts] == [squash(text)]
    assert result.words == expected
    assert result.word_lines.tolist() == [0] * len(expected) and result.word_lines.dtype == np.int32
    assert result.word_boxes.shape == (len(expected), 4, 2)
    assert result.word_boxes.dtype == np.float32
    low, high = result.word_boxes.min(axis=1), result.word_boxes.max(axis=1)  # k x (x, y)
    along = 1 if degrees == 90 else 0  # the axis the line runs along
    error = np.abs(np.concatenate([low[:, along] - inks[:, along],
                                   high[:, along] - inks[:, along + 2]]))
    assert error.max() <= TOLERANCE_PX and np.median(error) <= MEDIAN_PX, error.round(1).tolist()
    # Across the line a word's box is its line's: it holds the word's ink.
    across = 1 - along
    assert np.all(low[:, across] <= inks[:, across] + 1)
    assert np.all(high[:, across] >= inks[:, across + 2] - 1)
    line = result.boxes[0]
    assert np.all(low >= line.min(axis=0) - 1) and np.all(high <= line.max(axis=0) + 1)


def test_word_boxes_are_off_unless_asked(word_pipeline):
    image, _, _ = render_words(LINES[0], 0)
    plain = copy.copy(word_pipeline)  # the same predictors, the served default options
    plain.config = word_pipeline.config.with_parameters({"return_word_boxes": "false"})
    result = plain.read_image(image)
    assert result.texts and result.words == []
    assert result.word_boxes.shape == (0, 4, 2) and result.word_lines.shape == (0,)
    # The lines themselves are the same with or without words.
    asked = word_pipeline.read_image(image)
    assert asked.texts == result.texts and np.array_equal(asked.boxes, result.boxes)
