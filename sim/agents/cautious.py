"""The cautious insider: goes quiet for a while after anything that looks like attention.

Insiders who know they are watched lie low (CERT: many insiders changed behaviour after an
announced audit or a warning). This insider behaves like the renewal insider until it sees a
signal - a visible audit or policy notice (an audit with ``visible: true``), requests refused
by a rate rule, or in a crew an accomplice's access revoked (:mod:`sim.agents.crew`) - and then
starts no session for ``quiet`` (a session already running ends as
planned). A session due in the quiet period is moved to the rhythm's first start after it. A
signal during a quiet period extends it.

Against audits that staff can see, this empties the windows the next audits review, so they
find less and the insider stays longer, at the price of taking less per month. Against controls
it cannot see (monitoring, outside discovery, an unannounced audit) it is the renewal insider.

Decisions: ``lie-low`` (T1029 Scheduled Transfer: the insider chooses when to act).

Config: ``insider/strategy=cautious`` (``quiet``, ``on_refusal``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.agents.strategy import DECISION_TECHNIQUES, Strategy, Tactics
from sim.core.params import spec

if TYPE_CHECKING:
    from sim.agents.insider import Insider, Session


@dataclass(frozen=True)
class CautiousParams:
    quiet: float = spec(720.0, duration=True, lo=0, hi=87660.0,
                        doc="how long it starts no session after a signal (<= 10 y)")
    on_refusal: bool = spec(True, doc="a refused request is a signal too (not only notices)")


class Cautious(Strategy):
    """Lies low for ``quiet`` after a visible audit, a notice, an accomplice's lost access or
    (``on_refusal``) a refusal."""

    Params = CautiousParams

    def start(self, insider: Insider) -> Tactics:
        return _LieLow(insider, self.params)


class _LieLow(Tactics):
    def __init__(self, insider: Insider, params: CautiousParams) -> None:
        super().__init__(insider)
        self.quiet, self.on_refusal = params.quiet, params.on_refusal
        self.until = -math.inf

    def _signal(self, signal: str, control: str) -> None:
        now = self.insider.env.now
        self.until = max(self.until, now + self.quiet)
        self.decide("lie-low", DECISION_TECHNIQUES["scheduled"], signal=signal,
                    control=control, until=self.until)
        self.insider.reschedule()

    def on_notice(self, control: str) -> None:
        self._signal("notice", control)

    def on_colleague_lost(self, member: int, reason: str) -> None:
        self._signal("colleague-lost", reason)

    def on_refused(self, session: Session, control: str) -> None:
        if self.on_refusal:
            self._signal("refused", control)

    def next_start(self, now: float, proposed: float) -> float:
        if proposed >= self.until:
            return proposed
        return self.insider.arrivals.first_from(self.until)
