"""Policies that act in the VisualAct environments: API models, local models and baselines.

Agents are usually built from spec strings through :func:`visualact_env.registry.make_agent`.
"""

from .base import Agent, AgentOutput

__all__ = ["Agent", "AgentOutput"]
