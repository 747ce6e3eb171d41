"""One process vs two under torchrun, and static vs dynamic hand-out on a skewed workload.

Runs ``visualact eval`` over the demo's clips with :class:`SpinAgent`, a deterministic agent
that burns ``--cpu`` seconds of CPU and then waits ``--latency`` seconds per answer (a stand-in
for a model whose compute runs elsewhere: a GPU or a server), in five launches:

* uniform work (``--samples`` answers per video, 4 by default: 64 tasks): one process, then two
  under ``torchrun --nproc_per_node 2`` (dynamic hand-out);
* skewed work (one answer per video; four videos cost ten times more): one process, then two
  processes with static hand-out (every 2nd task: the split peers use) and with dynamic
  hand-out.

The slow videos are the benchmark's 1st, 3rd, 5th and 7th: all in one rank's static share, as
happens when long clips sit together. Throughput is answers per second of the
working phase (``config.json`` ``launches[-1].wall_s``: from the plan to the last answer, start-up
and reports excluded); the total wall time of each command is printed beside it. Each two-
process run's predictions are checked equal to its one-process run (exit 1 if not). The goal
is >= 1.8x for two processes on the uniform workload; a busy machine (other processes on the
two cores) lowers it: the printed ``load`` is the 1-minute load average before each run.

    python benchmarks/bench_distributed.py [--cpu 0.01] [--latency 0.1] [--samples 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from visualact_env.agent import Agent, AgentOutput
from visualact_env.records import Action

HERE = Path(__file__).resolve().parent


class SpinAgent(Agent):
    """Deterministic answers after ``$SPIN_CPU`` seconds of CPU and ``$SPIN_LATENCY`` seconds of
    waiting per answer (ten times both for the video ids listed in ``$SPIN_SLOW``); loaded as
    ``py:bench_distributed:SpinAgent``."""

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        self.cpu = float(os.environ.get("SPIN_CPU", "0.01"))
        self.latency = float(os.environ.get("SPIN_LATENCY", "0.1"))
        self.slow = set(filter(None, os.environ.get("SPIN_SLOW", "").split(",")))
        self.spec = "py:bench_distributed:SpinAgent"
        self._truth: dict[str, Any] = {}

    def setup(self, benchmark: Any, sampler: Any) -> None:
        self._truth = {r.video_id: r.actions for r in benchmark}

    def act(self, observation: Any, info: Any) -> AgentOutput:
        vid = info["video_id"]
        scale = 10 if vid in self.slow else 1
        end = time.process_time() + self.cpu * scale
        while time.process_time() < end:  # CPU work
            sum(i * i for i in range(2000))
        time.sleep(self.latency * scale)  # the model's time elsewhere
        level = int(observation["frames"].mean()) % 5
        acts = tuple(Action(a.text, level, a.proactive) for a in self._truth[vid][::2])
        return AgentOutput(actions=acts, raw_text=f"{len(acts)} actions")

    def config(self) -> dict[str, Any]:
        return {"spec": self.spec, "deterministic": True}


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def run(
    out: Path, processes: int, hand_out: str, samples: int, env: dict[str, str]
) -> dict[str, Any]:
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
        if processes > 1
        else [sys.executable]
    )
    cmd = [
        *launcher,
        "-m",
        "visualact_env",
        "eval",
        "--agent",
        "py:bench_distributed:SpinAgent",
        "--out",
        str(out),
        "--samples",
        str(samples),
        "--hand-out",
        hand_out,
        "--no-html",
        "--no-progress",
    ]
    load = _load()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    total = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    launch = json.loads((out / "config.json").read_text())["launches"][-1]
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("latency_s", None)
    return {"launch": launch, "total_s": total, "load": load, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=float, default=0.01, help="CPU seconds per answer")
    parser.add_argument("--latency", type=float, default=0.1, help="waiting seconds per answer")
    parser.add_argument("--samples", type=int, default=4, help="answers per demo video")
    args = parser.parse_args(argv)

    from visualact_env.datasets import load_benchmark

    ids = load_benchmark("demo").video_ids
    slow = [ids[i] for i in (0, 2, 4, 6)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env["SPIN_CPU"], env["SPIN_LATENCY"] = str(args.cpu), str(args.latency)
    plans = [
        ("uniform", 1, "dynamic", "", args.samples),
        ("uniform", 2, "dynamic", "", args.samples),
        ("skewed", 1, "dynamic", ",".join(slow), 1),
        ("skewed", 2, "static", ",".join(slow), 1),
        ("skewed", 2, "dynamic", ",".join(slow), 1),
    ]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (work, n, hand_out, slow_ids, samples) in enumerate(plans):
            res = run(Path(tmp) / f"run{i}", n, hand_out, samples, env | {"SPIN_SLOW": slow_ids})
            results.append((work, n, hand_out, res))

    print(
        f"SpinAgent: {args.cpu:g} s CPU + {args.latency:g} s waiting per answer (x10 for "
        f"{len(slow)} videos when skewed); {len(ids)} demo videos ({args.samples} samples each "
        f"when uniform, 1 when skewed); {os.cpu_count()} cores"
    )
    header = (
        f"{'workload':8}  {'procs':>5}  {'hand-out':8}  {'answers':>7}  {'work s':>7}  "
        f"{'answers/s':>9}  {'speed-up':>8}  {'slowest/fastest rank s':>22}  {'total s':>7}  "
        f"{'load':>5}"
    )
    print(header)
    print("-" * len(header))
    base: dict[str, float] = {}
    ok = True
    single_rows: dict[str, list[dict[str, Any]]] = {}
    for work, n, hand_out, res in results:
        launch = res["launch"]
        rate = float(launch["videos_per_s"])
        if n == 1:
            base[work], single_rows[work] = rate, res["rows"]
        elif res["rows"] != single_rows[work]:
            ok = False
            print(f"MISMATCH: {work} {n} processes {hand_out}: predictions differ from 1 process")
        ranks = sorted(float(r["work_s"]) for r in launch["ranks"])
        spread = f"{ranks[-1]:.1f} / {ranks[0]:.1f}" if n > 1 else "-"
        print(
            f"{work:8}  {n:>5}  {hand_out if n > 1 else '-':8}  {launch['videos']:>7}  "
            f"{launch['wall_s']:>7.2f}  {rate:>9.2f}  {rate / base[work]:>7.2f}x  "
            f"{spread:>22}  {res['total_s']:>7.1f}  {res['load']:>5.1f}"
        )
    uniform = results[1][3]["launch"]["videos_per_s"] / base["uniform"]
    static, dynamic = (r[3]["launch"]["wall_s"] for r in results[3:5])
    print(
        f"two processes vs one (uniform): {uniform:.2f}x (goal >= 1.8x: "
        f"{'PASS' if uniform >= 1.8 else 'MISS'}); skewed work, dynamic vs static hand-out: "
        f"{static / dynamic:.2f}x faster"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
