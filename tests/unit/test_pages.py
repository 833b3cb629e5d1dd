"""The rendered corpus: the fonts it trusts, the glyphs they have, pages laid out as said, and
truth that is exactly what was drawn."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageFont

from tests.support import labelled, pages
from tests.support.pages import (
    A4_MM,
    CHARS,
    DEJAVU_SANS,
    DEJAVU_SERIF,
    DPIS,
    IPAEX_GOTHIC,
    MARGIN_MM,
    NO_LINE_END,
    NO_LINE_START,
    NOTO_SERIF_SC,
    PAGE_SPECS,
    SMALL_TOWN,
    UPSIDE_DOWN_SIZE,
    UPSIDE_DOWN_SPECS,
    WORDS,
    Case,
    checked,
    page_cases,
    pixels,
    render_page,
    upside_down_cases,
    wrap_chars,
    wrap_words,
)

ENGLISH_WORDS = (350, 450)
CHINESE_CHARS = (400, 600)
INK_BELOW = 128  # a pixel darker than this is ink
# Glyphs may reach a little past their advance box (side bearings, italics of a serif).
MARGIN_SLACK_MM = 0.5


def decoded(image: bytes) -> Image.Image:
    return Image.open(io.BytesIO(image))


def ink(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L")) < INK_BELOW


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return page_cases()


@pytest.fixture(scope="module")
def turned_cases() -> list[Case]:
    return upside_down_cases()


@pytest.mark.parametrize("font", [DEJAVU_SANS, DEJAVU_SERIF, IPAEX_GOTHIC, NOTO_SERIF_SC],
                         ids=lambda font: font.path.name)
def test_fonts_are_the_recorded_ones(font: pages.Font) -> None:
    assert checked(font) == font.path


def test_a_changed_font_is_refused(tmp_path) -> None:
    impostor = tmp_path / "DejaVuSans.ttf"
    impostor.write_bytes(b"not the font")
    with pytest.raises(ValueError, match="sha256"):
        checked(pages.Font("sans", impostor, DEJAVU_SANS.sha256))
    with pytest.raises(FileNotFoundError, match="missing"):
        checked(pages.Font("sans", tmp_path / "absent.ttf", DEJAVU_SANS.sha256))


def test_matplotlib_fonts_are_found_without_pyplot() -> None:
    assert DEJAVU_SANS.path.parent.parts[-3:] == ("mpl-data", "fonts", "ttf")


def test_every_chinese_character_is_in_ipaex() -> None:
    """IPAex is Japanese: the Chinese it renders must use only the characters it has."""
    cmap = TTFont(checked(IPAEX_GOTHIC)).getBestCmap()
    chinese = "".join(SMALL_TOWN) + "".join(line for spec in UPSIDE_DOWN_SPECS for line in spec.lines)
    missing = sorted({char for char in chinese if not char.isspace() and ord(char) not in cmap})
    assert not missing, f"IPAex Gothic has no glyph for {''.join(missing)}"


def test_every_rendered_character_has_a_glyph() -> None:
    cmaps = {}
    for font, text in pages.rendered_texts():
        if font not in cmaps:
            cmaps[font] = TTFont(checked(font)).getBestCmap()
        missing = sorted({char for char in text if not char.isspace() and ord(char) not in cmaps[font]})
        assert not missing, f"{font.path.name} has no glyph for {''.join(missing)}"


def test_texts_are_page_sized() -> None:
    for spec in PAGE_SPECS:
        if spec.wrap_by == WORDS:
            count = sum(len(paragraph.split()) for paragraph in spec.paragraphs)
            low, high = ENGLISH_WORDS
        else:
            count = sum(len(paragraph) for paragraph in spec.paragraphs)
            low, high = CHINESE_CHARS
        assert low <= count <= high, (spec.name(DPIS[0]), count)


def test_page_sets(cases: list[Case]) -> None:
    assert Counter(case.set for case in cases) == {f"pages-{lang}-{dpi}": 3
                                                    for lang in ("en", "zh") for dpi in DPIS}
    names = [case.name for case in cases]
    assert len(set(names)) == len(names)
    assert {spec.font for spec in PAGE_SPECS if spec.lang == "en"} == {DEJAVU_SANS, DEJAVU_SERIF}


def test_pages_are_a4_rgb_png_at_their_dpi(cases: list[Case]) -> None:
    for case in cases:
        dpi = int(case.set.rsplit("-", 1)[1])
        image = decoded(case.image)
        assert (image.format, image.mode) == ("PNG", "RGB")
        assert image.size == (pixels(A4_MM[0], dpi), pixels(A4_MM[1], dpi)), case.name


def test_truth_is_the_text_as_wrapped(cases: list[Case]) -> None:
    by_name = {spec.name(dpi): spec for spec in PAGE_SPECS for dpi in DPIS}
    for case in cases:
        spec = by_name[case.name]
        joiner = " " if spec.wrap_by == WORDS else ""
        assert joiner.join(case.truth) == joiner.join(spec.paragraphs), case.name
        assert all(line and line == line.strip() for line in case.truth)
        assert len(case.truth) > len(spec.paragraphs)  # long paragraphs did wrap


def test_chinese_lines_keep_punctuation_with_its_text(cases: list[Case]) -> None:
    for case in cases:
        if case.set.startswith("pages-zh"):
            assert not [line for line in case.truth if line[0] in NO_LINE_START], case.name
            assert not [line for line in case.truth if line[-1] in NO_LINE_END], case.name


def test_ink_stays_within_the_margins(cases: list[Case]) -> None:
    for case in cases:
        dpi = int(case.set.rsplit("-", 1)[1])
        rows, columns = np.nonzero(ink(decoded(case.image)))
        margin = pixels(MARGIN_MM - MARGIN_SLACK_MM, dpi)
        width, height = pixels(A4_MM[0], dpi), pixels(A4_MM[1], dpi)
        assert columns.min() >= margin and columns.max() < width - margin, case.name
        assert rows.min() >= margin and rows.max() < height - margin, case.name


def test_wrap_words_breaks_at_spaces() -> None:
    font = ImageFont.truetype(str(checked(DEJAVU_SANS)), 20)
    assert wrap_words("aa bb cc", font, font.getlength("aa bb"), font.getlength("aa bb")) == ["aa bb", "cc"]
    assert wrap_words("aa bb cc", font, font.getlength("aa bb"), font.getlength("aa")) == ["aa", "bb cc"]
    with pytest.raises(ValueError, match="wider"):
        wrap_words("unbreakable", font, font.getlength("un"), font.getlength("un"))


def test_wrap_chars_keeps_closing_punctuation_off_a_line_start() -> None:
    font = ImageFont.truetype(str(checked(IPAEX_GOTHIC)), 20)
    width = font.getlength("一二三")
    assert wrap_chars("一二三四五六", font, width, width) == ["一二三", "四五六"]
    assert wrap_chars("一二三。四五", font, width, width) == ["一二", "三。四", "五"]
    assert wrap_chars("一二「三四", font, width, width) == ["一二", "「三四"]


def test_render_page_is_deterministic_and_refuses_overflow() -> None:
    font = checked(DEJAVU_SERIF)
    first = render_page(["One short line."], font, 10, 150)
    assert first == render_page(["One short line."], font, 10, 150)
    assert first[1] == ["One short line."]
    with pytest.raises(ValueError, match="does not fit"):
        render_page(["A line."] * 200, font, 10, 150)


def test_chinese_paragraphs_are_indented() -> None:
    dpi = 150
    image, truth = render_page(["一二三", "四五六"], checked(IPAEX_GOTHIC), 10, dpi, CHARS)
    assert truth == ["一二三", "四五六"]
    columns = np.nonzero(ink(decoded(image)))[1]
    assert columns.min() > pixels(MARGIN_MM, dpi) + pages.points_to_pixels(10, dpi)


def test_upside_down_sets(turned_cases: list[Case]) -> None:
    assert Counter(case.set for case in turned_cases) == {"lines-upside-down": len(UPSIDE_DOWN_SPECS),
                                                          "pages-180": len(pages.TURNED_PAGES)}
    for spec, case in zip(UPSIDE_DOWN_SPECS, turned_cases):
        assert decoded(case.image).size == UPSIDE_DOWN_SIZE
        assert case.truth == list(spec.lines)
        assert 4 <= len(spec.lines) <= 6
        assert 0 < len(spec.turned) < len(spec.lines)  # some turned, one at least upright


def test_turned_pages_are_the_pages_turned_whole(cases: list[Case], turned_cases: list[Case]) -> None:
    upright = {case.name: case for case in cases}
    turned = [case for case in turned_cases if case.set == "pages-180"]
    assert {case.name.split("-")[0] for case in turned} == {"en", "zh"}
    for case in turned:
        original = upright[case.name.removesuffix("-180")]
        assert case.truth == original.truth
        expected = np.rot90(np.asarray(decoded(original.image)), 2)
        assert np.array_equal(np.asarray(decoded(case.image)), expected), case.name


# The labelled real images (tests/support/labelled.py), read from the team's shared folder.


def test_labelled_sets(photos) -> None:
    cases = labelled.labelled_cases()
    assert Counter(case.set for case in cases) == {"words": 10, "receipts": 2, "pages-scan": 3}
    assert {case.compare for case in cases if case.set == "receipts"} == {"regions"}
    receipt = next(case for case in cases if case.set == "receipts")
    assert len(receipt.regions) == len(receipt.truth) > 10 and receipt.truth[0] == "SAFEWAY"
    assert {case.compare for case in cases if case.set != "receipts"} == {"plain"}
    assert [case.truth for case in cases if case.name == "word-1036169"] == [["03/09/2009"]]
    scans = [case.truth for case in cases if case.set == "pages-scan"]
    assert scans == [list(labelled.SCAN_TRUTH)] * 3
    assert all(case.truth and case.image for case in cases)
