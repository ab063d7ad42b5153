"""The engine: model building, replication outcomes, containment, reproducibility."""

from __future__ import annotations

import math

import pytest

from sim.core.engine import Run, build_model, simulate
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
