"""The analyst triage queue: alerts wait for a limited number of analysts.

Alerts from every alerting detector join one first-come-first-served queue served by
``analysts`` analysts, around the clock (``24x7``) or in office hours (weekdays, from
``shift_start_hour`` for ``shift_hours`` in the firm's time zone). Triage takes a gamma-
distributed time (``triage_time_cv`` = 1 is exponential, 0 is fixed). An alert that has waited
longer than ``max_alert_age`` is dropped unreviewed (alert fatigue). A reviewed true alert is
confirmed with probability ``confirm_probability``; false alerts are dismissed. So false alarms
delay true ones, and enough of them push true ones past their age limit.

Two implementations give the same distributions:

* :class:`LazyTriageQueue` (``background.mode: fast``) never makes a SimPy event of a benign
  alert. Benign alerts arrive as pre-drawn, vectorised Poisson streams and are served by the
  FIFO multi-server recursion (each alert starts when it has arrived and an analyst is free and
  on shift) in plain Python, lazily: only up to the moment a true alert arrives, whose start
  under FIFO depends on earlier alerts alone, and at the end of the run for the statistics.
  A true alert then costs one SimPy event, its triage completion.
* :class:`TriageQueue` (``background.mode: exact``) is the event-by-event reference: every
  alert arrival and every triage completion is a SimPy event.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.core.limits import MAX_ANALYSTS
from sim.core.params import spec
from sim.world.calendar import PointStream

if TYPE_CHECKING:
    from sim.core.engine import Run
    from sim.world.background import Background
    from sim.world.places import BenignStream


@dataclass(frozen=True)
class TriageParams:
    """Parameters of the analyst team (config group ``triage``)."""

    analysts: int = spec(1, lo=0, hi=MAX_ANALYSTS, doc="analysts on shift at once")
    shift: str = spec("24x7", choices=("24x7", "office_hours"))
    shift_start_hour: float = spec(9.0, lo=0, hi=24, doc="office hours start, local time")
    shift_hours: float = spec(9.0, lo=0, hi=24, lo_open=True, doc="office hours length")
    utc_offset_hours: float = spec(9.0, lo=-12, hi=14, doc="the firm's time zone (Korea: +9)")
    triage_time: float = spec(0.25, duration=True, doc="mean time to triage one alert")
    triage_time_cv: float = spec(1.0, lo=0, hi=100,
                                 doc="coefficient of variation (1 = exponential)")
    max_alert_age: float = spec(math.inf, duration=True, allow_inf=True,
                                doc="alerts older than this are dropped unreviewed")
    confirm_probability: float = spec(0.9, lo=0, hi=1,
                                      doc="chance an analyst recognises a true alert")
    warmup: float = spec(168.0, duration=True,
                         doc="benign alerts start this long before the insider's first access, "
                             "so the insider meets the queue as it normally is, not empty")


@dataclass(slots=True)
class Alert:
    """One alert in the queue."""

    time: float
    detector: str
    true: bool
    counted: bool = True  # False for warm-up alerts (arrived before time 0): not in statistics


class _Team:
    """What both queue implementations share: parameters, counters, shifts, triage times."""

    def __init__(self, run: Run, params: TriageParams, background: Background) -> None:
        self.run = run
        self.env = run.env
        self.params = params
        self.background = background
        self.rng = run.rng("triage")
        self._backlog: dict | None = None  # tracing: the queue-backlog event of time 0
        self.true_alerts = 0
        self.false_alerts = 0
        self.warmup_alerts = 0  # benign alerts before time 0 (not in the statistics)
        self.dropped = 0
        self.triaged = 0
        self.total_wait = 0.0
        self.busy_time = 0.0
        if params.triage_time_cv > 0:
            self._shape = 1.0 / params.triage_time_cv ** 2
            self._scale = params.triage_time / self._shape
        else:
            self._shape = 0.0
            self._scale = params.triage_time
        self._office = params.shift == "office_hours"
        # local hours from the week's first shift start (Monday) at simulation time 0
        self._week_shift = (run.calendar.week_offset + params.utc_offset_hours
                            - params.shift_start_hour) % 168.0

    def _open_backlog(self) -> None:
        """Tracing, once a benign stream warms the queue up: write the ``queue-backlog`` event
        of time 0 first in the log; its counts are filled in when the warm-up is served."""
        if self._backlog is None and self.run.events is not None and self.params.warmup > 0:
            self.run.emit("queue-backlog", t=0.0, queue_length=0, analysts_busy=0)
            self._backlog = self.run.events[-1]

    # -- shifts ------------------------------------------------------------------------------
    def on_shift(self, t: float) -> bool:
        """Whether analysts work at simulation time ``t``."""
        if not self._office:
            return True
        day, into = divmod((t + self._week_shift) % 168.0, 24.0)
        return day < 5 and into < self.params.shift_hours

    def _next_shift_start(self, t: float) -> float:
        """The first shift start strictly after ``t``.

        Computed from the week and the day alone, not from ``t``'s offset into the day, so
        every ``t`` in the same off-shift gap gets the very same float (``t + (start - t)``
        rounds differently for different ``t``, which let a later alert start an ulp before an
        earlier one: FIFO broken by rounding).
        """
        y = t + self._week_shift
        week = math.floor(y / 168.0)
        day = int((y - 168.0 * week) // 24.0) + 1
        while day % 7 >= 5:
            day += 1
        return 168.0 * week + 24.0 * day - self._week_shift

    def start_from(self, t: float) -> float:
        """The earliest time >= ``t`` at which analysts are on shift."""
        return t if self.on_shift(t) else self._next_shift_start(t)

    # -- statistics --------------------------------------------------------------------------
    def utilisation(self, elapsed: float) -> float:
        """Busy time / (analysts x ``elapsed`` hours); nan without analysts or time."""
        if self.params.analysts == 0 or elapsed <= 0:
            return math.nan
        return self.busy_time / (self.params.analysts * elapsed)

    @property
    def mean_wait(self) -> float:
        """Mean wait (hours) of the alerts that were triaged; nan if none."""
        return self.total_wait / self.triaged if self.triaged else math.nan

    def _confirm_later(self, delay: float, detector: str, true: bool, confirmed: bool,
                       queue_length: int = -1) -> None:
        def done(_event: object) -> None:
            if self.run.events is not None:
                outcome = "confirmed" if confirmed else "missed" if true else "dismissed"
                fields = {"queue_length": queue_length} if queue_length >= 0 else {}
                self.run.emit("triage-end", detector=detector, true_positive=true,
                              outcome=outcome, **fields)
            if confirmed:
                self.run.confirm(detector)

        self.env.timeout(delay).callbacks.append(done)


class TriageQueue(_Team):
    """The event-by-event triage queue (exact mode, the reference).

    Args:
        run: the replication (environment, stream ``triage``, ``confirm`` callback).
        params: the team.
        background: the benign population whose false alarms join the queue.
    """

    def __init__(self, run: Run, params: TriageParams, background: Background) -> None:
        super().__init__(run, params, background)
        self.queue: deque[Alert] = deque()
        self.idle = params.analysts
        self._warm: list[tuple[float, str]] = []  # warm-up alerts (before time 0), unsettled
        self._settled = params.warmup <= 0
        if not self._settled:  # settle at time 0 exactly (or earlier, at a submit at time 0)
            self.env.timeout(0).callbacks.append(
                lambda _e: None if self._settled else self._settle())
        if self._office and params.analysts > 0:
            self.env.process(self._shifts())

    def _shifts(self):
        while True:
            yield self.env.timeout(self._next_shift_start(self.env.now) - self.env.now)
            self._dispatch()

    def benign_alarms(self, detector: str, stream: BenignStream, probability: float,
                      rng: np.random.Generator) -> None:
        """Benign observations of ``stream`` trip ``detector`` with ``probability``: each is
        an event.

        The warm-up before time 0 is drawn as a thinned stream (:meth:`_settle` puts it
        through the queue when the run starts): there is no SimPy time before 0.
        """
        if self.params.warmup > 0 and probability > 0:
            self._open_backlog()  # _settle counts it at time 0
            for t in stream.arrival_times(rng, probability, start=-self.params.warmup):
                if t >= 0:
                    break
                self._warm.append((t, detector))
        stream.alarms(self.run, rng, probability, lambda: self.submit(detector, False))

    def _settle(self) -> None:
        """Serve the warm-up alerts (FIFO recursion) and carry their state into time 0:
        analysts still busy are released when they finish, alerts still waiting join the
        queue (uncounted). Runs at time 0, before any alert of the run is queued."""
        assert self.env.now == 0, "the warm-up must be settled at time 0"
        self._settled = True
        free = [-self.params.warmup] * self.params.analysts
        self.warmup_alerts = len(self._warm)
        for arrival, detector in sorted(self._warm):
            if not free:
                break
            start = self.start_from(max(arrival, free[0]))
            if start >= 0:  # FIFO starts only grow: this and the rest still wait at time 0,
                if arrival + self.params.max_alert_age >= 0:  # unless aged out before it
                    self.queue.append(Alert(arrival, detector, False, counted=False))
                continue
            if start - arrival > self.params.max_alert_age:
                continue
            heapq.heapreplace(free, start + self._draw())
        self._warm.clear()
        busy = 0
        for f in free:
            if f > 0:
                busy += 1
                self.busy_time += f  # the part of a warm-up triage done after time 0
                self.idle -= 1
                self.env.timeout(f).callbacks.append(self._release)
        if self._backlog is not None:
            self._backlog.update(queue_length=len(self.queue), analysts_busy=busy)
        if self.idle and self.queue:  # an analyst free at time 0 takes the backlog now
            self._dispatch()

    def _release(self, _event: object) -> None:
        self.idle += 1
        self._dispatch()

    def _draw(self) -> float:
        return self.rng.gamma(self._shape, self._scale) if self._shape else self._scale

    def submit(self, detector: str, true: bool) -> None:
        """An alert from ``detector`` arrives now (``true``: it is about the insider)."""
        if not self._settled:
            self._settle()
        if true:
            self.true_alerts += 1
        else:
            self.false_alerts += 1
        self.queue.append(Alert(self.env.now, detector, true))
        if self.run.events is not None:
            self.run.emit("alert", detector=detector, true_positive=true,
                          queue_length=len(self.queue))
        if self.idle:
            self._dispatch()

    def _dispatch(self) -> None:
        if not self._settled:
            self._settle()
        now = self.env.now
        if not self.on_shift(now):
            return
        max_age = self.params.max_alert_age
        while self.idle and self.queue:
            alert = self.queue.popleft()
            wait = now - alert.time
            if wait > max_age:
                if alert.counted:
                    self.dropped += 1
                if self.run.events is not None:
                    self.run.emit("alert-dropped", detector=alert.detector,
                                  true_positive=alert.true, wait_hours=wait,
                                  **({} if alert.counted else {"warmup": True}))
                continue
            self.idle -= 1
            duration = self._draw()
            self.busy_time += duration  # work done after time 0, whoever's alert it was
            if alert.counted:
                self.triaged += 1
                self.total_wait += wait
            if self.run.events is not None:
                self.run.emit("triage-start", detector=alert.detector,
                              true_positive=alert.true, wait_hours=wait,
                              queue_length=len(self.queue),
                              **({} if alert.counted else {"warmup": True}))
            done = self.env.timeout(duration, alert)
            done.callbacks.append(self._done)

    def _done(self, event) -> None:
        alert: Alert = event.value
        self.idle += 1
        confirmed = alert.true and self.rng.random() < self.params.confirm_probability
        if self.run.events is not None and alert.counted:
            outcome = "confirmed" if confirmed else "missed" if alert.true else "dismissed"
            self.run.emit("triage-end", detector=alert.detector, true_positive=alert.true,
                          outcome=outcome, queue_length=len(self.queue))
        if confirmed:
            self.run.confirm(alert.detector)
        self._dispatch()

    def close(self) -> None:
        """Count alerts still waiting past their age limit at the end of the run as dropped."""
        if not self._settled:
            self._settle()
        now = self.env.now
        self.dropped += sum(1 for a in self.queue
                            if a.counted and now - a.time > self.params.max_alert_age)


_TRIAGED, _DROPPED, _WARMUP = 0, 1, 2


class LazyTriageQueue(_Team):
    """The fast triage queue: benign alerts are served by a recursion, not by SimPy events.

    FIFO with ``c`` analysts: alert ``i`` starts at ``s_i = on_shift(max(a_i, f))`` where
    ``f`` is the earliest time an analyst is free; it is dropped if ``s_i - a_i`` exceeds the
    age limit (the analyst then stays free); otherwise that analyst is busy until ``s_i +
    d_i``. Start times never depend on later arrivals, so benign alerts are only processed up
    to the arrival of a true alert (and, at the end, up to the end of the run). Same contract
    and same distributions as :class:`TriageQueue`.
    """

    _BLOCK = 1024  # triage times drawn per numpy call

    def __init__(self, run: Run, params: TriageParams, background: Background) -> None:
        super().__init__(run, params, background)
        self._free = [-params.warmup] * params.analysts  # heap: when each analyst is next free
        self._streams: list[tuple[str, PointStream]] = []  # benign alerts of each detector
        # (start, arrival, duration, kind) of every alert put through the recursion whose start
        # may fall after the end of the run, in order (FIFO starts never decrease); kind:
        # _TRIAGED, _DROPPED or _WARMUP. Statistics are booked at once, and close() undoes the
        # tail that starts after the end.
        self._started: list[tuple[float, float, float, int]] = []
        self._durations: list[float] = []
        self._confirm_rng = run.rng("triage:confirm")
        self._queue_starts: deque[float] | None = deque() if run.events is not None else None

    def benign_alarms(self, detector: str, stream: BenignStream, probability: float,
                      rng: np.random.Generator) -> None:
        """Benign observations of ``stream`` trip ``detector`` with ``probability``: a
        thinned stream."""
        if probability > 0:
            self._streams.append(
                (detector, stream.arrival_times(rng, probability, start=-self.params.warmup)))
            self._open_backlog()  # counted when the first _advance serves the warm-up

    def _duration(self) -> float:
        if not self._shape:
            return self._scale
        if not self._durations:
            self._durations = self.rng.gamma(self._shape, self._scale, self._BLOCK).tolist()
            self._durations.reverse()
        return self._durations.pop()

    def _serve(self, arrival: float, detector: str, true: bool) -> float | None:
        """Put one alert through the FIFO recursion; return its triage end, None if dropped.

        A warm-up alert (arrival before time 0) occupies an analyst but enters no statistic.
        """
        if arrival < 0:
            if self._free:
                start = self.start_from(max(arrival, self._free[0]))
                max_age = self.params.max_alert_age
                if start - arrival <= max_age:
                    duration = self._duration()
                    heapq.heapreplace(self._free, start + duration)
                    self._started.append((start, arrival, duration, _WARMUP))
                    self.busy_time += max(start + duration, 0.0) - max(start, 0.0)
                    if self._queue_starts is not None:  # tracing: it may still be waiting
                        self._queue_starts.append(start)
                        self._trace_warmup(start, start + duration, detector, start - arrival)
                elif self._queue_starts is not None and arrival + max_age >= 0:
                    self._trace_warmup(arrival + max_age, math.nan, detector, max_age)
            return None
        tracing = self.run.events is not None
        if tracing:
            q = self._queue_starts
            assert q is not None
            while q and q[0] <= arrival:
                q.popleft()
            self.run.emit("alert", t=arrival, detector=detector, true_positive=true,
                          queue_length=len(q) + 1)
        if not self._free:  # nobody to triage: it ages out
            self._started.append((math.inf, arrival, 0.0, _DROPPED))
            self.dropped += 1
            return None
        start = self.start_from(max(arrival, self._free[0]))
        wait = start - arrival
        if wait > self.params.max_alert_age:
            self._started.append((start, arrival, 0.0, _DROPPED))
            self.dropped += 1
            if tracing:
                self.run.emit("alert-dropped", t=arrival + self.params.max_alert_age,
                              detector=detector, true_positive=true, wait_hours=wait)
            return None
        duration = self._duration()
        heapq.heapreplace(self._free, start + duration)
        self._started.append((start, arrival, duration, _TRIAGED))
        self.triaged += 1
        self.total_wait += wait
        self.busy_time += duration
        if tracing:
            assert self._queue_starts is not None
            self._queue_starts.append(start)
            self.run.emit("triage-start", t=start, detector=detector, true_positive=true,
                          wait_hours=wait)
            if not true:
                self.run.emit("triage-end", t=start + duration, detector=detector,
                              true_positive=False, outcome="dismissed")
        return start + duration

    def _trace_warmup(self, start: float, end: float, detector: str, wait: float) -> None:
        """Tracing: a warm-up alert was busy (``start < 0 <= end``) or waiting at time 0; one
        still waiting leaves the queue at ``start``, into triage or, with ``end`` nan, aged
        out. Counted into the ``queue-backlog`` event of time 0."""
        backlog = self._backlog
        assert backlog is not None
        if start < 0:
            if end > 0:
                backlog["analysts_busy"] += 1
            return
        backlog["queue_length"] += 1
        action = "alert-dropped" if math.isnan(end) else "triage-start"
        self.run.emit(action, t=start, detector=detector, true_positive=False,
                      wait_hours=wait, warmup=True)

    def _advance(self, until: float) -> None:
        """Serve every benign alert that arrives before ``until``, in arrival order."""
        streams = self._streams
        if not streams:
            return
        if self.run.events is None and not self._office and self._free:
            if len(streams) == 1:
                arrivals = streams[0][1].take_before(until)
            else:  # merge the detectors' streams (each already sorted: timsort merges runs)
                arrivals = []
                for _name, stream in streams:
                    arrivals += stream.take_before(until)
                arrivals.sort()
            if arrivals:
                self._advance_fast(arrivals, until)
            return
        merged = sorted((t, k) for k, (_name, stream) in enumerate(streams)
                        for t in stream.take_before(until))
        for arrival, k in merged:
            if arrival >= 0:
                self.false_alerts += 1
            else:
                self.warmup_alerts += 1
            self._serve(arrival, streams[k][0], False)

    def _advance_fast(self, arrivals: list[float], until: float) -> None:
        """:meth:`_advance` for the common case (24x7 analysts, no trace): the recursion of
        :meth:`_serve`, inlined over the merged arrival times (all ``< until``), with the same
        arithmetic in the same order, so both give the same numbers to the last bit."""
        free, record = self._free, self._started.append
        max_age, heapreplace = self.params.max_alert_age, heapq.heapreplace
        durations, shape, scale = self._durations, self._shape, self._scale
        count = warm = triaged = dropped = 0
        # sums run on from the totals, alert by alert as in _serve, so a traced run (which
        # goes through _serve) rounds exactly as an untraced one
        wait, busy = self.total_wait, self.busy_time
        single = len(free) == 1  # one analyst: a float, not a heap
        f = free[0]
        for arrival in arrivals:
            counted = arrival >= 0  # warm-up alerts occupy analysts, enter no statistic
            if not single:
                f = free[0]
            start = arrival if arrival > f else f
            if start - arrival > max_age:
                if counted:
                    count += 1
                    dropped += 1
                    if start >= until:  # may start after the end of the run: close() decides
                        record((start, arrival, 0.0, _DROPPED))
                else:
                    warm += 1
                continue
            if not shape:
                d = scale
            else:
                if not durations:
                    durations.extend(self.rng.gamma(shape, scale, self._BLOCK).tolist())
                    durations.reverse()
                d = durations.pop()
            if single:
                f = start + d
            else:
                heapreplace(free, start + d)
            if counted:
                count += 1
                triaged += 1
                wait += start - arrival
                busy += d
                if start >= until:
                    record((start, arrival, d, _TRIAGED))
            else:
                warm += 1
                busy += max(start + d, 0.0) - max(start, 0.0)
                if start >= until:
                    record((start, arrival, d, _WARMUP))
        if single:
            free[0] = f
        self.false_alerts += count
        self.warmup_alerts += warm
        self.triaged += triaged
        self.dropped += dropped
        self.total_wait, self.busy_time = wait, busy

    def submit(self, detector: str, true: bool) -> None:
        """An alert from ``detector`` arrives now (``true``: it is about the insider)."""
        now = self.env.now
        self._advance(now)
        if true:
            self.true_alerts += 1
        else:
            self.false_alerts += 1
        end = self._serve(now, detector, true)
        if end is not None and true:
            confirmed = self._confirm_rng.random() < self.params.confirm_probability
            self._confirm_later(end - now, detector, True, confirmed)

    def close(self) -> None:
        """Serve the benign alerts up to the end of the run and settle the statistics.

        An alert counts as triaged if its triage started by the end, and as dropped if it
        waited longer than the age limit before its start or the end, whichever came first.
        """
        end = self.env.now
        self._advance(end)
        max_age = self.params.max_alert_age
        started = self._started
        # Statistics were booked as alerts went through the recursion; undo those that start
        # after the end (FIFO starts never decrease, so they are the tail).
        while started and started[-1][0] > end:
            start, arrival, duration, kind = started.pop()
            if kind == _TRIAGED:
                self.triaged -= 1
                self.total_wait -= start - arrival
                self.busy_time -= duration
            elif kind == _DROPPED:
                if end - arrival <= max_age:  # not yet too old when the run ended
                    self.dropped -= 1
            else:
                self.busy_time -= duration
        if self.run.events is not None:  # drop trace events of what happened after the end
            self.run.events[:] = [e for e in self.run.events if e["t"] <= end]
