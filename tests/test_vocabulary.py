"""The one vocabulary of APL and proactive words: every word, both readings, both users."""

from __future__ import annotations

import pytest

from visualact_env.importer import normalize_apl, normalize_proactive, parse_action_string
from visualact_env.parsing import coerce_apl, coerce_proactive, parse_actions
from visualact_env.vocabulary import (
    APL_WORDS,
    PROACTIVE_WORDS,
    apl_lenient,
    apl_strict,
    proactive_lenient,
    proactive_strict,
    read_marker_segment,
    split_markers,
)


@pytest.mark.parametrize(("word", "level"), sorted(APL_WORDS.items()))
def test_every_apl_word_reads_the_same_strictly_leniently_and_in_both_users(word, level):
    for spelling in (word, word.upper(), word.title(), f"  {word} "):
        assert apl_strict(spelling) == level
        assert apl_lenient(spelling) == level
        assert normalize_apl(spelling) == level  # the importer
        assert coerce_apl(spelling) == level  # the parser
    assert apl_strict(f"{word} priority") == level
    assert apl_strict(f"APL: {word}") == level


@pytest.mark.parametrize(("phrase", "flag"), sorted(PROACTIVE_WORDS.items()))
def test_every_flag_phrase_reads_the_same_strictly_leniently_and_in_both_users(phrase, flag):
    for spelling in (phrase, phrase.upper(), phrase.replace(" ", "-"), phrase.replace(" ", "_")):
        assert proactive_strict(spelling) is flag
        assert proactive_lenient(spelling) is flag
        assert normalize_proactive(spelling) is flag
        assert coerce_proactive(spelling) is flag
        assert proactive_strict(spelling, invert=True) is (not flag)
        assert normalize_proactive(spelling, "is_reactive") is (not flag)


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0, 0),
        (4, 4),
        (3.0, 3),
        ("3", 3),
        ("4.0", 4),
        ("APL 3", 3),
        ("apl3", 3),
        ("APL-2", 2),
        ("APL: 1", 1),
        ("APL : 1", 1),
        ("P3", 3),
        ("p0", 0),
        ("L2", 2),
        ("level 3", 3),
        ("Level_2", 2),
        ("lvl 1", 1),
        ("Priority: 4", 4),
        ("priority level 2", 2),
        ("prio 1", 1),
        ("urgency 3", 3),
        ("high priority", 3),
        ("urgent", 3),
        ("Critical", 4),
    ],
)
def test_strict_apl_accepts_unambiguous_levels(value, level):
    assert apl_strict(value) == level
    assert apl_lenient(value) == level


@pytest.mark.parametrize(
    ("value", "lenient"),
    [
        (5, 4),
        (-1, 0),
        ("-1", 0),
        ("7", 4),
        (2.5, 3),
        ("2.5", 3),
        ("3/4", 3),
        ("level 3 (high)", 3),
        ("APL 3 - high", 3),
        ("somewhat urgent", 3),
        (True, None),
        (False, None),
        (None, None),
        (float("nan"), None),
        (float("inf"), None),
        ("nan", None),
        ("hi", None),
        ("", None),
        ("apl", None),
        ([3], None),
        ({"apl": 3}, None),
    ],
)
def test_strict_apl_rejects_what_lenient_guesses(value, lenient):
    assert apl_strict(value) is None
    assert normalize_apl(value) is None
    assert apl_lenient(value) == lenient


def test_lenient_apl_notes_every_guess():
    diags: list[str] = []
    assert apl_lenient("2.5", diags, "item 1") == 3
    assert apl_lenient(9, diags) == 4
    assert apl_lenient("hi", diags) is None
    assert apl_lenient("P3", diags) == 3  # strict reading: no note
    assert diags == [
        "item 1: APL '2.5' rounded to 3",
        "APL 9 out of range, clamped to 4",
        "APL 'hi' is not a level; ignored",
    ]


@pytest.mark.parametrize(
    ("value", "lenient"),
    [
        ("proactive (prevents harm)", True),
        ("Proactive: anticipates", True),
        ("not a proactive action", False),
        ("this is reactive", False),
        ("reactive rather than proactive", False),
        ("proactive, not reactive", True),
        (1.0, True),
        (0.0, False),
        ("maybe", None),
        ("", None),
        (2, None),
        (None, None),
        (["proactive"], None),
    ],
)
def test_strict_flag_rejects_what_lenient_guesses(value, lenient):
    assert proactive_strict(value) is None
    assert normalize_proactive(value) is None
    assert proactive_lenient(value) is lenient


@pytest.mark.parametrize(
    ("segment", "apl", "flag"),
    [
        ("APL 4, proactive", "4", "proactive"),
        ("non-proactive, APL 1", "1", "non-proactive"),
        ("not proactive", None, "not proactive"),
        ("non-reactive; P3", "3", "non-reactive"),
        ("Priority: high, Type: Reactive", "high", "Reactive"),
        ("urgent priority", "urgent", None),
        ("reactive action", None, "reactive"),
        ("主动, 优先级 2", "2", "主动"),
    ],
)
def test_marker_segments(segment, apl, flag):
    markers = read_marker_segment(segment)
    assert markers is not None
    assert (markers.apl, markers.proactive) == (apl, flag)


@pytest.mark.parametrize("segment", ["2", "high", "now", "see below", "APL 3, and then run", ""])
def test_ambiguous_or_prose_segments_are_not_markers(segment):
    assert read_marker_segment(segment) is None


@pytest.mark.parametrize(
    ("line", "text", "apl", "flag"),
    [
        ("1. Tidy the desk (non-proactive, APL 1)", "Tidy the desk", 1, False),
        ("2. Call 911 (APL 4, proactive)", "Call 911", 4, True),
        ("- Close the door [P2] [reactive]", "Close the door", 2, False),
        ("3. Warn the child - urgent priority - proactive", "Warn the child", 3, True),
        ("4. Wipe the spill (not proactive; level 2)", "Wipe the spill", 2, False),
        ("5. Stop (now)", "Stop (now)", None, None),
    ],
)
def test_parser_and_importer_read_inline_markers_alike(line, text, apl, flag):
    result = parse_actions(line)
    assert result.ok and len(result.actions) == 1
    action = result.actions[0]
    assert (action.text, action.apl, action.proactive) == (text, apl, flag)
    assert parse_action_string(line) == (text, apl, flag)


def test_split_markers_keeps_the_first_value_of_each_field():
    text, markers = split_markers("Brake (APL 4) (APL 2, reactive) - proactive")
    assert text.strip() == "Brake"
    assert (markers.apl, markers.proactive) == ("4", "reactive")


def test_importer_strict_marker_values_are_not_guessed():
    # a marker out of range in ground truth gives no APL (the importer then reports it)
    assert parse_action_string("Call 911 (APL 7, proactive)") == ("Call 911", None, True)
