"""Typed, range-checked parameters built once from a plain config mapping.

Each component declares its parameters as a frozen dataclass whose fields carry their rules in
``metadata`` (see :func:`spec`). :func:`build` turns a mapping (a resolved Hydra node, a dict
from a test) into that dataclass, converting durations to hours and rejecting unknown keys,
wrong types and out-of-range values with a :class:`~sim.core.errors.ConfigError` that names the key.
The event loop then reads plain attributes, never OmegaConf nodes.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sim.core.errors import ConfigError
from sim.core.timeunits import parse_duration

T = TypeVar("T")


def spec(
    default: Any = dataclasses.MISSING,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    duration: bool = False,
    allow_inf: bool = False,
    choices: Sequence[str] | None = None,
    doc: str = "",
) -> Any:
    """A dataclass field with its validation rules.

    Args:
        default: the default value (a list default is copied per instance).
        lo, hi: inclusive bounds for numbers (``lo_open`` makes the lower bound exclusive).
        duration: the value is a duration (number of hours or ``'30d'``), stored in hours.
        allow_inf: a duration may be ``inf``/``never``.
        choices: the allowed strings.
        doc: one line for the reference docs.
    """
    meta = dict(lo=lo, hi=hi, lo_open=lo_open, duration=duration, allow_inf=allow_inf,
                choices=tuple(choices) if choices else None, doc=doc)
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _describe_range(meta: Mapping[str, Any]) -> str:
    lo, hi = meta["lo"], meta["hi"]
    left = "(" if meta["lo_open"] else "["
    if lo is not None and hi is not None:
        return f"in {left}{lo:g}, {hi:g}]"
    if lo is not None:
        return f"> {lo:g}" if meta["lo_open"] else f">= {lo:g}"
    return f"<= {hi:g}"


def _check_number(value: Any, kind: type, key: str, meta: Mapping[str, Any]) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if kind is float and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(key, f"must be a number, got {value!r}") from None
        else:
            name = "an integer" if kind is int else "a number"
            raise ConfigError(key, f"must be {name}, got {value!r}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(key, f"must be an integer, got {value!r}")
        value = int(value)
    else:
        value = float(value)
        if math.isnan(value):
            raise ConfigError(key, "must be a number, got nan")
    lo, hi = meta["lo"], meta["hi"]
    bad = (lo is not None and (value < lo or (meta["lo_open"] and value == lo))) or (
        hi is not None and value > hi
    )
    if bad:
        raise ConfigError(key, f"must be {_describe_range(meta)}, got {value!r}")
    return value


def _optional(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def convert(value: Any, annotation: Any, key: str, meta: Mapping[str, Any]) -> Any:
    """Convert one value to ``annotation`` under the rules in ``meta``; raise ConfigError."""
    if value is None and _optional(annotation):
        return None
    if meta.get("duration"):
        hours = parse_duration(value, key, allow_inf=meta.get("allow_inf", False))
        if meta.get("lo") is not None or meta.get("hi") is not None:
            return _check_number(hours, float, key, meta)
        return hours
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or str(origin) == "types.UnionType":
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return convert(value, inner[0], key, meta)
    if annotation in (int, float):
        return _check_number(value, annotation, key, meta)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {value!r}")
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(key, f"must be one of {', '.join(meta['choices'])}; got {value!r}")
        return value
    if origin in (tuple, list):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ConfigError(key, f"must be a list, got {value!r}")
        item = args[0] if args else Any
        items = [convert(v, item, f"{key}[{i}]", {**meta, "choices": meta.get("choices")})
                 for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(key, f"must be a mapping, got {value!r}")
        return dict(value)
    return value


def build(cls: type[T], mapping: Mapping[str, Any] | None, path: str = "") -> T:
    """Build the parameter dataclass ``cls`` from ``mapping``, validating every key.

    Args:
        cls: a dataclass whose fields were declared with :func:`spec`.
        mapping: the config values; missing keys take their defaults.
        path: dotted prefix for error messages (``detectors.audit``).

    Raises:
        ConfigError: an unknown key, a missing required key, or a bad value.
    """
    mapping = dict(mapping or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    prefix = f"{path}." if path else ""
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}",
                          f"unknown key; allowed keys are {', '.join(sorted(fields))}")
    values = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        if name in mapping:
            values[name] = convert(mapping[name], hints[name], key, f.metadata or {})
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(key, "is required")
    obj = cls(**values)
    check = getattr(obj, "check", None)
    if check is not None:
        try:
            check()
        except ConfigError as err:
            raise (err.under(path) if path else err) from None
    return obj


def makes(base: type) -> Any:
    """Mark a function as a factory that a config's ``_target_`` may name to build a ``base``.

    A ``_target_`` may name a subclass of what its key requires (a :class:`~sim.controls.detectors.
    Detector` under ``detectors.NAME``) or a function marked with this decorator for it (the
    network builders: ``@makes(Network)``). Nothing else is ever called, so a shared scenario
    file cannot run arbitrary code (``_target_: os.system``) through the config.

    Example::

        @makes(Network)
        def my_network(hosts: int = 10) -> Network: ...
    """

    def mark(func: Any) -> Any:
        func.__sim_makes__ = base
        return func

    return mark


def allowed_target(obj: Any, base: type) -> bool:
    """Whether ``obj`` (an imported ``_target_``) may be called to build a ``base``: a
    subclass of ``base``, or a function marked ``@makes(base)`` (or ``@makes`` of a subclass)."""
    if isinstance(obj, type):
        return issubclass(obj, base)
    made = getattr(obj, "__sim_makes__", None)
    return isinstance(made, type) and issubclass(made, base) and callable(obj)
