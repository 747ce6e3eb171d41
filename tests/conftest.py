"""Shared test set-up: an isolated cache folder, offline hubs, and the session's heavy objects."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    """Every test session gets its own cache folder (subprocesses inherit it)."""
    path = tmp_path_factory.mktemp("visualact-cache")
    old = os.environ.get("VISUALACT_CACHE_DIR")
    os.environ["VISUALACT_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("VISUALACT_CACHE_DIR", None)
    else:
        os.environ["VISUALACT_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def demo():
    """The demo benchmark (generated once into the session's cache)."""
    from visualact_env.datasets import load_benchmark

    return load_benchmark("demo")


@pytest.fixture(scope="session")
def embedder():
    """The real default model; the same instance the environments use by default."""
    from visualact_env.envs.scoring import shared_embedder

    return shared_embedder()


@pytest.fixture(scope="session")
def scorer():
    """The metric with the real default model at tau = 0.5."""
    from visualact_env.metric import Scorer

    return Scorer(tau=0.5)
