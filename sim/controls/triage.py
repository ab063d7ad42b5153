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

Queue disciplines (``discipline``):

* ``fifo``: first come, first served (the recursion above).
* ``priority``: non-preemptive priority by the alert's score (on the benign z scale of its
  detector; ties first come, first served): a free analyst takes the highest-scored alert
  waiting, so a true alert with a high score overtakes a backlog of low-scored false alarms.
* ``risk_based``: alerts add risk to the entity they are about and open *cases*
  (:mod:`sim.controls.cases`); analysts work cases by risk, each taking ``case_triage_time``.

Alert ageing applies to whatever waits under every discipline (alerts, or cases). In fast mode
``priority`` and ``risk_based`` are served by :class:`LazyPriorityQueue`: the same event loop
as the exact queue, in plain Python over the pre-drawn benign streams, advanced only as far as
the SimPy clock; a waiting true alert (or case) costs one SimPy event per analyst decision
until its triage starts.

:func:`offered_load` and :func:`team_summary` say whether the team keeps up
(``summary.json["triage"]``).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.controls.cases import INSIDER, RiskLedger
from sim.core.errors import ConfigError
from sim.core.limits import MAX_ANALYSTS
from sim.core.params import spec
from sim.world.calendar import PointStream

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sim.controls.detectors import Detector
    from sim.core.engine import Model, Run
    from sim.world.background import Background
    from sim.world.places import BenignStream

    #: draws ``n`` scores of benign alerts: ``scores(rng, n)``
    ScoreSampler = Callable[[np.random.Generator, int], np.ndarray]

DISCIPLINES = ("fifo", "priority", "risk_based")
#: keys that only the risk_based discipline reads (refused under the others)
RISK_KEYS = ("case_triage_time", "case_triage_time_cv", "risk_threshold", "risk_window",
             "risk_entities")


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
    discipline: str = spec("fifo", choices=DISCIPLINES,
                           doc="which waiting alert an analyst takes next: first come first "
                               "served, the highest score, or cases opened by entity risk")
    case_triage_time: float = spec(1.0, duration=True,
                                   doc="risk_based: mean time to work one case")
    case_triage_time_cv: float = spec(1.0, lo=0, hi=100,
                                      doc="risk_based: its coefficient of variation")
    risk_threshold: float = spec(15.0, lo=0, lo_open=True,
                                 doc="risk_based: risk (sum of alert scores) of one entity "
                                     "within risk_window that opens a case")
    risk_window: float = spec(24.0, duration=True, lo=0, lo_open=True, allow_inf=True,
                              doc="risk_based: how long an alert's risk counts")
    risk_entities: int = spec(1000, lo=1, hi=10**12,
                              doc="risk_based: benign entities the false alarms fall on")

    def check(self) -> None:
        if self.discipline != "risk_based":
            for name in RISK_KEYS:
                default = TriageParams.__dataclass_fields__[name].default
                if getattr(self, name) != default:
                    raise ConfigError(name, f"applies only to discipline risk_based, and "
                                            f"discipline is {self.discipline}; set "
                                            f"triage.discipline=risk_based or leave it out")


@dataclass(slots=True)
class Alert:
    """One alert in the queue (or, under ``risk_based``, one case)."""

    time: float
    detector: str
    true: bool
    counted: bool = True  # False for warm-up alerts (arrived before time 0): not in statistics
    score: float = 0.0  # priority: higher first (the alert's score, or the case's risk)
    case: bool = False  # a case opened by entity risk, triaged in case_triage_time
    start: float = math.nan  # when its triage started (priority and risk_based)
    end: float = math.nan  # when its triage ended
    dropped: bool = False  # aged out unreviewed
    member: int = 0  # a true alert's crew member (sim.agents.crew; 0: the lone insider)


def _gamma_shape_scale(mean: float, cv: float) -> tuple[float, float]:
    """(shape, scale) of a gamma with this mean and coefficient of variation; shape 0 for a
    fixed time (cv 0)."""
    if cv > 0:
        shape = 1.0 / cv ** 2
        return shape, mean / shape
    return 0.0, mean


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
        self.cases = 0  # risk_based: cases opened after time 0
        # warm-up items (alerts, or cases) that arrived more than max_alert_age before time
        # 0, so that their fate was sealed by then, and those of them dropped unreviewed: the
        # steady-state sample of the dropped fraction (a whole warm-up week of it)
        self.sealed = 0
        self.sealed_dropped = 0
        self._shape, self._scale = _gamma_shape_scale(params.triage_time, params.triage_time_cv)
        self._case_shape, self._case_scale = _gamma_shape_scale(params.case_triage_time,
                                                                params.case_triage_time_cv)
        self._ledger = (RiskLedger(params.risk_threshold, params.risk_window)
                        if params.discipline == "risk_based" else None)
        self._entity_rng = (run.rng("triage:entities") if self._ledger is not None
                            else None)  # (a stream costs tens of microseconds: only if read)
        self._score_streams: dict[str, int] = {}
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

    def _seal(self, arrival: float, dropped: bool) -> None:
        """Count a warm-up item whose fate is known (see ``sealed``)."""
        if arrival < -self.params.max_alert_age:
            self.sealed += 1
            self.sealed_dropped += dropped

    @property
    def mean_wait(self) -> float:
        """Mean wait (hours) of the alerts that were triaged; nan if none."""
        return self.total_wait / self.triaged if self.triaged else math.nan

    def _confirm_stream(self) -> np.random.Generator:
        """The stream of the confirmations (``triage:confirm``), made when a true alert is
        first triaged: a stream costs tens of microseconds, and most runs never read it."""
        if self._confirm_rng is None:
            self._confirm_rng = self.run.rng("triage:confirm")
        return self._confirm_rng

    # -- priority and risk_based: what the queue holds, and its bookkeeping -------------------
    def _score_rng(self, detector: str) -> np.random.Generator:
        """The stream of the scores of one benign stream of ``detector``."""
        k = self._score_streams[detector] = self._score_streams.get(detector, -1) + 1
        return self.run.rng(f"triage:scores:{detector}:{k}")

    def _item(self, t: float, detector: str, true: bool, score: float,
              entity: object = None, member: int = 0, key: int = 0) -> Alert | None:
        """What an alert at ``t`` puts in the queue: itself, or under ``risk_based`` the case
        it opens on its entity (None if it opens none). ``entity`` None: the insider's
        credential ``key`` for a true alert (a crew's own keys are entities apart, a shared
        one is one entity), a benign entity drawn at random for a false one. ``member``: the
        crew member a true alert is about, whom its confirmation identifies."""
        if self._ledger is None:
            return Alert(t, detector, true, t >= 0, score, member=member)
        if entity is None:
            entity = (INSIDER if key == 0 else f"{INSIDER}#{key}") if true else int(
                self._entity_rng.integers(self.params.risk_entities))
        risk = self._ledger.add(t, entity, score)
        if risk is None:
            return None
        if t >= 0:
            self.cases += 1
        if self.run.events is not None and t >= 0:
            self.run.emit("case-open", t=t, detector=detector, true_positive=true, risk=risk)
        return Alert(t, detector, true, t >= 0, risk, case=True, member=member)

    def _book_start(self, item: Alert, start: float, duration: float) -> None:
        """Statistics of a triage start (a warm-up item only adds its busy time after 0)."""
        item.start, item.end = start, start + duration
        if item.counted:
            self.triaged += 1
            self.total_wait += start - item.time
            self.busy_time += duration
        else:
            self.busy_time += max(start + duration, 0.0) - max(start, 0.0)
            self._seal(item.time, False)
        if self.run.events is not None and start >= 0:
            self.run.emit("triage-start", t=start, detector=item.detector,
                          true_positive=item.true, wait_hours=start - item.time,
                          **({} if item.counted else {"warmup": True}),
                          **({"case": True} if item.case else {}))
            if not item.true:
                self.run.emit("triage-end", t=start + duration, detector=item.detector,
                              true_positive=False, outcome="dismissed")

    def _book_drop(self, item: Alert) -> None:
        item.dropped = True
        if item.counted:
            self.dropped += 1
        else:
            self._seal(item.time, True)
        max_age = self.params.max_alert_age
        if self.run.events is not None and item.time + max_age >= 0:
            self.run.emit("alert-dropped", t=item.time + max_age, detector=item.detector,
                          true_positive=item.true, wait_hours=max_age,
                          **({} if item.counted else {"warmup": True}),
                          **({"case": True} if item.case else {}))

    def _confirm(self, detector: str, member: int) -> None:
        """The analyst confirms the insider (crew ``member``: the one the alert is about)."""
        if member:
            self.run.confirm(detector, member)
        else:  # the lone insider (and runs that know of no crew)
            self.run.confirm(detector)

    def _confirm_later(self, delay: float, detector: str, true: bool, confirmed: bool,
                       queue_length: int = -1, member: int = 0) -> None:
        def done(_event: object) -> None:
            if self.run.events is not None:
                outcome = "confirmed" if confirmed else "missed" if true else "dismissed"
                fields = {"queue_length": queue_length} if queue_length >= 0 else {}
                self.run.emit("triage-end", detector=detector, true_positive=true,
                              outcome=outcome, **fields)
            if confirmed:
                self._confirm(detector, member)

        self.env.timeout(delay).callbacks.append(done)


def _score_draw(team: _Team, detector: str,
                scores: ScoreSampler | None) -> Callable[[], float] | None:
    """One benign alert's score at a time from ``scores`` (drawn in blocks from the stream
    ``triage:scores:DETECTOR:K``, K counting the detector's benign streams); None under
    ``fifo``, which reads no scores."""
    if team.params.discipline == "fifo":
        return None
    if scores is None:
        return lambda: 0.0
    rng = team._score_rng(detector)
    buf: list[float] = []

    def draw() -> float:
        if not buf:
            buf.extend(reversed(scores(rng, 256).tolist()))
        return buf.pop()

    return draw


class _PriorityCore:
    """Non-preemptive priority service with ``c`` analysts, decision by decision, in plain
    Python (no SimPy): the event loop of ``priority`` and ``risk_based``.

    Items arrive in time order (:meth:`arrive`); whenever an analyst is free and on shift and
    items wait, the analyst takes the one with the highest score (ties: the earliest) at the
    decision time ``d = start_from(max(free, now))``, or drops it unreviewed if it waited longer
    than the age limit and takes the next. Decisions at a time depend only on arrivals up to
    it, so the loop can be advanced to any time and resumed (:meth:`decide`).

    Args:
        team: the statistics and draws (:meth:`_Team._book_start`, ``_book_drop``).
        start: the time analysts are first free (the start of the warm-up).
        draw: the triage time of an item.
    """

    _PURGE_AT = 4096  # waiting items before the aged ones are swept out of the heap

    def __init__(self, team: _Team, start: float, draw: Callable[[Alert], float]) -> None:
        self.team = team
        self.free = [start] * team.params.analysts  # heap: when each analyst is next free
        self.waiting: list[tuple[float, float, int, Alert]] = []  # (-score, time, seq, item)
        self.now = start
        self.draw = draw
        self._seq = 0
        self._purge_at = self._PURGE_AT

    def arrive(self, item: Alert) -> None:
        """``item`` arrives at ``item.time`` (not before an earlier arrival or decision)."""
        self.now = item.time
        heapq.heappush(self.waiting, (-item.score, item.time, self._seq, item))
        self._seq += 1
        if len(self.waiting) > self._purge_at:
            self._purge()

    def next_decision(self) -> float:
        """When the next analyst decision falls if nothing more arrives (inf: none)."""
        if not (self.waiting and self.free):
            return math.inf
        return self.team.start_from(max(self.free[0], self.now))

    def decide(self, t: float, inclusive: bool) -> None:
        """Make every decision before ``t`` (and at ``t`` if ``inclusive``)."""
        waiting, free = self.waiting, self.free
        max_age, start_from = self.team.params.max_alert_age, self.team.start_from
        office = self.team._office
        while waiting and free:
            f = free[0]
            d = f if f > self.now else self.now
            if office:
                d = start_from(d)
            if d > t or (d == t and not inclusive):
                return
            self.now = d
            item = heapq.heappop(waiting)[3]
            if d - item.time > max_age:
                self.team._book_drop(item)
                continue
            duration = self.draw(item)
            heapq.heapreplace(free, d + duration)
            self.team._book_start(item, d, duration)

    def _purge(self) -> None:
        """Sweep out the items that aged out while others kept overtaking them (booked as
        dropped now: none of them can ever start)."""
        oldest = self.now - self.team.params.max_alert_age
        keep = []
        for entry in self.waiting:
            if entry[1] < oldest:
                self.team._book_drop(entry[3])
            else:
                keep.append(entry)
        heapq.heapify(keep)
        self.waiting = keep
        self._purge_at = max(self._PURGE_AT, 2 * len(keep))

    def close(self, end: float) -> None:
        """At the end of the run: the items still waiting that are too old count as dropped,
        and busy time counts only up to the end."""
        for f in self.free:
            if f > end:
                self.team.busy_time -= f - end
        max_age = self.team.params.max_alert_age
        for entry in self.waiting:
            if end - entry[1] > max_age:
                self.team._book_drop(entry[3])
        self.waiting = []


class _ByScore:
    """The waiting line of ``priority`` and ``risk_based`` in the exact queue: the highest
    score first (ties: the earliest), with the part of a deque's interface the queue uses."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, float, int, Alert]] = []
        self._seq = 0

    def append(self, alert: Alert) -> None:
        heapq.heappush(self._heap, (-alert.score, alert.time, self._seq, alert))
        self._seq += 1

    def popleft(self) -> Alert:
        return heapq.heappop(self._heap)[3]

    def __len__(self) -> int:
        return len(self._heap)

    def __iter__(self):
        return (entry[3] for entry in self._heap)


class TriageQueue(_Team):
    """The event-by-event triage queue (exact mode, the reference).

    Args:
        run: the replication (environment, stream ``triage``, ``confirm`` callback).
        params: the team.
        background: the benign population whose false alarms join the queue.
    """

    def __init__(self, run: Run, params: TriageParams, background: Background) -> None:
        super().__init__(run, params, background)
        self.queue: deque[Alert] | _ByScore = (deque() if params.discipline == "fifo"
                                                else _ByScore())
        self.idle = params.analysts
        self._running: dict[int, float] = {}  # triages in progress: key -> end
        # warm-up alerts (before time 0), unsettled: (time, detector, score)
        self._warm: list[tuple[float, str, float]] = []
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
                      rng: np.random.Generator, scores: ScoreSampler | None = None) -> None:
        """Benign observations of ``stream`` trip ``detector`` with ``probability``: each is
        an event, scored by ``scores`` (default 0; read by ``priority`` and ``risk_based``).

        The warm-up before time 0 is drawn as a thinned stream (:meth:`_settle` puts it
        through the queue when the run starts): there is no SimPy time before 0.
        """
        draw = _score_draw(self, detector, scores)
        if self.params.warmup > 0 and probability > 0:
            self._open_backlog()  # _settle counts it at time 0
            for t in stream.arrival_times(rng, probability, start=-self.params.warmup):
                if t >= 0:
                    break
                # fifo draws no scores: its numbers stay as they were
                self._warm.append((t, detector, 0.0 if draw is None else draw()))
        if draw is None:
            stream.alarms(self.run, rng, probability, lambda: self.submit(detector, False))
        else:
            stream.alarms(self.run, rng, probability,
                          lambda: self.submit(detector, False, draw()))

    def _settle(self) -> None:
        """Serve the warm-up alerts (FIFO recursion) and carry their state into time 0:
        analysts still busy are released when they finish, alerts still waiting join the
        queue (uncounted). Runs at time 0, before any alert of the run is queued."""
        assert self.env.now == 0, "the warm-up must be settled at time 0"
        self._settled = True
        if self.params.discipline != "fifo":
            self._settle_by_score()
            return
        free = [-self.params.warmup] * self.params.analysts
        self.warmup_alerts = len(self._warm)
        for arrival, detector, _score in sorted(self._warm):
            if not free:
                break
            start = self.start_from(max(arrival, free[0]))
            if start >= 0:  # FIFO starts only grow: this and the rest still wait at time 0,
                if arrival + self.params.max_alert_age >= 0:  # unless aged out before it
                    self.queue.append(Alert(arrival, detector, False, counted=False))
                else:
                    self._seal(arrival, True)
                continue
            if start - arrival > self.params.max_alert_age:
                self._seal(arrival, True)
                continue
            self._seal(arrival, False)
            heapq.heapreplace(free, start + self._draw())
        self._warm.clear()
        busy = 0
        for f in free:
            if f > 0:
                busy += 1
                self.busy_time += f  # the part of a warm-up triage done after time 0
                self._release_at(f)
        if self._backlog is not None:
            self._backlog.update(queue_length=len(self.queue), analysts_busy=busy)
        if self.idle and self.queue:  # an analyst free at time 0 takes the backlog now
            self._dispatch()

    def _settle_by_score(self) -> None:
        """:meth:`_settle` for ``priority`` and ``risk_based``: the warm-up goes through the
        same decisions (:class:`_PriorityCore`) up to time 0."""
        core = _PriorityCore(self, -self.params.warmup, lambda a: self._draw(a.case))
        self.warmup_alerts = len(self._warm)
        for arrival, detector, score in sorted(self._warm):
            core.decide(arrival, False)
            item = self._item(arrival, detector, False, score)
            if item is not None:
                core.arrive(item)
        core.decide(0.0, False)
        self._warm.clear()
        busy = 0
        for f in core.free:
            if f > 0:  # its busy time after 0 was booked when the triage started
                busy += 1
                self._release_at(f)
        for entry in sorted(core.waiting):
            if entry[1] + self.params.max_alert_age >= 0:
                self.queue.append(entry[3])
            else:
                self._book_drop(entry[3])
        if self._backlog is not None:
            self._backlog.update(queue_length=len(self.queue), analysts_busy=busy)
        if self.idle and self.queue:
            self._dispatch()

    def _release_at(self, end: float) -> None:
        """An analyst busy with a warm-up triage until ``end`` (after time 0)."""
        self.idle -= 1
        key = -1 - sum(k < 0 for k in self._running)  # negative: never an id() of an alert
        while key in self._running:
            key -= 1
        self._running[key] = end
        self.env.timeout(end).callbacks.append(lambda _e: self._release(key))

    def _release(self, key: int) -> None:
        del self._running[key]
        self.idle += 1
        self._dispatch()

    def _draw(self, case: bool = False) -> float:
        if case:
            return (self.rng.gamma(self._case_shape, self._case_scale) if self._case_shape
                    else self._case_scale)
        return self.rng.gamma(self._shape, self._scale) if self._shape else self._scale

    def submit(self, detector: str, true: bool, score: float = 0.0, member: int = 0,
               key: int = 0) -> None:
        """An alert from ``detector`` with ``score`` arrives now (``true``: it is about the
        insider: crew ``member``, on credential ``key``)."""
        if not self._settled:
            self._settle()
        if true:
            self.true_alerts += 1
        else:
            self.false_alerts += 1
        item = self._item(self.env.now, detector, true, score, None, member, key)
        if item is not None:
            self.queue.append(item)
        if self.run.events is not None:
            self.run.emit("alert", detector=detector, true_positive=true,
                          queue_length=len(self.queue))
        if self.idle and item is not None:
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
            duration = self._draw(alert.case)
            self.busy_time += duration  # work done after time 0, whoever's alert it was
            if alert.counted:
                self.triaged += 1
                self.total_wait += wait
            if self.run.events is not None:
                self.run.emit("triage-start", detector=alert.detector,
                              true_positive=alert.true, wait_hours=wait,
                              queue_length=len(self.queue),
                              **({} if alert.counted else {"warmup": True}),
                              **({"case": True} if alert.case else {}))
            self._running[id(alert)] = now + duration
            done = self.env.timeout(duration, alert)
            done.callbacks.append(self._done)

    def _done(self, event) -> None:
        alert: Alert = event.value
        del self._running[id(alert)]
        self.idle += 1
        confirmed = alert.true and self.rng.random() < self.params.confirm_probability
        if self.run.events is not None and alert.counted:
            outcome = "confirmed" if confirmed else "missed" if alert.true else "dismissed"
            self.run.emit("triage-end", detector=alert.detector, true_positive=alert.true,
                          outcome=outcome, queue_length=len(self.queue))
        if confirmed:
            self._confirm(alert.detector, alert.member)
        self._dispatch()

    def close(self) -> None:
        """Count alerts still waiting past their age limit at the end of the run as dropped."""
        if not self._settled:
            self._settle()
        now = self.env.now
        self.dropped += sum(1 for a in self.queue
                            if a.counted and now - a.time > self.params.max_alert_age)
        # busy time counts only up to the end: take off what triages running then have left
        self.busy_time -= sum(end - now for end in self._running.values() if end > now)


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
        self._confirm_rng: np.random.Generator | None = None  # made when first read
        self._queue_starts: deque[float] | None = deque() if run.events is not None else None

    def benign_alarms(self, detector: str, stream: BenignStream, probability: float,
                      rng: np.random.Generator, scores: ScoreSampler | None = None) -> None:
        """Benign observations of ``stream`` trip ``detector`` with ``probability``: a
        thinned stream (FIFO reads no ``scores``)."""
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
                    self._seal(arrival, False)
                    if self._queue_starts is not None:  # tracing: it may still be waiting
                        self._queue_starts.append(start)
                        self._trace_warmup(start, start + duration, detector, start - arrival)
                else:
                    self._seal(arrival, True)
                    if self._queue_starts is not None and arrival + max_age >= 0:
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
        :meth:`_serve`, inlined over the merged arrival times (all ``< until``, increasing),
        with the same arithmetic in the same order, so both give the same numbers to the last
        bit. The warm-up alerts (arrival < 0) come first and go through a loop of their own."""
        free, record = self._free, self._started.append
        max_age, heapreplace = self.params.max_alert_age, heapq.heapreplace
        n = len(arrivals)
        # every triage time this call can need, next one last (pop): as many as alerts
        if self._shape:
            durations = self._durations
            while len(durations) < n:  # blocks drawn as _duration() would, only sooner
                block = self.rng.gamma(self._shape, self._scale, self._BLOCK).tolist()
                block.reverse()
                durations[:0] = block  # after every triage time already drawn
        else:
            durations = [self._scale] * n
        pop = durations.pop
        # sums run on from the totals, alert by alert as in _serve, so a traced run (which
        # goes through _serve) rounds exactly as an untraced one
        wait, busy = self.total_wait, self.busy_time
        split = bisect.bisect_left(arrivals, 0.0)  # warm-up alerts: before time 0
        sealed_dropped = 0
        # warm-up alerts occupy analysts and enter no statistic but the sealed sample
        for arrival in arrivals[:split] if split else ():
            f = free[0]
            start = arrival if arrival > f else f
            if start - arrival > max_age:
                if arrival < -max_age:
                    sealed_dropped += 1
                continue
            d = pop()
            end = start + d
            heapreplace(free, end)
            busy += (0.0 if end < 0.0 else end) - (0.0 if start < 0.0 else start)  # max(x, 0.0)
            if end > until:
                record((start, arrival, d, _WARMUP))
        dropped = 0
        for arrival in arrivals[split:] if split else arrivals:
            f = free[0]
            if arrival > f:  # an analyst is free: no wait (kept, max_alert_age >= 0), none added
                d = pop()
                end = arrival + d
                heapreplace(free, end)
                busy += d
                if end > until:
                    record((arrival, arrival, d, _TRIAGED))
                continue
            start = f
            if start - arrival > max_age:
                dropped += 1
                if start >= until:  # may start after the end of the run: close() decides
                    record((start, arrival, 0.0, _DROPPED))
                continue
            d = pop()
            end = start + d
            heapreplace(free, end)
            wait += start - arrival
            busy += d
            if end > until:  # may start, or end, after the end of the run
                record((start, arrival, d, _TRIAGED))
        self.false_alerts += n - split
        self.warmup_alerts += split
        self.triaged += n - split - dropped
        self.dropped += dropped
        # sealed: the warm-up alerts that arrived more than max_alert_age before time 0
        self.sealed += bisect.bisect_left(arrivals, -max_age, 0, split) if split else 0
        self.sealed_dropped += sealed_dropped
        self.total_wait, self.busy_time = wait, busy

    def submit(self, detector: str, true: bool, score: float = 0.0, member: int = 0,
               key: int = 0) -> None:
        """An alert from ``detector`` arrives now (``true``: it is about the insider, crew
        ``member``; FIFO reads no ``score`` nor ``key``)."""
        now = self.env.now
        self._advance(now)
        if true:
            self.true_alerts += 1
        else:
            self.false_alerts += 1
        end = self._serve(now, detector, true)
        if end is not None and true:
            confirmed = self._confirm_stream().random() < self.params.confirm_probability
            self._confirm_later(end - now, detector, True, confirmed, member=member)

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
        # busy time counts only up to the end: take off what triages running then have left
        for start, _arrival, duration, kind in started:
            if kind != _DROPPED and start + duration > end:
                self.busy_time -= start + duration - end
        if self.run.events is not None:  # drop trace events of what happened after the end
            self.run.events[:] = [e for e in self.run.events if e["t"] <= end]


class LazyPriorityQueue(_Team):
    """The fast queue of ``priority`` and ``risk_based``: benign alerts are not SimPy events.

    Benign alerts arrive as pre-drawn thinned streams, with their scores (and, under
    ``risk_based``, their entities) drawn in blocks, and go through :class:`_PriorityCore`
    only as far as the SimPy clock has come: under priority a later alert may overtake an
    earlier one, so unlike FIFO a start cannot be computed ahead. A true alert (or the case it
    opens) waits with one SimPy wake-up per analyst decision until its triage starts, then
    costs one more event, its triage completion. Same contract and same distributions as
    :class:`TriageQueue` with the same discipline.
    """

    _BLOCK = 1024  # triage times drawn per numpy call

    def __init__(self, run: Run, params: TriageParams, background: Background) -> None:
        super().__init__(run, params, background)
        self.core = _PriorityCore(self, -params.warmup, self._duration)
        # (detector, arrivals, score sampler, its stream) of every benign stream
        self._streams: list[tuple[str, PointStream, ScoreSampler | None,
                                  np.random.Generator]] = []
        self._durations: dict[bool, list[float]] = {False: [], True: []}
        self._confirm_rng: np.random.Generator | None = None  # made when first read
        self._pending: list[Alert] = []  # true items waiting for their triage to start
        self._wake_at = math.inf
        self._at_zero = params.warmup <= 0  # the warm-up has been served up to time 0

    def benign_alarms(self, detector: str, stream: BenignStream, probability: float,
                      rng: np.random.Generator, scores: ScoreSampler | None = None) -> None:
        """Benign observations of ``stream`` trip ``detector`` with ``probability``: a
        thinned stream, scored by ``scores`` (default 0)."""
        if probability > 0:
            self._streams.append((detector, stream.arrival_times(
                rng, probability, start=-self.params.warmup), scores,
                self._score_rng(detector)))
            self._open_backlog()

    def _duration(self, item: Alert) -> float:
        shape, scale = ((self._case_shape, self._case_scale) if item.case
                        else (self._shape, self._scale))
        if not shape:
            return scale
        block = self._durations[item.case]
        if not block:
            block.extend(reversed(self.rng.gamma(shape, scale, self._BLOCK).tolist()))
        return block.pop()

    def _advance(self, until: float) -> None:
        """Put every benign alert before ``until`` through the loop, and every decision
        before ``until``."""
        if not self._at_zero and until >= 0:
            self._at_zero = True
            self._advance(0.0)  # serve the warm-up to time 0 first: the backlog there
            if self._backlog is not None:
                self._backlog.update(queue_length=len(self.core.waiting),
                                     analysts_busy=sum(f > 0 for f in self.core.free))
        batch: list[tuple[float, float, int, int]] = []
        risk = self._ledger is not None
        for k, (_name, stream, scores, srng) in enumerate(self._streams):
            times = stream.take_before(until)
            if not times:
                continue
            n = len(times)
            sc = scores(srng, n).tolist() if scores is not None else [0.0] * n
            ents = (self._entity_rng.integers(self.params.risk_entities, size=n).tolist()
                    if risk else [0] * n)
            batch.extend(zip(times, sc, [k] * n, ents, strict=True))
        batch.sort()
        core, streams = self.core, self._streams
        tracing = self.run.events is not None
        office, start_from = self._office, self.start_from
        for t, score, k, entity in batch:
            free = core.free
            if core.waiting and free:  # a decision before t? (the test of decide, inlined)
                f = free[0]
                d = f if f > core.now else core.now
                if (start_from(d) if office else d) < t:
                    core.decide(t, False)
            if t >= 0:
                self.false_alerts += 1
            else:
                self.warmup_alerts += 1
            if risk:
                item = self._item(t, streams[k][0], False, score, entity)
                if item is not None:
                    core.arrive(item)
            else:
                core.arrive(Alert(t, streams[k][0], False, t >= 0, score))
            if tracing and t >= 0:
                self.run.emit("alert", t=t, detector=streams[k][0], true_positive=False,
                              queue_length=len(core.waiting))
        core.decide(until, False)

    def submit(self, detector: str, true: bool, score: float = 0.0, member: int = 0,
               key: int = 0) -> None:
        """An alert from ``detector`` with ``score`` arrives now (``true``: it is about the
        insider: crew ``member``, on credential ``key``)."""
        now = self.env.now
        self._advance(now)
        if true:
            self.true_alerts += 1
        else:
            self.false_alerts += 1
        item = self._item(now, detector, true, score, None, member, key)
        if item is not None:
            self.core.arrive(item)
        if self.run.events is not None:
            self.run.emit("alert", t=now, detector=detector, true_positive=true,
                          queue_length=len(self.core.waiting))
        self.core.decide(now, True)
        if item is not None and true:
            self._pending.append(item)
        self._check()

    def _check(self) -> None:
        """Settle the waiting true items whose triage started (their confirmation is one
        SimPy event), forget those aged out, and wake up at the next decision if any wait."""
        now = self.env.now
        max_age = self.params.max_alert_age
        waiting = []
        for item in self._pending:
            if not math.isnan(item.start):
                confirmed = self._confirm_stream().random() < self.params.confirm_probability
                self._confirm_later(item.end - now, item.detector, True, confirmed,
                                    member=item.member)
            elif not item.dropped and now - item.time <= max_age:
                waiting.append(item)
        self._pending = waiting
        if waiting:
            wake = self.core.next_decision()
            if wake < self._wake_at:
                self._wake_at = wake
                self.env.timeout(wake - now).callbacks.append(self._wake)

    def _wake(self, _event: object) -> None:
        now = self.env.now
        if now >= self._wake_at:
            self._wake_at = math.inf
        self._advance(now)
        self.core.decide(now, True)
        self._check()

    def close(self) -> None:
        """Serve the benign alerts up to the end of the run and settle the statistics: an
        item counts as triaged if its triage started by the end, as dropped if it waited
        longer than the age limit before its start or the end."""
        end = self.env.now
        self._advance(end)
        self.core.decide(end, True)
        self.core.close(end)


def make_queue(run: Run, params: TriageParams, background: Background,
               exact: bool) -> TriageQueue | LazyTriageQueue | LazyPriorityQueue:
    """The team's queue for one replication: the event-by-event reference (``exact``), or the
    fast one of the discipline."""
    if exact:
        return TriageQueue(run, params, background)
    if params.discipline == "fifo":
        return LazyTriageQueue(run, params, background)
    return LazyPriorityQueue(run, params, background)


# -- is the team keeping up? ------------------------------------------------------------------
def alerting(model: Model) -> list[Detector]:
    """The model's detectors that send alerts to the triage queue."""
    return [d for d in model.detectors if d.raises_alerts]


def check_team(params: TriageParams, detectors: Sequence[Detector]) -> None:
    """Refuse alerting detectors with nobody to review their alerts.

    Raises:
        ConfigError: ``triage.analysts`` is 0 while a detector raises alerts.
    """
    names = [d.name for d in detectors if d.raises_alerts]
    if params.analysts == 0 and names:
        raise ConfigError("triage.analysts", f"is 0, but detectors.{names[0]} sends alerts to "
                                             f"the triage queue and nobody would review them; "
                                             f"set triage.analysts >= 1 or remove the detector")


def shift_fraction(params: TriageParams) -> float:
    """The share of the week analysts are on shift."""
    return 1.0 if params.shift == "24x7" else 5.0 * params.shift_hours / 168.0


#: hours of benign alerts the case rate of risk_based is estimated from (at most _CASE_ALERTS)
_CASE_HOURS, _CASE_ALERTS = 8 * 168.0, 200_000


def case_rate(model: Model, seed: int = 0) -> float:
    """Cases per hour that the benign alerts open under ``risk_based``: the risk ledger run
    over ``_CASE_HOURS`` of the detectors' benign streams (their weekly rhythm included) with
    their scores and uniformly drawn entities; a Monte Carlo estimate from its own streams."""
    p = model.triage
    dets = alerting(model)
    rate = sum(d.false_alarm_rate() for d in dets)
    if rate <= 0:
        return 0.0
    hours = min(_CASE_HOURS, _CASE_ALERTS / rate)
    root = np.random.SeedSequence(seed, spawn_key=(2**31 - 1,))
    rng = np.random.default_rng(root)
    arrivals: list[tuple[float, float]] = []
    for det in dets:
        prob = det.false_alarm_probability()
        for stream in det.benign:
            times = stream.arrival_times(rng, prob, start=0.0).take_before(hours)
            scores = det.benign_scores(rng, len(times)).tolist()
            arrivals.extend(zip(times, scores, strict=True))
    arrivals.sort()
    ledger = RiskLedger(p.risk_threshold, p.risk_window)
    entities = rng.integers(p.risk_entities, size=len(arrivals)).tolist()
    cases = sum(ledger.add(t, e, sc) is not None
                for (t, sc), e in zip(arrivals, entities, strict=True))
    return cases / hours


def offered_load(model: Model, seed: int = 0) -> dict[str, float]:
    """What the benign alerts ask of the team, from the model (not from a run).

    Returns:
        ``alerts_per_hour`` (benign alerts, mean over the week), ``items_per_hour`` (what
        analysts work: alerts, or under ``risk_based`` the cases those alerts open,
        :func:`case_rate`), ``analysts_on_shift`` (mean over the shift pattern),
        ``offered_load`` (items per hour x mean triage time / analysts on shift: above 1 the
        queue grows without bound, held back only by the age limit) and ``relaxation_hours``
        (how long the queue takes to forget its start: ``1 / (c mu (1 - sqrt(rho))^2)`` below
        load 1 - the heavy-traffic relaxation time of the M/M/c queue - and the time the
        backlog takes to grow to the age limit, ``max_alert_age / (rho - 1)``, above it; inf
        with no limit).
    """
    p = model.triage
    alerts = sum(d.false_alarm_rate() for d in alerting(model))
    if p.discipline == "risk_based":
        items, service = case_rate(model, seed), p.case_triage_time
    else:
        items, service = alerts, p.triage_time
    on_shift = p.analysts * shift_fraction(p)
    work = items * service  # analyst-hours asked per hour
    load = work / on_shift if on_shift > 0 else (math.inf if work > 0 else 0.0)
    if load < 1:
        relax = (service / on_shift) / (1 - math.sqrt(load)) ** 2 if on_shift > 0 else 0.0
    elif load > 1:
        relax = p.max_alert_age / (load - 1)
    else:
        relax = math.inf
    return {"alerts_per_hour": alerts, "items_per_hour": items, "analysts_on_shift": on_shift,
            "offered_load": load, "relaxation_hours": relax}


def team_summary(model: Model, rows: Sequence[Any], seed: int = 0) -> dict[str, Any] | None:
    """``summary.json["triage"]``: is the team keeping up? None without a team.

    Keys: ``discipline``, ``analysts``, the entries of :func:`offered_load`,
    ``utilisation`` (analysts' busy time over their time on shift, mean over replications;
    a triage running at the end of a run counts whole, so a saturated team in runs of a few
    hours shows a little above 1),
    ``mean_wait_hours`` (of the items triaged, mean over replications),
    ``dropped_fraction`` (the share of items aged out unreviewed, among the warm-up items
    that arrived more than ``max_alert_age`` before time 0: their fate is sealed, and they
    cover the weekly rhythm, unlike the drops of a run that a detection ends after a few
    hours, when most of what waits is not yet too old; None when the warm-up is not longer
    than the age limit; 0 with no age limit),
    ``overloaded`` (offered load >= 1: the queue
    is unstable and only alert ageing bounds it) and ``warmup_hours``; ``warmup_short`` is
    true when the warm-up is under three relaxation times (the insider may meet a queue that
    has not reached its usual state).
    """
    p = model.triage
    if p.analysts == 0:
        return None
    load = offered_load(model, seed)
    utils = [r.analyst_utilisation for r in rows if math.isfinite(r.analyst_utilisation)]
    waits = [r.mean_triage_wait_hours for r in rows if math.isfinite(r.mean_triage_wait_hours)]
    sealed = sum(r.warmup_sealed for r in rows)
    if math.isinf(p.max_alert_age):
        dropped: float | None = 0.0  # nothing ever ages out
    else:
        dropped = sum(r.warmup_dropped for r in rows) / sealed if sealed else None
    shift = shift_fraction(p)
    return {
        "discipline": p.discipline,
        "analysts": p.analysts,
        **load,
        "utilisation": (sum(utils) / len(utils) / shift) if utils else None,
        "mean_wait_hours": sum(waits) / len(waits) if waits else None,
        "dropped_fraction": dropped,
        "overloaded": load["offered_load"] >= 1,
        "warmup_hours": p.warmup,
        "warmup_short": p.warmup < 3 * load["relaxation_hours"],
        "cases_mean": (sum(r.cases for r in rows) / len(rows)
                       if rows and p.discipline == "risk_based" else None),
    }

