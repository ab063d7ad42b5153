"""The insider agent: sessions, batches, throttling, targets, and its own randomness."""

from __future__ import annotations

import pytest

from sim.agents.insider import TECHNIQUES
from sim.core.engine import Run, build_model, simulate
from sim.core.errors import ConfigError
from sim.core.params import makes
from sim.world.network import Network
from tests.conftest import BASE, make_model, merge


def sessions_of(model, seed=1, replication=0, until=None):
    run = Run(model, seed, replication)
    seen = []
    run.attach([])
    run._start_hooks.append(seen.append)
    run.env.run(until=until or model.run.horizon)
    return run, seen


def test_first_session_at_time_zero_and_store_exhausted():
    model = make_model(network={"_target_": "tests.conftest.tiny_network", "records": 1000},
                       insider={"records_per_session": 300})
    run, seen = sessions_of(model)
    assert seen[0].start == 0.0 and seen[0].first_on_target
    assert run.insider.records == 1000  # 300 + 300 + 300 + 100: takes all, never more
    assert [s.records for s in seen] == [300, 300, 300, 100]
    assert run.insider.ended_by == "exhausted" and not run.insider.active


def test_session_length_follows_the_throttle():
    # 100 records * 4.4 requests / (10 IPs * 1000 per IP-hour) = 0.044 h
    model = make_model()
    _, seen = sessions_of(model, until=48)
    s = seen[0]
    assert s.end - s.start == pytest.approx(100 * 4.4 / (10 * 1000))
    assert s.requests_per_ip_hour == 1000


def test_session_cap_cuts_the_batch():
    model = make_model(insider={"records_per_session": 1_000_000, "request_rate_per_ip": 10,
                                "max_session_hours": "2h"})
    _, seen = sessions_of(model, until=24)
    assert seen[0].end - seen[0].start == pytest.approx(2.0)
    assert seen[0].records == round(2 * 10 * 10 / 4.4)


def test_sessions_arrive_at_the_configured_rate():
    model = make_model(insider={"sessions_per_day": 6, "records_per_session": 1},
                       network={"_target_": "tests.conftest.tiny_network", "records": 10**9})
    run, seen = sessions_of(model, until=200 * 24)
    expected = 6 * 200
    assert abs(len(seen) - expected) < 4 * expected**0.5  # Poisson count, 4 SD


def test_techniques_of_a_signing_key_insider():
    model = make_model()
    techs = model.plan.session_techniques
    assert TECHNIQUES["forged_token"] in techs and TECHNIQUES["proxy"] in techs
    assert {"T1213", "T1567", "T1029", "T1030"} <= set(techs)


def test_unknown_credential_is_a_config_error():
    with pytest.raises(ConfigError, match="insider.credential: no credential 'nope'"):
        make_model(insider={"credential": "nope"})


def test_fields_nobody_holds_is_a_config_error():
    with pytest.raises(ConfigError, match="insider.fields"):
        make_model(insider={"fields": ["passport_number"], "credential": "key"})


def test_insider_draws_do_not_depend_on_the_detectors():
    """A detector that can never confirm must leave the insider's trajectory untouched."""
    quiet = make_model(detectors={})
    watched = make_model(
        detectors={"mon": {"_target_": "sim.controls.detectors.ContinuousMonitoring",
                           "threshold": 1.0}},
        triage={"confirm_probability": 0.0},
    )
    for r in range(3):
        a, b = simulate(quiet, 7, r), simulate(watched, 7, r)
        assert (a.sessions, a.records_exfiltrated) == (b.sessions, b.records_exfiltrated)
        assert b.true_alerts > 0 and not b.detected


def test_expired_credential_ends_access():
    cfg = merge(BASE, {"network": {"_target_": "tests.agents.test_insider.expiring_network"}})
    events: list = []
    res = simulate(build_model(cfg), 1, 0, trace=events)
    assert res.access_ended_by == "expired"
    starts = [e["t"] for e in events if e["action"] == "session-start"]
    # the key expires 24 h in: the next attempt to start a session finds it dead
    assert max(starts) < 24.0 <= res.access_hours


@makes(Network)
def expiring_network(after: float = 24.0):
    from sim.world.network import Network
    from tests.conftest import tiny_graph

    g = tiny_graph(10**9)
    g.nodes["key"]["lifetime_hours"] = 1000.0 + after  # expires `after` hours into the run
    return Network(g, source="expiring")


def test_credential_expiring_mid_session_cuts_it_pro_rata():
    # one 10-hour session of 1000 records; the key expires 4 h into it
    cfg = merge(BASE, {"network": {"_target_": "tests.agents.test_insider.expiring_network",
                                   "after": 4.0},
                       "insider": {"records_per_session": 1000, "request_rate_per_ip": 44,
                                   "ip_addresses": 10, "max_session_hours": "20h"}})
    res = simulate(build_model(cfg), 1, 0)
    assert res.access_ended_by == "expired" and res.access_hours == pytest.approx(4.0)
    assert res.records_exfiltrated == 400
