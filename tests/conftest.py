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
