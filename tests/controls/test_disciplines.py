"""Queue disciplines (fifo, priority, risk_based) against queueing theory, fast against exact,
and every knob of the team moving results the way a SOC manager expects."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.controls.cases import RiskLedger
from sim.controls.triage import (
    LazyPriorityQueue,
    LazyTriageQueue,
    TriageParams,
    TriageQueue,
    case_rate,
    make_queue,
    offered_load,
)
from sim.core.engine import simulate
from sim.core.errors import ConfigError
from sim.core.params import build
from tests.conftest import make_model
from tests.controls.test_triage import FakeRun, erlang_c_wait


class TracedRun(FakeRun):
    """A FakeRun that keeps the event log (per-class waits come from ``triage-start``)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.events = []

    def emit(self, action, t=None, **fields):
        self.events.append({"t": self.env.now if t is None else t, "action": action, **fields})


# the implementations of each discipline: the event-by-event reference and the fast one
PRIORITY_QUEUES = pytest.mark.parametrize("Queue", [TriageQueue, LazyPriorityQueue],
                                          ids=["exact", "lazy"])


def class_waits(Queue, classes, analysts, mu, n, seed, **extra):
    """Mean wait of each class of a multi-class Poisson stream under ``priority``.

    ``classes``: [(rate, score)], highest score served first."""
    run = TracedRun(seed)
    params = build(TriageParams, {"analysts": analysts, "triage_time": 1 / mu,
                                  "discipline": "priority", "warmup": 0, **extra})
    q = Queue(run, params, None)
    rng = np.random.default_rng(1000 + seed)
    total = sum(rate for rate, _ in classes)
    probs = [rate / total for rate, _ in classes]

    def arrivals():
        for _ in range(n):
            yield run.env.timeout(rng.exponential(1 / total))
            k = rng.choice(len(classes), p=probs)
            q.submit(f"c{k}", False, classes[k][1])

    run.env.process(arrivals())
    run.env.run()
    q.close()
    waits = {}
    for k in range(len(classes)):
        w = [e["wait_hours"] for e in run.events
             if e["action"] == "triage-start" and e["detector"] == f"c{k}"]
        waits[k] = float(np.mean(w))
    return waits, q


def cobham(classes, analysts, mu):
    """Mean waits of the non-preemptive priority M/M/c with equal service rates (Cobham
    1954): W_k = W_0 / ((1 - s_{k-1})(1 - s_k)), s_k the load of classes 1..k, W_0 the mean
    residual work an arrival finds (M/M/1: sum lambda_i E[S^2] / 2; M/M/c: the Erlang C
    probability of waiting / (c mu))."""
    lam = sum(rate for rate, _ in classes)
    if analysts == 1:
        w0 = lam * 2 / mu**2 / 2
    else:
        w0 = erlang_c_wait(lam, mu, analysts) * (analysts * mu - lam) / (analysts * mu)
    out, s_prev = [], 0.0
    for rate, _ in classes:
        s = s_prev + rate / (analysts * mu)
        out.append(w0 / ((1 - s_prev) * (1 - s)))
        s_prev = s
    return out


@PRIORITY_QUEUES
@pytest.mark.parametrize("analysts, classes", [
    (1, [(0.3, 2.0), (0.4, 1.0)]),   # M/M/1, load 0.7: W = 1.0 h and 3.33 h
    (2, [(0.6, 2.0), (0.8, 1.0)]),   # M/M/2, load 0.7
], ids=["M/M/1", "M/M/2"])
def test_priority_waits_match_cobham(Queue, analysts, classes):
    """``priority`` with two score classes, exponential triage, no age limit, no shifts IS the
    non-preemptive priority M/M/c queue with equal service rates."""
    expected = cobham(classes, analysts, 1.0)
    reps = [class_waits(Queue, classes, analysts, 1.0, 4000, seed)[0] for seed in range(12)]
    for k, want in enumerate(expected):
        got = np.array([r[k] for r in reps])
        # 12 independent replications: 4 standard errors of their mean (each starts empty,
        # a bias of order relaxation time (~20 h) / run length (~5,700 h), far inside this)
        se = got.std(ddof=1) / math.sqrt(len(got))
        assert abs(got.mean() - want) < 4 * se, (k, got.mean(), want, se)
    # and the law bites: the low class waits several times longer than the high one
    assert np.mean([r[1] for r in reps]) > 2 * np.mean([r[0] for r in reps])


def reneging_loss(lam: float, mu: float, tau: float) -> float:
    """Share of arrivals lost in the M/M/1 queue where an arrival whose wait would exceed
    ``tau`` leaves (Barrer 1957): rho (1 - rho) E / (1 - rho^2 E), E = exp(-(mu - lam) tau)."""
    rho, e = lam / mu, math.exp(-(mu - lam) * tau)
    return rho * (1 - rho) * e / (1 - rho**2 * e)


@pytest.mark.parametrize("Queue, discipline", [
    (TriageQueue, "fifo"), (LazyTriageQueue, "fifo"),
    (TriageQueue, "priority"), (LazyPriorityQueue, "priority"),
    (TriageQueue, "risk_based"), (LazyPriorityQueue, "risk_based"),
], ids=["exact-fifo", "lazy-fifo", "exact-priority", "lazy-priority", "exact-risk",
        "lazy-risk"])
@pytest.mark.parametrize("lam", [0.8, 1.5], ids=["load0.8", "overload1.5"])
def test_dropped_fraction_matches_mm1_with_reneging(Queue, discipline, lam):
    """One analyst, exponential triage, Poisson alerts and ``max_alert_age`` tau: an alert is
    dropped exactly when its FIFO wait would exceed tau, the M/M/1+D queue. Under
    ``priority`` every alert has the same score, so ties go first come first served and it
    reduces to the same queue; under ``risk_based`` with a threshold below that score every
    alert opens a case of the same risk, and the cases age out the same way."""
    mu, tau, n = 1.0, 2.0, 4000
    want = reneging_loss(lam, mu, tau)
    fractions = []
    risk = ({"risk_threshold": 0.5, "case_triage_time": 1 / mu}
            if discipline == "risk_based" else {})
    for seed in range(12):
        run = FakeRun(seed)
        q = Queue(run, build(TriageParams, {"analysts": 1, "triage_time": 1 / mu,
                                            "max_alert_age": tau, "discipline": discipline,
                                            "warmup": 0, **risk}), None)
        rng = np.random.default_rng(500 + seed)

        def arrivals(q=q, rng=rng, run=run):
            for _ in range(n):
                yield run.env.timeout(rng.exponential(1 / lam))
                q.submit("m", False, 1.0)

        run.env.process(arrivals())
        run.env.run()
        q.close()
        fractions.append(q.dropped / (q.dropped + q.triaged))
    got = np.array(fractions)
    se = got.std(ddof=1) / math.sqrt(len(got))
    # 4 standard errors of the mean of 12 replications of 4000 alerts
    assert abs(got.mean() - want) < 4 * se, (got.mean(), want, se)


def pk_wait(lam: float, mean: float, cv: float) -> float:
    """Mean wait of the M/G/1 queue (Pollaczek-Khinchine): rho E[S] (1 + cv^2) / (2 (1 - rho))."""
    rho = lam * mean
    return rho * mean * (1 + cv**2) / (2 * (1 - rho))


@PRIORITY_QUEUES
@pytest.mark.parametrize("cv", [0.5, 1.5])
def test_risk_based_cases_match_pollaczek_khinchine(Queue, cv):
    """``risk_based`` with a threshold below every alert's score opens one case per alert,
    all with the same risk: one analyst then works cases first come first served with the
    case triage time, the M/G/1 queue; its mean wait grows with ``case_triage_time_cv``."""
    lam, mean, n = 0.6, 1.0, 4000
    want = pk_wait(lam, mean, cv)
    waits = []
    for seed in range(12):
        run = FakeRun(seed)
        q = Queue(run, build(TriageParams, {
            "analysts": 1, "discipline": "risk_based", "warmup": 0, "risk_threshold": 0.5,
            "case_triage_time": mean, "case_triage_time_cv": cv}), None)
        rng = np.random.default_rng(700 + seed)

        def arrivals(q=q, rng=rng, run=run):
            for _ in range(n):
                yield run.env.timeout(rng.exponential(1 / lam))
                q.submit("m", False, 1.0)

        run.env.process(arrivals())
        run.env.run()
        q.close()
        assert q.cases == n
        waits.append(q.mean_wait)
    got = np.array(waits)
    se = got.std(ddof=1) / math.sqrt(len(got))
    # 4 standard errors of the mean of 12 replications of 4000 cases
    assert abs(got.mean() - want) < 4 * se, (got.mean(), want, se)


# -- fast and exact give the same distributions, for each discipline --------------------------
# The tiny network watched everywhere: 200 staff x 8 observations a day (67 an hour) at a
# threshold of 1.7 give ~3 false alarms an hour for one analyst taking 30 min: offered load
# ~1.5; the insider (d' 2.5) is flagged on most observations of its two sessions a day.
SOC = {
    "horizon": "30d",
    "background": {"employees": 200, "profile": "flat", "weekend_factor": 1.0},
    "insider": {"sessions_per_day": 2},
    "triage": {"analysts": 1, "triage_time": "30m", "max_alert_age": "12h", "warmup": "2d"},
    "detectors": {"mon": {"_target_": "sim.controls.detectors.ContinuousMonitoring",
                          "threshold": 1.7, "dprime": 2.5, "latency": 0, "watch": "all"}},
}


# risk_based on SOC with benign cases that queue: the ~3 false alarms an hour fall on 10
# entities, 6 of risk (about three alerts) open a case: ~0.9 benign cases an hour, 30 min each
RISK = {"risk_entities": 10, "risk_threshold": 6.0, "case_triage_time": "30m"}


def soc_model(discipline: str, mode: str = "fast", **triage):
    from tests.conftest import merge

    cfg = merge(SOC, {"background": {"mode": mode},
                      "triage": {"discipline": discipline, **triage}})
    return make_model(**cfg)


@pytest.mark.parametrize("discipline", ["fifo", "priority", "risk_based"])
def test_fast_and_exact_agree_for_each_discipline(discipline):
    """The lazy queue of each discipline against the event-by-event one, on a team overloaded
    by benign alerts: the dwell of 120 replications each, with different seeds (independent
    samples), and the mean wait of triaged items."""
    n = 120
    over = RISK if discipline == "risk_based" else {}
    fast = [simulate(soc_model(discipline, **over), 1, r) for r in range(n)]
    exact = [simulate(soc_model(discipline, "exact", **over), 2, r) for r in range(n)]
    a = np.array([r.dwell_hours for r in fast])
    b = np.array([r.dwell_hours for r in exact])
    # two-sample Kolmogorov-Smirnov at a fixed seed: the same distribution is rejected at the
    # 0.1% level one time in a thousand
    assert stats.ks_2samp(a, b).pvalue > 0.001, (np.median(a), np.median(b))
    wa = np.array([r.mean_triage_wait_hours for r in fast])
    wb = np.array([r.mean_triage_wait_hours for r in exact])
    wa, wb = wa[np.isfinite(wa)], wb[np.isfinite(wb)]
    se = math.sqrt(wa.var(ddof=1) / len(wa) + wb.var(ddof=1) / len(wb))
    assert abs(wa.mean() - wb.mean()) < 4 * se  # 4 standard errors of the difference


def test_overloaded_team_dwell_is_no_longer_the_age_limit():
    """Under overload, FIFO makes the insider's alert wait about ``max_alert_age`` (12 h
    here); priority lets it overtake the backlog of lower-scored false alarms, and under
    risk_based the team works fewer, bundled items (cases) with room to spare."""
    n = 60
    med = {}
    for d in ("fifo", "priority", "risk_based"):
        model = soc_model(d, **(RISK if d == "risk_based" else {}))
        load = offered_load(model)["offered_load"]
        assert load > 1 if d != "risk_based" else load < 1
        med[d] = float(np.median([simulate(model, 3, r).dwell_hours for r in range(n)]))
    assert med["priority"] < med["fifo"] / 2, med
    assert med["risk_based"] < med["fifo"] / 2, med


def test_risk_knobs_move_the_benign_case_rate_the_expected_way():
    """More risk needed -> fewer cases; a longer window or fewer entities to spread the false
    alarms over -> more cases (the risk ledger run over the model's benign streams)."""
    base = {"risk_threshold": 6.0, "risk_window": "24h", "risk_entities": 50}

    def rate(**over):
        return case_rate(soc_model("risk_based", **{**base, **over}))

    r0 = rate()
    assert r0 > 0
    assert rate(risk_threshold=9.0) < r0 < rate(risk_threshold=4.0)
    assert rate(risk_window="6h") < r0 < rate(risk_window="3d")
    assert rate(risk_entities=500) < r0 < rate(risk_entities=10)


def test_case_triage_time_raises_the_offered_load_and_the_wait():
    short = soc_model("risk_based", risk_entities=5, case_triage_time="30m")
    long = soc_model("risk_based", risk_entities=5, case_triage_time="2h")
    a, b = offered_load(short), offered_load(long)
    assert b["offered_load"] == pytest.approx(4 * a["offered_load"])
    wait = [np.nanmean([simulate(m, 5, r).mean_triage_wait_hours for r in range(40)])
            for m in (short, long)]
    assert wait[1] > wait[0]


def test_risk_keys_are_refused_under_other_disciplines():
    with pytest.raises(ConfigError, match="triage.risk_window: applies only to discipline "
                                          "risk_based"):
        soc_model("priority", risk_window="2d")
    soc_model("risk_based", risk_window="2d")  # accepted where it is read


def test_no_analysts_with_an_alerting_detector_is_an_error():
    with pytest.raises(ConfigError, match="triage.analysts: is 0, but detectors.mon sends"):
        soc_model("fifo", analysts=0)
    make_model(triage={"analysts": 0})  # no alerting detector: nothing to review


def test_team_summary_flags_overload_and_the_printed_summary_warns():
    from sim.controls.triage import team_summary
    from sim.outputs import results

    for analysts, overloaded in ((1, True), (4, False)):
        # a week of warm-up: several relaxation times (~25 h at load 1.5 and a 12 h age limit)
        model = soc_model("fifo", analysts=analysts, warmup="1w")
        rows = [simulate(model, 0, r) for r in range(10)]
        block = team_summary(model, rows)
        assert block["overloaded"] is overloaded and not block["warmup_short"]
        assert block["offered_load"] == pytest.approx(
            block["alerts_per_hour"] * 0.5 / analysts)
        summary = results.summarize(rows, model.run.horizon)
        summary["triage"] = block
        text = results.format_summary(summary, scenario="soc", run_dir="x")
        assert ("warning: the analyst team is overloaded" in text) is overloaded
        if overloaded:  # FIFO saturated: about 1 - 1/load of the alerts age out (M/M/1+D:
            # 0.33 at load 1.49 and 24 triage times of patience), the team is always busy
            assert 0.25 < block["dropped_fraction"] < 0.4 and block["utilisation"] > 0.9
        else:
            assert block["dropped_fraction"] < 0.01 and block["utilisation"] < 0.6


def test_a_warm_up_shorter_than_the_queue_relaxation_is_noted():
    """Two days of warm-up against a relaxation of ~25 h (load 1.5, 12 h age limit): under
    three relaxation times, so the printed summary notes it; without an age limit the
    overloaded queue never settles (relaxation inf)."""
    from sim.controls.triage import team_summary
    from sim.outputs import results

    for age, relax in (("12h", pytest.approx(12 / (offered_load(soc_model("fifo"))
                                                   ["offered_load"] - 1))), ("inf", math.inf)):
        model = soc_model("fifo", max_alert_age=age)
        rows = [simulate(model, 0, r) for r in range(3)]
        block = team_summary(model, rows)
        assert block["relaxation_hours"] == relax and block["warmup_short"]
        summary = results.summarize(rows, model.run.horizon)
        summary["triage"] = results._jsonable(block)
        text = results.format_summary(summary, scenario="soc", run_dir="x")
        assert "note: triage.warmup (2.0 d) is under three relaxation times" in text
    long = soc_model("fifo", warmup="1w")
    assert not team_summary(long, [simulate(long, 0, 0)])["warmup_short"]


def test_risk_ledger_opens_a_case_on_the_risk_inside_the_window_and_starts_again():
    ledger = RiskLedger(threshold=10.0, window=24.0)
    assert ledger.add(0.0, "a", 6.0) is None
    assert ledger.add(30.0, "a", 6.0) is None  # the first alert left the window at 24 h
    assert ledger.add(31.0, "b", 6.0) is None  # another entity's risk is its own
    assert ledger.add(40.0, "a", 5.0) == 11.0  # 6 + 5 within 24 h: a case, risk 11
    assert ledger.add(41.0, "a", 6.0) is None  # the case took the risk: from zero again


def test_make_queue_picks_the_implementation_of_mode_and_discipline():
    for discipline, fast in (("fifo", LazyTriageQueue), ("priority", LazyPriorityQueue),
                             ("risk_based", LazyPriorityQueue)):
        params = build(TriageParams, {"discipline": discipline})
        assert type(make_queue(FakeRun(), params, None, exact=False)) is fast
        assert type(make_queue(FakeRun(), params, None, exact=True)) is TriageQueue
