"""The score model: behaviour decides what a monitor sees (sim/controls/scoring.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.agents.insider import Session
from sim.controls.scoring import ScoreModel, feature_values, standardised
from sim.world.places import PlaceTraffic

GATEWAY = PlaceTraffic(rate=1e5, rhythm_key=("flat", 0.0, 1.0), records=2.0, rate_per_ip=60.0,
                       spread=1.0, staff=False)


def session(records: int, ips: int, per_ip: float) -> Session:
    return Session(0, 0.0, 1.0, "store", records, records * 4.4, ips, per_ip, True)


LOW_AND_SLOW = session(68_000, 300, 630.0)
SMASH_AND_GRAB = session(5_000_000, 2, 500_000.0)


def test_without_features_the_score_is_the_binormal_roc():
    model = ScoreModel((), threshold=3.0, dprime=2.0)
    for s in (LOW_AND_SLOW, SMASH_AND_GRAB):
        assert model.detection_probability(s, GATEWAY) == pytest.approx(stats.norm.sf(1.0))
    assert model.false_positive_rate == pytest.approx(stats.norm.sf(3.0))


def test_benign_scores_are_standard_normal_whatever_the_features():
    # Draw benign observations from the place's log-normal features and score them as the
    # model does: S = (sum Z_f + R) / sqrt(n + 1) must be N(0, 1) (KS at n = 20,000).
    rng = np.random.default_rng(7)
    feats = ("records_per_ip", "rate_per_ip")
    n = 20_000
    x_records = np.exp(np.log(GATEWAY.records) + GATEWAY.spread * rng.standard_normal(n))
    x_rate = np.exp(np.log(GATEWAY.rate_per_ip) + GATEWAY.spread * rng.standard_normal(n))
    z = (np.array([standardised("records_per_ip", v, GATEWAY) for v in x_records])
         + np.array([standardised("rate_per_ip", v, GATEWAY) for v in x_rate])
         + rng.standard_normal(n)) / math.sqrt(len(feats) + 1)
    assert stats.kstest(z, "norm").pvalue > 0.001


def test_smash_and_grab_and_low_and_slow_differ_under_the_same_monitor():
    model = ScoreModel(("records_per_ip", "rate_per_ip", "ip_count"), threshold=5.0, dprime=0.0)
    p_low = model.detection_probability(LOW_AND_SLOW, GATEWAY)
    p_smash = model.detection_probability(SMASH_AND_GRAB, GATEWAY)
    assert p_low != p_smash and 0 < p_low < 1 and 0 < p_smash <= 1
    # records per IP is where the smash-and-grab stands out: alone, it flags it far likelier
    records_only = ScoreModel(("records_per_ip",), threshold=5.0, dprime=0.0)
    assert records_only.detection_probability(SMASH_AND_GRAB, GATEWAY) > \
        10 * records_only.detection_probability(LOW_AND_SLOW, GATEWAY)
    # ... while the address count is what gives the low-and-slow insider away
    ips_only = ScoreModel(("ip_count",), threshold=4.0, dprime=0.0)
    assert ips_only.detection_probability(LOW_AND_SLOW, GATEWAY) > \
        ips_only.detection_probability(SMASH_AND_GRAB, GATEWAY)


def test_deeper_places_see_the_calling_service_not_the_insiders_addresses():
    edge = feature_values(LOW_AND_SLOW, edge=True)
    deep = feature_values(LOW_AND_SLOW, edge=False)
    assert edge["ip_count"] == 300 and deep["ip_count"] == 1
    assert deep["rate_per_ip"] == pytest.approx(630.0 * 300)
    assert deep["records_per_ip"] == 68_000
    assert edge["records_per_ip"] == pytest.approx(68_000 / 300)


def test_more_records_per_session_means_a_higher_detection_probability():
    model = ScoreModel(("records_per_credential",), threshold=4.0, dprime=0.0)
    chances = [model.detection_probability(session(r, 10, 100.0), GATEWAY)
               for r in (10, 1_000, 100_000)]
    assert chances == sorted(chances) and chances[0] < chances[-1]
