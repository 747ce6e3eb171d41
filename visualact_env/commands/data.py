"""``visualact data``: validate, import, download, generate and describe datasets.

* ``validate PATH [--predictions P]``: check an annotation file (and its clips) or a prediction
  file against it; one OK line, or every problem and exit status 1.
* ``import visualactbench.json [--out DIR] [--videos DIR] [--map TARGET=SOURCE ...] [--dry-run]``:
  convert the released benchmark's JSON into the native format (``--dry-run``: report only).
* ``download [DIR]``: fetch ``Proactive-LMM/VisualActBench`` from the Hugging Face hub, then
  import it.
* ``generate demo|synthetic-full [--out DIR]``: write the synthetic datasets.
* ``split DATA --val-fraction F --seed S --out DIR``: train/validation annotation files,
  stratified by scenario and balanced in APL, recorded with their fingerprints.
* ``stats [DATA] [--out DIR] [--json]``: the paper's Figure 3 for any dataset, checked against
  the published counts.

Only argparse is imported here; each action imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``data`` and its sub-commands."""
    p = subparsers.add_parser(
        "data",
        help="validate, import, download, generate or describe datasets",
        description="Dataset tools: validate annotation and prediction files, import or download "
        "the released VisualActBench, generate synthetic data, and print its statistics.",
    )
    p.set_defaults(func=lambda args: _no_action(p))
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    _add_validate(sub)
    _add_import(sub)
    _add_download(sub)
    _add_generate(sub)
    _add_stats(sub)
    _add_split(sub)


def _no_action(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _add_validate(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check an annotation file (and clips) or a prediction file",
        description="Validate a native annotation file (every record, and that each clip exists) "
        "and optionally a prediction file against it. Prints one OK line, or every problem with "
        "its file, line and field and exits with status 1.",
    )
    p.add_argument("path", help="annotations.jsonl, a folder holding it, or demo / synthetic-full")
    p.add_argument("--predictions", help="also validate this prediction file against it")
    p.add_argument(
        "--allow-extra", action="store_true", help="predictions for unknown videos are warnings"
    )
    p.add_argument("--no-check-videos", action="store_true", help="do not check that clips exist")
    p.set_defaults(func=run_validate)


def _add_import(sub: Any) -> None:
    p = sub.add_parser(
        "import",
        help="convert the released visualactbench.json into the native format",
        description="Convert the released benchmark's JSON into annotations.jsonl with clip paths "
        "relative to it. The layout is detected (lists of records, dicts keyed by video id, "
        "column-wise arrays, free-text actions, scenario groups at any depth) and every field "
        "chosen by a heuristic is named; check it first with --dry-run, which writes nothing. "
        "Override or pin a choice with --map TARGET=SOURCE, e.g. --map actions.text=action.",
    )
    p.add_argument("json", help="the release's JSON file (visualactbench.json)")
    p.add_argument("--out", help="output folder (default: the folder holding the videos folder)")
    p.add_argument("--videos", help="the clips' folder (default: videos/ next to the JSON file)")
    _add_map(p)
    p.add_argument("--no-check-videos", action="store_true", help="convert without the clips")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing: print the detected layout and field mapping (every heuristic choice "
        "with the --map that overrides it), the first three converted records and the counts "
        "beside the published ones",
    )
    p.set_defaults(func=run_import)


def _add_map(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="TARGET=SOURCE",
        help="name a field the importer cannot detect; TARGET is one of records, video_id, video, "
        "scenario, actions, source, actions.text, actions.apl, actions.proactive; SOURCE is a "
        "key or dotted path, or @key (the key a record is stored under), @stem, @group, "
        "@folder, @value, @text (see --dry-run). Repeatable.",
    )


def _add_download(sub: Any) -> None:
    p = sub.add_parser(
        "download",
        help="download the released benchmark from the Hugging Face hub and import it",
        description="Download the dataset Proactive-LMM/VisualActBench with huggingface_hub, "
        "then import it as 'visualact data import' does.",
    )
    p.add_argument(
        "dir", nargs="?", help="where to put it (default: <cache>/datasets/visualactbench)"
    )
    p.add_argument("--revision", help="a branch, tag or commit of the dataset repository")
    _add_map(p)
    p.set_defaults(func=run_download)


def _add_generate(sub: Any) -> None:
    p = sub.add_parser(
        "generate",
        help="write the synthetic demo or full-size dataset",
        description="Generate a synthetic dataset: 'demo' (16 clips) or 'synthetic-full' (the "
        "paper's counts, 1,074 clips). Prints the annotation file's path.",
    )
    p.add_argument("kind", choices=["demo", "synthetic-full"])
    p.add_argument("--out", help="output folder (default: in the cache)")
    p.add_argument("--num-videos", type=int, default=None, help="synthetic-full only: size")
    p.add_argument("--seed", type=int, default=0, help="synthetic-full only: seed (default: 0)")
    p.add_argument("--no-videos", action="store_true", help="synthetic-full only: annotations only")
    p.set_defaults(func=run_generate)


def _add_stats(sub: Any) -> None:
    p = sub.add_parser(
        "stats",
        help="the paper's Figure 3 for a dataset, checked against the published counts",
        description="Count videos per scenario, videos per APL (a video's APL is the highest APL "
        "among its actions), actions proactive vs reactive and actions per APL; say which of the "
        "paper's published counts the data matches. --out also draws the charts as PNG files.",
    )
    p.add_argument(
        "data", nargs="?", default="demo", help="demo, synthetic-full or a path (default: demo)"
    )
    p.add_argument("--out", help="folder for the PNG charts (figure3.png and one per chart)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_stats)


# --- actions ------------------------------------------------------------------------------------


def _print_problems(error: Any) -> None:
    problems = error.problems
    noun = "problem" if len(problems) == 1 else "problems"
    print(f"{len(problems)} {noun} found:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)


def run_validate(args: argparse.Namespace) -> int:
    """Validate annotations (and clips), then predictions; exit 1 listing every problem."""
    from ..datasets import resolve_annotations
    from ..loading import DataError, parse_annotations, parse_predictions

    check = not args.no_check_videos
    try:
        path = resolve_annotations(args.path, with_videos=check)
        bench = parse_annotations(path, check_videos=check)
    except DataError as e:
        _print_problems(e)
        return 1
    clips = "clips present" if check else "clips not checked"
    print(
        f"OK {path}: {len(bench)} videos, {bench.num_actions} actions, "
        f"scenarios {','.join(bench.scenarios)}, {clips}, fingerprint {bench.fingerprint}"
    )
    if not args.predictions:
        return 0
    warnings: list[str] = []
    try:
        preds = parse_predictions(
            args.predictions, bench, allow_extra=args.allow_extra, warnings=warnings
        )
    except DataError as e:
        _print_problems(e)
        return 1
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    covered = len({p.video_id for p in preds})
    failed = sum(p.failed for p in preds)
    print(
        f"OK {args.predictions}: {len(preds)} records for {covered} of {len(bench)} videos, "
        f"{failed} failed, {len(warnings)} ignored"
    )
    return 0


def _describe_import(result: Any) -> None:
    from ..data_stats import compare_published, compute_stats, format_comparison

    bench = result.benchmark
    print(
        f"wrote {result.annotation_path}: {len(bench)} videos, {bench.num_actions} actions, "
        f"fingerprint {bench.fingerprint}"
    )
    print("fields used: " + ", ".join(f"{t}<-{s}" for t, s in sorted(result.detected.items())))
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    lines = format_comparison(compare_published(compute_stats(bench)))
    print("\n".join(line for line in lines if not line.lstrip().startswith("matches")))


def _field_map(items: list[str]) -> dict[str, str] | None:
    from ..importer import parse_field_map

    try:
        return parse_field_map(items)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return None


def run_import(args: argparse.Namespace) -> int:
    """Convert the release JSON; DataError (with the --map help) propagates to the CLI."""
    from ..importer import format_plan, import_release, plan_import

    fmap = _field_map(args.map)
    if fmap is None:
        return 2
    if args.dry_run:
        plan = plan_import(
            args.json, args.out, args.videos, fmap, check_videos=not args.no_check_videos
        )
        print(format_plan(plan))
        return 1 if plan.problems else 0
    result = import_release(
        args.json, args.out, args.videos, fmap, check_videos=not args.no_check_videos
    )
    _describe_import(result)
    return 0


def run_download(args: argparse.Namespace) -> int:
    """Download then import; a hub failure is a DownloadError with a clear message."""
    from ..importer import download

    fmap = _field_map(args.map)
    if fmap is None:
        return 2
    _describe_import(download(args.dir, revision=args.revision, field_map=fmap))
    return 0


def run_generate(args: argparse.Namespace) -> int:
    """Write a synthetic dataset and print its annotation path."""
    from .. import demo

    if args.kind == "demo":
        if args.num_videos is not None or args.no_videos:
            print(
                "error: --num-videos and --no-videos apply to synthetic-full only", file=sys.stderr
            )
            return 2
        path = demo.generate_demo(root=args.out)
    else:
        kwargs: dict[str, Any] = {"seed": args.seed, "with_videos": not args.no_videos}
        if args.num_videos is not None:
            kwargs["num_videos"] = args.num_videos
        path = demo.generate_synthetic(root=args.out, **kwargs)
    print(path)
    return 0


def run_stats(args: argparse.Namespace) -> int:
    """Print the dataset's composition and the published-count check; draw PNGs with --out."""
    from ..data_stats import compare_published, compute_stats, format_table, is_complete, plot_stats
    from ..datasets import load_benchmark

    stats = compute_stats(load_benchmark(args.data, check_videos=False))
    comparisons = compare_published(stats)
    charts = [str(p) for p in plot_stats(stats, args.out)] if args.out else []
    if args.json:
        doc = {
            "stats": stats.to_dict(),
            "published": [c.to_dict() for c in comparisons],
            "matches_published": is_complete(comparisons),
            "charts": charts,
        }
        print(json.dumps(doc, indent=2))
        return 0
    print(format_table(stats, comparisons))
    if charts:
        print("charts: " + ", ".join(charts))
    return 0


def _add_split(sub: Any) -> None:
    p = sub.add_parser(
        "split",
        help="write train and validation annotation files (stratified, recorded)",
        description="Cut a benchmark into train.jsonl and val.jsonl, stratified by scenario and "
        "balanced in APL as far as the counts allow, deterministic for a seed. split.json records "
        "the seed, the fraction, the fingerprints and the video ids of each part. Example: "
        "visualact data split demo --val-fraction 0.25 --seed 0 --out splits/demo",
    )
    p.add_argument("data", help="demo, synthetic-full, or an annotation .jsonl / folder")
    p.add_argument(
        "--val-fraction", type=float, default=0.2, help="share of videos in val (default: 0.2)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default: 0)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run_split)


def run_split(args: argparse.Namespace) -> int:
    from ..datasets import load_benchmark
    from ..loading import DataError
    from ..splits import split_benchmark, write_split

    try:
        benchmark = load_benchmark(args.data)
        split = split_benchmark(benchmark, args.val_fraction, args.seed)
        out = write_split(benchmark, split, args.out)
    except DataError as e:
        print(str(e), file=sys.stderr)
        return 1
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"{out}: train {len(split.train)} videos, val {len(split.val)} videos "
        f"(seed {split.seed}, stratified by scenario and APL); see {out / 'split.json'}"
    )
    return 0
