"""Several OpenAI-compatible servers for one model: load spread, a dead server out of rotation,
its return. Real HTTP to fake servers on 127.0.0.1, killed mid-run as a crashed server dies."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from visualact_agents.openai_agent import OpenAIAgent
from visualact_agents.servers import ServerPool, split_urls

from visualact_env.runner import EvalConfig, run_eval
from visualact_env.testing import FakeOpenAIServer

# ---------------------------------------------------------------------------------------------
# The pool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_requests_go_to_the_least_loaded_live_server_and_a_dead_one_returns_after_its_wait():
    clock = Clock()
    pool = ServerPool(["http://a/v1", "http://b/v1"], str, down_base=2.0, clock=clock)
    a, b = pool.servers
    first, second, third = pool.acquire(), pool.acquire(), pool.acquire()
    assert (first, second, third) == (a, b, a)  # fewest in flight, then fewest sent
    assert pool.release(b, answered=False).startswith("server http://b/v1 did not answer")
    assert [pool.acquire() for _ in range(3)] == [a, a, a]  # b out of rotation
    clock.now += 1.9
    assert pool.acquire() is a
    clock.now += 0.2  # b's 2 s are over: tried again
    assert pool.acquire() is b
    assert pool.release(b, answered=False)  # still dead: out for 4 s now
    clock.now += 3.9
    assert b not in pool.up()
    clock.now += 0.2
    probe = pool.acquire()
    assert probe is b and "back in rotation" in pool.release(b, answered=True)
    assert pool.stats()[1] == {
        "url": "http://b/v1",
        "requests": 3,
        "answered": 1,
        "failures": 2,
        "outages": 1,  # one outage: it failed twice before it came back
    }


def test_when_every_server_is_down_the_one_due_back_first_is_tried():
    clock = Clock()
    pool = ServerPool(["http://a/v1", "http://b/v1"], str, clock=clock)
    a, b = pool.servers
    pool.mark_down(a)
    clock.now += 1
    pool.mark_down(b)
    assert not pool.up() and pool.acquire() is a


def test_server_lists_are_read_and_checked():
    assert split_urls(" http://a:1/v1/ , http://b:2/v1,") == ["http://a:1/v1", "http://b:2/v1"]
    with pytest.raises(ValueError, match="listed twice"):
        split_urls("http://a/v1,http://a/v1/")
    agent = OpenAIAgent.from_spec("m@http://u:secret-pw@h1:8000/v1,http://h2:8000/v1")
    assert agent.base_url == "http://h1:8000/v1,http://h2:8000/v1"
    assert agent.spec == "openai:m@http://h1:8000/v1,http://h2:8000/v1"
    assert "secret-pw" not in json.dumps(agent.config())
    with pytest.raises(ValueError, match="must start with http"):
        OpenAIAgent.from_spec("m@http://h1:8000/v1,h2:8000/v1")


# ---------------------------------------------------------------------------------------------
# Real servers


def _kill_after(server: FakeOpenAIServer, requests: int, seen: dict) -> threading.Thread:
    """Kill ``server`` once it has received ``requests`` chat requests (while the last is in
    flight); note what every server had received at that moment."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while len(server.chat_requests) < requests and time.monotonic() < deadline:
            time.sleep(0.002)
        seen.update(seen["count"]())
        server.kill()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_run_over_two_servers_survives_one_dying(tmp_path: Path):
    with FakeOpenAIServer(latency=0.2) as a, FakeOpenAIServer(latency=0.2) as b:
        seen: dict = {"count": lambda: {"a": len(a.chat_requests), "b": len(b.chat_requests)}}
        watcher = _kill_after(b, 3, seen)
        out = run_eval(
            EvalConfig(
                agent=f"openai:fake-vlm@{a.base_url},{b.base_url}",
                out=tmp_path / "run",
                concurrency=4,
                progress=False,
                reports=False,
                agent_options={"cache": False, "max_retries": 3, "timeout": 10},
            ),
            log=lambda msg: None,
        )
        watcher.join(timeout=60)
        rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert b.killed
    assert len(rows) == 16 and all(r.get("error") is None for r in rows)  # all retried on a
    # both served while both were alive, and a took the rest
    assert seen["a"] >= 2 and seen["b"] == 3
    assert len(a.chat_requests) + 3 >= 16 + 1
    launch = json.loads((out / "config.json").read_text())["launches"][-1]
    servers = launch["ranks"][0]["agent"]["servers"]
    assert [s["url"] for s in servers] == [a.base_url, b.base_url]
    assert servers[1]["failures"] >= 1 and servers[1]["outages"] == 1
    assert servers[1]["answered"] == 2 and servers[0]["failures"] == 0
    moved = [r for r in rows if r.get("attempts", 1) > 1]
    assert moved and all(
        any(f"server {b.base_url} did not answer" in d for d in r["diagnostics"]) for r in moved
    )


def _observations(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    return [{"frames": rng.integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)} for _ in range(n)]


def test_a_dead_server_rejoins_the_rotation_when_it_answers_again():
    with FakeOpenAIServer(latency=0.02) as a, FakeOpenAIServer(latency=0.02) as b:
        agent = OpenAIAgent(
            "fake-vlm",
            base_url=f"{a.base_url},{b.base_url}",
            cache=False,
            concurrency=2,
            server_retry=0.3,
            max_retries=3,
        )
        with agent:
            infos = [{"video_id": f"v{i}"} for i in range(6)]
            assert all(o.error is None for o in agent.act_batch(_observations(6), infos))
            assert len(a.chat_requests) == 3 and len(b.chat_requests) == 3  # even spread
            port = b.port
            b.kill()
            outs = agent.act_batch(_observations(6), infos)
            assert all(o.error is None for o in outs)
            assert len(a.chat_requests) == 9
            with FakeOpenAIServer(latency=0.02, port=port) as b2:  # the server is back
                time.sleep(0.4)  # past its time out of rotation
                outs = agent.act_batch(_observations(6), infos)
                assert all(o.error is None for o in outs)
                assert len(b2.chat_requests) >= 2  # in rotation again
            stats = agent.run_stats()["servers"]
    assert stats[1]["outages"] == 1 and stats[1]["failures"] >= 1
    assert stats[0]["failures"] == 0
