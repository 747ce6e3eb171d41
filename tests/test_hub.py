"""``hf:PATH_OR_HUB_ID``: a folder, a cached hub id or a hub id, told apart without retry loops.

The hub is a real HTTP server on 127.0.0.1 (``HF_ENDPOINT``) that records every request and
knows no model, so the tests see exactly which requests the agent makes.
"""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from visualact_env.hub import ModelNotFound, locate_model, looks_like_path
from visualact_env.registry import make_agent


class _Hub(BaseHTTPRequestHandler):
    requests: list[str] = []

    def _answer(self) -> None:
        type(self).requests.append(f"{self.command} {self.path}")
        body = b'{"error": "Repository not found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def hub(monkeypatch, tmp_path):
    """An empty hub cache, ``HF_HUB_OFFLINE`` unset and the endpoint a local recording server."""
    from huggingface_hub import constants

    _Hub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    yield _Hub.requests
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("Qwen/Qwen2-VL-2B-Instruct", False),
        ("gpt2", False),
        ("runs/mpo/final", True),
        ("./ckpt", True),
        ("~/models/x", True),
        ("/models/x", True),
        ("ckpt/", True),
        ("C:\\models\\x", True),
        ("org/na me", True),
    ],
)
def test_names_that_can_only_be_paths(name, path):
    assert looks_like_path(name) is path


@pytest.mark.parametrize("name", ["runs/mpo/final", "./ckpt", "~/no-such-model-dir", "ckpt/"])
def test_a_missing_local_looking_folder_fails_at_once_without_a_request(hub, name):
    with pytest.raises(ModelNotFound, match=f"model folder not found: {name}"):
        make_agent(f"hf:{name}")
    assert hub == []


def test_an_uncached_hub_id_offline_fails_at_once_without_a_request(hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        ValueError, match="not in the Hugging Face cache, and HF_HUB_OFFLINE is set"
    ):
        make_agent("hf:nobody/no-such-model")
    assert hub == []


def test_an_uncached_hub_id_online_costs_one_request_and_names_the_hub(hub):
    from huggingface_hub import constants

    with pytest.raises(ModelNotFound) as err:
        make_agent("hf:nobody/no-such-model")
    # huggingface_hub itself may fetch its agent-harness registry once per process (telemetry)
    about_the_model = [r for r in hub if "agent-harnesses" not in r]
    assert about_the_model == ["GET /api/models/nobody/no-such-model"]
    assert constants.ENDPOINT in str(err.value) and "answered 404" in str(err.value)


def _cache_tiny_model(cache: Path, repo: str) -> str:
    """Lay the tiny VLM out as the hub cache holds a downloaded model."""
    from visualact_env.testing.tiny_vlm import tiny_vlm_path

    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / f"models--{repo.replace('/', '--')}"
    shutil.copytree(tiny_vlm_path(), root / "snapshots" / commit)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    return commit


def test_a_cached_hub_id_loads_from_the_cache_without_a_request(hub, tmp_path):
    commit = _cache_tiny_model(tmp_path / "hub-cache", "tiny-org/tiny-vlm")
    source, is_folder = locate_model("tiny-org/tiny-vlm")
    assert is_folder and source.endswith(commit)
    agent = make_agent("hf:tiny-org/tiny-vlm", max_new_tokens=4, device="cpu")
    try:
        frames = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
        out = agent.act({"frames": frames}, {"video_id": "v"})
        assert out.error is None and isinstance(out.raw_text, str)
        config = agent.config()
        assert config["model"] == "tiny-org/tiny-vlm" and config["revision"] == commit
        assert config["weights_fingerprint"]  # the cached files are fingerprinted too
    finally:
        agent.close()
    assert hub == []
