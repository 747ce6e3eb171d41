"""Wrappers for the VisualAct environments."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from .spaces import MAX_RAW_TEXT_CHARS, raw_text_space


class TextActionWrapper(gym.Wrapper):
    """Act on ``VisualAct-v0`` with a model's raw answer text.

    The action space becomes ``Text(0..16384 chars)`` (``spaces.RAW_TEXT_CHARSET``: the action
    charset plus newline and tab; ``step`` accepts any ``str``). The text goes through the
    project's parser (:func:`visualact_env.parsing.parse_actions`: JSON, repaired JSON, numbered
    or bulleted lists, tables) and the recovered proposals are scored as usual. ``info["parse"]``
    holds the parser's ``format``, ``diagnostics`` and ``error``.

    Text the parser cannot read is not an exception: it becomes an empty proposal list, reward
    0.0, with the reason in ``info["parse"]["error"]`` -- a failure is recorded as a failure,
    never as a silently wrong score. A ``bytes`` value is decoded as UTF-8; any other type raises
    ``TypeError`` (that is a bug in the agent, not an answer).

    >>> import gymnasium as gym
    >>> import visualact_env
    >>> from visualact_env.envs.wrappers import TextActionWrapper
    >>> env = TextActionWrapper(gym.make("VisualAct-v0", num_frames=4, frame_size=(64, 64)))
    >>> obs, info = env.reset(seed=0)
    >>> answer = '[{"action": "Call emergency services", "apl": 4, "type": "reactive"}]'
    >>> obs, reward, terminated, truncated, info = env.step(answer)
    >>> info["parse"]["format"], info["parse"]["error"]
    ('json', None)
    """

    def __init__(
        self,
        env: gym.Env,
        max_actions: int = 32,
        max_chars: int = 400,
        max_text_chars: int = MAX_RAW_TEXT_CHARS,
    ):
        super().__init__(env)
        self.max_actions = max_actions
        self.max_chars = max_chars
        self.action_space = raw_text_space(max_text_chars)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Parse ``action`` (raw text) into proposals and step the wrapped environment."""
        from ..parsing import parse_actions

        if isinstance(action, bytes):
            action = action.decode("utf-8", errors="replace")
        if not isinstance(action, str):
            raise TypeError(f"action: expected the model's text (str), got {type(action).__name__}")
        parsed = parse_actions(action, max_actions=self.max_actions, max_chars=self.max_chars)
        proposals = () if parsed.error else parsed.actions
        obs, reward, terminated, truncated, info = self.env.step(proposals)
        if parsed.error:
            reward = 0.0
        info["parse"] = {
            "format": parsed.format,
            "diagnostics": list(parsed.diagnostics),
            "error": parsed.error,
        }
        return obs, float(reward), terminated, truncated, info
