"""Every hostile input of ``tests/attack_cases.py`` ends in a clear refusal or a safe acceptance:
no traceback, no hang, no silent acceptance, no file lost, no credential written.

The cases run in this process through ``visualact_env.cli.main`` (one shared embedder); run
``python tests/attack_cases.py`` for the same cases as separate processes and the summary table.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from attack_cases import BAD_OUTCOMES, build_world, catalogue, run_in_process  # noqa: E402

CASES = catalogue()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("attack") / "template"
    build_world(root)
    return root


def test_the_catalogue_has_at_least_150_cases_over_every_reading_command() -> None:
    assert len(CASES) >= 150
    commands = {c.command for c in CASES}
    for command in ("data validate", "score", "eval", "report", "compare", "merge", "data import"):
        assert command in commands


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command}: {c.name}" for c in CASES])
def test_hostile_input_is_refused_clearly_or_accepted_safely(case, template, tmp_path) -> None:
    root = tmp_path / "world"
    world = build_world(root, template)
    outcome, message = run_in_process(case, world)
    shutil.rmtree(root, ignore_errors=True)
    assert outcome not in BAD_OUTCOMES, f"{outcome}: {message}"
    assert outcome != "unclear", f"the refusal does not name the file and place: {message}"
