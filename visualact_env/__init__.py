"""visualact: VisualActBench as a Gymnasium environment, metric, runner and reports.

Importing this package registers the environments ``VisualAct-v0`` and
``VisualActIncremental-v0`` with Gymnasium. The verbs people use are exported here and
imported on first access (module ``__getattr__``), so ``import visualact_env`` stays light:
heavy libraries (torch, transformers, sentence-transformers, decord) are imported only where
they are used.

>>> import visualact_env as va
>>> bench = va.load_benchmark("demo")                       # doctest: +SKIP
>>> report = va.score_predictions(bench, preds, va.Scorer())  # doctest: +SKIP
>>> va.run_eval(va.EvalConfig(agent="retrieval", data="demo"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .envs.registration import register_envs
from .version import __version__

register_envs()

_EXPORTS: dict[str, str] = {
    # data
    "load_benchmark": "datasets",
    "parse_predictions": "loading",
    "Benchmark": "records",
    "Action": "records",
    # the metric
    "Scorer": "metric",
    "score_predictions": "metric",
    # evaluation
    "EvalConfig": "runner",
    "run_eval": "runner",
    # agents and parsing
    "Agent": "agent",
    "AgentOutput": "agent",
    "parse_actions": "parsing",
    # environments
    "EnvConfig": "envs.common",
    "VisualActEnv": "envs.visualact",
    "VisualActIncrementalEnv": "envs.incremental",
    "VisualActVectorEnv": "envs.vector",
    "TextActionWrapper": "envs.wrappers",
}

__all__ = [
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
assert __all__[2:] == list(_EXPORTS)

if TYPE_CHECKING:  # the same names, seen by type checkers and IDEs
    from .agent import Agent, AgentOutput
    from .datasets import load_benchmark
    from .envs.common import EnvConfig
    from .envs.incremental import VisualActIncrementalEnv
    from .envs.vector import VisualActVectorEnv
    from .envs.visualact import VisualActEnv
    from .envs.wrappers import TextActionWrapper
    from .loading import parse_predictions
    from .metric import Scorer, score_predictions
    from .parsing import parse_actions
    from .records import Action, Benchmark
    from .runner import EvalConfig, run_eval


def __getattr__(name: str) -> Any:
    """Import an exported name on first access (and keep it)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
