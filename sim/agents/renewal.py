"""The renewal insider: the default strategy, which reacts to nothing.

Sessions start as a Poisson process shaped by the insider's weekly rhythm (only while idle: a
renewal process), each takes a gamma batch (``records_per_session``, ``batch_cv``) from the
first datastore with records left, spread over ``ip_addresses`` at ``request_rate_per_ip``
(:mod:`sim.agents.insider`). Refusals, notices and locks change nothing. This is the insider of
the calibrated Coupang scenarios and of the analytic checks; its draws are exactly those the
insider made before strategies existed (same seed, byte-identical ``replications.csv``).

Config: ``insider/strategy=renewal`` (the default); no parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.agents.strategy import NoParams, Strategy, Tactics

if TYPE_CHECKING:
    from sim.agents.insider import Insider


class Renewal(Strategy):
    """The naive insider: the profile's numbers, whatever the controls do."""

    Params = NoParams

    def start(self, insider: Insider) -> Tactics:
        return Tactics(insider)
