"""Interval and survival statistics over replications (numpy and scipy.special only).

Every function takes plain sequences or 1-D arrays of finite numbers and returns plain Python
floats (never numpy scalars), so results go straight into JSON. "Not available" is ``None``,
never NaN: an interval that the sample is too small to support is ``None``, and so is a
Kaplan-Meier quantity that the data never reach (a median beyond the follow-up).

Dwell times are right-censored: a replication in which no detector fires before the horizon
only tells us that detection takes *longer* than the horizon. :func:`kaplan_meier` uses those
replications properly; :func:`mean_ci`, :func:`median_ci` and :func:`quantile` treat every
value as exact, so on censored data they give lower bounds.

The quantiles come from :mod:`scipy.special` (``ndtri``, ``stdtrit``, the binomial CDF): the
very functions behind ``scipy.stats.norm.ppf``, ``t.ppf`` and ``binom.cdf``, so the numbers
are bit-identical to theirs, without importing :mod:`scipy.stats` (0.6-1 s, most of a short
job's start-up). scipy.special itself is imported on first use, not at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _finite_1d(x: ArrayLike, name: str = "x") -> np.ndarray:
    """``x`` as a 1-D float array; ValueError if it is not 1-D or holds NaN/inf."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers only")
    return arr


def _special() -> Any:
    """:mod:`scipy.special`, imported on first use (about 0.1-0.2 s)."""
    import scipy.special

    return scipy.special


#: ``ndtri(0.975)``: the 95% two-sided normal quantile that every summary needs, so that a run
#: which needs no other quantile never loads scipy.special (tests/outputs/test_stats.py checks
#: it is scipy's value to the last bit).
Z_95 = 1.959963984540054


def _z(level: float) -> float:
    """The two-sided standard normal quantile ``Phi^-1((1 + level) / 2)``."""
    if level == 0.95:
        return Z_95
    return float(_special().ndtri(0.5 + level / 2.0))


def _binom_cdf(k: np.ndarray, n: int, p: float) -> np.ndarray:
    """``P(B <= k)`` for B ~ Binomial(n, p) and integer ``k`` in [0, n]: the ufunc behind
    ``scipy.stats.binom.cdf`` (not :func:`scipy.special.bdtr`, which differs in the last bits);
    ``scipy.stats`` itself where a scipy release keeps it elsewhere."""
    ufunc = getattr(getattr(_special(), "_ufuncs", None), "_binom_cdf", None)
    if ufunc is None:  # pragma: no cover - older or newer scipy layouts
        from scipy import stats

        return np.asarray(stats.binom.cdf(k, n, p))
    return np.asarray(ufunc(k, n, p))


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def mean_ci(x: ArrayLike, level: float = 0.95) -> tuple[float, float] | None:
    """Student-t confidence interval for the mean.

    Args:
        x: the sample (finite numbers).
        level: the confidence level, in (0, 1).

    Returns:
        ``(lo, hi)`` = mean -/+ t_{(1+level)/2, n-1} * s / sqrt(n); ``(v, v)`` when all values
        equal ``v``; ``None`` when ``n < 2``.

    Raises:
        ValueError: ``x`` holds NaN or inf, or ``level`` is outside (0, 1).
    """
    _check_level(level)
    arr = _finite_1d(x)
    n = arr.size
    if n < 2:
        return None
    mean = float(arr.mean())
    sd = float(arr.std(ddof=1))
    if sd == 0.0:
        return (mean, mean)
    half = float(_special().stdtrit(n - 1, 0.5 + level / 2.0)) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def median_ci_min_n(level: float = 0.95) -> int:
    """The smallest sample size for which :func:`median_ci` returns an interval (6 at 95%)."""
    _check_level(level)
    n = 1
    while 1.0 - 2.0 * 0.5**n < level:
        n += 1
    return n


def median_ci(x: ArrayLike, level: float = 0.95) -> tuple[float, float] | None:
    """Distribution-free confidence interval for the median from order statistics.

    The number ``B`` of observations below the true median is Binomial(n, 1/2), so the order
    statistics ``[x_(j), x_(n+1-j)]`` (1-based) cover the median with probability
    ``P(j <= B <= n-j) = 1 - 2 P(B <= j-1)`` for any continuous distribution. The widest
    symmetric pair that still reaches ``level`` is chosen, so the coverage is exact-or-above
    (conservative; ties in the data only widen it).

    Args:
        x: the sample (finite numbers).
        level: the confidence level, in (0, 1).

    Returns:
        ``(lo, hi)``, or ``None`` when even ``[min, max]`` covers with probability below
        ``level`` (``n < 6`` at 95%, see :func:`median_ci_min_n`).

    Raises:
        ValueError: ``x`` holds NaN or inf, or ``level`` is outside (0, 1).
    """
    _check_level(level)
    arr = np.sort(_finite_1d(x))
    n = arr.size
    if n == 0:
        return None
    alpha_half = (1.0 - level) / 2.0
    if 0.5**n > 2.0 * alpha_half:  # even P(B <= 0) = 0.5^n is far above alpha/2: no interval
        return None
    # cdf[i] = P(B <= i); we need the largest j >= 1 with P(B <= j-1) <= alpha/2.
    cdf = _binom_cdf(np.arange(n, dtype=float), n, 0.5)
    ok = np.nonzero(cdf <= alpha_half * (1.0 + 1e-12))[0]
    if ok.size == 0:
        return None
    j = int(ok[-1]) + 1  # 1-based index of the lower order statistic
    return (float(arr[j - 1]), float(arr[n - j]))


def quantile(x: ArrayLike, q: float) -> float:
    """The ``q``-quantile of ``x`` (linear interpolation between order statistics, numpy's default).

    Raises:
        ValueError: ``x`` is empty or holds NaN/inf, or ``q`` is outside [0, 1].
    """
    arr = _finite_1d(x)
    if arr.size == 0:
        raise ValueError("quantile of an empty sample")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q!r}")
    return float(np.quantile(arr, q))


def binomial_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion ``k / n``.

    Unlike the Wald interval it stays inside [0, 1] and is sensible at ``k = 0`` or ``k = n``.

    Returns:
        ``(lo, hi)``, or ``None`` when ``n == 0``.

    Raises:
        ValueError: not ``0 <= k <= n``, or ``level`` outside (0, 1).
    """
    _check_level(level)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return None
    z = _z(level)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class KMResult:
    """A Kaplan-Meier estimate of the survival function ``S(t) = P(T > t)``.

    ``S`` is a right-continuous step function: 1 before ``times[0]``, ``survival[i]`` on
    ``[times[i], times[i+1])``, and ``survival[-1]`` up to ``max_time``. Beyond ``max_time`` it
    is unknown unless it already reached 0. All arrays have one entry per distinct event time.

    Attributes:
        times: the distinct event (detection) times, ascending.
        survival: the product-limit estimate just after each time.
        lower, upper: the pointwise confidence band (Greenwood variance on the log(-log) scale).
            Where the survival drops to 0 (everyone left at risk has the event) the log(-log)
            band is undefined: there ``lower`` is 0 and ``upper`` carries the previous value
            over (1 at the first time), so a tiny sample does not look exact.
        at_risk: replications still under observation just before each time (censorings at
            that same time count as at risk: events come before censorings at a tie).
        events: the number of events at each time.
        censor_times: the censoring times, ascending (with repeats).
        n: the number of observations.
        max_time: the largest observed time (event or censoring); NaN when ``n == 0``.
        level: the confidence level of the band.
    """

    times: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censor_times: np.ndarray
    n: int
    max_time: float
    level: float = 0.95


def kaplan_meier(times: ArrayLike, events: ArrayLike, level: float = 0.95) -> KMResult:
    """The product-limit (Kaplan-Meier) estimate with a pointwise confidence band.

    At each distinct event time ``t_i`` with ``n_i`` at risk and ``d_i`` events,
    ``S(t_i) = prod_{j<=i} (1 - d_j / n_j)``. The band uses Greenwood's variance on the
    log(-log) scale: with ``v = sum d_j / (n_j (n_j - d_j)) / log(S)^2`` and
    ``z = Phi^-1((1+level)/2)``, ``lower = S^exp(z sqrt v)``, ``upper = S^exp(-z sqrt v)``;
    it stays inside [0, 1].

    Args:
        times: observed times (>= 0, finite): detection time, or censoring time.
        events: True where the time is a detection, False where the replication was censored
            (still undetected when observation stopped) at that time.
        level: the confidence level of the band.

    Returns:
        The :class:`KMResult`; with no events (all censored, or empty input) its arrays are
        empty and the survival stays 1.

    Raises:
        ValueError: lengths differ, a time is negative or not finite, or ``level`` is bad.
    """
    _check_level(level)
    t = _finite_1d(times, "times")
    e = np.asarray(events)
    if e.ndim != 1 or e.size != t.size:
        raise ValueError(f"events must be 1-D with the length of times ({t.size}), "
                         f"got shape {e.shape}")
    e = e.astype(bool)
    if np.any(t < 0):
        raise ValueError("times must be >= 0")
    n = int(t.size)
    empty = np.empty(0, dtype=float)
    max_time = float(t.max()) if n else math.nan
    event_times = np.unique(t[e])
    if event_times.size == 0:
        return KMResult(empty, empty.copy(), empty.copy(), empty.copy(),
                        np.empty(0, dtype=int), np.empty(0, dtype=int), np.sort(t[~e]),
                        n, max_time, level)
    t_sorted = np.sort(t)
    # at risk at u: observations with time >= u (censorings at u included).
    at_risk = n - np.searchsorted(t_sorted, event_times, side="left")
    t_events_sorted = np.sort(t[e])
    d = (np.searchsorted(t_events_sorted, event_times, side="right")
         - np.searchsorted(t_events_sorted, event_times, side="left"))
    factors = 1.0 - d / at_risk
    survival = np.cumprod(factors)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(d / (at_risk * (at_risk - d).astype(float)))
        log_s = np.log(survival)
        se = np.sqrt(greenwood) / np.abs(log_s)
        z = _z(level)
        lower = survival ** np.exp(z * se)
        upper = survival ** np.exp(-z * se)
    zero = np.nonzero(survival <= 0.0)[0]
    if zero.size:  # only the last time can reach 0: nobody is at risk after it
        i = int(zero[0])
        survival[i:] = 0.0
        lower[i:] = 0.0
        upper[i:] = upper[i - 1] if i > 0 else 1.0
    return KMResult(event_times.astype(float), survival, lower, upper,
                    at_risk.astype(int), d.astype(int), np.sort(t[~e]), n, max_time, level)


def km_survival_at(km: KMResult, t: float) -> tuple[float, float, float] | None:
    """``(S(t), lower(t), upper(t))`` of the step function at time ``t``.

    Before the first event ``S(t) = 1`` and Greenwood's variance is 0; the band there is the
    Wilson interval for 0 events among the ``m`` observations still at risk at ``t``,
    ``[1 - z^2 / (m + z^2), 1]``, rather than a zero-width ``[1, 1]``.

    Returns:
        The triple, or ``None`` when ``t`` is beyond the follow-up (``t > max_time`` while the
        survival is still above 0) or there are no observations: the data say nothing there.
    """
    if km.n == 0:
        return None
    idx = int(np.searchsorted(km.times, t, side="right")) - 1
    s = 1.0 if idx < 0 else float(km.survival[idx])
    if t > km.max_time and s > 0.0:
        return None
    if idx >= 0:
        return (s, float(km.lower[idx]), float(km.upper[idx]))
    at_risk = km.n - int(np.searchsorted(km.censor_times, t, side="left"))
    wilson = binomial_ci(0, at_risk, km.level)
    return (1.0, 1.0 - wilson[1] if wilson else 0.0, 1.0)


def _first_time_at_or_below(times: np.ndarray, curve: np.ndarray, p: float) -> float | None:
    hit = np.nonzero(curve <= p + 1e-12)[0]
    return float(times[hit[0]]) if hit.size else None


def km_median(km: KMResult) -> float | None:
    """The Kaplan-Meier median: the first time at which ``S(t) <= 0.5``; ``None`` if never."""
    return _first_time_at_or_below(km.times, km.survival, 0.5)


def km_median_ci(km: KMResult) -> tuple[float | None, float | None] | None:
    """Confidence interval of the KM median (Brookmeyer-Crowley, from the pointwise band).

    The interval is the set of times at which the band contains 0.5,
    ``{t : lower(t) <= 0.5 <= upper(t)}``: it starts where the lower band first drops to 0.5
    and ends where the upper band does (the same rule as the median itself, applied to each
    band). Its level is the band's level.

    Returns:
        ``(lo, hi)``. An end that the band never reaches within the follow-up is ``None``,
        meaning "beyond the last observation" (the horizon). ``None`` for empty input.
    """
    if km.n == 0:
        return None
    return (_first_time_at_or_below(km.times, km.lower, 0.5),
            _first_time_at_or_below(km.times, km.upper, 0.5))


def p_detected_within(times: ArrayLike, events: ArrayLike, t: float,
                      level: float = 0.95) -> dict[str, float | list[float] | None]:
    """Probability of detection by time ``t``, ``1 - S(t)``, from the Kaplan-Meier estimate.

    Args:
        times, events: as for :func:`kaplan_meier`.
        t: the time (hours).
        level: the confidence level.

    Returns:
        ``{"estimate": 1 - S(t), "ci95": [1 - upper(t), 1 - lower(t)]}``; both ``None`` when
        ``t`` lies beyond the follow-up or there is no data (see :func:`km_survival_at`). The
        key is ``ci95`` whatever ``level`` is.
    """
    at = km_survival_at(kaplan_meier(times, events, level), t)
    if at is None:
        return {"estimate": None, "ci95": None}
    s, lo, hi = at
    return {"estimate": 1.0 - s, "ci95": [1.0 - hi, 1.0 - lo]}
