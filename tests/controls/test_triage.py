"""The triage queue against queueing theory and its own rules (shifts, ageing, confirmation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from sim.controls.triage import LazyTriageQueue, TriageParams, TriageQueue
from sim.core.params import build
from sim.world.calendar import Calendar, PointStream

# Every test runs against both implementations: the event-by-event reference and the lazy
# recursion used in fast mode. Both must satisfy the same contract.
both = pytest.mark.parametrize("Queue", [TriageQueue, LazyTriageQueue],
                               ids=["exact", "lazy"])


class FakeRun:
    """Just what TriageQueue needs from a replication."""

    def __init__(self, seed: int = 0, start: str = "2025-06-23T00:00:00+09:00") -> None:
        self.env = simpy.Environment()
        self.calendar = Calendar.parse(start)  # a Monday, 00:00 Korea time
        self.seed = seed
        self.confirmed: list[tuple[float, str]] = []
        self.events = None  # not tracing

    def rng(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, len(name)])

    def confirm(self, detector: str) -> None:
        self.confirmed.append((self.env.now, detector))


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C)."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def poisson_alerts(run, queue, rate, n, rng):
    for _ in range(n):
        yield run.env.timeout(rng.exponential(1 / rate))
        queue.submit("x", False)


@both
def test_mean_wait_matches_erlang_c(Queue):
    lam, mu, c = 1.5, 1.0, 2  # utilisation 0.75
    expected = erlang_c_wait(lam, mu, c)  # 0.643 h
    means, utils = [], []
    for seed in range(20):
        run = FakeRun(seed)
        q = Queue(run, build(TriageParams, {"analysts": c, "triage_time": 1 / mu}), None)
        run.env.process(poisson_alerts(run, q, lam, 5000, np.random.default_rng(100 + seed)))
        run.env.run()
        q.close()
        means.append(q.mean_wait)
        utils.append(q.busy_time / (c * run.env.now))
    # 20 independent replications: tolerance = 4 standard errors of their mean (the first
    # alerts find an empty system, a bias of order 1/5000 of the mean, far inside this).
    se = np.std(means, ddof=1) / math.sqrt(len(means))
    assert abs(np.mean(means) - expected) < 4 * se, (np.mean(means), expected, se)
    se_u = np.std(utils, ddof=1) / math.sqrt(len(utils))
    assert abs(np.mean(utils) - lam / (c * mu)) < 4 * se_u + 1e-3


@both
def test_office_hours_alert_waits_for_monday_morning(Queue):
    run = FakeRun()
    params = build(TriageParams, {"analysts": 1, "shift": "office_hours", "triage_time": 0.5,
                                  "triage_time_cv": 0, "confirm_probability": 1.0})
    q = Queue(run, params, None)
    saturday_noon = 5 * 24 + 12

    def alert():
        yield run.env.timeout(saturday_noon)
        q.submit("audit", True)

    run.env.process(alert())
    run.env.run(until=10 * 24)
    monday_nine = 7 * 24 + 9
    assert run.confirmed == [(monday_nine + 0.5, "audit")]
    assert q.on_shift(monday_nine) and not q.on_shift(monday_nine - 1)


@both
def test_old_alerts_are_dropped_unreviewed(Queue):
    run = FakeRun()
    params = build(TriageParams, {"analysts": 1, "triage_time": 10, "triage_time_cv": 0,
                                  "max_alert_age": 5})
    q = Queue(run, params, None)
    for _ in range(3):  # all at time 0: the first is served, the others would wait 10 h
        q.submit("m", False)
    run.env.run(until=20)
    q.close()
    assert (q.triaged, q.dropped) == (1, 2)


@both
def test_false_alarms_delay_a_true_alert(Queue):
    def confirm_time(false_before: int) -> float:
        run = FakeRun()
        q = Queue(run, build(TriageParams, {"analysts": 1, "triage_time": 1,
                                                  "triage_time_cv": 0,
                                                  "confirm_probability": 1}), None)
        for _ in range(false_before):
            q.submit("m", False)
        q.submit("m", True)
        run.env.run()
        return run.confirmed[0][0]

    assert confirm_time(0) == 1
    assert confirm_time(5) == 6


@both
def test_no_analysts_means_nothing_is_reviewed(Queue):
    run = FakeRun()
    q = Queue(run, build(TriageParams, {"analysts": 0, "max_alert_age": 1}), None)
    q.submit("m", True)
    run.env.run(until=10)
    q.close()
    assert run.confirmed == [] and q.dropped == 1 and math.isnan(q.mean_wait)


@both
@pytest.mark.parametrize("cv", [0.0, 0.5, 1.0])
def test_triage_time_has_the_configured_mean(Queue, cv):
    run = FakeRun(seed=3)
    q = Queue(run, build(TriageParams, {"analysts": 1, "triage_time": 2.0,
                                              "triage_time_cv": cv}), None)
    n = 4000
    for _ in range(n):
        q.submit("m", False)
    run.env.run(until=1e9)
    q.close()
    # mean of n gamma draws: SE = cv * 2 / sqrt(n); allow 4 SE
    assert q.busy_time / n == pytest.approx(2.0, abs=4 * cv * 2 / math.sqrt(n) + 1e-12)


class OneWarmUpAlert:
    """A background whose only benign alert arrives one hour before time 0."""

    def arrival_times(self, rng, probability, start=0.0):
        return PointStream.of([-1.0])

    def alarms(self, run, rng, probability, on_alarm):  # no benign alert after time 0
        pass


@both
def test_warm_up_backlog_is_carried_into_time_zero(Queue):
    """An analyst busy with a warm-up alert from -1 h to 9 h makes an alert at 5 h wait 4 h."""
    run = FakeRun()
    q = Queue(run, build(TriageParams, {"analysts": 1, "triage_time": 10, "triage_time_cv": 0,
                                        "warmup": 2}), OneWarmUpAlert())
    q.benign_alarms("m", OneWarmUpAlert(), 0.5, np.random.default_rng(0))

    def later():
        yield run.env.timeout(5)
        q.submit("m", False)

    run.env.process(later())
    run.env.run(until=30)
    q.close()
    assert (q.false_alerts, q.triaged) == (1, 1)  # the warm-up alert is in no statistic
    assert q.mean_wait == pytest.approx(4.0)
    assert q.busy_time == pytest.approx(9.0 + 10.0)  # the warm-up triage's part after 0, too


# -- both modes draw the same warm-up: with fixed triage times the backlog the insider meets
# -- at time 0 and the triage starts of its alerts are the same event for event (FIFO: they
# -- depend on earlier alerts only, and the warm-up alerts are the same draws in both modes)
WARM = {
    "horizon": "10d",
    "network": {"_target_": "tests.conftest.tiny_network", "records": 10**9},
    "background": {"employees": 300, "profile": "office", "weekend_factor": 0.2},
    "triage": {"analysts": 1, "triage_time": "2h", "triage_time_cv": 0.0},
    # the insider never trips the rule: only benign alerts, ~24 a weekday for one analyst
    "detectors": {"rule": {"_target_": "sim.controls.detectors.VolumeThreshold",
                           "max_requests_per_ip_hour": 1e12,
                           "benign_trip_probability": 0.01, "watch": "all"}},
}


def warm_up_trace(mode: str, **over):
    from sim.core.engine import simulate
    from tests.conftest import make_model, merge

    cfg = merge(merge(WARM, {"background": {"mode": mode}}), over)
    events: list = []
    simulate(make_model(**cfg), 4, 0, trace=events)
    backlog = [(e["queue_length"], e["analysts_busy"]) for e in events
               if e["action"] == "queue-backlog"]
    starts = [e["t"] for e in events if e["action"] == "triage-start" and e.get("warmup")]
    drops = sum(e["action"] == "alert-dropped" and bool(e.get("warmup")) for e in events)
    return backlog, starts, drops


@pytest.mark.parametrize("over", [
    {},
    {"triage": {"max_alert_age": "20h"}},  # some warm-up alerts age out, before or after 0
    # time 0 is Monday 09:00 in Korea, the start of the office shift: the analyst is free at
    # exactly time 0 and takes the weekend's backlog then, not at the next event
    {"start": "2025-06-23T09:00:00+09:00", "triage": {"shift": "office_hours"}},
], ids=["24x7", "age-limit", "shift-starts-at-0"])
def test_both_modes_trace_the_same_warm_up_backlog(over):
    fast, exact = warm_up_trace("fast", **over), warm_up_trace("exact", **over)
    (queue, busy), = fast[0]
    assert queue > 5, fast[0]  # the week before leaves a backlog
    assert fast[0] == exact[0]
    assert fast[1] == exact[1] and len(fast[1]) > 0
    assert fast[2] == exact[2]
    assert len(fast[1]) + fast[2] <= queue


def test_no_benign_alerts_no_backlog_event_in_either_mode():
    quiet = {"detectors": {"rule": {"benign_trip_probability": 0.0}}}
    assert warm_up_trace("fast", **quiet) == warm_up_trace("exact", **quiet) == ([], [], 0)


@pytest.mark.parametrize("start", ["2025-06-23T09:00:00+09:00", "2025-06-24T03:17:00+02:00"])
def test_next_shift_start_is_one_float_per_gap_so_fifo_starts_never_decrease(start):
    """Every time in an off-shift gap maps to the very same shift start (not one an ulp off
    for some times), so a later alert can never start before an earlier one."""
    run = FakeRun(start=start)
    q = TriageQueue(run, build(TriageParams, {"analysts": 1, "shift": "office_hours"}), None)
    ts = np.sort(np.random.default_rng(1).uniform(-400.0, 400.0, 20_000))
    starts = [q.start_from(float(t)) for t in ts]
    assert all(b >= a for a, b in zip(starts, starts[1:], strict=False))
    off = [(q._next_shift_start(float(t)), float(t)) for t in ts if not q.on_shift(float(t))]
    by_gap: dict[float, list[float]] = {}
    for s, t in off:
        by_gap.setdefault(round(s, 6), []).append(s)
        assert s > t and q.on_shift(s)
    assert len(by_gap) > 10 and all(len(set(v)) == 1 for v in by_gap.values())


@pytest.mark.parametrize("analysts,cv,max_age,rate,drops", [
    (1, 1.0, math.inf, 2.0, False), (3, 1.0, 1.0, 14.0, True), (2, 0.0, 0.5, 9.0, True),
    (3, 0.5, 24.0, 4.0, False)])
def test_the_inlined_recursion_equals_serving_alert_by_alert(analysts, cv, max_age, rate, drops):
    # _advance_fast (untraced, 24x7) against _serve one alert at a time, to the last bit:
    # warm-up alerts before 0, waits, drops (light and overloaded teams), fixed triage times
    rng = np.random.default_rng(analysts)
    arrivals = (-24.0 + np.cumsum(rng.exponential(1 / rate, int(rate * 200)))).tolist()
    until = 150.0
    params = build(TriageParams, {"analysts": analysts, "triage_time": "15m",
                                  "triage_time_cv": cv, "max_alert_age": max_age,
                                  "warmup": "1d"})
    fast, slow = (LazyTriageQueue(FakeRun(7), params, None) for _ in range(2))
    fast._streams.append(("x", PointStream.of(arrivals)))
    fast._advance(until)
    for a in (a for a in arrivals if a < until):
        if a >= 0:
            slow.false_alerts += 1
        else:
            slow.warmup_alerts += 1
        slow._serve(a, "x", False)
    for q in (fast, slow):
        q.env.run(until=until)
        q.close()
    assert fast.warmup_alerts > 0 and fast.triaged > 0 and fast.total_wait > 0
    assert drops == (fast.dropped > 0 and fast.sealed_dropped > 0)
    for key in ("false_alerts", "warmup_alerts", "triaged", "dropped", "sealed",
                "sealed_dropped", "total_wait", "busy_time"):
        assert getattr(fast, key) == getattr(slow, key), key
    assert sorted(fast._free) == sorted(slow._free)
