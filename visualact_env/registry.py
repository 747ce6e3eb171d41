"""Agents by name: the CLI's way to find policies without importing ``agents`` up front.

A spec string is ``NAME`` or ``NAME:ARGUMENT`` (``retrieval``, ``openai:gpt-4o``,
``openai:Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1``, ``hf:/path/to/checkpoint``).
``NAME`` selects a factory registered in the ``visualact.agents`` entry-point group (the built-in
agents in ``visualact_agents`` register there too, in ``pyproject.toml``) or at run time with
:func:`register_agent`; the factory is called as ``factory(ARGUMENT_or_None, **options)`` and
returns an agent (see :class:`visualact_env.agent.Agent`).

``py:package.module:Factory[:ARGUMENT]`` loads your own agent class or factory without
registering it: ``visualact eval --agent py:my_agents:MyAgent``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

ENTRY_POINT_GROUP = "visualact.agents"
"""The entry-point group agents register under: ``NAME = "package.module:factory"``."""

_RUNTIME: dict[str, str] = {}


def _entry_points() -> dict[str, str]:
    """Agents registered by installed distributions (this one's built-ins included)."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _targets() -> dict[str, str]:
    return {**_entry_points(), **_RUNTIME}


def register_agent(name: str, target: str) -> None:
    """Make ``name`` resolve to ``target`` (``"package.module:factory"``) in this process.

    Packages register for every process through the ``visualact.agents`` entry-point group
    instead (see ARCHITECTURE.md, "Adding an agent").
    """
    if ":" in name:
        raise ValueError(f"agent names cannot contain ':': {name!r}")
    _RUNTIME[name] = target


def agent_names() -> list[str]:
    return sorted(_targets())


SPEC_FORMS: dict[str, str] = {
    "blind": "blind[:K]",
    "hf": "hf:PATH_OR_HUB_ID",
    "openai": "openai:MODEL[@URL]",
    "random": "random[:K]",
    "retrieval": "retrieval[:K]",
}
"""How the built-in agents that take an argument are written (the others are their names)."""


def spec_forms() -> list[str]:
    """Every agent spec form: each registered agent (entry points and :func:`register_agent`),
    then ``py:MODULE:FACTORY[:ARGUMENT]``."""
    return [SPEC_FORMS.get(name, name) for name in agent_names()] + ["py:MODULE:FACTORY[:ARG]"]


def agent_help() -> str:
    """The ``--agent`` help text, listing :func:`spec_forms` (read when the parser is built)."""
    try:
        forms = spec_forms()
    except Exception:  # noqa: BLE001 - broken package metadata must not break --help
        forms = ["NAME[:ARG]", "py:MODULE:FACTORY[:ARG]"]
    return (
        "agent spec: " + ", ".join(forms) + " (the names are the agents registered in the "
        f"{ENTRY_POINT_GROUP} entry-point group; py: loads your own Agent class or factory)"
    )


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"openai:gpt-4o"`` -> ``("openai", "gpt-4o")``; ``"oracle"`` -> ``("oracle", None)``."""
    name, sep, arg = spec.partition(":")
    return name, (arg if sep else None)


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def make_agent(spec: str, **options: Any) -> Any:
    """Build the agent named by ``spec``; ``options`` are passed to its factory."""
    name, arg = split_spec(spec)
    if name == "py":
        module, _, rest = (arg or "").partition(":")
        attr, _, user_arg = rest.partition(":")
        if not module or not attr:
            raise ValueError(f"expected py:MODULE:FACTORY[:ARGUMENT], got {spec!r}")
        # like ``python -m``: a module in the current folder is found by the ``visualact`` script too
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        factory = _resolve(f"{module}:{attr}")
        if isinstance(factory, type) and getattr(factory, "__init__", None) is object.__init__:
            if user_arg:
                raise ValueError(
                    f"{module}.{attr} takes no argument (it has no __init__), got {user_arg!r}"
                )
            return factory()  # an Agent subclass without __init__: nothing to pass it
        return factory(user_arg or None, **options)
    targets = _targets()
    if name not in targets:
        raise ValueError(
            f"unknown agent {name!r} in spec {spec!r}; known agents: {', '.join(agent_names())}"
            " (or py:MODULE:FACTORY for your own)"
        )
    factory = _resolve(targets[name])
    return factory(arg, **options)
