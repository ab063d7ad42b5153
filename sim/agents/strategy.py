"""How the insider behaves: the :class:`Strategy` interface and its per-replication state.

The insider (:mod:`sim.agents.insider`) runs one SimPy process per replication: wait for the
next session, pick a target, take a batch spread over some addresses, repeat until access ends.
A *strategy* makes its decisions and hears what the insider can observe. It is chosen in the
config like a detector (``insider.strategy``, ``_target_`` naming a :class:`Strategy` subclass
or a function marked ``@sim.core.params.makes(Strategy)``); the other keys are its parameters,
validated by :func:`sim.core.params.build`. Options live in ``conf/insider/strategy/``:
``python -m sim insider/strategy=cautious``.

A :class:`Strategy` is built once per job (read-only, shared by replications). For each
replication the insider calls :meth:`Strategy.start`, which returns :class:`Tactics`: the
per-replication state, with hooks that default to doing nothing (the renewal insider of
:mod:`sim.agents.renewal` is exactly the defaults). The insider calls only the hooks a subclass
overrides, so a strategy pays for what it uses.

Decisions (each returns the insider's default choice unless overridden):

* :meth:`Tactics.next_start` — when the next session starts (``inf``: never again; the insider
  then stops on its own, ``access_ended_by = "stopped"``);
* :meth:`Tactics.choose_target` — which datastore the session goes to (reached along the route
  of ``insider.route``, :mod:`sim.world.walk`);
* :meth:`Tactics.shape` — how many records it takes, from how many addresses, at what request
  rate per address.

Observations (what the insider can see of the controls):

* :meth:`Tactics.on_refused` — a request was refused or throttled (a volume rule fired: the
  rule answers over-limit requests with HTTP 429 and alerts);
* :meth:`Tactics.on_notice` — a visible audit or policy notice (an audit with ``visible: true``);
* :meth:`Tactics.on_session_end` — a session ended, having taken so many records;
* :meth:`Tactics.on_access_lost` — the key stopped working or the account was locked
  (containment, rotation, expiry); no session follows;
* :meth:`Tactics.on_colleague_lost` — in a crew (:mod:`sim.agents.crew`), an accomplice's
  access was revoked or contained (accomplices talk: a colleague's lost access is the most
  visible signal there is).

A decision that departs from the default is recorded with :meth:`Tactics.decide`, a
``decision`` event in the trace tagged with its MITRE ATT&CK technique and, where one fits, the
exfiltration channel in the CERT insider-incident vocabulary (:data:`CHANNELS`).

Randomness: a strategy that draws uses ``insider.stream("strategy")`` (``run.rng(
"insider:strategy")`` for a lone insider; each crew member has its own), so a strategy that
draws nothing leaves the insider's numbers exactly those of the renewal insider.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from sim.core.params import build

if TYPE_CHECKING:
    from sim.agents.insider import Insider, Session
    from sim.core.engine import Model

#: MITRE ATT&CK techniques a strategy's decisions are tagged with (beyond the session's own).
DECISION_TECHNIQUES = {
    "scheduled": "T1029",         # Scheduled Transfer: when to act (pauses, windows)
    "size_limit": "T1030",        # Data Transfer Size Limits: how much per transfer
    "proxy": "T1090.003",         # Proxy: Multi-hop Proxy (more source addresses)
    "automated": "T1020",         # Automated Exfiltration (back-to-back pulls)
    "cloud": "T1567.002",         # Exfiltration Over Web Service: to Cloud Storage
    "manipulate": "T1565.001",    # Data Manipulation: Stored Data Manipulation
    "destroy": "T1485",           # Data Destruction
}

#: Exfiltration channels, in the vocabulary of the CERT insider-incident corpus (CERT Common
#: Sense Guide to Mitigating Insider Threats, 7th ed.: how data left in insider IP-theft and
#: fraud cases).
CHANNELS = ("web_service", "remote_access", "cloud_storage", "email", "removable_media")


class Move(NamedTuple):
    """What one session sets out to do: ``records`` (before the store's remainder and the
    session cap are applied), spread over ``ip_addresses`` at ``rate_per_ip`` requests per
    address-hour."""

    records: float
    ip_addresses: int
    rate_per_ip: float


class Tactics:
    """A strategy's state in one replication. Every hook defaults to the renewal insider.

    Args:
        insider: the insider it steers (``insider.env``, ``insider.run``, ``insider.arrivals``:
            the session starts of the insider's rhythm, :class:`sim.world.calendar.PointStream`).
    """

    def __init__(self, insider: Insider) -> None:
        self.insider = insider

    # -- decisions ----------------------------------------------------------------------------
    def next_start(self, now: float, proposed: float) -> float:
        """When the next session starts, at or after ``now``: ``proposed`` (the next start of
        the insider's rhythm) by default; ``inf`` to stop. For the first session ``now`` is 0
        and ``proposed`` is 0 (or the first arrival, with ``first_session_at_start: false``).
        ``insider.arrivals.first_from(t)`` gives the rhythm's first start at or after a later
        ``t``."""
        return proposed

    def choose_target(self, targets: list[str]) -> str:
        """The datastore of the next session, one of ``targets`` (those with records left,
        in the plan's order); default the first."""
        return targets[0]

    def shape(self, target: str, move: Move) -> Move:
        """The next session's size and spread; default ``move``, the profile's (a batch drawn
        from the insider's gamma, ``ip_addresses``, ``request_rate_per_ip``)."""
        return move

    # -- observations ---------------------------------------------------------------------------
    def on_refused(self, session: Session, control: str) -> None:
        """``control`` refused or throttled requests of ``session`` (now, during it)."""

    def on_notice(self, control: str) -> None:
        """Staff saw ``control`` at work now (a visible audit, a policy notice)."""

    def on_session_end(self, session: Session, taken: int) -> None:
        """``session`` ended now having taken ``taken`` records (before :meth:`next_start`)."""

    def on_access_lost(self, reason: str) -> None:
        """Access ended now (``containment``, ``expired``, a control's name): the key stopped
        working or the account was locked. No session follows."""

    def on_colleague_lost(self, member: int, reason: str) -> None:
        """Crew member ``member`` (:mod:`sim.agents.crew`) lost access now for ``reason``
        (``containment``, ``expired``, a control's name) while this member still has it."""

    # -- helpers --------------------------------------------------------------------------------
    def decide(self, decision: str, technique: str | tuple[str, ...], *,
               channel: str | None = None, **fields: Any) -> None:
        """Record a decision in the trace (only when tracing): a ``decision`` event with its
        ATT&CK ``technique`` (ids), the exfiltration ``channel`` where one fits, and
        ``fields`` (why: the signal, the new value...). Its ``session`` is the index of the
        next session to start, the one the decision shapes."""
        run = self.insider.run
        if run.events is None:
            return
        techs = [technique] if isinstance(technique, str) else list(technique)
        extra = {"channel": channel} if channel else {}
        if any(t.startswith(("T1565", "T1485")) for t in techs):
            category = "impact"
        elif all(t.startswith("T1090") for t in techs):
            category = "command-and-control"
        else:
            category = "exfiltration-decision"
        run.emit("decision", category=category, session=self.insider.sessions,
                 technique=techs, decision=decision, **extra, **fields, **self.insider.tag)


class Strategy(ABC):
    """How the insider decides (config key ``insider.strategy``); built once per job.

    Args:
        **params: the strategy's parameters; see its ``Params`` dataclass.

    Raises:
        ConfigError: a parameter is unknown, missing or out of range (key relative to the
            strategy; the engine puts ``insider.strategy.`` in front).
    """

    Params: ClassVar[type[Any]]
    #: Name in the printed summary and the trace; the class name by default.
    name: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        self.params = build(self.Params, params)

    def prepare(self, model: Model) -> None:  # noqa: B027 - a hook: nothing by default
        """Called once per job after the model is built: check the parameters against it
        (e.g. a date within the horizon) and precompute. Raise ConfigError naming the
        parameter (relative key); the engine puts ``insider.strategy.`` in front."""

    @abstractmethod
    def start(self, insider: Insider) -> Tactics:
        """The tactics of one replication of one insider (a crew member each: draw from
        ``insider.stream("strategy")``)."""

    def describe(self) -> str:
        """One line for the printed summary."""
        return self.name or type(self).__name__


@dataclass(frozen=True)
class NoParams:
    """A strategy without parameters."""

