"""The installed distribution: import names it claims and the agents it registers."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from visualact_env.agent import Agent
from visualact_env.registry import ENTRY_POINT_GROUP, agent_names, make_agent, register_agent

ROOT = Path(__file__).resolve().parents[1]
BUILT_IN = {"blind", "empty", "hf", "openai", "oracle", "random", "retrieval"}


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("visualact-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def test_wheel_claims_no_top_level_agents_package(wheel_names: list[str]) -> None:
    top_level = {name.split("/")[0] for name in wheel_names if "/" in name}
    assert "agents" not in top_level
    assert {"visualact_env", "visualact_agents"} <= top_level


def test_wheel_ships_the_built_in_agents_and_py_typed(wheel_names: list[str]) -> None:
    for module in ("baselines", "openai_agent", "hf_agent", "images"):
        assert f"visualact_agents/{module}.py" in wheel_names
    assert "visualact_env/py.typed" in wheel_names


def test_built_in_agents_register_through_the_entry_point_group() -> None:
    registered = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert registered >= BUILT_IN
    assert set(agent_names()) >= BUILT_IN
    assert isinstance(make_agent("oracle"), Agent)


def test_runtime_registration_adds_an_agent_without_editing_the_registry() -> None:
    register_agent("my-empty", "visualact_agents.baselines:EmptyAgent")
    assert "my-empty" in agent_names()
    assert type(make_agent("my-empty")).__name__ == "EmptyAgent"


def test_library_never_imports_the_agents_package() -> None:
    code = (
        "import sys, visualact_env, visualact_env.runner, visualact_env.report, "
        "visualact_env.training, visualact_env.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('agents', 'visualact_agents')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
