"""The threshold prober: finds the volume limits it meets and then stays just under them.

A static rate rule (:class:`sim.controls.detectors.VolumeThreshold`) answers requests above its
limit with HTTP 429 and raises an alert; the insider sees the refusals
(:meth:`~sim.agents.strategy.Tactics.on_refused`). The prober uses that signal to learn the
limit, one dimension after the other:

1. **rate per address**: starting from the profile's ``request_rate_per_ip``, each session
   that is not refused raises the rate by ``step``; the first refused session sends it back to
   the last rate that passed (if the very first session is refused, it divides by ``step``
   until one passes). A per-address rule and a per-credential rule both stop this climb.
2. **addresses**: at that rate it multiplies its addresses by ``step`` (up to
   ``max_addresses``) while sessions pass; the first refusal (a per-credential rule, which
   counts every address) sends it back to the last count that passed.
3. **settled**: it stays there, within a factor ``step`` of each limit.

It takes as much per session as its throughput allows in a session of the profile's length:
the drawn batch is scaled by (rate x addresses) / (the profile's rate x addresses). So against
a per-address rule it ends up moving much more per hour than the profile while never tripping
the rule again; each refusal it met on the way was one alert for the analysts. A smaller
``step`` settles closer to the limit but spends more sessions climbing; the refusals are the
same (one per dimension).

Decisions are tagged T1030 (Data Transfer Size Limits) for the rate and T1090.003 (Multi-hop
Proxy) for the addresses; the channel is the profile's web service.

Config: ``insider/strategy=threshold_prober`` (``step``, ``max_addresses``).
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
class ProberParams:
    step: float = spec(1.5, lo=1, lo_open=True, hi=100,
                       doc="factor by which each probe raises the rate or the addresses")
    max_addresses: int = spec(3000, lo=1, doc="the most source addresses it can rent")


class ThresholdProber(Strategy):
    """Learns the per-address and per-credential rate limits from refusals; stays under."""

    Params = ProberParams

    def start(self, insider: Insider) -> Tactics:
        return _Probe(insider, self.params)


class _Probe(Tactics):
    def __init__(self, insider: Insider, params: ProberParams) -> None:
        super().__init__(insider)
        profile = insider.plan.profile
        self.step, self.max_ips = params.step, max(params.max_addresses, profile.ip_addresses)
        self.rate, self.ips = profile.request_rate_per_ip, profile.ip_addresses
        self.base = self.rate * self.ips
        self.phase = "rate"
        self.good_rate: float | None = None  # the highest rate that passed
        self.good_ips = self.ips
        self.descending = False
        self.refused = False

    def shape(self, target: str, move: Move) -> Move:
        scale = self.rate * self.ips / self.base
        return Move(move.records * scale, self.ips, self.rate)

    def on_refused(self, session: Session, control: str) -> None:
        self.refused = True

    def on_session_end(self, session: Session, taken: int) -> None:
        refused, self.refused = self.refused, False
        if self.phase == "rate":
            self._rate(refused)
        elif self.phase == "addresses":
            self._addresses(refused)

    def _rate(self, refused: bool) -> None:
        tag = DECISION_TECHNIQUES["size_limit"]
        if not refused:
            self.good_rate = self.rate
            if self.descending:  # came down from a refused start: this rate passes
                self._to_addresses()
                return
            self.rate *= self.step
            self.decide("raise-rate", tag, channel="web_service", rate_per_ip=self.rate)
            return
        if self.good_rate is None:  # refused from the start: come down until one passes
            self.descending = True
            self.rate /= self.step
        else:
            self.rate = self.good_rate
        self.decide("back-off", tag, channel="web_service", signal="refused",
                    rate_per_ip=self.rate)
        if self.good_rate is not None:
            self._to_addresses()

    def _to_addresses(self) -> None:
        self.phase = "addresses"
        self.good_ips = self.ips
        self._more_addresses()

    def _more_addresses(self) -> None:
        if self.ips >= self.max_ips:
            self._settle()
            return
        self.ips = min(self.max_ips, max(self.ips + 1, math.ceil(self.ips * self.step)))
        self.decide("add-addresses", DECISION_TECHNIQUES["proxy"], channel="web_service",
                    ip_addresses=self.ips)

    def _addresses(self, refused: bool) -> None:
        if refused:
            self.ips = self.good_ips
            self.decide("drop-addresses", DECISION_TECHNIQUES["proxy"], channel="web_service",
                        signal="refused", ip_addresses=self.ips)
            self._settle()
            return
        self.good_ips = self.ips
        self._more_addresses()

    def _settle(self) -> None:
        self.phase = "settled"
        self.decide("settle", DECISION_TECHNIQUES["size_limit"], channel="web_service",
                    rate_per_ip=self.rate, ip_addresses=self.ips)
