"""Tests of sim.outputs.stats: Kaplan-Meier, median and mean intervals, Wilson interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from sim.outputs import stats

Z95 = 1.959963984540054  # Phi^-1(0.975)


# ------------------------------------------------------------------------- Kaplan-Meier


def test_km_hand_example_with_tie_and_censoring() -> None:
    # times 1 2 2+ 3 4+ 5 ("+" = censored). Product-limit by hand; at t=2 the censored
    # observation is still at risk (events come before censorings at a tie):
    #   t=1: n=6, d=1  S = 5/6                  = 0.8333
    #   t=2: n=5, d=1  S = 5/6 * 4/5 = 2/3      = 0.6667
    #   t=3: n=3, d=1  S = 2/3 * 2/3 = 4/9      = 0.4444   (2+ left the risk set after t=2)
    #   t=5: n=1, d=1  S = 0                               (4+ left after t=3)
    km = stats.kaplan_meier([1, 2, 2, 3, 4, 5], [True, True, False, True, False, True])
    np.testing.assert_array_equal(km.times, [1, 2, 3, 5])
    np.testing.assert_array_equal(km.at_risk, [6, 5, 3, 1])
    np.testing.assert_array_equal(km.events, [1, 1, 1, 1])
    np.testing.assert_allclose(km.survival, [5 / 6, 2 / 3, 4 / 9, 0.0])
    np.testing.assert_array_equal(km.censor_times, [2, 4])
    assert km.n == 6 and km.max_time == 5

    # Greenwood on the log(-log) scale at t=2, by hand:
    #   sum d/(n(n-d)) = 1/(6*5) + 1/(5*4) = 1/30 + 1/20 = 1/12
    #   se = sqrt(1/12) / |log(2/3)|;  band = S^exp(+-1.96 se)
    se = math.sqrt(1 / 12) / abs(math.log(2 / 3))
    assert km.lower[1] == pytest.approx((2 / 3) ** math.exp(Z95 * se))
    assert km.upper[1] == pytest.approx((2 / 3) ** math.exp(-Z95 * se))
    assert km.lower[1] < km.survival[1] < km.upper[1]
    # Where S drops to 0 the log(-log) band is undefined: lower 0, upper carried over.
    assert km.lower[3] == 0.0 and km.upper[3] == km.upper[2]

    assert stats.km_median(km) == 3.0  # first time with S <= 0.5
    assert stats.km_survival_at(km, 2.5) == pytest.approx(
        (2 / 3, km.lower[1], km.upper[1]))
    assert stats.km_survival_at(km, 99)[0] == 0.0  # S reached 0: known beyond the data


def test_km_gehan_6mp_textbook() -> None:
    # Freireich et al. (1963) 6-MP arm, the classic textbook example (21 patients).
    # Product-limit by hand: 18/21; *16/17; *14/15; *11/12; *10/11; *6/7; *5/6.
    # Band: log(-log) Greenwood, as printed by R survfit(..., conf.type = "log-log").
    t = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    e = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    km = stats.kaplan_meier(t, np.array(e, dtype=bool))
    np.testing.assert_array_equal(km.times, [6, 7, 10, 13, 16, 22, 23])
    np.testing.assert_array_equal(km.at_risk, [21, 17, 15, 12, 11, 7, 6])
    np.testing.assert_array_equal(km.events, [3, 1, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(km.survival, [0.8571, 0.8067, 0.7529, 0.6902, 0.6275, 0.5378,
                                             0.4482], atol=5e-5)
    np.testing.assert_allclose(km.lower, [0.620, 0.563, 0.503, 0.432, 0.368, 0.268, 0.188],
                               atol=6e-4)
    np.testing.assert_allclose(km.upper, [0.952, 0.923, 0.889, 0.849, 0.805, 0.747, 0.680],
                               atol=6e-4)
    assert stats.km_median(km) == 23.0
    # Band contains 0.5 from t=13 (lower 0.432) on; upper never drops to 0.5 by t=35.
    assert stats.km_median_ci(km) == (13.0, None)


def test_km_all_censored() -> None:
    km = stats.kaplan_meier([100.0] * 20, [False] * 20)
    assert km.times.size == 0 and km.n == 20 and km.max_time == 100.0
    assert stats.km_median(km) is None
    assert stats.km_median_ci(km) == (None, None)
    s, lo, hi = stats.km_survival_at(km, 50.0)
    assert s == 1.0 and hi == 1.0
    # No events: the band is Wilson's for 0 of 20 at risk, not a zero-width [1, 1]:
    # upper limit of P(event) = z^2 / (n + z^2) = 3.8415 / 23.8415 = 0.1611.
    assert lo == pytest.approx(1 - Z95**2 / (20 + Z95**2))
    assert stats.km_survival_at(km, 100.0) is not None
    assert stats.km_survival_at(km, 100.5) is None  # beyond follow-up: unknown


def test_km_censoring_before_events_shrinks_risk_set() -> None:
    # 1+ 2+ 3 3 4: the censored ones leave before t=3, so n=3 at t=3, d=2: S = 1/3.
    km = stats.kaplan_meier([1, 2, 3, 3, 4], [False, False, True, True, False])
    np.testing.assert_array_equal(km.at_risk, [3])
    np.testing.assert_allclose(km.survival, [1 / 3])
    # Before the first event, 4 remain at risk at t=1.5 (one censored at 1).
    lo = stats.km_survival_at(km, 1.5)[1]
    assert lo == pytest.approx(1 - Z95**2 / (4 + Z95**2))


def test_km_empty_input() -> None:
    km = stats.kaplan_meier([], [])
    assert km.n == 0 and km.times.size == 0 and math.isnan(km.max_time)
    assert stats.km_median(km) is None
    assert stats.km_median_ci(km) is None
    assert stats.km_survival_at(km, 1.0) is None
    assert stats.p_detected_within([], [], 24.0) == {"estimate": None, "ci95": None}


def test_km_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        stats.kaplan_meier([1, 2], [True])
    with pytest.raises(ValueError):
        stats.kaplan_meier([-1.0], [True])
    with pytest.raises(ValueError):
        stats.kaplan_meier([math.nan], [True])


def test_p_detected_within() -> None:
    # 10 20 30 100+: S(24) = 3/4 * 2/3 = 1/2, so P(detected within 24) = 1/2.
    times, events = [10, 20, 30, 100], [True, True, True, False]
    got = stats.p_detected_within(times, events, 24.0)
    assert got["estimate"] == pytest.approx(0.5)
    lo, hi = got["ci95"]
    assert 0.0 <= lo < 0.5 < hi <= 1.0
    assert stats.p_detected_within(times, events, 5.0)["estimate"] == 0.0
    assert stats.p_detected_within(times, events, 200.0) == {"estimate": None, "ci95": None}


# ------------------------------------------------------------------------- medians


def test_median_ci_order_statistics() -> None:
    assert stats.median_ci_min_n(0.95) == 6
    # n=5: [min, max] covers with 1 - 2/32 = 0.9375 < 0.95.
    assert stats.median_ci([1, 2, 3, 4, 5]) is None
    # n=6: [min, max] covers with 1 - 2/64 = 0.969.
    assert stats.median_ci([6, 1, 5, 2, 4, 3]) == (1.0, 6.0)
    # n=50: P(B <= 17) = 0.0164 <= 0.025 < P(B <= 18) = 0.0325 with B ~ Bin(50, 1/2),
    # so j = 18 and the interval is [x_(18), x_(33)].
    x = np.arange(1.0, 51.0)
    assert stats.median_ci(x) == (18.0, 33.0)
    assert stats.median_ci([]) is None
    assert stats.median_ci([7.0]) is None


def test_median_ci_coverage_by_simulation() -> None:
    # 400 samples of 50 from Exp(1); the true median is ln 2. The exact coverage of
    # [x_(18), x_(33)] is 1 - 2 * 0.0164 = 0.967. With 400 trials the binomial SE of the
    # observed coverage is sqrt(0.967 * 0.033 / 400) = 0.009, so we accept 0.967 +- 3 SE,
    # i.e. [0.94, 0.994] (a conservative interval must not fall below ~0.94).
    rng = np.random.default_rng(12345)
    true_median = math.log(2)
    hits = 0
    for _ in range(400):
        lo, hi = stats.median_ci(rng.exponential(1.0, 50))
        hits += lo <= true_median <= hi
    assert 0.94 <= hits / 400 <= 0.994


def test_km_median_ci_coverage_with_censoring() -> None:
    # Brookmeyer-Crowley with the log(-log) band is approximate. 400 samples of 50 from Exp(1),
    # censored at t = 1.5 (22% censored); true median ln 2. Binomial SE of 400 trials at
    # p = 0.95 is 0.011; accept 0.95 +- 3.5 SE = [0.91, 0.99].
    rng = np.random.default_rng(2024)
    true_median = math.log(2)
    hits = 0
    for _ in range(400):
        x = rng.exponential(1.0, 50)
        lo, hi = stats.km_median_ci(stats.kaplan_meier(np.minimum(x, 1.5), x <= 1.5))
        hits += (lo is not None and lo <= true_median) and (hi is None or true_median <= hi)
    assert 0.91 <= hits / 400 <= 0.99


def test_quantile() -> None:
    assert stats.quantile([10, 20, 30, 100], 0.5) == 25.0
    assert stats.quantile([10, 20, 30, 100], 0.1) == pytest.approx(13.0)  # 10 + 0.3*10
    with pytest.raises(ValueError):
        stats.quantile([], 0.5)
    with pytest.raises(ValueError):
        stats.quantile([1.0], 1.5)


# ------------------------------------------------------------------------- mean, proportion


def test_mean_ci_matches_scipy_t() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 2.0, 17)
    expected = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert stats.mean_ci(x) == pytest.approx(expected)
    expected90 = sps.t.interval(0.90, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert stats.mean_ci(x, level=0.90) == pytest.approx(expected90)


def test_mean_ci_edge_cases() -> None:
    assert stats.mean_ci([]) is None
    assert stats.mean_ci([4.2]) is None
    assert stats.mean_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    with pytest.raises(ValueError):
        stats.mean_ci([1.0, math.nan])
    with pytest.raises(ValueError):
        stats.mean_ci([1.0, 2.0], level=1.0)


def test_binomial_ci_wilson() -> None:
    # Wilson 5/10: centre 0.5, half = z sqrt(0.025 + z^2/400) / (1 + z^2/10) = 0.2634.
    assert stats.binomial_ci(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    # k = 0: [0, z^2 / (n + z^2)].
    lo, hi = stats.binomial_ci(0, 20)
    assert lo == 0.0 and hi == pytest.approx(Z95**2 / (20 + Z95**2))
    lo, hi = stats.binomial_ci(20, 20)
    assert hi == 1.0 and lo == pytest.approx(20 / (20 + Z95**2))
    assert stats.binomial_ci(0, 0) is None
    with pytest.raises(ValueError):
        stats.binomial_ci(3, 2)


def test_quantiles_are_bit_identical_to_scipy_stats() -> None:
    """The intervals use scipy.special (no scipy.stats import at start-up) and must give the
    very numbers scipy.stats gave, so no summary.json changes by a single bit."""
    rng = np.random.default_rng(3)
    for n in (2, 3, 6, 7, 30, 101, 1000, 12345):
        x = rng.lognormal(size=n)
        for level in (0.5, 0.9, 0.95, 0.99):
            half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * x.std(ddof=1) / math.sqrt(n)
            assert stats.mean_ci(x, level) == (x.mean() - half, x.mean() + half)
            assert stats._z(level) == float(sps.norm.ppf(0.5 + level / 2))
        k = np.arange(n, dtype=float)
        assert np.array_equal(stats._binom_cdf(k, n, 0.5), sps.binom.cdf(np.arange(n), n, 0.5))


def test_importing_stats_does_not_import_scipy() -> None:
    import subprocess
    import sys

    code = ("import sys, sim.outputs.stats, sim.outputs.results; "
            "print(sorted(m for m in sys.modules if m.startswith(('scipy', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_median_ci_without_the_binomial_for_tiny_samples_is_the_same_interval() -> None:
    """median_ci skips the binomial CDF (and the scipy.special import) when 0.5^n alone rules
    an interval out; for every n and level the answer is the one the full rule gives."""
    rng = np.random.default_rng(5)
    for n in range(1, 16):
        x = np.sort(rng.lognormal(size=n))
        for level in (0.3, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
            cdf = sps.binom.cdf(np.arange(n), n, 0.5)
            ok = np.nonzero(cdf <= (1 - level) / 2 * (1 + 1e-12))[0]
            want = None if ok.size == 0 else (x[ok[-1]], x[n - 1 - ok[-1]])
            assert stats.median_ci(x, level) == want, (n, level)


def test_the_statistics_of_one_replication_never_load_scipy() -> None:
    """A one-replication summary needs no quantile beyond the 95% z (a constant checked
    above), so the shortest job pays no scipy.special import."""
    import subprocess
    import sys

    code = ("import sys; from sim.outputs import stats; stats.binomial_ci(0, 1); "
            "stats.median_ci([3.0]); stats.mean_ci([3.0]); stats.kaplan_meier([3.0], [True]); "
            "print(sorted(m for m in sys.modules if m.startswith('scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
