"""The OpenAI-compatible agent, run through the real ``openai`` client over real HTTP.

Every test talks to :class:`FakeOpenAIServer` on 127.0.0.1 (a real threaded HTTP server) and
checks what the server received as well as what the agent returned.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

import numpy as np
import openai
import pytest
from visualact_agents.images import (
    decode_data_url,
    frames_digest,
    frames_to_data_urls,
    image_parts,
)
from visualact_agents.openai_agent import (
    OpenAIAgent,
    Redactor,
    backoff_delay,
    coerce_options,
    parse_model_spec,
    parse_retry_after,
    public_url,
)

from visualact_env.cache import cache_dir
from visualact_env.frames import frame_array
from visualact_env.prompts import ACTIONS_JSON_SCHEMA, DEFAULT_PROMPT
from visualact_env.registry import make_agent
from visualact_env.response_cache import ResponseCache
from visualact_env.testing import FakeOpenAIServer, Fault, image_tag
from visualact_env.testing.fake_openai_server import http_date

pytestmark = pytest.mark.timeout(120)

KEY = "local-visualact-TOPSECRET-4242abcd"  # no "sk-" prefix: caught by name, not by pattern
H, W, N = 24, 40, 8


def make_frames(seed: int, n: int = N) -> np.ndarray:
    """Distinct frames per seed (so every video has its own first-image tag): 8x8 colour blocks,
    an image JPEG keeps faithfully (unlike pixel noise)."""
    grid = np.random.default_rng(seed).integers(0, 256, (n, H // 8, W // 8, 3), dtype=np.uint8)
    return np.repeat(np.repeat(grid, 8, axis=1), 8, axis=2)


def tag_of(frames: np.ndarray) -> str:
    return image_tag(frames_to_data_urls(frames)[0])


def make(server: FakeOpenAIServer, **options) -> OpenAIAgent:
    options.setdefault("api_key", KEY)
    options.setdefault("backoff_base", 0.01)
    options.setdefault("cache", False)
    return OpenAIAgent.from_spec(f"fake-vlm@{server.base_url}", **options)


@pytest.fixture
def agent_factory():
    made: list[OpenAIAgent] = []

    def factory(server: FakeOpenAIServer, **options) -> OpenAIAgent:
        agent = make(server, **options)
        made.append(agent)
        return agent

    yield factory
    for agent in made:
        agent.close()


# ---------------------------------------------------------------------------------------------
# Normal answers and what is sent


def test_normal_answer_parsed_with_usage(agent_factory):
    frames = make_frames(1)
    with FakeOpenAIServer() as server:
        agent = agent_factory(server)
        out = agent.act({"frames": frames}, {"video_id": "v1"})
    assert out.error is None and out.attempts == 1 and not out.cached
    assert len(out.actions) == 5  # the server answers min(#images, 5) actions
    assert all(tag_of(frames) in a.text for a in out.actions)
    assert [a.apl for a in out.actions] == [0, 1, 2, 3, 4]
    assert [a.proactive for a in out.actions] == [True, False, True, False, True]
    assert json.loads(out.raw_text)["actions"][0]["action"].startswith("Respond to scene")
    assert set(out.usage) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert out.usage["prompt_tokens"] > 85 * N
    assert out.usage["total_tokens"] == out.usage["prompt_tokens"] + out.usage["completion_tokens"]
    assert agent.usage_total == out.usage


def test_request_has_one_jpeg_part_per_frame_then_prompt(agent_factory):
    frames = make_frames(2)
    with FakeOpenAIServer() as server:
        agent = agent_factory(server, image_detail="low", max_tokens=321)
        agent.act({"frames": frames}, {})
        (req,) = server.chat_requests
    body = req.body
    assert body["model"] == "fake-vlm" and body["max_tokens"] == 321 and body["temperature"] == 0
    system, user = body["messages"]
    assert system == {"role": "system", "content": DEFAULT_PROMPT.system}
    assert user["role"] == "user"
    parts = user["content"]
    assert [p["type"] for p in parts] == ["image_url"] * N + ["text"]
    assert parts[-1]["text"] == DEFAULT_PROMPT.user
    for part, frame in zip(parts[:N], frames, strict=True):
        assert part["image_url"]["detail"] == "low"
        url = part["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        decoded = decode_data_url(url)
        assert decoded.shape == (H, W, 3)
        # JPEG is lossy, but the decoded image is close to the frame it came from
        assert np.abs(decoded.astype(int) - frame.astype(int)).mean() < 8
    assert req.headers["authorization"] == f"Bearer {KEY}"


def test_structured_output_sent_with_prompt_schema(agent_factory):
    with FakeOpenAIServer() as server:
        agent_factory(server).act({"frames": make_frames(3)}, {})
        (req,) = server.chat_requests
    rf = req.body["response_format"]
    assert rf["type"] == "json_schema"
    assert rf["json_schema"]["schema"] == ACTIONS_JSON_SCHEMA


def test_structured_output_off_sends_no_response_format(agent_factory):
    with FakeOpenAIServer() as server:
        agent_factory(server, structured_output="off").act({"frames": make_frames(3)}, {})
        (req,) = server.chat_requests
    assert "response_format" not in req.body


def test_structured_output_fallback_is_remembered(agent_factory):
    with FakeOpenAIServer(reject_response_format=True) as server:
        agent = agent_factory(server)
        first = agent.act({"frames": make_frames(4)}, {})
        second = agent.act({"frames": make_frames(5)}, {})
        requests = server.chat_requests
    assert first.error is None and len(first.actions) == 5
    assert any("structured output" in d and "plain text" in d for d in first.diagnostics)
    assert ["response_format" in r.body for r in requests] == [True, False, False]
    assert second.attempts == 1 and not any("structured" in d for d in second.diagnostics)
    assert agent.structured_fallback is True
    assert agent.config()["structured_output"] == "auto"  # config stays stable for resume


def test_forced_json_schema_rejected_is_a_failure_without_retry(agent_factory):
    with FakeOpenAIServer(reject_response_format=True) as server:
        out = agent_factory(server, structured_output="json_schema").act(
            {"frames": make_frames(4)}, {}
        )
        assert len(server.chat_requests) == 1
    assert out.failed and "HTTP 400" in out.error and "response_format" in out.error
    assert out.actions == () and out.attempts == 1


# ---------------------------------------------------------------------------------------------
# Faults and the retry policy


def test_rate_limit_honours_retry_after(agent_factory):
    with FakeOpenAIServer(script=[Fault.rate_limit(0.3)]) as server:
        out = agent_factory(server).act({"frames": make_frames(6)}, {})
        first, second = server.chat_requests
    assert out.error is None and out.attempts == 2
    assert second.received_at - first.received_at >= 0.3  # behaviour, measured monotonically
    assert any("HTTP 429" in d for d in out.diagnostics)


def test_server_errors_then_success(agent_factory):
    script = [Fault.server_error(500), Fault.server_error(503)]
    with FakeOpenAIServer(script=script) as server:
        out = agent_factory(server).act({"frames": make_frames(7)}, {})
        assert [r.fault for r in server.chat_requests] == ["server_error", "server_error", "ok"]
    assert out.error is None and out.attempts == 3 and len(out.actions) == 5
    assert sum("HTTP 50" in d for d in out.diagnostics) == 2


def test_timeout_is_retried(agent_factory):
    with FakeOpenAIServer(script=[Fault.slow(5.0)]) as server:
        out = agent_factory(server, timeout=0.4).act({"frames": make_frames(8)}, {})
        assert len(server.chat_requests) == 2
    assert out.error is None and out.attempts == 2
    assert any("timed out after 0.4s" in d for d in out.diagnostics)


def test_malformed_bodies_are_retried(agent_factory):
    with FakeOpenAIServer(script=[Fault.not_json(), Fault.no_choices()]) as server:
        out = agent_factory(server).act({"frames": make_frames(9)}, {})
    assert out.error is None and out.attempts == 3
    assert any("not JSON" in d for d in out.diagnostics)
    assert any("no 'choices'" in d for d in out.diagnostics)


@pytest.mark.parametrize(
    "fault, words",
    [
        (Fault.server_error(503), "HTTP 503"),
        (Fault.not_json(), "not JSON"),
        (Fault.no_choices(), "no 'choices'"),
    ],
)
def test_retries_are_bounded(agent_factory, fault, words):
    with FakeOpenAIServer(default=fault) as server:
        out = agent_factory(server, max_retries=3).act({"frames": make_frames(10)}, {})
        assert len(server.chat_requests) == 4
    assert out.failed and out.attempts == 4 and out.actions == ()
    assert "failed after 4 attempts" in out.error and words in out.error


def test_other_client_errors_are_not_retried(agent_factory):
    with FakeOpenAIServer(default=Fault.bad_request(404)) as server:
        out = agent_factory(server).act({"frames": make_frames(11)}, {})
        assert len(server.chat_requests) == 1
    assert out.failed and out.attempts == 1 and "HTTP 404" in out.error


def test_max_completion_tokens_switch_is_not_a_format_rejection(agent_factory):
    msg = (
        "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead."
    )
    with FakeOpenAIServer(script=[Fault.bad_request(400, msg)]) as server:
        agent = agent_factory(server, max_tokens=77)
        out = agent.act({"frames": make_frames(14)}, {})
        again = agent.act({"frames": make_frames(15)}, {})
        first, second, third = (r.body for r in server.chat_requests)
    assert out.error is None and out.attempts == 2 and again.attempts == 1
    assert first["max_tokens"] == 77 and "max_completion_tokens" not in first
    assert second["max_completion_tokens"] == 77 and "max_tokens" not in second
    assert third["max_completion_tokens"] == 77
    assert all("response_format" in b for b in (first, second, third))
    assert agent.structured_fallback is False


def test_connection_refused_is_a_recorded_failure(agent_factory):
    with FakeOpenAIServer() as server:
        url = server.base_url
    agent = OpenAIAgent("fake-vlm", base_url=url, api_key=KEY, max_retries=1, backoff_base=0.01)
    try:
        out = agent.act({"frames": make_frames(1)}, {})
    finally:
        agent.close()
    assert out.failed and out.attempts == 2 and "connection error" in out.error


def test_a_dripped_response_is_cut_at_the_attempt_timeout(agent_factory):
    """Each chunk arrives well within the read timeout; the whole would take 4.75 s. The
    per-attempt timeout (1 s) bounds the whole attempt, not each read."""
    drip = Fault.drip(chunks=20, interval=0.25)
    with FakeOpenAIServer(script=[drip, drip]) as server:
        out = agent_factory(server, timeout=1.0, max_retries=1).act({"frames": make_frames(16)}, {})
        assert [r.fault for r in server.chat_requests] == ["drip", "drip"]
    assert out.failed and out.attempts == 2
    assert "timed out after 1s" in out.error


def test_a_dripped_response_within_the_timeout_is_accepted(agent_factory):
    with FakeOpenAIServer(script=[Fault.drip(chunks=4, interval=0.05)]) as server:
        frames = make_frames(17)
        out = agent_factory(server, timeout=30.0).act({"frames": frames}, {})
    assert out.error is None and out.attempts == 1 and tag_of(frames) in out.actions[0].text


def test_non_text_content_is_retried_and_never_cached(agent_factory):
    """Regression: ``"content": 12345`` was cached before it failed, so a resumed run could
    never recover the video."""
    frames = make_frames(18)
    with FakeOpenAIServer(script=[Fault.bad_content(12345)]) as server:
        failed = agent_factory(server, cache=True, max_retries=0).act({"frames": frames}, {})
        assert failed.failed and "message content is a JSON int, not text" in failed.error
        resumed = agent_factory(server, cache=True, max_retries=0).act({"frames": frames}, {})
        assert len(server.chat_requests) == 2  # nothing was cached: asked again
    assert resumed.error is None and not resumed.cached and tag_of(frames) in resumed.raw_text
    with FakeOpenAIServer(script=[Fault.bad_content({"text": "x"}), Fault.ok()]) as server:
        recovered = agent_factory(server, cache=True).act({"frames": make_frames(19)}, {})
    assert recovered.error is None and recovered.attempts == 2


def test_a_key_echoed_by_the_server_is_redacted_from_answers_and_cache(agent_factory):
    """A server that echoes the request headers puts the key (Bearer) or the URL credentials
    (HTTP Basic, which the client builds from them) into its answer."""
    frames = make_frames(20)
    cached_before = _cache_files()
    with FakeOpenAIServer(default=Fault.echo_headers()) as server:
        agent = agent_factory(server, cache=True)
        out = agent.act({"frames": frames}, {})
        assert KEY in server.chat_requests[0].headers["authorization"]
        again = agent_factory(server, cache=True).act({"frames": frames}, {})
        url = server.base_url.replace("://", "://visualact-user:URLPASS-TOPSECRET@")
        basic = OpenAIAgent.from_spec(f"fake-vlm@{url}", api_key=KEY, cache=True)
        try:
            via_basic = basic.act({"frames": make_frames(22)}, {})
            assert server.chat_requests[-1].headers["authorization"].startswith("Basic ")
        finally:
            basic.close()
    assert again.cached and again.raw_text == out.raw_text
    for result in (out, via_basic):
        assert result.error is None and "Authorization" in result.actions[0].text
        assert "Authorization: Bearer ***" in result.raw_text or "Basic ***" in result.raw_text
    texts = [json.dumps(r.record_fields()) + repr(r) for r in (out, again, via_basic)]
    texts += [p.read_text() for p in _cache_files() - cached_before]
    assert len(texts) > 3, "the answers were cached"
    blob = "".join(texts)
    assert KEY not in blob and "TOPSECRET" not in blob
    import base64

    assert base64.b64encode(b"visualact-user:URLPASS-TOPSECRET").decode() not in blob


def test_redaction_of_answers_changes_nothing_but_the_secrets(agent_factory):
    """Answer text is scrubbed of the configured secrets only, never by pattern: an action
    about a stretcher bearer keeps its words."""
    answer = json.dumps({"actions": [{"action": "Call the stretcher bearer team now", "apl": 2}]})
    with FakeOpenAIServer(script=[Fault.ok(answer)]) as server:
        out = agent_factory(server).act({"frames": make_frames(21)}, {})
    assert out.raw_text == answer and out.actions[0].text == "Call the stretcher bearer team now"


def test_empty_content_is_an_empty_answer_with_diagnostic(agent_factory):
    with FakeOpenAIServer(script=[Fault.empty()]) as server:
        out = agent_factory(server).act({"frames": make_frames(12)}, {})
    assert out.error is None and out.actions == () and out.raw_text == ""
    assert any("empty model content" in d for d in out.diagnostics)


def test_unparseable_answer_is_an_empty_answer_with_its_parse_error(agent_factory):
    refusal = "I am sorry, but I cannot help with that."
    with FakeOpenAIServer(script=[Fault.ok(refusal)]) as server:
        out = agent_factory(server).act({"frames": make_frames(13)}, {})
    assert not out.failed and out.actions == ()
    assert out.parse_error and out.record_fields()["parse_error"] == out.parse_error
    assert out.raw_text == refusal and out.attempts == 1


def test_answer_with_a_lone_surrogate_is_kept_as_text_and_cached(agent_factory, tmp_path):
    # an emoji cut at max_tokens: the server sends "\ud83d" alone (a JSON escape)
    answer = "1. Wave back (APL 1, proactive) \ud83d\n2. Smile \ud83d"
    frames = make_frames(14)
    with FakeOpenAIServer(script=[Fault.ok(answer)]) as server:
        agent = agent_factory(server, cache=True)
        out = agent.act({"frames": frames}, {})
        again = agent.act({"frames": frames.copy()}, {})  # read back from the response cache
        assert len(server.chat_requests) == 1
    assert out.error is None and not out.failed and out.parse_error is None
    assert out.raw_text == "1. Wave back (APL 1, proactive) \ufffd\n2. Smile \ufffd"
    assert [(a.text, a.apl, a.proactive) for a in out.actions] == [
        ("Wave back \ufffd", 1, True),
        ("Smile \ufffd", None, None),
    ]
    assert any("2 lone surrogate(s) in the answer replaced" in d for d in out.diagnostics)
    assert again.cached and again.actions == out.actions
    (tmp_path / "record.json").write_text(json.dumps(out.record_fields(), ensure_ascii=False))


def test_parsing_runs_off_the_event_loop_thread(agent_factory, monkeypatch):
    import threading

    import visualact_env.parsing as parsing

    real = parsing.parse_actions
    threads: list[threading.Thread] = []

    def recording(text, **kwargs):
        threads.append(threading.current_thread())
        return real(text, **kwargs)

    monkeypatch.setattr(parsing, "parse_actions", recording)
    with FakeOpenAIServer() as server:
        agent = agent_factory(server, cache=True)
        agent.act({"frames": make_frames(15)}, {})
        agent.act({"frames": make_frames(15)}, {})  # a cache hit is parsed off the loop too
        loop_thread = agent._thread
    assert len(threads) == 2 and loop_thread is not None
    assert all(t is not loop_thread for t in threads)


def test_batch_with_random_faults_loses_nothing(agent_factory):
    faults = [
        Fault.rate_limit(0.05),
        Fault.server_error(500),
        Fault.server_error(503),
        Fault.not_json(),
        Fault.no_choices(),
        Fault.slow(3.0),
    ]
    videos = [make_frames(100 + i, n=1 + i % 8) for i in range(40)]
    with FakeOpenAIServer(latency=0.01, fault_rate=0.35, faults=faults, seed=7) as server:
        agent = agent_factory(server, max_retries=2, timeout=0.5, concurrency=8)
        outs = agent.act_batch(
            [{"frames": f} for f in videos], [{"video_id": str(i)} for i in range(40)]
        )
        sent = len(server.chat_requests)
        max_in_flight = server.max_in_flight
    assert len(outs) == 40
    failed = [o for o in outs if o.failed]
    assert sum(o.attempts for o in outs) == sent  # every attempt accounted for
    assert 0 < max_in_flight <= 8
    for frames, out in zip(videos, outs, strict=True):
        if out.failed:
            assert (
                out.attempts == 3 and out.actions == () and "failed after 3 attempts" in out.error
            )
        else:
            assert out.error is None and len(out.actions) == min(len(frames), 5)
            assert all(tag_of(frames) in a.text for a in out.actions)  # its own answer
    assert len(failed) < 40 and sent > 40  # the faults really happened and most recovered


def test_aact_from_a_foreign_loop_and_act_inside_a_running_loop(agent_factory):
    videos = [make_frames(200 + i) for i in range(6)]
    with FakeOpenAIServer(latency=0.05) as server:
        agent = agent_factory(server, concurrency=2)

        async def main():
            outs = await asyncio.gather(*(agent.aact({"frames": f}, {}) for f in videos))
            inside = agent.act({"frames": videos[0]}, {})  # sync call while a loop runs
            return outs, inside

        outs, inside = asyncio.run(main())
        assert server.max_in_flight <= 2
    assert [tag_of(f) in o.actions[0].text for f, o in zip(videos, outs, strict=True)] == [True] * 6
    assert inside.error is None and tag_of(videos[0]) in inside.actions[0].text


def test_server_sustains_32_concurrent_requests(agent_factory):
    videos = [make_frames(300 + i, n=2) for i in range(32)]
    with FakeOpenAIServer(latency=1.5) as server:
        agent = agent_factory(server, concurrency=32)
        outs = agent.act_batch([{"frames": f} for f in videos], [{}] * 32)
        assert server.max_in_flight == 32
    assert all(o.error is None for o in outs)


def test_models_endpoint_with_the_official_client():
    async def list_models(url: str) -> list[str]:
        client = openai.AsyncOpenAI(api_key="EMPTY", base_url=url, max_retries=0)
        try:
            return [m.id async for m in client.models.list()]
        finally:
            await client.close()

    with FakeOpenAIServer(models=["a-vlm", "b-vlm"]) as server:
        assert asyncio.run(list_models(server.base_url)) == ["a-vlm", "b-vlm"]


def test_server_stops_by_itself():
    server = FakeOpenAIServer(max_lifetime=0.2).start()
    deadline = time.monotonic() + 10
    while server.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.running


# ---------------------------------------------------------------------------------------------
# The response cache and the API key


def test_cache_hit_on_identical_deterministic_request(agent_factory):
    frames = make_frames(400)
    with FakeOpenAIServer() as server:
        agent = agent_factory(server, cache=True)
        first = agent.act({"frames": frames}, {})
        usage_after_first = dict(agent.usage_total)
        second = agent.act({"frames": frames.copy()}, {})
        assert len(server.chat_requests) == 1
        third = agent.act({"frames": make_frames(401)}, {})  # other frames: a new request
        assert len(server.chat_requests) == 2
    assert not first.cached and second.cached
    assert second.actions == first.actions and second.raw_text == first.raw_text
    assert agent.usage_total != usage_after_first and third.error is None
    assert sum(agent.usage_total.values()) == sum(first.usage.values()) + sum(third.usage.values())


def test_cache_key_depends_on_settings_not_key(agent_factory):
    frames = make_frames(402)
    with FakeOpenAIServer() as server:
        agent_factory(server, cache=True).act({"frames": frames}, {})
        # another key, same request: served from the cache
        agent_factory(server, cache=True, api_key="sk-other-key-123456").act({"frames": frames}, {})
        assert len(server.chat_requests) == 1
        agent_factory(server, cache=True, max_tokens=99).act({"frames": frames}, {})
        assert len(server.chat_requests) == 2
        warm = agent_factory(server, cache=True, temperature=0.7)
        assert not warm.deterministic
        warm.act({"frames": frames}, {})
        warm.act({"frames": frames}, {})
        assert len(server.chat_requests) == 4  # non-deterministic requests are never cached


def test_failures_are_never_cached(agent_factory):
    frames = make_frames(403)
    with FakeOpenAIServer(script=[Fault.server_error(500)]) as server:
        failed = agent_factory(server, cache=True, max_retries=0).act({"frames": frames}, {})
        ok = agent_factory(server, cache=True, max_retries=0).act({"frames": frames}, {})
        assert len(server.chat_requests) == 2
    assert failed.failed and ok.error is None and not ok.cached


def _cache_files() -> set:
    return {p for p in cache_dir("responses").rglob("*") if p.is_file()}


def test_api_key_is_never_written(agent_factory, tmp_path):
    frames = make_frames(404)
    cached_before = _cache_files()
    with FakeOpenAIServer(script=[Fault.unauthorized()]) as server:
        agent = agent_factory(server, cache=True)
        refused = agent.act({"frames": frames}, {})
        good = agent.act({"frames": frames}, {})
        again = agent.act({"frames": frames}, {})
        assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"
        assert len(server.chat_requests) == 2
    assert refused.failed and "HTTP 401" in refused.error and "***" in refused.error
    assert good.error is None and again.cached
    texts = [
        json.dumps(agent.config()),
        agent.spec,
        refused.error,
        json.dumps(refused.record_fields()),
        json.dumps(good.record_fields()),
        repr(refused),
    ]
    new_entries = _cache_files() - cached_before
    assert new_entries, "this test's answer was written to the response cache"
    texts += [p.read_text() for p in new_entries | cached_before]
    assert not any(KEY in t for t in texts)
    assert "TOPSECRET" not in "".join(texts)


def test_config_records_what_decides_answers(agent_factory):
    with FakeOpenAIServer() as server:
        agent = agent_factory(server, temperature="0", max_tokens="512", seed="3")
        cfg = agent.config()
    assert cfg["model"] == "fake-vlm" and cfg["base_url"] == server.base_url
    assert cfg["spec"] == f"openai:fake-vlm@{server.base_url}"
    assert cfg["prompt"] == {
        "name": DEFAULT_PROMPT.name,
        "version": DEFAULT_PROMPT.version,
        "fingerprint": DEFAULT_PROMPT.fingerprint,
    }
    assert cfg["generation"] == {"temperature": 0.0, "max_tokens": 512, "seed": 3}
    assert cfg["deterministic"] is True and cfg["structured_output"] == "auto"


# ---------------------------------------------------------------------------------------------
# Specs, options and helpers


def test_parse_model_spec():
    assert parse_model_spec("gpt-4o") == ("gpt-4o", None)
    assert parse_model_spec("Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1") == (
        "Qwen/Qwen2.5-VL-7B-Instruct",
        "http://localhost:8000/v1",
    )
    assert parse_model_spec("llava:13b@https://u:p@host/v1") == ("llava:13b", "https://u:p@host/v1")
    with pytest.raises(ValueError, match="needs a model"):
        parse_model_spec(None)
    with pytest.raises(ValueError, match="no model name"):
        parse_model_spec("@http://localhost:8000/v1")


@pytest.mark.parametrize(
    "spec",
    [
        "fake-vlm@localhost:8000/v1",
        "fake-vlm@127.0.0.1:8000/v1",
        "fake-vlm@user:PASS-TOPSECRET@localhost:8000/v1",
        "fake-vlm@ftp://localhost/v1",
    ],
)
def test_a_base_url_without_http_scheme_is_an_error_not_the_public_api(spec, monkeypatch):
    """Regression: ``MODEL@localhost:8000/v1`` became the model name ``MODEL@localhost...`` on
    api.openai.com, so with a real key the frames would have left the machine."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="must be a base URL starting with http://") as err:
        make_agent(f"openai:{spec}")
    assert "openai:fake-vlm@http://localhost:8000/v1" in str(err.value)
    assert "TOPSECRET" not in str(err.value)


def test_a_base_url_option_must_be_http(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    for url in ("localhost:8000/v1", "http://", "file:///etc/passwd"):
        with pytest.raises(ValueError, match="must start with http:// or https://"):
            OpenAIAgent.from_spec("fake-vlm", base_url=url, api_key=KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8000/v1")
    with pytest.raises(ValueError, match="must start with http:// or https://"):
        OpenAIAgent.from_spec("fake-vlm", api_key=KEY)


def test_a_model_name_with_an_at_sign_takes_its_server_from_the_option():
    agent = OpenAIAgent.from_spec("claude-3@20240229", base_url="http://localhost:8000/v1")
    assert agent.model == "claude-3@20240229" and agent.base_url == "http://localhost:8000/v1"


def test_preflight_checks_the_server_once_and_names_it_without_credentials(agent_factory):
    with FakeOpenAIServer() as server:
        agent = agent_factory(server)
        agent.preflight()
        assert [(r.method, r.path) for r in server.requests] == [("GET", "/v1/models")]
        url = server.base_url
    stopped = OpenAIAgent.from_spec(
        f"fake-vlm@{url.replace('://', '://someone:PASS-TOPSECRET@')}", api_key=KEY
    )
    try:
        with pytest.raises(ConnectionError) as err:
            stopped.preflight()
    finally:
        stopped.close()
    assert f"cannot reach the server at {url}" in str(err.value)
    assert "TOPSECRET" not in str(err.value) and "someone" not in str(err.value)


def test_from_spec_local_server_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    agent = make_agent("openai:Qwen/Qwen2.5-VL-7B-Instruct@http://user:pw@localhost:8000/v1/")
    assert isinstance(agent, OpenAIAgent)
    assert agent.model == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert agent.base_url == "http://localhost:8000/v1"  # credentials never recorded
    assert agent.spec == "openai:Qwen/Qwen2.5-VL-7B-Instruct@http://localhost:8000/v1"
    assert "pw" not in json.dumps(agent.config())


def test_from_spec_openai_needs_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY is not set"):
        OpenAIAgent.from_spec("gpt-4o")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    agent = OpenAIAgent.from_spec("gpt-4o")
    assert agent.base_url == "https://api.openai.com/v1" and agent.spec == "openai:gpt-4o"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert OpenAIAgent.from_spec("gpt-4o").base_url == "http://127.0.0.1:9/v1"


def test_options_are_checked_and_coerced():
    assert coerce_options({"temperature": "0.5", "cache": "false", "seed": "none"}) == {
        "temperature": 0.5,
        "cache": False,
        "seed": None,
    }
    with pytest.raises(ValueError, match="unknown openai agent option"):
        coerce_options({"temprature": 0})
    with pytest.raises(ValueError, match="option max_tokens: expected int"):
        coerce_options({"max_tokens": "lots"})
    with pytest.raises(ValueError, match="structured_output"):
        OpenAIAgent("m", base_url="http://127.0.0.1:9/v1", structured_output="yes")


def test_bad_observation_is_a_clear_error(agent_factory):
    with FakeOpenAIServer() as server:
        agent = agent_factory(server)
        with pytest.raises(ValueError, match="'frames'"):
            agent.act({"pixels": make_frames(1)}, {})
        with pytest.raises(ValueError, match="uint8"):
            agent.act({"frames": make_frames(1).astype(np.float32)}, {})
        assert server.chat_requests == []
        outs = agent.act_batch([{"frames": make_frames(2)}, {"frames": "oops"}], [{}, {}])
        assert outs[0].error is None and len(server.chat_requests) == 1
        assert outs[1].failed and "ValueError" in outs[1].error and outs[1].attempts == 0


def test_parse_retry_after():
    assert parse_retry_after({"Retry-After": "0.3"}, cap=60) == pytest.approx(0.3)
    assert parse_retry_after({"retry-after-ms": "250"}, cap=60) == pytest.approx(0.25)
    assert parse_retry_after({"Retry-After": "999"}, cap=10) == 10
    assert 25 < parse_retry_after({"Retry-After": http_date(30)}, cap=60) <= 31
    assert parse_retry_after({"Retry-After": http_date(-30)}, cap=60) == 0
    assert parse_retry_after({"Retry-After": "soon"}, cap=60) is None
    assert parse_retry_after({}, cap=60) is None


def test_backoff_is_full_jitter_exponential_and_capped():
    rng = random.Random(0)
    for attempt, bound in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (10, 5.0)]:
        delays = [backoff_delay(attempt, base=0.5, cap=5.0, rng=rng) for _ in range(200)]
        assert all(0 <= d <= bound for d in delays)
        assert max(delays) > 0.8 * bound  # spread over the whole range (full jitter)


def test_redactor_and_public_url():
    redact = Redactor([KEY])
    assert KEY not in redact(f"Incorrect API key provided: {KEY}")
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    assert "sk-proj-abcdefghijkl" not in redact("key sk-proj-abcdefghijkl given")
    assert redact("url?api_key=zzz&x=1") == "url?api_key=***&x=1"
    assert public_url("https://u:secret@host:8443/v1/?key=1") == "https://host:8443/v1"


def test_image_helpers():
    frames = make_frames(500, n=3)
    parts = image_parts(frames, detail=None)
    assert len(parts) == 3 and "detail" not in parts[0]["image_url"]
    assert frames_digest(frames) == frames_digest(frames.copy())
    assert frames_digest(frames) != frames_digest(make_frames(501, n=3))
    assert frame_array(frames[0]).shape == (1, H, W, 3)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        frame_array(np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="image_detail"):
        image_parts(frames, detail="ultra")


def test_response_cache_roundtrip(tmp_path):
    cache = ResponseCache(tmp_path)
    key = cache.key({"model": "m", "x": [1, 2]})
    assert key == cache.key({"x": [1, 2], "model": "m"})  # order-independent
    assert cache.get(key) is None
    cache.put(key, {"raw_text": "hi"})
    assert cache.get(key) == {"raw_text": "hi"}
    cache.path(key).write_text("{broken")
    assert cache.get(key) is None  # unreadable entries are misses
    assert not list(tmp_path.rglob("*.tmp"))


def test_an_eval_run_through_faults_ends_every_video_scored_or_failed(tmp_path, monkeypatch):
    """The runner with the real agent over HTTP: failures recorded, counted and retried on
    resume; the key appears in no file of the run."""
    from visualact_env.runner import EvalConfig, run_eval

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    script = [
        Fault.server_error(503),
        Fault.server_error(503),  # first video: fails after 2 attempts
        Fault.not_json(),
        Fault.rate_limit(0.05),  # second video: fails after 2 attempts
        Fault.no_choices(),  # third video: recovers on its second attempt
    ]
    options = {"api_key": KEY, "backoff_base": 0.01, "max_retries": 1, "cache": False}
    with FakeOpenAIServer(script=script) as server:
        # credentials in the server URL are secrets too
        url_with_password = server.base_url.replace("://", "://user:PASSWORD-TOPSECRET@")
        config = EvalConfig(
            agent=f"openai:fake-vlm@{url_with_password}",
            out=tmp_path / "run",
            frames=4,
            concurrency=1,
            progress=False,
            agent_options=options,
        )
        out = run_eval(config, log=lambda msg: None)
        first_requests = len(server.chat_requests)
        rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
        summary = json.loads((out / "summary.json").read_text())
        assert len(rows) == 16 and len({r["video_id"] for r in rows}) == 16
        failed = [r for r in rows if r.get("error")]
        assert len(failed) == 2
        for row in failed:
            assert row["actions"] == [] and "failed after 2 attempts" in row["error"]
        for row in rows:
            if not row.get("error"):
                assert len(row["actions"]) == 4  # the server answers min(#images, 5) actions
        assert first_requests == sum(r.get("attempts", 1) for r in rows) == 16 + 3
        assert summary["counts"]["failed"] == 2
        assert {f["video_id"] for f in summary["failures"]} == {r["video_id"] for r in failed}

        run_eval(replace_config(config, resume=True), log=lambda msg: None)
        assert len(server.chat_requests) == first_requests + 2  # only the failures are redone
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 16 and not any(r.get("error") for r in rows)
    assert json.loads((out / "summary.json").read_text())["counts"]["failed"] == 0
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {"config.json", "predictions.jsonl", "summary.json", "report.html"} <= {
        p.name for p in written
    }
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
        assert b"TOPSECRET" not in path.read_bytes(), path
    recorded = json.loads((out / "config.json").read_text())
    assert recorded["eval_config"]["agent_options"]["api_key"] == "***"
    assert recorded["eval_config"]["agent"] == f"openai:fake-vlm@{server.base_url}"


def replace_config(config, **changes):
    from dataclasses import replace

    return replace(config, **changes)
