"""Run the teaching lab and refresh its results: figures, numbers and the answer key.

    python run.py                  # the full lab (200 replications a setting, seed 0) -> results/
    python run.py --answer-key     # the same, and rewrite ANSWER_KEY.md from its numbers
    python run.py --quick          # smoke size (8 replications) -> results/quick/ (the tests)
    python run.py --seed 3 --out /tmp/lab --answer-key /tmp/lab/KEY.md

It executes ``lab.py`` itself (the notebook is generated from that file), so the answer key
holds exactly the numbers a student gets with the same seed and number of replications. The
run is deterministic: the same seed gives the same figures, ``summary.json`` and key.

Outputs in ``--out``: ``NAME/timeline.png``, ``NAME/network.png`` and ``NAME/events.jsonl`` for
the traced replications (``coupang_2025``, ``coupang_2025_monitored``,
``busy_monday_1_analyst``) and ``summary.json`` with every table's numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import runpy
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import labkit as lab  # noqa: E402 - after making this folder importable

from sim import __version__  # noqa: E402
from sim.core.timeunits import format_hours  # noqa: E402


@contextmanager
def _env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_lab(out: Path, *, quick: bool, seed: int) -> dict[str, Any]:
    """Execute lab.py (as the notebook would) and return its variables."""
    with _env(LAB_QUICK="1" if quick else "0", LAB_OUT=str(out), LAB_SEED=str(seed)):
        return runpy.run_path(str(HERE / "lab.py"), run_name="__lab__")


# ---------------------------------------------------------------------------------- answer key

def _det(model: Any, cls: str) -> Any:
    return next(d for d in model.detectors if type(d).__name__ == cls)


def _best(outcomes: Sequence[lab.Outcome]) -> lab.Outcome:
    return min(outcomes, key=lambda o: (o.median_dwell(), o.label))


def _pct1(x: float) -> str:
    """A share with one decimal (``1.5%``): for small chances whose arithmetic students redo."""
    return f"{100 * x:.1f}%"


def _lines(x: float) -> str:
    """Insider lines sampled a month with one decimal (``0.8``, ``24.6``), as the tables."""
    return f"{x:.1f}"


def _and(items: Sequence[Any]) -> str:
    """``1``, ``1 and 2``, ``1, 2 and 3``."""
    words = [str(x) for x in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def paired_median_gap(dwell_a: np.ndarray, censored_a: np.ndarray, dwell_b: np.ndarray,
                      censored_b: np.ndarray, draws: int = 2000,
                      seed: int = 0) -> tuple[float, float, float]:
    """How much sooner ``a`` detects than ``b``: median dwell of b minus that of a (hours),
    with a 95% paired-bootstrap interval (replication r of both settings resampled together:
    they share their random draws). A median is infinite when half or more of its
    replications are censored.

    Every draw is kept. A resample whose median of ``a`` is beyond the horizon gives a gap of
    -inf, one whose median of ``b`` is gives +inf, and both give NaN (counted in both tails).
    If more than 2.5% of the draws sit in a tail, the interval is unbounded on that side
    (``-inf`` or ``inf``); otherwise the bounds are the 2.5% and 97.5% quantiles of all the
    draws, the infinite ones sorting to the ends. The sizes must match (paired rows)."""
    da, ca = np.asarray(dwell_a, dtype=float), np.asarray(censored_a, dtype=bool)
    db, cb = np.asarray(dwell_b, dtype=float), np.asarray(censored_b, dtype=bool)
    if not da.size == ca.size == db.size == cb.size:
        raise ValueError("a paired gap needs the same replications of both settings")
    n = da.size
    gap = lab.median_dwell_hours(db, cb) - lab.median_dwell_hours(da, ca)
    rng = np.random.default_rng(seed)
    gaps = np.empty(draws)
    with np.errstate(invalid="ignore"):  # inf - inf: both medians beyond the horizon
        for k in range(draws):
            i = rng.integers(0, n, n)
            gaps[k] = lab.median_dwell_hours(db[i], cb[i]) - lab.median_dwell_hours(da[i], ca[i])
    undefined = np.isnan(gaps)
    low_tail = int((gaps == -math.inf).sum() + undefined.sum())
    high_tail = int((gaps == math.inf).sum() + undefined.sum())
    lo = (-math.inf if low_tail > 0.025 * draws else
          float(np.quantile(np.where(undefined, -math.inf, gaps), 0.025,
                            method="inverted_cdf")))
    hi = (math.inf if high_tail > 0.025 * draws else
          float(np.quantile(np.where(undefined, math.inf, gaps), 0.975,
                            method="inverted_cdf")))
    return gap, lo, hi


def median_gap(a: lab.Outcome, b: lab.Outcome, draws: int = 2000,
               seed: int = 0) -> tuple[float, float, float]:
    """:func:`paired_median_gap` of two settings' replications (the same count of each)."""
    return paired_median_gap(a.dwell(), np.array([r.censored for r in a.results]),
                             b.dwell(), np.array([r.censored for r in b.results]),
                             draws, seed)


def gap_text(a: lab.Outcome, b: lab.Outcome, a_name: str, b_name: str) -> tuple[int, str]:
    """Which of two settings detects sooner, by how much, and whether that is more than
    sampling noise: (+1 if ``a`` is sooner beyond noise, -1 if ``b`` is, 0 if within noise
    or not measurable; the text, a clause without parentheses)."""
    if a.n != b.n:
        return 0, (f"no paired gap to measure, as {a_name} and {b_name} have different "
                   f"numbers of replications ({a.n} and {b.n})")
    if math.isinf(a.median_dwell()) or math.isinf(b.median_dwell()):
        return 0, "no gap to measure, as a median is beyond the horizon"
    gap, lo, hi = median_gap(a, b)
    if gap == 0:
        return 0, f"the same median for {a_name} and {b_name}"
    a_first = gap > 0
    first = a_name if a_first else b_name
    if not a_first:
        gap, lo, hi = -gap, -hi, -lo
    beyond = lo > 0
    finite = [abs(x) for x in (gap, lo, hi) if math.isfinite(x)]
    in_days = max(finite) >= 48.0  # gap and interval in one unit

    def unit(hours: float) -> str:
        return f"{hours / 24:.1f} d" if in_days else format_hours(hours)

    def signed(hours: float) -> str:
        if math.isinf(hours):
            return "unbounded"
        return ("-" if hours < 0 else "") + unit(abs(hours))

    unbounded = ("" if math.isfinite(lo) and math.isfinite(hi) else
                 " (more than 2.5% of the resamples have a median beyond the horizon)")
    sign = (1 if a_first else -1) if beyond else 0
    return sign, (f"a gap of {unit(gap)} in favour of {first}, "
                  + (f"beyond sampling noise: the 95% bootstrap interval of the gap is "
                     f"{signed(lo)} to {signed(hi)}{unbounded}" if beyond else
                     f"within sampling noise: the 95% bootstrap interval of the gap, "
                     f"{signed(lo)} to {signed(hi)}{unbounded}, holds zero"))


def differ_beyond_noise(x: float, y: float, n: int) -> bool:
    """Whether two shares of ``n`` replications each differ beyond sampling noise: a
    two-proportion test at 95% (pooled share, as if independent), with the continuity
    correction 1/n that keeps it honest for the few catches of a rare event."""
    mid = (x + y) / 2
    return abs(x - y) - 1 / n > 1.96 * math.sqrt(2 * mid * (1 - mid) / n)


def _audit_vs_adaptive(adaptive: Sequence[lab.Outcome]) -> str:
    """Q16's reading of the audit against the naive, cautious and probing insiders."""
    R = lab.records_text  # noqa: N806
    naive, wary, prober = adaptive
    an, ac, ap = (o.caught_by().get("audit", 0.0) for o in adaptive)
    n = naive.n
    less = ac < an and differ_beyond_noise(an, ac, n)
    kn, kc = round(an * n), round(ac * n)
    text = (f"The audit catches the naive insider in {_pct1(an)} of replications ({kn} of "
            f"{n}), the prober in {_pct1(ap)} and the cautious one in {_pct1(ac)} ({kc})")
    if less:
        text += (": the cautious insider fewer times, beyond sampling noise (two-proportion "
                 "test, 95%), as each audit it sees empties the next month's log")
    else:
        text += (f"; {kn} against {kc} is no clear difference between the naive and the "
                 f"cautious insider (within sampling noise: two-proportion test, 95%)")
    text += "."
    if wary.median_records() < naive.median_records():
        text += (f" A visible audit deters (the cautious insider takes "
                 f"{R(wary.median_records())} against {R(naive.median_records())})")
        text += (" but stops detecting - the two faces of making audits visible." if less else
                 f"; whether it also detects less is not clear at {n} replications.")
        if an < 0.1:
            rec = _det(naive.model, "PeriodicAudit").params.recognition
            text += (f" At recognition {rec:g} the audit seldom catches even the naive "
                     f"insider, so deterrence is most of what it buys here.")
    return text


def _office_rate(traced: lab.Traced) -> float:
    """Benign alerts per hour in the firm's office hours (weekdays 09-18) of a trace."""
    tz = timezone(timedelta(hours=traced.model.triage.utc_offset_hours))
    end = traced.timeline.end
    office_hours = sum(1 for h in range(int(end))
                       if _is_office(traced.model.calendar.at(h + 0.5).astimezone(tz)))
    alerts = sum(1 for t in traced.timeline.benign_alerts
                 if _is_office(traced.model.calendar.at(float(t)).astimezone(tz)))
    return alerts / office_hours if office_hours else math.nan


def _is_office(when: Any) -> bool:
    return when.weekday() < 5 and 9 <= when.hour < 18


def _queue_at(traced: lab.Traced, t: float) -> int:
    times, values = traced.timeline.queue
    i = max(int((times <= t).sum()) - 1, 0)
    return int(values[i])


def answer_key(ns: dict[str, Any], *, seed: int, quick: bool) -> str:
    """The instructor's answer key, every number computed from the lab's own results."""
    R, P, H = lab.records_text, lab.pct, format_hours  # noqa: N806 - short local aliases
    n = ns["N"]
    base_t: lab.Traced = ns["baseline_trace"]
    base: lab.Outcome = ns["baseline"]
    cadence: list[lab.Outcome] = ns["cadence"]
    coverage: list[lab.Outcome] = ns["coverage"]
    rotation: list[lab.Outcome] = ns["rotation"]
    mon_t: lab.Traced = ns["monitored_trace"]
    monitored: lab.Outcome = ns["monitored"]
    at_store: lab.Outcome = ns["at_datastore"]
    thresholds: list[lab.Outcome] = ns["thresholds"]
    analysts: list[lab.Outcome] = ns["analysts"]
    one_t: lab.Traced = ns["one_analyst_trace"]
    model = base.model
    audit = _det(model, "PeriodicAudit").params
    rules = _det(model, "VolumeThreshold").params
    insider = model.plan.profile
    p = audit.coverage * audit.recognition
    horizon = model.run.horizon

    def dwell(o: lab.Outcome) -> str:
        return lab.dwell_text(o.median_dwell(), o.horizon)

    def shares(o: lab.Outcome) -> str:
        return ", ".join(f"{k} {P(v)}" for k, v in o.caught_by().items())

    out: list[str] = []
    w = out.append
    w("# Lab answer key (instructors)")
    w("")
    w(f"Generated by `python run.py --answer-key` from `lab.py` with **seed {seed}** and "
      f"**{n} replications per setting** (insider-sim {__version__}). Students who keep "
      f"`SEED = 0` and the default size get exactly these numbers; with another seed they "
      f"differ by sampling noise: a share of {n} replications is uncertain by about "
      f"±{100 * 1.96 * math.sqrt(0.25 / n):.0f} percentage points (95%, worst case), and "
      f"a median by about ±{100 * 1.96 / math.log(2) / math.sqrt(n):.0f}% where the times "
      f"spread like an exponential's (the audits' days to months; far less for the "
      f"monitor's minutes). Q5, Q6 and Q19 give bootstrap intervals for the gaps they read.")
    if quick:
        w("")
        w("**Smoke-sized run (--quick): the numbers below are not the instructor's key.**")
    w("")
    w("Times are since the insider's first access (`mo` = 30.4 days). Regenerate this file "
      "after any change to the engine or the scenarios.")
    w("")

    # ---------------------------------------------------------------- Part A
    f = base_t.facts()
    w("## Part A")
    w("")
    w("**Q1.** " + (
        f"Replication 0 was not detected within the {H(horizon)} horizon. "
        if not f["detected"] else
        f"Replication 0 was detected by `{f['detected_by']}` after {H(f['dwell_hours'])}. ")
      + f"The insider took {R(f['records'])} records in {f['sessions']} sessions; access "
        f"ended by *{f['access_ended_by']}* after {H(f['access_hours'])}"
      + (" (the customer database was empty: nothing stopped the insider but the end of the "
         "data)." if f["access_ended_by"] == "exhausted" else "."))
    w("")
    idle = f["audits"] - f["audits_with_insider"]
    full_months = [k for k in f["audit_lines"] if k > 0]
    lines_month = lab.insider_lines_sampled_a_month(base) / audit.coverage
    q = 1 - (1 - p) ** lines_month
    exhausted = [r.access_hours for r in base.results if r.access_ended_by == "exhausted"]
    lasts = float(np.median(exhausted)) if exhausted else math.nan
    months_needed = 1 / q * 730.5  # hours
    w(f"**Q2.** {f['audits_with_insider']} of the {f['audits']} audits had the insider's "
      f"activity in the period they reviewed; {f['audits_found']} found it"
      + (f" (the other {idle} came after the insider had stopped, with nothing to find)"
         if idle and f["access_ended_by"] != "containment" else "")
      + ". The insider's lines in those windows: "
      + ", ".join(str(k) for k in full_months)
      + f" (a full month holds about {lines_month:.0f}: one per session). One given insider "
        f"line is caught with p = coverage x recognition = {audit.coverage:g} x "
        f"{audit.recognition:g} = {p:.2g}, one in {1 / p:,.0f}. With K = {lines_month:.0f} "
        f"lines in its month an audit catches the insider with 1 - (1 - p)^K = {_pct1(q)} "
        f"(about K x p while that is small); five audits in a row all miss with "
        f"(1 - {q:.4f})^5 = {(1 - q) ** 5:.2f}. On average it takes 1/{q:.4f} = {1 / q:.0f} "
        f"monthly audits to catch an insider who is active every month: "
      + ((f"longer than the data lasts (when nothing stops the insider the store is empty "
          f"after a median {H(lasts)})")
         if math.isfinite(lasts) and months_needed > lasts else
         (f"shorter than the data lasts (the store is empty after a median {H(lasts)})"
          if math.isfinite(lasts) else
          f"about {1 / q:.0f} months; no replication emptied the store"))
      + ".")
    w("")
    rate = insider.request_rate_per_ip
    total = rate * insider.ip_addresses
    w(f"**Q3.** The rule looks at each address: {rate:,.0f} requests per address-hour is "
      f"below the {rules.max_requests_per_ip_hour:,.0f} limit, so no session ever trips it, "
      f"however much is taken in total ({total:,.0f} requests an hour over "
      f"{insider.ip_addresses} addresses). With 100 addresses the same total is "
      f"{total / 100:,.0f} per address-hour, above the limit: the rule would fire on the "
      f"first session (the benign alerts it raises meanwhile are false alarms).")
    w("")
    w(f"**Q4.** Median time to detection {dwell(base)} (the real case: about 147 days = 4.8 "
      f"months); caught by: {shares(base)}; median records taken {R(base.median_records())}. "
      f"Outside discovery has a hazard that grows with what has leaked, so once tens of "
      f"millions of records are out it surfaces within months; the audit's chance is only "
      f"{_pct1(q)} a month, and it is zero once the data is gone and the insider stops "
      f"(audits then review months with no insider activity). Access ends by: "
      + ", ".join(f"{k} {P(v)}" for k, v in base.access_ended_by().items()) + ".")
    w("")
    w(lab.table(cadence, ["audit_lines", "dwell", "within_30d", "caught_by",
                          "records"]).markdown())
    w("")
    monthly, daily = cadence[0], cadence[-1]
    daily_lines = lines_month / 30.44
    q_day = 1 - (1 - p) ** daily_lines
    audit_shares = [o.caught_by().get("audit", 0.0) for o in cadence]
    share = sum(audit_shares) / len(audit_shares)
    spread = max(audit_shares) - min(audit_shares)
    noise = 1.96 * math.sqrt(2 * share * (1 - share) / n)  # 95%, difference of two shares
    _, t_cad = gap_text(daily, monthly, "daily audits", "monthly ones")
    w(f"**Q5.** Daily audits: median time to detection {dwell(daily)} against {dwell(monthly)} "
      f"monthly ({t_cad}), records {R(daily.median_records())} against "
      f"{R(monthly.median_records())}; the audit ends " + ", ".join(
          f"{_pct1(o.caught_by().get('audit', 0.0))} at `{o.label}`" for o in cadence)
      + " of the breaches ("
      + ("the same within sampling noise" if spread <= noise else "a spread above sampling noise")
      + f": ±{100 * noise:.0f} points for the difference of two shares near "
        f"{_pct1(share)} at {n} replications). A daily "
        f"audit samples {audit.coverage:.0%} of one day's ~{daily_lines:.1f} insider lines and "
        f"catches with 1 - (1 - p)^{daily_lines:.1f} = {100 * q_day:.3f}%; thirty of them "
        f"catch with "
        f"1 - (1 - {q_day:.5f})^30.4 = {_pct1(1 - (1 - q_day) ** 30.44)} a month, the "
        f"same as one monthly audit ({_pct1(q)}): every line is still sampled with the same "
        f"chance p, "
        f"and the insider lines sampled a month stay at "
        f"{lab.insider_lines_sampled_a_month(daily):.1f} whatever the cadence (first "
        f"column). Cadence only shortens the lag between the line that gives the insider away "
        f"and the audit that reads it (at most one interval: a month against a day), which "
        f"is nothing next to the ~{1 / q:.0f} months the audit needs on average. To catch "
        f"the insider sooner the audit must sample more insider lines a month (higher "
        f"coverage: more effort, or tooling that samples more) or recognise them better "
        f"(recognition: e.g. queries that make a forged-token read stand out).")
    w("")
    w(lab.table(coverage, ["audit_lines", "dwell", "within_30d", "caught_by",
                           "records"]).markdown())
    w("")
    by_label = {o.label: o for o in coverage}
    monthly_cov = [o for o in coverage if not o.label.startswith("interval=")]
    c10, c30, c100 = (by_label["coverage=0.1"], by_label["coverage=0.304"],
                      by_label["coverage=1.0"])
    d30, d100 = by_label["interval=1d, coverage=0.304"], by_label["interval=1d, coverage=1.0"]
    full = c100

    def sampled(o: lab.Outcome) -> float:
        return lab.insider_lines_sampled_a_month(o)

    def line(o: lab.Outcome) -> str:
        return (f"{_lines(sampled(o))} insider lines sampled a month, {dwell(o)}, "
                f"{R(o.median_records())} records")

    def first_line_wait(o: lab.Outcome) -> str:
        """Mean wait for the first insider line an audit would recognise, lines arriving
        evenly: 1 / (lines sampled a month x recognition) months."""
        return H(730.5 / (sampled(o) * audit.recognition))

    def within30(a: lab.Outcome, b: lab.Outcome) -> str:
        pa, pb = a.share_within(720.0), b.share_within(720.0)
        mid = (pa + pb) / 2
        noise30 = 1.96 * math.sqrt(2 * mid * (1 - mid) / n)
        return (f"caught within 30 d {P(pa)} against {P(pb)} ("
                + ("beyond" if abs(pa - pb) > noise30 else "within")
                + f" the ±{100 * noise30:.0f} points of sampling noise)")

    dwells = [o.median_dwell() for o in monthly_cov]
    falls = all(x > y for x, y in zip(dwells, dwells[1:], strict=False))
    s30, t30 = gap_text(d30, c30, "daily audits", "monthly ones")
    s100, t100 = gap_text(d100, c100, "daily audits", "monthly ones")
    sc, tc = gap_text(d30, c100, "the daily 30.4% audit", "the monthly full review")
    chances = ", ".join(
        f"{_pct1(1 - (1 - audit.recognition) ** sampled(o))} at "
        f"{100 * float(o.label.split('=')[1]):g}%"
        for o in monthly_cov)
    if sc > 0:
        buy = "so the daily 30.4% audit is the better buy: it reads fewer lines and catches sooner"
    elif sc < 0:
        buy = (f"so the monthly full review catches sooner, and the insider takes "
               f"{R(c100.median_records())} records against {R(d30.median_records())}, for "
               f"{sampled(c100) / sampled(d30):.1f} times the lines read: reading more lines "
               f"beats reading them sooner; whether that is better value weighs the auditors' "
               f"time against the records saved")
    else:
        buy = ("so neither is clearly sooner; the daily audit reads fewer lines, the "
               "monthly review reads them on fewer days")
    # The theory's saving from cadence: the audit that reads the first recognisable line
    # comes half an interval after it on average, whatever the coverage.
    i_month = _det(c30.model, "PeriodicAudit").params.interval
    i_day = _det(d30.model, "PeriodicAudit").params.interval
    saving = (i_month - i_day) / 2

    def cadence_reading(daily_o: lab.Outcome, monthly_o: lab.Outcome, sign: int) -> str:
        """What one measured gap says about the expected saving, without a lesson from one
        seed: beyond noise or not, and whether its interval holds the expected saving."""
        if math.isinf(daily_o.median_dwell()) or math.isinf(monthly_o.median_dwell()):
            return "no measured gap to compare with the expected saving"
        _, lo, hi = median_gap(daily_o, monthly_o)
        e = f"{saving / 24:.1f} d"
        miss = ("one 95% interval in twenty misses the truth, so compare a few seeds "
                "before reading anything into it")
        if sign > 0:
            if lo <= saving <= hi:
                return f"daily audits are sooner, as the lag predicts: the interval holds {e}"
            return (f"daily audits are sooner, but by "
                    f"{'more' if lo > saving else 'less'} than the expected {e}, which lies "
                    f"outside the interval: {miss}")
        if sign < 0:
            return (f"monthly audits are sooner at this seed, against the expected saving of "
                    f"{e}: {miss}")
        if lo <= saving <= hi:
            return (f"not distinguishable at this seed ({n} replications): the interval "
                    f"holds both zero and the expected {e}")
        return (f"not distinguishable at this seed ({n} replications), and short of the "
                f"expected {e}, which lies above the interval: {miss}")

    w("**Q6.** (a) Monthly, the median time to detection "
      + ("falls" if falls else "does not simply fall") + " as the lines sampled a month "
      f"rise: coverage 1%: {line(coverage[0])}; 10%: {line(c10)}; 30.4%: {line(c30)}; "
      f"all: {line(c100)}. The chance that one monthly audit catches an insider active all "
      f"month is 1 - (1 - recognition)^(lines sampled): {chances}. Each line is caught with "
      f"the same chance whatever the cadence, and lines come all month, so the wait for the "
      f"first line an audit would recognise is about 1/(lines sampled a month x recognition): "
      f"{first_line_wait(c10)} at 10%, {first_line_wait(c30)} at 30.4%, "
      f"{first_line_wait(c100)} at full coverage. After it comes the lag until the audit "
      f"that reads it: half an interval on average (half a month monthly, half a day daily). "
      f"(b) Theory: at the same lines a month, daily instead of monthly audits change only "
      f"that lag, so they should save about ({i_month / 24:.1f} d - {i_day / 24:g} d)/2 = "
      f"{saving / 24:.1f} d whatever the coverage. Measured at 30.4%: daily audits give "
      f"{dwell(d30)} against {dwell(c30)} monthly, {t30}; {cadence_reading(d30, c30, s30)}. "
      f"Records {R(d30.median_records())} against {R(c30.median_records())}; "
      f"{within30(d30, c30)}. Reading all the lines: daily audits give {dwell(d100)} against "
      f"{dwell(c100)} monthly, {t100}; {cadence_reading(d100, c100, s100)}; "
      f"{within30(d100, c100)}. With {n} replications a gap is uncertain by about half its "
      f"interval's width: read the intervals, not the point values, and run a few seeds "
      f"(LAB_SEED) to see the saving. "
      f"(c) Daily audits of 30.4% sample {_lines(sampled(d30))} "
      f"insider lines a month, {sampled(d30) / sampled(c100):.0%} of the monthly full "
      f"review's ({_lines(sampled(c100))}): {dwell(d30)} against {dwell(c100)}, {tc}; {buy}. "
      f"Effort (lines sampled a month) decides whether and how soon an audit can catch; "
      f"cadence cuts the lag after the line that gives the insider away, about half an "
      f"interval ({saving / 24:.1f} d from monthly to daily) at any coverage: a large part "
      f"of the wait when that line comes soon ({first_line_wait(c100)} at full coverage), a "
      f"smaller one when it comes late ({first_line_wait(c30)} at 30.4%).")
    w("")
    w(lab.table(rotation, ["dwell", "records", "caught_by", "ended"]).markdown())
    w("")
    none_q, none_m = rotation[1].caught_by().get("none", 0.0), rotation[2].caught_by().get(
        "none", 0.0)
    w(f"**Q7.** Quarterly rotation: median records taken {R(rotation[1].median_records())} "
      f"instead of {R(base.median_records())}, because the key is already three years old "
      f"and the first review (at a random time within the first quarter, 1.5 months on "
      f"average) rotates it. The median time to detection becomes {dwell(rotation[1])} "
      f"({P(none_q)} never detected): rotation ends access but confirms nothing, the leak "
      f"stops growing so outside discovery's hazard stays low, and audits find no activity "
      f"to review after access ends.")
    w("")
    w(f"**Q8.** Monthly rotation: {R(rotation[2].median_records())} records, and "
      f"{P(none_m)} of breaches are never detected. The company does not learn it was "
      f"breached: no breach notification, no customer warning, no investigation of what "
      f"else the key opened (here also `order_db`), and the stolen data is still out there. "
      f"Prevention limits the damage; detection is still needed to know it happened.")
    w("")

    # ---------------------------------------------------------------- Part B
    g = mon_t.facts()
    first_alert = min((a["t"] for a in mon_t.timeline.true_alerts), default=math.nan)
    resp = mon_t.model.response
    w("## Part B")
    w("")
    w(lab.table([base, monitored, at_store], ["dwell", "within_24h", "caught_by",
                                               "records"]).markdown())
    w("")
    after = g["records"] - (g["records_at_detection"] or 0)
    w(f"**Q9.** First true alert at {H(first_alert)} (the analytics latency after the first "
      f"session started); confirmed by `{g['detected_by']}` at {H(g['dwell_hours'])}; "
      f"contained at {H(g['contained_hours'])}. {R(after)} of the {R(g['records'])} records "
      f"were taken between detection and containment: "
      + ("the session kept running" if g["sessions"] == 1 else
         f"the insider kept working ({g['sessions']} sessions in all)")
      + f" while the response team cut access, a delay set by `response.containment_delay` (mean "
      f"{H(resp.containment_delay)}, gamma with cv {resp.containment_cv:g}). Over {n} "
      f"replications monitoring cuts the median time to detection from {dwell(base)} to "
      f"{dwell(monitored)} and the records from {R(base.median_records())} to "
      f"{R(monitored.median_records())}.")
    w("")
    w(f"**Q10.** At the database the monitor flags {P(lab.insider_flag_rate(at_store.model))} "
      f"of the insider's sessions (at the gateway {P(lab.insider_flag_rate(monitored.model))})"
      f" and raises {at_store.mean('true_alerts'):.1f} true alerts per replication: the "
      f"results are those of no monitoring at all ({dwell(at_store)}; caught by: "
      f"{shares(at_store)}). Only the edge of the network sees the insider's own "
      f"{insider.ip_addresses} addresses and the rate per address; the database sees the "
      f"address API calling it, one client carrying the whole session, exactly like the "
      f"API's own traffic. A sensor can only score what passes its place: put it where the "
      f"behaviour that gives the attacker away is visible (here the gateway, where clients "
      f"arrive with their addresses), not only next to the data.")
    w("")
    w(lab.table(thresholds, ["tpr_fpr", "benign_per_day", "dwell", "within_24h",
                             "false_alerts", "dropped", "wait"]).markdown())
    w("")
    best = _best(thresholds)
    team = thresholds[0].model.triage
    good = [o for o in thresholds if o.median_dwell() <= 1.1 * best.median_dwell()]
    low = thresholds[0]  # the sweep runs from low to high thresholds
    high = [o for o in thresholds if o not in good and o is not low]
    per_day = lab.benign_alerts_per_day(low.model)
    top = thresholds[-1]
    top_flag = lab.insider_flag_rate(top.model)
    top_miss = (1 - top_flag) ** daily_lines
    w(f"**Q11.** With {team.analysts} analysts the median time to detection is within 10% "
      f"of the best ({dwell(best)} at `{best.label}`) at "
      + ", ".join(f"`{o.label}`" for o in good)
      + f"; most of that is the wait for the insider's first evening session (at "
        f"{H(one_t.facts()['first_session_hours'])} in the traced replication). At "
        f"`{low.label}` the monitor flags {P(lab.insider_flag_rate(low.model))} of the "
        f"insider's sessions but raises {per_day:,.0f} benign alerts a day "
        f"({low.mean('false_alerts'):,.0f} per replication, of which "
        f"{low.mean('alerts_dropped'):,.0f} age out unreviewed); triage waits "
        f"{H(low.mean('mean_triage_wait_hours'))} on average and the median time to detection "
        f"is {dwell(low)}. {per_day:,.0f} alerts a day at {H(team.triage_time)} each is "
        f"{per_day * team.triage_time:,.0f} analyst-hours a day, more than "
        f"{team.analysts} analysts have ({24 * team.analysts}): the queue grows without end "
        f"and the insider's alert waits behind the backlog, up to the one-day age limit, or is "
        f"dropped. Flagging more of the insider's sessions does not help when nobody reads "
        f"the flags in time; one step up (threshold 4.5: "
        f"{lab.benign_alerts_per_day(thresholds[1].model):,.0f} a day) the team keeps up.")
    w("")
    w("**Q12.** At the highest thresholds the queue is empty (waits near zero; the few benign "
      "alerts per run left are the volume rules') but the monitor flags fewer of the "
      "insider's sessions: " + ", ".join(
          f"{P(lab.insider_flag_rate(o.model))} at `{o.label}` ({dwell(o)}, caught within "
          f"24 h {P(o.share_within(24.0))})" for o in thresholds if o.label in
          {x.label for x in thresholds[3:]})
      + ". A session is flagged only if its score (records, rate and addresses per client "
        "against the customers') clears the threshold; smaller batches fall below it. The "
        f"insider works ~{daily_lines:.1f} sessions an evening, so an unflagged session costs "
        "only the wait for the next one; a day is lost, until the next evening, when a whole "
        f"evening's sessions go unflagged: at `{top.label}` that happens with "
        f"(1 - {top_flag:.3f})^{daily_lines:.2f} = {P(top_miss)}, against "
        f"{P(1 - top.share_within(24.0))} not caught within 24 h."
      + (f" Beyond the good range ({', '.join(o.label for o in high)}) detection is limited "
         f"by the monitor's sensitivity, not by the team." if high else ""))
    w("")
    w(lab.table(analysts, ["dwell", "within_24h", "false_alerts", "dropped", "wait"]).markdown())
    w("")
    best_a = _best(analysts)
    enough = next(o for o in analysts if o.median_dwell() <= 1.1 * best_a.median_dwell())
    det4 = lab.monitor(one_t.model)
    tt = one_t.model.triage.triage_time
    day4 = lab.benign_alerts_per_day(one_t.model)
    peak4 = sum(s.rate * s.rhythm.peak for s in det4.benign) * det4.false_positive_rate
    day5 = lab.benign_alerts_per_day(monitored.model)
    fewer = analysts[:analysts.index(enough)]
    day_late = [o for o in fewer if o.median_dwell() - best_a.median_dwell() >= 20.0]
    late_teams = [int(o.model.triage.analysts) for o in day_late]
    w(f"**Q13.** At threshold 4.0 the median time to detection is within 10% of the best "
      f"({dwell(best_a)} at `{best_a.label}`) from `{enough.label}` on; with fewer analysts "
      f"the insider is found later (" + ", ".join(f"`{o.label}` {dwell(o)}" for o in fewer)
      + ")" + (f", a day or so later (20 h or more) with {_and(late_teams)} "
               f"analyst{'s' if late_teams != [1] else ''}" if day_late else "")
      + f". Load: {day4:,.0f} benign alerts a day is {day4 / 24:.1f} an hour; at "
        f"{H(tt)} each that keeps {day4 / 24 * tt:.1f} analysts busy on average. But the "
        f"customers' traffic peaks in the evening at {peak4:.1f} alerts an hour, "
        f"{peak4 * tt:.1f} analysts' worth: a team sized for the average falls behind every "
        f"evening, and queueing delay explodes as utilisation nears 1. At the preset "
        f"threshold 5.0 ({day5:.1f} benign alerts a day, {day5 / 24 * tt:.2f} analysts) one "
        f"analyst is enough. Threshold and team size have to be chosen together.")
    w("")
    h = one_t.facts()
    first = one_t.timeline.true_alerts[0] if one_t.timeline.true_alerts else None
    if first is not None:
        waited = (first["start"] - first["t"] if not math.isnan(first["start"]) else math.nan)
        fate = (f"waited {H(waited)} for an analyst" if math.isfinite(waited)
                else "was never reviewed")
        w(f"**Q14.** The first true alert came at {H(first['t'])} (the insider's evening) with "
          f"{_queue_at(one_t, first['t'])} benign alerts ahead of it, and {fate} "
          f"(verdict: {first['verdict']}). The queue peaked at {h['max_queue']}; overnight "
          f"the customers sleep and the benign alerts almost stop, but one analyst clears "
          f"only about {1 / tt:.0f} an hour, so the backlog shrinks slowly and is still there "
          f"when the next day adds more. The insider works in the evening, just when the "
          f"customers' traffic, and so the benign alerts, peak: their alert meets the day's "
          f"whole backlog. Detected after {H(h['dwell_hours'])}, contained after "
          f"{H(h['contained_hours'])}, {R(h['records'])} records taken.")
    w("")
    w("**Q15.** (Discussion; no single answer.) Records taken, median over the replications: "
      f"as Coupang {R(base.median_records())}; daily audits at the same coverage "
      f"{R(daily.median_records())}; daily audits of 30.4% of the lines "
      f"{R(d30.median_records())}; monthly audits of all lines {R(full.median_records())}; "
      f"monthly key rotation {R(rotation[2].median_records())} (but {P(none_m)} never "
      f"detected); monitoring at the gateway with five analysts "
      f"{R(monitored.median_records())} (at the database: {R(at_store.median_records())}). "
      f"Good answers weigh cost (reading 30% or all of the access log, daily or monthly, is "
      f"a lot of auditor time; monitoring needs analysts sized to its false alarms, see "
      f"Q11-Q13), say "
      f"what the choice does not fix (rotation detects nothing; audits cannot see an insider "
      f"who has stopped; monitoring fails if its queue is flooded or its sensor sits where "
      f"the insider looks normal), and notice that revoking the leaver's key when they left "
      f"would have prevented the whole breach (`credential_hygiene` with "
      f"`revoke_former_employees: true`).")
    w("")
    naive_v, wary, prober = ns["adaptive"]
    w(f"**Q16.** Median time to detection / median records: naive {dwell(naive_v)} / "
      f"{R(naive_v.median_records())} (caught by {shares(naive_v)}); cautious {dwell(wary)} / "
      f"{R(wary.median_records())} ({shares(wary)}); threshold prober {dwell(prober)} / "
      f"{R(prober.median_records())} ({shares(prober)}). " + _audit_vs_adaptive(ns["adaptive"])
      + " The prober is caught by the "
      f"volume rule ({P(prober.caught_by().get('threshold_rules', 0.0))}): to learn the limit it "
      f"must exceed it once, and every refusal is an alert the 24/7 team confirms "
      f"({P(prober.model.triage.confirm_probability)}). "
      f"Probing is safe only if nobody reviews the refusals (a rule that throttles without "
      f"alerting) or if the prober can probe from an identity that does not lead back to it.")
    w("")
    wt: lab.Traced = ns["cautious_trace"]
    decisions = wt.decisions()
    if decisions:
        d = decisions[0]
        lines = wt.facts()["audit_lines"]
        w(f"**Q17.** First decision at {H(d['t'])}: `{d['decision']}` after a `{d['signal']}` "
          f"from `{d['control']}` (the first audit it saw), quiet until {H(d['until'])} "
          f"({H(d['until'] - d['t'])}); its next session started at {H(d['next_session'])}. "
          f"Insider lines in the audits' windows: {', '.join(map(str, lines))} - the first "
          f"window holds the weeks before the insider knew, the later ones only the few "
          f"sessions between the end of one quiet month and the next audit, so each audit "
          f"has little to find. The first `decision` line has `threat.technique.id` "
          f"[\"{d['technique'][0]}\"] (Scheduled Transfer) and `sim.signal` \"{d['signal']}\""
          + (f", as do all {len(decisions)} decisions in this replication."
             if all(x.get("technique") == d["technique"] and x.get("signal") == d["signal"]
                    for x in decisions) else
             f" ({len(decisions)} decisions in this replication)."))
    else:
        w("**Q17.** (No decision in this replication: the insider saw no audit.)")
    w("")
    lone, own, own0, shared = ns["crews"]

    def ident(o: lab.Outcome) -> str:
        return f"{o.mean('insiders_identified'):.2g}"

    reveal_helps = (own.median_records() < own0.median_records()
                    and own.median_access() < own0.median_access())
    shared_less = shared.median_records() < own.median_records()
    fewer_ident = shared.mean("insiders_identified") < own.mean("insiders_identified")
    w(f"**Q18.** Median time to the first detection: one insider {dwell(lone)}, crew on own "
      f"keys {dwell(own)}, shared key {dwell(shared)} - the monitor scores every member's "
      f"sessions alike, so the first catch is as fast. Median records: one insider "
      f"{R(lone.median_records())}, crew {R(own.median_records())} "
      f"({own.median_records() / lone.median_records():.1f} times; reveal 0: "
      f"{R(own0.median_records())}), shared key {R(shared.median_records())}. The dwell "
      f"counts only the *first* detection: the other two members go on taking records until "
      f"each is found in turn, and the last loses access after a median "
      f"{H(own.median_access())} against {H(lone.median_access())} for one insider (reveal 0: "
      f"{H(own0.median_access())}). `reveal` lets one investigation cut accomplices "
      f"the monitor has not caught yet: "
      + ("with it the crew takes less and ends sooner. " if reveal_helps else
         "here it does not both cut the records and end the breach sooner. ")
      + f"With one shared key, containing the first member revokes the key, which cuts "
        f"every member at once (last access after {H(shared.median_access())}): "
      + (f"fewer are *identified* ({ident(shared)} of 3 against {ident(own)}), because "
         f"revoked members are stopped without being found - but none of them can go on. "
         if fewer_ident else
         f"{ident(shared)} of 3 are identified against {ident(own)}. ")
      + ("Sharing a key is a crew's weak point; accomplices with keys of their own are the "
         "harder case." if shared_less else
         "Yet here the shared-key crew takes no less than the crew on own keys."))
    w("")
    base_l, rev, rev_crew, rev_staff = ns["leavers"]
    never = rev.caught_by().get("none", 0.0)
    s_staff, t_staff = gap_text(rev_staff, base_l, "the staff crew", "the lone insider")
    t_staff = t_staff.replace(": the", "; the")
    w(f"**Q19.** Median records: Coupang's controls {R(base_l.median_records())}; with the "
      f"monthly leavers' review {R(rev.median_records())} - the review cuts the key at its "
      f"first pass (median access {H(rev.median_access())}). But it detects nothing: "
      f"{P(never)} of these breaches are never detected within the year (without the review: "
      f"{P(base_l.caught_by().get('none', 0.0))}), so the company would not know data left "
      f"(prevention is not detection, as with key rotation in Q8). A crew of leavers is cut "
      f"the same way, each key at the review (all stopped by a control in "
      f"{P(rev_crew.all_stopped())}, median records {R(rev_crew.median_records())}). With two "
      f"accomplices on staff the review cuts only the leaver: the staff keep their valid "
      f"credentials and take {R(rev_staff.median_records())} (all stopped in "
      f"{P(rev_staff.all_stopped())}; the store is emptied in "
      f"{P(rev_staff.access_ended_by().get('exhausted', 0.0))}). Against staff accomplices "
      f"the answer is detection that watches what a credential does, not who holds it: the "
      f"gateway monitor of Part B (in D1 the last member of a crew on own keys lost access "
      f"after a median {H(own.median_access())}). The review still removes the one member "
      f"whose access was never legitimate. "
      + (f"The staff crew is detected sooner than the lone insider (median "
         f"{dwell(rev_staff)} against {dwell(base_l)}: {t_staff}) for a reason that is no "
         f"comfort: three insiders empty the store faster, and outside discovery grows with "
         f"the records taken. " if s_staff > 0 else
         f"The staff crew is detected after a median {dwell(rev_staff)} against "
         f"{dwell(base_l)} for the lone insider: {t_staff}. ")
      + "A revoked key is also a clue nobody follows up here: "
      "investigating why a leaver still held one is a control this lab does not model.")
    w("")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------- main

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke size (8 replications a setting); default out results/quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default results/, or results/quick with --quick)")
    parser.add_argument("--answer-key", nargs="?", const="", default=None, metavar="PATH",
                        help="also write the answer key (default ANSWER_KEY.md here; OUT/"
                             "ANSWER_KEY.md with --quick)")
    args = parser.parse_args(argv)
    out = args.out or (HERE / "results" / ("quick" if args.quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ns = run_lab(out, quick=args.quick, seed=args.seed)
    names = ("baseline", "cadence", "coverage", "rotation", "monitored", "at_datastore",
             "thresholds", "analysts", "adaptive", "crews", "leavers")
    summary = {"seed": args.seed, "replications": ns["N"], "version": __version__,
               **lab.summaries({k: ns[k] for k in names}),
               "traces": {t.name: t.facts() for t in (ns["baseline_trace"],
                                                       ns["monitored_trace"],
                                                       ns["one_analyst_trace"],
                                                       ns["cautious_trace"])}}
    (out / "summary.json").write_text(json.dumps(_clean(summary), indent=1) + "\n")
    if args.answer_key is not None:
        path = Path(args.answer_key) if args.answer_key else (
            out / "ANSWER_KEY.md" if args.quick else HERE / "ANSWER_KEY.md")
        path.write_text(answer_key(ns, seed=args.seed, quick=args.quick))
        print(f"answer key: {path}")
    print(f"lab results in {out} ({time.perf_counter() - t0:.0f} s)")
    return 0


def _clean(value: Any) -> Any:
    """Plain JSON: non-finite numbers as null, numpy scalars as numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    sys.exit(main())
