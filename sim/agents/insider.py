"""The insider: an agent with a retained credential who exfiltrates records in sessions.

Default profile (the 2025 Coupang case, ../shared/CALIBRATION.md): a former developer of the
authentication system kept a token-signing key that was never revoked; from abroad, they forge
tokens, reach the customer-facing APIs and page through customer records in small batches, from
many IP addresses, throttled to stay below per-IP volume thresholds.

What the insider *decides* - when the next session starts, where it goes, how much it takes
and from how many addresses - and how it reacts to what it can see of the controls is its
strategy (``insider.strategy``, :mod:`sim.agents.strategy`); this module is the machinery that
carries the decisions out. The default strategy, :class:`sim.agents.renewal.Renewal`, is the
renewal process described below.

Contract of the SimPy process (:meth:`Insider.process`):

* the first session starts at simulation time 0 (the dwell clock starts with the first access),
  or, with ``first_session_at_start: false``, arrives like every later one (time 0 is then
  when access became possible, as the analytic checks assume);
* later sessions arrive as a Poisson process whose rate follows the insider's weekly rhythm in
  their own time zone, each starting after the previous one ended;
* a session takes a batch of records from the current target datastore, reached along the
  network path the credential permits; its length is set by the request budget
  (records x requests per record) spread over ``ip_addresses`` at ``request_rate_per_ip``;
* records count as exfiltrated when the session ends, pro rata if access is cut mid-session;
* the insider stops when access is cut (containment, revocation, expiry), every target is
  empty ("exhausted"), or its strategy decides to start no more sessions ("stopped");
* a wait (a session, or the idle time to the next) that no scheduled event can come before
  takes no SimPy event: the insider moves the clock itself
  (:meth:`sim.core.engine.Environment.advance`), with the same steps at the same times in the
  same order as through a SimPy timeout.

The insider draws only from its own streams, so under the renewal strategy which detectors
are present never changes its sessions up to the moment it is stopped. An adaptive strategy
reacts to what the controls show it (a rule's refusals, a visible audit): there the detectors
change its sessions, by design, and only through those observations.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import simpy

from sim.agents.renewal import Renewal
from sim.agents.strategy import Move, Strategy, Tactics
from sim.core.errors import ConfigError
from sim.core.params import spec
from sim.world.calendar import Rhythm
from sim.world.walk import ROUTES, check_given, edge_of, least_watched_route, setup_hours, walk_of

if TYPE_CHECKING:
    from sim.core.engine import Run
    from sim.world.network import Network

#: MITRE ATT&CK techniques the insider's actions are tagged with.
TECHNIQUES = {
    "valid_account": "T1078",        # Valid Accounts
    "forged_token": "T1550.001",     # Use Alternate Authentication Material: App Access Token
    "proxy": "T1090.003",            # Proxy: Multi-hop Proxy (requests spread over many IPs)
    "collect": "T1213",              # Data from Information Repositories
    "exfiltrate": "T1567",           # Exfiltration Over Web Service
    "scheduled": "T1029",            # Scheduled Transfer (sessions in the insider's own hours)
    "size_limit": "T1030",           # Data Transfer Size Limits (the data leaves in batches)
}


@dataclass(frozen=True)
class InsiderProfile:
    """Parameters of the insider (config group ``insider``); built once per job."""

    credential: str = spec("auto", doc="credential id in the network; 'auto' = the one a former "
                                       "employee holds")
    fields: tuple[str, ...] = spec(("name", "email", "phone", "shipping_address"),
                                   doc="data fields sought; datastores holding any are targets")
    sessions_per_day: float = spec(6.0, lo=0, lo_open=True, doc="mean session rate")
    profile: str | tuple[float, ...] = spec("evening", doc="24-hour shape of activity, local time")
    utc_offset_hours: float = spec(8.0, lo=-12, hi=14, doc="the insider's own time zone")
    weekend_factor: float = spec(1.0, lo=0, hi=100,
                                 doc="weekend activity relative to weekdays (<= 100: all but "
                                     "all at weekends)")
    records_per_session: float = spec(40_000.0, lo=1, doc="mean batch size")
    batch_cv: float = spec(0.5, lo=0, hi=100,
                           doc="coefficient of variation of the batch size (gamma)")
    requests_per_record: float = spec(4.4, lo=0, lo_open=True,
                                      doc="page requests per record taken")
    ip_addresses: int = spec(50, lo=1, doc="source IPs the requests are spread over")
    request_rate_per_ip: float = spec(400.0, lo=0, lo_open=True,
                                      doc="requests per hour from each IP (inf = instant)")
    max_session_hours: float = spec(8.0, duration=True, lo=0, lo_open=True,
                                    doc="longest session; a batch that does not fit is cut")
    route: str = spec("shortest", choices=ROUTES,
                      doc="how a session's route to a target is chosen (sim.world.walk)")
    path: tuple[str, ...] = spec((), doc="with route: given, the asset ids from an entry "
                                         "point to the target datastore")
    first_session_at_start: bool = spec(
        True, doc="the first session is at time 0 (the dwell clock starts with an access); "
                  "false: time 0 is when access became possible and the first session "
                  "arrives like the others")

    def check(self) -> None:
        """Cross-field rules."""
        if self.path and self.route != "given":
            raise ConfigError("path", f"is only used with route: given (route is "
                                      f"{self.route!r})")
        if isinstance(self.profile, str):
            return
        if len(self.profile) != 24:
            raise ConfigError("profile", "must be a profile name or 24 numbers")


class Session(NamedTuple):
    """One insider session, as the detectors see it (a tuple: cheap to make per session).

    ``end`` and ``records`` are what the insider plans; if access is cut mid-session the insider
    credits only the elapsed share.
    """

    index: int
    start: float
    end: float
    target: str
    records: int
    requests: float
    ip_addresses: int
    requests_per_ip_hour: float
    first_on_target: bool
    #: the crew member it belongs to (0: the lone insider), :mod:`sim.agents.crew`
    member: int = 0
    #: the credential it uses, as the crew's key index (0: the configured credential)
    key: int = 0


class InsiderPlan:
    """What the insider can do on this network: its credential, path and targets.

    Resolved once per job from the profile and the network (read-only, shared by replications).
    Each target has a route (by the profile's ``route`` rule, :mod:`sim.world.walk`), a walk (the
    assets every session to it touches) and a set-up time per session.

    Args:
        watched: the assets some observing detector watches (for ``route: least_watched``).

    Raises:
        ConfigError: the credential does not exist or reaches no target; a given path is
            invalid.
    """

    def __init__(self, profile: InsiderProfile, network: Network,
                 watched: frozenset[str] = frozenset()) -> None:
        self.profile = profile
        cred = profile.credential
        if cred == "auto":
            held = [c for c in network.credentials()
                    if not network.node(c).get("revoked", False)
                    and network.holder(c) is not None
                    and network.node(network.holder(c)).get("role") == "former_employee"
                    and network.targets(c, profile.fields)]
            if not held:
                raise ConfigError("insider.credential", f"'auto' needs an unrevoked credential "
                                  f"held by a former_employee that reaches a datastore with "
                                  f"{', '.join(profile.fields)}; network {network.name!r} has none")
            cred = held[0]
        elif cred not in set(network.credentials()):
            raise ConfigError("insider.credential",
                              f"no credential {cred!r} in network {network.name!r}; "
                              f"choose one of {', '.join(network.credentials()[:10])}")
        elif network.node(cred).get("revoked", False):
            raise ConfigError("insider.credential", f"{cred!r} is revoked: it grants no access")
        self.credential = cred
        node = network.node(cred)
        self.cred_type = node.get("cred_type", "account")
        self.credential_age = float(node.get("issued_hours_ago", 0.0))
        self.credential_lifetime = float(node.get("lifetime_hours", math.inf))
        holder = network.holder(cred)
        self.holder_role = network.node(holder).get("role", "") if holder else ""
        self.targets = tuple(network.targets(cred, profile.fields))
        if profile.route == "given":
            given = check_given(network, cred, profile.path)
            if given[-1] not in self.targets:
                raise ConfigError("insider.path", f"ends at {given[-1]!r}, which holds none of "
                                  f"{', '.join(profile.fields)}")
            self.targets = (given[-1],)
            routes = {given[-1]: given}
        elif profile.route == "least_watched":
            routes = {t: least_watched_route(network, cred, t, watched) for t in self.targets}
        else:
            routes = {t: network.path_to(cred, t) for t in self.targets}
        #: the route of each target, entry point first
        self.paths = {t: tuple(r or ()) for t, r in routes.items()}
        #: the assets a session to each target touches (route + validating auth service)
        self.walks = {t: walk_of(network, cred, r) for t, r in self.paths.items()}
        #: the assets of each walk that see the insider's own addresses (sim.world.walk.edge_of)
        self.edges = {t: edge_of(self.walks[t], r) for t, r in self.paths.items()}
        #: set-up hours per session to each target (sum of hop_seconds on the walk)
        self.setup = {t: setup_hours(network, w) for t, w in self.walks.items()}
        self.records = {t: int(network.node(t).get("records", 0)) for t in self.targets}
        self.total_records = sum(self.records.values())
        self.holder = network.holder(cred) or ""
        self.zones = {hop: network.node(hop).get("zone", "")
                      for walk in self.walks.values() for hop in walk}
        auth = (TECHNIQUES["forged_token"] if self.cred_type == "signing_key"
                else TECHNIQUES["valid_account"])
        self.auth_technique = auth
        access = [auth] + ([TECHNIQUES["proxy"]] if profile.ip_addresses > 1 else [])
        exfil = [TECHNIQUES["collect"], TECHNIQUES["exfiltrate"], TECHNIQUES["scheduled"]]
        if profile.records_per_session < self.total_records:  # it leaves in batches
            exfil.append(TECHNIQUES["size_limit"])
        self.access_techniques = tuple(access)
        self.exfil_techniques = tuple(exfil)
        #: every technique a session involves, access first
        self.session_techniques = self.access_techniques + self.exfil_techniques


class Insider:
    """The insider of one replication (state + SimPy process).

    Args:
        run: the replication; gives the environment, this component's stream and the hooks.
        plan: what the insider can do (shared, read-only).
        rhythm: the weekly activity pattern in the insider's time zone.
        strategy: how it decides and reacts (:mod:`sim.agents.strategy`); default renewal.
        member: its index in the crew (:mod:`sim.agents.crew`); member 0 draws from the
            streams a lone insider always had, member ``k`` from ``insider#k...``.
        key: the credential it uses, as the crew's key index (0: the configured one).
        remaining: the records left per target, shared by the crew (default: its own copy).
        crew_size: the crew's size; in a crew of 2 or more its trace events carry ``member``.
    """

    _BATCH_BLOCK = 64  # batch sizes drawn per numpy call

    def __init__(self, run: Run, plan: InsiderPlan, rhythm: Rhythm,
                 on_session_start: Callable[[Session], None],
                 on_session_end: Callable[[Session, int], None],
                 on_access_end: Callable[[str], None],
                 strategy: Strategy | None = None,
                 on_postponed: Callable[[], None] | None = None, *, member: int = 0,
                 key: int = 0, remaining: dict[str, int] | None = None,
                 crew_size: int = 1) -> None:
        self.run = run
        self.env = run.env
        self.plan = plan
        self.rhythm = rhythm
        self.member, self.key = member, key
        #: fields its trace events carry: ``member`` in a crew of 2 or more
        self.tag: dict[str, int] = {"member": member} if crew_size > 1 else {}
        #: the credential and its holder as the trace names them (a member's own key: ``#k``)
        self.credential = plan.credential + (f"#{key}" if key else "")
        self.holder = plan.holder + (f"#{key}" if key else "")
        self.rng: np.random.Generator = self.stream("")
        self.remaining = dict(plan.records) if remaining is None else remaining
        self.records = 0            # records exfiltrated so far (whole sessions)
        self.sessions = 0
        self.last_activity = -math.inf  # end of the latest session
        self.active = True
        self.ended_by = ""
        self.ended_at = math.nan
        self.current: Session | None = None
        self._starts: list[float] = []  # session starts, increasing
        self._ends: list[float] = []    # matching ends (cut short if access ended mid-session)
        self._targets: list[str] = []   # matching targets
        self._batches: list[float] = []  # pre-drawn batch sizes, next one last
        self._on_start = on_session_start
        self._on_end = on_session_end
        self._on_access_end = on_access_end
        self._on_postponed = on_postponed
        #: called with (member, reason) when access is cut (a crew tells the others)
        self.on_cut: Callable[[int, str], None] | None = None
        #: while idle between sessions (or before a first session not at time 0), when the
        #: next one starts; ``inf`` during a session and once none will start
        self.next_start = math.inf
        #: the session starts of the insider's rhythm: a Poisson process drawn lazily in
        #: blocks from its own stream (``first_from(t)``: the first start at or after ``t``)
        self.arrivals = rhythm.points(plan.profile.sessions_per_day / 24.0,
                                      self.stream("sessions"))
        #: the strategy's state in this replication; only the hooks it overrides are called
        self.tactics: Tactics = (strategy or Renewal()).start(self)
        kind = type(self.tactics)
        self._when = (self.tactics.next_start
                      if kind.next_start is not Tactics.next_start else None)
        #: whether its strategy shapes sessions (else each runs at the profile's rates)
        self.reshapes = kind.shape is not Tactics.shape
        self._waiting = False  # idle in a wait that reschedule() may move
        #: the engine's exact shortcut for a wait nothing can interrupt (None on a bare SimPy
        #: environment): :meth:`sim.core.engine.Environment.advance`
        self._advance: Callable[[float], bool] | None = getattr(self.env, "advance", None)
        self.process = self.env.process(self._run())
        lifetime_left = plan.credential_lifetime - plan.credential_age
        if 0 < lifetime_left < math.inf:  # the credential expires during the run, maybe mid-session
            self.env.timeout(lifetime_left).callbacks.append(lambda _e: self.cut("expired"))

    def stream(self, name: str) -> np.random.Generator:
        """This member's numpy stream ``name`` (``""``: its batches; ``sessions``; a strategy
        draws from ``strategy``): ``run.rng("insider:NAME")`` for member 0, as a lone insider
        always drew, ``run.rng("insider#k:NAME")`` for member ``k``."""
        base = "insider" if self.member == 0 else f"insider#{self.member}"
        return self.run.rng(f"{base}:{name}" if name else base)

    def records_now(self) -> int:
        """Records exfiltrated up to now, counting the elapsed share of a running session."""
        cur = self.current
        if cur is None or cur.end <= cur.start:
            return self.records
        share = (self.env.now - cur.start) / (cur.end - cur.start)
        return self.records + int(cur.records * min(max(share, 0.0), 1.0))

    def sessions_between(self, t0: float, t1: float) -> list[str]:
        """The targets of this member's sessions that overlapped ``[t0, t1]``, in order.

        A member's own sessions never overlap, so starts and ends both increase: two
        bisections find them (a crew's members may overlap: :meth:`sim.agents.crew.Crew.
        sessions_between` asks each member).
        """
        i1 = bisect.bisect_right(self._starts, t1)
        i0 = bisect.bisect_left(self._ends, t0, 0, i1)
        return self._targets[i0:i1]

    # -- what the insider observes (called by the controls) -------------------------------------
    def refused(self, session: Session, control: str) -> None:
        """``control`` refused or throttled requests of ``session`` (a rate rule fired)."""
        if self.active and type(self.tactics).on_refused is not Tactics.on_refused:
            self.tactics.on_refused(session, control)

    def notice(self, control: str) -> None:
        """Staff can see ``control`` at work now (a visible audit, a policy notice)."""
        if self.active and type(self.tactics).on_notice is not Tactics.on_notice:
            self.tactics.on_notice(control)

    def colleague_lost(self, member: int, reason: str) -> None:
        """Crew member ``member`` lost access now (``reason``: containment, a revoked key...):
        accomplices hear of it (:mod:`sim.agents.crew`)."""
        if self.active and type(self.tactics).on_colleague_lost is not Tactics.on_colleague_lost:
            self.tactics.on_colleague_lost(member, reason)

    def reschedule(self) -> None:
        """Ask the strategy again when the next session starts (after it heard something while
        idle); a session running now is not affected. Moves the pending start and tells the
        detectors (their ``on_postponed`` hook)."""
        if not self._waiting or self._when is None or not self.active:
            return
        now, planned = self.env.now, self.next_start
        moved = max(self._when(now, planned), now)
        if moved == planned:
            return
        self.next_start = moved
        if self._on_postponed is not None:
            self._on_postponed()
        self.process.interrupt("reschedule")

    def cut(self, reason: str) -> None:
        """End the insider's access now (containment, revocation, expiry). Idempotent."""
        if not self.active:
            return
        self.active = False
        self.ended_by = reason
        self.ended_at = self.env.now
        self.next_start = math.inf
        if self.run.events is not None:
            self.run.emit("access-ended", reason=reason, **self.tag)
        if type(self.tactics).on_access_lost is not Tactics.on_access_lost:
            self.tactics.on_access_lost(reason)
        self._on_access_end(reason)
        if self.on_cut is not None:
            self.on_cut(self.member, reason)
        if self.current is not None and self.process.is_alive:
            self.process.interrupt(reason)

    def _stop(self, reason: str) -> None:
        """The insider ends its own activity (no target left, or its strategy stops)."""
        self.active = False
        self.ended_by, self.ended_at = reason, self.env.now
        self.next_start = math.inf
        if self.run.events is not None:
            self.run.emit("access-ended", reason=reason, **self.tag)
        self._on_access_end(reason)

    def _trace_start(self, session: Session) -> None:
        run, plan = self.run, self.plan
        run.emit("session-start", category="authentication", session=session.index,
                 technique=list(plan.access_techniques), user=self.holder,
                 credential=self.credential, ip_addresses=session.ip_addresses,
                 target=session.target, planned_records=session.records,
                 planned_end=session.end, **self.tag)
        if session.first_on_target:  # the first visit walks the path to the target
            for hop in plan.walks[session.target]:
                run.emit("access", category="lateral-movement", session=session.index,
                         technique=[plan.auth_technique], node=hop,
                         zone=plan.zones.get(hop, ""), **self.tag)

    def _draw_batch(self) -> float:
        """The next planned batch size (gamma), from blocks of draws: one numpy call per
        ``_BATCH_BLOCK`` sessions instead of one per session, and the same numbers, as
        the insider's stream serves nothing else."""
        p = self.plan.profile
        if p.batch_cv <= 0:
            return p.records_per_session
        batches = self._batches  # refilled in place: the session loop pops from it directly
        if not batches:
            shape = 1.0 / (p.batch_cv * p.batch_cv)
            batches.extend(self.rng.gamma(shape, p.records_per_session / shape,
                                          self._BATCH_BLOCK).tolist())
            batches.reverse()
        return batches.pop()

    def _wait(self):
        """Wait idle until ``next_start``, which :meth:`reschedule` may move meanwhile (the
        renewal insider, which never reschedules, waits with one plain timeout instead)."""
        env = self.env
        self._waiting = True
        try:
            while True:
                delay = max(self.next_start - env.now, 0.0)
                if self._advance is not None and self._advance(delay):
                    return  # nothing could happen meanwhile: no reschedule either
                try:
                    yield env.timeout(delay)
                    return
                except simpy.Interrupt:
                    continue  # reschedule() moved next_start: wait for the new one
        finally:
            self._waiting = False

    def _run(self):  # noqa: C901 - one loop reads better than split generators
        p = self.plan.profile
        env, run = self.env, self.run
        timeout, isinf, inf = env.timeout, math.isinf, math.inf
        # Each wait below first tries the clock's shortcut: when no scheduled event comes at
        # or before its end (checked after the hooks, which may schedule some), the insider
        # moves the clock itself and goes on, the same steps as through a SimPy timeout.
        advance = self._advance or (lambda _delay: False)
        tracing = run.events is not None
        rate_per_ip, ips = p.request_rate_per_ip, p.ip_addresses
        per_hour_all_ips = ips * rate_per_ip
        per_record, max_hours = p.requests_per_record, p.max_session_hours
        lifetime_left = self.plan.credential_lifetime - self.plan.credential_age
        remaining, starts, ends = self.remaining, self._starts, self._ends
        setups, session_targets = self.plan.setup, self._targets
        on_start, on_end, draw_batch = self._on_start, self._on_end, self._draw_batch
        # the planned batch: fixed, or the next of the pre-drawn gamma block (draw_batch refills)
        fixed_batch = p.records_per_session if p.batch_cv <= 0 else None
        batches = self._batches
        new_session = tuple.__new__  # a Session without its Python-level __new__
        member, key = self.member, self.key
        targets = [t for t in self.plan.targets if remaining[t] > 0]
        seen: set[str] = set()
        # the strategy's decisions: None where it keeps the renewal insider's default
        tactics, kind = self.tactics, type(self.tactics)
        when = self._when
        choose = tactics.choose_target if kind.choose_target is not Tactics.choose_target else None
        shape = tactics.shape if kind.shape is not Tactics.shape else None
        heard = (tactics.on_session_end
                 if kind.on_session_end is not Tactics.on_session_end else None)
        # Session starts: the points of a Poisson process with the insider's rhythm that fall
        # while the insider is idle (by memorylessness, the first point after a session ends is
        # distributed as a fresh start then). Drawn in vectorised blocks from its own stream.
        arrivals = self.arrivals
        first_from = arrivals.first_from
        # a crew's first access is member 0's; the others' first sessions arrive like later ones
        at_start = p.first_session_at_start and member == 0
        first = 0.0 if at_start else next(arrivals, inf)
        if when is not None:
            first = max(when(0.0, first), 0.0)
        if isinf(first):
            self._stop("stopped")
            return
        now = None  # the clock, when the insider moved it itself (else read env.now)
        if first > 0 or not at_start:
            self.next_start = first
            if when is None:
                if not advance(first):
                    yield timeout(first)
            else:
                yield from self._wait()
            self.next_start = inf
        while True:
            if not self.active:
                return
            if now is None:
                now = env.now
            if now >= lifetime_left:
                self.cut("expired")
                return
            if choose is None:
                while targets and remaining[targets[0]] <= 0:
                    targets.pop(0)
            else:
                targets = [t for t in targets if remaining[t] > 0]
            if not targets:
                self._stop("exhausted")
                return
            target = targets[0] if choose is None else choose(targets)
            left = remaining[target]
            drawn = (fixed_batch if fixed_batch is not None
                     else batches.pop() if batches else draw_batch())
            if shape is None:
                # min(drawn, float(left)); int against float compares exactly, and float()
                # rounds to the nearest, so both pick the same number
                want = float(left) if left < drawn else drawn
                per_hour = per_hour_all_ips
            else:
                move = shape(target, Move(drawn, p.ip_addresses, p.request_rate_per_ip))
                ips, rate_per_ip = max(int(move.ip_addresses), 1), float(move.rate_per_ip)
                per_hour = ips * rate_per_ip
                want = min(max(float(move.records), 0.0), float(left))
            requests = want * per_record
            setup = setups[target]
            duration = 0.0 if per_hour == inf else requests / per_hour  # (rates are > 0)
            if duration + setup > max_hours:
                duration = max(max_hours - setup, 0.0)
                requests = duration * per_hour
                want = requests / per_record
            duration += setup
            batch = round(want)  # min(max(1, round(want)), left)
            if batch < 1:
                batch = 1
            if left < batch:
                batch = left
            end = now + duration
            index = self.sessions
            first_visit = target not in seen
            if first_visit:
                seen.add(target)
            session = new_session(Session, (index, now, end, target, batch, requests, ips,
                                            rate_per_ip, first_visit, member, key))
            self.sessions = index + 1
            starts.append(now)
            ends.append(end)
            session_targets.append(target)
            if tracing:
                self._trace_start(session)
            on_start(session)
            taken = batch
            if duration > 0:
                if advance(duration):  # nothing else happened: the session ran its course
                    now = end
                else:
                    self.current = session
                    try:
                        yield timeout(duration)
                    except simpy.Interrupt:
                        taken = int(batch * (env.now - now) / duration)
                        ends[-1] = env.now
                    self.current = None
                    now = env.now
            if taken > remaining[target]:  # a crew member emptied it meanwhile
                taken = max(remaining[target], 0)
            self.records += taken
            remaining[target] -= taken
            self.last_activity = now
            if heard is not None and self.active:
                heard(session, taken)
            # drawn before the hooks run, so they know when the insider acts next
            if self.active:
                nxt = first_from(now)
                if when is not None:
                    nxt = max(when(now, nxt), now)
            else:
                nxt = inf
            self.next_start = nxt
            if tracing:
                run.emit("exfiltration", category="exfiltration", session=session.index,
                         technique=list(self.plan.exfil_techniques), target=target,
                         records=taken,  # a crew's total: what all members took so far
                         records_total=run.crew.records if self.tag else self.records,
                         requests=round(session.requests * taken / max(batch, 1)), **self.tag)
            on_end(session, taken)
            if not self.active:
                return
            nxt = self.next_start  # (a hook may not move it, but read what the others read)
            if nxt == inf:
                self._stop("stopped")
                return
            if when is None:
                delay = nxt - now
                if advance(delay):
                    now += delay  # where advance put the clock, to the bit
                else:
                    now = None
                    yield timeout(delay)
            else:
                now = None
                yield from self._wait()
            self.next_start = inf
