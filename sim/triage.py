"""The analyst triage queue: alerts wait for a limited number of analysts.

Alerts from every alerting detector join one first-come-first-served queue served by
``analysts`` analysts, around the clock (``24x7``) or in office hours (weekdays, from
``shift_start_hour`` for ``shift_hours`` in the firm's time zone). Triage takes a gamma-
distributed time (``triage_time_cv`` = 1 is exponential, 0 is fixed). An alert that has waited
longer than ``max_alert_age`` is dropped unreviewed (alert fatigue). A reviewed true alert is
confirmed with probability ``confirm_probability``; false alerts are dismissed. So false alarms
delay true ones, and enough of them push true ones past their age limit.

The queue costs one SimPy event per triage, none per waiting alert: analysts are callbacks on
service completions, not processes polling a store.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.params import spec

if TYPE_CHECKING:
    from sim.engine import Run


@dataclass(frozen=True)
class TriageParams:
    """Parameters of the analyst team (config group ``triage``)."""

    analysts: int = spec(1, lo=0, doc="analysts on shift at once")
    shift: str = spec("24x7", choices=("24x7", "office_hours"))
    shift_start_hour: float = spec(9.0, lo=0, hi=24, doc="office hours start, local time")
    shift_hours: float = spec(9.0, lo=0, hi=24, lo_open=True, doc="office hours length")
    utc_offset_hours: float = spec(9.0, lo=-12, hi=14, doc="the firm's time zone (Korea: +9)")
    triage_time: float = spec(0.25, duration=True, doc="mean time to triage one alert")
    triage_time_cv: float = spec(1.0, lo=0, doc="coefficient of variation (1 = exponential)")
    max_alert_age: float = spec(math.inf, duration=True, allow_inf=True,
                                doc="alerts older than this are dropped unreviewed")
    confirm_probability: float = spec(0.9, lo=0, hi=1,
                                      doc="chance an analyst recognises a true alert")


@dataclass(slots=True)
class Alert:
    """One alert in the queue."""

    time: float
    detector: str
    true: bool


class TriageQueue:
    """The triage queue of one replication.

    Args:
        run: the replication (environment, stream ``triage``, ``confirm`` callback).
        params: the team.
    """

    def __init__(self, run: Run, params: TriageParams) -> None:
        self.run = run
        self.env = run.env
        self.params = params
        self.rng = run.rng("triage")
        self.queue: deque[Alert] = deque()
        self.idle = params.analysts
        self.true_alerts = 0
        self.false_alerts = 0
        self.dropped = 0
        self.triaged = 0
        self.total_wait = 0.0
        self.busy_time = 0.0
        self.max_queue = 0
        if params.triage_time_cv > 0:
            self._shape = 1.0 / params.triage_time_cv ** 2
            self._scale = params.triage_time / self._shape
        else:
            self._shape = 0.0
            self._scale = params.triage_time
        self._office = params.shift == "office_hours"
        if self._office and params.analysts > 0:
            self._week_shift = (run.calendar.week_offset + params.utc_offset_hours) % 168.0
            self.env.process(self._shifts())

    # -- shifts ------------------------------------------------------------------------------
    def on_shift(self, t: float) -> bool:
        """Whether analysts work at simulation time ``t``."""
        if not self._office:
            return True
        local = (t + self._week_shift) % 168.0
        day, hour = divmod(local, 24.0)
        if day >= 5:
            return False
        start, length = self.params.shift_start_hour, self.params.shift_hours
        return start <= hour < start + length

    def _next_shift_start(self, t: float) -> float:
        local = (t + self._week_shift) % 168.0
        base = t - local
        start = self.params.shift_start_hour
        for day in range(8):
            candidate = base + day * 24.0 + start
            if candidate > t and day % 7 < 5:
                return candidate
        raise AssertionError("unreachable: a weekday comes within 8 days")

    def _shifts(self):
        while True:
            yield self.env.timeout(self._next_shift_start(self.env.now) - self.env.now)
            self._dispatch()

    # -- alerts ------------------------------------------------------------------------------
    def submit(self, detector: str, true: bool) -> None:
        """An alert from ``detector`` arrives now (``true``: it is about the insider)."""
        if true:
            self.true_alerts += 1
        else:
            self.false_alerts += 1
        self.queue.append(Alert(self.env.now, detector, true))
        if self.run.events is not None:
            self.run.emit("alert", detector=detector, true_positive=true,
                          queue_length=len(self.queue))
        if len(self.queue) > self.max_queue:
            self.max_queue = len(self.queue)
        if self.idle:
            self._dispatch()

    def _dispatch(self) -> None:
        now = self.env.now
        if not self.on_shift(now):
            return
        max_age = self.params.max_alert_age
        while self.idle and self.queue:
            alert = self.queue.popleft()
            wait = now - alert.time
            if wait > max_age:
                self.dropped += 1
                if self.run.events is not None:
                    self.run.emit("alert-dropped", detector=alert.detector,
                                  true_positive=alert.true, wait_hours=wait)
                continue
            self.idle -= 1
            self.triaged += 1
            self.total_wait += wait
            duration = (self.rng.gamma(self._shape, self._scale) if self._shape
                        else self._scale)
            self.busy_time += duration
            if self.run.events is not None:
                self.run.emit("triage-start", detector=alert.detector,
                              true_positive=alert.true, wait_hours=wait,
                              queue_length=len(self.queue))
            done = self.env.timeout(duration, alert)
            done.callbacks.append(self._done)

    def _done(self, event) -> None:
        alert: Alert = event.value
        self.idle += 1
        confirmed = alert.true and self.rng.random() < self.params.confirm_probability
        if self.run.events is not None:
            outcome = "confirmed" if confirmed else "missed" if alert.true else "dismissed"
            self.run.emit("triage-end", detector=alert.detector, true_positive=alert.true,
                          outcome=outcome, queue_length=len(self.queue))
        if confirmed:
            self.run.confirm(alert.detector)
        self._dispatch()

    def close(self) -> None:
        """Count alerts still waiting past their age limit at the end of the run as dropped."""
        now = self.env.now
        self.dropped += sum(1 for a in self.queue if now - a.time > self.params.max_alert_age)

    def utilisation(self, elapsed: float) -> float:
        """Busy time / (analysts x ``elapsed`` hours); nan without analysts or time."""
        if self.params.analysts == 0 or elapsed <= 0:
            return math.nan
        return self.busy_time / (self.params.analysts * elapsed)

    @property
    def mean_wait(self) -> float:
        """Mean wait (hours) of the alerts that were triaged; nan if none."""
        return self.total_wait / self.triaged if self.triaged else math.nan
