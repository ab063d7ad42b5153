"""Several insiders in one replication: a crew of accomplices, and what containing one means.

A crew (config key ``insider.crew``; options in ``conf/insider/crew/``) is ``size`` insiders
with the same profile and strategy (:mod:`sim.agents.insider`, :mod:`sim.agents.strategy`), each
with its own numpy streams, its own strategy state and its own sessions, taking records from the
same datastores (they share the work: a record one has taken is not taken again). Member 0's
first session is the crew's first access (time 0); the others' first sessions arrive like their
later ones. ``size: 1``
(the default, and what a config without ``insider.crew`` means) is the single insider of before,
with the same draws and the same rows.

``credentials`` says what they log in with:

* ``own``: each member holds its own credential with the same reach, age and lifetime as the
  configured one (accomplices each keeping a key, or a colleague's account each). A
  per-credential volume rule sees each member alone, so a crew splits its volume below it;
  a credential review rotates each key on its own draw. ``holders`` says who the
  accomplices are: ``same`` as the configured credential's holder (a former employee's key:
  leavers who each kept one), or ``staff``, current employees using their own valid
  credentials - which a review that revokes leavers' credentials
  (``revoke_former_employees``) does not touch.
* ``shared``: every member uses the one configured credential. A per-credential rule adds up
  the members' concurrent request rates (it trips sooner than on any one of them), and when
  that credential is revoked - by containment or a credential review - every member loses
  access at once.

What the defender does with a crew (:class:`sim.core.engine.Run`): each detection identifies
one member (the one whose session raised the alert, or whose lines the audit found). Its
containment follows the response delay; the investigation of the contained member exposes each
other member still unidentified with probability ``reveal`` (independently; cut at the same
containment), and with a shared credential the revocation cuts every member on it (cut, not
identified). The others go on until a detector finds them or the horizon. A member that sees a
colleague lose access hears it (:meth:`sim.agents.strategy.Tactics.on_colleague_lost`): a
cautious member goes quiet.

Randomness: member 0 draws from the streams a single insider always had (``insider``,
``insider:sessions``, ``insider:strategy``, ``response``); member ``k > 0`` from
``insider#k...`` and ``response#k``; the reveal draws from ``crew:reveal``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.core.errors import ConfigError
from sim.core.params import spec

if TYPE_CHECKING:
    from sim.agents.insider import Insider, Session
    from sim.core.engine import Run

CREDENTIALS = ("own", "shared")
HOLDERS = ("same", "staff")
#: the holder role of an accomplice's own key with ``holders: staff``
STAFF_ROLE = "employee"
#: The largest crew (accomplices, not an organisation; bounds a replication's work).
MAX_CREW = 100
#: Why a member's access ended, when it did not end by a control's hand (not "stopped").
SELF_ENDED = frozenset({"exhausted", "stopped", "expired"})


@dataclass(frozen=True)
class CrewParams:
    """Several insiders in one replication (config key ``insider.crew``)."""

    size: int = spec(1, lo=1, hi=MAX_CREW, doc="insiders in the replication (1: a lone insider)")
    credentials: str = spec("own", choices=CREDENTIALS,
                            doc="each member its own credential with the same reach, or all "
                                "on the one configured credential")
    reveal: float = spec(0.0, lo=0, hi=1,
                         doc="chance the investigation of a contained member exposes each "
                             "other member (cut at the same containment)")
    holders: str = spec("same", choices=HOLDERS,
                        doc="with own credentials, who holds the accomplices' keys: the same "
                            "role as the configured credential's holder, or current staff")

    def check(self) -> None:
        """A lone insider has no accomplices to share with or to reveal: refuse those keys;
        accomplices on the one shared credential have no keys of their own to hold."""
        if self.size == 1:
            for name, default in (("credentials", "own"), ("reveal", 0.0), ("holders", "same")):
                if getattr(self, name) != default:
                    raise ConfigError(name, f"applies only to a crew (size >= 2), and size is "
                                            f"1; set insider.crew.size or leave {name} out")
        if self.credentials == "shared" and self.holders != "same":
            raise ConfigError("holders", "applies only to own credentials (credentials: own); "
                                         "on a shared credential every member uses the one "
                                         "configured key")


class Crew:
    """The insiders of one replication, as the controls see them.

    Detectors reach the crew through ``run.crew`` (``run.insider`` is member 0): the records
    all members took, the audit's log lookup over every member's sessions, the next moment any
    member acts, notices to all of them.

    Args:
        run: the replication.
        members: built by the caller with ``member=k``; they share one ``remaining`` mapping.
        params: the crew's parameters.
    """

    def __init__(self, run: Run, members: list[Insider], params: CrewParams) -> None:
        self.run = run
        self.members = members
        self.params = params
        self.size = len(members)
        self.solo = self.size == 1
        #: the credential (key index) each member uses: its own, or all key 0
        self.key_of = [m.key for m in members]
        self.keys = sorted(set(self.key_of))
        self.identified: set[int] = set()  # confirmed by a detector or revealed
        self._reveal_rng = None
        self._holding = False
        self._held: list[tuple[int, str]] = []
        if not self.solo:
            for m in members:
                m.on_cut = self.member_cut

    # -- aggregates the detectors read ---------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether any member still has access."""
        return any(m.active for m in self.members)

    @property
    def records(self) -> int:
        """Records taken by all members (whole sessions)."""
        if self.solo:
            return self.members[0].records
        return sum(m.records for m in self.members)

    @property
    def sessions(self) -> int:
        return sum(m.sessions for m in self.members)

    def records_now(self) -> int:
        """Records taken by all members up to now (the elapsed share of running sessions)."""
        return sum(m.records_now() for m in self.members)

    def next_change(self, starting: Session | None = None) -> float:
        """The earliest time a member's session starts or ends from now (``starting``: the
        session starting now, not yet running): no session's records move before it."""
        if self.solo:
            m = self.members[0]
            return starting.end if starting is not None else m.next_start
        out = math.inf
        for m in self.members:
            if starting is not None and m.member == starting.member:
                t = starting.end
            elif m.current is not None:
                t = m.current.end
            else:
                t = m.next_start
            out = min(out, t)
        return out

    def sessions_between(self, t0: float, t1: float) -> list[str]:
        """The targets of every member's sessions that overlapped ``[t0, t1]``, member by
        member (each member's own sessions never overlap; different members' may)."""
        if self.solo:
            return self.members[0].sessions_between(t0, t1)
        return [t for m in self.members for t in m.sessions_between(t0, t1)]

    def lines_by_member(self, t0: float, t1: float, lines: dict[str, int]) -> list[int]:
        """Per member, the log lines (``lines`` per session to each target) of its sessions
        that overlapped ``[t0, t1]``."""
        return [sum(lines[t] for t in m.sessions_between(t0, t1)) for m in self.members]

    def running_on(self, key: int) -> Iterator[Session]:
        """The sessions running now on credential ``key``."""
        for m in self.members:
            if m.key == key and m.current is not None:
                yield m.current

    def most_records(self) -> int:
        """The member who has taken the most records so far (the first on a tie)."""
        if self.solo:
            return 0
        best = max(m.records for m in self.members)
        return next(m.member for m in self.members if m.records == best)

    # -- what the controls do to it -----------------------------------------------------------
    def notice(self, control: str) -> None:
        """Staff can see ``control`` at work now: every member sees it."""
        for m in self.members:
            m.notice(control)

    def refused(self, session: Session, control: str) -> None:
        """``control`` refused requests on ``session``'s credential: its member and, on a
        shared key, every member running a session on it now see the refusals."""
        self.members[session.member].refused(session, control)
        if not self.solo:
            for other in self.running_on(session.key):
                if other.member != session.member:
                    self.members[other.member].refused(other, control)

    def cut(self, members: list[int], reason: str) -> None:
        """Cut the access of ``members`` (in order) for ``reason``, at once: the members left
        with access hear of each lost colleague after all of them are cut."""
        self._holding = True
        try:
            for k in members:
                self.members[k].cut(reason)
        finally:
            self._holding = False
        held, self._held = self._held, []
        for k, why in held:
            self.colleague_lost(k, why)

    def member_cut(self, member: int, reason: str) -> None:
        """A member's access was cut now (its :meth:`~sim.agents.insider.Insider.cut`)."""
        if self._holding:
            self._held.append((member, reason))
        else:
            self.colleague_lost(member, reason)

    def colleague_lost(self, member: int, reason: str) -> None:
        """Every other active member hears that ``member`` lost access for ``reason``."""
        for m in self.members:
            if m.member != member:
                m.colleague_lost(member, reason)

    def contain(self, member: int) -> tuple[list[int], list[int]]:
        """Who containment of ``member`` cuts, and whom it reveals.

        Cut: ``member``; each unidentified member the investigation reveals (chance
        ``reveal``, one draw per unidentified member, in order), who is then identified; and
        on a shared credential every member on it (the key is revoked: cut, not identified).
        """
        if self.solo:
            return [member], []
        p = self.params.reveal
        key = self.members[member].key
        cut, revealed = [member], []
        for m in self.members:
            k = m.member
            if k == member:
                continue
            if k not in self.identified and (p >= 1 or (p > 0 and self._reveal().random() < p)):
                self.identified.add(k)
                revealed.append(k)
                cut.append(k)
            elif m.key == key:
                cut.append(k)
        return cut, revealed

    def _reveal(self):
        if self._reveal_rng is None:
            self._reveal_rng = self.run.rng("crew:reveal")
        return self._reveal_rng

    def on_key(self, key: int) -> list[int]:
        """The members using credential ``key``."""
        return [k for k, kk in enumerate(self.key_of) if kk == key]

    def holder_role(self, key: int) -> str:
        """The role of the holder of credential ``key``: the configured credential's holder's
        (key 0, and every key with ``holders: same``), or a current employee's."""
        if key == 0 or self.params.holders == "same":
            return self.run.model.plan.holder_role
        return STAFF_ROLE

    def active_keys(self) -> list[int]:
        """The credentials some member still uses, in key order."""
        return [key for key in self.keys if any(self.members[k].active for k in self.on_key(key))]

    # -- the row -----------------------------------------------------------------------------
    def access_end(self) -> tuple[str, float]:
        """Why and when the crew's access ended: the last member's end (``("", nan)`` while a
        member still has access)."""
        if self.solo:
            m = self.members[0]
            return m.ended_by, m.ended_at
        if any(not m.ended_by for m in self.members):
            return "", math.nan
        last = max(self.members, key=lambda m: m.ended_at)
        return last.ended_by, last.ended_at

    def stopped_by_control(self) -> int:
        """Members whose access a control ended (containment, a revealed accomplice, a revoked
        shared key, a rotated credential), not the member itself or its key's expiry."""
        return sum(1 for m in self.members if m.ended_by and m.ended_by not in SELF_ENDED)
