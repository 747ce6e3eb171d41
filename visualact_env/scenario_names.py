"""The spellings of the four scenarios: ids, the paper's titles and its table abbreviations.

The released benchmark may name a scenario as the native id (``home_service``), the paper's
title in any case and separator (``"Safety and Monitoring"``, ``"safety-monitoring"``,
``"Safety & Monitoring"``), the column heads of its tables (``DN.``, ``HS.``, ``SM.``, ``HMI.``,
``Human-Mach. Inter.``) or a common word for it (``navigation``, ``household``).
:func:`read_scenario` maps all of them to the id; ``strict=True`` accepts only the first three
kinds (names, titles, abbreviations), which is what a *key* must be to be read as a scenario.
"""

from __future__ import annotations

import re
from typing import Any

from .records import SCENARIO_TITLES, SCENARIOS

SCENARIO_ABBREVIATIONS: dict[str, str] = {
    "dynamic_navigation": "DN",
    "home_service": "HS",
    "safety_monitoring": "SM",
    "human_machine_interaction": "HMI",
}
"""The abbreviations of the paper's Table 3 column heads (written there with a dot: ``DN.``)."""

_EXTRA_SPELLINGS: dict[str, tuple[str, ...]] = {
    "dynamic_navigation": ("dyn nav",),
    "home_service": ("home services",),
    "safety_monitoring": ("safety monitor", "safety and monitor"),
    "human_machine_interaction": (
        "human mach inter",  # Table 2's column head "Human-Mach. Inter."
        "human machine interactions",
        "hci",
        "hri",
    ),
}

_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("human_machine_interaction", frozenset({"hmi", "hci", "hri", "machine", "interaction"})),
    ("dynamic_navigation", frozenset({"navigation", "navigate", "driving", "dn", "dynamic"})),
    ("home_service", frozenset({"home", "household", "hs", "domestic"})),
    (
        "safety_monitoring",
        frozenset({"safety", "monitoring", "surveillance", "sm", "security", "monitor"}),
    ),
)


def _norm(value: str) -> str:
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", value)  # homeService -> home Service
    text = text.lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _spellings() -> dict[str, str]:
    out: dict[str, str] = {}
    for sid in SCENARIOS:
        title = _norm(SCENARIO_TITLES[sid])
        names = {_norm(sid), title, title.replace(" and ", " "), _norm(SCENARIO_ABBREVIATIONS[sid])}
        names.update(_EXTRA_SPELLINGS[sid])
        for name in names:
            out[name] = sid
    return out


SPELLINGS: dict[str, str] = _spellings()
"""Normalised spelling (lower case, punctuation as single spaces, ``&`` as ``and``) -> id."""


def read_scenario(value: Any, *, strict: bool = False) -> str | None:
    """The scenario id ``value`` names, or None.

    ``"Dynamic Navigation"``, ``"dynamic-navigation"``, ``"DN."``, ``"HMI"``,
    ``"Human-Mach. Inter."`` are read in both modes; the lenient mode also reads one clear word
    (``"navigation"``, ``"household"``) and returns None when words of two scenarios appear
    (``"home safety"``).
    """
    if not isinstance(value, str):
        return None
    text = _norm(value)
    if text in SPELLINGS:
        return SPELLINGS[text]
    if strict:
        return None
    words = set(text.split())
    hits = [sid for sid, keys in _WORDS if words & keys]
    return hits[0] if len(hits) == 1 else None
