"""Inputs far beyond anything real end in a clear error at once (visualact_env/limits.py).

Each case was a multi-minute stall or a machine-sized allocation before: 10,000 actions in one
video (the exact matching is cubic: a MemoryError after 7.4 GB and 214 s), a 15 MB action text
(80 s and 2.6 GB in the tokenizer). The checks run before any text is embedded, which the
counting encoder below proves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from visualact_env.cli import main
from visualact_env.limits import MAX_ACTION_CHARS, MAX_ACTIONS_PER_VIDEO
from visualact_env.loading import write_jsonl
from visualact_env.records import Action, Benchmark, Prediction, VideoRecord

TOO_MANY = MAX_ACTIONS_PER_VIDEO + 1


class CountingEncoder:
    """Deterministic vectors from the text's hash; counts the texts it was asked for."""

    identity = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts) -> np.ndarray:
        texts = list(texts)
        self.calls += len(texts)
        out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(8) for t in texts])  # fmt: skip
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _actions(n: int, text: str = "act {i}") -> list[dict]:
    return [{"text": text.format(i=i), "apl": i % 5, "proactive": bool(i % 2)} for i in range(n)]


def _record(n: int) -> dict:
    return {"video_id": "v1", "video": "v1.mp4", "scenario": "home_service", "actions": _actions(n)}


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(
    ("ann_actions", "pred_actions", "where", "message"),
    [
        (_actions(TOO_MANY), _actions(1), "ann.jsonl:1: actions", f"{TOO_MANY} actions; at most"),
        (_actions(2), _actions(10_000), "pred.jsonl:1: actions", "10,000 actions; at most"),
        (
            _actions(2),
            [{"text": "x" * (MAX_ACTION_CHARS + 1), "apl": 1}],
            "pred.jsonl:1: actions[0].text",
            f"{MAX_ACTION_CHARS + 1:,} characters",
        ),
        (
            [*_actions(1), {"text": "y " * 1_000_000, "apl": 2, "proactive": True}],
            _actions(1),
            "ann.jsonl:1: actions[1].text",
            "2,000,000 characters",
        ),
    ],
)
def test_score_and_validate_refuse_absurd_action_lists_naming_file_line_and_field(
    tmp_path: Path, capsys, ann_actions, pred_actions, where, message
) -> None:
    ann, pred = tmp_path / "ann.jsonl", tmp_path / "pred.jsonl"
    write_jsonl(ann, [{**_record(0), "actions": ann_actions}])
    write_jsonl(pred, [{"video_id": "v1", "actions": pred_actions}])
    code, text = _run(capsys, "score", "--annotations", str(ann), "--predictions", str(pred))
    assert code == 2 and where in text and message in text, text
    assert "Traceback" not in text
    code, text = _run(capsys, "data", "validate", str(ann), "--no-check-videos", "--predictions", str(pred))  # fmt: skip
    assert code == 1 and where in text and message in text, text


def test_the_limit_itself_is_accepted(tmp_path: Path, capsys) -> None:
    ann, pred = tmp_path / "ann.jsonl", tmp_path / "pred.jsonl"
    write_jsonl(ann, [{**_record(MAX_ACTIONS_PER_VIDEO)}])
    long_text = "z" * MAX_ACTION_CHARS
    write_jsonl(pred, [{"video_id": "v1", "actions": [{"text": long_text, "apl": 0}]}])
    code, text = _run(capsys, "data", "validate", str(ann), "--no-check-videos", "--predictions", str(pred))  # fmt: skip
    assert code == 0, text


def test_a_line_over_the_line_limit_is_one_error_naming_it(tmp_path: Path, capsys) -> None:
    """A 100 MB action text cannot even be read: its line is over jsonio's MAX_LINE_BYTES."""
    from visualact_env.jsonio import MAX_LINE_BYTES

    ann, pred = tmp_path / "ann.jsonl", tmp_path / "pred.jsonl"
    write_jsonl(ann, [_record(2)])
    huge = json.dumps({"video_id": "v1", "actions": [{"text": "a" * (MAX_LINE_BYTES + 1)}]})
    pred.write_text(huge + "\n", encoding="utf-8")
    code, text = _run(capsys, "score", "--annotations", str(ann), "--predictions", str(pred))
    assert code == 2 and f"pred.jsonl:1: line longer than {MAX_LINE_BYTES} bytes" in text


def test_the_metric_refuses_before_embedding_anything() -> None:
    from visualact_env.metric import Scorer, score_predictions

    encoder = CountingEncoder()
    scorer = Scorer(encoder)
    few = [Action("a", 1, True)]
    many = [Action(f"p{i}", 1, True) for i in range(TOO_MANY)]
    with pytest.raises(ValueError, match=f"{TOO_MANY} predicted actions; the metric matches at most"):  # fmt: skip
        scorer.score_video(many, few)
    with pytest.raises(ValueError, match="ground-truth actions"):
        scorer.score_many([(few, few), (few, many)])
    record = VideoRecord("wide", "wide.mp4", "home_service", tuple(many))
    bench = Benchmark(records=(record,))
    with pytest.raises(ValueError, match=f"video 'wide': {TOO_MANY} ground-truth actions"):
        score_predictions(bench, [Prediction("wide", tuple(few))], scorer)
    assert encoder.calls == 0
    # at the limit it scores
    at_limit = many[:MAX_ACTIONS_PER_VIDEO]
    assert scorer.score_video(at_limit, at_limit).tp == MAX_ACTIONS_PER_VIDEO


def test_environments_refuse_absurd_proposals_and_ground_truth(demo) -> None:
    from visualact_env.envs.scoring import EpisodeScorer
    from visualact_env.envs.visualact import VisualActEnv

    encoder = CountingEncoder()
    env = VisualActEnv(dataset=demo, embedder=encoder, num_frames=1, frame_size=(8, 8))
    env.reset()
    before = encoder.calls
    with pytest.raises(ValueError, match=f"action: {TOO_MANY} proposals; at most"):
        env.step([{"text": f"p{i}", "apl": 1, "proactive": 1} for i in range(TOO_MANY)])
    with pytest.raises(ValueError, match=r"action\[0\]\.text: 2,001 characters"):
        env.step([{"text": "w" * 2001, "apl": 1, "proactive": 1}])
    with pytest.raises(ValueError, match=r"action\[1\]\.text: 2,001 characters"):
        env.step([Action("fine"), Action("w" * 2001)])
    assert encoder.calls == before
    wide = VideoRecord("wide", "wide.mp4", "home_service", tuple(Action(f"g{i}", 1, True) for i in range(TOO_MANY)))  # fmt: skip
    with pytest.raises(ValueError, match=f"video 'wide': {TOO_MANY} ground-truth actions"):
        EpisodeScorer(encoder).prepare([wide])
    assert encoder.calls == before


def test_the_importer_refuses_a_huge_string_before_detecting_fields(tmp_path: Path, capsys) -> None:
    """A 300,000-character text (a 100 MB one took 240 s and 2 GB in the field detection)."""
    fixture = Path(__file__).parent / "fixtures" / "import" / "list_of_records.json"
    release = json.loads(fixture.read_text(encoding="utf-8"))
    release[1]["actions"][0]["action"] = "wipe " * 60_000
    path = tmp_path / "visualactbench.json"
    path.write_text(json.dumps(release), encoding="utf-8")
    out = tmp_path / "out"
    code, text = _run(capsys, "data", "import", str(path), "--out", str(out), "--no-check-videos")
    assert code == 2, text
    assert "visualactbench.json: [1].actions[0].action: a string of 300,000 characters" in text
    assert not out.exists() or not any(out.iterdir())
