"""The fraudster: small, repeated modifications of records instead of bulk reads.

CERT's insider fraud cases are mostly staff who change a few records at a time - a payee, an
address, a credit limit - over months, from their own workstation and within their normal
access (CERT Common Sense Guide, 7th ed.; Cappelli, Moore & Trzeciak, *The CERT Guide to
Insider Threats*, 2012, ch. 3). This insider keeps the profile's rhythm but each session
changes about ``records_per_change`` records (the profile's gamma batch scaled down to that
mean) from ``ip_addresses`` (default one: their own machine) at ``rate_per_ip`` requests per
address-hour. ``records_exfiltrated`` then counts the records it modified.

It hides where volume is what gives an insider away: a volume rule never fires, and a monitor
that scores records, rate and addresses per client sees one more ordinary client. It does less
harm per day than a data thief; whether it is caught depends on controls that look at what was
changed (an audit of the log lines), not at how much was read.

Decisions: ``modify`` (T1565.001 Stored Data Manipulation), once, when it starts.

Config: ``insider/strategy=fraud`` (``records_per_change``, ``ip_addresses``, ``rate_per_ip``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.agents.strategy import DECISION_TECHNIQUES, Move, Strategy, Tactics
from sim.core.params import spec

if TYPE_CHECKING:
    from sim.agents.insider import Insider


@dataclass(frozen=True)
class FraudParams:
    records_per_change: float = spec(20.0, lo=1, doc="mean records modified per session")
    ip_addresses: int = spec(1, lo=1, doc="addresses it works from (1: its own machine)")
    rate_per_ip: float = spec(60.0, lo=0, lo_open=True,
                              doc="requests per hour from each address (a person at a screen)")


class Fraud(Strategy):
    """Sessions on the profile's rhythm, each modifying a handful of records."""

    Params = FraudParams

    def start(self, insider: Insider) -> Tactics:
        return _Modify(insider, self.params)


class _Modify(Tactics):
    def __init__(self, insider: Insider, params: FraudParams) -> None:
        super().__init__(insider)
        self.scale = params.records_per_change / insider.plan.profile.records_per_session
        self.ips, self.rate = params.ip_addresses, params.rate_per_ip
        self.said = False

    def shape(self, target: str, move: Move) -> Move:
        if not self.said:
            self.said = True
            self.decide("modify", DECISION_TECHNIQUES["manipulate"], channel="remote_access",
                        records_per_change=move.records * self.scale)
        return Move(move.records * self.scale, self.ips, self.rate)
