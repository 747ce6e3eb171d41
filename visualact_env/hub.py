"""Telling a local model folder from a Hugging Face hub id, without a long offline retry loop.

``hf:PATH_OR_HUB_ID`` is read once, before transformers sees it (:func:`locate_model`):

* an existing folder (``~`` expanded) is loaded from disk;
* a name that can only be a path (it starts with ``/``, ``.`` or ``~``, holds a backslash or
  more than one ``/``, or ends with ``/``) but is not a folder is an error at once;
* otherwise it is a hub id (``name`` or ``namespace/name``). When the local hub cache holds a
  snapshot of it, the snapshot folder is loaded, so no request goes out at all. When it does
  not, and ``HF_HUB_OFFLINE`` is set, that is an error at once. Online, one metadata request
  (no retries) checks that the hub answers and knows the id before any download starts.

transformers' own resolution of an unreachable hub retries each file with back-off (five
retries, about 24 s per file here, several files per model): minutes before the error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HUB_ID = re.compile(r"[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?")
"""A hub repository id: ``name`` or ``namespace/name`` (letters, digits, ``-``, ``_``, ``.``)."""

PROBE_TIMEOUT = 10.0
"""Seconds the one online check of a hub id may take."""


class ModelNotFound(ValueError):
    """``hf:`` names neither a model folder here nor a hub id that can be loaded."""


def hub_offline() -> bool:
    """Whether the hub client is in offline mode (``HF_HUB_OFFLINE``, read by huggingface_hub
    when it is imported; ``TRANSFORMERS_OFFLINE`` counts too)."""
    from huggingface_hub import constants

    transformers_offline = os.environ.get("TRANSFORMERS_OFFLINE", "").strip().lower()
    return bool(constants.HF_HUB_OFFLINE) or transformers_offline in ("1", "true", "yes", "on")


def looks_like_path(name: str) -> bool:
    """True when ``name`` can only be a file-system path, never a hub id."""
    return (
        name.startswith(("/", ".", "~"))
        or "\\" in name
        or name.endswith("/")
        or name.count("/") > 1
        or HUB_ID.fullmatch(name) is None
    )


def cached_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The local hub cache's snapshot folder of ``repo_id`` (no request), or None."""
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(repo_id, revision=revision, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached (or no usable cache): the caller decides
        return None
    path = Path(folder)
    return path if (path / "config.json").is_file() else None


def _probe(repo_id: str, revision: str | None) -> None:
    """One metadata request (no retries): ``ModelNotFound`` when the hub cannot serve the id."""
    from huggingface_hub import HfApi, constants

    endpoint = constants.ENDPOINT
    try:
        HfApi().model_info(repo_id, revision=revision, timeout=PROBE_TIMEOUT)
    except Exception as e:  # noqa: BLE001 - every failure becomes one clear message
        status = getattr(getattr(e, "response", None), "status_code", None)
        reason = f"the hub answered {status}" if status else f"{type(e).__name__}: {e}"
        raise ModelNotFound(
            f"hf agent: {repo_id!r} is not a model folder here, not in the Hugging Face cache, "
            f"and the hub at {endpoint} cannot serve it ({reason}). Pass a model folder, "
            "download it first (hf download ID), or check the id"
        ) from None


def locate_model(model: str, revision: str | None = None) -> tuple[str, bool]:
    """Where to load ``model`` from: ``(folder or hub id, is_folder)`` (see the module docstring).

    Raises :class:`ModelNotFound` (a ``ValueError``) at once for a missing folder, for a hub
    id that is not cached while ``HF_HUB_OFFLINE`` is set, and after one request when the hub
    cannot serve the id.
    """
    name = str(model).strip()
    if not name:
        raise ModelNotFound("hf agent needs a model folder or hub id: hf:PATH_OR_HUB_ID")
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder), True
    if looks_like_path(name):
        raise ModelNotFound(f"hf agent: model folder not found: {name}")
    snapshot = cached_snapshot(name, revision)
    if snapshot is not None:
        return str(snapshot), True
    if hub_offline():
        raise ModelNotFound(
            f"hf agent: {name!r} is not a model folder here and not in the Hugging Face cache, "
            "and HF_HUB_OFFLINE is set, so the hub is not asked: pass a model folder, or "
            "download it first (hf download ID) where the hub is reachable"
        )
    _probe(name, revision)
    return name, False
