"""Observation and action spaces of the VisualAct environments, and proposal coercion.

Gymnasium's default ``Text`` charset holds only letters and digits (no space), and its default
``min_length`` is 1, so a real sentence such as ``"call 911"`` is not contained in it. The spaces
here use :data:`ACTION_CHARSET` (printable ASCII, Latin-1 letters and common typographic
punctuation) with ``min_length=0``.

:func:`coerce_proposals` turns whatever an agent hands to ``step`` (a sample of the action space,
a list of dicts, a list of :class:`~visualact_env.records.Action`) into a tuple of ``Action``;
malformed input raises a ``ValueError`` naming the proposal index and field.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from ..limits import MAX_ACTIONS_PER_VIDEO, text_too_long
from ..records import APL_LEVELS, SCENARIOS, Action

MAX_ACTION_CHARS = 400
"""Longest action sentence the action space holds (the parser's ``max_chars`` default)."""

MAX_RAW_TEXT_CHARS = 16384
"""Longest raw model answer :class:`~visualact_env.envs.wrappers.TextActionWrapper` accepts."""

_TYPOGRAPHIC = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00b0\u20ac\u00a3"
_LATIN1_LETTERS = "".join(chr(c) for c in range(0xC0, 0x100) if chr(c).isalpha())

ACTION_CHARSET: str = (
    string.ascii_letters + string.digits + string.punctuation + " " + _LATIN1_LETTERS + _TYPOGRAPHIC
)
"""Characters of an action sentence: printable ASCII with space, Latin-1 letters, quotes, dashes."""

RAW_TEXT_CHARSET: str = ACTION_CHARSET + "\n\t"
"""Characters of a raw model answer (``ACTION_CHARSET`` plus newline and tab)."""


def text_space(max_length: int = MAX_ACTION_CHARS) -> spaces.Text:
    """A ``Text`` space for one action sentence (empty allowed)."""
    return spaces.Text(max_length=max_length, min_length=0, charset=ACTION_CHARSET)


def raw_text_space(max_length: int = MAX_RAW_TEXT_CHARS) -> spaces.Text:
    """A ``Text`` space for a whole raw model answer (multi-line; empty allowed)."""
    return spaces.Text(max_length=max_length, min_length=0, charset=RAW_TEXT_CHARSET)


def proposal_space() -> spaces.Dict:
    """One proposal: ``{"text": Text, "apl": Discrete(5), "proactive": Discrete(2)}``."""
    return spaces.Dict(
        {
            "text": text_space(),
            "apl": spaces.Discrete(len(APL_LEVELS)),
            "proactive": spaces.Discrete(2),
        }
    )


def proposals_space() -> spaces.Sequence:
    """The action space of ``VisualAct-v0``: a variable-length sequence of proposals."""
    return spaces.Sequence(proposal_space())


def incremental_action_space() -> spaces.Dict:
    """The action space of ``VisualActIncremental-v0``: one proposal or ``stop=1``."""
    return spaces.Dict(
        {
            "stop": spaces.Discrete(2),
            "text": text_space(),
            "apl": spaces.Discrete(len(APL_LEVELS)),
            "proactive": spaces.Discrete(2),
        }
    )


def observation_space(
    num_frames: int, frame_size: tuple[int, int], expose_scenario: bool
) -> spaces.Dict:
    """``{"frames": Box(0, 255, (N, H, W, 3), uint8)}`` plus ``"scenario": Discrete(4)``."""
    height, width = frame_size
    entries: dict[str, spaces.Space[Any]] = {
        "frames": spaces.Box(0, 255, (num_frames, height, width, 3), dtype=np.uint8)
    }
    if expose_scenario:
        entries["scenario"] = spaces.Discrete(len(SCENARIOS))
    return spaces.Dict(entries)


def scenario_index(scenario: str) -> int:
    """Position of ``scenario`` in :data:`~visualact_env.records.SCENARIOS` (the observed value)."""
    return SCENARIOS.index(scenario)


def _as_int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu":
            value = value.item()
        else:
            raise ValueError(f"{where}: must be an integer {low}..{high}, got {value!r}")
    value = int(value)
    if not low <= value <= high:
        raise ValueError(f"{where}: out of range: {value} (must be {low}..{high})")
    return value


def _coerce_apl(value: Any, where: str) -> int | None:
    if value is None:
        return None
    return _as_int(value, where, APL_LEVELS[0], APL_LEVELS[-1])


def _coerce_proactive(value: Any, where: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return bool(_as_int(value, where, 0, 1))


def coerce_proposal(item: Any, index: int = 0, where: str | None = None) -> Action:
    """One proposal as an :class:`Action`; ``where`` (default ``action[index]``) prefixes errors."""
    where = where or f"action[{index}]"
    if isinstance(item, Action):
        if too_long := text_too_long(item.text):
            raise ValueError(f"{where}.text: {too_long}")
        return item
    if not isinstance(item, Mapping):
        raise ValueError(
            f"{where}: a proposal must be a dict with 'text', 'apl', 'proactive' "
            f"or an Action, got {type(item).__name__}"
        )
    if "text" not in item:
        raise ValueError(f"{where}.text: missing")
    text = item["text"]
    if not isinstance(text, str):
        raise ValueError(f"{where}.text: must be a string, got {type(text).__name__}")
    if too_long := text_too_long(text):
        raise ValueError(f"{where}.text: {too_long}")
    return Action(
        text=str(text),
        apl=_coerce_apl(item.get("apl"), f"{where}.apl"),
        proactive=_coerce_proactive(item.get("proactive"), f"{where}.proactive"),
    )


def coerce_proposals(action: Any) -> tuple[Action, ...]:
    """Turn a ``step`` argument into proposals.

    Accepts ``None`` (no proposal), a tuple or list of proposal dicts (as sampled from the action
    space, with numpy integers) or of :class:`Action` objects, mixed freely. A single dict or
    string is rejected: wrap it in a list (raw text goes through ``TextActionWrapper``). More
    than :data:`~visualact_env.limits.MAX_ACTIONS_PER_VIDEO` proposals, or a text longer than
    :data:`~visualact_env.limits.MAX_ACTION_CHARS`, is a ``ValueError`` too.
    """
    if action is None:
        return ()
    if isinstance(action, (str, bytes, Mapping, Action)):
        raise ValueError(
            "action: expected a list of proposals (dicts or Action objects), got a single "
            f"{type(action).__name__}; wrap it in a list (raw text: use TextActionWrapper)"
        )
    if isinstance(action, np.ndarray):
        action = action.tolist()
    try:
        items = list(action)
    except TypeError:
        raise ValueError(
            f"action: expected a list of proposals, got {type(action).__name__}"
        ) from None
    if len(items) > MAX_ACTIONS_PER_VIDEO:
        raise ValueError(
            f"action: {len(items):,} proposals; at most {MAX_ACTIONS_PER_VIDEO} per step "
            "(visualact_env.limits.MAX_ACTIONS_PER_VIDEO)"
        )
    return tuple(coerce_proposal(item, i) for i, item in enumerate(items))


def proposal_dicts(actions: tuple[Action, ...]) -> list[dict[str, Any]]:
    """Actions as fresh ``{"text", "apl", "proactive"}`` dicts (for ``info``)."""
    return [a.to_dict() for a in actions]


def coerce_incremental(action: Any) -> Action | None:
    """One ``VisualActIncremental-v0`` step: the proposal, or ``None`` to stop.

    Accepts a dict of the action space (``stop`` 0/1 plus ``text``, ``apl``, ``proactive``; a
    dict without ``stop`` is a proposal), an :class:`Action` (a proposal), or ``None`` (stop).
    """
    if action is None:
        return None
    if isinstance(action, Action):
        return action
    if not isinstance(action, Mapping):
        raise ValueError(
            "action: expected a dict with 'stop', 'text', 'apl', 'proactive', an Action or None, "
            f"got {type(action).__name__}"
        )
    stop = action.get("stop", 0)
    stop = (
        bool(stop)
        if isinstance(stop, (bool, np.bool_))
        else bool(_as_int(stop, "action.stop", 0, 1))
    )
    if stop:
        return None
    return coerce_proposal(action, where="action")
