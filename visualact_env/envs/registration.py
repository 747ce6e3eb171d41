"""Registration of the environments with Gymnasium (runs on ``import visualact_env``)."""

from __future__ import annotations


def register_envs() -> None:
    """Register ``VisualAct-v0`` and ``VisualActIncremental-v0`` (idempotent)."""
    import gymnasium as gym

    if "VisualAct-v0" not in gym.registry:
        gym.register(
            id="VisualAct-v0",
            entry_point="visualact_env.envs.visualact:VisualActEnv",
            vector_entry_point="visualact_env.envs.vector:VisualActVectorEnv",
        )
    if "VisualActIncremental-v0" not in gym.registry:
        gym.register(
            id="VisualActIncremental-v0",
            entry_point="visualact_env.envs.incremental:VisualActIncrementalEnv",
        )
