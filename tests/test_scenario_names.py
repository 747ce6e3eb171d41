"""Every spelling of a scenario the paper and its tables use reads as the scenario id."""

from __future__ import annotations

import pytest

from visualact_env.records import SCENARIO_TITLES
from visualact_env.scenario_names import SCENARIO_ABBREVIATIONS, read_scenario

SPELLINGS = [
    # ids, titles in any case and separator, the tables' abbreviations and column heads
    ("dynamic_navigation", "dynamic_navigation"),
    ("Dynamic Navigation", "dynamic_navigation"),
    ("dynamic-navigation", "dynamic_navigation"),
    ("DYNAMIC NAVIGATION", "dynamic_navigation"),
    ("dynamicNavigation", "dynamic_navigation"),
    ("DN", "dynamic_navigation"),
    ("DN.", "dynamic_navigation"),
    ("home_service", "home_service"),
    ("Home Service", "home_service"),
    ("HS.", "home_service"),
    ("hs", "home_service"),
    ("Safety and Monitoring", "safety_monitoring"),
    ("Safety & Monitoring", "safety_monitoring"),
    ("safety_monitoring", "safety_monitoring"),
    ("SM.", "safety_monitoring"),
    ("Human-Machine Interaction", "human_machine_interaction"),
    ("human machine interaction", "human_machine_interaction"),
    ("Human-Mach. Inter.", "human_machine_interaction"),
    ("HMI.", "human_machine_interaction"),
    ("HMI", "human_machine_interaction"),
]


@pytest.mark.parametrize(("spelling", "scenario"), SPELLINGS)
def test_paper_spellings_read_strictly(spelling: str, scenario: str) -> None:
    assert read_scenario(spelling, strict=True) == scenario
    assert read_scenario(spelling) == scenario


def test_every_title_and_abbreviation_is_covered() -> None:
    for sid, title in SCENARIO_TITLES.items():
        assert read_scenario(title, strict=True) == sid
        assert read_scenario(SCENARIO_ABBREVIATIONS[sid] + ".", strict=True) == sid


@pytest.mark.parametrize(
    ("value", "lenient"),
    [
        ("navigation", "dynamic_navigation"),
        ("household", "home_service"),
        ("surveillance", "safety_monitoring"),
        ("home safety", None),  # two scenarios' words: not guessed
        ("Kitchen", None),
        ("navigation_1", "dynamic_navigation"),
        ("", None),
        (3, None),
        (None, None),
    ],
)
def test_lenient_words_only_when_not_strict(value: object, lenient: str | None) -> None:
    assert read_scenario(value) == lenient
    assert read_scenario(value, strict=True) is None
