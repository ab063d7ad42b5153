"""Smash-and-grab: take everything as fast as possible, and keep going until stopped.

The opposite of low and slow: no rhythm, no waiting for the evening. Each session is a bulk
pull of the profile's batch at the profile's rate; the next starts ``pause`` after the last
ended (0: back to back), day or night, until every target is empty or access is cut. A refusal
(a rate rule firing) is answered by spreading the same pull over ``escalate`` times as many
addresses, each ``escalate`` times slower (T1090.003 Multi-hop Proxy): the same throughput,
under a per-address rule sooner or later, never under a per-credential one.

Decisions: ``no-pause`` (T1020 Automated Exfiltration), ``spread`` (T1090.003).

Config: ``insider/strategy=smash_and_grab`` (``pause``, ``escalate``); pair it with
``insider=smash_and_grab`` (few addresses, unthrottled, bulk batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.agents.strategy import DECISION_TECHNIQUES, Move, Strategy, Tactics
from sim.core.params import spec

if TYPE_CHECKING:
    from sim.agents.insider import Insider, Session


@dataclass(frozen=True)
class SmashParams:
    pause: float = spec(0.0, duration=True, lo=0, hi=8766.0,
                        doc="gap between one pull and the next (>= 0; 0 = back to back)")
    escalate: float = spec(1.0, lo=1, hi=1e4,
                           doc="after a refusal, multiply the addresses by this (1: ignore)")


class SmashAndGrab(Strategy):
    """Back-to-back bulk pulls regardless of the hour; refusals only widen the spread."""

    Params = SmashParams

    def start(self, insider: Insider) -> Tactics:
        return _Grab(insider, self.params)


class _Grab(Tactics):
    def __init__(self, insider: Insider, params: SmashParams) -> None:
        super().__init__(insider)
        self.pause, self.escalate = params.pause, params.escalate
        self.spread = 1.0  # addresses multiplied (and rate per address divided) by this
        self.refused = False
        self.said = False

    def next_start(self, now: float, proposed: float) -> float:
        if not self.said:
            self.said = True
            self.decide("no-pause", DECISION_TECHNIQUES["automated"], channel="web_service",
                        pause_hours=self.pause)
        return proposed if self.insider.sessions == 0 else now + self.pause

    def shape(self, target: str, move: Move) -> Move:
        if self.spread == 1.0:
            return move
        return Move(move.records, math.ceil(move.ip_addresses * self.spread),
                    move.rate_per_ip / self.spread)

    def on_refused(self, session: Session, control: str) -> None:
        if self.escalate > 1 and not self.refused:
            self.refused = True
            self.spread *= self.escalate
            self.decide("spread", DECISION_TECHNIQUES["proxy"], channel="web_service",
                        signal="refused", spread=self.spread)

    def on_session_end(self, session: Session, taken: int) -> None:
        self.refused = False
