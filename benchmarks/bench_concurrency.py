"""How close the OpenAI agent gets to ideal concurrency against a slow server.

Sends ``--requests`` requests (default 500), each with ``--frames`` small frames (8 of 112x112,
as real JPEG image parts), through :class:`visualact_agents.openai_agent.OpenAIAgent` (real ``openai``
client, real HTTP) to the local :class:`FakeOpenAIServer` with ``--latency`` seconds of
simulated latency per request (default 0.2) at ``--concurrency`` requests in flight (default
32). Prints the measured wall time, the ideal time ``ceil(requests / concurrency) * latency``
(500 / 32 x 0.2 s = 3.125 s when requests divide evenly; 3.2 s with whole waves) and their
ratio; the target is at most 1.25x the ideal.

    python benchmarks/bench_concurrency.py [--requests 500] [--latency 0.2] [--concurrency 32]

The response cache is off, so every request reaches the server. On a busy machine each
request also waits for CPU wake-ups (server thread, client loop), a roughly fixed cost per
request that weighs more at short latencies: compare ``--latency 1.0``. The printed client and
server CPU times tell a CPU-starved run from a slow client. Figures vary with machine
load. The server runs in a child process by default (as a real server would: the agent's
client does not share its interpreter); ``--in-process`` puts both in one process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any


def video_like_frames(seed: int, n: int, size: int) -> Any:
    """Frames that compress like video (a lit background, a moving box, mild sensor noise):
    pixel noise would make every JPEG several times bigger and slower than a real frame's."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = rng.uniform(40, 200, 3).astype(np.float32)
    frames = np.empty((n, size, size, 3), np.uint8)
    for t in range(n):
        img = base + 50 * np.stack([x, y, (x + y) / 2], axis=-1)
        top, left = int((t / max(n, 1)) * size * 0.6), int(size * 0.2)
        img[top : top + size // 4, left : left + size // 3] = rng.uniform(0, 255, 3)
        img += rng.normal(0, 3, img.shape)
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


@contextlib.contextmanager
def serve(args: argparse.Namespace) -> Iterator[tuple[str, Callable[[], dict]]]:
    """The fake server, in this process or (default) in a child process; yields its URL and a
    function returning its counters."""
    if args.in_process:
        from visualact_env.testing import FakeOpenAIServer

        with FakeOpenAIServer(latency=args.latency, max_lifetime=600) as server:
            yield server.base_url, server.stats
        return
    cmd = [sys.executable, "-m", "visualact_env.testing.fake_openai_server", "--port", "0"]
    cmd += ["--latency", str(args.latency), "--lifetime", "600"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"(http://\S+/v1)", line)
        if not match:
            raise RuntimeError(f"the server did not start: {line!r}")
        url = match.group(1)

        def stats() -> dict:
            with urllib.request.urlopen(f"{url}/_stats", timeout=10) as response:
                return json.loads(response.read())

        yield url, stats
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112, help="frame height and width")
    parser.add_argument("--target", type=float, default=1.25)
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the server in this process (default: a separate process, like a real server)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("VISUALACT_CACHE_DIR", tempfile.mkdtemp(prefix="visualact-bench-"))

    from visualact_agents.openai_agent import OpenAIAgent

    videos = [
        {"frames": video_like_frames(i, args.frames, args.size)} for i in range(args.requests)
    ]
    infos = [{"video_id": f"v{i}"} for i in range(args.requests)]

    with serve(args) as (base_url, stats):
        agent = OpenAIAgent(
            "fake-vlm",
            base_url=base_url,
            api_key="EMPTY",
            concurrency=args.concurrency,
            cache=False,
        )
        try:
            agent.act(videos[0], infos[0])  # warm-up: client, event loop, connection
            server_cpu_start = stats()["process_cpu_s"]
            start, cpu_start = time.perf_counter(), time.process_time()
            outs = agent.act_batch(videos, infos)
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
        finally:
            agent.close()
        after = stats()
        max_in_flight, server_cpu = (
            after["max_in_flight"],
            after["process_cpu_s"] - server_cpu_start,
        )

    failed = sum(o.failed for o in outs)
    waves = -(-args.requests // args.concurrency)
    ideal = args.requests / args.concurrency * args.latency
    ideal_waves = waves * args.latency
    ratio = wall / ideal if ideal else float("inf")
    print(f"requests           {args.requests} ({args.frames} frames of {args.size}x{args.size})")
    print(f"latency            {args.latency:.3f} s per request (simulated)")
    print(f"concurrency        {args.concurrency} (server saw at most {max_in_flight} in flight)")
    print(f"failed             {failed}")
    print(f"measured wall      {wall:.3f} s  ({args.requests / wall:.1f} requests/s)")
    print(f"client CPU time    {cpu:.3f} s  ({cpu / args.requests * 1000:.2f} ms per request)")
    if not args.in_process:
        print(f"server CPU time    {server_cpu:.3f} s  (the fake server's own process)")
    print(f"machine load       {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} cores)")
    print(f"ideal              {ideal:.3f} s  (requests / concurrency x latency)")
    print(f"ideal, whole waves {ideal_waves:.3f} s  ({waves} waves)")
    print(
        f"ratio              {ratio:.3f}x ideal  (target <= {args.target}x): "
        + ("OK" if ratio <= args.target else "ABOVE TARGET")
    )
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
