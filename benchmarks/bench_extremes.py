"""Inputs far beyond anything real: wall time and peak memory per case, old code beside new.

Run: ``python benchmarks/bench_extremes.py [--old REV] [--cases NAME,...] [--workdir DIR]``

Each case runs the real command (``visualact score``, ``data validate``, ``eval``) or a short
Python snippet (the environment, ``sample_frames``) in a fresh process, with a fresh embedding
cache, and reports its exit code, wall time, peak resident memory (``wait4``) and the last line
it printed. With ``--old REV`` every case runs first on that git revision's code (extracted with
``git archive``) and then on this tree's, side by side. A process growing past ``--mem-limit-gb``
(default 8) is killed and so reported, as is one running past ``--timeout`` (default 300 s).

The inputs (``visualact_env/limits.py`` states the bounds): a prediction line holding a 100 MB
action text (over jsonio's 16 MiB line limit), one holding a 15 MB text (under it), a release
JSON for ``data import`` with a 100 MB action text, 10,000
ground-truth actions in one video against 1 or 10,000 predicted ones, the action-count limit
itself (128 x 128), the environment on the 10,000-action video, and a real 7680x4320 H.264 clip
(8 frames, about 8 MB) through ``sample_frames`` (both decoders; the default 224x224, and 32
frames at the clip's own size) and ``visualact eval --agent retrieval``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    code: str
    wall: float
    peak_mb: float
    last: str


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run(
    cmd: list[str], env: dict[str, str], timeout: float, mem_limit_kb: int, cwd: Path
) -> Result:
    """Run ``cmd``; exit code (or why it was killed), wall time, peak RSS, last output line.

    ``cwd`` must not hold a ``visualact_env`` folder (``python -m`` puts it first on the path).
    The peak is ``wait4``'s, which starts from this process's own size at the fork: keep this
    process small (the inputs are made in a child of their own)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        killed = ""
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - start
            if not killed and elapsed > timeout:
                killed = f"killed after {timeout:.0f} s"
            elif not killed and _rss_kb(proc.pid) > mem_limit_kb:
                killed = f"killed above {mem_limit_kb / 2**20:.0f} GB"
            if killed:
                os.kill(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = [ln for ln in out.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    last = lines[-1].strip() if lines else ""
    code = killed or str(proc.returncode)
    return Result(code, wall, usage.ru_maxrss / 1024, last)


# --------------------------------------------------------------------------------------------
# inputs


def write_8k_clip(path: Path, width: int = 7680, height: int = 4320, frames: int = 8) -> Path:
    """A real H.264 clip at 8K: a coarse gradient and a moving white bar (one frame at a time)."""
    import av

    if path.is_file():
        return path
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.time_base = Fraction(1, 8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "28", "preset": "ultrafast", "threads": "2"}
        yy, xx = np.mgrid[0:height:8, 0:width:8]
        for i in range(frames):
            small = np.stack(
                [(xx // 8 + 9 * i) % 256, (yy // 8 + 5 * i) % 256, np.full_like(xx, 40 * i % 256)],
                axis=-1,
            ).astype(np.uint8)
            frame = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
            x = (width // 10 * i) % (width - 800)
            frame[height // 3 : height // 2, x : x + 800] = 255
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, 8)
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path


def make_inputs(work: Path) -> dict[str, Path]:
    """Every input file, written once into ``work`` (reused by later runs)."""
    from visualact_env.demo import generate_demo

    demo = Path(generate_demo())
    records = [json.loads(ln) for ln in demo.read_text().splitlines() if ln.strip()]
    first = records[0]
    (work / "videos").mkdir(exist_ok=True)
    for r in records:
        link = work / r["video"]
        if not link.exists():
            link.symlink_to(demo.parent / r["video"])
    files: dict[str, Path] = {}

    def jsonl(name: str, rows: list[dict]) -> Path:
        path = work / name
        if not path.is_file():
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        files[name] = path
        return path

    def acts(n: int, stem: str, apl_step: int = 1) -> list[dict]:
        words = ["check", "stop", "call", "move", "open", "close", "warn", "help", "clean"]
        return [
            {
                "text": f"{words[i % 9]} the {stem} {i} {words[(i * 7) % 9]} now",
                "apl": (i * apl_step) % 5,
                "proactive": bool(i % 2),
            }
            for i in range(n)
        ]

    vid = first["video_id"]
    jsonl("ann_1video.jsonl", [first])
    jsonl("ann_10k.jsonl", [{**first, "actions": acts(10_000, "thing")}])
    jsonl("ann_128.jsonl", [{**first, "actions": acts(128, "thing")}])
    jsonl("pred_small.jsonl", [{"video_id": vid, "actions": acts(1, "item")}])
    jsonl("pred_10k.jsonl", [{"video_id": vid, "actions": acts(10_000, "item", 3)}])
    jsonl("pred_128.jsonl", [{"video_id": vid, "actions": acts(128, "item", 3)}])
    for name, size in (("pred_100mb.jsonl", 100 << 20), ("pred_15mb.jsonl", 15 << 20)):
        path = work / name
        if not path.is_file():
            text = ("help the person now " * (size // 20 + 1))[:size]
            row = {"video_id": vid, "actions": [{"text": text, "apl": 2, "proactive": True}]}
            path.write_text(json.dumps(row) + "\n", encoding="utf-8")
        files[name] = path
    release = work / "release_100mb.json"
    if not release.is_file():  # the importer's fixture with one 100 MB action text
        fixture = ROOT / "tests" / "fixtures" / "import" / "list_of_records.json"
        rows = json.loads(fixture.read_text(encoding="utf-8"))
        rows[1]["actions"][0]["action"] = "wipe " * (20 << 20)
        release.write_text(json.dumps(rows), encoding="utf-8")
    files["release_100mb.json"] = release
    clip = write_8k_clip(work / "videos" / "clip8k.mp4")
    files["clip8k"] = clip
    eight_k = {**records[3], "video_id": "clip8k", "video": "videos/clip8k.mp4"}
    jsonl("ann_8k.jsonl", [*records[:3], eight_k])
    return files


ENV_SNIPPET = """
import sys
from visualact_env.envs.visualact import VisualActEnv
env = VisualActEnv(dataset=sys.argv[1])
env.reset()
props = [{"text": f"stop the item {i} now", "apl": i % 5, "proactive": 1} for i in range(32)]
print("reward", env.step(props)[1])
"""

FRAMES_SNIPPET = """
import sys
from visualact_env.frames import SamplerConfig, sample_frames
size = None if sys.argv[3] == "native" else (224, 224)
config = SamplerConfig(num_frames=int(sys.argv[4]), size=size, backend=sys.argv[2])
print("frames", sample_frames(sys.argv[1], config, cache=False).shape)
"""


def cases(files: dict[str, Path], work: Path) -> dict[str, list[str]]:
    """Case name -> the command's arguments after ``python``."""
    va = ["-m", "visualact_env"]

    def score(ann: str, pred: str) -> list[str]:
        return [*va, "score", "--annotations", str(files[ann]), "--predictions", str(files[pred])]

    clip = str(files["clip8k"])
    return {
        "score: 100 MB text (one line)": score("ann_1video.jsonl", "pred_100mb.jsonl"),
        "score: 15 MB text": score("ann_1video.jsonl", "pred_15mb.jsonl"),
        "data import: 100 MB text": [
            *va,
            "data",
            "import",
            str(files["release_100mb.json"]),
            "--no-check-videos",
            "--out",
            str(work / "imported"),
        ],  # fmt: skip
        "validate: 10,000 x 10,000 actions": [
            *va,
            "data",
            "validate",
            str(files["ann_10k.jsonl"]),
            "--no-check-videos",
            "--predictions",
            str(files["pred_10k.jsonl"]),
        ],  # fmt: skip
        "score: 10,000 gt x 1 pred": score("ann_10k.jsonl", "pred_small.jsonl"),
        "score: 10,000 gt x 10,000 pred": score("ann_10k.jsonl", "pred_10k.jsonl"),
        "score: 128 gt x 128 pred (limit)": score("ann_128.jsonl", "pred_128.jsonl"),
        "env: 10,000 gt, step 32": ["-c", ENV_SNIPPET, str(files["ann_10k.jsonl"])],
        "frames: 8K, 8 x 224x224, decord": ["-c", FRAMES_SNIPPET, clip, "decord", "224", "8"],
        "frames: 8K, 8 x 224x224, pyav": ["-c", FRAMES_SNIPPET, clip, "pyav", "224", "8"],
        "frames: 8K, 32 x native, pyav": ["-c", FRAMES_SNIPPET, clip, "pyav", "native", "32"],
        "eval retrieval: 3 demo + 8K clip": [
            *va,
            "eval",
            "--agent",
            "retrieval",
            "--data",
            str(files["ann_8k.jsonl"]),
            "--out",
            str(work / "run8k"),
            "--overwrite",
            "--no-progress",
            "--no-html",
        ],  # fmt: skip
    }


def extract(rev: str, dest: Path) -> Path:
    """``rev``'s ``visualact_env`` and ``agents`` under ``dest`` (with the agents shim)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "visualact_env", "agents"],
        check=True,
        capture_output=True,
    ).stdout
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    shim = dest / ".pyshim"
    shim.mkdir(exist_ok=True)
    if not (shim / "visualact_agents").exists():
        (shim / "visualact_agents").symlink_to(dest / "agents")
    return dest


def tree_env(tree: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{tree}:{tree / '.pyshim'}"
    env["VISUALACT_CACHE_DIR"] = str(cache)
    return env


def fresh_cache(base: Path, name: str) -> Path:
    """An empty cache, except the exported ONNX graph of the default cache (if any), so no case
    pays for the export."""
    cache = base / name
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    default = Path(os.environ.get("VISUALACT_CACHE_DIR", Path.home() / ".cache" / "visualact"))
    if (default / "onnx").is_dir():
        (cache / "onnx").symlink_to(default / "onnx")
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", metavar="REV", help="also run every case on this git revision")
    parser.add_argument("--cases", help="comma-separated substrings of case names to run")
    parser.add_argument("--workdir", type=Path, help="keep the inputs here (default: temporary)")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--mem-limit-gb", type=float, default=8.0)
    parser.add_argument("--make-inputs", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-extremes-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.make_inputs:  # in a child process, so that this one stays small
        sys.path.insert(0, str(ROOT))
        print(json.dumps({k: str(v) for k, v in make_inputs(work).items()}))
        return
    made = subprocess.run(
        [sys.executable, __file__, "--make-inputs", "--workdir", str(work)],
        check=True,
        capture_output=True,
        text=True,
    )
    files = {k: Path(v) for k, v in json.loads(made.stdout.splitlines()[-1]).items()}
    trees = [("new", ROOT)]
    if args.old:
        trees.insert(0, (f"old {args.old}", extract(args.old, work / "old-tree")))
    chosen = cases(files, work)
    if args.cases:
        wanted = [w.strip() for w in args.cases.split(",")]
        chosen = {k: v for k, v in chosen.items() if any(w in k for w in wanted)}
    limit_kb = int(args.mem_limit_gb * 2**20)
    print(f"inputs in {work}; timeout {args.timeout:.0f} s, memory limit {args.mem_limit_gb:g} GB")
    print("| case | code | exit | wall s | peak MB | last line |\n|---|---|---|---|---|---|")
    for name, argv in chosen.items():
        for label, tree in trees:
            cache = fresh_cache(work / "caches", label.split()[0])
            res = run([sys.executable, *argv], tree_env(tree, cache), args.timeout, limit_kb, work)
            last = res.last if len(res.last) <= 110 else res.last[:107] + "..."
            last = last.replace(str(work) + "/", "").replace("|", "/")
            print(f"| {name} | {label} | {res.code} | {res.wall:.1f} | {res.peak_mb:,.0f} | {last} |")  # fmt: skip
            sys.stdout.flush()


if __name__ == "__main__":
    main()
