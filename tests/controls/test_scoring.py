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


# ------------------------------------------------------------------------------ off_hours
def _rhythm(profile: str, weekend: float = 1.0, offset: float = 9.0):
    from sim.world.calendar import Calendar, Rhythm
    return Rhythm(Calendar.parse("2025-06-23T00:00:00+09:00"), profile, offset, weekend)


@pytest.mark.parametrize("profile,weekend", [("office", 0.2), ("consumer", 1.0),
                                             ("evening", 0.5)])
def test_off_hours_is_standard_normal_for_benign_traffic_up_to_the_hour_steps(profile, weekend):
    # Exact, not sampled: a benign observation falls in hour h with the rhythm's mass m_h and
    # scores z_h. Its distribution is N(0, 1) up to the steps of 168 hours: at any c,
    # |P(z > c) - Q(c)| is at most the mass of one group of equally busy hours (the mid-rank
    # puts half a group on each side).
    r = _rhythm(profile, weekend)
    mass = r.intensity / r.intensity.sum()
    z = np.array(r.unusualness_by_hour)
    groups = {}
    for v, m in zip(r.intensity.tolist(), mass.tolist(), strict=True):
        groups[v] = groups.get(v, 0.0) + m
    step = max(groups.values())
    for c in (-1.5, -0.5, 0.0, 0.5, 1.0, 1.645):
        assert abs(mass[z > c].sum() - stats.norm.sf(c)) <= step + 1e-12, c
    # the busiest hour scores lowest, the quietest highest
    assert z[np.argmax(r.intensity)] == z.min() and z[np.argmin(r.intensity)] == z.max()


def test_off_hours_of_a_flat_rhythm_is_zero_at_every_hour():
    assert set(_rhythm("flat").unusualness_by_hour) == {0.0}


def test_off_hours_flags_a_session_at_night_in_an_office_system_not_in_its_busy_hours():
    # Office rhythm in Korea (UTC+9); time 0 is Monday 00:00 there. 03:00 has no benign traffic
    # (z at the floor, ~6), 10:00 is a peak hour (z < 0).
    office = PlaceTraffic(rate=100.0, rhythm_key=("office", 9.0, 0.2), records=2.0,
                          rate_per_ip=60.0, spread=1.0, staff=True,
                          rhythm=_rhythm("office", 0.2))
    model = ScoreModel(("off_hours",), threshold=3.0, dprime=0.0)
    night = Session(0, 3.5, 4.0, "store", 100, 440.0, 1, 60.0, True)
    day = Session(0, 10.5, 11.0, "store", 100, 440.0, 1, 60.0, True)
    p_night = model.detection_probability(night, office)
    p_day = model.detection_probability(day, office)
    # P = Q(3 * sqrt 2 - z): z ~ 6 at night gives > 0.95; z < 0 at 10:00 gives < Q(4.24)
    assert p_night > 0.95 and p_day < stats.norm.sf(3.0 * math.sqrt(2))
