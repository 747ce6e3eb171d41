"""Typed run records: ``config.json``, one ``predictions.jsonl`` line, ``summary.json``.

The one definition of what a run folder's records hold (pydantic v2 models), shared by every
reader and writer: :mod:`visualact_env.rundir` (the runner, ``--resume``, ``merge``, the
reports, ``compare``) and :func:`visualact_env.loading.parse_predictions` (``score``,
``data validate --predictions``). Their JSON Schemas are exported to ``docs/run-folder.md``
(:mod:`visualact_env.run_folder_doc`).

Versions and status:

* Every record carries ``format_version`` (:data:`FORMAT_VERSION`). A record of another
  version is refused with a :class:`RecordVersionError` naming the file and both versions.
  Records written before versioning (no ``format_version``) read as version 0
  (:data:`LEGACY_FORMAT_VERSION`): the same fields, no ``status``. A prediction line written
  by hand may leave ``format_version`` out; it is then read by the current rules.
* ``config.json`` and ``summary.json`` carry ``status`` (:data:`STATUSES`): ``running`` while
  the runner works, then ``complete`` (every selected video and sample answered),
  ``incomplete`` (some missing or failed: a stopped run, a shard, a partial merge) or
  ``failed`` (nothing answered, or a fatal error); ``status_reason`` says why in words.

Prediction records are strict (a closed set of fields) because people write them by hand: a
record needs ``actions`` (a list, possibly empty) or ``error``; ``sample`` is a non-negative
integer or absent/null (= 0); a misspelled field (``"action"``) is an error naming file, line
and field, never an empty answer; a tool's own data goes under ``meta``. ``config.json`` and
``summary.json`` are written by the program: their known fields are typed and checked, unknown
fields are kept.

This module imports pydantic (about 0.2 s): the environment's ``step`` never imports it; the
commands and :func:`~visualact_env.loading.parse_predictions` import it when they read records.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import DataError, Problem
from .limits import MAX_ACTION_CHARS, MAX_ACTIONS_PER_VIDEO, text_too_long, too_many_actions

if TYPE_CHECKING:
    from .records import Prediction

__all__ = [
    "FORMAT_VERSION",
    "LEGACY_FORMAT_VERSION",
    "STATUSES",
    "ActionRecord",
    "PredictionRecord",
    "RecordVersionError",
    "RunConfigRecord",
    "RunStatus",
    "RunSummaryRecord",
    "check_prediction",
    "json_schemas",
    "record_version",
    "validate_record",
]

FORMAT_VERSION = 1
"""The version of the run records this code reads and writes."""
LEGACY_FORMAT_VERSION = 0
"""The version given to records written before ``format_version`` existed."""
STATUSES = ("running", "complete", "incomplete", "failed")
RunStatus = Literal["running", "complete", "incomplete", "failed"]


_VERSION_HELP = "record format (records without it are version 0)"
_STATUS_HELP = "running, complete, incomplete or failed (required from version 1 on)"


class RecordVersionError(DataError):
    """A record of a format version this code does not read."""


# --------------------------------------------------------------------------------------------
# field types


NonEmptyStr = Annotated[StrictStr, StringConstraints(pattern=r"\S")]
"""A string with a non-blank character (checked in pydantic's core: no Python call)."""
Count = Annotated[StrictInt, Field(ge=0)]
Version = Annotated[StrictInt, Field(ge=0)]


class _Closed(BaseModel):
    """A record whose fields are all declared: an unknown (misspelled) field is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Open(BaseModel):
    """A record written by the program: known fields checked, unknown fields kept."""

    model_config = ConfigDict(extra="allow")


# --------------------------------------------------------------------------------------------
# predictions.jsonl


class ActionRecord(_Closed):
    """One proposed action. ``apl`` and ``proactive`` are null when the model did not say."""

    text: NonEmptyStr = Field(
        description="the action, one sentence",
        json_schema_extra={"maxLength": MAX_ACTION_CHARS},
    )
    apl: Annotated[StrictInt, Field(ge=0, le=4)] | None = Field(
        None, description="Action Prioritization Level 0 (routine) .. 4 (critical)"
    )
    proactive: StrictBool | None = Field(None, description="true = proactive, false = reactive")

    @field_validator("text")
    @classmethod
    def _not_too_long(cls, text: str) -> str:
        if message := text_too_long(text):  # limits.MAX_ACTION_CHARS
            raise PydanticCustomError("text_too_long", message)
        return text


class PredictionRecord(_Closed):
    """One line of ``predictions.jsonl``: what a policy proposed for one (video, sample).

    ``error`` marks a failure (scored as empty, counted as failed, retried by ``--resume``);
    ``parse_error`` an answer the parser could not read (scored as empty, counted as
    unparseable, kept).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["actions"], "properties": {"actions": {"type": "array"}}},
                {"required": ["error"], "properties": {"error": {"type": "string"}}},
            ]
        }
    )

    format_version: Version | None = Field(
        None, description="record format; written by the runner, may be left out by hand"
    )
    video_id: NonEmptyStr = Field(description="the video, as in the annotations")
    sample: Count | None = Field(
        None, description="sample index for several samples per video; absent or null = 0"
    )
    actions: list[ActionRecord] | None = Field(
        None,
        description="the proposals, in order (required unless error is set)",
        json_schema_extra={"maxItems": MAX_ACTIONS_PER_VIDEO},
    )
    error: StrictStr | None = Field(None, description="why the agent failed for good")
    raw_text: StrictStr | None = Field(None, description="the model's answer as generated")
    usage: dict[str, Any] | None = Field(None, description="token usage reported by the server")
    diagnostics: list[StrictStr] | None = Field(None, description="parser notes")
    cached: StrictBool | None = Field(None, description="answer served from the response cache")
    attempts: Annotated[StrictInt, Field(ge=1)] | None = Field(
        None, description="requests made for this answer"
    )
    parse_error: StrictStr | None = Field(None, description="why the answer was unreadable")
    latency_s: Annotated[StrictFloat, Field(ge=0)] | None = Field(
        None, description="seconds spent on this answer"
    )
    client_active_s: Annotated[StrictFloat, Field(ge=0)] | None = Field(
        None, description="human study: seconds the clip's page was visible (the browser's count)"
    )
    meta: dict[str, Any] | None = Field(None, description="free-form data of your own tool")

    @field_validator("actions", mode="before")
    @classmethod
    def _not_too_many(cls, actions: Any) -> Any:
        if isinstance(actions, list) and (message := too_many_actions(len(actions))):
            raise PydanticCustomError("too_many_actions", message)  # before checking each one
        return actions

    @model_validator(mode="after")
    def _actions_or_error(self) -> PredictionRecord:
        if self.actions is None and self.error is None:
            raise PydanticCustomError(
                "actions_or_error",
                "missing: a record needs 'actions' (a list, possibly empty) or 'error'",
                {"field": "actions"},
            )
        return self

    @property
    def key(self) -> tuple[str, int]:
        """``(video_id, sample)``: the record's identity within a run."""
        return self.video_id, int(self.sample or 0)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_json(self) -> dict[str, Any]:
        """The record as written: the fields it was given (a null ``sample`` as 0)."""
        out = self.model_dump(mode="json", exclude_unset=True)
        if "sample" in out:
            out["sample"] = self.key[1]
        return out

    def to_prediction(self) -> Prediction:
        """The scorer's :class:`~visualact_env.records.Prediction` (texts stripped; the
        optional fields given, ``sample`` among them (null as 0), kept in ``extra``)."""
        from .records import Action, Prediction

        actions = tuple(Action(a.text.strip(), a.apl, a.proactive) for a in self.actions or ())
        given = self.__pydantic_fields_set__
        extra = {name: getattr(self, name) for name in _EXTRA_FIELDS if name in given}
        if "sample" in extra:
            extra["sample"] = self.key[1]
        return Prediction(self.video_id, actions, self.error, extra)


_EXTRA_FIELDS = tuple(
    n for n in PredictionRecord.model_fields if n not in ("video_id", "actions", "error")
)
"""The optional fields of a prediction record, in order (a Prediction's ``extra``)."""


# --------------------------------------------------------------------------------------------
# config.json


class DataRecord(_Open):
    """The benchmark a run used."""

    name: StrictStr = Field(description="demo, synthetic-full, or the annotation file's path")
    path: StrictStr | None = Field(None, description="the annotation file, resolved")
    spec: StrictStr | None = Field(None, description="the --data value given")
    fingerprint: NonEmptyStr = Field(description="sha256 prefix of the canonical annotations")
    num_videos: Count | None = Field(None, description="videos in the whole benchmark")


class SelectionRecord(_Open):
    """Which videos of the benchmark the run covers (before sharding)."""

    scenarios: list[StrictStr] = Field(default_factory=list, description="empty = all")
    limit: Count | None = Field(None, description="--limit N, or null")


class RunConfigRecord(_Open):
    """``config.json``: what determines a run's result (the identity fields: agent, sampler,
    embedder, tau, data, selection, samples, seed, shard) plus provenance and status."""

    format_version: Version = Field(description=_VERSION_HELP)
    status: RunStatus | None = Field(None, description=_STATUS_HELP)
    status_reason: StrictStr | None = Field(None, description="why the run is not complete")
    agent: dict[str, Any] | StrictStr | None = Field(None, description="the agent's config()")
    prompt: Any = Field(None, description="the prompt template's name, version and text")
    sampler: dict[str, Any] | None = Field(None, description="frame sampler settings")
    embedder: StrictStr | None = Field(None, description="embedding model identity")
    tau: StrictFloat = Field(ge=-1, le=1, description="similarity threshold")
    data: DataRecord = Field(description="the benchmark used")
    selection: SelectionRecord | None = Field(None, description="the videos selected")
    samples: Annotated[StrictInt, Field(ge=1)] = Field(1, description="samples per video")
    seed: StrictInt = Field(0, description="base seed")
    shard: StrictStr | None = Field(None, description="I/N for a shard, else null")
    versions: dict[str, Any] | None = Field(None, description="package versions")
    git_commit: StrictStr | None = Field(None, description="the code's commit, when known")
    started: StrictStr | None = Field(None, description="UTC start time, ISO 8601")
    finished: StrictStr | None = Field(None, description="UTC end time, ISO 8601")
    eval_config: dict[str, Any] | None = Field(None, description="the command's options")
    merged_from: list[StrictStr] | None = Field(None, description="the shard folders merged")
    label: StrictStr | None = Field(None, description="the run's name in reports (--label)")
    launches: list[dict[str, Any]] | None = Field(
        None, description="each launch: world size, hand-out, per-process timing"
    )

    @model_validator(mode="after")
    def _status_from_version_1(self) -> RunConfigRecord:
        if self.format_version >= 1 and self.status is None:
            raise PydanticCustomError("missing", "Field required", {"field": "status"})
        return self


# --------------------------------------------------------------------------------------------
# summary.json


class Figures(BaseModel):
    """One block's figures by name (fractions in [0, 1]; null = undefined) and its counts."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, StrictFloat | None] = Field(init=False)

    counts: dict[str, StrictInt] | None = None


class FailureRecord(_Open):
    """A failed (video, sample) and its error."""

    video_id: StrictStr
    sample: Count = 0
    error: StrictStr | None


class RunSummaryRecord(_Open):
    """``summary.json``: figures, intervals, counts, failures and the run's config."""

    format_version: Version = Field(description=_VERSION_HELP)
    status: RunStatus | None = Field(None, description=_STATUS_HELP)
    status_reason: StrictStr | None = Field(None, description="why the run is not complete")
    run_dir: StrictStr | None = Field(None, description="the run folder")
    agent_label: StrictStr | None = Field(None, description="short name of the policy")
    prompt_version: StrictStr | None = None
    figures: list[StrictStr] = Field(description="figure names, in order")
    overall: Figures = Field(description="overall figures and counts")
    scenarios: dict[str, Figures] = Field(default_factory=dict, description="by scenario")
    overall_ci: dict[str, list[StrictFloat | None]] | None = Field(
        None, description="figure: [low, high] bootstrap interval"
    )
    scenario_ci: dict[str, dict[str, list[StrictFloat | None]]] | None = Field(
        None, description="scenario: figure: [low, high]"
    )
    counts: dict[str, StrictInt] = Field(
        default_factory=dict, description="videos, scored, failed, missing, unparsed, ..."
    )
    failures: list[FailureRecord] = Field(default_factory=list, description="failed videos")
    missing: list[StrictStr] = Field(default_factory=list, description="videos without answer")
    tau: StrictFloat | None = Field(None, description="similarity threshold scored at")
    embedder: StrictStr | None = Field(None, description="embedding model identity")
    tau_sweep: list[dict[str, Any]] | None = Field(None, description="figures at other taus")
    apl_confusion: dict[str, Any] | None = Field(
        None, description="matched pairs: ground-truth APL x predicted APL"
    )
    ci: dict[str, Any] | None = Field(None, description="how the intervals were computed")
    data: dict[str, Any] | None = Field(
        None, description="the config's data and the scored fingerprint"
    )
    warnings: list[StrictStr] = Field(default_factory=list)
    generated_by: StrictStr | None = Field(None, description="visualact version")
    config: dict[str, Any] | None = Field(None, description="the run's config.json")

    @model_validator(mode="after")
    def _status_from_version_1(self) -> RunSummaryRecord:
        if self.format_version >= 1 and self.status is None:
            raise PydanticCustomError("missing", "Field required", {"field": "status"})
        return self


# --------------------------------------------------------------------------------------------
# validation with file, line and field


def _field_name(loc: tuple[int | str, ...]) -> str | None:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_OWN_MESSAGES = ("missing", "actions_or_error", "text_too_long", "too_many_actions")
_TYPE_MESSAGES = {
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "float_type": "must be a number",
    "string_pattern_mismatch": "must be a non-empty string",
}


def _message(err: Mapping[str, Any], model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """Our wording of one pydantic error: "must be ..., got X", "missing", "unknown field"."""
    kind = err["type"]
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        owner: Any = model
        for part in loc[:-1]:
            if isinstance(part, str):
                owner = _nested_model(owner, part)
        known = list(owner.model_fields) if owner is not None else []
        lower = {name.lower(): name for name in known}
        close = difflib.get_close_matches(str(loc[-1]).lower(), list(lower), n=1, cutoff=0.6)
        hint = f"did you mean {lower[close[0]]!r}? " if close else ""
        own = "; put data of your own under 'meta'" if "meta" in known else ""
        return f"unknown field ({hint}known: {', '.join(known)}{own})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a JSON object, got {_shown(err.get('input'))}"
    message = str(err["msg"])
    if kind in _OWN_MESSAGES:
        return message
    got = _shown(err.get("input"))
    if kind in _TYPE_MESSAGES:
        return f"{_TYPE_MESSAGES[kind]}, got {got}"
    message = message.replace("Input should be ", "must be ", 1)
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"out of range: {got} ({message})"
    return f"{message}, got {got}"


def _nested_model(model: Any, name: str) -> Any:
    """The model class of field ``name`` of ``model`` (through lists and optionals), or None."""
    import typing

    field = getattr(model, "model_fields", {}).get(name)
    if field is None:
        return None
    stack = [field.annotation]
    while stack:
        tp = stack.pop()
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
        stack.extend(typing.get_args(tp))
    return None


def problems_of(
    error: ValidationError, model: type[BaseModel], file: str, line: int | None
) -> list[Problem]:
    """The problems of a pydantic ``ValidationError``, each naming file, line and field."""
    problems = []
    for err in error.errors(include_url=False):
        loc = tuple(err["loc"])
        field = (err.get("ctx") or {}).get("field") or _field_name(loc)
        problems.append(Problem(file, line, field, _message(err, model, loc)))
    return problems


def record_version(obj: Mapping[str, Any], file: str, line: int | None = None) -> int:
    """The record's ``format_version`` (0 when absent); a :class:`RecordVersionError` naming
    the file and the versions when this code cannot read it."""
    if "format_version" not in obj:
        return LEGACY_FORMAT_VERSION
    version = obj["format_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise RecordVersionError(
            [Problem(file, line, "format_version", f"must be an integer, got {_shown(version)}")]
        )
    if version not in (LEGACY_FORMAT_VERSION, FORMAT_VERSION):
        newer = "a newer" if version > FORMAT_VERSION else "an older"
        raise RecordVersionError(
            [
                Problem(
                    file,
                    line,
                    "format_version",
                    f"format_version {version} is not supported: this visualact reads "
                    f"format_version {FORMAT_VERSION} (and {LEGACY_FORMAT_VERSION}, records "
                    f"without format_version); the record was written by {newer} visualact",
                )
            ]
        )
    return version


def validate_record(model: type[Any], obj: Any, file: str, line: int | None = None) -> Any:
    """``obj`` as a ``model`` record, checked; a :class:`DataError` naming file, line and field.

    A record without ``format_version`` is read as version 0 (written before versioning).
    """
    if not isinstance(obj, Mapping):
        what = f"must be a JSON object, got {type(obj).__name__}"
        raise DataError([Problem(file, line, None, what)])
    record_version(obj, file, line)
    data = dict(obj)
    if model is not PredictionRecord and "format_version" not in data:
        data["format_version"] = LEGACY_FORMAT_VERSION
    try:
        record = model.model_validate(data)
    except ValidationError as e:
        raise DataError(problems_of(e, model, file, line)) from None
    return record


def check_prediction(
    obj: Any, file: str, line: int | None
) -> tuple[PredictionRecord | None, list[Problem]]:
    """One prediction line: the record, or None and its problems (file, line and field)."""
    try:
        return validate_record(PredictionRecord, obj, file, line), []
    except DataError as e:
        return None, list(e.problems)


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each record, by file name."""
    return {
        "config.json": RunConfigRecord.model_json_schema(),
        "predictions.jsonl (one line)": PredictionRecord.model_json_schema(),
        "summary.json": RunSummaryRecord.model_json_schema(),
    }
