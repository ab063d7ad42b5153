"""Wall-clock time for a simulation that counts hours from the insider's first access.

Time-of-day patterns (the insider's night shift abroad, the firm's office hours, analyst shifts)
need to know which local hour and weekday a simulation time falls on. A :class:`Calendar`
anchors simulation time 0 to a UTC instant; a :class:`Rhythm` is a weekly intensity pattern in
some UTC offset, normalised to a mean of 1, used to thin a Poisson process. Offsets are fixed
(no daylight saving), which is exact for Korea and China.
"""

from __future__ import annotations

import bisect
import functools
import math
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from sim.core.errors import ConfigError

HOURS_PER_WEEK = 168

#: Named 24-hour activity shapes (relative weights per local hour 0..23).
PROFILES: dict[str, tuple[float, ...]] = {
    # Equal weight at every hour: a homogeneous Poisson process (used by the analytic checks).
    "flat": (1.0,) * 24,
    # Office work: most activity 09-18 with a lunch dip, a little in the evening, none at night.
    "office": (0, 0, 0, 0, 0, 0, 0.1, 0.3, 0.8, 1, 1, 1, 0.6, 1, 1, 1, 1, 0.8, 0.4, 0.2,
               0.1, 0.1, 0.05, 0),
    # Customers of a consumer service (assumption: the usual shape of e-commerce traffic,
    # rising through the morning, a lunch bump, the peak in the evening, quiet at night).
    "consumer": (0.3, 0.15, 0.1, 0.05, 0.05, 0.1, 0.2, 0.4, 0.6, 0.7, 0.8, 0.8, 0.9, 0.8,
                 0.75, 0.75, 0.8, 0.85, 0.9, 0.95, 1, 1, 0.8, 0.5),
    # Evenings and nights after a day job: the shape of a moonlighting insider.
    "evening": (0.6, 0.5, 0.3, 0.1, 0, 0, 0, 0, 0, 0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3,
                0.5, 0.8, 1, 1, 1, 0.8),
}


@dataclass(frozen=True)
class Calendar:
    """Anchors simulation time (hours) to wall-clock time.

    Args:
        start: the UTC instant of simulation time 0 (the insider's first access).
    """

    start: datetime

    @classmethod
    def parse(cls, text: str, key: str = "start") -> Calendar:
        """Build from an ISO 8601 timestamp with a UTC offset (``+09:00``, ``Z``).

        A timestamp without an offset is refused: whether ``09:00`` meant Seoul or UTC decides
        the time of day of every session and audit, so it is never guessed.
        """
        try:
            when = datetime.fromisoformat(str(text))
        except ValueError:
            raise ConfigError(key, f"must be an ISO 8601 date-time like 2025-06-24T09:00:00+09:00,"
                                   f" got {text!r}") from None
        if when.tzinfo is None:
            raise ConfigError(key, f"needs a UTC offset, e.g. {when.isoformat()}+09:00 (Korea) "
                                   f"or {when.isoformat()}Z (UTC); got {text!r}")
        return cls(when.astimezone(UTC))

    @property
    def week_offset(self) -> float:
        """Hours from the Monday 00:00 UTC before ``start`` to ``start``."""
        s = self.start
        return s.weekday() * 24 + s.hour + s.minute / 60 + s.second / 3600

    def at(self, hours: float) -> datetime:
        """The UTC instant of simulation time ``hours``."""
        return self.start + timedelta(hours=hours)


class Rhythm:
    """A weekly intensity pattern in a local time zone, with mean 1 over the week.

    Args:
        calendar: where simulation time 0 is.
        profile: a name from :data:`PROFILES` or 24 non-negative weights by local hour.
        utc_offset_hours: the local zone (``+9`` for Korea, ``+8`` for China).
        weekend_factor: multiplier of Saturday and Sunday relative to weekdays.
        key: config key named in errors.
    """

    def __init__(self, calendar: Calendar, profile: str | Sequence[float], utc_offset_hours: float,
                 weekend_factor: float = 1.0, key: str = "profile") -> None:
        if isinstance(profile, str):
            if profile not in PROFILES:
                raise ConfigError(key, f"must be one of {', '.join(PROFILES)} or 24 numbers,"
                                       f" got {profile!r}")
            weights = np.asarray(PROFILES[profile], dtype=float)
        else:
            weights = np.asarray(list(profile), dtype=float)
            if weights.shape != (24,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ConfigError(key, "must be 24 non-negative numbers (one per local hour)")
        week = np.tile(weights, 7)
        week[5 * 24:] *= weekend_factor  # local Saturday and Sunday
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            total = week.sum()
            if total <= 0:
                raise ConfigError(key, "has no active hour: at least one weight must be "
                                       "positive")
            week = week * (HOURS_PER_WEEK / total)
        if not (np.isfinite(total) and np.all(np.isfinite(week)) and week.max() > 0):
            # weights near the float limits (1e308, 1e-320): only their ratios matter
            raise ConfigError(key, "weights overflow or underflow when normalised; use "
                                   "numbers of ordinary size (only their ratios matter)")
        self.intensity: np.ndarray = week  # by local hour of week, Monday 00:00 first
        self.peak: float = float(week.max())
        self._shift = (calendar.week_offset + utc_offset_hours) % HOURS_PER_WEEK  # >= 0
        self.acceptance_by_hour: np.ndarray = week / self.peak
        self._accept = self.acceptance_by_hour.tolist()  # plain floats: cheap in the event loop

    @functools.cached_property
    def unusualness_by_hour(self) -> tuple[float, ...]:
        """``z`` of each local hour of the week: how unusual a benign observation at that hour is.

        ``p_h`` is the share of the week's benign traffic that falls in hours quieter than ``h``,
        plus half the share of hours exactly as busy (the mid-rank); ``z_h = Phi^-1(1 - p_h)``.
        For an observation drawn from this rhythm ``p`` is uniform and ``z`` N(0, 1), up to the
        steps of 168 hours (:func:`sim.controls.scoring.standardised` relies on it): the peak
        hours score well below 0, the quietest well above. A flat rhythm scores every hour 0
        (the hour then tells nothing). ``p`` is floored at 1e-9 (``z`` at most ~6): an hour with
        no benign traffic at all is as unusual as the scale goes, not infinitely so.
        """
        mass = self.intensity / self.intensity.sum()
        order = {float(v) for v in self.intensity}
        below = {v: float(mass[self.intensity < v].sum()) for v in order}
        tied = {v: float(mass[self.intensity == v].sum()) for v in order}
        normal = statistics.NormalDist()
        out = []
        for v in self.intensity.tolist():
            p = min(max(below[v] + 0.5 * tied[v], 1e-9), 1.0 - 1e-9)
            out.append(normal.inv_cdf(1.0 - p))
        return tuple(out)

    def unusualness(self, t: float) -> float:
        """``z`` of the local hour of the week at simulation time ``t`` (see
        :attr:`unusualness_by_hour`)."""
        return self.unusualness_by_hour[self.hour_of_week(t)]

    def hour_of_week(self, t: float) -> int:
        """Local hour of the week (0 = Monday 00-01) at simulation time ``t``."""
        return int(math.floor(t + self._shift)) % HOURS_PER_WEEK

    def acceptance(self, t: float) -> float:
        """Probability of keeping a candidate point at ``t`` when thinning at the peak rate."""
        return self._accept[math.floor(t + self._shift) % HOURS_PER_WEEK]

    def points(self, mean_rate: float, rng: np.random.Generator, start: float = 0.0,
               first_block: int = 64, max_block: int = 8192) -> PointStream:
        """All points after ``start`` of the Poisson process of :meth:`next_point`, in order.

        Vectorised thinning: candidates are drawn in numpy blocks (growing from
        ``first_block`` to ``max_block``), so a long stream costs a few numpy calls, not one
        Python call per point. Infinite; empty when the rate is zero.
        """
        return PointStream(self._blocks(mean_rate, rng, start, first_block, max_block))

    def _blocks(self, mean_rate: float, rng: np.random.Generator, start: float,
                first_block: int, max_block: int) -> Iterator[list[float]]:
        if mean_rate <= 0:
            return
        scale = 1.0 / (mean_rate * self.peak)
        accept, shift = self.acceptance_by_hour, self._shift
        t, block = start, first_block
        while True:
            times = t + np.cumsum(rng.exponential(scale, block))
            t = float(times[-1])
            hours = np.floor(times + shift).astype(np.int64) % HOURS_PER_WEEK
            yield times[rng.random(block) < accept[hours]].tolist()
            block = min(2 * block, max_block)

    def next_point(self, t: float, mean_rate: float, rng: np.random.Generator) -> float:
        """The first point after ``t`` of a Poisson process with rate ``mean_rate * intensity``.

        Thinning (Lewis and Shedler 1979): candidates at the peak rate, each kept with
        probability intensity/peak. Returns ``inf`` when the rate is zero.
        """
        if mean_rate <= 0:
            return math.inf
        peak_rate = mean_rate * self.peak
        accept = self._accept
        shift = self._shift
        while True:
            t += rng.exponential(1.0 / peak_rate)
            if rng.random() < accept[math.floor(t + shift) % HOURS_PER_WEEK]:
                return t


class PointStream:
    """Increasing points (hours) drawn lazily in blocks: an iterator that can also hand out
    every point before a time at once, or skip to the first point from a time.

    A block is drawn only when a caller needs a point beyond those already drawn, so how the
    stream is read never changes which numbers it holds. Consumers in the event loop use
    :meth:`take_before` and :meth:`first_from` (one bisection per call) instead of one
    ``next()`` per point.

    Args:
        blocks: lists of increasing points, each list after the previous one (may be empty).
    """

    __slots__ = ("_blocks", "_buf", "_i")

    def __init__(self, blocks: Iterable[list[float]]) -> None:
        self._blocks = iter(blocks)
        self._buf: list[float] = []
        self._i = 0

    @classmethod
    def of(cls, points: Iterable[float]) -> PointStream:
        """A finite stream of the given increasing points."""
        return cls(iter([list(points)]))

    def _fill(self) -> bool:
        """Draw blocks until one is unread; False when the stream has ended."""
        while self._i >= len(self._buf):
            block = next(self._blocks, None)
            if block is None:
                return False
            self._buf, self._i = block, 0
        return True

    def __iter__(self) -> PointStream:
        return self

    def __next__(self) -> float:
        if self._i >= len(self._buf) and not self._fill():
            raise StopIteration
        self._i += 1
        return self._buf[self._i - 1]

    def peek(self) -> float:
        """The next point without consuming it; ``inf`` when the stream has ended."""
        if self._i >= len(self._buf) and not self._fill():
            return math.inf
        return self._buf[self._i]

    def take_before(self, t: float) -> list[float]:
        """Consume and return every point ``< t``, in order."""
        out: list[float] = []
        while self._i < len(self._buf) or self._fill():
            buf, i = self._buf, self._i
            j = len(buf) if buf[-1] < t else bisect.bisect_left(buf, t, i)
            out += buf[i:j]
            self._i = j
            if j < len(buf):
                break
        return out

    def first_from(self, t: float) -> float:
        """Consume every point ``< t`` and then the first point ``>= t``; return it (``inf``
        when the stream ends first)."""
        while self._i < len(self._buf) or self._fill():
            buf = self._buf
            if buf[-1] < t:
                self._i = len(buf)
                continue
            j = bisect.bisect_left(buf, t, self._i)
            self._i = j + 1
            return buf[j]
        return math.inf
