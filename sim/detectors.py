"""Detectors: the controls that compete to confirm the insider.

A :class:`Detector` is built once per job from its config (``_target_`` names the class, the
other keys are its parameters, validated by :func:`sim.params.build`). For each replication the
engine calls :meth:`Detector.start`, which starts the detector's SimPy processes and returns a
:class:`Watch`, the per-replication state that receives the insider's actions through hooks that
do nothing unless overridden. A detector ends the dwell by calling ``run.confirm(name)``
(directly, or through the triage queue for alerting detectors); a preventive control ends the
insider's access with ``run.prevent(name)`` without confirming anything.

Writing a detector: subclass :class:`Detector`, set ``Params`` to a frozen dataclass declared
with :func:`sim.params.spec`, implement ``start``. Each detector draws from its own streams
(``run.rng(f"detector:{name}")``), so adding one never changes another's draws.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sim.params import build, spec

if TYPE_CHECKING:
    from sim.engine import Model, Run
    from sim.insider import Session


def upper_tail(z: float) -> float:
    """P(N(0, 1) > z), the standard normal upper tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def delay_to(now: float, t: float) -> float:
    """The largest delay ``d >= 0`` with ``now + d <= t``: a timer with it lands on ``t`` or
    an ulp or two before it (some sums cannot hit ``t`` exactly, by rounding); from there
    ``t - landed`` is exact, so a second timer lands on ``t`` to the last bit."""
    d = t - now
    while d > 0 and now + d > t:
        d = math.nextafter(d, -math.inf)
    return max(d, 0.0)


class Watch:
    """A detector's state in one replication. Hooks default to doing nothing."""

    def on_session_start(self, session: Session) -> None:
        """The insider started ``session`` (now)."""

    def on_session_end(self, session: Session, taken: int) -> None:
        """The insider's ``session`` ended now, having taken ``taken`` records.

        ``run.insider.next_start`` is already the start of the next session (``inf`` if there
        is none)."""

    def on_access_end(self, reason: str) -> None:
        """The insider's access ended now (``reason``: containment, a control's name,
        ``expired`` or ``exhausted``); no session starts after this. Called before the end
        hook of a session cut short."""


class Detector(ABC):
    """A control that may confirm the insider (or end their access).

    Args:
        **params: the detector's parameters; see its ``Params`` dataclass.

    Raises:
        ConfigError: a parameter is unknown, missing or out of range (key relative to the
            detector, e.g. ``coverage``; the app puts ``detectors.<name>.`` in front).
    """

    Params: ClassVar[type[Any]]
    #: Name in results (``detected_by``); the app sets it to the config key.
    name: str = ""
    #: Whether it scores every benign observation (and so raises false alarms from them).
    scores_benign_activity: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = build(self.Params, params)
        self.name = self.name or type(self).__name__.lower()

    def prepare(self, model: Model) -> None:  # noqa: B027 - a hook, empty unless overridden
        """Called once per job after the model is built (read the network, background...)."""

    @abstractmethod
    def start(self, run: Run) -> Watch:
        """Start this detector's processes for one replication and return its watch."""

    def describe(self) -> str:
        """One line for the printed summary."""
        return f"{self.name} ({type(self).__name__})"


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _NoParams:
    pass


class NullDetector(Detector):
    """Never detects anything: the baseline of "no control"."""

    Params = _NoParams

    def start(self, run: Run) -> Watch:
        return Watch()


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditParams:
    interval: float = spec(730.5, duration=True, lo=0, lo_open=True,
                           doc="time between audits (calendar cadence; 1mo = monthly)")
    coverage: float = spec(0.1, lo=0, hi=1, doc="share of logs/accounts an audit reviews")
    recognition: float = spec(0.5, lo=0, hi=1,
                              doc="chance the auditor recognises reviewed insider activity")
    duration: float = spec(0.0, duration=True, doc="time from an audit's start to its finding")
    lookback: float = spec(math.nan, duration=True, allow_inf=True,
                           doc="period each audit reviews; default = interval")
    retention: float = spec(8766.0, duration=True, lo=0, lo_open=True, allow_inf=True,
                            doc="log retention window (Korea: 1 y, 2 y for 50k+ subjects)")
    phase: float | None = spec(None, duration=True,
                               doc="time of the first audit; unset = uniform over one interval")


class PeriodicAudit(Detector):
    """Periodic manual review of access logs.

    Every ``interval`` (first audit at a uniformly random phase unless ``phase`` is set), an
    audit reviews the logs of the last ``lookback`` hours still within ``retention``. If the
    insider was active in that window, the audit catches them with probability
    ``coverage * recognition``, reported ``duration`` after the audit starts. For an insider
    active throughout, the mean dwell is ``T/p - T/2`` (T = interval, p = coverage*recognition).
    """

    Params = AuditParams

    @property
    def probability(self) -> float:
        """Chance an audit that has insider activity in front of it catches it."""
        return self.params.coverage * self.params.recognition

    def start(self, run: Run) -> Watch:
        run.env.process(self._audits(run, run.rng(f"detector:{self.name}")))
        return Watch()

    def _audits(self, run: Run, rng):
        p = self.params
        env = run.env
        lookback = p.interval if math.isnan(p.lookback) else p.lookback
        window = min(lookback, p.retention)
        prob = self.probability
        first = rng.random() * p.interval if p.phase is None else p.phase
        yield env.timeout(first)
        while True:
            now = env.now
            run.periodic_checks += 1
            hit = rng.random() < prob
            present = run.insider.active_between(now - window, now)
            if run.events is not None:
                run.emit("audit", detector=self.name, window_start=max(now - window, 0.0),
                         window_end=now, coverage=p.coverage, insider_in_window=present,
                         found=hit and present)
            if hit and present:
                if p.duration > 0:
                    env.timeout(p.duration).callbacks.append(lambda _e: run.confirm(self.name))
                else:
                    run.confirm(self.name)
            yield env.timeout(p.interval)


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonitoringParams:
    threshold: float = spec(3.0, doc="alert threshold on the benign score scale (z)")
    dprime: float = spec(3.0, lo=0, doc="separability of the insider's sessions (binormal d')")
    latency: float = spec(0.25, duration=True, doc="analytics latency, session to alert")


class ContinuousMonitoring(Detector):
    """Continuous behavioural analytics feeding the triage queue.

    Benign scores are N(0, 1) and the insider's N(d', 1) (a binormal ROC), so one ``threshold``
    sets both rates consistently: false-positive rate ``P(Z > threshold)`` per benign
    observation, true-positive rate ``P(Z > threshold - d')`` per insider session. Alerts reach
    the triage queue after ``latency``; benign ones come from the background population.
    """

    Params = MonitoringParams
    scores_benign_activity = True

    @property
    def true_positive_rate(self) -> float:
        return upper_tail(self.params.threshold - self.params.dprime)

    @property
    def false_positive_rate(self) -> float:
        return upper_tail(self.params.threshold)

    def start(self, run: Run) -> Watch:
        run.triage.benign_alarms(self.name, self.false_positive_rate,
                                 run.rng(f"detector:{self.name}:benign"))
        return _AlertOnSession(run, self.name, self.params.latency,
                               run.rng(f"detector:{self.name}"), self.true_positive_rate)


class _AlertOnSession(Watch):
    """Raises a true alert for an insider session with a fixed probability."""

    def __init__(self, run: Run, name: str, latency: float, rng, probability: float,
                 rule=None) -> None:
        self.run, self.name, self.latency = run, name, latency
        self.rng, self.probability, self.rule = rng, probability, rule

    def on_session_start(self, session: Session) -> None:
        fires = self.rule(session) if self.rule else self.rng.random() < self.probability
        if not fires:
            return
        if self.latency > 0:
            self.run.env.timeout(self.latency).callbacks.append(
                lambda _e: self.run.triage.submit(self.name, True))
        else:
            self.run.triage.submit(self.name, True)


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VolumeParams:
    max_requests_per_ip_hour: float = spec(1000.0, lo=0, lo_open=True,
                                           doc="rule fires when one IP exceeds this rate")
    benign_trip_probability: float = spec(1e-4, lo=0, hi=1,
                                          doc="chance a benign observation trips the rule")
    latency: float = spec(0.25, duration=True)


class VolumeThreshold(Detector):
    """Static threshold rules: alert when a source IP's request rate exceeds a limit.

    Deterministic for the insider: a session whose per-IP rate exceeds the limit raises a true
    alert; an insider who spreads requests over enough IPs stays under it for ever. Benign
    bursts trip it with ``benign_trip_probability`` per observation.
    """

    Params = VolumeParams
    scores_benign_activity = True

    def start(self, run: Run) -> Watch:
        limit = self.params.max_requests_per_ip_hour
        run.triage.benign_alarms(self.name, self.params.benign_trip_probability,
                                 run.rng(f"detector:{self.name}:benign"))
        return _AlertOnSession(run, self.name, self.params.latency, None, 1.0,
                               rule=lambda s: s.requests_per_ip_hour > limit)


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExternalParams:
    base_mean_time: float = spec(math.inf, duration=True, allow_inf=True, lo=0, lo_open=True,
                                 doc="mean time to outside discovery with nothing leaked")
    mean_time_per_million: float = spec(131490.0, duration=True, allow_inf=True, lo=0,
                                        lo_open=True,
                                        doc="each million leaked records adds a hazard of "
                                            "1/this (default 15 y)")


class ExternalDiscovery(Detector):
    """Customers, press or the attacker's own extortion reveal the breach.

    A hazard ``1/base_mean_time + (leaked / 1e6) / mean_time_per_million`` per hour that grows
    with the records leaked so far (updated when each session ends). Exact: the discovery time
    is where the cumulative hazard reaches a unit-exponential draw.
    """

    Params = ExternalParams

    def start(self, run: Run) -> Watch:
        return _Hazard(run, self.name, self.params, run.rng(f"detector:{self.name}"))


class _Hazard(Watch):
    """The discovery clock of one replication.

    The hazard only changes when a session ends, so the discovery time ``due`` (where the
    cumulative hazard reaches the unit-exponential budget) is computed then, and a SimPy timer
    is armed only when ``due`` falls before the insider's next action (the next session start,
    or the end of the session that starts) or after the insider stops; otherwise the next
    hook decides again. A replication thus pays for one or two timers, not one per session.
    """

    def __init__(self, run: Run, name: str, params: ExternalParams, rng) -> None:
        self.run, self.name = run, name
        self.base = 1.0 / params.base_mean_time
        self.per_record = 1.0 / (params.mean_time_per_million * 1e6)
        self.budget = rng.exponential(1.0)  # cumulative hazard at which discovery happens
        self.spent = 0.0
        self.since = 0.0
        self.rate = self.base
        self.due = self.budget / self.rate if self.rate > 0 else math.inf
        self._timer: object = None
        self._armed_at = math.inf
        self._arm()  # the base hazard alone, before any session (one timer at most)

    def _arm(self) -> None:
        """Make sure a timer fires at ``due``; a timer armed for another time goes stale (the
        hazard only grows, so ``due`` only moves earlier, up to rounding)."""
        due = self.due
        if due == self._armed_at or math.isinf(due):
            return
        self._set_timer(delay_to(self.run.env.now, due))
        self._armed_at = due

    def _set_timer(self, delay: float) -> None:
        timer = self.run.env.timeout(delay)
        timer.callbacks.append(self._fire)
        self._timer = timer

    def _fire(self, event: object) -> None:
        if event is not self._timer:
            return
        now = self.run.env.now
        rest = self._armed_at - now
        if rest > 0 and now + rest > now:  # landed an ulp short of ``due``: the exact remainder
            self._set_timer(rest)
            return
        self.run.confirm(self.name)

    def on_session_start(self, session: Session) -> None:
        if self.due < session.end:
            self._arm()

    def on_session_end(self, session: Session, taken: int) -> None:
        if taken > 0:
            now = self.run.env.now
            self.spent += self.rate * (now - self.since)
            self.since = now
            self.rate = self.base + self.per_record * self.run.insider.records
            self.due = (now + max((self.budget - self.spent) / self.rate, 0.0)
                        if self.rate > 0 else math.inf)
        if self.due < self.run.insider.next_start:
            self._arm()

    def on_access_end(self, reason: str) -> None:
        self._arm()


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HygieneParams:
    interval: float = spec(2191.5, duration=True, lo=0, lo_open=True,
                           doc="time between credential reviews (default quarterly)")
    max_credential_age: float = spec(8766.0, duration=True, allow_inf=True,
                                     doc="credentials older than this are rotated")
    coverage: float = spec(1.0, lo=0, hi=1, doc="chance a review rotates a stale credential")
    revoke_former_employees: bool = spec(False,
                                         doc="reviews also revoke credentials of leavers")


class CredentialHygiene(Detector):
    """Periodic review that rotates stale credentials and keys: prevention, not detection.

    At each review (first at a uniformly random phase), the insider's credential is rotated
    with probability ``coverage`` if it is older than ``max_credential_age`` or (with
    ``revoke_former_employees``) held by a former employee. Rotation ends the insider's access
    (``access_ended_by``) but confirms nothing: the dwell clock runs on.
    """

    Params = HygieneParams

    def prepare(self, model: Model) -> None:
        self.plan = model.plan

    def start(self, run: Run) -> Watch:
        run.env.process(self._reviews(run, run.rng(f"detector:{self.name}")))
        return Watch()

    def _reviews(self, run: Run, rng):
        p = self.params
        env = run.env
        yield env.timeout(rng.random() * p.interval)
        while run.insider.active:
            run.periodic_checks += 1
            stale = self.plan.credential_age + env.now > p.max_credential_age
            leaver = p.revoke_former_employees and self.plan.holder_role == "former_employee"
            rotate = (stale or leaver) and rng.random() < p.coverage
            if run.events is not None:
                run.emit("credential-review", detector=self.name, credential=self.plan.credential,
                         stale=stale, former_employee=leaver, rotated=rotate)
            if rotate:
                run.prevent(self.name)
                return
            yield env.timeout(p.interval)
