"""Detectors: the controls that compete to confirm the insider.

A :class:`Detector` is built once per job from its config (``_target_`` names the class, the
other keys are its parameters, validated by :func:`sim.core.params.build`). For each replication the
engine calls :meth:`Detector.start`, which starts the detector's SimPy processes and returns a
:class:`Watch`, the per-replication state that receives the insider's actions through hooks that
do nothing unless overridden. A detector ends the dwell by calling ``run.confirm(name)``
(directly, or through the triage queue for alerting detectors); a preventive control ends the
insider's access with ``run.prevent(name)`` without confirming anything.

Writing a detector: subclass :class:`Detector`, set ``Params`` to a frozen dataclass declared
with :func:`sim.core.params.spec`, implement ``start``. Each detector draws from its own streams
(``run.rng(f"detector:{name}")``), so adding one never changes another's draws.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.controls.scoring import FEATURES, ScoreModel, upper_tail
from sim.core.errors import ConfigError
from sim.core.params import build, spec
from sim.world.places import BenignStream, Selector

if TYPE_CHECKING:
    from sim.agents.insider import Session
    from sim.core.engine import Model, Run
    from sim.world.network import Network

__all__ = ["upper_tail"]  # re-exported: the binormal tail lives in sim.controls.scoring

WATCH_DOC = ("where it watches: 'all' assets, or filters kind/zone/role/ids/tags/"
             "internet_facing and coverage (sim.world.places)")


def delay_to(now: float, t: float) -> float:
    """The largest delay ``d >= 0`` with ``now + d <= t``: a timer with it lands on ``t`` or
    an ulp or two before it (some sums cannot hit ``t`` exactly, by rounding); from there
    ``t - landed`` is exact, so a second timer lands on ``t`` to the last bit."""
    d = t - now
    while d > 0 and now + d > t:
        d = math.nextafter(d, -math.inf)
    return max(d, 0.0)


class Watch:
    """A detector's state in one replication. Hooks default to doing nothing.

    A crew (:mod:`sim.agents.crew`) calls the hooks for each member's sessions
    (``session.member``, ``session.key``); ``run.crew`` gives what all members did.
    """

    #: False when :meth:`on_session_start` can do nothing in this replication: the engine then
    #: never calls it (set by a watch that knows, when it starts)
    hears_session_start: bool = True

    def on_session_start(self, session: Session) -> None:
        """An insider started ``session`` (now)."""

    def on_session_end(self, session: Session, taken: int) -> None:
        """An insider's ``session`` ended now, having taken ``taken`` records.

        Its member's ``next_start`` is already the start of its next session (``inf`` if
        there is none); ``run.crew.next_change()`` is the crew's next start or end."""

    def on_access_end(self, reason: str) -> None:
        """An insider's access ended now (``reason``: containment, a control's name,
        ``expired`` or ``exhausted``); it starts no session after this. Called before the end
        hook of a session cut short."""

    def on_postponed(self) -> None:
        """While idle, an insider moved its next session (its ``next_start``) after
        something it saw (a cautious strategy lying low, :mod:`sim.agents.strategy`)."""


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
    #: Whether it observes activity at places of the network: then ``Params`` has a ``watch``
    #: selector (:class:`sim.world.places.Selector`) and it sees only what happens there.
    observes: ClassVar[bool] = False
    #: What control this is to the policy layer (:mod:`sim.policy.model`), which prices it and
    #: counts it against what a regulator expects: ``"audit"`` (periodic log review; priced from
    #: ``params.interval``, ``coverage``, ``lookback``, ``retention``), ``"monitoring"``
    #: (continuous monitoring feeding the triage queue: tooling plus the analysts),
    #: ``"rules"`` (static alert rules feeding the queue), ``"hygiene"`` (credential reviews;
    #: ``params.interval``, ``max_credential_age``, ``revoke_former_employees``), or None: no
    #: control the firm pays for (outside discovery, a tip-off). A subclass inherits its base's.
    control_kind: ClassVar[str | None] = None
    #: Whether it sends alerts to the triage queue (rather than confirming by itself).
    raises_alerts: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = build(self.Params, params)
        self.name = self.name or type(self).__name__.lower()
        #: the assets it watches (observing detectors; set by :meth:`locate`)
        self.places: frozenset[str] = frozenset()
        self.selector = Selector.parse(self.params.watch) if self.observes else Selector()
        #: target -> the assets of the insider's walk to it that this detector watches
        self.on_walk: dict[str, tuple[str, ...]] = {}
        #: the benign traffic at the watched places, one stream per rhythm (set by prepare)
        self.benign: list[BenignStream] = []

    def locate(self, network: Network) -> frozenset[str]:
        """Resolve where an observing detector watches in ``network`` (once per job, before the
        insider chooses routes); the empty set for a detector that observes nothing.

        Raises:
            ConfigError: the selector matches no asset (key ``watch``).
        """
        if self.observes:
            self.places = self.selector.match(network)
        return self.places

    def prepare(self, model: Model) -> None:
        """Called once per job after the model is built (read the network, background...).

        The base version finds the watched assets on each of the insider's walks and the
        benign traffic there; an override should call it."""
        if not self.observes:
            return
        self.on_walk = {t: tuple(n for n in walk if n in self.places)
                        for t, walk in model.plan.walks.items()}
        self.benign = model.places.streams(self.places, self.selector.coverage)
        self.traffic = model.places.traffic

    def walks(self, run: Run) -> dict[str, tuple[str, ...]]:
        """This replication's watched assets on each walk: ``on_walk`` thinned by the
        selector's ``coverage`` (each asset carries the sensor with that probability, drawn
        from the detector's own ``coverage`` stream)."""
        coverage = self.selector.coverage
        if coverage >= 1:
            return self.on_walk
        nodes = sorted({n for walk in self.on_walk.values() for n in walk})
        draws = run.rng(f"detector:{self.name}:coverage").random(len(nodes))
        covered = {n for n, u in zip(nodes, draws.tolist(), strict=True) if u < coverage}
        return {t: tuple(n for n in walk if n in covered) for t, walk in self.on_walk.items()}

    def start_benign(self, run: Run, probability: float) -> None:
        """Feed the triage queue the false alarms of the benign traffic at the watched places:
        each benign observation trips this detector with ``probability``. One stream per
        rhythm; the staff stream draws from ``detector:NAME:benign`` (as before places)."""
        for stream in self.benign:
            suffix = f":{stream.key}" if stream.key else ""
            run.triage.benign_alarms(self.name, stream, probability,
                                     run.rng(f"detector:{self.name}:benign{suffix}"),
                                     self.benign_scores)

    def benign_rate(self) -> float:
        """Benign observations per hour it scores (0 for a detector that scores none)."""
        return sum(s.rate for s in self.benign) if self.scores_benign_activity else 0.0

    def false_alarm_probability(self) -> float:
        """Chance a benign observation it scores raises an alert (0: it raises none)."""
        return 0.0

    def false_alarm_rate(self) -> float:
        """Benign alerts per hour it sends to the triage queue (mean over the week)."""
        return self.false_alarm_probability() * self.benign_rate()

    def alert_score(self) -> float:
        """The score of an alert of a detector that does not grade its alerts, on the benign
        z scale: the threshold a scoring monitor with the same false-alarm probability would
        have (a rule that trips on 1 benign observation in 10,000 is as severe as a z of
        3.7; one that never trips on benign activity is infinitely so). What the
        ``priority`` and ``risk_based`` triage disciplines rank and add up."""
        p = self.false_alarm_probability()
        return -NormalDist().inv_cdf(p) if 0 < p < 1 else math.inf if p <= 0 else -math.inf

    def benign_scores(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Scores of ``n`` benign alerts (base: every one :meth:`alert_score`)."""
        return np.full(n, self.alert_score())

    @abstractmethod
    def start(self, run: Run) -> Watch:
        """Start this detector's processes for one replication and return its watch."""

    def describe(self) -> str:
        """One line for the printed summary."""
        where = f" at {self.selector.describe()}" if self.observes else ""
        return f"{self.name} ({type(self).__name__}{where})"


def _check_watch(params: Any) -> None:
    Selector.parse(params.watch)


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
    watch: Any = spec("all", doc=WATCH_DOC)
    visible: bool = spec(False, doc="staff can see each audit (auditors asking, an announced "
                                    "review): a notice a cautious insider reacts to")

    check = _check_watch


class PeriodicAudit(Detector):
    """Periodic manual review of access logs.

    Every ``interval`` (first audit at a uniformly random phase unless ``phase`` is set), an
    audit reviews the logs of the last ``lookback`` hours still within ``retention``, at the
    places it ``watch``-es. The logs hold one line per insider session per watched asset on the
    session's walk; the audit samples a share ``coverage`` of the lines and recognises a
    sampled insider line with probability ``recognition``. With ``K`` insider lines in the
    window it catches the insider with probability ``1 - (1 - coverage * recognition)^K``,
    reported ``duration`` after the audit starts: the more the insider did in the window, the
    likelier the catch. For an insider active throughout in one session seen at one watched
    place (K = 1 in every window), the mean dwell is ``T/p - T/2`` (T = interval,
    p = coverage*recognition).

    With ``visible: true`` staff can see each audit as it starts (an announced review, auditors
    asking questions): the insider gets a notice (:meth:`sim.agents.insider.Insider.notice`),
    which a cautious strategy answers by lying low; the renewal insider ignores it.
    """

    Params = AuditParams
    observes = True
    control_kind = "audit"

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
        walks = self.walks(run)
        lines = {t: len(w) for t, w in walks.items()}
        first = rng.random() * p.interval if p.phase is None else p.phase
        crew = run.crew
        solo = crew.solo
        yield env.timeout(first)
        while True:
            now = env.now
            run.periodic_checks += 1
            if solo:
                k = sum(lines[t] for t in crew.sessions_between(now - window, now))
            else:
                per_member = crew.lines_by_member(now - window, now, lines)
                k = sum(per_member)
            chance = prob if k == 1 else -math.expm1(k * math.log1p(-prob)) if prob < 1 else 1.0
            hit = rng.random() < chance  # one draw per audit, whatever k
            present = k > 0
            if run.events is not None:
                run.emit("audit", detector=self.name, window_start=max(now - window, 0.0),
                         window_end=now, coverage=p.coverage, insider_in_window=present,
                         insider_lines=k, found=hit and present)
            if p.visible:
                crew.notice(self.name)
            if hit and present:
                # the line recognised: a member's, in proportion to its lines (a crew only)
                member = 0 if solo else _weighted(rng, per_member)
                if p.duration > 0:
                    env.timeout(p.duration).callbacks.append(
                        lambda _e, m=member: run.confirm(self.name, m))
                else:
                    run.confirm(self.name, member)
            yield env.timeout(p.interval)


def _weighted(rng: np.random.Generator, weights: list[int]) -> int:
    """An index drawn with probability proportional to ``weights`` (one uniform draw)."""
    u = rng.random() * sum(weights)
    for i, w in enumerate(weights):
        u -= w
        if u < 0:
            return i
    return max(i for i, w in enumerate(weights) if w > 0)


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonitoringParams:
    threshold: float = spec(3.0, doc="alert threshold on the benign score scale (z)")
    dprime: float = spec(3.0, lo=0, doc="separability of the insider in what the features "
                                        "miss (binormal d' when there are no features)")
    latency: float = spec(0.25, duration=True, doc="analytics latency, session to alert")
    features: tuple[str, ...] = spec((), choices=FEATURES,
                                     doc="what it measures of each observation "
                                         "(sim.controls.scoring)")
    watch: Any = spec("all", doc=WATCH_DOC)

    def check(self) -> None:
        _check_watch(self)
        if len(set(self.features)) != len(self.features):
            raise ConfigError("features", f"names a feature twice: {list(self.features)}")


class ContinuousMonitoring(Detector):
    """Continuous behavioural analytics at its places, feeding the triage queue.

    Every session of the insider is an observation at each watched asset of its walk, scored
    against the benign traffic there (:mod:`sim.controls.scoring`): with no ``features`` the score
    is the binormal ROC (benign N(0, 1), insider N(d', 1)), so ``threshold`` sets the
    false-positive rate ``P(Z > threshold)`` per benign observation and the true-positive rate
    ``P(Z > threshold - d')`` per observation of the insider; with features the true-positive
    rate grows with how far the insider's records, request rate and addresses lie from the
    place's benign medians. Each flagged observation is an alert that reaches the triage queue
    after ``latency``; the benign ones come from the traffic at the watched places.
    """

    Params = MonitoringParams
    control_kind = "monitoring"
    scores_benign_activity = True
    observes = True
    raises_alerts = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        self.score = ScoreModel(p.features, p.threshold, p.dprime)

    @property
    def true_positive_rate(self) -> float:
        """Per observation, without features (the binormal ROC)."""
        return upper_tail(self.params.threshold - self.params.dprime)

    @property
    def false_positive_rate(self) -> float:
        return self.score.false_positive_rate

    def false_alarm_probability(self) -> float:
        return self.false_positive_rate

    def benign_scores(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Benign scores above the threshold: N(0, 1) conditioned on ``S > threshold``."""
        return self.score.benign_flagged_scores(rng, n)

    def start(self, run: Run) -> Watch:
        self.start_benign(run, self.false_positive_rate)
        return _Observe(run, self, run.rng(f"detector:{self.name}"))


class _Observe(Watch):
    """Scores each observation of an insider session at the watched assets of its walk; a
    flagged one is a true alert."""

    def __init__(self, run: Run, det: ContinuousMonitoring, rng) -> None:
        self.run, self.name, self.latency, self.rng = run, det.name, det.params.latency, rng
        self.walks = det.walks(run)
        score, traffic = det.score, det.traffic
        self.detect = score.detection_probability
        self.flagged = score.flagged_score
        # without features every observation has the binormal chance: no per-session maths
        self.constant = (None if score.features else
                         {t: [det.true_positive_rate] * len(w) for t, w in self.walks.items()})
        edges = run.model.plan.edges
        self.traffic = {t: [(traffic[n], n in edges[t]) for n in w]
                        for t, w in self.walks.items()}

    def on_session_start(self, session: Session) -> None:
        random = self.rng.random
        if self.constant is not None:
            chances = self.constant[session.target]
        else:
            chances = [self.detect(session, t, edge) for t, edge in self.traffic[session.target]]
        for k, chance in enumerate(chances):
            u = random()
            if u < chance:  # its score: the same draw, read as the residual's upper tail
                traffic, edge = (None, True) if self.constant is not None else \
                    self.traffic[session.target][k]
                _alert(self.run, self.name, self.latency,
                       self.flagged(session, traffic, edge, u), session)


def _alert(run: Run, name: str, latency: float, score: float, session: Session) -> None:
    """A true alert from ``name`` with ``score`` about ``session`` (its member and
    credential) reaches the triage queue after ``latency``."""
    member, key = session.member, session.key
    if latency > 0:
        run.env.timeout(latency).callbacks.append(
            lambda _e: run.triage.submit(name, True, score, member, key))
    else:
        run.triage.submit(name, True, score, member, key)


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VolumeParams:
    max_requests_per_ip_hour: float = spec(1000.0, lo=0, lo_open=True,
                                           doc="rule fires when the rate exceeds this (per "
                                               "hour, per IP or per credential)")
    per: str = spec("ip", choices=("ip", "credential"),
                    doc="whose request rate the rule counts: one source IP's, or one "
                        "credential's over all its IPs")
    benign_trip_probability: float = spec(1e-4, lo=0, hi=1,
                                          doc="chance a benign observation trips the rule")
    latency: float = spec(0.25, duration=True)
    watch: Any = spec("internet_facing:true",
                      doc=WATCH_DOC + "; default: the internet-facing edge, where a per-IP "
                                      "rule sees the clients' own addresses")

    check = _check_watch


class VolumeThreshold(Detector):
    """Static threshold rules at its places: alert when a request rate exceeds a limit.

    Deterministic for the insider: a session whose walk crosses a watched asset and whose
    request rate per IP (``per: ip``) or per credential over all its IPs (``per: credential``)
    exceeds the limit raises one true alert. An insider who spreads requests over enough IPs
    stays under a per-IP rule for ever, but not under a per-credential one. A crew
    (:mod:`sim.agents.crew`) sharing a credential is counted together: a session trips the
    per-credential count when its rate plus that of the sessions running on the same credential
    exceeds the limit (evaluated as each session starts); members with their own credentials are
    counted apart, each on its own addresses. Benign bursts at
    the watched places trip it with ``benign_trip_probability`` per observation.

    The rule also answers the over-limit requests with refusals (HTTP 429) that the insider
    sees (:meth:`sim.agents.insider.Insider.refused`): a threshold-probing strategy learns the
    limit from them. The session's records are not reduced (the refused requests are retried
    within the session).
    """

    Params = VolumeParams
    control_kind = "rules"
    scores_benign_activity = True
    observes = True
    raises_alerts = True

    def false_alarm_probability(self) -> float:
        return self.params.benign_trip_probability

    def start(self, run: Run) -> Watch:
        self.start_benign(run, self.params.benign_trip_probability)
        return _Rule(run, self)


class _Rule(Watch):
    def __init__(self, run: Run, det: VolumeThreshold) -> None:
        self.run, self.name, self.latency = run, det.name, det.params.latency
        self.severity = det.alert_score()
        self.limit = det.params.max_requests_per_ip_hour
        per_credential = det.params.per == "credential"
        edges = run.model.plan.edges
        # per target: whether a watched asset counts the whole session as one client (a
        # per-credential rule, or a place behind the edge that sees the calling service), and
        # whether one counts per insider address (a per-IP rule at the edge)
        walks = det.walks(run)
        self.whole = {t: any(per_credential or n not in edges[t] for n in w)
                      for t, w in walks.items()}
        self.split = {t: any(not per_credential and n in edges[t] for n in w)
                      for t, w in walks.items()}
        self.crew = run.crew
        self.solo = run.crew.solo
        # A lone insider whose strategy does not reshape its sessions runs every session at
        # its profile's rates: if none of its targets is over the limit at them, no session
        # ever trips the rule (and none is refused), so the engine need not ask.
        if self.solo and not run.insider.reshapes:
            p = run.model.plan.profile
            self.hears_session_start = any(
                self._over(t, p.request_rate_per_ip, p.ip_addresses) for t in walks)

    def _over(self, t: str, per_ip: float, ips: int) -> bool:
        """Whether a lone session to ``t`` at these rates trips the rule."""
        if self.split[t] and per_ip > self.limit:
            return True
        return self.whole[t] and per_ip * ips > self.limit

    def on_session_start(self, session: Session) -> None:
        t, per_ip = session.target, session.requests_per_ip_hour
        if self.split[t] and per_ip > self.limit:
            over = True
        elif self.whole[t]:
            rate = per_ip * session.ip_addresses
            if not self.solo:  # the sessions running on the same credential count with it
                rate += sum(s.requests_per_ip_hour * s.ip_addresses
                            for s in self.crew.running_on(session.key)
                            if s.member != session.member and self.whole[s.target])
            over = rate > self.limit
        else:
            over = False
        if over:
            _alert(self.run, self.name, self.latency, self.severity, session)
            self.crew.refused(session, self.name)


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
        self.env = run.env
        self.crew = run.crew
        # a lone insider: its own records and next start, read without the crew's loops
        self.solo = run.crew.members[0] if run.crew.solo else None
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
        # the breach surfaces through the data: the member who took the most is traced first
        self.run.confirm(self.name, self.crew.most_records())

    def on_session_start(self, session: Session) -> None:
        if self.due < (session.end if self.solo is not None else self.crew.next_change(session)):
            self._arm()

    def on_session_end(self, session: Session, taken: int) -> None:
        solo = self.solo
        if taken > 0:
            now = self.env.now
            spent = self.spent = self.spent + self.rate * (now - self.since)
            self.since = now
            rate = self.rate = self.base + self.per_record * (
                solo.records if solo is not None else self.crew.records)
            if rate > 0:
                left = (self.budget - spent) / rate
                due = self.due = now + (0.0 if left < 0.0 else left)  # max(left, 0.0)
            else:
                due = self.due = math.inf
        else:
            due = self.due
        if due < (solo.next_start if solo is not None else self.crew.next_change()):
            self._arm()

    def on_access_end(self, reason: str) -> None:
        self._arm()

    def on_postponed(self) -> None:
        if self.due < self.crew.next_change():
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
    ``revoke_former_employees``) held by a former employee. A crew's own credentials
    (:mod:`sim.agents.crew`) have the configured one's age, and its holder's role unless the
    crew's ``holders`` are ``staff`` (current employees: not leavers); each is rotated on its
    own draw; a shared one, once, for every member on it. Rotation ends the insider's access
    (``access_ended_by``) but confirms nothing: the dwell clock runs on.
    """

    Params = HygieneParams
    control_kind = "hygiene"

    def prepare(self, model: Model) -> None:
        self.plan = model.plan

    def start(self, run: Run) -> Watch:
        run.env.process(self._reviews(run, run.rng(f"detector:{self.name}")))
        return Watch()

    def _reviews(self, run: Run, rng):
        p = self.params
        env = run.env
        yield env.timeout(rng.random() * p.interval)
        crew = run.crew
        while crew.active:
            run.periodic_checks += 1
            stale = self.plan.credential_age + env.now > p.max_credential_age
            for key in crew.active_keys():  # a crew's own keys: each on its own draw
                leaver = (p.revoke_former_employees
                          and crew.holder_role(key) == "former_employee")
                rotate = (stale or leaver) and rng.random() < p.coverage
                if run.events is not None:
                    name = crew.members[crew.on_key(key)[0]].credential
                    run.emit("credential-review", detector=self.name, credential=name,
                             stale=stale, former_employee=leaver, rotated=rotate)
                if rotate:
                    run.prevent(self.name, key)
            if not crew.active:
                return
            yield env.timeout(p.interval)
