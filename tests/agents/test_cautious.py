"""The cautious insider lies low after a visible audit, and so stays longer under one."""

from __future__ import annotations

import statistics

from sim.core.engine import simulate
from tests.conftest import make_model

N = 200
CAUTIOUS = {"_target_": "sim.agents.cautious.Cautious", "quiet": "30d"}


def model(cautious: bool, visible: bool = True):
    insider = {"sessions_per_day": 1, **({"strategy": CAUTIOUS} if cautious else {})}
    # a monthly audit that catches about 6% of the time (30 log lines, 0.2% each)
    audit = {"_target_": "sim.controls.detectors.PeriodicAudit", "interval": "1mo",
             "coverage": 0.01, "recognition": 0.2, "watch": "kind:datastore",
             "visible": visible}
    return make_model(insider=insider, detectors={"audit": audit}, horizon="3y",
                      network={"_target_": "tests.conftest.tiny_network", "records": 10**8})


def test_under_visible_audits_it_stays_longer_and_takes_less():
    naive = [simulate(model(False), 1, r) for r in range(N)]
    wary = [simulate(model(True), 1, r) for r in range(N)]
    p_naive = sum(r.detected for r in naive) / N
    p_wary = sum(r.detected for r in wary) / N
    # a month quiet after each monthly audit leaves the next window nearly empty: the audits
    # that would catch the naive insider within 3 years (~0.9) rarely catch it; binomial SDs
    # at n = 200 are <= 0.035, so a gap of 0.5 is over 10 SD
    assert p_naive - p_wary > 0.5
    dwell = statistics.median
    assert dwell(r.dwell_hours for r in wary) > 2 * dwell(r.dwell_hours for r in naive)
    assert dwell(r.sessions for r in wary) < dwell(r.sessions for r in naive) / 5


def test_an_audit_it_cannot_see_changes_nothing():
    """Only what the insider can see matters: with the audit invisible it is the renewal
    insider, replication for replication."""
    for r in range(10):
        assert simulate(model(True, visible=False), 1, r) == simulate(model(False, False), 1, r)


def test_no_session_starts_in_a_quiet_period():
    events: list = []
    simulate(model(True), 2, 0, trace=events)
    quiet = [(e["t"], e["until"]) for e in events if e["action"] == "decision"]
    starts = [e["t"] for e in events if e["action"] == "session-start"]
    assert quiet and starts
    for t0, t1 in quiet:
        assert t1 == t0 + 30 * 24
        assert not [s for s in starts if t0 < s < t1]


def test_on_refusal_decides_whether_a_refused_request_sends_it_quiet():
    # A per-address rule at 500/h refuses every session of an insider running at 1000/h; the
    # analysts never confirm (confirm_probability 0), so only the insider's reaction differs.
    # With on_refusal it lies low for 30 days after each refusal: about 90/31 ~ 3 sessions in
    # 90 days against ~90 at one a day without it.
    rule = {"_target_": "sim.controls.detectors.VolumeThreshold",
            "max_requests_per_ip_hour": 500}

    def sessions(on_refusal: bool) -> list[int]:
        insider = {"sessions_per_day": 1,
                   "strategy": {**CAUTIOUS, "on_refusal": on_refusal}}
        m = make_model(insider=insider, detectors={"rule": rule}, horizon="90d",
                       triage={"confirm_probability": 0.0})
        return [simulate(m, 1, r).sessions for r in range(20)]

    wary, deaf = sessions(True), sessions(False)
    assert max(wary) <= 4 and min(deaf) > 50
