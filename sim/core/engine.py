"""The engine: build a model once per job, then simulate replications of it.

A *job* is one config: :func:`build_model` turns its plain mapping into a :class:`Model` of
validated, read-only parts (network, insider plan, background, triage team, detectors). A
*replication* is one SimPy run of that model, :func:`simulate`, which returns one
:class:`~sim.outputs.results.ReplicationResult`.

Randomness belongs to the run: replication ``r`` of a job with seed ``s`` owns the seed
sequence ``SeedSequence(s, spawn_key=(r,))`` (the ``r``-th child of ``SeedSequence(s)``), and
each component of it draws from its own child keyed by the component's name
(``run.rng("insider")``, ``run.rng("detector:audit")``...). So a replication's numbers do not
depend on how many replications run, in what order or on which worker, and adding a detector
does not change the insider's draws.

Timeline of a replication: the insider's first access is time 0. The first detector to confirm
the insider ends the dwell; containment follows after the response delay, during which the
insider may go on taking records. The run stops at containment, or at the horizon if nothing
confirmed the insider by then (a censored replication).

With a crew (``insider.crew``, :mod:`sim.agents.crew`) every detection identifies one member and
starts its containment; the first still ends the dwell. The run goes on until every member's
access has ended and no containment is pending (after a detection), or the horizon with none
pending; the row counts what all members took until each was stopped.
"""

from __future__ import annotations

import gc
import math
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim.agents.crew import Crew, CrewParams
from sim.agents.insider import Insider, InsiderPlan, InsiderProfile, Session
from sim.agents.renewal import Renewal
from sim.agents.strategy import Strategy
from sim.controls.detectors import Detector, Watch
from sim.controls.triage import TriageParams, check_team, make_queue
from sim.core.errors import ConfigError
from sim.core.limits import MAX_HORIZON_HOURS, MAX_REPLICATIONS, check_model
from sim.core.params import allowed_target, build, spec
from sim.core.streams import Streams
from sim.outputs.results import ReplicationResult
from sim.world.background import EXACT_EVENT_LIMIT, Background, BackgroundParams
from sim.world.calendar import Calendar, Rhythm
from sim.world.network import Network
from sim.world.places import Places


@dataclass(frozen=True)
class ResponseParams:
    """What happens after a detector confirms the insider (config key ``response``)."""

    containment_delay: float = spec(4.0, duration=True, hi=MAX_HORIZON_HOURS,
                                    doc="mean time from confirmation to cutting access")
    containment_cv: float = spec(0.5, lo=0, hi=100, doc="its coefficient of variation (gamma)")


@dataclass(frozen=True)
class RunParams:
    """Top-level keys of a run."""

    scenario: str = spec("custom")
    seed: int = spec(0, lo=0, doc="the run's one seed")
    replications: int = spec(100, lo=1, hi=MAX_REPLICATIONS)
    horizon: float = spec(8766.0, duration=True, lo=0, lo_open=True,
                          doc="how long a replication runs if nothing confirms the insider")
    start: str = spec("2025-06-24T00:00:00+09:00", doc="wall-clock time of the first access")


@dataclass(frozen=True)
class Model:
    """Everything a replication needs, built once per job and never mutated."""

    run: RunParams
    calendar: Calendar
    network: Network
    plan: InsiderPlan
    insider_rhythm: Rhythm
    background: Background
    places: Places
    triage: TriageParams
    response: ResponseParams
    detectors: tuple[Detector, ...]
    #: how the insider decides and reacts (config ``insider.strategy``; sim.agents)
    strategy: Strategy = field(default_factory=Renewal)
    #: several insiders in one replication (config ``insider.crew``; sim.agents.crew)
    crew: CrewParams = field(default_factory=CrewParams)
    extra: Mapping[str, Any] = field(default_factory=dict)


def instantiate(node: Mapping[str, Any], path: str, base: type) -> Any:
    """Build the object a config node names with ``_target_`` (a class or function).

    Args:
        node: ``{"_target_": "module.Name", **kwargs}``.
        path: the node's dotted key, named in errors.
        base: the type the result must have.

    ``_target_`` must name a subclass of ``base`` or a function marked ``@makes(base)``
    (:func:`sim.core.params.makes`); this is checked after the import and before anything is
    called, so a config can never call an arbitrary function.

    Raises:
        ConfigError: no or unknown ``_target_``, a target that may not build a ``base``, a
            result of the wrong type, or a bad argument.
    """
    from hydra.utils import get_object

    if not isinstance(node, Mapping) or "_target_" not in node:
        raise ConfigError(path, "must be a mapping with a _target_ naming what to build")
    kwargs = {k: v for k, v in node.items() if k != "_target_"}
    target = node["_target_"]
    try:
        factory = get_object(str(target))
    except Exception:  # noqa: BLE001 - hydra raises several types for a bad path
        raise ConfigError(f"{path}._target_", f"cannot import {target!r}") from None
    if not allowed_target(factory, base):
        raise ConfigError(f"{path}._target_", f"{target} is not a {base.__name__} subclass nor "
                          f"a function marked @sim.core.params.makes({base.__name__}); nothing "
                          f"else may be built from a config")
    try:
        obj = factory(**kwargs)
    except ConfigError as err:
        raise err.under(path) from None
    except TypeError as err:
        raise ConfigError(path, f"bad arguments for {target}: {err}") from None
    if not isinstance(obj, base):
        raise ConfigError(f"{path}._target_", f"{target} does not make a {base.__name__}")
    return obj


def build_model(cfg: Mapping[str, Any]) -> Model:
    """Validate a resolved config mapping and build the model of the job.

    Raises:
        ConfigError: any missing, unknown or bad value, naming its dotted key.
    """
    cfg = dict(cfg)
    known = {"scenario", "seed", "replications", "horizon", "start", "network", "insider",
             "background", "triage", "response", "detectors", "output"}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise ConfigError(unknown[0], f"unknown key; top-level keys are {', '.join(sorted(known))}")
    run = build(RunParams, {k: cfg[k] for k in ("scenario", "seed", "replications", "horizon",
                                                "start") if k in cfg})
    calendar = Calendar.parse(run.start)
    if "network" not in cfg:
        raise ConfigError("network", "is required (e.g. network=coupang_like)")
    network = instantiate(cfg["network"], "network", Network)
    insider_cfg = cfg.get("insider")
    if insider_cfg is not None and not isinstance(insider_cfg, Mapping):
        raise ConfigError("insider", "must be a mapping of the insider's parameters")
    insider_cfg = dict(insider_cfg or {})
    strategy_node = insider_cfg.pop("strategy", None)
    crew_node = insider_cfg.pop("crew", None)
    if crew_node is not None and not isinstance(crew_node, Mapping):
        raise ConfigError("insider.crew", "must be a mapping (size, credentials, reveal)")
    crew = build(CrewParams, crew_node, "insider.crew")
    strategy = (Renewal() if strategy_node is None
                else instantiate(strategy_node, "insider.strategy", Strategy))
    profile = build(InsiderProfile, insider_cfg, "insider")
    insider_rhythm = Rhythm(calendar, profile.profile, profile.utc_offset_hours,
                            profile.weekend_factor, key="insider.profile")
    bparams = build(BackgroundParams, cfg.get("background"), "background")
    employees = network.employees if bparams.employees < 0 else bparams.employees
    background = Background(bparams, employees,
                            Rhythm(calendar, bparams.profile, bparams.utc_offset_hours,
                                   bparams.weekend_factor, key="background.profile"))
    places = Places(network, background, calendar)
    triage = build(TriageParams, cfg.get("triage"), "triage")
    response = build(ResponseParams, cfg.get("response"), "response")
    detectors_cfg = cfg.get("detectors") or {}
    if not isinstance(detectors_cfg, Mapping):
        raise ConfigError("detectors", "must be a mapping of name -> detector config")
    detectors = []
    watched: set[str] = set()
    for name in sorted(detectors_cfg):
        node = detectors_cfg[name]
        if node is None:  # a scenario may switch a detector off with `detectors.NAME: null`
            continue
        det = instantiate(node, f"detectors.{name}", Detector)
        det.name = str(name)
        try:
            watched |= det.locate(network)
        except ConfigError as err:
            raise err.under(f"detectors.{name}") from None
        detectors.append(det)
    check_team(triage, detectors)
    # the insider's routes come after the sensors: `route: least_watched` avoids them
    plan = InsiderPlan(profile, network, frozenset(watched))
    if not plan.targets:
        raise ConfigError("insider.fields", f"the credential {plan.credential!r} reaches no "
                          f"datastore holding {', '.join(profile.fields)} in {network.name!r}")
    model = Model(run, calendar, network, plan, insider_rhythm, background, places, triage,
                  response, tuple(detectors), strategy, crew)
    try:
        strategy.prepare(model)
    except ConfigError as err:
        raise err.under("insider.strategy") from None
    for det in detectors:
        det.prepare(model)
    if background.params.mode == "exact":
        expected = run.horizon * sum(d.benign_rate() for d in detectors)
        if expected > EXACT_EVENT_LIMIT:
            raise ConfigError("background.mode", f"exact mode would simulate about "
                              f"{expected:.3g} benign events per replication; use fast, or a "
                              f"smaller network or horizon")
    check_model(model)  # bounded time and memory per replication (sim.core.limits)
    return model


class Environment(simpy.Environment):
    """SimPy's environment with one exact shortcut for a process that would wait alone.

    :meth:`advance` is the only place the engine reads SimPy's queue or sets its clock, both
    private (``_now``, and ``_queue`` of ``(time, priority, id, event)`` entries;
    tests/core/test_engine.py fails if that layout changes).
    """

    #: timeouts :meth:`advance` saved (the benchmark counts them; see ``simulate``'s counters)
    advanced = 0

    def advance(self, delay: float) -> bool:
        """Move the clock ``delay`` ahead if nothing can happen before then; else do nothing.

        Contract: called by a running process that is about to ``yield self.timeout(delay)``
        on a timeout of its own, resumed by an event whose only callback it is (its own
        timeout, its start or an interrupt). If every scheduled event is strictly later than
        ``now + delay`` (SimPy's own sum, to the bit), that timeout would be the very next
        event, so no other process, callback or interrupt could run in between: the clock
        moves to it and the caller goes on at once, as if the timeout had fired. Returns
        whether it did; on False (an event at or before that time - a tie is ordered by
        SimPy's (time, priority, id) - or a negative delay) the caller yields the timeout.
        Later events keep their relative order (SimPy's ids only grow), so a run takes the same
        steps, at the same times, in the same order, with or without the shortcut.
        """
        t = self._now + delay
        queue = self._queue
        if delay < 0 or (queue and queue[0][0] <= t):
            return False
        self._now = t
        self.advanced += 1
        return True


def _fan_out(hooks: list[Callable[..., None]]) -> Callable[..., None] | None:
    """One callable calling ``hooks`` in order (None for no hook): the hook itself, or a
    closure over two or three (no loop per call)."""
    if not hooks:
        return None
    if len(hooks) == 1:
        return hooks[0]
    if len(hooks) == 2:
        first, second = hooks

        def both(*args: Any) -> None:
            first(*args)
            second(*args)
        return both
    if len(hooks) == 3:
        first, second, third = hooks

        def three(*args: Any) -> None:
            first(*args)
            second(*args)
            third(*args)
        return three

    def every(*args: Any) -> None:
        for hook in hooks:
            hook(*args)
    return every


class Run:
    """One replication in progress: the environment, the streams and the shared state.

    Components reach each other through it: ``run.crew`` (every insider:
    :class:`sim.agents.crew.Crew`), ``run.insider`` (its member 0, the lone insider of a
    one-member crew), ``run.triage``, ``run.confirm(name, member)``, ``run.prevent(name)``.
    """

    def __init__(self, model: Model, seed: int, replication: int,
                 trace: list[dict[str, Any]] | None = None) -> None:
        self.model = model
        #: the event log when tracing (see :meth:`emit`), else None; components test
        #: ``run.events is not None`` before building an event, so an untraced run pays nothing.
        self.events = trace
        self.seed = seed
        self.replication = replication
        self._streams = Streams(seed, replication)
        self.calendar = model.calendar
        self.env = Environment()
        self.detected_at = math.nan
        self.detected_by = ""
        self.contained_at = math.nan
        self.stopped = self.env.event()
        self._pending = 0  # containments under way
        #: audits and credential reviews done (periodic detectors count them, for benchmarks)
        self.periodic_checks = 0
        self.triage = make_queue(self, model.triage, model.background,
                                 exact=model.background.params.mode == "exact")
        self.watches: list[Watch] = []
        self._start_hooks: list[Callable[[Session], None]] = []
        self._end_hooks: list[Callable[[Session, int], None]] = []
        self._access_end_hooks: list[Callable[[str], None]] = []
        self._postponed_hooks: list[Callable[[], None]] = []
        crew = model.crew
        if crew.size == 1:
            members = [Insider(self, model.plan, model.insider_rhythm,
                               self._session_start, self._session_end, self._access_end,
                               model.strategy, self._postponed)]
        else:
            remaining = dict(model.plan.records)  # the crew shares the work
            members = [Insider(self, model.plan, model.insider_rhythm, self._session_start,
                               self._session_end, self._member_end, model.strategy,
                               self._postponed, member=k,
                               key=k if crew.credentials == "own" else 0,
                               remaining=remaining, crew_size=crew.size)
                       for k in range(crew.size)]
        self.crew = Crew(self, members, crew)
        self.insider = members[0]

    def rng(self, component: str) -> np.random.Generator:
        """The numpy stream of ``component`` in this replication (same name, same stream):
        numpy's ``default_rng(SeedSequence(seed, spawn_key=(replication, crc32(component))))``,
        made faster to the same numbers (:mod:`sim.core.streams`)."""
        return self._streams.make(zlib.crc32(component.encode("utf-8")))

    def emit(self, action: str, t: float | None = None, **fields: Any) -> None:
        """Append an event at time ``t`` (default: now) to the trace (only call when tracing).

        Every event has ``t`` (hours since first access) and ``action``; insider actions carry
        ``technique`` (MITRE ATT&CK ids). :mod:`sim.outputs.trace` documents the schema.
        """
        assert self.events is not None
        self.events.append({"t": self.env.now if t is None else t, "action": action, **fields})

    # -- hooks fanned out to the detectors ------------------------------------------------------
    def _session_start(self, session: Session) -> None:
        for hook in self._start_hooks:
            hook(session)

    def _session_end(self, session: Session, taken: int) -> None:
        for hook in self._end_hooks:
            hook(session, taken)

    def _access_end(self, reason: str) -> None:
        for hook in self._access_end_hooks:
            hook(reason)

    def _member_end(self, reason: str) -> None:
        """A crew member's access ended: the detectors hear it; the run may be over."""
        self._access_end(reason)
        if self.detected_by and not self._pending and not self.crew.active:
            self._stop()

    def _postponed(self) -> None:
        for hook in self._postponed_hooks:
            hook()

    def attach(self, watches: Iterable[Watch]) -> None:
        """Register the detectors' watches; only overridden hooks are called.

        The insiders then call the session hooks directly: one hook as it is, several through
        one fan-out; with none, through the fan-out over ``_start_hooks``/``_end_hooks``, to
        which a test may still append before the run starts.
        """
        self.watches = list(watches)
        self._start_hooks = [w.on_session_start for w in self.watches
                             if type(w).on_session_start is not Watch.on_session_start
                             and w.hears_session_start]
        self._end_hooks = [w.on_session_end for w in self.watches
                           if type(w).on_session_end is not Watch.on_session_end]
        on_start = _fan_out(self._start_hooks) or self._session_start
        on_end = _fan_out(self._end_hooks) or self._session_end
        for member in self.crew.members:
            member._on_start, member._on_end = on_start, on_end
        self._access_end_hooks = [w.on_access_end for w in self.watches
                                  if type(w).on_access_end is not Watch.on_access_end]
        self._postponed_hooks = [w.on_postponed for w in self.watches
                                 if type(w).on_postponed is not Watch.on_postponed]

    # -- outcomes ---------------------------------------------------------------------------
    def confirm(self, detector: str, member: int = 0) -> None:
        """``detector`` confirms crew member ``member`` (the lone insider: 0) now. The first
        confirmation ends the dwell; each confirmation of a member not yet identified starts
        its containment (response delay from its own stream); others are ignored."""
        crew = self.crew
        if member in crew.identified:
            return
        crew.identified.add(member)
        if not self.detected_by:
            self.detected_by = detector
            self.detected_at = self.env.now
        if self.events is not None:
            self.emit("detection", detector=detector, **self.crew.members[member].tag)
        r = self.model.response
        delay = r.containment_delay
        if r.containment_cv > 0 and delay > 0:
            shape = 1.0 / r.containment_cv ** 2
            stream = "response" if member == 0 else f"response#{member}"
            delay = float(self.rng(stream).gamma(shape, delay / shape))
        self._pending += 1
        self.env.timeout(delay).callbacks.append(lambda _e: self._contain(member))

    def _contain(self, member: int) -> None:
        """Contain ``member``: cut it, the accomplices its investigation reveals and, on a
        shared credential, every member on it (:meth:`sim.agents.crew.Crew.contain`)."""
        self._pending -= 1
        if math.isnan(self.contained_at):
            self.contained_at = self.env.now
        crew = self.crew
        cut, revealed = crew.contain(member)
        if self.events is not None:
            tag = crew.members[member].tag
            if len(cut) > 1:
                tag = {**tag, "revealed": revealed,
                       "revoked_with": [k for k in cut[1:] if k not in revealed]}
            self.emit("containment", **tag)
        if crew.solo:
            self.insider.cut("containment")
        else:
            crew.cut(cut, "containment")
        if not crew.active and not self._pending or (
                self.env.now >= self.model.run.horizon and not self._pending):
            self._stop()

    def prevent(self, control: str, key: int | None = None) -> None:
        """``control`` ends access now without confirming anyone: of every member on
        credential ``key`` (None: every member)."""
        crew = self.crew
        members = range(crew.size) if key is None else crew.on_key(key)
        if self.events is not None:
            for k in members:
                if crew.members[k].active:
                    self.emit("access-revoked", detector=control, **crew.members[k].tag)
        if crew.solo:
            self.insider.cut(control)
        else:
            crew.cut(list(members), control)

    def _stop(self) -> None:
        if not self.stopped.triggered:
            self.stopped.succeed()

    def _horizon(self, _event: Any) -> None:
        if not self._pending:  # a detected insider goes on until its containment
            self._stop()


def simulate(model: Model, seed: int, replication: int,
             trace: list[dict[str, Any]] | None = None,
             counters: dict[str, int] | None = None) -> ReplicationResult:
    """Run replication ``replication`` of ``model`` under ``seed`` and return its result.

    Args:
        trace: a list to append every event of the replication to, in time order (see
            :meth:`Run.emit`); tracing changes no draw, so the result is the same.
        counters: if given, filled with the work done: ``simpy_events`` (events the SimPy
            environment scheduled) and ``relevant_events`` (the events that can change the
            outcome: two per insider session, each audit or review, each alert - including the
            warm-up alerts that set the queue the insider meets - detection and containment),
            and ``clock_advances`` (waits that took no SimPy event, :meth:`Environment.advance`),
            for the benchmark.
    """
    run = Run(model, seed, replication, trace)
    run.attach(det.start(run) for det in model.detectors)
    horizon = model.run.horizon
    run.env.timeout(horizon).callbacks.append(run._horizon)
    run.env.run(until=run.stopped)
    run.triage.close()
    if trace is not None:
        trace.sort(key=lambda e: e["t"])  # stable: same-time events keep their order
    if counters is not None:
        counters["simpy_events"] = next(run.env._eid)  # SimPy numbers every scheduled event
        counters["clock_advances"] = run.env.advanced  # timeouts the shortcut saved
        counters["relevant_events"] = (2 * run.crew.sessions + run.triage.true_alerts
                                       + run.triage.false_alerts + run.triage.warmup_alerts
                                       + run.periodic_checks + (2 if run.detected_by else 0))
    crew = run.crew
    detected = bool(run.detected_by)
    end = run.env.now
    last_by, last_at = crew.access_end()
    ended_by = last_by or ("horizon" if not detected else "")
    access_end = last_at if last_by else end
    return ReplicationResult(
        replication=replication,
        seed=seed,
        detected=detected,
        censored=not detected,
        detected_by=run.detected_by,
        dwell_hours=run.detected_at if detected else horizon,
        records_exfiltrated=crew.records_now(),
        true_alerts=run.triage.true_alerts,
        false_alerts=run.triage.false_alerts,
        alerts_dropped=run.triage.dropped,
        access_ended_by=ended_by,
        access_hours=access_end,
        sessions=crew.sessions,
        mean_triage_wait_hours=run.triage.mean_wait,
        analyst_utilisation=run.triage.utilisation(end),
        warmup_sealed=run.triage.sealed,
        warmup_dropped=run.triage.sealed_dropped,
        cases=run.triage.cases,
        insiders=crew.size,
        insiders_identified=len(crew.identified),
        insiders_stopped=crew.stopped_by_control(),
    )


def simulate_many(model: Model, seed: int, replications: Iterable[int],
                  collect_every: int = 256, freeze: bool = True) -> Iterator[ReplicationResult]:
    """Yield the result of each replication in turn, with memory flat in their number.

    A replication leaves reference cycles (the run, its components and the SimPy process
    point at each other) that only the cyclic garbage collector frees, and CPython's automatic
    full collections come too rarely to keep up: a run's memory grew ~2 KB per replication.
    So the replications' garbage is collected every ``collect_every`` replications. With
    ``freeze``, the first of these collections also freezes everything then alive (the model
    above all) out of the collector's way (``gc.freeze``, undone at the end), so each later
    one scans only the replications' own objects: ~1 ms instead of ~50 ms. A worker process
    that froze its model once passes ``freeze=False``.

    A batch shorter than ``collect_every`` neither collects nor freezes: it leaves its garbage
    to Python's own collector. A study runs hundreds of small batches beside a big heap
    (pyabc, pandas, optuna); a full collection per batch, to freeze, was 70% of a
    calibration's time, and freezing without it kept each batch's garbage out of every
    automatic collection, so memory grew by ~140 KB a batch (issue #16).
    """
    frozen = False
    try:
        for i, r in enumerate(replications, start=1):
            yield simulate(model, seed, r)
            if i % collect_every == 0:
                gc.collect()
                if freeze and not frozen:
                    gc.freeze()
                    frozen = True
    finally:
        if frozen:
            gc.unfreeze()
