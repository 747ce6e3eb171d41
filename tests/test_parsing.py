"""The output parser on realistic model outputs, defects, bounds and arbitrary input."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visualact_env.parsing import ParseResult, coerce_apl, coerce_proactive, parse_actions
from visualact_env.records import Action

A = Action

# (id, model text, expected actions as (text, apl, proactive), expected format)
CASES: list[tuple[str, str, list[tuple[str, int | None, bool | None]], str]] = [
    (
        "gpt-json-fence",
        'Here is my answer:\n```json\n{"actions": [\n  {"action": "Call emergency services", '
        '"apl": 4, "proactive": true},\n  {"action": "Keep the person still", "apl": 3, '
        '"proactive": false}\n]}\n```',
        [("Call emergency services", 4, True), ("Keep the person still", 3, False)],
        "json",
    ),
    (
        "plain-json-object",
        '{"actions": [{"action": "Turn off the stove", "apl": 3, "proactive": true}]}',
        [("Turn off the stove", 3, True)],
        "json",
    ),
    (
        "bare-array-text-key",
        '[{"text": "Wipe the spill", "apl": 1, "proactive": true}, {"text": "Put up a sign", '
        '"apl": 2, "proactive": true}]',
        [("Wipe the spill", 1, True), ("Put up a sign", 2, True)],
        "json",
    ),
    (
        "single-object",
        '{"action": "Slow down", "apl": 3, "proactive": false}',
        [("Slow down", 3, False)],
        "json",
    ),
    (
        "trailing-commas",
        '{"actions": [{"action": "Close the tap", "apl": 2, "proactive": true,},],}',
        [("Close the tap", 2, True)],
        "json-repaired",
    ),
    (
        "python-literals-single-quotes",
        "[{'action': 'Stop the car', 'apl': 4, 'proactive': False}, "
        "{'action': \"Don't honk\", 'apl': None, 'proactive': True}]",
        [("Stop the car", 4, False), ("Don't honk", None, True)],
        "json-repaired",
    ),
    (
        "unquoted-keys-bare-words",
        "{actions: [{action: 'Wave back', apl: low, proactive: yes}]}",
        [("Wave back", 1, True)],
        "json-repaired",
    ),
    (
        "truncated-json",
        '{"actions": [{"action": "Call 911", "apl": 4, "proactive": true}, '
        '{"action": "Open the window", "apl": 2, "proactive": true}, {"action": "Turn off th',
        [("Call 911", 4, True), ("Open the window", 2, True)],
        "json-repaired",
    ),
    (
        "prose-around-json",
        "Sure! Based on the frames, the actions are "
        '[{"action": "Pick up the cup", "apl": 1, "proactive": true}] Let me know if you need more.',
        [("Pick up the cup", 1, True)],
        "json",
    ),
    (
        "other-wrapper-keys",
        '{"response": {"recommended_actions": [{"description": "Move the toys", '
        '"priority": "low", "type": "Proactive"}]}}',
        [("Move the toys", 1, True)],
        "json",
    ),
    (
        "description-plus-actions",
        '{"description": "A kitchen with a pot", "actions": [{"action": "Lower the heat", '
        '"apl": "3", "proactive": "yes"}]}',
        [("Lower the heat", 3, True)],
        "json",
    ),
    (
        "array-of-strings",
        '["Call 911", "Stay with the person"]',
        [("Call 911", None, None), ("Stay with the person", None, None)],
        "json",
    ),
    (
        "triples",
        '[["Brake", 4, true], ["Honk", 7, "reactive"]]',
        [("Brake", 4, True), ("Honk", 4, False)],
        "json",
    ),
    (
        "reactive-key-inverted",
        '[{"action": "Answer the door", "apl": 1, "reactive": true}]',
        [("Answer the door", 1, False)],
        "json",
    ),
    (
        "qwen-numbered-list",
        "1. Call 911 (APL 4, proactive)\n2. Turn off the stove (APL 3, reactive)\n"
        "3. Open the window (APL 2, proactive)",
        [("Call 911", 4, True), ("Turn off the stove", 3, False), ("Open the window", 2, True)],
        "list",
    ),
    (
        "bullets-bracket-markers",
        "- Turn off the stove [APL: 3] [reactive]\n* Ventilate the room [APL: 2] [proactive]",
        [("Turn off the stove", 3, False), ("Ventilate the room", 2, True)],
        "list",
    ),
    (
        "key-value-one-line",
        "Action: Turn off the stove; APL: 2; Type: Proactive\n"
        "Action: Call the fire brigade; APL: critical; Type: Reactive",
        [("Turn off the stove", 2, True), ("Call the fire brigade", 4, False)],
        "list",
    ),
    (
        "key-value-blocks",
        "**Action 1:** Help the person up\n**APL:** 3\n**Type:** Proactive\n\n"
        "**Action 2:** Check for injuries\nPriority: high\nReactive: yes",
        [("Help the person up", 3, True), ("Check for injuries", 3, False)],
        "list",
    ),
    (
        "markdown-bold-dash-markers",
        "Here are the actions:\n1. **Stop at the crossing** - APL 4 - proactive\n"
        "2. **Let the pedestrian pass** - APL 3 - reactive",
        [("Stop at the crossing", 4, True), ("Let the pedestrian pass", 3, False)],
        "list",
    ),
    (
        "nested-headings",
        "### Recommended actions\n1. Immediate:\n   - Call 911 (APL 4, proactive)\n"
        "   - Keep the person warm (high priority, proactive)\n2. Later:\n   - Tidy up (routine priority)",
        [("Call 911", 4, True), ("Keep the person warm", 3, True), ("Tidy up", 0, None)],
        "list",
    ),
    (
        "sub-bullet-rationales",
        "1. Call 911 (APL 4, proactive)\n   - Reason: the person is not moving\n"
        "2. Stay with the person (APL 3, reactive)\n   - Rationale: comfort them",
        [("Call 911", 4, True), ("Stay with the person", 3, False)],
        "list",
    ),
    (
        "markdown-table",
        "| # | Action | APL | Proactive/Reactive |\n|---|---|---|---|\n"
        "| 1 | Catch the falling cup | 2 | Proactive |\n| 2 | Clean the floor | 0 | Reactive |",
        [("Catch the falling cup", 2, True), ("Clean the floor", 0, False)],
        "list",
    ),
    (
        "chinese-list",
        "1. 拨打急救电话（APL 4，主动）\n2. 关闭炉灶 (APL 3, reactive)",
        [("拨打急救电话", 4, True), ("关闭炉灶", 3, False)],
        "list",
    ),
    (
        "unicode-json",
        '{"actions": [{"action": "Éteindre la cuisinière 🔥", "apl": 3, "proactive": true}]}',
        [("Éteindre la cuisinière 🔥", 3, True)],
        "json",
    ),
    (
        "think-block",
        "<think>The pot is boiling over, so...</think>\n"
        '{"actions": [{"action": "Lower the heat", "apl": 2, "proactive": true}]}',
        [("Lower the heat", 2, True)],
        "json",
    ),
    (
        "explicit-empty",
        '{"actions": []}',
        [],
        "json",
    ),
    (
        "apl-words-and-numbers",
        '[{"action": "a", "apl": "critical"}, {"action": "b", "apl": 2.5}, '
        '{"action": "c", "apl": -1}, {"action": "d", "apl": "APL-3"}, {"action": "e", "apl": true}]',
        [("a", 4, None), ("b", 3, None), ("c", 0, None), ("d", 3, None), ("e", None, None)],
        "json",
    ),
    (
        "duplicates-kept",
        "1. Call 911 (APL 4, proactive)\n2. Call 911 (APL 4, proactive)",
        [("Call 911", 4, True), ("Call 911", 4, True)],
        "list",
    ),
    (
        "no-markers-list",
        "- Pick up the toys\n- Vacuum the floor",
        [("Pick up the toys", None, None), ("Vacuum the floor", None, None)],
        "list",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected", "fmt"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_realistic_outputs(
    text: str, expected: list[tuple[str, int | None, bool | None]], fmt: str
):
    result = parse_actions(text)
    assert result.error is None, result
    assert [(a.text, a.apl, a.proactive) for a in result.actions] == expected
    assert result.format == fmt
    assert isinstance(result.diagnostics, list)


def test_clean_json_has_no_diagnostics():
    result = parse_actions('{"actions": [{"action": "Brake", "apl": 4, "proactive": true}]}')
    assert result.diagnostics == []


@pytest.mark.parametrize("text", ["", "   \n\t ", None])
def test_empty_input_is_not_an_error(text):
    result = parse_actions(text)
    assert result.actions == ()
    assert result.error is None
    assert result.format == "empty"


@pytest.mark.parametrize(
    "text",
    [
        "I cannot help with that.",
        "I'm sorry, but I can't assist with this request.\nIs there anything else I can do?",
        "The video shows a kitchen with a pot on the stove.",
        "<think>Let me look at the frames carefully and",
        "[reactive]",
    ],
)
def test_unparseable_text_is_an_error(text: str):
    result = parse_actions(text)
    assert result.actions == ()
    assert result.error
    assert result.format == "unparsed"
    assert result.error in result.diagnostics


def test_repairs_and_truncation_are_diagnosed():
    repaired = parse_actions("{'actions': [{'action': 'Brake', 'apl': 4, 'proactive': True}]}")
    assert any("repaired" in d for d in repaired.diagnostics)
    truncated = parse_actions('[{"action": "Brake", "apl": 4}, {"action": "Ho')
    assert [a.text for a in truncated.actions] == ["Brake"]
    assert any("truncated" in d for d in truncated.diagnostics)


def test_out_of_range_and_rounding_are_diagnosed():
    result = parse_actions(
        '[{"action": "x", "apl": 9}, {"action": "y", "apl": 1.5}, {"action": "z", "apl": "soon"}]'
    )
    assert [a.apl for a in result.actions] == [4, 2, None]
    joined = " | ".join(result.diagnostics)
    assert "item 1: APL 9 out of range, clamped to 4" in joined
    assert "item 2: APL 1.5 rounded to 2" in joined
    assert "item 3: APL 'soon' is not a level" in joined


def test_max_actions_drops_extra_with_diagnostic():
    text = json.dumps([{"action": f"step {i}", "apl": 1} for i in range(10)])
    result = parse_actions(text, max_actions=3)
    assert [a.text for a in result.actions] == ["step 0", "step 1", "step 2"]
    assert any("7 action(s) beyond max_actions=3 dropped" in d for d in result.diagnostics)


def test_long_text_cut_at_word_boundary():
    long = "Move " + "the heavy box " * 40
    result = parse_actions(json.dumps([{"action": long}]), max_chars=50)
    (action,) = result.actions
    assert len(action.text) <= 50
    assert long.startswith(action.text)
    assert not action.text.endswith(" ")
    assert long[len(action.text)] == " "  # cut at a word boundary
    assert any("truncated" in d for d in result.diagnostics)


def test_empty_texts_dropped_with_diagnostic():
    result = parse_actions('[{"action": "  "}, {"action": "Brake"}, {"action": 5}]')
    assert [a.text for a in result.actions] == ["Brake"]
    assert any("item 1: empty action text" in d for d in result.diagnostics)
    assert any(
        "1 list element(s) without action text ignored (dict)" in d for d in result.diagnostics
    )


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xfe 1. Brake (APL 4, proactive)",
        12,
        3.5,
        object(),
        [1, None, ["x"]],
        {"actions": "call 911"},
        {"actions": [{"action": {"nested": True}}]},
        "\x00" * 10,
        "{" * 5_000,
        "[" * 5_000 + "]" * 5_000,
    ],
    ids=lambda v: type(v).__name__,
)
def test_odd_inputs_never_raise_nor_crash_inside(value):
    result = parse_actions(value)
    _check_invariants(result, 32, 400)
    assert result.error is None or result.actions == ()


def test_non_text_input_is_a_named_error():
    result = parse_actions(12)
    assert result.actions == () and result.format == "unparsed"
    assert result.error == "expected text, got int"


def test_bytes_are_decoded():
    result = parse_actions("1. 关闭炉灶 (APL 3, proactive)".encode())
    assert [(a.text, a.apl, a.proactive) for a in result.actions] == [("关闭炉灶", 3, True)]


def test_structured_input_is_accepted():
    result = parse_actions({"actions": [{"text": "Brake", "apl": 4, "proactive": True}]})
    assert result.actions == (A("Brake", 4, True),)
    assert result.format == "structured"


def test_internal_errors_become_diagnostics(monkeypatch):
    import visualact_env.parsing as parsing

    def boom(*args, **kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr(parsing, "_try_json", boom)
    result = parse_actions('{"actions": []}')
    assert result.actions == ()
    assert result.error == "internal parser error: RuntimeError: kaput"
    assert result.diagnostics == [result.error]


def test_huge_input_is_bounded():
    text = "- Brake (APL 4, proactive)\n" * 20_000
    result = parse_actions(text)
    assert len(result.actions) == 32
    assert any("cut before parsing" in d for d in result.diagnostics)
    assert any("beyond max_actions" in d for d in result.diagnostics)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (4, 4),
        (5, 4),
        (-2, 0),
        (2.4, 2),
        (2.5, 3),
        ("3", 3),
        ("APL 2", 2),
        ("3/4", 3),
        ("high", 3),
        ("Critical", 4),
        ("medium", 2),
        ("none", 0),
        (None, None),
        (True, None),
        (float("nan"), None),
        ("unknown", None),
    ],
)
def test_coerce_apl(value, expected):
    assert coerce_apl(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("proactive", True),
        ("Reactive", False),
        ("yes", True),
        ("no", False),
        (1, True),
        (0, False),
        ("maybe", None),
        (None, None),
        (3, None),
    ],
)
def test_coerce_proactive(value, expected):
    assert coerce_proactive(value) == expected


def test_to_dict_shape():
    d = parse_actions("1. Brake (APL 4, proactive)").to_dict()
    assert d == {
        "actions": [{"text": "Brake", "apl": 4, "proactive": True}],
        "diagnostics": [],
        "format": "list",
        "error": None,
    }


def test_truncated_json_drops_only_the_cut_off_item():
    items = [{"action": f"Step {i}", "apl": 2, "proactive": True} for i in range(3)]
    whole = json.dumps({"actions": items})
    # cut inside the third item's text, after its last key, and right after a complete item
    for cut_at, kept in ((whole.index("Step 2") + 3, 2), (whole.rindex("proactive") - 1, 2)):
        result = parse_actions(whole[:cut_at])
        assert [a.text for a in result.actions] == [f"Step {i}" for i in range(kept)]
        assert result.format == "json-repaired"
        assert "JSON was truncated; kept the complete items" in result.diagnostics
    result = parse_actions(whole[: whole.index("]")] + ",")
    assert [a.text for a in result.actions] == ["Step 0", "Step 1", "Step 2"]


def test_truncated_python_literal_json_is_repaired_then_cut():
    text = "[{'action': 'Brake', 'apl': None, 'proactive': True}, {'action': 'Ho"
    result = parse_actions(text)
    assert result.actions == (A("Brake", None, True),)


def test_long_defective_json_is_read_up_to_the_repair_budget():
    item = "{action: 'Move the heavy box to the side', apl: high, proactive: yes}"
    text = "{actions: [" + ", ".join([item] * 400) + "]}"  # about 28,000 characters
    result = parse_actions(text, max_actions=1000)
    assert 10 < len(result.actions) < 400
    assert all(a == A("Move the heavy box to the side", 3, True) for a in result.actions)
    assert any("JSON with defects longer than" in d for d in result.diagnostics)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a": [' * 30_000,
        "[{" * 100_000,
        '{"actions": [' + '{"action": "x", "apl": 1}, ' * 6_000 + "[" * 50_000,
    ],
    ids=["balanced", "open-objects", "open-mixed", "items-then-deep"],
)
def test_deep_nesting_is_not_an_answer_and_does_not_recurse(text):
    result = parse_actions(text)
    _check_invariants(result, 32, 400)
    assert result.actions == () or all(a.text == "x" for a in result.actions)


def test_lone_surrogates_become_replacement_characters():
    result = parse_actions("1. Wave back \ud83d (APL 1, proactive)")
    assert result.actions == (A("Wave back \ufffd", 1, True),)
    assert "1 lone surrogate(s) (a cut character) replaced by U+FFFD" in result.diagnostics
    escaped = parse_actions('[{"action": "Smile \\ud83d", "apl": 1}]')  # a JSON escape
    assert escaped.actions == (A("Smile \ufffd", 1, None),)
    assert "item 1: lone surrogate(s) replaced by U+FFFD" in escaped.diagnostics


def test_long_blank_runs_keep_markers_readable():
    result = parse_actions("1. Close" + " " * 50_000 + "the door (APL 2, reactive)")
    assert result.actions == (A("Close the door", 2, False),)


# ------------------------------------------------------------------------------ property tests

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-10, 10)
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
)
json_like = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                ["action", "text", "apl", "proactive", "actions", "type", "x", "priority"]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


def _mangle(text: str, data: st.DataObject) -> str:
    ops = data.draw(
        st.lists(st.sampled_from(["cut", "quote", "comma", "fence", "prose", "py"]), max_size=3)
    )
    for op in ops:
        if op == "cut" and text:
            text = text[: data.draw(st.integers(0, len(text)))]
        elif op == "quote":
            text = text.replace('"', "'")
        elif op == "comma":
            text = text.replace("}", ",}").replace("]", ",]")
        elif op == "fence":
            text = f"```json\n{text}\n```"
        elif op == "prose":
            text = f"Sure, here you go: {text} Hope this helps."
        elif op == "py":
            text = text.replace("true", "True").replace("null", "None")
    return text


def _check_invariants(result: ParseResult, max_actions: int, max_chars: int) -> None:
    assert isinstance(result, ParseResult)
    assert isinstance(result.diagnostics, list)
    assert all(isinstance(d, str) for d in result.diagnostics)
    assert len(result.actions) <= max_actions
    for a in result.actions:
        assert isinstance(a, Action)
        assert isinstance(a.text, str) and a.text.strip() == a.text and 0 < len(a.text) <= max_chars
        assert a.apl is None or (type(a.apl) is int and 0 <= a.apl <= 4)
        assert a.proactive is None or type(a.proactive) is bool
    assert result.error is None or isinstance(result.error, str)
    # parse_actions turns any exception into an "internal parser error" result, so "never
    # raises" alone would also hold for a parser that crashes on every input: a crash inside
    # the parser must not happen either.
    assert not any("internal parser error" in d for d in result.diagnostics), result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_like, data=st.data(), max_actions=st.integers(0, 6), max_chars=st.integers(1, 60))
def test_property_json_like(value, data, max_actions, max_chars):
    text = _mangle(json.dumps(value, ensure_ascii=data.draw(st.booleans())), data)
    result = parse_actions(text, max_actions=max_actions, max_chars=max_chars)
    _check_invariants(result, max_actions, max_chars)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), max_actions=st.integers(0, 6), max_chars=st.integers(1, 60))
def test_property_arbitrary_text(text, max_actions, max_chars):
    result = parse_actions(text, max_actions=max_actions, max_chars=max_chars)
    _check_invariants(result, max_actions, max_chars)
    if (
        text.strip()
        and not result.actions
        and result.format not in ("json", "json-repaired", "structured")
    ):
        assert result.error  # non-empty text with nothing recovered is an error


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from(["1.", "-", "*", "2)", "Action:", ""]),
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
            st.sampled_from(
                [
                    "",
                    " (APL 4, proactive)",
                    " [APL: 9] [reactive]",
                    " - high priority",
                    "; Type: yes",
                ]
            ),
        ),
        max_size=8,
    )
)
def test_property_list_like(lines):
    text = "\n".join(f"{a} {b}{c}" for a, b, c in lines)
    _check_invariants(parse_actions(text, max_actions=5, max_chars=30), 5, 30)


# ------------------------------------------------------------------------------ the CLI


def _run_cli(monkeypatch, capsys, stdin: str, *argv: str) -> tuple[int, str]:
    from visualact_env.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["parse", *argv])
    return code, capsys.readouterr().out


def test_cli_json_output(monkeypatch, capsys):
    code, out = _run_cli(monkeypatch, capsys, "1. Brake (APL 4, proactive)\n2. Honk\n", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["actions"] == [
        {"text": "Brake", "apl": 4, "proactive": True},
        {"text": "Honk", "apl": None, "proactive": None},
    ]
    assert data["diagnostics"] == []
    assert data["format"] == "list"


def test_cli_table_and_max_actions(monkeypatch, capsys):
    code, out = _run_cli(monkeypatch, capsys, '["a", "b", "c"]', "--max-actions", "2")
    assert code == 0
    assert "format: json   actions: 2" in out
    assert "1 action(s) beyond max_actions=2 dropped" in out


def test_cli_error_exit_status(monkeypatch, capsys):
    code, out = _run_cli(monkeypatch, capsys, "I cannot help with that.")
    assert code == 1
    assert "error: no actions found" in out


def test_cli_subprocess_unicode():
    proc = subprocess.run(
        [sys.executable, "-m", "visualact_env", "parse", "--json"],
        input="- 关闭炉灶 (APL 3, proactive)\n".encode(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(proc.stdout.decode("utf-8"))
    assert data["actions"] == [{"text": "关闭炉灶", "apl": 3, "proactive": True}]
