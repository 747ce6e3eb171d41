"""Help texts: a usage example for every command (each one parses), every agent under --agent."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

import pytest

from visualact_env import registry
from visualact_env.cli import EXAMPLES, _subparsers, build_parser


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    return list(_subparsers(build_parser()))


def test_every_command_has_a_usage_example():
    parser = build_parser()
    assert "examples:\n  visualact eval" in parser.format_help()
    for path, command in _commands():
        text = command.format_help()
        assert "example" in text and f"visualact {path}" in text.split("example")[-1], path


@pytest.mark.parametrize("path", sorted(EXAMPLES))
def test_every_example_parses_with_the_real_parser(path):
    for example in EXAMPLES[path]:
        command = example.rsplit("| ", 1)[-1]  # `echo ... | visualact parse`
        argv = shlex.split(command)
        assert argv[0] == "visualact"
        try:
            args = build_parser().parse_args(argv[1:])
        except SystemExit as e:  # argparse's way to refuse
            pytest.fail(f"example does not parse ({e}): {example}")
        assert callable(getattr(args, "func", None)), example


def test_examples_keep_their_lines_in_the_help_output():
    done = subprocess.run(
        [sys.executable, "-m", "visualact_env", "eval", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    for example in EXAMPLES["eval"]:
        assert f"  {example}\n" in done.stdout


def test_agent_help_lists_every_registered_agent_and_its_form(monkeypatch):
    monkeypatch.setattr(registry, "_RUNTIME", {"my-policy": "my_pkg.agents:make"})
    parser = build_parser()
    (eval_parser,) = [p for path, p in _subparsers(parser) if path == "eval"]
    (action,) = [a for a in eval_parser._actions if a.dest == "agent"]
    names = registry.agent_names()
    assert {"oracle", "retrieval", "openai", "hf", "my-policy"} <= set(names)
    for name in names:
        assert registry.SPEC_FORMS.get(name, name) in action.help, name
    for form in ("openai:MODEL[@URL]", "hf:PATH_OR_HUB_ID", "retrieval[:K]", "py:MODULE:FACTORY"):
        assert form in action.help


def test_no_help_text_shows_a_doubled_percent_sign():
    """Regression: ``compare --help`` printed "95%% CI" (a description is not %-formatted)."""
    texts = {"visualact": build_parser().format_help()}
    texts.update({path: command.format_help() for path, command in _commands()})
    assert len(texts) > 10
    assert [path for path, text in texts.items() if "%%" in text] == []
    assert "95% CI" in texts["compare"]
