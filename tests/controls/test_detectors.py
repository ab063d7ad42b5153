"""Detectors: each one's rule, and the analytic results they must reproduce."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.controls.detectors import (
    ContinuousMonitoring,
    ExternalDiscovery,
    PeriodicAudit,
    delay_to,
    upper_tail,
)
from sim.core.engine import simulate
from sim.core.errors import ConfigError
from tests.conftest import make_model

BIG = {"_target_": "tests.conftest.tiny_network", "records": 10**12}


def dwell_sample(model, n, seed=11):
    out = [simulate(model, seed, r) for r in range(n)]
    return np.array([r.dwell_hours for r in out]), out


def test_binormal_roc_sets_both_rates_from_one_threshold():
    det = ContinuousMonitoring(threshold=2.0, dprime=3.0)
    assert det.false_positive_rate == pytest.approx(stats.norm.sf(2.0))
    assert det.true_positive_rate == pytest.approx(stats.norm.sf(-1.0))
    assert upper_tail(0.0) == 0.5


def test_detector_params_are_validated():
    with pytest.raises(ConfigError, match="coverage: must be in \\[0, 1\\]"):
        PeriodicAudit(coverage=2)
    with pytest.raises(ConfigError, match="base_mean_time: must be > 0"):
        ExternalDiscovery(base_mean_time=0)
    with pytest.raises(ConfigError, match="detectors.audit.interval: must be a duration"):
        make_model(detectors={"audit": {"_target_": "sim.controls.detectors.PeriodicAudit",
                                        "interval": "monthly"}})
    with pytest.raises(ConfigError, match="detectors.x._target_: cannot import"):
        make_model(detectors={"x": {"_target_": "sim.controls.detectors.Nope"}})
    with pytest.raises(ConfigError, match="TriageParams is not a Detector subclass"):
        make_model(detectors={"x": {"_target_": "sim.controls.triage.TriageParams"}})


def test_audit_finds_nothing_when_the_insider_left_before_the_window():
    # The insider empties a tiny store within hours; monthly audits look back 1 week only.
    model = make_model(network={"_target_": "tests.conftest.tiny_network", "records": 200},
                       horizon="1y",
                       detectors={"audit": {"_target_": "sim.controls.detectors.PeriodicAudit",
                                            "interval": "1mo", "coverage": 1, "recognition": 1,
                                            "lookback": "1w", "phase": "2w"}})
    res = simulate(model, 1, 0)
    assert res.censored and res.access_ended_by == "exhausted"


def test_monitoring_with_instant_triage_gives_exponential_dwell():
    lam, tpr_threshold = 2 / 24.0, 0.0  # sessions per hour; threshold 0 with d'=0 -> TPR 0.5
    model = make_model(
        network=BIG, horizon="100y",
        insider={"sessions_per_day": 2, "request_rate_per_ip": "inf", "profile": "flat"},
        background={"employees": 0},
        triage={"analysts": 1, "triage_time": 0, "confirm_probability": 0.8},
        detectors={"mon": {"_target_": "sim.controls.detectors.ContinuousMonitoring",
                           "threshold": tpr_threshold, "dprime": 0.0, "latency": 0,
                           # one watched place on the walk: one observation per session
                           "watch": {"ids": ["store"]}}})
    q = 0.5 * 0.8
    n = 1000
    dwell, _ = dwell_sample(model, n)
    # The first session is at time 0, so dwell = 0 with probability q; after it, the wait
    # to detection is exponential with rate lam*q. Test both parts.
    zero = dwell == 0
    assert abs(zero.mean() - q) < 4 * math.sqrt(q * (1 - q) / n)
    ks = stats.kstest(dwell[~zero], "expon", args=(0, 1 / (lam * q)))
    assert ks.pvalue > 0.001, ks


def test_volume_rule_catches_only_an_insider_above_the_limit():
    rule = {"rule": {"_target_": "sim.controls.detectors.VolumeThreshold",
                     "max_requests_per_ip_hour": 500, "benign_trip_probability": 0,
                     "latency": 0}}
    under = make_model(detectors=rule, insider={"request_rate_per_ip": 400}, horizon="30d")
    over = make_model(detectors=rule, insider={"request_rate_per_ip": 600}, horizon="30d",
                      triage={"confirm_probability": 1.0, "triage_time": 0})
    a, b = simulate(under, 1, 0), simulate(over, 1, 0)
    assert a.censored and a.true_alerts == 0
    assert b.detected and b.detected_by == "rule" and b.dwell_hours == 0.0


@pytest.mark.parametrize("watch, share", [("all", 1.0), ({"ids": ["gateway", "store"]}, 2 / 3),
                                          (None, 1 / 3)])
def test_benign_trips_become_false_alarms_at_the_thinned_rate(watch, share):
    # The tiny network has no traffic attributes: its 3 assets share the staff population, so
    # a rule at every asset sees all of it, at two of them 2/3, at the edge (the default) 1/3.
    rule = {"_target_": "sim.controls.detectors.VolumeThreshold", "max_requests_per_ip_hour": 1e9,
            "benign_trip_probability": 1e-3}
    if watch is not None:
        rule["watch"] = watch
    model = make_model(horizon="30d", background={"employees": 1000,
                                                  "observations_per_employee_per_day": 10},
                       detectors={"rule": rule})
    res = [simulate(model, 2, r) for r in range(20)]
    expected = 1000 * 10 * 30 * 1e-3 * share  # per replication: 300 at every asset
    mean = np.mean([r.false_alerts for r in res])
    assert abs(mean - expected) < 4 * math.sqrt(expected / 20)  # Poisson, 4 SE


def test_external_discovery_without_leak_growth_is_exponential():
    model = make_model(network=BIG, horizon="100y",
                       detectors={"ext": {"_target_": "sim.controls.detectors.ExternalDiscovery",
                                          "base_mean_time": "30d",
                                          "mean_time_per_million": "inf"}})
    dwell, _ = dwell_sample(model, 600)
    ks = stats.kstest(dwell, "expon", args=(0, 30 * 24.0))
    assert ks.pvalue > 0.001, ks


def test_external_discovery_comes_sooner_when_more_leaks():
    def median(records_per_session):
        model = make_model(network=BIG, horizon="10y",
                           insider={"records_per_session": records_per_session},
                           detectors={"ext": {
                               "_target_": "sim.controls.detectors.ExternalDiscovery",
                               "mean_time_per_million": "1y"}})
        return np.median(dwell_sample(model, 200)[0])

    assert median(10_000) < median(1_000) / 2  # hazard grows with the leak


def reference_discovery(trace, budget, base, per_record):
    """Where the cumulative hazard ``base + per_record x leaked`` reaches ``budget``, walked
    from the trace's exfiltration events (the rate steps at each session end)."""
    t, rate, spent = 0.0, base, 0.0
    for e in trace:
        if e["action"] != "exfiltration" or e["records"] <= 0:
            continue
        if rate > 0 and spent + rate * (e["t"] - t) >= budget:
            break
        spent += rate * (e["t"] - t)
        t, rate = e["t"], base + per_record * e["records_total"]
    return t + (budget - spent) / rate if rate > 0 else math.inf


@pytest.mark.parametrize("records", [10**12, 30_000])  # still active / store emptied early
def test_external_discovery_fires_where_the_cumulative_hazard_reaches_its_budget(records):
    """Checked against an independent walk of the trace, including discoveries in an idle gap
    and after the insider emptied the store (records=30,000: access ends within ~3 days)."""
    import zlib

    model = make_model(network={"_target_": "tests.conftest.tiny_network", "records": records},
                       horizon="10y", insider={"sessions_per_day": 2},
                       detectors={"ext": {"_target_": "sim.controls.detectors.ExternalDiscovery",
                                          "base_mean_time": "200d",
                                          "mean_time_per_million": "2d"}})
    base, per_record = 1 / (200 * 24.0), 1 / (2 * 24.0 * 1e6)
    ended_early = 0
    for r in range(40):
        trace: list = []
        counters: dict = {}
        res = simulate(model, 5, r, trace=trace, counters=counters)
        budget = np.random.default_rng(np.random.SeedSequence(
            5, spawn_key=(r, zlib.crc32(b"detector:ext")))).exponential(1.0)
        assert res.detected_by == "ext"
        # the same arithmetic as the engine, so equal to the last bit
        assert res.dwell_hours == reference_discovery(trace, budget, base, per_record)
        ended_early += res.access_ended_by == "exhausted"
        # the clock arms a timer when discovery is due before the insider's next action, not
        # one per session: SimPy events are the insider's two per session plus a handful
        assert counters["simpy_events"] <= 2 * res.sessions + 8
    assert ended_early > 0 if records < 10**6 else ended_early == 0


def test_external_discovery_with_no_hazard_at_all_never_fires():
    model = make_model(horizon="30d",
                       detectors={"ext": {"_target_": "sim.controls.detectors.ExternalDiscovery",
                                          "base_mean_time": "inf",
                                          "mean_time_per_million": "inf"}})
    res = simulate(model, 1, 0)
    assert res.censored and res.records_exfiltrated > 0


@pytest.mark.parametrize("now, t", [
    (1.034937153577296, 88.51191889238267),  # no d gives now + d == t (ties to even)
    (0.0, 5.0), (3.0, 3.0), (1e-300, 2.5), (4000.123456789, 4000.1234567891),
])
def test_delay_to_lands_on_or_just_before_t_and_the_remainder_is_exact(now, t):
    d = delay_to(now, t)
    landed = now + d
    assert d >= 0 and landed <= t and t - landed <= 4 * math.ulp(t)
    assert landed + (t - landed) == t  # the second, exact hop the discovery clock makes


def test_hygiene_rotates_a_stale_key_and_ends_access_without_detection():
    model = make_model(network=BIG, horizon="1y",
                       detectors={"hyg": {"_target_": "sim.controls.detectors.CredentialHygiene",
                                          "interval": "30d", "max_credential_age": "10d"}})
    res = simulate(model, 3, 0)
    assert res.access_ended_by == "hyg" and res.censored and not res.detected
    assert res.access_hours <= 30 * 24  # the first review falls within one interval
    fresh = make_model(network=BIG, horizon="1y",
                       detectors={"hyg": {"_target_": "sim.controls.detectors.CredentialHygiene",
                                          "interval": "30d", "max_credential_age": "10y"}})
    assert simulate(fresh, 3, 0).access_ended_by == "horizon"


def test_null_detector_never_detects():
    model = make_model(horizon="30d",
                       detectors={"none": {"_target_": "sim.controls.detectors.NullDetector"}})
    res = simulate(model, 1, 0)
    assert res.censored and res.dwell_hours == 30 * 24 and res.detected_by == ""


def test_first_of_two_detectors_wins():
    both = make_model(network=BIG, horizon="10y", detectors={
        "audit": {"_target_": "sim.controls.detectors.PeriodicAudit", "interval": "30d",
                  "coverage": 1, "recognition": 0.3},
        "ext": {"_target_": "sim.controls.detectors.ExternalDiscovery", "base_mean_time": "60d",
                "mean_time_per_million": "inf"}})
    dwell, res = dwell_sample(both, 300)
    names = {r.detected_by for r in res}
    assert names == {"audit", "ext"}


def test_a_rule_no_session_can_trip_is_not_asked_and_that_changes_nothing(monkeypatch):
    from sim.controls.detectors import _Rule
    from sim.core.engine import Run

    rule = {"rule": {"_target_": "sim.controls.detectors.VolumeThreshold",
                     "max_requests_per_ip_hour": 500, "benign_trip_probability": 1e-4}}
    ext = {"ext": {"_target_": "sim.controls.detectors.ExternalDiscovery",
                   "base_mean_time": "20d"}}

    def hears(model):
        run = Run(model, 1, 0)
        (watch,) = [w for w in (d.start(run) for d in model.detectors) if isinstance(w, _Rule)]
        return watch.hears_session_start

    under = make_model(detectors={**rule, **ext}, insider={"request_rate_per_ip": 400},
                       horizon="60d")
    assert not hears(under)  # a lone renewal insider at 400/IP-hour never trips 500
    assert hears(make_model(detectors=rule, insider={"request_rate_per_ip": 600}))
    assert hears(make_model(detectors=rule, insider={  # a strategy that reshapes sessions
        "request_rate_per_ip": 400,
        "strategy": {"_target_": "sim.agents.prober.ThresholdProber"}}))
    assert hears(make_model(detectors=rule, insider={  # a crew on one key: rates add up
        "request_rate_per_ip": 400, "crew": {"size": 2, "credentials": "shared"}}))
    quiet = [simulate(under, 3, r) for r in range(10)]
    monkeypatch.setattr(_Rule, "_over", lambda self, t, per_ip, ips: True)  # ask it anyway
    assert hears(under)
    assert [simulate(under, 3, r) for r in range(10)] == quiet
