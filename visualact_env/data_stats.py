"""The paper's Figure 3 for any native dataset: what it holds, and whether it is complete.

:func:`compute_stats` counts videos per scenario, videos per APL, actions per type (proactive
or reactive) and actions per APL. **A video's APL is the highest APL among its actions** (the
most urgent thing to do in the clip); the paper does not define it, so on the released data
``videos_per_apl`` may differ from the paper for that reason alone.

:func:`compare_published` checks each count the paper states (section 2.2) against the data, so
``visualact data stats`` can tell a user whether their import of the released benchmark is
complete: every stated count matches, or the ones that differ are listed.
:func:`plot_stats` draws the four pie charts as PNG files (matplotlib, Agg backend, imported
only there).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .records import APL_LEVELS, SCENARIO_TITLES, SCENARIOS, Benchmark

VIDEO_APL_RULE = "a video's APL is the highest APL among its actions"


@dataclass(frozen=True)
class DatasetStats:
    """Composition of a benchmark (Figure 3 of the paper), zeros included."""

    name: str
    fingerprint: str
    num_videos: int
    num_actions: int
    videos_per_scenario: dict[str, int]
    videos_per_apl: dict[int, int]
    actions_per_type: dict[str, int]
    actions_per_apl: dict[int, int]
    actions_per_scenario: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["video_apl_rule"] = VIDEO_APL_RULE
        return d


@dataclass(frozen=True)
class Comparison:
    """One published count next to the observed one."""

    key: str
    label: str
    published: int
    observed: int

    @property
    def match(self) -> bool:
        return self.published == self.observed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "match": self.match}


def video_apl(actions: Any) -> int:
    """The APL of a video: the highest APL among its (ground-truth) actions."""
    return max(a.apl for a in actions)


def compute_stats(benchmark: Benchmark) -> DatasetStats:
    """Count a benchmark's videos and actions the way the paper's Figure 3 does."""
    scen = Counter(r.scenario for r in benchmark)
    vapl = Counter(video_apl(r.actions) for r in benchmark if r.actions)
    actions = [a for r in benchmark for a in r.actions]
    types = Counter("proactive" if a.proactive else "reactive" for a in actions)
    aapl = Counter(a.apl for a in actions)
    per_scen_actions: Counter[str] = Counter()
    for r in benchmark:
        per_scen_actions[r.scenario] += len(r.actions)
    return DatasetStats(
        name=benchmark.name,
        fingerprint=benchmark.fingerprint,
        num_videos=len(benchmark),
        num_actions=len(actions),
        videos_per_scenario={s: scen[s] for s in SCENARIOS},
        videos_per_apl={lvl: vapl[lvl] for lvl in APL_LEVELS},
        actions_per_type={"proactive": types["proactive"], "reactive": types["reactive"]},
        actions_per_apl={lvl: aapl[lvl] for lvl in APL_LEVELS},
        actions_per_scenario={s: per_scen_actions[s] for s in SCENARIOS},
    )


def compare_published(stats: DatasetStats) -> list[Comparison]:
    """Every count the paper states, next to this dataset's count."""
    from .published import published_statistics

    pub = published_statistics()
    out = [
        Comparison("num_videos", "videos", pub["num_videos"], stats.num_videos),
        Comparison("num_actions", "actions", pub["num_actions"], stats.num_actions),
    ]
    for s, n in pub["videos_per_scenario"].items():
        out.append(
            Comparison(
                f"videos_per_scenario.{s}",
                f"videos, {SCENARIO_TITLES[s]}",
                n,
                stats.videos_per_scenario[s],
            )
        )
    for lvl, n in pub["videos_per_apl"].items():
        out.append(
            Comparison(
                f"videos_per_apl.{lvl}", f"videos at APL {lvl}", n, stats.videos_per_apl[lvl]
            )
        )
    for t, n in pub["actions_per_type"].items():
        out.append(
            Comparison(f"actions_per_type.{t}", f"{t} actions", n, stats.actions_per_type[t])
        )
    for lvl, n in pub["actions_per_apl"].items():
        out.append(
            Comparison(
                f"actions_per_apl.{lvl}", f"actions at APL {lvl}", n, stats.actions_per_apl[lvl]
            )
        )
    return out


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:5.1f}%" if total else "    -"


def format_table(stats: DatasetStats, comparisons: list[Comparison] | None = None) -> str:
    """A plain-text report: the four distributions, then the published-count check."""
    lines = [
        f"Dataset {stats.name} (fingerprint {stats.fingerprint}): {stats.num_videos} videos, {stats.num_actions} actions"
    ]

    def section(title: str, rows: list[tuple[str, int]], total: int) -> None:
        lines.append("")
        lines.append(title)
        lines.extend(f"  {label:<28}{n:>7}  {_pct(n, total)}" for label, n in rows)

    section(
        "Videos per scenario",
        [(SCENARIO_TITLES[s], n) for s, n in stats.videos_per_scenario.items()],
        stats.num_videos,
    )
    section(
        f"Videos per APL ({VIDEO_APL_RULE})",
        [(f"APL {k}", n) for k, n in stats.videos_per_apl.items()],
        stats.num_videos,
    )
    section(
        "Actions per type",
        [(t.capitalize(), n) for t, n in stats.actions_per_type.items()],
        stats.num_actions,
    )
    section(
        "Actions per APL",
        [(f"APL {k}", n) for k, n in stats.actions_per_apl.items()],
        stats.num_actions,
    )
    if comparisons is not None:
        lines += ["", *format_comparison(comparisons)]
    return "\n".join(lines)


def format_comparison(comparisons: list[Comparison]) -> list[str]:
    """Lines saying which published counts match and which differ, and what that means."""
    matched = [c for c in comparisons if c.match]
    differ = [c for c in comparisons if not c.match]
    head = f"Published counts (paper, section 2.2): {len(matched)} of {len(comparisons)} match"
    if not differ:
        return [f"{head}: this looks like the complete released benchmark."]
    if all(c.key.startswith("videos_per_apl.") for c in differ):
        verdict = (
            "; every count except videos per APL matches. The paper does not define a video's "
            f"APL (here: {VIDEO_APL_RULE}), so these may differ by definition alone:"
        )
    else:
        verdict = f"; {len(differ)} differ, so this is not (all of) the released benchmark:"
    lines = [head + verdict]
    lines += [
        f"  differs  {c.label:<34} published {c.published:>5}  here {c.observed:>5}" for c in differ
    ]
    lines += [f"  matches  {c.label:<34} {c.published:>5}" for c in matched]
    return lines


def is_complete(comparisons: list[Comparison]) -> bool:
    """True when every stated count matches, video-APL counts aside (their rule is undefined)."""
    return all(c.match or c.key.startswith("videos_per_apl.") for c in comparisons)


_CHARTS: tuple[tuple[str, str], ...] = (
    ("videos_per_scenario", "Videos per scenario"),
    ("videos_per_apl", "Videos per APL (highest action APL)"),
    ("actions_per_type", "Actions: proactive vs reactive"),
    ("actions_per_apl", "Actions per APL"),
)


def _chart_data(stats: DatasetStats, key: str) -> list[tuple[str, int]]:
    values: dict[Any, int] = getattr(stats, key)
    if key == "videos_per_scenario":
        return [(SCENARIO_TITLES[k], v) for k, v in values.items()]
    if key == "actions_per_type":
        return [(k.capitalize(), v) for k, v in values.items()]
    return [(f"APL {k}", v) for k, v in values.items()]


def plot_stats(stats: DatasetStats, out_dir: str | Path) -> list[Path]:
    """Draw Figure 3 (``figure3.png``, four pies) and one PNG per chart; return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.8))
    for ax, (key, title) in zip(axes, _CHARTS, strict=True):
        _pie(ax, _chart_data(stats, key), title)
    fig.suptitle(f"{stats.name}: {stats.num_videos} videos, {stats.num_actions} actions")
    fig.tight_layout()
    paths.append(_save(fig, out / "figure3.png", plt))
    for key, title in _CHARTS:
        fig, ax = plt.subplots(figsize=(5.5, 4.8))
        _pie(ax, _chart_data(stats, key), title)
        fig.tight_layout()
        paths.append(_save(fig, out / f"{key}.png", plt))
    return paths


def _pie(ax: Any, data: list[tuple[str, int]], title: str) -> None:
    shown = [(label, n) for label, n in data if n > 0]
    ax.set_title(title)
    if not shown:
        ax.text(0.5, 0.5, "no data", ha="center", va="center")
        ax.axis("off")
        return
    ax.pie([n for _, n in shown], labels=[f"{label}\n{n}" for label, n in shown], startangle=90,
           autopct="%1.1f%%", pctdistance=0.75, textprops={"fontsize": 8})  # fmt: skip
    ax.axis("equal")


def _save(fig: Any, path: Path, plt: Any) -> Path:
    import io

    from .cache import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
