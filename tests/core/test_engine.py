"""The engine: model building, replication outcomes, containment, reproducibility."""

from __future__ import annotations

import math

import pytest

from sim.core.engine import Environment, Run, build_model, simulate
from sim.core.errors import ConfigError
from tests.conftest import BASE, make_model, merge

AUDIT_ALWAYS = {"audit": {"_target_": "sim.controls.detectors.PeriodicAudit", "interval": "1d",
                          "coverage": 1, "recognition": 1, "phase": "12h"}}


def test_same_seed_same_result_and_streams_are_per_replication():
    model = make_model(detectors={"ext": {"_target_": "sim.controls.detectors.ExternalDiscovery",
                                          "base_mean_time": "20d"}})
    a = [simulate(model, 5, r) for r in range(4)]
    b = [simulate(model, 5, r) for r in reversed(range(4))][::-1]
    assert a == b  # order of replications does not matter
    assert len({r.dwell_hours for r in a}) == 4  # replications differ from each other
    assert simulate(model, 6, 0) != a[0]


def test_component_streams_are_independent_and_stable():
    run1, run2 = Run(make_model(), 3, 2), Run(make_model(), 3, 2)
    assert run1.rng("insider").random() == run2.rng("insider").random()
    assert run1.rng("insider").random() != run1.rng("detector:audit").random()
    assert Run(make_model(), 3, 1).rng("insider").random() != run2.rng("insider").random()


def test_detection_then_containment_with_exfiltration_in_between():
    model = make_model(detectors=AUDIT_ALWAYS,
                       response={"containment_delay": "2d", "containment_cv": 0},
                       network={"_target_": "tests.conftest.tiny_network", "records": 10**9})
    res = simulate(model, 1, 0)
    assert res.detected and res.detected_by == "audit" and res.dwell_hours == 12.0
    assert res.access_ended_by == "containment"
    assert res.access_hours == pytest.approx(12.0 + 48.0)
    # about 4 sessions a day of 100 records kept going for 2.5 days
    assert res.records_exfiltrated > 100 * res.sessions * 0.5
    assert res.sessions > 4


def test_censored_replication_reports_the_horizon():
    model = make_model(horizon="10d", network={"_target_": "tests.conftest.tiny_network",
                                               "records": 10**9})
    res = simulate(model, 1, 0)
    assert res.censored and not res.detected and res.detected_by == ""
    assert res.dwell_hours == 240.0 and res.access_ended_by == "horizon"
    assert math.isnan(res.mean_triage_wait_hours)


def test_records_of_a_session_cut_by_containment_are_pro_rata():
    # one long session of 10 hours; the audit confirms at 1 h, containment is instant
    model = make_model(
        insider={"records_per_session": 1000, "request_rate_per_ip": 44, "ip_addresses": 10,
                 "max_session_hours": "20h"},
        detectors={"audit": {"_target_": "sim.controls.detectors.PeriodicAudit", "interval": "1d",
                             "coverage": 1, "recognition": 1, "phase": "1h"}},
        response={"containment_delay": 0, "containment_cv": 0})
    res = simulate(model, 1, 0)
    assert res.records_exfiltrated == 100  # 1 h of a 10 h session of 1000 records


@pytest.mark.parametrize("over, message", [
    ({"replications": 0}, r"^replications: must be in \[1, 1e\+06\]"),
    ({"seed": -1}, r"^seed: must be >= 0"),
    ({"horizon": "forever"}, r"^horizon: must be a duration"),
    ({"colour": "red"}, r"^colour: unknown key"),
    ({"network": {"_target_": "sim.world.network.generate", "segmentation": 2}},
     r"^network.segmentation"),
    ({"insider": {"sessions_per_day": 0}}, r"^insider.sessions_per_day: must be > 0"),
    ({"triage": {"analysts": -1}}, r"^triage.analysts: must be in \[0, 100000\]"),
    ({"detectors": {"a": {"interval": 3}}}, r"^detectors.a: must be a mapping with a _target_"),
    ({"detectors": {"a": {"_target_": "sim.controls.detectors.PeriodicAudit", "colour": 1}}},
     r"^detectors.a.colour: unknown key"),
    ({"start": "yesterday"}, r"^start: must be an ISO 8601"),
])
def test_bad_config_names_the_key(over, message):
    with pytest.raises(ConfigError, match=message):
        build_model(merge(BASE, over))


def test_exact_mode_refuses_a_population_too_large():
    with pytest.raises(ConfigError, match="background.mode: exact mode would simulate"):
        make_model(background={"employees": 100_000, "mode": "exact"}, horizon="1y",
                   detectors={"m": {"_target_": "sim.controls.detectors.ContinuousMonitoring"}})


def test_detector_switched_off_with_null():
    model = make_model(detectors={"audit": None})
    assert model.detectors == ()


def test_tracing_changes_nothing_and_logs_tagged_actions():
    model = make_model(detectors=AUDIT_ALWAYS)
    events: list = []
    traced = simulate(model, 4, 2, trace=events)
    assert traced == simulate(model, 4, 2)
    actions = [e["action"] for e in events]
    assert actions[0] == "session-start" and "T1550.001" in events[0]["technique"]
    assert [e["node"] for e in events if e["action"] == "access"] == ["gateway", "api", "store"]
    exfil = [e for e in events if e["action"] == "exfiltration"]
    assert exfil and all("T1567" in e["technique"] for e in exfil)
    detection = [e for e in events if e["action"] == "detection"]
    assert len(detection) == 1 and detection[0]["t"] == traced.dwell_hours
    assert actions[-1] in ("containment", "access-ended")
    assert sum(e["records"] for e in exfil) <= traced.records_exfiltrated


@pytest.mark.parametrize("mode", ["fast", "exact"])
def test_warmup_means_the_insider_meets_a_busy_queue(mode):
    """With a week of benign alerts before time 0, an overloaded team is already behind when
    the insider's first alert arrives; without it the queue would start empty."""
    common = dict(
        network={"_target_": "tests.conftest.tiny_network", "records": 10**9},
        insider={"profile": "flat", "sessions_per_day": 1},
        # ~3 false alarms an hour around the clock for one analyst doing 2 an hour
        background={"employees": 1000, "observations_per_employee_per_day": 24,
                    "profile": "flat", "weekend_factor": 1.0, "mode": mode},
        detectors={"m": {"_target_": "sim.controls.detectors.ContinuousMonitoring",
                         "threshold": 2.75, "dprime": 10.0, "latency": 0}},
        horizon="2d")

    def queue_met_by_insider(warmup: str) -> int:
        model = make_model(**common, triage={"analysts": 1, "triage_time": "30m",
                                             "triage_time_cv": 0, "warmup": warmup,
                                             "max_alert_age": "inf"})
        events: list = []
        simulate(model, 3, 0, trace=events)
        return next(e["queue_length"] for e in events
                    if e["action"] == "alert" and e["true_positive"])

    assert queue_met_by_insider("0h") == 1  # the alert at time 0 finds nobody ahead of it
    # a week at 1.5x capacity (3 alerts/h, 2 triaged/h) leaves ~170 alerts waiting; 4 SD of
    # the Poisson arrivals (sqrt(504) = 22) below that is still far above 50
    assert queue_met_by_insider("1w") > 50


def test_a_traced_replication_equals_its_untraced_row_to_the_last_bit():
    """Tracing sends alerts through the per-alert path of the queue; its sums round exactly
    as the fast path's, so mean waits and utilisation agree bit for bit, not just closely."""
    from tests.outputs.test_trace import BUSY

    for analysts in (1, 3):
        model = make_model(**merge(BUSY, {"horizon": "20d", "triage": {"analysts": analysts}}))
        rows = [(simulate(model, 9, r), simulate(model, 9, r, trace=[])) for r in range(15)]
        assert sum(a.false_alerts for a, _ in rows) > 100
        assert all(a == b for a, b in rows), [(a, b) for a, b in rows if a != b][:1]


def test_simulate_many_leaves_no_garbage_behind_and_unfreezes():
    """Replications leave reference cycles; simulate_many collects them as it goes, so what a
    final collection still finds is at most what collect_every replications leave."""
    import gc

    from sim.core.engine import simulate_many

    model = make_model(detectors=AUDIT_ALWAYS, horizon="30d")
    gc.collect()
    gc.disable()  # the automatic collector must not do the work for simulate_many here
    try:
        for _ in range(50):
            simulate(model, 1, 0)
        per_replication = gc.collect() / 50
        assert per_replication > 10  # a replication does leave cycles behind
        results = list(simulate_many(model, 1, range(400), collect_every=50))
        left = gc.collect()
    finally:
        gc.enable()
    assert [r.replication for r in results] == list(range(400))
    assert results[7] == simulate(model, 1, 7)
    assert left <= 50 * per_replication * 1.5
    assert gc.get_freeze_count() == 0
    stream = simulate_many(model, 1, range(100), collect_every=50)
    for _ in range(50):
        next(stream)
    assert gc.get_freeze_count() == 0  # nothing is frozen before the first collection ...
    next(stream)
    assert gc.get_freeze_count() > 0  # ... the model is frozen from then on ...
    stream.close()
    assert gc.get_freeze_count() == 0  # ... and released when the consumer stops early


def test_a_batch_shorter_than_collect_every_collects_nothing():
    """A study runs hundreds of small batches beside a big heap (pyabc, pandas, optuna): a
    full collection per batch cost it most of its time (#16), so a batch of fewer than
    ``collect_every`` replications must not collect at all - nor freeze, which would keep
    each batch's garbage out of Python's own collections (memory grew ~140 KB a batch)."""
    import gc

    from sim.core.engine import simulate_many

    model = make_model(detectors=AUDIT_ALWAYS, horizon="30d")
    seen: list[int] = []

    def spy(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.disable()  # only simulate_many's own collections are counted
    gc.callbacks.append(spy)
    try:
        stream = simulate_many(model, 1, range(20), collect_every=50)
        results = [next(stream)]
        assert gc.get_freeze_count() == 0
        results += list(stream)
        assert seen == []
        list(simulate_many(model, 1, range(100), collect_every=50))
        assert seen == [2, 2]  # ... while a long one still collects every collect_every
    finally:
        gc.callbacks.remove(spy)
        gc.enable()
    assert results == [simulate(model, 1, r) for r in range(20)]


# -- the clock's exact shortcut (Environment.advance) -------------------------------------------
def test_advance_relies_on_simpys_private_clock_and_queue_layout():
    # Environment.advance reads SimPy's private `_now` and `_queue` (entries (time, priority,
    # id, event)) and must compute a timeout's time as SimPy does: fail here if that changes.
    env = Environment()
    env._now = 0.1
    ev = env.timeout(0.2)
    assert env.now == 0.1
    time, _priority, _eid, event = env._queue[0]
    assert event is ev and time == 0.1 + 0.2 and env.peek() == time  # 0.30000000000000004
    assert env.advance(0.2) is False  # a tie with a scheduled event goes through SimPy
    assert env.advance(0.1) is True and env.now == 0.1 + 0.1 and env.advanced == 1
    assert env.advance(-1.0) is False and env.now == 0.1 + 0.1
    env.run()
    assert env.advance(5.0) is True and env.now == 0.1 + 0.2 + 5.0  # nothing scheduled


def _shortcut_off(monkeypatch):
    monkeypatch.setattr(Environment, "advance", lambda self, delay: False)


@pytest.mark.parametrize("overrides", [
    ["scenario=coupang_2025"],
    ["scenario=coupang_2025_monitored", "insider/crew=shared_key"],
    ["scenario=coupang_2025", "insider/crew=own_keys", "insider/strategy=cautious",
     "detectors.audit.visible=true", "detectors.audit.interval=1w"],
    ["scenario=coupang_2025_monitored", "insider/strategy=threshold_prober"],
    ["scenario=default", "network.retained_credential=api_token",
     "+network.retained_lifetime=4400", "~detectors.monitoring"],  # the key expires mid-run
])
def test_the_shortcut_changes_no_row_and_no_trace_event(overrides, monkeypatch):
    from tests.test_configs import compose_plain

    model = build_model(compose_plain(overrides))
    reps = range(12)
    fast, counters = [], {}
    for r in reps:
        trace: list = []
        c: dict = {}
        fast.append((simulate(model, 4, r, trace=trace, counters=c), trace))
        counters[r] = c["clock_advances"]
    assert sum(counters.values()) > 0  # the shortcut was taken
    _shortcut_off(monkeypatch)
    for r in reps:
        trace = []
        assert (simulate(model, 4, r, trace=trace), trace) == fast[r]


def _ten_hour_sessions(**over):
    # sessions of 1000 records at 44 requests per IP-hour from 10 IPs: 10 h each
    return make_model(insider={"records_per_session": 1000, "request_rate_per_ip": 44,
                               "ip_addresses": 10, "max_session_hours": "20h",
                               "sessions_per_day": 0.5},
                      network={"_target_": "tests.conftest.tiny_network", "records": 10**9},
                      **over)


def test_an_event_at_the_very_end_of_a_session_comes_first_as_in_simpy():
    run = Run(_ten_hour_sessions(), 1, 0)
    run.attach([])
    seen = []  # what the insider had done when the event at t = 10 h ran
    run.env.timeout(10.0).callbacks.append(
        lambda _e: seen.append((run.insider.current is not None, run.insider.records)))
    run.env.run(until=11.0)
    # scheduled before the session's end, the event runs first (SimPy's order on a tie): the
    # session is still running, nothing is credited yet; then the session ends
    assert seen == [(True, 0)] and run.insider.records == 1000


def test_a_hook_that_schedules_a_cut_mid_session_cuts_it_pro_rata():
    run = Run(_ten_hour_sessions(), 1, 0)
    run.attach([])
    # a control that reacts 3 h after the session starts: scheduled by the start hook, after
    # which the insider must see it (not run its 10 h session through)
    run._start_hooks.append(lambda _s: run.env.timeout(3.0).callbacks.append(
        lambda _e: run.prevent("rule")))
    run.env.run(until=50.0)
    assert run.insider.ended_by == "rule" and run.insider.ended_at == 3.0
    assert run.insider.records == 300 and run.insider._ends == [3.0]


def test_containment_mid_session_cuts_it_pro_rata_and_the_horizon_stops_a_session():
    audit = {"audit": {**AUDIT_ALWAYS["audit"], "phase": "5h"}}
    model = _ten_hour_sessions(detectors=audit,
                               response={"containment_delay": "3h", "containment_cv": 0})
    res = simulate(model, 1, 0)  # confirmed at 5 h, contained at 8 h, 8 h into session 0
    assert res.detected_by == "audit" and res.dwell_hours == 5.0
    assert res.access_ended_by == "containment" and res.access_hours == 8.0
    assert res.sessions == 1 and res.records_exfiltrated == 800
    short = simulate(_ten_hour_sessions(horizon=4.0), 1, 0)  # the first session, cut by it
    assert short.censored and short.access_ended_by == "horizon" and short.access_hours == 4.0
    assert short.records_exfiltrated == 400 and short.sessions == 1


@pytest.mark.parametrize("n", range(6))
def test_the_hooks_fan_out_calls_every_hook_in_order(n):
    from sim.core.engine import _fan_out

    calls: list = []
    hooks = [lambda *a, k=k: calls.append((k, a)) for k in range(n)]
    fan = _fan_out(hooks)
    if n == 0:
        assert fan is None
        return
    fan("s", 3)
    assert calls == [(k, ("s", 3)) for k in range(n)]
