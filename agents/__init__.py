"""Policies that act in the VisualAct environments: API models, local models and baselines.

This folder installs under the import name ``visualact_agents`` (never ``agents``, which other
distributions, e.g. the OpenAI Agents SDK, also install). Its agents are found through the
``visualact.agents`` entry-point group by :func:`visualact_env.registry.make_agent`; the
protocol they implement is :class:`visualact_env.agent.Agent`.
"""
