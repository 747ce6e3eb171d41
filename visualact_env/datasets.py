"""The one dataset resolver: a name or a path in, a validated :class:`Benchmark` out.

Every command and the environment call :func:`load_benchmark`, so ``--data demo``,
``--data synthetic-full`` and ``--data path/to/annotations.jsonl`` mean the same thing everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from .loading import DataError, Problem, parse_annotations
from .records import Benchmark

BUILTIN_DATASETS: dict[str, str] = {
    "demo": "16 synthetic clips, 4 per scenario, generated once into the cache",
    "synthetic-full": "1,074 synthetic clips with the paper's counts (3,733 actions)",
}


def resolve_annotations(spec: str | os.PathLike[str], *, with_videos: bool = True) -> Path:
    """The annotation file a spec names, generating built-in data on first use.

    ``spec`` is ``"demo"``, ``"synthetic-full"``, an annotation ``.jsonl`` file or a folder
    holding ``annotations.jsonl``. ``with_videos=False`` lets ``synthetic-full`` skip writing
    clips (annotation content is the same either way).
    """
    text = os.fspath(spec)
    if text == "demo":
        from .demo import generate_demo

        return generate_demo()
    if text == "synthetic-full":
        from .demo import generate_synthetic

        return generate_synthetic(with_videos=with_videos)
    path = Path(text).expanduser()
    if path.is_dir():
        ann = path / "annotations.jsonl"
        if not ann.is_file():
            raise DataError([Problem(str(path), None, None, "folder has no annotations.jsonl")])
        return ann
    if not path.exists():
        names = ", ".join(repr(n) for n in BUILTIN_DATASETS)
        raise DataError(
            [
                Problem(
                    text,
                    None,
                    None,
                    f"no such annotation file or folder (built-in datasets: {names})",
                )
            ]
        )
    return path


def load_benchmark(
    spec: str | os.PathLike[str] = "demo", *, check_videos: bool = True
) -> Benchmark:
    """Load a benchmark by name (``"demo"``, ``"synthetic-full"``) or annotation path.

    Built-in datasets keep their name (``Benchmark.name == "demo"``); a file's benchmark is
    named by its path. Raises :class:`~visualact_env.loading.DataError` (file, line, field) for
    a missing path or invalid annotations. ``check_videos=False`` skips clip existence checks
    (and lets ``synthetic-full`` be generated without clips), for commands that only score.
    """
    text = os.fspath(spec)
    ann = resolve_annotations(text, with_videos=check_videos)
    name = text if text in BUILTIN_DATASETS else None
    return parse_annotations(ann, check_videos=check_videos, name=name)
