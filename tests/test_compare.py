"""``compare``: leaderboard, paired bootstrap differences, refusal of different data, published
rows, and the written compare.md / compare.html / Figure 4 PNG."""

from __future__ import annotations

import json
import re

import pytest
from report_fixtures import make_runs, oracle_predictions, run_config, write_run

from visualact_env.cli import main
from visualact_env.embedding import Embedder
from visualact_env.report import CompareError, compare_runs, write_compare
from visualact_env.report.compare import PUBLISHED_NOTE


@pytest.fixture(scope="module")
def folders(tmp_path_factory, demo):
    return make_runs(tmp_path_factory.mktemp("runs"), demo)


@pytest.fixture(scope="module")
def result(folders, scorer):
    return compare_runs(
        [folders["partial"], folders["oracle"]], published=True, scorer=scorer, n_resamples=500
    )


def test_oracle_beats_partial_significantly(result):
    assert result["baseline"] == "partial"
    names = [r["name"] for r in result["runs"]]
    assert names == ["partial", "oracle"]
    (comp,) = result["comparisons"]
    assert comp["name"] == "oracle" and comp["baseline"] == "partial"
    for fig in ("f1", "weighted_f1", "recall"):
        d = comp["figures"][fig]
        assert d["difference"] > 0.3
        assert 0 < d["low"] <= d["difference"] <= d["high"]
        assert d["p_value"] < 0.05


def test_explicit_baseline_flips_the_sign(folders, scorer):
    res = compare_runs(
        [folders["partial"], folders["oracle"]],
        baseline=folders["oracle"],
        scorer=scorer,
        n_resamples=200,
    )
    assert res["baseline"] == "oracle"
    (comp,) = res["comparisons"]
    assert comp["name"] == "partial" and comp["figures"]["f1"]["difference"] < 0


def test_identical_runs_differ_by_zero(tmp_path, demo, scorer):
    a = write_run(tmp_path / "a", run_config(demo, "oracle"), oracle_predictions(demo))
    b = write_run(tmp_path / "b", run_config(demo, "oracle"), oracle_predictions(demo))
    res = compare_runs([a, b], scorer=scorer, n_resamples=100)
    assert [r["name"] for r in res["runs"]] == ["oracle [a]", "oracle [b]"]
    d = res["comparisons"][0]["figures"]["f1"]
    assert d["difference"] == 0 and d["p_value"] == 1.0


def test_a_run_made_with_another_embedder_is_rescored_and_named(tmp_path, demo, scorer):
    int8 = Embedder("minilm-int8", cache=False).identity
    a = write_run(tmp_path / "a", run_config(demo, "oracle"), oracle_predictions(demo))
    config = {**run_config(demo, "oracle"), "embedder": int8}
    b = write_run(tmp_path / "b", config, oracle_predictions(demo))
    res = compare_runs([a, b], scorer=scorer, n_resamples=50)
    own = scorer.embedder.identity
    assert res["embedder"] == own != int8  # one embedder for every run: scores never mixed
    assert res["warnings"] == [f"oracle [b]: run made with embedder {int8}, rescored with {own}"]
    assert res["comparisons"][0]["figures"]["f1"]["difference"] == 0


def test_different_data_is_refused_unless_allowed(tmp_path, folders, demo, scorer):
    other = demo.subset(scenarios=["home_service"])
    cfg = run_config(demo, "other")
    cfg["selection"] = {"scenarios": ["home_service"], "limit": None}
    cfg["data"]["fingerprint"] = demo.fingerprint
    same_data = write_run(tmp_path / "sub", cfg, oracle_predictions(other))
    # same annotations but a different selection: compared, paired difference not possible
    res = compare_runs([folders["partial"], same_data], scorer=scorer, n_resamples=50)
    assert "error" in res["comparisons"][0] and "same videos" in res["comparisons"][0]["error"]

    changed = run_config(demo, "changed", fingerprint="f" * 16)
    bad = write_run(tmp_path / "changed", changed, [])
    with pytest.raises(CompareError, match="different data") as err:
        compare_runs([folders["partial"], bad], scorer=scorer)
    assert "f" * 16 in str(err.value) and str(bad) in str(err.value)
    assert main(["compare", str(folders["partial"]), str(bad)]) == 2


def test_published_rows_are_labelled_and_scaled(result):
    pub = result["published"]
    assert pub["note"] == PUBLISHED_NOTE
    gpt = next(r for r in pub["2"] if r["name"] == "GPT-4o (published)")
    assert gpt["published"] is True
    assert gpt["overall"]["f1"] == pytest.approx(0.367)
    assert any(r["name"].startswith("GPT-4o") for r in pub["3"])


def test_written_files(tmp_path, result):
    paths = write_compare(result, tmp_path)
    md = paths["md"].read_text()
    assert "## Leaderboard" in md and PUBLISHED_NOTE in md
    assert "| Model | DN. | HS. | SM. | HMI. | Overall |" in md
    assert "GPT-4o (published) | 32.6 | 40.9 | 34.6 |" in md
    lines = [ln for ln in md.splitlines() if ln.startswith("| 1 | oracle")]
    assert lines and "100.0" in lines[0]
    assert re.search(r"\| \+\d+\.\d \[\d+\.\d, \d+\.\d\] p=", md)
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    html = paths["html"].read_text()
    srcs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert 'class="pub"' in html and "Proactive ratio (Figure 4)" in html
    assert json.loads(paths["json"].read_text())["baseline"] == "partial"


def test_compare_command_json_and_out(tmp_path, folders, capsys):
    out = tmp_path / "cmp"
    code = main(
        ["compare", str(folders["oracle"]), str(folders["partial"]), "--json",
         "--out", str(out), "--resamples", "100"]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["baseline"] == "oracle"
    assert doc["comparisons"][0]["figures"]["f1"]["difference"] < 0
    assert (out / "compare.html").is_file() and (out / "proactive_ratio.png").is_file()
    assert (
        main(["compare", str(folders["oracle"]), str(folders["partial"]), "--resamples", "50"]) == 0
    )
    table = capsys.readouterr().out
    assert "baseline: oracle" in table and "(baseline)" in table


def test_published_rows_and_unpaired_runs_show_on_the_terminal(
    result, tmp_path, folders, demo, scorer
):
    from visualact_env.report.compare import format_terminal

    text = format_terminal(result)
    assert PUBLISHED_NOTE in text
    assert "Table 2 (published)" in text and "Table 3 (published)" in text
    gpt = next(ln for ln in text.splitlines() if ln.startswith("GPT-4o (published)"))
    assert "32.6" in gpt and "36.7" in gpt

    cfg = run_config(demo, "sub")
    cfg["selection"] = {"scenarios": ["home_service"], "limit": None}
    sub = write_run(
        tmp_path / "sub", cfg, oracle_predictions(demo.subset(scenarios=["home_service"]))
    )
    res = compare_runs([folders["partial"], sub], scorer=scorer, n_resamples=50)
    text = format_terminal(res)
    assert "no paired differences for sub" in text and "the baseline partial" in text
