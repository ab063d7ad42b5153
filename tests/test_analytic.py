"""The analytic results the engine must reproduce, each set up by a scenario in conf/scenario/.

These are what a researcher runs to sanity-check the model before trusting it (README,
"Analytic checks"). Every tolerance is derived from the sample size and stated beside its
assertion; distribution tests are goodness-of-fit tests at a fixed seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.core.engine import build_model, simulate
from sim.core.timeunits import MONTH
from tests.controls.test_triage import erlang_c_wait
from tests.test_configs import compose_plain


def run(scenario: str, *overrides: str, n: int | None = None, seed: int = 20251118):
    model = build_model(compose_plain([f"scenario={scenario}", *overrides]))
    reps = n or model.run.replications
    return model, [simulate(model, seed, r) for r in range(reps)]


def audit_survival(t: np.ndarray, T: float, p: float) -> np.ndarray:
    """P(no successful audit by t) with audits at phi + kT, phi ~ U(0, T)."""
    m, r = np.floor(t / T), np.mod(t, T)
    return (r / T) * (1 - p) ** (m + 1) + (1 - r / T) * (1 - p) ** m


def test_periodic_audit_mean_dwell_is_T_over_p_minus_half_T():
    model, res = run("analytic_audit")
    T, p = 1 * MONTH, 0.2
    dwell = np.array([r.dwell_hours for r in res])
    assert all(r.detected for r in res)
    expected = T / p - T / 2
    # Var(dwell) = Var(phase) + T^2 Var(geometric failures) = T^2/12 + T^2 (1-p)/p^2;
    # tolerance: 4 standard errors of the mean of n = 2000 replications (about 4.4% here).
    se = math.sqrt(T**2 / 12 + T**2 * (1 - p) / p**2) / math.sqrt(len(dwell))
    assert abs(dwell.mean() - expected) < 4 * se, (dwell.mean() / MONTH, expected / MONTH)
    # and the whole distribution: Kolmogorov-Smirnov against the exact survival function
    ks = stats.kstest(dwell, lambda t: 1 - audit_survival(np.asarray(t), T, p))
    assert ks.pvalue > 0.001, ks


@pytest.mark.parametrize("T_days, p", [(1, 0.5), (365.25, 0.3)])
def test_audit_formula_holds_at_the_ends_of_the_sweep(T_days, p):
    T = T_days * 24.0
    n = 1000
    model, res = run("analytic_audit", f"detectors.audit.interval={T}",
                     f"detectors.audit.recognition={p}", n=n)
    dwell = np.array([r.dwell_hours for r in res])
    se = math.sqrt(T**2 / 12 + T**2 * (1 - p) / p**2) / math.sqrt(n)
    assert abs(dwell.mean() - (T / p - T / 2)) < 4 * se  # 4 standard errors


def test_monitoring_with_instant_triage_gives_exponential_dwell():
    model, res = run("analytic_monitoring")
    lam, q = 2 / 24.0, 0.5 * 0.8
    dwell = np.array([r.dwell_hours for r in res])
    assert all(r.detected for r in res)
    ks = stats.kstest(dwell, "expon", args=(0, 1 / (lam * q)))
    assert ks.pvalue > 0.001, ks  # goodness of fit, not just the mean
    # mean within 4 standard errors (SD of an exponential = its mean)
    assert abs(dwell.mean() - 1 / (lam * q)) < 4 * (1 / (lam * q)) / math.sqrt(len(dwell))


def test_triage_queue_matches_erlang_c():
    model, res = run("analytic_queue")
    lam, mu, c = 1.5, 1.0, 2
    waits = np.array([r.mean_triage_wait_hours for r in res])
    utils = np.array([r.analyst_utilisation for r in res])
    # 20 independent one-year replications: 4 standard errors of their mean. Each starts
    # empty, a bias of order (relaxation time ~ 10 h)/(8766 h) of the mean, far inside this.
    assert abs(waits.mean() - erlang_c_wait(lam, mu, c)) < 4 * waits.std(ddof=1) / math.sqrt(20)
    assert abs(utils.mean() - lam / (c * mu)) < 4 * utils.std(ddof=1) / math.sqrt(20) + 1e-3
    alerts = np.array([r.false_alerts for r in res])
    expected = lam * model.run.horizon
    assert abs(alerts.mean() - expected) < 4 * math.sqrt(expected / 20)  # Poisson counts


def test_two_independent_detectors_give_the_minimum():
    n = 1000
    _, both = run("analytic_two_detectors", n=n)
    _, audit = run("analytic_audit", n=n)
    _, ext = run("analytic_two_detectors", "~detectors.audit", n=n)
    # Same seed, same component streams: replication by replication, the detection time with
    # both is exactly the earlier of the two alone.
    for b, a, e in zip(both, audit, ext, strict=True):
        assert b.dwell_hours == min(a.dwell_hours, e.dwell_hours)
        assert b.detected_by == ("audit" if a.dwell_hours <= e.dwell_hours else "external")
    # and the distribution is the product of the survival functions
    T, p, mean_ext = 1 * MONTH, 0.2, 3 * MONTH
    dwell = np.array([r.dwell_hours for r in both])
    cdf = lambda t: 1 - audit_survival(np.asarray(t), T, p) * np.exp(-np.asarray(t) / mean_ext)  # noqa: E731
    assert stats.kstest(dwell, cdf).pvalue > 0.001
