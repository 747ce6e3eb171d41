"""Deterministic agents for the runner's tests, loaded with ``--agent py:runner_agents:NAME``.

They behave like real policies (they answer from the frames they are shown) but add what the
tests need: a delay so that a run can be killed mid-way, and failures on a first attempt.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from visualact_env.agent import Agent, AgentOutput
from visualact_env.records import Action


class SlowEchoAgent(Agent):
    """Proposes the ground truth's texts for even frames' brightness, slowly and deterministically."""

    def __init__(self, arg=None, *, delay: float = 0.15, **_):
        self.spec = "py:runner_agents:SlowEchoAgent"
        self.delay = float(arg) if arg else delay
        self._truth = {}

    def setup(self, benchmark, sampler):
        self._truth = {r.video_id: r.actions for r in benchmark}

    def act(self, observation, info):
        time.sleep(self.delay)
        truth = self._truth[info["video_id"]]
        # Keep every other ground-truth action, with an APL decided by the frames' content.
        level = int(observation["frames"].mean()) % 5
        actions = tuple(Action(a.text, level, a.proactive) for a in truth[::2])
        return AgentOutput(actions=actions, raw_text=f"{len(actions)} actions, level {level}")

    def config(self):
        return {"spec": self.spec, "deterministic": True}


class FlakyAgent(SlowEchoAgent):
    """Fails the first time it sees each video whose id is listed in $FLAKY_IDS (once per marker dir)."""

    def __init__(self, arg=None, **kw):
        super().__init__(arg, delay=0.0, **kw)
        self.spec = "py:runner_agents:FlakyAgent"
        self.marker_dir = Path(os.environ["FLAKY_MARKERS"])
        self.flaky = set(os.environ.get("FLAKY_IDS", "").split(","))

    def act(self, observation, info):
        vid = info["video_id"]
        marker = self.marker_dir / vid
        if vid in self.flaky and not marker.exists():
            marker.write_text("failed once")
            return AgentOutput(
                error="RateLimitError: simulated permanent failure after retries", attempts=5
            )
        return super().act(observation, info)


class GatedAgent(SlowEchoAgent):
    """Answers its first video at once, then waits (at most 5 minutes) for the file named by
    $GATE to exist before each further one: a run that stays mid-way until a test lets it go."""

    def __init__(self, arg=None, **kw):
        super().__init__(arg, delay=0.0, **kw)
        self.spec = "py:runner_agents:GatedAgent"
        self.gate = Path(os.environ["GATE"])
        self.answered = 0

    def act(self, observation, info):
        deadline = time.monotonic() + 300
        while self.answered and not self.gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.answered += 1
        return super().act(observation, info)


class FrameRecorder(Agent):
    """Saves the frames it is shown to ``<dir>/<video_id>.npy`` (agent option ``dir``) and
    proposes nothing: the tests compare what ``eval`` shows an agent with the environment's
    observations."""

    def __init__(self, arg=None, *, dir: str = "", **_):
        self.spec = "py:runner_agents:FrameRecorder"
        self.dir = Path(dir or arg)

    def act(self, observation, info):
        import numpy as np

        np.save(self.dir / f"{info['video_id']}.npy", observation["frames"])
        return AgentOutput(actions=(), raw_text="[]")

    def config(self):
        return {"spec": self.spec, "deterministic": True}


class ProseAgent(SlowEchoAgent):
    """Answers in prose the parser cannot read for every other video (by sorted id), and as a
    JSON list for the others: an honest mix of parseable and unparseable answers."""

    def __init__(self, arg=None, **kw):
        super().__init__(arg, delay=0.0, **kw)
        self.spec = "py:runner_agents:ProseAgent"
        self._order: dict[str, int] = {}

    def setup(self, benchmark, sampler):
        super().setup(benchmark, sampler)
        self._order = {vid: i for i, vid in enumerate(sorted(self._truth))}

    def act(self, observation, info):
        from visualact_env.agent import output_from_text

        vid = info["video_id"]
        if self._order[vid] % 2:
            return output_from_text(f"I'm sorry <b>{vid}</b>, I cannot tell what to do here.")
        texts = [a.text for a in self._truth[vid][:1]]
        return output_from_text('[{"action": "' + texts[0] + '", "apl": 2}]')


class SampledEchoAgent(SlowEchoAgent):
    """A policy whose K samples differ, deterministically: sample k proposes the first
    ``(k + n) % 3`` ground-truth actions, where n is the video's position by sorted id."""

    def __init__(self, arg=None, **kw):
        super().__init__(arg, delay=0.0, **kw)
        self.spec = "py:runner_agents:SampledEchoAgent"
        self._order: dict[str, int] = {}

    def setup(self, benchmark, sampler):
        super().setup(benchmark, sampler)
        self._order = {vid: i for i, vid in enumerate(sorted(self._truth))}

    def act(self, observation, info):
        vid = info["video_id"]
        keep = (int(info.get("sample", 0)) + self._order[vid]) % 3
        actions = tuple(self._truth[vid][:keep])
        return AgentOutput(actions=actions, raw_text=f"{len(actions)} actions")
