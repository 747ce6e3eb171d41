"""Versioned prompt templates for model agents.

VisualActBench is a *vision-only* task: the frames alone must tell the model what is going on.
So the built-in prompts say only what to return (a list of actions, each with an Action
Prioritization Level from 0 to 4 and a proactive/reactive flag, both defined here) and never
what the scene is, which scenario it belongs to or what to look for.

A :class:`PromptTemplate` is plain data with a stable :attr:`~PromptTemplate.fingerprint`
(sha256 of its canonical content), so every result records exactly which words the model saw
(the runner stores ``prompt.to_dict()`` with each run). Built-ins:

* ``visualact-default`` (version 1): JSON output, ``{"actions": [{"action", "apl", "proactive"}]}``,
  with :data:`ACTIONS_JSON_SCHEMA` as the structured-output schema;
* ``visualact-list`` (version 1): a plain-text numbered list, ``1. <action> (APL <0-4>, proactive)``,
  for models that do badly with JSON.

Users load their own template with :func:`load_prompt` from a file (see its docstring for the two
accepted formats). Changing one character of a template changes its fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import jsonio
from .loading import DataError, Problem
from .records import APL_MEANINGS

ACTIONS_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "actions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "action": {"type": "string"},
                    "apl": {"type": "integer", "enum": [0, 1, 2, 3, 4]},
                    "proactive": {"type": "boolean"},
                },
                "required": ["action", "apl", "proactive"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["actions"],
    "additionalProperties": False,
}
"""JSON schema of the default prompt's answer. ``apl`` uses ``enum`` (not minimum/maximum) so
that it is accepted by strict structured-output modes (OpenAI, vLLM guided decoding)."""

PROACTIVE_DEFINITION = (
    "proactive: the action is taken on one's own initiative, to anticipate or prevent a problem "
    "or to help before anyone asks"
)
REACTIVE_DEFINITION = (
    "reactive: the action responds to something that has already happened, or to an explicit "
    "request or signal"
)


def _apl_lines() -> str:
    return "\n".join(f"  {level} = {meaning}" for level, meaning in sorted(APL_MEANINGS.items()))


@dataclass(frozen=True)
class PromptTemplate:
    """A named, versioned prompt: system text, user text and an optional response schema.

    ``output`` says which answer shape the prompt asks for (``"json"`` or ``"list"``); the parser
    accepts both whatever the template says, so it is informative only. ``source`` tells where
    a template came from (``"builtin"`` or a file path) and is not part of the fingerprint.
    """

    name: str
    version: str
    system: str
    user: str
    response_format: dict[str, Any] | None = None
    output: str = "json"
    source: str = field(default="builtin", compare=False)

    @property
    def fingerprint(self) -> str:
        """sha256 (first 16 hex digits) of name, version, texts, schema and output kind."""
        canonical = json.dumps(
            {
                "name": self.name,
                "version": self.version,
                "system": self.system,
                "user": self.user,
                "response_format": self.response_format,
                "output": self.output,
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    @property
    def label(self) -> str:
        """``name@version`` for tables and logs."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to reproduce the prompt, plus its fingerprint (for run records)."""
        return {
            "name": self.name,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "output": self.output,
            "system": self.system,
            "user": self.user,
            "response_format": self.response_format,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "builtin") -> PromptTemplate:
        """Inverse of :meth:`to_dict` (the fingerprint, if present, is checked)."""
        prompt = cls(
            name=str(d["name"]),
            version=str(d["version"]),
            system=str(d.get("system") or ""),
            user=str(d["user"]),
            response_format=d.get("response_format"),
            output=str(d.get("output") or "json"),
            source=source,
        )
        expected = d.get("fingerprint")
        if expected is not None and expected != prompt.fingerprint:
            raise ValueError(
                f"prompt {prompt.label}: fingerprint {expected} does not match its content "
                f"({prompt.fingerprint}); the template was edited without changing its version?"
            )
        return prompt

    def messages(self) -> list[dict[str, str]]:
        """Chat messages (text only); agents add the frames to the user turn themselves."""
        out = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.append({"role": "user", "content": self.user})
        return out

    def openai_response_format(self) -> dict[str, Any] | None:
        """The ``response_format`` argument for OpenAI-compatible chat APIs, or None."""
        if self.response_format is None:
            return None
        return {
            "type": "json_schema",
            "json_schema": {
                "name": "visualact_actions",
                "schema": self.response_format,
                "strict": True,
            },
        }


_SYSTEM = (
    "You are the decision-making part of an assistant that perceives the world only through a "
    "camera. You receive frames sampled in temporal order from one short video. Decide which "
    "actions should be taken in response to what the video shows."
)

_FIELDS = (
    "For each action give:\n"
    "- the action: one short imperative sentence;\n"
    "- its Action Prioritization Level (APL), an integer from 0 to 4:\n"
    f"{_apl_lines()}\n"
    "- whether it is proactive or reactive:\n"
    f"  {PROACTIVE_DEFINITION};\n"
    f"  {REACTIVE_DEFINITION}."
)

DEFAULT_PROMPT = PromptTemplate(
    name="visualact-default",
    version="1",
    system=_SYSTEM,
    user=(
        "List the actions that should be taken in response to this video, most important first.\n"
        f"{_FIELDS}\n"
        "Answer with JSON only, in exactly this form:\n"
        '{"actions": [{"action": "<sentence>", "apl": <0-4>, "proactive": <true or false>}]}'
    ),
    response_format=ACTIONS_JSON_SCHEMA,
    output="json",
)
"""The default prompt: JSON answer, structured-output schema :data:`ACTIONS_JSON_SCHEMA`."""

LIST_PROMPT = PromptTemplate(
    name="visualact-list",
    version="1",
    system=_SYSTEM,
    user=(
        "List the actions that should be taken in response to this video, most important first.\n"
        f"{_FIELDS}\n"
        "Answer with a numbered list only, one action per line, in exactly this form:\n"
        "1. <sentence> (APL <0-4>, <proactive or reactive>)"
    ),
    response_format=None,
    output="list",
)
"""Plain-text variant: a numbered list with inline ``(APL n, proactive|reactive)`` markers."""

BUILTIN_PROMPTS: dict[str, PromptTemplate] = {p.name: p for p in (DEFAULT_PROMPT, LIST_PROMPT)}


def prompt_names() -> list[str]:
    """Names of the built-in prompts."""
    return sorted(BUILTIN_PROMPTS)


def load_prompt(
    name_or_path: str | os.PathLike[str] | PromptTemplate | None = None,
) -> PromptTemplate:
    """A built-in prompt by name (``name`` or ``name@version``), or a template file.

    ``None`` gives :data:`DEFAULT_PROMPT`. Files come in two formats:

    * ``*.json``: an object with ``name``, ``version``, ``user`` (required, strings), and
      optionally ``system``, ``response_format`` (a JSON schema object or null) and ``output``
      (``"json"`` or ``"list"``).
    * any other extension, plain text: optional header lines ``name: ...``, ``version: ...``,
      ``output: ...`` at the top, then a line ``[system]`` followed by the system text and a
      line ``[user]`` followed by the user text. Without section lines the whole body is the
      user text. A missing name defaults to the file's stem, a missing version to ``"file"``.

    Problems raise :class:`~visualact_env.loading.DataError` naming the file, line and field.
    """
    if name_or_path is None:
        return DEFAULT_PROMPT
    if isinstance(name_or_path, PromptTemplate):
        return name_or_path
    spec = os.fspath(name_or_path)
    name, _, version = spec.partition("@")
    if name in BUILTIN_PROMPTS and not Path(spec).is_file():
        prompt = BUILTIN_PROMPTS[name]
        if version and version != prompt.version:
            raise ValueError(
                f"prompt {name!r} has version {prompt.version!r} here, not {version!r}"
            )
        return prompt
    path = Path(spec)
    if not path.is_file():
        raise ValueError(
            f"unknown prompt {spec!r}: not a built-in ({', '.join(prompt_names())}) "
            "and no such file"
        )
    if path.suffix.lower() == ".json":
        return _load_json_prompt(path)
    return _load_text_prompt(path)


def _load_json_prompt(path: Path) -> PromptTemplate:
    file = str(path)
    data = jsonio.read_json(path, what="prompt")
    if not isinstance(data, dict):
        raise DataError([Problem(file, 1, None, "a prompt file must hold a JSON object")])
    problems: list[Problem] = []
    for key in ("name", "version", "user"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(file, None, key, f"required non-empty string, got {value!r}"))
    if "system" in data and not isinstance(data["system"], str | None):
        problems.append(Problem(file, None, "system", "must be a string"))
    rf = data.get("response_format")
    if rf is not None and not isinstance(rf, dict):
        problems.append(
            Problem(file, None, "response_format", "must be a JSON schema object or null")
        )
    _check_output(data.get("output", "json"), file, None, problems)
    unknown = set(data) - {
        "name",
        "version",
        "user",
        "system",
        "response_format",
        "output",
        "fingerprint",
        "source",
    }
    if unknown:
        problems.append(Problem(file, None, ", ".join(sorted(unknown)), "unknown field(s)"))
    if problems:
        raise DataError(problems)
    try:
        return PromptTemplate.from_dict(data, source=file)
    except ValueError as e:
        raise DataError([Problem(file, None, "fingerprint", str(e))]) from e


def _check_output(value: Any, file: str, line: int | None, problems: list[Problem]) -> None:
    if value not in ("json", "list"):
        problems.append(Problem(file, line, "output", f'must be "json" or "list", got {value!r}'))


_HEADER_KEYS = ("name", "version", "output")


def _load_text_prompt(path: Path) -> PromptTemplate:
    file = str(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataError([Problem(file, None, None, f"not UTF-8 text ({e.reason})")]) from e
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    body: list[str] = []
    problems: list[Problem] = []
    for lineno, line in enumerate(lines, start=1):
        marker = line.strip().lower()
        if marker in ("[system]", "[user]"):
            current = marker[1:-1]
            if current in sections:
                problems.append(Problem(file, lineno, current, "section given twice"))
            sections[current] = []
            continue
        if current is not None:
            sections[current].append(line)
            continue
        key, sep, value = line.partition(":")
        if not sections and not body and sep and key.strip().lower() in _HEADER_KEYS:
            header[key.strip().lower()] = value.strip()
            if key.strip().lower() == "output":
                _check_output(value.strip(), file, lineno, problems)
            continue
        if body or line.strip():
            body.append(line)
    if sections and "\n".join(body).strip():
        problems.append(Problem(file, None, None, "text before the first [system]/[user] section"))
    user = "\n".join(sections.get("user", [])).strip() if sections else "\n".join(body).strip()
    if not user:
        problems.append(Problem(file, None, "user", "the user text is empty"))
    if problems:
        raise DataError(problems)
    return PromptTemplate(
        name=header.get("name") or path.stem,
        version=header.get("version") or "file",
        system="\n".join(sections.get("system", [])).strip(),
        user=user,
        response_format=None,
        output=header.get("output") or "json",
        source=file,
    )
