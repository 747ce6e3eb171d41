"""Command-line options generated from config dataclasses: each knob, default and help once.

A config dataclass (``EvalConfig``, ``MPOConfig``, ...) declares every knob with its type, default
and ``metadata={"help": ...}``; :func:`add_dataclass_arguments` turns its fields into argparse
options on any (sub-)parser and :func:`dataclass_from_args` builds the config back from the parsed
namespace. Fields map to options by type:

* ``str``, ``int``, ``float``, ``Path`` (optionally ``| None``): one value of that type;
* ``bool`` defaulting to False: a ``--flag`` (``store_true``); defaulting to True or None: a
  ``--flag / --no-flag`` pair;
* ``tuple[T, ...]`` / ``list[T]``: one or more values (``nargs="+"``);
* a field with no default: a required option.

Field metadata refines that: ``help`` (a text, or a function returning one), ``choices``, ``metavar``, ``aliases`` (extra option
strings), ``flag`` (the option string instead of ``--field-name``), ``type`` (a converter for one
command-line token, e.g. :func:`parse_size` for ``224x224``; it replaces the type-derived one;
with ``nargs="+"`` it converts each of several tokens),
``action="append"`` (repeatable; the values are collected, a ``dict`` field gets ``dict(pairs)``),
``default_help`` (how a None default reads in the help) and ``cli=False`` (not an option).

Every help text ends with ``(default: X)`` in the same style. transformers' ``HfArgumentParser``
does the same job but importing it takes about 0.9 s (it loads ``transformers``), tripling the
start-up of ``visualact --help`` (0.33 s), and it has no tuple or ``HxW`` fields nor
``--no-flag`` spelling for our existing options; this module is the small part we need.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_SCALARS: tuple[type, ...] = (str, int, float, Path)


def parse_size(text: str) -> tuple[int, int]:
    """``"224x224"`` -> ``(224, 224)`` (height x width, both >= 1)."""
    try:
        h, w = text.lower().split("x")
        size = int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 224x224, got {text!r}") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"expected HxW with both sides >= 1, got {text!r}")
    return size


def parse_frame_size(text: str) -> tuple[int, int] | str:
    """``"224x224"`` -> ``(224, 224)``; ``"native"`` (the clip's own size) stays ``"native"``."""
    if text.strip().lower() == "native":
        return "native"
    try:
        return parse_size(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected HxW (e.g. 224x224) or 'native', got {text!r}"
        ) from None


def parse_key_value(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(KEY, value)``: VALUE read as JSON when it parses, else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return key, value


def comma_list(kind: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    """A converter for ``"2,4,8"`` -> ``(2, 4, 8)`` with a clear error on a bad item."""
    name = getattr(kind, "__name__", "value")

    def convert(text: str) -> tuple[T, ...]:
        try:
            values = tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {name}s, got {text!r}"
            ) from None
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return values

    convert.__name__ = f"{name}_list"
    return convert


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(hint, False)``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value))
    return str(value)


def field_help(f: dataclasses.Field) -> str:
    """A field's help text: ``metadata["help"]``, called first when it is a function (for a
    text computed when the parser is built, e.g. the registered agents)."""
    text = f.metadata.get("help", "")
    return str(text() if callable(text) else text)


def _help(f: dataclasses.Field, default: Any) -> str:
    """The field's help (``%`` escaped for argparse) plus ``(default: X)`` in one style."""
    text = field_help(f).rstrip().rstrip(".").replace("%", "%%")
    if "default_help" in f.metadata:
        shown: str | None = str(f.metadata["default_help"])
    elif (
        default is None
        or default is dataclasses.MISSING
        or isinstance(default, (dict, list, tuple))
        and not default
    ):
        shown = None
    elif isinstance(default, bool):
        shown = "on" if default else None
    else:
        shown = _show(default)
    if shown:
        text = f"{text} (default: {shown.replace('%', '%%')})" if text else f"default: {shown}"
    return text


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def option_name(f: dataclasses.Field) -> str:
    """The option string of a field: ``metadata["flag"]`` or ``--field-name``."""
    return str(f.metadata.get("flag") or "--" + f.name.replace("_", "-"))


def add_dataclass_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
    required: Iterable[str] = (),
) -> None:
    """Add one option per field of dataclass ``cls`` to ``parser``.

    ``include``/``exclude`` pick fields by name; ``defaults`` overrides a field's default for this
    command (shown in the help); ``required`` makes options required here.
    """
    hints = typing.get_type_hints(cls)
    chosen = set(include) if include is not None else None
    skipped = set(exclude)
    overrides = dict(defaults or {})
    must = set(required)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = ({*(chosen or ())} | skipped | set(overrides) | must) - known
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", True) or f.name in skipped:
            continue
        if chosen is not None and f.name not in chosen:
            continue
        default = overrides.get(f.name, _field_default(f))
        hint, optional = _unwrap_optional(hints[f.name])
        origin = typing.get_origin(hint)
        flags = [option_name(f), *f.metadata.get("aliases", ())]
        kwargs: dict[str, Any] = {"dest": f.name, "help": _help(f, default)}
        for key in ("choices", "metavar"):
            if key in f.metadata:
                kwargs[key] = f.metadata[key]
        if default is dataclasses.MISSING or f.name in must:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
        if hint is bool:
            if default is False and not optional:
                kwargs["action"] = "store_true"
            else:
                kwargs["action"] = argparse.BooleanOptionalAction
        elif "type" in f.metadata:
            kwargs["type"] = f.metadata["type"]
            if f.metadata.get("action") == "append":
                kwargs["action"] = "append"
                kwargs["default"] = []
            elif "nargs" in f.metadata:
                kwargs["nargs"] = f.metadata["nargs"]  # e.g. "+": the converter takes each item
        elif origin in (tuple, list):
            item = typing.get_args(hint)[0] if typing.get_args(hint) else str
            if item not in _SCALARS or (origin is tuple and ... not in typing.get_args(hint)):
                raise TypeError(f"{cls.__name__}.{f.name}: give metadata['type'] for {hint}")
            kwargs.update(nargs="+", type=item)
        elif hint in _SCALARS:
            kwargs["type"] = hint
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no command-line form for {hint}")
        parser.add_argument(*flags, **kwargs)


def given_fields(cls: type, argv: Sequence[str], **options: Any) -> set[str]:
    """The fields of ``cls`` whose options appear in ``argv`` (the command's own arguments, as
    :func:`add_dataclass_arguments` declares them with ``options``), as opposed to those left
    at their defaults: ``eval --resume`` takes the others from the run it resumes."""
    probe = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_dataclass_arguments(probe, cls, **options)
    for action in probe._actions:
        action.default = argparse.SUPPRESS
        action.required = False
    given, _ = probe.parse_known_args(list(argv))
    return set(vars(given))


def dataclass_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """Build ``cls`` from the parsed options it declares (absent ones keep their default).

    Lists become tuples for tuple fields and ``KEY=VALUE`` pairs a dict for dict fields;
    ``overrides`` win over the command line.
    """
    assert dataclasses.is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in overrides or not hasattr(args, f.name):
            continue
        value = getattr(args, f.name)
        hint, _ = _unwrap_optional(hints[f.name])
        origin = typing.get_origin(hint) or hint
        if isinstance(value, list) and origin is tuple:
            value = tuple(value)
        elif isinstance(value, list) and origin is dict:
            value = dict(value)
        values[f.name] = value
    values.update(overrides)
    return cls(**values)
