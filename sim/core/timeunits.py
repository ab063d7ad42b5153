"""Durations in the engine's unit, the hour.

Simulation time is continuous and counted in hours from the insider's first access. Every
duration in a config may be a plain number (hours) or a string with a unit:

=========  ==============================  ===========
unit       meaning                         hours
=========  ==============================  ===========
``s``      second                          1/3600
``m``      minute (also ``min``)           1/60
``h``      hour                            1
``d``      day                             24
``w``      week                            168
``mo``     month = 1/12 of a Julian year   730.5
``y``      Julian year = 365.25 days       8766
=========  ==============================  ===========

A month is 30.4375 days, so twelve months make exactly one year. ``inf`` (or ``never``)
means an unbounded duration where a key allows it. Anything else is a :class:`ConfigError`.
"""

from __future__ import annotations

import math
import re

from sim.core.errors import ConfigError

HOUR = 1.0
MINUTE = HOUR / 60.0
SECOND = MINUTE / 60.0
DAY = 24.0 * HOUR
WEEK = 7.0 * DAY
YEAR = 365.25 * DAY
MONTH = YEAR / 12.0

UNITS: dict[str, float] = {
    "s": SECOND,
    "m": MINUTE,
    "min": MINUTE,
    "h": HOUR,
    "d": DAY,
    "w": WEEK,
    "mo": MONTH,
    "y": YEAR,
}

_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]+)?\s*$")
_ALLOWED = "a number of hours or a string like '90m', '4h', '30d', '2w', '5mo', '1y'"


def parse_duration(value: object, key: str = "", *, allow_inf: bool = False) -> float:
    """Return ``value`` as a non-negative number of hours.

    Args:
        value: a number (hours) or a string ``<number><unit>`` with a unit from :data:`UNITS`.
        key: the config key, named in the error message.
        allow_inf: accept ``inf``/``never`` as an unbounded duration.

    Raises:
        ConfigError: the value is not a duration, is negative, or is infinite where not allowed.
    """
    if isinstance(value, bool):
        raise ConfigError(key, f"must be a duration ({_ALLOWED}), got {value!r}")
    if isinstance(value, (int, float)):
        hours = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in ("inf", "never", "infinity"):
            hours = math.inf
        else:
            match = _PATTERN.match(text)
            if match is None or (match.group(2) or "h") not in UNITS:
                raise ConfigError(key, f"must be a duration ({_ALLOWED}), got {value!r}")
            hours = float(match.group(1)) * UNITS[match.group(2) or "h"]
    else:
        raise ConfigError(key, f"must be a duration ({_ALLOWED}), got {value!r}")
    if math.isnan(hours) or hours < 0:
        raise ConfigError(key, f"must be a non-negative duration, got {value!r}")
    if math.isinf(hours) and not allow_inf:
        raise ConfigError(key, f"must be a finite duration, got {value!r}")
    return hours


def format_hours(hours: float) -> str:
    """A short reading of a duration: ``40 s``, ``45 min``, ``5.2 h``, ``3.1 d``, ``4.8 mo``,
    ``1.3 y`` (``0 s`` only for zero: a sub-minute dwell is never printed as ``0 min``)."""
    if math.isinf(hours):
        return "never"
    if round(hours * 3600) < 60:
        return f"{hours * 3600:.0f} s"
    if hours < 1.0:
        return f"{hours / MINUTE:.0f} min"
    if hours < 2 * DAY:
        return f"{hours:.1f} h"
    if hours < 2 * MONTH:
        return f"{hours / DAY:.1f} d"
    if hours < YEAR - 1e-9:
        return f"{hours / MONTH:.1f} mo"
    return f"{hours / YEAR:.1f} y"
