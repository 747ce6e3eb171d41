"""``visualact eval --out RUN --resume`` reuses the run's recorded options; a changed option
is still refused with the difference shown."""

from __future__ import annotations

import json

from visualact_env.cli import main
from visualact_env.runner import EvalConfig, resume_options, run_eval

FLAKY = "py:runner_agents:FlakyAgent"


def _rows(out):
    return [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines() if x]


def test_resume_with_only_out_reuses_the_recorded_options(tmp_path, monkeypatch, capsys, demo):
    monkeypatch.setenv("FLAKY_MARKERS", str(tmp_path))
    hs = [r.video_id for r in demo if r.scenario == "home_service"]
    monkeypatch.setenv("FLAKY_IDS", ",".join(hs))
    out = tmp_path / "run"
    first = ["eval", "--agent", FLAKY, "--out", str(out), "--no-html", "--no-progress"]
    first += ["--frames", "4", "--frame-size", "32x48", "--scenarios", "HS", "SM", "--limit", "6"]
    first += ["--samples", "2", "--seed", "3", "--label", "flaky", "--agent-option", "k=1"]
    assert main(first) == 1  # the flaky videos failed once
    failed = [r for r in _rows(out) if r.get("error")]
    assert failed and len(_rows(out)) == 12
    config_before = json.loads((out / "config.json").read_text())
    capsys.readouterr()

    assert main(["eval", "--out", str(out), "--resume", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "resuming with the run's recorded --agent, --agent-option" in err.replace("\n", " ")
    for option in ("--frames", "--frame-size", "--scenarios", "--limit", "--samples", "--seed"):
        assert option in err
    rows = _rows(out)
    assert len(rows) == 12 and not any(r.get("error") for r in rows)
    config_after = json.loads((out / "config.json").read_text())
    for key in ("agent", "sampler", "selection", "samples", "seed", "data", "label"):
        assert config_after[key] == config_before[key], key
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agent_label"] == "flaky" and summary["counts"]["failed"] == 0


def test_a_changed_option_is_refused_with_the_difference(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--agent", "empty", "--frames", "4", "--out", str(out), "--no-html"]) == 0
    capsys.readouterr()
    assert main(["eval", "--out", str(out), "--resume", "--frames", "6"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and '"num_frames": 4' in err and '"num_frames": 6' in err
    assert main(["eval", "--out", str(out), "--resume", "--agent", "oracle"]) == 2
    assert "agent:" in capsys.readouterr().err


def test_recorded_secrets_are_never_reused(tmp_path):
    out = tmp_path / "run"
    options = {"api_key": "sk-secret", "structured_output": "json_schema"}
    run_eval(
        EvalConfig(agent="empty", out=out, agent_options=options, reports=False, progress=False)
    )
    recorded = json.loads((out / "config.json").read_text())["eval_config"]["agent_options"]
    assert recorded == {"api_key": "***", "structured_output": "json_schema"}
    resumed = resume_options(EvalConfig(out=out, resume=True), given={"out", "resume"})
    assert resumed.agent == "empty" and resumed.agent_options == {
        "structured_output": "json_schema"
    }
    again = resume_options(
        EvalConfig(out=out, resume=True, agent_options={"api_key": "sk-new"}),
        given={"out", "resume", "agent_options"},
    )
    assert again.agent_options == {"structured_output": "json_schema", "api_key": "sk-new"}
    fresh = EvalConfig(out=tmp_path / "none", resume=True)
    assert resume_options(fresh, given={"out", "resume"}) is fresh
