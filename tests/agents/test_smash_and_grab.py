"""Smash-and-grab pulls back to back until the store is empty; refusals only widen it."""

from __future__ import annotations

from sim.core.engine import simulate
from tests.conftest import make_model

SMASH = {"_target_": "sim.agents.smash_and_grab.SmashAndGrab"}


def test_it_empties_the_store_far_sooner_than_the_renewal_insider():
    # 10,000 records in batches of 100: 100 sessions of 0.044 h
    grab = make_model(insider={"strategy": SMASH})
    naive = make_model()
    for r in range(5):
        fast, slow = simulate(grab, 1, r), simulate(naive, 1, r)
        assert fast.access_ended_by == slow.access_ended_by == "exhausted"
        assert fast.sessions == slow.sessions == 100
        assert fast.access_hours < 100 * 0.045  # back to back
        assert slow.access_hours > 10 * 24      # ~4 sessions a day: ~25 days


def test_a_pause_spaces_the_pulls():
    m = make_model(insider={"strategy": {**SMASH, "pause": "1h"}})
    events: list = []
    simulate(m, 1, 0, trace=events)
    starts = [e["t"] for e in events if e["action"] == "session-start"]
    gaps = {round(b - a, 9) for a, b in zip(starts, starts[1:], strict=False)}
    assert gaps == {round(1.0 + 100 * 4.4 / (10 * 1000), 9)}


def test_escalating_spreads_under_a_per_address_rule_after_one_refusal():
    rule = {"rule": {"_target_": "sim.controls.detectors.VolumeThreshold",
                     "max_requests_per_ip_hour": 500}}
    kw = {"detectors": rule, "triage": {"confirm_probability": 0.0}}
    stubborn = simulate(make_model(insider={"strategy": SMASH}, **kw), 1, 0)
    spread = simulate(make_model(insider={"strategy": {**SMASH, "escalate": 4}}, **kw), 1, 0)
    assert stubborn.true_alerts == 100  # every pull over 500 per address
    assert spread.true_alerts == 1      # 1000 -> 250 per address on 40 addresses
