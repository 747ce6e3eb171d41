"""``VisualActIncremental-v0``: one video per episode, one proposed action (or stop) per step."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from ..limits import MAX_ACTIONS_PER_VIDEO
from . import spaces as vspaces
from .common import EnvConfig
from .scoring import result_info
from .visualact import VisualActEnv

DEFAULT_MAX_ACTIONS = 10


class VisualActIncrementalEnv(VisualActEnv):
    """
    ## Description

    The task of ``VisualAct-v0`` (see :class:`~visualact_env.envs.visualact.VisualActEnv`) cut
    into steps: the agent proposes one action per step and decides when to stop. The reward of a
    step is the change of the episode's metric, so the rewards of an episode add up to the
    metric of its final proposal list; a proposal that duplicates or contradicts an earlier one
    can earn a negative reward (it lowers precision).

    ## Observation Space

    The same ``Dict`` as ``VisualAct-v0`` (``frames``, plus ``scenario`` when exposed), repeated
    at every step of the episode. The agent keeps its own record of what it has proposed
    (``info["num_proposals"]`` counts them).

    ## Action Space

    ``Dict(stop=Discrete(2), text=Text(0..400 chars), apl=Discrete(5), proactive=Discrete(2))``:
    with ``stop=1`` the episode ends and the other keys are ignored; with ``stop=0`` the
    proposal is added. ``step`` also accepts a dict without ``stop`` (a proposal), an ``Action``
    (a proposal) or ``None`` (stop).

    ## Rewards

    ``metric(proposals after the step) - metric(proposals before it)``, with the figure named by
    ``reward`` (``weighted_f1``, ``f1`` or ``scale_score``); the metric of no proposal is 0, and
    the stop step earns 0. Hence ``sum(rewards) == metric(final proposals)``.

    ## Starting State

    As ``VisualAct-v0``: the next video of the dataset (``order``), or
    ``options={"video_id": ...}``; no proposal yet.

    ## Episode End

    Terminates on ``stop=1``; truncates when ``max_actions`` proposals have been made. The last
    step's ``info`` has the keys of ``VisualAct-v0``'s step ``info`` (``video_id``, ``scenario``,
    ``proposals``, ``metrics``, ``counts``, ``assignment``, ``ground_truth``); earlier steps'
    ``info`` holds only ``video_id``, ``num_proposals`` (and ``scenario`` when exposed).

    ## Arguments

    Those of ``VisualAct-v0`` (keyword arguments or an ``EnvConfig``), plus ``max_actions`` (default 10): the number of proposals after
    which the episode is truncated.

    ## Example

    >>> import gymnasium as gym
    >>> import visualact_env
    >>> env = gym.make("VisualActIncremental-v0", num_frames=4, frame_size=(64, 64))
    >>> obs, info = env.reset(seed=0)
    >>> step = {"stop": 0, "text": "call emergency services", "apl": 4, "proactive": 0}
    >>> obs, r1, terminated, truncated, info = env.step(step)
    >>> obs, r2, terminated, truncated, info = env.step({"stop": 1})
    >>> terminated, r2, abs(r1 + r2 - info["metrics"]["weighted_f1"]) < 1e-9
    (True, 0.0, True)

    ## Version History

    * v0: initial version.
    """

    def __init__(
        self,
        config: EnvConfig | None = None,
        *,
        max_actions: int = DEFAULT_MAX_ACTIONS,
        **kwargs: Any,
    ):
        if (
            isinstance(max_actions, bool)
            or not isinstance(max_actions, int)
            or not 1 <= max_actions <= MAX_ACTIONS_PER_VIDEO
        ):
            raise ValueError(
                f"max_actions: must be an integer 1..{MAX_ACTIONS_PER_VIDEO}, got {max_actions!r}"
            )
        self.max_actions = max_actions
        super().__init__(config, **kwargs)
        self._value = 0.0
        self._score: Any = None

    def _make_action_space(self) -> gym.Space:
        return vspaces.incremental_action_space()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode on the next video (or ``options["video_id"]``), with no proposal."""
        obs, info = super().reset(seed=seed, options=options)
        self._value = 0.0
        self._score = None
        return obs, info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Add one proposal (reward: the metric's change) or stop (reward 0)."""
        record = self._check_active()
        proposal = vspaces.coerce_incremental(action)
        if proposal is None:
            if self._score is None:
                self._score = self.scorer.score(record, self._proposals)
            return self._end(0.0, terminated=True)
        self._proposals = (*self._proposals, proposal)
        self._score = self.scorer.score(record, self._proposals)
        value = self.scorer.value(self._score)
        reward = value - self._value
        self._value = value
        if len(self._proposals) >= self.max_actions:
            return self._end(reward, terminated=False)
        info: dict[str, Any] = self._reset_info()
        info["num_proposals"] = len(self._proposals)
        return self._observation(), reward, False, False, info

    def _end(
        self, reward: float, terminated: bool
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        assert self._record is not None
        self._done = True
        info = result_info(self._record, self._proposals, self._score)
        self._last_info = info
        return self._observation(), float(reward), terminated, not terminated, info
