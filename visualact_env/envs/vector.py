"""The native vector environment of ``VisualAct-v0``: one embedding call per step for all
sub-environments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..records import Action, VideoRecord
from .common import EnvConfig, Schedule, resolve_benchmark
from .scoring import EpisodeScorer
from .spaces import coerce_proposals, scenario_index
from .visualact import VisualActEnv


class VisualActVectorEnv(VectorEnv):
    """``num_envs`` copies of ``VisualAct-v0`` stepped together.

    Made with ``gym.make_vec("VisualAct-v0", num_envs=N, vectorization_mode="vector_entry_point",
    **env_kwargs)`` (or directly); takes ``VisualAct-v0``'s arguments (keyword arguments or one
    :class:`~visualact_env.envs.common.EnvConfig`) plus ``num_envs`` and ``autoreset_mode``.

    What it adds over ``SyncVectorEnv``: each ``step`` scores every sub-environment's proposals
    with **one** call to the embedder (the ground truth is embedded once, when the environment is
    built), and all sub-environments share one benchmark, one scorer and one frame cache. The
    rewards are exactly those of the single environment for the same proposals.

    Episode order: the sub-environments draw from one shared schedule, so with
    ``order="sequential"`` the first reset shows videos 0..N-1 and later resets continue the
    same pass (one pass over the dataset visits each video once, whatever ``num_envs``); with
    ``order="shuffle"`` they walk one seeded permutation. ``reset(seed=s)`` restarts the pass
    (``seed`` is an int or ``None``; a list uses its first element).
    ``reset(options={"video_ids": [...]})`` picks each sub-environment's video;
    ``options={"reset_mask": mask}`` resets only the masked sub-environments (with
    ``AutoresetMode.DISABLED``).

    Autoreset (``metadata["autoreset_mode"]``, an ``AutoresetMode`` as Gymnasium 1.x expects):

    * ``NEXT_STEP`` (default, Gymnasium's default and what its vector wrappers require): every
      episode ends after one step, so the step after an episode's end resets that
      sub-environment; its action is ignored and its reward is 0. With all sub-environments in
      lockstep, every second call to ``step`` is such a reset step.
    * ``SAME_STEP``: an ended sub-environment is reset within the same ``step``; the returned
      observation is the next episode's, and ``info["final_obs"]`` / ``info["final_info"]``
      hold the ended episode's (the scored ``info``). Twice the throughput of ``NEXT_STEP`` for
      one-step episodes.
    * ``DISABLED``: reset ended sub-environments yourself (``reset(options={"reset_mask": ...})``).

    Actions: a sequence of ``num_envs`` proposal lists (each as ``VisualAct-v0`` accepts: a
    sample of the single action space, dicts or ``Action`` objects). Observations: ``frames``
    ``(num_envs, num_frames, H, W, 3)`` uint8 (and ``scenario`` ``(num_envs,)`` when exposed).
    Infos: Gymnasium's batched dict of arrays with ``_key`` masks.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 2,
        config: EnvConfig | None = None,
        *,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        **kwargs: Any,
    ):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: must be an integer >= 1, got {num_envs!r}")
        config = EnvConfig.of(config, owner=type(self).__name__, **kwargs)
        self.config = config
        self.num_envs = num_envs
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = config.render_mode
        benchmark = resolve_benchmark(config.dataset, config.scenarios, config.video_ids)
        self.scorer = EpisodeScorer.build(config.embedder, config.tau, config.reward)
        # the sub-environments share the selected benchmark and the scorer (which holds tau);
        # the episode order is the vector environment's own schedule
        single = replace(
            config,
            dataset=benchmark,
            scenarios=None,
            video_ids=None,
            embedder=self.scorer,
            tau=None,
        )
        self.envs = [VisualActEnv(single) for _ in range(num_envs)]
        self.benchmark = benchmark
        self.expose_scenario = bool(config.expose_scenario)
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._schedule = Schedule(len(benchmark), config.order)
        self._started = False
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)

    # -- reset --------------------------------------------------------------------------------

    def _next_video(self) -> str:
        return self.benchmark.records[self._schedule.next(self.np_random)].video_id

    def _reset_options(self, options: dict[str, Any] | None) -> tuple[np.ndarray, list[str] | None]:
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        video_ids = options.pop("video_ids", None)
        if options:
            raise ValueError(
                f"reset options: unknown key(s) {sorted(options)}; known: ['reset_mask', 'video_ids']"
            )
        mask = np.ones(self.num_envs, np.bool_) if mask is None else np.asarray(mask, np.bool_)
        if mask.shape != (self.num_envs,):
            raise ValueError(f"reset options: reset_mask must have shape ({self.num_envs},)")
        if video_ids is not None:
            video_ids = list(video_ids)
            if len(video_ids) != self.num_envs:
                raise ValueError(
                    f"reset options: video_ids needs {self.num_envs} ids, got {len(video_ids)}"
                )
        return mask, video_ids

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the sub-environments (all, or those of ``options["reset_mask"]``)."""
        if isinstance(seed, (list, tuple)):
            seed = seed[0] if seed else None
        super().reset(seed=cast("int | None", seed))
        mask, video_ids = self._reset_options(options)
        if seed is not None or not self._started:
            self._schedule.restart(self.np_random)
            self._started = True
        infos: dict[str, Any] = {}
        for i in np.flatnonzero(mask):
            infos = self._add_info(infos, self._reset_one(int(i), video_ids), int(i))
        self._autoreset[mask] = False
        return self._observations(), infos

    def _reset_one(self, i: int, video_ids: list[str] | None = None) -> dict[str, Any]:
        video_id = video_ids[i] if video_ids is not None else self._next_video()
        _, info = self.envs[i].reset(options={"video_id": video_id})
        return info

    def _observations(self) -> dict[str, np.ndarray]:
        # every sub-environment holds a video here (they are reset before any observation)
        obs = {"frames": np.stack([cast(np.ndarray, env._frames) for env in self.envs])}
        if self.expose_scenario:
            records = [cast(VideoRecord, env.record) for env in self.envs]
            obs["scenario"] = np.array(
                [scenario_index(r.scenario) for r in records], dtype=np.int64
            )
        return obs

    # -- step ---------------------------------------------------------------------------------

    def _split_actions(self, actions: Any) -> list[Any]:
        if isinstance(actions, np.ndarray):
            actions = list(actions)
        if isinstance(actions, (str, bytes, dict)) or not isinstance(actions, Sequence):
            raise ValueError(
                f"actions: expected a sequence of {self.num_envs} proposal lists, "
                f"got {type(actions).__name__}"
            )
        if len(actions) != self.num_envs:
            raise ValueError(
                f"actions: expected {self.num_envs} proposal lists, got {len(actions)}"
            )
        return list(actions)

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Score all sub-environments' proposals with one embedding call; autoreset as set."""
        actions = self._split_actions(actions)
        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=np.bool_)
        truncated = np.zeros(n, dtype=np.bool_)
        infos: dict[str, Any] = {}
        resetting = (
            self._autoreset.copy() if self.autoreset_mode == AutoresetMode.NEXT_STEP else None
        )
        stepping = [i for i in range(n) if resetting is None or not resetting[i]]
        proposals: dict[int, tuple[Action, ...]] = {}
        for i in stepping:
            try:
                proposals[i] = coerce_proposals(actions[i])
            except ValueError as e:
                raise ValueError(f"sub-environment {i}: {e}") from None
            self.envs[i]._check_active()
        scores = self.scorer.score_many([(self.envs[i].record, proposals[i]) for i in stepping])
        for i, score in zip(stepping, scores, strict=True):
            final_obs, reward, term, trunc, info = self.envs[i].finish(proposals[i], score)
            rewards[i], terminated[i], truncated[i] = reward, term, trunc
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                infos = self._add_info(infos, {"final_obs": final_obs, "final_info": info}, i)
                info = self._reset_one(i)
            infos = self._add_info(infos, info, i)
        if resetting is not None:
            for j in np.flatnonzero(resetting):
                infos = self._add_info(infos, self._reset_one(int(j)), int(j))
            self._autoreset = terminated | truncated
        return self._observations(), rewards, terminated, truncated, infos

    # -- rendering and closing ----------------------------------------------------------------

    def render(self) -> tuple[Any, ...] | None:
        """Each sub-environment's rendering (see ``VisualAct-v0``), as a tuple."""
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self.envs)

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()
