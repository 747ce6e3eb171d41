"""Agents for the distributed-launch tests, loaded with ``--agent py:dist_agents:NAME``."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from runner_agents import SlowEchoAgent


class DyingAgent(SlowEchoAgent):
    """A SlowEchoAgent whose process kills itself with SIGKILL (as the out-of-memory killer
    does) before its ($DIE_AFTER + 1)-th video when its $RANK is $DIE_RANK; only once, while
    the $DIE_MARKER file does not exist (so a resumed launch runs through)."""

    def __init__(self, arg=None, **kw):
        super().__init__(arg, **kw)
        self.spec = "py:dist_agents:DyingAgent"
        self.seen = 0

    def act(self, observation, info):
        marker = Path(os.environ["DIE_MARKER"])
        if os.environ.get("RANK", "0") == os.environ.get("DIE_RANK") and not marker.exists():
            self.seen += 1
            if self.seen > int(os.environ.get("DIE_AFTER", "2")):
                marker.write_text("killed once")
                os.kill(os.getpid(), signal.SIGKILL)
        return super().act(observation, info)
