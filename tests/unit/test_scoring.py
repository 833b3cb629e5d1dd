"""The accuracy scores, against expectations worked out by hand."""

from __future__ import annotations

import pytest

from tests.support.scoring import (
    PLAIN,
    UPPER_NOSPACE,
    Score,
    box_recall,
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


def test_upper_nospace_compares_without_case_or_spaces() -> None:
    # The truth's boxes are separated by spaces; "STOREMGR\n3.99B" against "STOREMGR3.99\nB" is
    # one line break deleted and one inserted over 14 characters.
    result = score(["Store Mgr", "3.99 b"], ["STOREMGR 3.99", "B"], UPPER_NOSPACE)
    assert result.chars == 14
    assert result.char_accuracy == pytest.approx(1 - 2 / 14)
    assert (result.words, result.words_found, result.word_recall) == (3, 3, 1.0)


def test_box_recall_uses_each_stretch_of_the_reading_once() -> None:
    assert box_recall(["B"], ["B B"]) == (1, 2)
    # The long box takes "BC" before the short one can, and the short one still finds its own.
    assert box_recall(["BC CHOC", "b"], ["B BCCHOC"]) == (2, 2)
    assert box_recall(["BCCHOC"], ["B BCCHOC"]) == (1, 2)


def test_box_recall_does_not_span_lines() -> None:
    assert box_recall(["TOTAL", "4.48"], ["TOTAL4.48"]) == (0, 1)


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
