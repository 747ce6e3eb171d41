"""Command-line options are generated from the config dataclasses: one place per knob."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from visualact_env.cli import build_parser
from visualact_env.cli_config import (
    add_dataclass_arguments,
    comma_list,
    dataclass_from_args,
    field_help,
    option_name,
    parse_key_value,
    parse_size,
)
from visualact_env.commands.score import ScoreConfig
from visualact_env.commands.sweep import SweepConfig
from visualact_env.commands.train import PairsConfig
from visualact_env.runner import EvalConfig
from visualact_env.training.mpo import MPOConfig
from visualact_env.training.rollouts import RolloutConfig


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _all_subparsers(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _all_subparsers(sub, (*prefix, name))


COMMANDS = [
    (("eval",), EvalConfig),
    (("score",), ScoreConfig),
    (("train", "rollouts"), RolloutConfig),
    (("train", "pairs"), PairsConfig),
    (("train", "mpo"), MPOConfig),
]


@pytest.mark.parametrize(("path", "cls"), COMMANDS, ids=lambda x: getattr(x, "__name__", x))
def test_every_config_field_is_an_option_with_the_fields_help_and_default(path, cls):
    parser = _subparser(build_parser(), *path)
    options = {a.dest: a for a in parser._actions}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", True) or (cls is RolloutConfig and f.name == "shard"):
            assert f.name not in options
            continue
        action = options[f.name]
        assert option_name(f) in action.option_strings
        assert field_help(f).rstrip(".").replace("%", "%%") in action.help
        if f.default is not dataclasses.MISSING and not action.required:
            assert action.default == f.default, f.name


def test_eval_defaults_parse_back_to_the_default_config():
    args = build_parser().parse_args(["eval"])
    assert dataclass_from_args(EvalConfig, args) == EvalConfig()


def test_eval_options_reach_the_config_with_their_types():
    args = build_parser().parse_args(
        [
            "eval",
            "--agent",
            "empty",
            "--frame-size",
            "64x48",
            "--scenarios",
            "HS.",
            "--shard",
            "2/3",
            "--agent-option",
            "a=1",
            "--agent-option",
            "b=x",
            "--no-html",
            "--no-progress",
            "--out",
            "somewhere",
            "--tau",
            "0.6",
        ]  # fmt: skip
    )
    config = dataclass_from_args(EvalConfig, args)
    assert config.frame_size == (64, 48) and config.shard == (2, 3)
    assert config.scenarios == ("home_service",)
    assert config.agent_options == {"a": 1, "b": "x"}
    assert config.html is False and config.progress is False and config.tau == 0.6
    assert config.out == Path("somewhere")


def test_mpo_tuple_options_become_tuples():
    args = build_parser().parse_args(
        [
            "train",
            "mpo",
            "--model",
            "m",
            "--pairs",
            "p",
            "--out",
            "o",
            "--loss-type",
            "sigmoid",
            "sft",
            "--loss-weights",
            "1",
            "0.5",
            "--lora",
        ]  # fmt: skip
    )
    config = dataclass_from_args(MPOConfig, args)
    assert config.loss_type == ("sigmoid", "sft") and config.loss_weights == (1.0, 0.5)
    assert config.lora is True and config.max_steps == -1


def test_sweep_lists_and_the_old_alias_parse():
    args = build_parser().parse_args(
        ["sweep", "--out", "s", "--frames", "2,4", "--tau-list", "0.4,0.6"]
    )
    assert dataclass_from_args(SweepConfig, args) == SweepConfig(
        out=Path("s"), frames=(2, 4), taus=(0.4, 0.6)
    )


def test_rollouts_keep_their_own_defaults_over_the_eval_ones():
    args = build_parser().parse_args(["train", "rollouts", "--agent", "empty", "--out", "r"])
    config = dataclass_from_args(RolloutConfig, args)
    assert (config.samples, config.temperature, config.reports) == (4, 1.0, False)


def test_the_frame_rule_choices_are_the_samplers_rules():
    from visualact_env.frames import RULES

    rule = next(f for f in dataclasses.fields(EvalConfig) if f.name == "frame_rule")
    assert tuple(rule.metadata["choices"]) == RULES


def test_every_help_states_a_default_in_one_style():
    """An option with a real default says ``(default: X)``; no other spelling is used."""
    for path, parser in _all_subparsers(build_parser()):
        for action in parser._actions:
            if not action.option_strings or action.help in (None, argparse.SUPPRESS):
                continue
            name = f"{' '.join(path)} {action.option_strings[0]}"
            assert not re.search(r"\(default [^:]|\(\d+\)$|default \d", action.help), name
            default = action.default
            if action.required or default in (None, False, [], (), argparse.SUPPRESS):
                continue
            if action.option_strings[0] in ("-h", "--help", "--version"):
                continue
            assert "(default: " in action.help, name


@pytest.mark.parametrize("text", ["0x10", "10x0", "abc", "10", "1x2x3", "-1x5"])
def test_bad_frame_sizes_are_usage_errors(text):
    with pytest.raises(argparse.ArgumentTypeError, match="HxW"):
        parse_size(text)


def test_bad_values_are_one_line_usage_errors(capsys):
    parser = build_parser()
    for argv, needle in [
        (["eval", "--frame-size", "0x10"], "HxW"),
        (["eval", "--shard", "4/3"], "--shard"),
        (["eval", "--agent-option", "novalue"], "KEY=VALUE"),
        (["sweep", "--out", "s", "--frames", "2,four"], "comma-separated list of ints"),
        (["eval", "--frame-rule", "random"], "invalid choice"),
    ]:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(argv)
        assert exc.value.code == 2
        assert needle in capsys.readouterr().err


def test_key_values_read_json_and_fall_back_to_text():
    assert parse_key_value("n=3") == ("n", 3)
    assert parse_key_value("s=a=b") == ("s", "a=b")
    assert parse_key_value("deep=" + "[" * 5000) == ("deep", "[" * 5000)
    assert comma_list(float)("0.5,1") == (0.5, 1.0)


def test_a_field_without_a_command_line_form_is_refused():
    @dataclasses.dataclass
    class Odd:
        mapping: dict[str, int] = dataclasses.field(default_factory=dict)

    with pytest.raises(TypeError, match="Odd.mapping"):
        add_dataclass_arguments(argparse.ArgumentParser(), Odd)
    with pytest.raises(ValueError, match="no field"):
        add_dataclass_arguments(argparse.ArgumentParser(), EvalConfig, exclude=("nope",))


def test_help_does_not_import_transformers_or_torch():
    code = (
        "import sys\nfrom visualact_env.cli import build_parser\n"
        "build_parser().parse_args(['eval', '--agent', 'empty'])\n"
        "print(sorted(m for m in ('torch', 'transformers', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    ).stdout
    assert out.strip() == "[]"
