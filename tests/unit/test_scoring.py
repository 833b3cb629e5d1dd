"""The accuracy scores, against expectations worked out by hand."""

from __future__ import annotations

import pytest

from tests.support.scoring import (
    PLAIN,
    REGIONS,
    Score,
    char_accuracy,
    combine,
    is_spaced,
    normalise,
    score,
    word_recall,
)


def test_normalise_folds_widths_collapses_spaces_and_drops_empty_lines() -> None:
    assert normalise(["  Ｎｏ．２０２６，  ok ", "", "   ", "a\tb"]) == ["No.2026, ok", "a b"]


def test_perfect_reading_scores_one() -> None:
    truth = ["The quick brown fox.", "Jumped 2 times."]
    assert char_accuracy(truth, truth) == 1.0
    assert word_recall(truth, truth) == 1.0


def test_empty_reading_scores_zero() -> None:
    assert char_accuracy([], ["the lazy fox"]) == 0.0
    assert word_recall([], ["the lazy fox"]) == 0.0


def test_dropped_spaces_lose_every_word_but_only_two_characters() -> None:
    read, truth = ["thelazyfox"], ["the lazy fox"]
    assert char_accuracy(read, truth) == pytest.approx(1 - 2 / 12)
    assert word_recall(read, truth) == 0.0


def test_glued_words_do_not_count() -> None:
    assert word_recall(["analysisinvideos"], ["analysis in videos"]) == 0.0


def test_full_width_punctuation_equals_half_width() -> None:
    assert char_accuracy(["北京，上海：２０２６"], ["北京,上海:2026"]) == 1.0


def test_whitespace_and_blank_lines_do_not_count() -> None:
    assert char_accuracy(["  the   lazy fox ", ""], ["the lazy fox"]) == 1.0


def test_punctuation_is_part_of_its_word() -> None:
    read, truth = ["the lazy fox"], ["the lazy fox."]
    assert word_recall(read, truth) == pytest.approx(2 / 3)
    assert char_accuracy(read, truth) == pytest.approx(1 - 1 / 13)


def test_lines_out_of_order_cost_characters_and_words() -> None:
    # "cd\nab" against "ab\ncd": four substitutions over five characters; one word in order.
    assert char_accuracy(["cd", "ab"], ["ab", "cd"]) == pytest.approx(1 - 4 / 5)
    assert word_recall(["cd", "ab"], ["ab", "cd"]) == 0.5


def test_line_breaks_count_as_one_character() -> None:
    # "ab cd" against "ab\ncd": one substitution over five characters; words are unaffected.
    assert char_accuracy(["ab cd"], ["ab", "cd"]) == pytest.approx(1 - 1 / 5)
    assert word_recall(["ab cd"], ["ab", "cd"]) == 1.0


def test_char_accuracy_floors_at_zero() -> None:
    assert char_accuracy(["x" * 50], ["ab"]) == 0.0


def test_empty_truth() -> None:
    assert char_accuracy([], []) == 1.0
    assert char_accuracy(["noise"], []) == 0.0
    assert word_recall(["noise"], []) == 1.0


@pytest.mark.parametrize(("truth", "spaced"), [
    (["The quick brown fox"], True),
    (["03/09/2009"], True),
    (["小城的早晨，常常从河岸开始。"], False),
    (["Platform 3", "下一站：中山路", "本日天气晴朗"], False),
    (["Platform 3 Departures", "下一站"], True),
    (["ひらがなとカタカナ"], False),
])
def test_is_spaced(truth: list[str], spaced: bool) -> None:
    assert is_spaced(truth) is spaced


def test_score_counts_words_only_for_spaced_truth() -> None:
    chinese = score(["小城的早晨"], ["小城的早晨"])
    assert (chinese.chars, chinese.char_accuracy, chinese.words, chinese.word_recall) == (5, 1.0, 0, None)
    english = score(["the lazy fox"], ["the lazy fox."])
    assert (english.chars, english.errors, english.words, english.words_found) == (13, 1, 3, 2)
    assert english.word_recall == pytest.approx(2 / 3)


def test_score_rejects_an_unknown_comparison() -> None:
    with pytest.raises(ValueError, match="unknown comparison"):
        score([], ["a"], "fuzzy")


def square(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def test_regions_score_each_truth_box_by_what_was_read_over_it() -> None:
    regions = [square(10, 10, 100, 30), square(300, 10, 360, 30), square(10, 40, 100, 60)]
    truth = ["STOREMGR", "3.99B", "TOTAL"]
    # "Store" and "Mgr" read apart but over the first box, left to right whatever their order;
    # the price read "3.99 8"; nothing over the third; a line over no box is not scored.
    read = ["Mgr", "Store", "3.99 8", "stray"]
    boxes = [square(60, 12, 98, 28), square(12, 12, 55, 28), square(302, 12, 358, 28),
             square(500, 500, 520, 520)]
    result = score(read, truth, REGIONS, boxes, regions)
    assert (result.chars, result.errors) == (18, 1 + 5)
    assert (result.words, result.words_found) == (3, 1)
    assert result.char_accuracy == pytest.approx(1 - 6 / 18)


def test_a_line_over_two_boxes_goes_to_the_one_it_covers_most() -> None:
    regions = [square(0, 0, 100, 20), square(100, 0, 130, 20)]
    result = score(["TOTAL 4.48"], ["TOTAL", "4.48"], REGIONS, [square(0, 0, 130, 20)], regions)
    assert result.words_found == 0 and result.errors == len("4.48") + len("4.48")
    # A line mostly outside every box (cut off at the edge, left unannotated) is not scored.
    grazing = score(["TOTAL", "860.44"], ["TOTAL"], REGIONS,
                    [square(0, 0, 100, 20), square(0, 15, 100, 40)], regions[:1])
    assert (grazing.errors, grazing.words_found) == (0, 1)


def test_combine_pools_errors_not_ratios() -> None:
    short = score(["abcdefghiX"], ["abcdefghij"])  # 1 error in 10
    long = score(["a" * 90], ["a" * 90])  # none in 90
    pooled = combine([short, long])
    assert (pooled.chars, pooled.errors) == (100, 1)
    assert pooled.char_accuracy == pytest.approx(0.99)  # not the mean of ratios, 0.95
    assert pooled.word_recall == pytest.approx(1 / 2)  # one word of two found


def test_combine_pools_words_over_spaced_cases_only() -> None:
    pooled = combine([score(["the lazy fox"], ["the lazy fox."]), score(["小城"], ["小城"])])
    assert (pooled.words, pooled.words_found) == (3, 2)
    assert pooled.word_recall == pytest.approx(2 / 3)
    assert combine([score(["小城"], ["小城"])]).word_recall is None


def test_combine_weighs_garbage_no_more_than_its_truth() -> None:
    pooled = combine([score(["x" * 500], ["ab"]), score(["abcdefgh"], ["abcdefgh"])])
    assert (pooled.chars, pooled.errors) == (10, 2)
    assert pooled.char_accuracy == pytest.approx(0.8)


def test_combine_needs_scores() -> None:
    with pytest.raises(ValueError):
        combine([])


def test_combine_of_one_is_itself() -> None:
    one = Score(chars=12, char_accuracy=0.75, words=3, word_recall=1 / 3, errors=3, words_found=1)
    assert combine([one]) == one


def test_plain_is_the_default_comparison() -> None:
    assert score(["ABC"], ["abc"], PLAIN) == score(["ABC"], ["abc"])
    assert score(["ABC"], ["abc"]).char_accuracy == 0.0
