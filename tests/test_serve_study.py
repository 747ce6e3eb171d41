"""The parts of ``visualact serve`` below the pages: the study's run folder, the annotation
files under concurrent writers, and the human-agreement table (no browser needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from visualact_env.agreement import agreement_markdown, find_human_runs, human_agreement
from visualact_env.cli import main
from visualact_env.loading import parse_annotations
from visualact_env.report import write_reports
from visualact_env.rundir import select_videos
from visualact_env.runner import EvalConfig
from visualact_env.web import ServeConfig, create_app
from visualact_env.web.annotate import AnnotationFolder
from visualact_env.web.study import Study, StudyError, check_participant, clip_order


def _study(demo, runs: Path, **kwargs) -> Study:
    return Study(
        demo,
        runs,
        data_spec="demo",
        tau=0.5,
        embedder=None,
        limit=kwargs.pop("limit", 4),
        **kwargs,
    )


def test_study_sampler_is_the_runners(demo, tmp_path):
    """By default a participant sees what `visualact eval` shows a model; frame options mean
    the same in both commands."""
    from visualact_env.knobs import sampler_of
    from visualact_env.runner import eval_sampler
    from visualact_env.sampler import DEFAULT_SAMPLER

    assert sampler_of(ServeConfig()) == eval_sampler(EvalConfig()) == DEFAULT_SAMPLER
    assert _study(demo, tmp_path).sampler == DEFAULT_SAMPLER
    options = {"frames": 4, "frame_size": "native", "frame_rule": "centered"}
    study = _study(demo, tmp_path, frame_options=options)
    assert study.sampler == eval_sampler(EvalConfig(**options))
    assert study.sampler.size is None and study.sampler.num_frames == 4


def test_clip_order_is_seeded_per_participant():
    ids = [f"v{i}" for i in range(30)]
    alice = clip_order(ids, 0, "alice")
    assert alice == clip_order(list(reversed(ids)), 0, "alice")
    assert sorted(alice) == sorted(ids)
    assert alice != clip_order(ids, 0, "bob")
    assert alice != clip_order(ids, 1, "alice")


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "-a", "x" * 41, "a b", "é"])
def test_participant_ids_are_checked(bad):
    with pytest.raises(StudyError):
        check_participant(bad)


def test_run_folder_is_resumable_and_torn_lines_are_dropped(demo, tmp_path):
    study = _study(demo, tmp_path)
    run_dir = study.start("p1", "sampled")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["agent"]["spec"] == "human:p1"
    assert config["sampler"] == study.sampler.to_dict()
    assert config["selection"]["limit"] == 4
    order = config["human"]["order"]
    assert sorted(order) == sorted(r.video_id for r in select_videos(demo, (), 4))
    first = study.clip(run_dir, 1)
    assert first.record.video_id == order[0]
    action = {"text": "call for help", "apl": 4, "proactive": False}
    study.shown(run_dir, order[0])
    row = study.submit(run_dir, 1, [action], client_ms=1500)
    assert row["latency_s"] >= 0 and row["client_active_s"] == 1.5
    with pytest.raises(StudyError, match="already submitted"):
        study.submit(run_dir, 1, [action], client_ms=None)
    # a crash mid-write leaves a torn line: it is dropped, the clip is asked again
    with open(run_dir / "predictions.jsonl", "a", encoding="utf-8") as f:
        f.write('{"video_id": "' + order[1] + '", "actions": [{"te')
    assert study.next_position(run_dir) == 2
    # coming back (a new server on the same folder) resumes; other settings are refused
    again = _study(demo, tmp_path)
    assert again.start("p1", "sampled") == run_dir
    assert again.next_position(run_dir) == 2
    with pytest.raises(StudyError, match="other settings"):
        _study(demo, tmp_path, limit=3).start("p1", "sampled")
    assert study.run_dir("p1", "full-clip").name == "human-p1-full-clip"


def test_another_writer_blocks_submissions_and_shows_running(demo, tmp_path):
    """While another process holds the run folder's lock, a submission is refused and nothing
    is written; the run browser lists the folder as running, and not once that process is gone
    (its lock file left behind)."""
    from visualact_env.rundir import RunError
    from visualact_env.web.runs import list_runs

    study = _study(demo, tmp_path)
    run_dir = study.start("p2", "sampled")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from visualact_env.runlock import RunLock\n"
            "with RunLock(sys.argv[1]):\n print('held', flush=True); time.sleep(60)",
            str(run_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        action = {"text": "call for help", "apl": 4, "proactive": False}
        with pytest.raises(RunError, match="in use by another process"):
            study.submit(run_dir, 1, [action], client_ms=None)
        assert not (run_dir / "predictions.jsonl").exists()
        assert [e.status for e in list_runs(tmp_path)] == ["running"]
    finally:
        holder.kill()
        holder.wait()
    (run_dir / ".lock").write_text(f"{holder.pid}\n")  # as a killed holder leaves it
    assert [e.status for e in list_runs(tmp_path)] == ["incomplete"]
    study.submit(run_dir, 1, [action], client_ms=None)
    assert study.next_position(run_dir) == 2


def test_concurrent_annotators_and_tabs_lose_nothing(demo, tmp_path):
    for i, record in enumerate(demo.records[:6]):
        shutil.copy(record.path, tmp_path / f"clip{i}.mp4")
    folder = AnnotationFolder(tmp_path)
    clips = folder.clips()
    assert clips == [f"clip{i}.mp4" for i in range(6)]
    errors: list[Exception] = []

    def annotate(annotator: str, mine: list[str]) -> None:
        try:
            for clip in mine:
                record = {
                    "video_id": clip[:-4],
                    "video": clip,
                    "scenario": "home_service",
                    "actions": [{"text": f"{annotator} on {clip}", "apl": 2, "proactive": True}],
                }
                assert folder.save(annotator, record).ok
        except Exception as e:  # collected for the assertion below
            errors.append(e)

    # two annotators, and one annotator in two tabs, all at once
    threads = [
        threading.Thread(target=annotate, args=("ann", clips[0::2])),
        threading.Thread(target=annotate, args=("ann", clips[1::2])),
        threading.Thread(target=annotate, args=("ben", clips)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for name in ("ann", "ben"):
        bench = parse_annotations(folder.file_for(name))
        assert sorted(r.video for r in bench.records) == clips
    # a bad record is refused with the loader's messages and the file is left as it was
    before = folder.file_for("ann").read_bytes()
    result = folder.save(
        "ann",
        {"video_id": "clip0", "video": "clip1.mp4", "scenario": "kitchen", "actions": []},
    )
    assert not result.ok
    fields = {p.field for p in result.problems}
    assert {"scenario", "actions", "video_id"} <= fields
    assert folder.file_for("ann").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def _human_run(study: Study, pid: str, answers: dict[str, list[dict]]) -> Path:
    run_dir = study.start(pid, "sampled")
    order = study.order(run_dir)
    for vid, actions in answers.items():
        study.submit(run_dir, order.index(vid) + 1, actions, client_ms=None)
    return run_dir


def test_human_agreement_table(demo, tmp_path, scorer, capsys):
    study = _study(demo, tmp_path, limit=4)
    records = select_videos(demo, (), 4)
    truth = {r.video_id: [a.to_dict() for a in r.actions] for r in records}
    partial = {r.video_id: [a.to_dict() for a in r.actions[:1]] for r in records}
    off = {r.video_id: [{"text": "water the plants", "apl": 0, "proactive": True}] for r in records}
    runs = [
        _human_run(study, "copy", truth),
        _human_run(study, "half", partial),
        _human_run(study, "off", dict(list(off.items())[:2])),
    ]
    assert find_human_runs(tmp_path, demo.fingerprint) == sorted(runs)
    result = human_agreement(runs, scorer=scorer, n_resamples=200)
    by_name = {p["name"]: p for p in result["participants"]}
    assert by_name["human:copy"]["vs_truth"]["f1"]["estimate"] == pytest.approx(1.0)
    half = by_name["human:half"]["vs_truth"]["f1"]
    assert 0.0 < half["low"] <= half["estimate"] <= half["high"] < 1.0
    assert by_name["human:off"]["answered"] == 2
    pairs = {(p["a"], p["b"]): p for p in result["pairs"]}
    assert len(pairs) == 3
    copy_half = pairs[("human:copy", "human:half")]
    assert copy_half["videos"] == 4
    # the reference is the other participant: copy vs half equals half vs the ground truth's F1
    assert copy_half["figures"]["f1"]["estimate"] == pytest.approx(half["estimate"])
    assert pairs[("human:copy", "human:off")]["videos"] == 2
    text = agreement_markdown(result)
    assert "| human:copy | human:half | 4 |" in text
    # the runs are ordinary runs: the report reads them, compare adds the agreement tables
    summary = write_reports(runs[0], n_resamples=50, html=False, plots=False)
    assert summary["overall"]["f1"] == pytest.approx(1.0)
    capsys.readouterr()
    out = tmp_path / "compare"
    assert main(["compare", *map(str, runs[:2]), "--resamples", "100", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "## Human agreement" in printed and "| human:copy | human:half | 4 |" in printed
    assert "| human:copy | human:half | 4 |" in (out / "human-agreement.md").read_text()


def test_agreement_page_and_guarded_save(demo, tmp_path, scorer):
    study = _study(demo, tmp_path, limit=2)
    for pid in ("a1", "a2"):
        _human_run(
            study,
            pid,
            {r.video_id: [a.to_dict() for a in r.actions] for r in select_videos(demo, (), 2)},
        )
    app = create_app(ServeConfig(runs=tmp_path, limit=2, parts=("study", "runs")))
    client = TestClient(app, base_url="http://127.0.0.1")
    page = client.get("/agreement")
    assert page.status_code == 200 and "human:a1" in page.text and "human:a2" in page.text
    assert client.post("/agreement/save", data={}).status_code == 403
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    saved = client.post("/agreement/save", data={"csrf_token": token})
    assert saved.status_code == 200
    assert "human:a1" in (tmp_path / "human-agreement.md").read_text()
    assert json.loads((tmp_path / "human-agreement.json").read_text())["pairs"]
    # parts not served are not reachable
    assert client.get("/annotate").status_code == 404
