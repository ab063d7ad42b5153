"""How anomalous an observation of the insider looks at a place: the score model.

A sensor at a place scores each observation (a client's session there) on the features it
uses, against the benign traffic at that place (:class:`sim.world.places.PlaceTraffic`). Each
feature ``f`` of a benign observation is log-normal around the place's median, so its
standardised value ``Z_f = (ln x_f - ln median_f) / spread`` is N(0, 1). The score adds the
features a monitor uses and a residual ``R`` for everything they do not capture::

    S = (Z_1 + ... + Z_n + R) / sqrt(n + 1)

Benign: every ``Z_f`` and ``R`` is N(0, 1), so ``S`` is N(0, 1) whatever the features and the
false-positive rate per benign observation is ``P(Z > threshold)``. The insider: each ``Z_f``
is the value of its own observation ``z_f`` (what it does: records moved, request rate, number
of addresses), and ``R`` is N(d', 1) (``dprime``: what the features miss). So an observation
of the insider is flagged with probability::

    P(S > threshold) = P(Z > threshold * sqrt(n + 1) - (z_1 + ... + z_n) - d')

With no features (n = 0) this is the binormal ROC, ``P(Z > threshold - d')``: one feature-less
score, the model before the network mattered. A low-and-slow insider (few records per address,
a normal request rate) has small ``z_f`` and hides in the benign spread; a smash-and-grab pull
from two addresses has huge ones.

Features (:data:`FEATURES`), measured per observation:

=========================  ==================================  =============================
feature                    the insider's value                 benign median at the place
=========================  ==================================  =============================
``records_per_ip``         records in the session / addresses  ``traffic_records``
``records_per_credential`` records in the session              ``traffic_records``
``rate_per_ip``            requests per hour per address       ``traffic_rate_per_ip``
``ip_count``               addresses the session is spread on  1 (a client has one address)
``off_hours``              the place's local hour of the week  the place's weekly rhythm
                           when the session starts
=========================  ==================================  =============================

``off_hours`` is not log-normal: its ``Z`` is the mid-rank of the hour among the place's
benign hours, ``Phi^-1(1 - p)`` with ``p`` the share of benign traffic at quieter hours
(:attr:`sim.world.calendar.Rhythm.unusualness_by_hour`), so it is N(0, 1) for benign traffic up
to the steps of 168 hours. A session at the place's busiest hour scores below 0, one at its
quietest hour far above: a foreign insider in their own evening hides in a consumer API's
evening peak, but stands out in an office system's logs at night.

Only the *edge* of a walk (the entry point, and the service validating the credential there)
sees the insider's own addresses; deeper places see the service that calls them (see
:func:`feature_values`). So an insider who spreads requests over 300 addresses looks spread at
the gateway and like one busy client of the API at the datastore.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    from sim.agents.insider import Session
    from sim.world.places import PlaceTraffic

FEATURES: Final = ("records_per_ip", "records_per_credential", "rate_per_ip", "ip_count",
                   "off_hours")


def upper_tail(z: float) -> float:
    """P(N(0, 1) > z), the standard normal upper tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def feature_values(session: Session, edge: bool = True) -> dict[str, float]:
    """The insider's value of every feature in ``session`` (see the module table).

    Args:
        edge: the place sees the insider's own addresses (the entry point and the service that
            validates the credential there). Deeper places see the upstream service calling
            them, one address carrying the whole session: ``ip_count`` 1, ``rate_per_ip`` the
            session's total rate, ``records_per_ip`` all its records.
    """
    ips = max(session.ip_addresses, 1) if edge else 1
    records = max(float(session.records), 1.0)
    rate = session.requests_per_ip_hour * (1 if edge else max(session.ip_addresses, 1))
    return {"records_per_ip": records / ips, "records_per_credential": records,
            "rate_per_ip": rate, "ip_count": float(ips), "off_hours": session.start}


def standardised(feature: str, value: float, traffic: PlaceTraffic) -> float:
    """``z_f``: how many benign spreads ``value`` lies above the place's median (for
    ``off_hours``, ``value`` is the session's start time and ``z`` the unusualness of that
    hour at the place, see the module docstring)."""
    if feature == "off_hours":
        if traffic.rhythm is None:
            raise ValueError("off_hours needs the place's rhythm (PlaceTraffic.rhythm)")
        return traffic.rhythm.unusualness(value)
    median = (traffic.records if feature in ("records_per_ip", "records_per_credential")
              else traffic.rate_per_ip if feature == "rate_per_ip" else 1.0)
    if math.isinf(value):
        return math.inf
    return (math.log(max(value, 1e-300)) - math.log(median)) / traffic.spread


class ScoreModel:
    """One monitor's scoring: its features, threshold and residual separability.

    Args:
        features: names from :data:`FEATURES` (none: the binormal ROC).
        threshold: alert threshold on the benign score scale (z).
        dprime: separability of the insider in what the features miss.
    """

    def __init__(self, features: Sequence[str], threshold: float, dprime: float) -> None:
        self.features = tuple(features)
        self.threshold = threshold
        self.dprime = dprime
        self._scaled = threshold * math.sqrt(len(self.features) + 1)

    @property
    def false_positive_rate(self) -> float:
        """Chance a benign observation is flagged: ``P(Z > threshold)``, any features."""
        return upper_tail(self.threshold)

    def benign_flagged_scores(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Scores of ``n`` flagged benign observations: N(0, 1) above the threshold (inverse
        transform of a uniform over the upper tail, exact far into it)."""
        from scipy.special import ndtri  # on first use: scipy.special takes 0.1-0.2 s to load

        tail = upper_tail(self.threshold)
        return -ndtri(rng.random(n) * tail)

    def flagged_score(self, session: Session, traffic: PlaceTraffic | None, edge: bool,
                      u: float) -> float:
        """The score of an observation of ``session`` flagged by the uniform draw ``u`` (``u``
        below :meth:`detection_probability`): the residual's standard part is the normal
        quantile with upper tail ``u``, so the same draw decides the flag and sets the score,
        and the score is above the threshold exactly when ``u`` is below the probability."""
        z_u = -NormalDist().inv_cdf(min(max(u, 1e-300), 1 - 1e-16))
        if not self.features:
            return self.dprime + z_u
        assert traffic is not None
        values = feature_values(session, edge)
        z = sum(standardised(f, values[f], traffic) for f in self.features)
        return (z + self.dprime + z_u) / math.sqrt(len(self.features) + 1)

    def detection_probability(self, session: Session, traffic: PlaceTraffic,
                              edge: bool = True) -> float:
        """Chance the observation of ``session`` at a place with ``traffic`` is flagged
        (``edge``: the place sees the insider's addresses, see :func:`feature_values`)."""
        if not self.features:
            return upper_tail(self.threshold - self.dprime)
        values = feature_values(session, edge)
        z = sum(standardised(f, values[f], traffic) for f in self.features)
        return upper_tail(self._scaled - z - self.dprime)
