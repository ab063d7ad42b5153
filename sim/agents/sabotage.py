"""The saboteur: one destructive burst at a chosen time, then gone.

CERT's IT sabotage cases are mostly disgruntled technical staff who plant or trigger one
destructive act, often around or after leaving (Moore, Cappelli & Trzeciak, "The 'Big Picture'
of Insider IT Sabotage Across U.S. Critical Infrastructures", CERT/SEI 2008). This insider does
nothing until ``at``; at the first start of its rhythm from then it runs one session that
destroys (deletes or encrypts) every record left in its target, at the profile's rate from the
profile's addresses (a session longer than ``max_session_hours`` is cut there), and then stops
for good (``access_ended_by: stopped``). ``records_exfiltrated`` counts the records destroyed.

Only controls that can react within the burst, or that find it afterwards, matter: a periodic
audit reviews the single session at most once; a rule or a monitor sees one extreme session.
``at`` must fall within the horizon.

Decisions: ``wait`` (T1029 Scheduled Transfer) and ``destroy`` (T1485 Data Destruction).

Config: ``insider/strategy=sabotage`` (``at``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.agents.strategy import DECISION_TECHNIQUES, Move, Strategy, Tactics
from sim.core.errors import ConfigError
from sim.core.params import spec

if TYPE_CHECKING:
    from sim.agents.insider import Insider, Session
    from sim.core.engine import Model


@dataclass(frozen=True)
class SabotageParams:
    at: float = spec(720.0, duration=True, lo=0, doc="when the burst happens (within the horizon)")


class Sabotage(Strategy):
    """Waits until ``at``, destroys the target in one session, stops."""

    Params = SabotageParams

    def prepare(self, model: Model) -> None:
        horizon = model.run.horizon
        if self.params.at >= horizon:
            raise ConfigError("at", f"must be within the horizon (0 to {horizon:g} h), got "
                                    f"{self.params.at:g} h")

    def start(self, insider: Insider) -> Tactics:
        return _Burst(insider, self.params.at)


class _Burst(Tactics):
    def __init__(self, insider: Insider, at: float) -> None:
        super().__init__(insider)
        self.at = at
        self.done = False

    def next_start(self, now: float, proposed: float) -> float:
        if self.done:
            return math.inf
        if proposed >= self.at:
            return proposed
        start = self.insider.arrivals.first_from(self.at)
        self.decide("wait", DECISION_TECHNIQUES["scheduled"], until=start)
        return start

    def shape(self, target: str, move: Move) -> Move:
        left = self.insider.remaining[target]
        self.decide("destroy", DECISION_TECHNIQUES["destroy"], target=target, records=left)
        return move._replace(records=float(left))

    def on_session_end(self, session: Session, taken: int) -> None:
        self.done = True
