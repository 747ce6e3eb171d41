"""Speed of the VisualAct environments, in one run.

1. ``VisualAct-v0`` episodes per second (``reset`` + ``step``) with warm frame and embedding
   caches, on the demo benchmark with the default observation (8 frames of 224x224): the raw
   class and through ``gym.make`` (Gymnasium's checker and order-enforcing wrappers). Target: at
   least 500 episodes/s.
2. The native vector environment on *fresh* proposal texts (never embedded before), against the
   embedder alone on the same number and kind of texts in the same batch sizes: the ratio says
   what the environment adds on top of embedding. Steps are interleaved (one embedder batch,
   then one vector-environment step) so that load from other processes hits both alike. Target:
   the environment adds at most 25 %.

    python benchmarks/bench_env.py                      # defaults: 3000 episodes, 8 envs x 4 texts, 30 steps
    python benchmarks/bench_env.py --episodes 500 --steps 10   # a quick look

The run uses a fresh temporary cache folder (``--cache-dir`` to choose one), so that the
thousands of random texts it embeds do not land in your cache and "cold" really means cold.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

import numpy as np

VERBS = (
    "Move",
    "Check",
    "Close",
    "Open",
    "Clean",
    "Report",
    "Secure",
    "Inspect",
    "Turn off",
    "Remove",
)
THINGS = ("the cup", "the door", "the stove", "the cable", "the window", "the ladder", "the bag")
PLACES = ("near the table", "by the stairs", "in the kitchen", "on the road", "at the entrance")


def fresh_text(rng: np.random.Generator) -> str:
    """A sentence-like action text that no cache has seen (a random tag makes it unique)."""
    verb, thing, place = rng.choice(VERBS), rng.choice(THINGS), rng.choice(PLACES)
    return f"{verb} {thing} {place} before step {uuid.uuid4().hex[:8]}."


def proposals_for(record, rng: np.random.Generator) -> list[dict]:
    """A fixed, plausible proposal list for a video: two of its actions reworded, one distractor."""
    out = [
        {"text": "Please " + a.text[0].lower() + a.text[1:], "apl": int(a.apl), "proactive": 1}
        for a in record.actions[:2]
    ]
    out.append({"text": "Keep observing the scene.", "apl": 0, "proactive": 0})
    return out


def bench_single(episodes: int) -> None:
    import gymnasium as gym

    import visualact_env  # noqa: F401
    from visualact_env.envs.visualact import VisualActEnv

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    env = VisualActEnv()
    built = time.perf_counter() - t0
    plans = {r.video_id: proposals_for(r, rng) for r in env.benchmark}
    t0 = time.perf_counter()
    for _ in range(len(env.benchmark)):  # warm-up pass: frames decoded, texts embedded
        _, info = env.reset()
        env.step(plans[info["video_id"]])
    warm = time.perf_counter() - t0
    print(
        f"single env: built in {built:.2f} s, warm-up pass over {len(env.benchmark)} videos {warm:.2f} s"
    )
    shape = env.observation_space["frames"].shape
    print(f"  observation frames {shape} uint8 ({np.prod(shape) / 2**20:.2f} MiB)")

    wrapped = gym.make("VisualAct-v0")
    wrapped.reset(seed=0)
    for label, e in (("VisualActEnv (unwrapped)", env), ('gym.make("VisualAct-v0")', wrapped)):
        reset_s = step_s = 0.0
        e.reset(seed=0)
        for _ in range(episodes):
            t0 = time.perf_counter()
            _, info = e.reset()
            t1 = time.perf_counter()
            e.step(plans[info["video_id"]])
            t2 = time.perf_counter()
            reset_s += t1 - t0
            step_s += t2 - t1
        total = reset_s + step_s
        print(
            f"  {label:28s} {episodes / total:8.0f} episodes/s  "
            f"(reset {1e6 * reset_s / episodes:6.0f} us, step {1e6 * step_s / episodes:6.0f} us)"
        )


def bench_vector(num_envs: int, per_env: int, steps: int) -> None:
    from visualact_env.envs.scoring import shared_embedder
    from visualact_env.envs.vector import VisualActVectorEnv

    rng = np.random.default_rng(1)
    embedder = shared_embedder()
    embedder.encode([fresh_text(rng)])  # load the model outside the timings
    envs = VisualActVectorEnv(num_envs=num_envs, autoreset_mode="SameStep")
    envs.reset(seed=0)
    for _ in range(len(envs.benchmark) // num_envs + 1):  # frames warm
        envs.step([[] for _ in range(num_envs)])

    embed_s = env_s = 0.0
    texts = 0
    for _ in range(steps):
        batch = [fresh_text(rng) for _ in range(num_envs * per_env)]
        t0 = time.perf_counter()
        embedder.encode(batch)
        embed_s += time.perf_counter() - t0
        actions = [
            [{"text": fresh_text(rng), "apl": 2, "proactive": 1} for _ in range(per_env)]
            for _ in range(num_envs)
        ]
        t0 = time.perf_counter()
        envs.step(actions)
        env_s += time.perf_counter() - t0
        texts += len(batch)
    print(
        f"vector env, {num_envs} envs x {per_env} fresh texts per step, {steps} steps "
        f"({texts} texts each side):"
    )
    print(
        f"  embedder alone   {texts / embed_s:8.0f} texts/s  ({1e3 * embed_s / steps:7.1f} ms per batch)"
    )
    print(
        f"  vector env step  {texts / env_s:8.0f} texts/s  ({1e3 * env_s / steps:7.1f} ms per step, "
        f"{num_envs * steps / env_s:.0f} episodes/s)"
    )
    print(
        f"  ratio env/embedder: {env_s / embed_s:.3f} (the environment adds {100 * (env_s / embed_s - 1):+.1f} %)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--per-env", type=int, default=4, help="fresh proposal texts per sub-env")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--cache-dir", help="cache folder to use (default: a fresh temporary one)")
    args = parser.parse_args()
    tmp = None
    if args.cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-env-")
        args.cache_dir = tmp.name
    os.environ["VISUALACT_CACHE_DIR"] = args.cache_dir
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"cache folder: {args.cache_dir}")
    bench_single(args.episodes)
    bench_vector(args.num_envs, args.per_env, args.steps)


if __name__ == "__main__":
    main()
