"""The threshold prober learns a volume rule's limit from its refusals and stays under it."""

from __future__ import annotations

import pytest

from sim.core.engine import simulate
from tests.conftest import make_model

LIMIT = 1000.0
N = 200  # replications per arm


def rule(per: str) -> dict:
    return {"rule": {"_target_": "sim.controls.detectors.VolumeThreshold",
                     "max_requests_per_ip_hour": LIMIT, "per": per}}


def model(per: str, rate: float, prober: bool, confirm: float = 0.3):
    insider = {"request_rate_per_ip": rate, "ip_addresses": 10}
    if prober:
        insider["strategy"] = {"_target_": "sim.agents.prober.ThresholdProber", "step": 1.5,
                               "max_addresses": 300}
    return make_model(insider=insider, detectors=rule(per),
                      triage={"confirm_probability": confirm},
                      network={"_target_": "tests.conftest.tiny_network", "records": 10**9})


def settled(m, seed=1, replication=0):
    events: list = []
    simulate(m, seed, replication, trace=events)
    return [e for e in events if e["action"] == "decision" and e["decision"] == "settle"]


@pytest.mark.parametrize(("per", "rate"), [("ip", 2000.0), ("ip", 300.0), ("credential", 50.0)])
def test_it_settles_just_under_the_limit(per, rate):
    # a team that never confirms, so the prober runs its whole search
    (end,) = settled(model(per, rate, True, confirm=0.0))
    used = end["rate_per_ip"] * (1 if per == "ip" else end["ip_addresses"])
    assert LIMIT / 1.5 < used <= LIMIT  # within one step of the limit, never over it
    if per == "ip":  # a per-address rule does not stop it adding addresses
        assert end["ip_addresses"] == 300


def test_it_trips_the_rule_a_few_times_then_never_again():
    m = model("ip", 2000.0, True, confirm=0.0)
    alerts = [simulate(m, 1, r).true_alerts for r in range(20)]
    assert alerts == [2] * 20  # 2000 and 1333 refused, 889 passes; nothing after


def test_the_prober_beats_a_fixed_volume_threshold():
    """Same start (2000 requests per address-hour, over the 1000 limit): the naive insider trips
    the rule every session and is confirmed almost surely; the prober trips it twice and then
    stays under, so it is confirmed only if one of those two alerts is (1 - 0.7^2 = 0.51)."""
    naive = [simulate(model("ip", 2000.0, False), 1, r) for r in range(N)]
    probe = [simulate(model("ip", 2000.0, True), 1, r) for r in range(N)]
    p_naive = sum(r.detected for r in naive) / N
    p_probe = sum(r.detected for r in probe) / N
    assert p_naive > 0.97
    # binomial SD at p = 0.51, n = 200: 0.035; 4 SD around the expected 0.51
    assert abs(p_probe - 0.51) < 4 * 0.035
    # the undetected prober runs a year at 300 addresses: far more taken on average
    assert (sum(r.records_exfiltrated for r in probe)
            > 100 * sum(r.records_exfiltrated for r in naive))


def test_batches_scale_with_the_throughput_it_found():
    m = model("ip", 300.0, True, confirm=0.0)
    events: list = []
    simulate(m, 1, 0, trace=events)
    planned = [e["planned_records"] for e in events if e["action"] == "session-start"]
    assert planned[0] == 100  # the profile's batch at the profile's rate
    # settled at 300*1.5^2 = 675 per address on 300 addresses: 67.5x the profile's throughput
    assert planned[-1] == round(100 * 675 * 300 / (300 * 10))
