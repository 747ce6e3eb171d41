"""Versioned prompt templates: content rules, fingerprints, loading user files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from visualact_env.loading import DataError
from visualact_env.parsing import parse_actions
from visualact_env.prompts import (
    ACTIONS_JSON_SCHEMA,
    DEFAULT_PROMPT,
    LIST_PROMPT,
    PromptTemplate,
    load_prompt,
    prompt_names,
)
from visualact_env.records import APL_MEANINGS, SCENARIO_TITLES, SCENARIOS

BUILTINS = [DEFAULT_PROMPT, LIST_PROMPT]


@pytest.mark.parametrize("prompt", BUILTINS, ids=lambda p: p.name)
def test_builtin_prompts_define_the_output_only(prompt: PromptTemplate):
    text = (prompt.system + "\n" + prompt.user).lower()
    for level, meaning in APL_MEANINGS.items():
        assert f"{level} = {meaning}".lower() in text
    assert "proactive:" in text and "reactive:" in text
    # vision-only: no scenario names, no hints about what is in the scene
    for scenario in SCENARIOS:
        assert scenario.replace("_", " ") not in text
    for title in SCENARIO_TITLES.values():
        assert title.lower() not in text
    for hint in ("fire", "kitchen", "traffic", "pedestrian", "stove", "fall", "danger in the"):
        assert not re.search(rf"\b{hint}\b", text), hint


def test_names_versions_and_lookup():
    assert prompt_names() == ["visualact-default", "visualact-list"]
    assert DEFAULT_PROMPT.label == "visualact-default@1"
    assert load_prompt() is DEFAULT_PROMPT
    assert load_prompt("visualact-list") is LIST_PROMPT
    assert load_prompt("visualact-default@1") is DEFAULT_PROMPT
    with pytest.raises(ValueError, match="version '1' here, not '9'"):
        load_prompt("visualact-default@9")
    with pytest.raises(ValueError, match="unknown prompt 'nope'.*visualact-default"):
        load_prompt("nope")


def test_fingerprint_is_stable_and_content_sensitive():
    again = PromptTemplate(
        **{k: getattr(DEFAULT_PROMPT, k) for k in ("name", "version", "system", "user")},
        response_format=ACTIONS_JSON_SCHEMA,
    )
    assert again.fingerprint == DEFAULT_PROMPT.fingerprint
    assert re.fullmatch(r"[0-9a-f]{16}", DEFAULT_PROMPT.fingerprint)
    edited = PromptTemplate(
        DEFAULT_PROMPT.name,
        "1",
        DEFAULT_PROMPT.system,
        DEFAULT_PROMPT.user + " ",
        ACTIONS_JSON_SCHEMA,
    )
    assert edited.fingerprint != DEFAULT_PROMPT.fingerprint
    assert LIST_PROMPT.fingerprint != DEFAULT_PROMPT.fingerprint
    # the source (where it was loaded from) is not content
    moved = PromptTemplate.from_dict(DEFAULT_PROMPT.to_dict(), source="elsewhere")
    assert moved.source == "elsewhere" and moved.fingerprint == DEFAULT_PROMPT.fingerprint


def test_to_dict_round_trip_and_tamper_check():
    d = DEFAULT_PROMPT.to_dict()
    assert d["fingerprint"] == DEFAULT_PROMPT.fingerprint
    assert json.loads(json.dumps(d)) == d
    assert PromptTemplate.from_dict(d) == DEFAULT_PROMPT
    with pytest.raises(ValueError, match="fingerprint"):
        PromptTemplate.from_dict({**d, "user": d["user"] + "!"})


def test_messages_and_openai_response_format():
    msgs = DEFAULT_PROMPT.messages()
    assert [m["role"] for m in msgs] == ["system", "user"]
    rf = DEFAULT_PROMPT.openai_response_format()
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] is ACTIONS_JSON_SCHEMA
    assert rf["json_schema"]["strict"] is True
    assert LIST_PROMPT.openai_response_format() is None


def test_schema_example_is_what_the_parser_reads():
    item = ACTIONS_JSON_SCHEMA["properties"]["actions"]["items"]
    assert set(item["required"]) == {"action", "apl", "proactive"}
    assert item["properties"]["apl"]["enum"] == [0, 1, 2, 3, 4]
    answer = json.dumps({"actions": [{"action": "Close the door", "apl": 2, "proactive": True}]})
    result = parse_actions(answer)
    assert [(a.text, a.apl, a.proactive) for a in result.actions] == [("Close the door", 2, True)]
    # and the list prompt's own example line parses too
    example = LIST_PROMPT.user.splitlines()[-1].replace("<sentence>", "Close the door")
    example = example.replace("<0-4>", "2").replace("<proactive or reactive>", "reactive")
    assert [(a.text, a.apl, a.proactive) for a in parse_actions(example).actions] == [
        ("Close the door", 2, False)
    ]


def test_load_json_file(tmp_path: Path):
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps({"name": "mine", "version": "3", "system": "S", "user": "U", "output": "list"})
    )
    prompt = load_prompt(path)
    assert (prompt.name, prompt.version, prompt.system, prompt.user, prompt.output) == (
        "mine",
        "3",
        "S",
        "U",
        "list",
    )
    assert prompt.response_format is None and prompt.source == str(path)
    assert prompt.to_dict()["source"] == str(path)


def test_load_json_file_problems_name_file_and_field(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"name": "x", "version": 2, "response_format": "yes", "colour": 1, "output": "xml"}
        )
    )
    with pytest.raises(DataError) as err:
        load_prompt(bad)
    msg = str(err.value)
    for fragment in (
        "version: required non-empty string",
        "user: required",
        "response_format: must be",
        "colour: unknown field",
        'output: must be "json" or "list"',
    ):
        assert f"{bad}: {fragment}" in msg
    assert msg.startswith("5 problems found:")
    assert {(q.file, q.field) for q in err.value.problems} == {
        (str(bad), f) for f in ("version", "user", "response_format", "colour", "output")
    }
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "name": "x",\n  "user": \n}')
    with pytest.raises(DataError, match=rf"{re.escape(str(broken))}:4: invalid JSON"):
        load_prompt(broken)


def test_load_text_file_with_sections(tmp_path: Path):
    path = tmp_path / "short.txt"
    path.write_text(
        "name: short\nversion: 2\n\n[system]\nBe brief.\n[user]\nList the actions.\nOne per line.\n"
    )
    prompt = load_prompt(path)
    assert (prompt.name, prompt.version) == ("short", "2")
    assert prompt.system == "Be brief."
    assert prompt.user == "List the actions.\nOne per line."


def test_load_text_file_plain_body(tmp_path: Path):
    path = tmp_path / "plain-prompt.txt"
    path.write_text("What should be done? Answer in JSON.\n")
    prompt = load_prompt(str(path))
    assert (prompt.name, prompt.version, prompt.system) == ("plain-prompt", "file", "")
    assert prompt.user == "What should be done? Answer in JSON."
    path.write_text("What should be done?!\n")
    assert load_prompt(path).fingerprint != prompt.fingerprint


def test_load_text_file_problems(tmp_path: Path):
    empty = tmp_path / "empty.txt"
    empty.write_text("name: x\n[system]\nonly system\n")
    with pytest.raises(DataError, match=rf"{re.escape(str(empty))}: user: the user text is empty"):
        load_prompt(empty)
    twice = tmp_path / "twice.txt"
    twice.write_text("[user]\na\n[user]\nb\n")
    with pytest.raises(DataError, match=rf"{re.escape(str(twice))}:3: user: section given twice"):
        load_prompt(twice)
    bad_output = tmp_path / "out.txt"
    bad_output.write_text("output: yaml\nhello\n")
    with pytest.raises(DataError, match=r"out.txt:1: output"):
        load_prompt(bad_output)
