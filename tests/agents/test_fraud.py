"""The fraudster modifies a few records at a time and slips under volume controls."""

from __future__ import annotations

from sim.core.engine import simulate
from tests.conftest import make_model

FRAUD = {"_target_": "sim.agents.fraud.Fraud", "records_per_change": 5, "ip_addresses": 1,
         "rate_per_ip": 60}
RULE = {"rule": {"_target_": "sim.controls.detectors.VolumeThreshold",
                 "max_requests_per_ip_hour": 500, "per": "credential"}}


def test_small_changes_from_one_machine_never_trip_a_per_credential_rule():
    naive = make_model(detectors=RULE)
    fraud = make_model(detectors=RULE, insider={"strategy": FRAUD})
    for r in range(10):
        a, b = simulate(naive, 1, r), simulate(fraud, 1, r)
        assert a.detected and a.dwell_hours < 2  # 10 x 1000 requests an hour > 500
        assert not b.detected and b.true_alerts == 0
        # batch_cv 0: 5 records a session (the last may be running at the horizon)
        assert 5 * (b.sessions - 1) <= b.records_exfiltrated <= 5 * b.sessions


def test_its_sessions_are_one_address_at_a_persons_pace():
    events: list = []
    simulate(make_model(insider={"strategy": FRAUD}), 1, 0, trace=events)
    start = next(e for e in events if e["action"] == "session-start")
    assert start["ip_addresses"] == 1 and start["planned_records"] == 5
    assert start["planned_end"] - start["t"] == 5 * 4.4 / 60
    (decision,) = [e for e in events if e["action"] == "decision"]
    assert decision["technique"] == ["T1565.001"] and decision["category"] == "impact"
