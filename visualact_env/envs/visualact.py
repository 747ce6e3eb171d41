"""``VisualAct-v0``: one video per episode, one list of proposed actions per step."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ..records import Action, VideoRecord
from . import spaces as vspaces
from .common import (
    EnvConfig,
    Schedule,
    check_frames,
    make_sampler,
    resolve_benchmark,
)
from .framestore import shared_store
from .render import ansi_view, contact_sheet
from .scoring import EpisodeScorer, result_info


def _load(path: Any, config: Any) -> np.ndarray:
    from ..frames import sample_frames

    return sample_frames(path, config, cache=True)


class VisualActEnv(gym.Env):
    """
    ## Description

    Visual Action Reasoning from VisualActBench (arXiv 2512.09907): an agent watches a short
    video clip, sees nothing but its frames, and proposes the actions a human would take, each
    with an Action Prioritization Level (APL, 0 = routine ... 4 = critical) and whether it is
    proactive. The proposals are matched one-to-one to the human-annotated actions (sentence
    embedding cosine, Hungarian assignment, threshold ``tau``) and scored with the paper's
    metric. One episode is one video; it ends after one step.

    ## Observation Space

    A ``Dict``:

    | key | space | meaning |
    |---|---|---|
    | ``frames`` | ``Box(0, 255, (num_frames, H, W, 3), uint8)`` | RGB frames sampled from the clip (rule ``linspace``), letterboxed to ``frame_size`` |
    | ``scenario`` | ``Discrete(4)`` | only with ``expose_scenario=True``: index into ``visualact_env.records.SCENARIOS`` (dynamic_navigation, home_service, safety_monitoring, human_machine_interaction) |

    Nothing of the ground truth is observable before the step.

    ## Action Space

    ``Sequence(Dict(text=Text(0..400 chars), apl=Discrete(5), proactive=Discrete(2)))``: any
    number of proposals. The ``Text`` charset (``spaces.ACTION_CHARSET``) holds printable ASCII
    with spaces, Latin-1 letters and typographic quotes and dashes. ``step`` also accepts a plain
    list of ``{"text", "apl", "proactive"}`` dicts or of ``visualact_env.records.Action`` objects
    (``apl``/``proactive`` may be ``None``: a proposal without APL earns no APL weight), and
    ``None`` or ``[]`` for no proposal. Malformed proposals raise ``ValueError`` naming the
    index and field. To act with raw model text use ``TextActionWrapper``.

    ## Rewards

    The figure named by ``reward`` for this video's proposals: ``weighted_f1`` (default: F1 with
    each match weighted by ``1 - |apl_pred - apl_gt| / 4``), ``f1`` or ``scale_score``. All lie in
    [0, 1]. The ground truth itself scores 1.0; no proposal scores 0.0. Rewards are
    deterministic (embeddings are cached).

    ## Starting State

    ``reset`` picks the next video of the dataset: in file order (``order="sequential"``) or in a
    seeded random permutation (``order="shuffle"``, a fresh permutation after each full pass). A
    seeded reset restarts the pass, so the same seed gives the same episodes.
    ``reset(options={"video_id": ID})`` picks a given video without moving the pass.
    ``info`` at reset holds ``video_id`` (and ``scenario`` when exposed).

    ## Episode End

    The episode terminates after the first step (``terminated=True``, ``truncated=False``).
    The step's ``info`` holds ``video_id``, ``scenario``, ``proposals`` (as scored),
    ``metrics`` (precision, recall, f1, weighted_precision, weighted_recall, weighted_f1,
    scale_score: named as in ``visualact score --json``), ``counts`` (tp, m, n, proactive
    counts), ``assignment`` (``pred``, ``gt``, ``similarity``, ``weight``, ``matched`` per
    assigned pair) and ``ground_truth`` (the annotated actions as dicts). Call ``reset`` before
    stepping again.

    ## Arguments

    Keyword arguments, or one :class:`~visualact_env.envs.common.EnvConfig` holding them
    (``VisualActEnv(EnvConfig(num_frames=4))``; keyword arguments override its fields). The
    incremental and vector environments take the same ones.

    | argument | default | meaning |
    |---|---|---|
    | ``dataset`` | ``"demo"`` | a ``Benchmark`` or a spec for ``load_benchmark`` (``"demo"``, ``"synthetic-full"``, an annotation file) |
    | ``scenarios`` | ``None`` | keep only these scenarios (a name or a list) |
    | ``video_ids`` | ``None`` | keep only these videos |
    | ``num_frames`` | ``8`` | frames per observation |
    | ``frame_size`` | ``(224, 224)`` | ``(height, width)`` of each frame (about 1.2 MB per observation) |
    | ``resize`` | ``"letterbox"`` | ``"letterbox"`` (keep aspect ratio, black bars) or ``"stretch"`` |
    | ``sampler`` | ``None`` | a ``SamplerConfig``, overriding the three above (a fixed count and size: no ``fps`` or ``max_pixels``); the defaults are ``DEFAULT_SAMPLER``'s, which ``visualact eval`` uses too |
    | ``reward`` | ``"weighted_f1"`` | ``"weighted_f1"``, ``"f1"`` or ``"scale_score"`` |
    | ``tau`` | ``None`` (0.5) | match threshold; ``None`` takes the ``Scorer``'s ``tau`` or 0.5 |
    | ``embedder`` | ``None`` | a model name or folder, an ``Embedder`` or a ``Scorer`` to share; ``None``: all-MiniLM-L6-v2, one instance per process |
    | ``order`` | ``"sequential"`` | ``"sequential"`` or ``"shuffle"`` |
    | ``expose_scenario`` | ``False`` | add ``scenario`` to the observation (the task is vision-only by default) |
    | ``frame_cache_mb`` | ``256`` | in-process LRU of decoded frames, shared by the process's environments (on top of the disk cache) |
    | ``render_mode`` | ``None`` | ``"rgb_array"`` (contact sheet of the frames) or ``"ansi"`` (proposals and matches) |

    ## Vectorized environment

    ``gym.make_vec("VisualAct-v0", num_envs=N, vectorization_mode="vector_entry_point")`` builds
    :class:`~visualact_env.envs.vector.VisualActVectorEnv`, which scores every sub-environment's
    proposals with one embedding call per step. ``"sync"`` and ``"async"`` (with
    ``vector_kwargs={"shared_memory": False}``: text spaces cannot live in shared memory) work too.

    ## Example

    >>> import gymnasium as gym
    >>> import visualact_env
    >>> env = gym.make("VisualAct-v0", num_frames=4, frame_size=(64, 64))
    >>> obs, info = env.reset(seed=0)
    >>> obs["frames"].shape
    (4, 64, 64, 3)
    >>> proposals = [{"text": "call emergency services", "apl": 4, "proactive": False}]
    >>> obs, reward, terminated, truncated, info = env.step(proposals)
    >>> terminated, 0.0 <= reward <= 1.0, sorted(info["metrics"])[:3]
    (True, True, ['f1', 'precision', 'recall'])

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 1}

    def __init__(self, config: EnvConfig | None = None, **kwargs: Any):
        config = EnvConfig.of(config, owner=type(self).__name__, **kwargs)
        self.config = config
        render_mode = config.render_mode
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: unknown {render_mode!r}; choose from {self.metadata['render_modes']}"
            )
        self.render_mode = render_mode
        self.benchmark = resolve_benchmark(config.dataset, config.scenarios, config.video_ids)
        self.sampler = make_sampler(
            config.num_frames, config.frame_size, config.resize, config.sampler
        )
        self.expose_scenario = bool(config.expose_scenario)
        self.scorer = EpisodeScorer.build(config.embedder, config.tau, config.reward)
        self.scorer.prepare(self.benchmark)
        self.observation_space = vspaces.observation_space(
            self.sampler.num_frames, self.sampler.size, self.expose_scenario
        )
        self.action_space = self._make_action_space()
        self._frame_shape: tuple[int, ...] = tuple(self.observation_space["frames"].shape or ())
        self._store = shared_store()
        self._store.reserve(int(config.frame_cache_mb) * 2**20)
        self._use_store = config.frame_cache_mb > 0
        self._schedule = Schedule(len(self.benchmark), config.order)
        self._started = False
        self._record: VideoRecord | None = None
        self._frames: np.ndarray | None = None
        self._done = False
        self._proposals: tuple[Action, ...] = ()
        self._last_info: dict[str, Any] | None = None

    def _make_action_space(self) -> gym.Space:
        return vspaces.proposals_space()

    # -- episode ------------------------------------------------------------------------------

    @property
    def record(self) -> VideoRecord | None:
        """The current episode's video record (its ground truth is the agent's to not look at)."""
        return self._record

    def frames_for(self, record: VideoRecord) -> np.ndarray:
        """The read-only frames of ``record`` (in-process LRU, then disk cache, then decode)."""
        if self._use_store:
            frames = self._store.get(record.path, self.sampler, _load)
        else:
            frames = _load(record.path, self.sampler)
        return check_frames(frames, record, self._frame_shape)

    def _observation(self) -> dict[str, Any]:
        assert self._frames is not None and self._record is not None
        obs: dict[str, Any] = {"frames": self._frames.copy()}
        if self.expose_scenario:
            obs["scenario"] = np.int64(vspaces.scenario_index(self._record.scenario))
        return obs

    def _reset_info(self) -> dict[str, Any]:
        assert self._record is not None
        info: dict[str, Any] = {"video_id": self._record.video_id}
        if self.expose_scenario:
            info["scenario"] = self._record.scenario
        return info

    def _choose(self, seed: int | None, options: dict[str, Any] | None) -> VideoRecord:
        options = dict(options or {})
        video_id = options.pop("video_id", None)
        if options:
            raise ValueError(
                f"reset options: unknown key(s) {sorted(options)}; known: ['video_id']"
            )
        if seed is not None or not self._started:
            self._schedule.restart(self.np_random)
            self._started = True
        if video_id is not None:
            if video_id not in self.benchmark:
                raise ValueError(
                    f"reset options: video_id {video_id!r} is not in dataset {self.benchmark.name!r}"
                )
            return self.benchmark[video_id]
        return self.benchmark.records[self._schedule.next(self.np_random)]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode on the next video (or ``options["video_id"]``)."""
        super().reset(seed=seed)
        record = self._choose(seed, options)
        self._frames = self.frames_for(record)
        self._record = record
        self._done = False
        self._proposals = ()
        self._last_info = None
        return self._observation(), self._reset_info()

    def _check_active(self) -> VideoRecord:
        if self._record is None:
            raise RuntimeError("step() called before reset()")
        if self._done:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        return self._record

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Score the proposals against the video's ground truth; the episode then ends."""
        record = self._check_active()
        proposals = vspaces.coerce_proposals(action)
        score = self.scorer.score(record, proposals)
        return self.finish(proposals, score)

    def finish(
        self, proposals: tuple[Action, ...], score: Any
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """End the episode with an already computed score (used by the vector environment)."""
        record = self._check_active()
        self._done = True
        self._proposals = proposals
        info = result_info(record, proposals, score)
        self._last_info = info
        return self._observation(), self.scorer.value(score), True, False, info

    # -- rendering ----------------------------------------------------------------------------

    def render(self) -> np.ndarray | str | None:
        """A contact sheet of the frames (``rgb_array``) or a text view (``ansi``)."""
        if self.render_mode is None:
            return None
        if self._record is None or self._frames is None:
            raise RuntimeError("render() called before reset()")
        if self.render_mode == "rgb_array":
            return contact_sheet(self._frames)
        scenario = self._record.scenario if self.expose_scenario or self._done else None
        return ansi_view(
            self._record.video_id,
            scenario,
            vspaces.proposal_dicts(self._proposals),
            self._last_info if self._done else None,
        )
