"""Benign background activity: the employees and services whose behaviour causes false alarms.

Each employee produces behaviour observations (sessions, queries, downloads) as a Poisson
process following the firm's office rhythm. A detector that scores every observation raises a
false alarm on each with a small probability ``p``. By Poisson thinning, the false alarms then
form a Poisson process of rate ``p`` times the benign rate, so in ``fast`` mode only the false
alarms become events: a replication never pays for the millions of benign actions that cannot
change its outcome; the fast triage queue (:class:`sim.controls.triage.LazyTriageQueue`) takes them
as vectorised streams (:meth:`Background.arrival_times`) and makes no SimPy event of them at all.
``exact`` mode makes every benign observation an event and tests each one, and every alert an
event of the reference queue (:class:`sim.controls.triage.TriageQueue`); it is what the fast mode is
checked against, feasible for small networks only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.core.limits import MAX_EMPLOYEES
from sim.core.params import spec
from sim.world.calendar import PointStream, Rhythm
from sim.world.places import BenignStream

if TYPE_CHECKING:
    from sim.core.engine import Run

#: Exact mode refuses to simulate more benign events than this per replication.
EXACT_EVENT_LIMIT = 20_000_000


@dataclass(frozen=True)
class BackgroundParams:
    """Parameters of the benign population (config group ``background``)."""

    employees: int = spec(-1, lo=-1, hi=MAX_EMPLOYEES,
                          doc="benign users; -1 = the network's own count")
    observations_per_employee_per_day: float = spec(
        8.0, lo=0, doc="behaviour observations a detector scores per employee and day")
    profile: str | tuple[float, ...] = spec("office", doc="24-hour activity shape, firm time")
    utc_offset_hours: float = spec(9.0, lo=-12, hi=14, doc="the firm's time zone")
    weekend_factor: float = spec(0.2, lo=0, hi=100, doc="weekend activity relative to weekdays")
    mode: str = spec("fast", choices=("fast", "exact"),
                     doc="fast: only false alarms are events; exact: every observation is")


class Background:
    """The benign population of a job (read-only, shared by replications).

    Args:
        params: the population.
        employees: resolved head count (``params.employees`` or the network's).
        rhythm: the weekly activity pattern in the firm's time zone.
    """

    def __init__(self, params: BackgroundParams, employees: int, rhythm: Rhythm) -> None:
        self.params = params
        self.employees = employees
        self.rhythm = rhythm
        #: mean benign observations per hour over a week
        self.rate = employees * params.observations_per_employee_per_day / 24.0
        #: the staff population as one benign stream (a sensor on every asset sees all of it)
        self.stream = BenignStream(self.rate, rhythm, "")

    def expected_events(self, horizon_hours: float) -> float:
        """Expected number of benign observations in ``horizon_hours``."""
        return self.rate * horizon_hours

    def arrival_times(self, rng: np.random.Generator, probability: float,
                      start: float = 0.0) -> PointStream:
        """The times after ``start`` (may be negative: a warm-up) of benign observations that
        trip a detector with ``probability``: a Poisson process of rate ``probability * rate``
        (thinning), drawn in numpy blocks."""
        return self.stream.arrival_times(rng, probability, start)

    def alarms(self, run: Run, rng: np.random.Generator, probability: float,
               on_alarm: Callable[[], None]) -> None:
        """Exact mode: start a process that simulates every benign observation as a SimPy
        event and calls ``on_alarm()`` for each one that trips a detector with ``probability``.

        (Fast mode never calls this: the lazy triage queue takes :meth:`arrival_times`.)
        """
        self.stream.alarms(run, rng, probability, on_alarm)
