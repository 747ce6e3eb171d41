"""The public API: the verbs people use, exported from ``visualact_env`` and imported lazily."""

from __future__ import annotations

import subprocess
import sys

import visualact_env

PUBLIC = [
    "__version__",
    "register_envs",
    "load_benchmark",
    "parse_predictions",
    "Benchmark",
    "Action",
    "Scorer",
    "score_predictions",
    "EvalConfig",
    "run_eval",
    "Agent",
    "AgentOutput",
    "parse_actions",
    "EnvConfig",
    "VisualActEnv",
    "VisualActIncrementalEnv",
    "VisualActVectorEnv",
    "TextActionWrapper",
]


def _fresh(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_all_is_the_documented_list():
    assert visualact_env.__all__ == PUBLIC
    assert set(PUBLIC) <= set(dir(visualact_env))


def test_every_export_is_the_object_of_its_home_module():
    from visualact_env import agent, datasets, envs, loading, metric, parsing, records, runner

    homes = {
        "load_benchmark": datasets,
        "parse_predictions": loading,
        "Benchmark": records,
        "Action": records,
        "Scorer": metric,
        "score_predictions": metric,
        "EvalConfig": runner,
        "run_eval": runner,
        "Agent": agent,
        "AgentOutput": agent,
        "parse_actions": parsing,
        "EnvConfig": envs,
        "VisualActEnv": envs,
        "VisualActIncrementalEnv": envs,
        "VisualActVectorEnv": envs,
        "TextActionWrapper": envs,
    }
    for name, home in homes.items():
        assert getattr(visualact_env, name) is getattr(home, name), name


def test_an_unknown_name_is_an_attribute_error():
    try:
        visualact_env.no_such_thing  # noqa: B018
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_imports_no_heavy_library_and_no_export():
    out = _fresh(
        "import sys, visualact_env\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'decord', 'scipy', "
        "'visualact_env.metric', 'visualact_env.runner', 'visualact_env.parsing')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    assert out == "[]"


def test_using_the_scorer_and_parser_exports_does_not_import_torch():
    out = _fresh(
        "import sys, visualact_env as va\n"
        "va.Scorer; va.score_predictions; va.parse_actions('[]'); va.EvalConfig(); va.Agent\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    assert out == "False False"
