"""Plots: PNG, SVG and PDF beside each other, titled with the run, and readable.

Summaries come from real reports of hand-written runs on the demo benchmark (real embedding
model). The geometry checks use matplotlib's own rendered extents (in display pixels): legends
beside the axes never overlap the data area, rotated Figure 4 labels end under their bars,
interval caps at 100 lie inside the axes, coinciding lines differ in marker and dash.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pytest
from report_fixtures import make_runs, oracle_predictions, run_config, write_run

from visualact_env.report import compare_runs, plots, write_compare, write_reports


@pytest.fixture(scope="module")
def summaries(tmp_path_factory, demo, scorer):
    root = tmp_path_factory.mktemp("runs")
    folders = make_runs(root, demo)
    empty = [{"video_id": r.video_id, "actions": []} for r in demo]
    folders["silent"] = write_run(root / "silent", run_config(demo, "silent"), empty)
    folders["half oracle with a long name"] = write_run(
        root / "half",
        run_config(demo, "half oracle with a long name"),
        oracle_predictions(demo)[::2],
    )
    out = {}
    for (
        name,
        folder,
    ) in folders.items():  # the files of one run are checked; the rest draw in memory
        out[name] = write_reports(
            folder, demo, scorer, n_resamples=100, html=False, plots=name == "partial"
        )
    return folders, out


def _render_extents(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_every_plot_is_png_svg_and_pdf_titled_with_the_run(summaries) -> None:
    folders, _ = summaries
    plot_dir = folders["partial"] / "plots"
    stems = {p.stem for p in plot_dir.iterdir()}
    assert stems == {"scenario_scores", "tau_sweep", "apl_confusion", "proactive_recall"}
    for stem in stems:
        assert (plot_dir / f"{stem}.png").read_bytes().startswith(b"\x89PNG")
        assert (plot_dir / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
        svg = ET.parse(plot_dir / f"{stem}.svg").getroot()
        texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
        assert texts.startswith("partial: ") or "partial: " in texts, (stem, texts[:80])


def test_svg_and_pdf_are_byte_identical_for_the_same_summary(summaries) -> None:
    _, out = summaries
    a = plots.render(plots.scenario_bars_figure(out["partial"]))
    b = plots.render(plots.scenario_bars_figure(out["partial"]))
    assert a["svg"] == b["svg"] and a["pdf"] == b["pdf"]


def test_interval_caps_at_100_are_inside_the_axes(summaries) -> None:
    _, out = summaries
    fig = plots.scenario_bars_figure(out["oracle"])
    ax = fig.axes[0]
    assert ax.get_ylim()[1] > 100  # the oracle's bars and caps end at 100
    caps = [line for line in ax.lines if line.get_marker() == "_"]
    assert caps and all(y <= ax.get_ylim()[1] for cap in caps for y in cap.get_ydata())
    fig.clf()


@pytest.mark.parametrize("draw", ["scenario_bars_figure", "tau_sweep_figure", "proactive_figure"])
def test_legends_never_cover_the_data_area(summaries, draw) -> None:
    _, out = summaries
    fig = getattr(plots, draw)(out["oracle"])
    renderer = _render_extents(fig)
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    assert not _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
    fig.clf()


def test_coinciding_sweep_lines_differ_in_marker_and_dash(summaries) -> None:
    _, out = summaries
    fig = plots.tau_sweep_figure(out["oracle"])
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() in {"F1", "Weighted F1", "Precision", "Recall"}]  # fmt: skip
    assert len(lines) == 4
    ys = {tuple(line.get_ydata()) for line in lines}
    assert len(ys) == 1  # the oracle's four curves coincide: all 100
    assert len({line.get_marker() for line in lines}) == 4
    assert len({str(line.get_linestyle()) for line in lines}) == 4
    fig.clf()


def test_an_all_zero_heat_map_has_no_meaningless_colour_bar(summaries) -> None:
    _, out = summaries
    assert out["silent"]["apl_confusion"]["total"] == 0
    fig = plots.apl_confusion_figure(out["silent"])
    assert len(fig.axes) == 1 and "every count is 0" in fig.axes[0].get_xlabel()
    fig.clf()
    fig = plots.apl_confusion_figure(out["partial"])
    (image,) = fig.axes[0].get_images()
    low, high = image.get_clim()
    assert low == 0 and high == max(max(r) for r in out["partial"]["apl_confusion"]["counts"])
    ticks = fig.axes[1].get_yticks()
    assert all(float(t).is_integer() for t in ticks)
    fig.clf()


def test_figure4_labels_end_under_their_bars_and_undefined_is_marked(summaries) -> None:
    _, out = summaries
    rows = [{"name": n, "overall": s["overall"]} for n, s in out.items()]
    rows += [dict(rows[0], name="partial again, published", published=True)]
    fig = plots.proactive_ratio_figure(rows, "5 runs")
    renderer = _render_extents(fig)
    ax = fig.axes[0]
    bars = ax.patches
    labels = ax.get_xticklabels()
    assert len(bars) == len(labels) == 5
    for bar, label in zip(bars, labels, strict=True):
        centre = ax.transData.transform((bar.get_x() + bar.get_width() / 2, 0))[0]
        box = label.get_window_extent(renderer)
        assert label.get_rotation() == 30
        # the text's end (its top-right corner) is the rotated box's right edge less the
        # text height times sin 30 degrees: it must sit on the bar's centre line
        _, height, _ = renderer.get_text_width_height_descent(
            label.get_text(), label.get_fontproperties(), ismath=False
        )
        end = box.x1 - height * math.sin(math.radians(30))
        assert abs(end - centre) < 2, (label.get_text(), end, centre)
    texts = [t.get_text() for t in ax.texts]
    assert "n/a" in texts  # the silent run proposes nothing: no proactive share
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "run" in legend and "published (paper)" in legend
    assert any(t.startswith("average ") for t in legend)
    assert ax.get_title(loc="left").startswith("5 runs: ")
    fig.clf()


def test_compare_writes_figure4_in_three_formats_and_keys_its_shading(summaries, tmp_path) -> None:
    folders, _ = summaries
    result = compare_runs(
        [folders["partial"], folders["oracle"], folders["silent"]], published=True, n_resamples=50
    )
    write_compare(result, tmp_path)
    for fmt in ("png", "svg", "pdf"):
        assert (tmp_path / f"proactive_ratio.{fmt}").stat().st_size > 1000
    html = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert '<i class="sw r1"></i>best' in html and "3rd of each column" in html
    assert "published (paper)" in html  # the published tables' grey rows
    md = (tmp_path / "compare.md").read_text(encoding="utf-8")
    assert "superscripts 1-3 = rank" in md
    assert json.loads((tmp_path / "compare.json").read_text())["baseline"] == "partial"
