"""Which videos a run evaluates: ``--limit`` stratified by scenario, ``--scenarios`` spellings."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter

import pytest

from visualact_env.records import Action, Benchmark, VideoRecord
from visualact_env.rundir import (
    RunError,
    normalize_scenarios,
    run_benchmark,
    select_videos,
    stratified_limit,
)
from visualact_env.runner import EvalConfig, run_eval


def _bench(sizes: dict[str, int]) -> Benchmark:
    records = [
        VideoRecord(f"{sc[:3]}_{i:03d}", f"{sc}_{i}.mp4", sc, (Action("stop", 1, False),))
        for sc, n in sizes.items()
        for i in range(n)
    ]
    return Benchmark(records=tuple(records), name="t")


def test_limit_shares_videos_by_scenario_size_as_worked_by_hand():
    # one per scenario first (3), then 2 more shared over the remaining sizes 5, 2, 0 (of 7):
    # exact shares 1.43, 0.57, 0 -> whole parts 1, 0, 0 -> the last one to the largest
    # remainder (home_service, .57): DN 2, HS 2, SM 1
    bench = _bench({"dynamic_navigation": 6, "home_service": 3, "safety_monitoring": 1})
    chosen = stratified_limit(bench.records, 5)
    assert Counter(r.scenario for r in chosen) == {
        "dynamic_navigation": 2,
        "home_service": 2,
        "safety_monitoring": 1,
    }
    assert [r.video_id for r in chosen] == [r.video_id for r in bench.records if r in chosen], (
        "the result keeps the benchmark's order"
    )


def test_limit_keeps_the_paper_mix_on_a_large_benchmark():
    sizes = {
        "dynamic_navigation": 300,
        "home_service": 400,
        "safety_monitoring": 200,
        "human_machine_interaction": 100,
    }
    chosen = select_videos(_bench(sizes), (), 200)
    # 4 first, then 196 over 299/399/199/99 (of 996): 58.8, 78.5, 39.2, 19.5 -> 59, 79, 39, 19
    assert Counter(r.scenario for r in chosen) == {
        "dynamic_navigation": 60,
        "home_service": 80,
        "safety_monitoring": 40,
        "human_machine_interaction": 20,
    }


def test_limit_picks_the_same_videos_whatever_the_file_order():
    bench = _bench({"dynamic_navigation": 9, "home_service": 7, "human_machine_interaction": 4})
    first = {r.video_id for r in select_videos(bench, (), 7)}
    for seed in range(5):
        shuffled = list(bench.records)
        random.Random(seed).shuffle(shuffled)
        other = Benchmark(records=tuple(shuffled), name="t")
        assert {r.video_id for r in select_videos(other, (), 7)} == first


def test_a_limit_below_the_number_of_scenarios_and_beyond_the_size():
    bench = _bench({"dynamic_navigation": 6, "home_service": 3, "safety_monitoring": 1})
    assert Counter(r.scenario for r in stratified_limit(bench.records, 1)) == {
        "dynamic_navigation": 1
    }
    assert stratified_limit(bench.records, 50) == list(bench.records)
    assert stratified_limit(bench.records, 0) == []


def test_runs_recorded_before_the_stratified_rule_still_take_the_first_videos(demo):
    selection = {"scenarios": [], "limit": 4}
    config = {"data": {"spec": "demo", "fingerprint": demo.fingerprint}, "selection": selection}
    assert run_benchmark(config).video_ids == demo.video_ids[:4]
    config["selection"] = {**selection, "limit_rule": "stratified"}
    assert sorted({r.scenario for r in run_benchmark(config)}) == sorted(set(demo.scenarios))


def test_a_limited_run_covers_every_scenario_and_its_reports_agree(tmp_path, demo):
    out = run_eval(
        EvalConfig(agent="oracle", out=tmp_path / "run", limit=4, progress=False, html=False)
    )
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    scenarios = {demo[r["video_id"]].scenario for r in rows}
    assert scenarios == set(demo.scenarios)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["scenarios"]) == set(demo.scenarios)
    assert summary["counts"]["videos"] == 4 and summary["counts"]["missing"] == 0


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["DN", "hs."], ("dynamic_navigation", "home_service")),
        (["HMI", "Safety and Monitoring"], ("human_machine_interaction", "safety_monitoring")),
        (["SM", "safety_monitoring"], ("safety_monitoring",)),
    ],
)
def test_scenarios_accept_the_table_abbreviations(given, expected):
    assert normalize_scenarios(given) == expected


def test_an_unknown_scenario_lists_the_valid_values():
    with pytest.raises(RunError, match=r"'kitchen'.*DN, HS, SM, HMI.*dynamic_navigation"):
        normalize_scenarios(["kitchen"])
    done = subprocess.run(
        [sys.executable, "-m", "visualact_env", "eval", "--scenarios", "DN", "kitchen"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "unknown scenario(s) 'kitchen'; choose from DN, HS, SM, HMI" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "visualact_env", "eval", "--help"], capture_output=True, text=True
    )
    assert "DN, HS, SM, HMI" in " ".join(done.stdout.split())


def test_an_abbreviated_scenario_run_resumes_under_the_id_spelling(tmp_path):
    out = tmp_path / "run"
    common = {"agent": "empty", "out": out, "progress": False, "reports": False}
    run_eval(EvalConfig(scenarios=("HS",), **common))
    config = json.loads((out / "config.json").read_text())
    assert config["selection"]["scenarios"] == ["home_service"]
    run_eval(EvalConfig(scenarios=("home_service",), resume=True, **common))
