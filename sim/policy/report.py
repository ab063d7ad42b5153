"""A mandate comparison as one self-contained ``report.html`` and its Markdown twin.

Input is a table of *arms*, one row per job (a regime, or a candidate mandate under a regime),
built from each job's ``summary.json`` by :func:`row_from_summary` (the ``policy`` entry that
:meth:`sim.policy.model.PolicyLayer.summarize` adds, plus the run's dwell and records statistics),
or read back from the CSV :func:`write_table` wrote. :func:`render` writes into ``out_dir``:

* ``mandates.csv`` (:data:`TABLE_CSV`, when given rows) - the table;
* four figures (:data:`FIGURES`): median dwell and records taken per arm, the yearly control
  cost against the cost of a breach, the probability of meeting each notification deadline,
  and the expected fine with its cap (and the real fine where the firm has one);
* ``report.html`` - a plain-language reading generated from the numbers, the table, the
  figures as base64 PNG data URIs, what each arm changed and how the numbers are made; inline
  CSS, no script and no external resource, so it opens offline;
* ``report.md`` - the same text and table, the figures as relative links.

Money is in USD unless said otherwise; a firm's own currency is shown beside the real fine.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.core import atomic
from sim.core.timeunits import DAY, MONTH, WEEK, YEAR, format_hours

TABLE_CSV = "mandates.csv"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
#: Figure files, by what they show.
FIGURES: dict[str, str] = {
    "dwell": "mandates_dwell.png",
    "costs": "mandates_costs.png",
    "deadlines": "mandates_deadlines.png",
    "fines": "mandates_fines.png",
}

#: Columns of the table in order; ``p_deadline_<name>`` (+ ``_lo``, ``_hi``) follow, one
#: triple per deadline found in any arm. Intervals are 95%: Brookmeyer-Crowley for the
#: Kaplan-Meier median dwell (empty end: beyond the horizon), order statistics for the median
#: of records, Wilson for proportions, Student t for means.
COLUMNS: tuple[str, ...] = (
    "arm", "label", "kind", "scenario", "seed", "replications", "horizon_hours",
    "regime", "regime_title", "firm", "firm_title", "currency", "per_usd", "changes",
    "detected_fraction", "detected_lo", "detected_hi",
    "dwell_median_hours", "dwell_median_lo_hours", "dwell_median_hi_hours",
    "records_median", "records_median_lo", "records_median_hi", "records_mean",
    "notified_at_median_hours", "notified_fraction",
    "undiscovered_fraction", "undiscovered_lo", "undiscovered_hi",
    "p_all_deadlines_met", "p_all_deadlines_met_lo", "p_all_deadlines_met_hi",
    "deadline_labels",
    "fine_applies", "fine_cap_usd", "fine_mean_usd", "fine_mean_lo_usd", "fine_mean_hi_usd",
    "fine_median_usd", "fine_severity_mean", "fine_aggravated_fraction",
    "breach_cost_mean_usd", "breach_cost_mean_lo_usd", "breach_cost_mean_hi_usd",
    "notification_cost_mean_usd",
    "control_cost_usd", "control_analyst_fte", "control_analysts_usd", "control_tooling_usd",
    "control_audits_usd", "control_credentials_usd",
    "social_cost_mean_usd", "social_cost_mean_lo_usd", "social_cost_mean_hi_usd",
    "firm_cost_mean_usd", "firm_cost_mean_lo_usd", "firm_cost_mean_hi_usd",
    "known_fine_local", "known_fine_usd", "known_label", "known_dwell_hours", "known_people",
)
TEXT_COLUMNS = frozenset({"arm", "label", "kind", "scenario", "regime", "regime_title", "firm",
                          "firm_title", "currency", "changes", "deadline_labels",
                          "known_label"})
_SEP = " | "  # joins the changes of an arm in one CSV cell

# Okabe-Ito (colour-blind safe); one meaning each across the figures.
_C_KIND = {"baseline": "#555555", "regime": "#0072B2", "mandate": "#D55E00"}
_C_CONTROLS, _C_BREACH, _C_SOCIAL = "#009E73", "#D55E00", "#000000"
_C_REAL = "#CC79A7"
_C_WINDOWS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")


# ----------------------------------------------------------------------------- the table
def has_policy(summary: Mapping[str, Any]) -> bool:
    """Whether a job's summary has the policy layer's entry."""
    return isinstance(summary.get("policy"), Mapping)


def _get(d: Mapping[str, Any] | None, *keys: Any) -> Any:
    for k in keys:
        if d is None:
            return None
        d = d[k] if isinstance(d, Sequence) and not isinstance(d, str) else d.get(k)
    return d


def row_from_summary(summary: Mapping[str, Any], *, arm: str, label: str = "",
                     kind: str = "") -> dict[str, Any]:
    """One arm of the table from a job's ``summary.json`` with a ``policy`` entry.

    Args:
        summary: :func:`sim.outputs.results.summarize` output with ``summary["policy"]``.
        arm: a short identifier (the job's name or number).
        label: how the report names the arm (default: the regime's title).
        kind: ``baseline``, ``regime`` or ``mandate`` (colours and the reading; default:
            ``baseline`` for regime ``none``, else ``regime``). The firm's real outcome is
            set beside an arm of its regime unless the arm is a candidate ``mandate``.

    Returns:
        Every key of :data:`COLUMNS` (None where it does not apply) and the arm's
        ``p_deadline_<name>`` triples.

    Raises:
        ValueError: the summary has no ``policy`` entry.
    """
    if not has_policy(summary):
        raise ValueError(f"arm {arm!r}: the summary has no 'policy' entry (run with regime=)")
    pol = summary["policy"]
    km_ci = summary.get("km_median_ci95") or [None, None]
    rec = summary.get("records_exfiltrated") or {}
    rec_ci = rec.get("median_ci95") or [None, None]
    det_ci = summary.get("detected_fraction_ci95") or [None, None]
    controls = pol.get("controls") or {}
    notified = pol.get("notified_at_hours") or {}
    n = summary.get("replications") or 0
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update({
        "arm": arm, "label": label or pol.get("regime_title") or pol.get("regime"),
        "kind": kind or ("baseline" if pol.get("regime") == "none" else "regime"),
        "scenario": summary.get("scenario", ""), "seed": summary.get("seed"),
        "replications": n, "horizon_hours": summary.get("horizon_hours"),
        "regime": pol.get("regime"), "regime_title": pol.get("regime_title"),
        "firm": pol.get("firm"), "firm_title": pol.get("firm_title"),
        "currency": pol.get("currency"), "per_usd": pol.get("per_usd"),
        "changes": _SEP.join(pol.get("changes") or []),
        "detected_fraction": summary.get("detected_fraction"),
        "detected_lo": det_ci[0], "detected_hi": det_ci[1],
        "dwell_median_hours": summary.get("km_median_dwell_hours"),
        "dwell_median_lo_hours": km_ci[0], "dwell_median_hi_hours": km_ci[1],
        "records_median": rec.get("median"), "records_median_lo": rec_ci[0],
        "records_median_hi": rec_ci[1], "records_mean": rec.get("mean"),
        "notified_at_median_hours": notified.get("median"),
        "notified_fraction": (notified.get("n") or 0) / n if n else None,
        "undiscovered_fraction": _get(pol, "undiscovered", "fraction"),
        "undiscovered_lo": _get(pol, "undiscovered", "ci95", 0),
        "undiscovered_hi": _get(pol, "undiscovered", "ci95", 1),
        "fine_applies": 1 if pol.get("fine_applies") else 0,
        "fine_cap_usd": _get(pol, "fine_cap_usd", "mean"),
        "fine_mean_usd": _get(pol, "fine_usd", "mean"),
        "fine_mean_lo_usd": _get(pol, "fine_usd", "ci95", 0),
        "fine_mean_hi_usd": _get(pol, "fine_usd", "ci95", 1),
        "fine_median_usd": _get(pol, "fine_usd", "median"),
        "fine_severity_mean": _get(pol, "fine_severity", "mean"),
        "fine_aggravated_fraction": pol.get("fine_aggravated_fraction"),
        "breach_cost_mean_usd": _get(pol, "breach_cost_usd", "mean"),
        "breach_cost_mean_lo_usd": _get(pol, "breach_cost_usd", "ci95", 0),
        "breach_cost_mean_hi_usd": _get(pol, "breach_cost_usd", "ci95", 1),
        "notification_cost_mean_usd": _get(pol, "notification_cost_usd", "mean"),
        "control_cost_usd": controls.get("total_usd"),
        "control_analyst_fte": controls.get("analyst_fte"),
        "control_analysts_usd": controls.get("analysts_usd"),
        "control_tooling_usd": (controls.get("monitoring_usd") or 0.0)
        + (controls.get("rules_usd") or 0.0) if controls else None,
        "control_audits_usd": controls.get("audits_usd"),
        "control_credentials_usd": controls.get("credentials_usd"),
        "social_cost_mean_usd": _get(pol, "social_cost_usd", "mean"),
        "social_cost_mean_lo_usd": _get(pol, "social_cost_usd", "ci95", 0),
        "social_cost_mean_hi_usd": _get(pol, "social_cost_usd", "ci95", 1),
        "firm_cost_mean_usd": _get(pol, "firm_cost_usd", "mean"),
        "firm_cost_mean_lo_usd": _get(pol, "firm_cost_usd", "ci95", 0),
        "firm_cost_mean_hi_usd": _get(pol, "firm_cost_usd", "ci95", 1),
    })
    all_met = pol.get("all_deadlines_met") or {}
    row["p_all_deadlines_met"] = all_met.get("p_met")
    row["p_all_deadlines_met_lo"] = _get(all_met, "ci95", 0)
    row["p_all_deadlines_met_hi"] = _get(all_met, "ci95", 1)
    labels = []
    for key, d in (pol.get("deadlines") or {}).items():
        labels.append(f"{key}={d.get('label') or key}")
        row[f"p_deadline_{key}"] = d.get("p_met")
        row[f"p_deadline_{key}_lo"] = _get(d, "ci95", 0)
        row[f"p_deadline_{key}_hi"] = _get(d, "ci95", 1)
    row["deadline_labels"] = "; ".join(labels)
    known = pol.get("known_outcome") or {}
    if known.get("applies_here") and row["kind"] != "mandate":
        row.update(known_fine_local=known.get("fine_local"), known_fine_usd=known.get("fine_usd"),
                   known_label=known.get("label") or "", known_dwell_hours=known.get("dwell_hours"),
                   known_people=known.get("people"))
    return row


def deadline_keys(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The deadline names found in any row, in order of first appearance."""
    keys: list[str] = []
    for row in rows:
        for item in str(row.get("deadline_labels") or "").split("; "):
            key = item.split("=", 1)[0].strip()
            if key and key not in keys:
                keys.append(key)
    return keys


def table_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """:data:`COLUMNS` then ``p_deadline_<name>``, ``_lo``, ``_hi`` for every deadline."""
    return list(COLUMNS) + [f"p_deadline_{k}{s}" for k in deadline_keys(rows)
                            for s in ("", "_lo", "_hi")]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    return str(value)


def write_table(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write the table as CSV (atomically): :func:`table_columns`, empty cells for None/NaN."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = table_columns(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in cols])
    atomic.write_bytes(path, buf.getvalue().encode("utf-8"))
    return path


def read_table(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a table written by :func:`write_table`: numbers as floats, empty cells as None.

    Raises:
        ValueError: the header lacks the ``arm`` or ``regime`` column.
    """
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"arm", "regime"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: not a mandate table (needs the arm and regime columns)")
        rows = []
        for raw in reader:
            row: dict[str, Any] = {}
            for key, text in raw.items():
                if key in TEXT_COLUMNS:
                    row[key] = text or ""
                elif text == "" or text is None:
                    row[key] = None
                else:
                    try:
                        row[key] = float(text)
                    except ValueError:
                        row[key] = text
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------- formatting
def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt_money(x: Any, currency: str = "USD", digits: int = 3) -> str:
    """``USD 488M``, ``KRW 423.5bn`` (``digits`` significant); ``n/a`` for None."""
    v = _num(x)
    if v is None:
        return "n/a"
    for size, unit in ((1e12, "tn"), (1e9, "bn"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= size:
            return f"{currency} {v / size:.{digits}g}{unit}"
    return f"{currency} {v:.0f}"


def fmt_count(x: Any) -> str:
    """``33.2M``, ``48K``, ``312``; ``n/a`` for None."""
    v = _num(x)
    if v is None:
        return "n/a"
    for size, unit in ((1e6, "M"), (1e3, "K")):
        if abs(v) >= size:
            return f"{v / size:.3g}{unit}"
    return f"{v:.0f}"


def fmt_pct(x: Any) -> str:
    v = _num(x)
    return "n/a" if v is None else f"{100 * v:.0f}%"


def fmt_dwell(x: Any, horizon: Any = None) -> str:
    """A duration, or ``beyond H`` when None with a horizon (the median not reached)."""
    v = _num(x)
    if v is None:
        h = _num(horizon)
        return f"beyond {format_hours(h)}" if h is not None else "n/a"
    return format_hours(v)


def _ci(lo: Any, hi: Any, fmt: Any, horizon: Any = None) -> str:
    lo_v, hi_v = _num(lo), _num(hi)
    if lo_v is None and hi_v is None:
        return ""
    left = fmt(lo_v) if lo_v is not None else "?"
    right = fmt(hi_v) if hi_v is not None else (
        f"> {format_hours(_num(horizon))}" if _num(horizon) is not None else "?")
    return f"{left} - {right}"


def _deadline_parts(row: Mapping[str, Any]) -> list[tuple[str, str, float | None,
                                                         float | None, float | None]]:
    """``(key, label, p, lo, hi)`` for each deadline of an arm."""
    out = []
    for item in str(row.get("deadline_labels") or "").split("; "):
        if not item:
            continue
        key, _, label = item.partition("=")
        out.append((key, label or key, _num(row.get(f"p_deadline_{key}")),
                    _num(row.get(f"p_deadline_{key}_lo")), _num(row.get(f"p_deadline_{key}_hi"))))
    return out


def _window(key: str) -> str:
    """The window a deadline name ends with (``kisa_24h`` -> ``24h``)."""
    return key.rsplit("_", 1)[-1] if "_" in key else key


# ----------------------------------------------------------------------------- the reading
def _by(rows: Sequence[Mapping[str, Any]], key: str, best: str = "min"
        ) -> Mapping[str, Any] | None:
    have = [r for r in rows if _num(r.get(key)) is not None]
    if not have:
        return None
    pick = min if best == "min" else max
    return pick(have, key=lambda r: _num(r.get(key)))  # type: ignore[arg-type, return-value]


def reading(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Plain-language sentences generated from the table (for the top of the report).

    The *reference* arm is the first of kind ``baseline`` (else the first row); the *real*
    arm is the one with a known fine. Sentences: where the reference stands, the real case
    against the model, the arm with the lowest social cost and its break-even, what deadlines
    measure, and the range of expected fines. A sentence whose numbers are missing is left out.
    """
    if not rows:
        return ["The table is empty: no arm to compare."]
    out: list[str] = []
    ref = next((r for r in rows if r.get("kind") == "baseline"), rows[0])
    horizon = ref.get("horizon_hours")

    def dwell_of(r: Mapping[str, Any]) -> str:
        return fmt_dwell(r.get("dwell_median_hours"), r.get("horizon_hours"))

    out.append(
        f"{ref['label']}: the insider stays undetected for a median "
        f"{dwell_of(ref)} and takes a median {fmt_count(ref.get('records_median'))} records; "
        f"{fmt_pct(1 - (_num(ref.get('detected_fraction')) or 0))} of breaches are still "
        f"undetected after {fmt_dwell(horizon)}. A breach then costs about "
        f"{fmt_money(ref.get('breach_cost_mean_usd'))} beyond the "
        f"{fmt_money(ref.get('control_cost_usd'))} a year the controls cost.")

    real = next((r for r in rows if _num(r.get("known_fine_local")) is not None), None)
    if real is not None:
        cur = real.get("currency") or "USD"
        per = _num(real.get("per_usd")) or 1.0
        model_local = (_num(real.get("fine_mean_usd")) or 0.0) * per
        known = _num(real.get("known_fine_local")) or 0.0
        cap_local = (_num(real.get("fine_cap_usd")) or 0.0) * per
        ratio = model_local / known if known else math.nan
        text = (f"The real case sits beside {real['label']}: the model's rule gives an expected "
                f"fine of {fmt_money(model_local, cur)} ({fmt_money(real.get('fine_mean_usd'))})"
                f" against a cap of {fmt_money(cap_local, cur)}; in reality "
                f"{real.get('known_label') or fmt_money(known, cur)}, so the model is "
                f"{ratio:.1f} times reality")
        if cap_local:
            text += (f" (the real fine drew {known / cap_local:.0%} of the modelled cap, the "
                     f"rule {model_local / cap_local:.0%})")
        text += "."
        kd = _num(real.get("known_dwell_hours"))
        if kd is not None:
            text += (f" The real dwell was about {format_hours(kd)}; the model's median is "
                     f"{dwell_of(real)}.")
        out.append(text)

    best = _by(rows, "social_cost_mean_usd")
    if best is not None and best is not ref:
        d_controls = (_num(best.get("control_cost_usd")) or 0) - (
            _num(ref.get("control_cost_usd")) or 0)
        ref_harm = (_num(ref.get("breach_cost_mean_usd")) or 0) + (
            _num(ref.get("notification_cost_mean_usd")) or 0)
        best_harm = (_num(best.get("breach_cost_mean_usd")) or 0) + (
            _num(best.get("notification_cost_mean_usd")) or 0)
        saved = ref_harm - best_harm
        text = (f"{best['label']} has the lowest social cost (controls for a year plus one "
                f"breach, fines left out as transfers): median dwell {dwell_of(best)}, "
                f"{fmt_count(best.get('records_median'))} records, "
                f"{fmt_money(best.get('control_cost_usd'))} a year in controls")
        if d_controls > 0 and saved > 0:
            q = d_controls / saved
            text += (f", {fmt_money(d_controls)} more than {ref['label']}, and "
                     f"{fmt_money(saved)} less harm per breach: it pays for itself if such an "
                     f"insider strikes at least once every {1 / q:.0f} years")
            if q > 1:
                text = text.replace(f"at least once every {1 / q:.0f} years",
                                    f"{q:.1f} times a year")
        text += "."
        out.append(text)

    parts = {}
    for r in rows:
        for key, _label, p, _lo, _hi in _deadline_parts(r):
            if p is not None:
                parts.setdefault(_window(key), []).append(p)
    if parts:
        ranges = ", ".join(f"{w} {fmt_pct(min(v))}-{fmt_pct(max(v))}" if min(v) != max(v)
                           else f"{w} {fmt_pct(v[0])}" for w, v in parts.items())
        text = (f"Deadlines run from awareness, so whether one is met depends on how fast the "
                f"firm reports once it knows, not on how fast it detects (a breach nobody "
                f"discovers starts no clock). Probability of meeting each, among discovered "
                f"breaches, across arms: {ranges}.")
        late = _by(rows, "notified_at_median_hours", "max")
        early = _by(rows, "notified_at_median_hours", "min")
        if late is not None and early is not None and late is not early:
            text += (f" What detection changes is when people learn: a median "
                     f"{format_hours(_num(late['notified_at_median_hours']) or 0)} after the "
                     f"theft began with {late['label']}, "
                     f"{format_hours(_num(early['notified_at_median_hours']) or 0)} with "
                     f"{early['label']}.")
        out.append(text)

    least = _by(rows, "detected_fraction")
    if least is not None and (_num(least.get("detected_fraction")) or 0) < 0.5:
        out.append(f"{least['label']} leaves {fmt_pct(1 - _num(least['detected_fraction']))} "
                   f"of breaches undetected after {fmt_dwell(least.get('horizon_hours'))}: "
                   f"stopping access is not finding the thief, and an undiscovered breach is "
                   f"never notified, and no deadline or fine applies to it within the horizon "
                   f"(reported apart as undiscovered).")

    fined = [r for r in rows if _num(r.get("fine_mean_usd")) is not None]
    if len(fined) >= 2:
        lo, hi = _by(fined, "fine_mean_usd"), _by(fined, "fine_mean_usd", "max")
        assert lo is not None and hi is not None
        out.append(f"Expected fines run from {fmt_money(lo['fine_mean_usd'])} "
                   f"({lo['label']}) to {fmt_money(hi['fine_mean_usd'])} ({hi['label']}); the "
                   f"share of a cap a breach draws is this model's rule, its weights "
                   f"assumptions.")
    return out


# ----------------------------------------------------------------------------- figures
_TIME_TICKS = ((1.0, "1 h"), (DAY, "1 d"), (WEEK, "1 w"), (MONTH, "1 mo"), (YEAR, "1 y"),
               (5 * YEAR, "5 y"))


def _arm_axis(ax: Any, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    y = np.arange(len(rows))[::-1].astype(float)
    ax.set_yticks(y, [str(r.get("label")) for r in rows], fontsize=7.5)
    for tick, r in zip(ax.get_yticklabels(), rows, strict=True):
        tick.set_color(_C_KIND.get(str(r.get("kind")), "#000000"))
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(True, axis="x", alpha=0.3)
    return y


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def figure_dwell(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Median dwell (Kaplan-Meier, 95% CI) and median records taken per arm."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 0.42 * len(rows) + 1.6), dpi=150, layout="constrained")
    ax, bx = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.15, 1]})
    y = _arm_axis(ax, rows)
    horizon = max((_num(r.get("horizon_hours")) or YEAR) for r in rows)
    real_drawn = False
    for yi, r in zip(y, rows, strict=True):
        colour = _C_KIND.get(str(r.get("kind")), "#000000")
        med = _num(r.get("dwell_median_hours"))
        lo = _num(r.get("dwell_median_lo_hours"))
        hi = _num(r.get("dwell_median_hi_hours"))
        h = _num(r.get("horizon_hours")) or horizon
        if med is None:
            ax.annotate("", xy=(h * 1.6, yi), xytext=(h, yi),
                        arrowprops={"arrowstyle": "->", "color": colour})
            ax.plot([h], [yi], "o", mfc="white", color=colour, ms=5)
        else:
            ax.plot([lo if lo is not None else med, hi if hi is not None else h], [yi, yi],
                    color=colour, lw=2, alpha=0.5)
            ax.plot([med], [yi], "o", color=colour, ms=5)
        rm = _num(r.get("records_median"))
        if rm is not None:
            rlo = _num(r.get("records_median_lo")) or rm
            rhi = _num(r.get("records_median_hi")) or rm
            bx.plot([max(rlo, 1), max(rhi, 1)], [yi, yi], color=colour, lw=2, alpha=0.5)
            bx.plot([max(rm, 1)], [yi], "o", color=colour, ms=5)
        kd, kp = _num(r.get("known_dwell_hours")), _num(r.get("known_people"))
        if kd is not None:
            ax.plot([kd], [yi], marker="*", color=_C_REAL, ms=11, ls="none",
                    label="_" if real_drawn else "the real case")
            real_drawn = True
        if kp is not None:
            bx.plot([kp], [yi], marker="*", color=_C_REAL, ms=11, ls="none")
    ax.set_xscale("log")
    ticks = [(t, s) for t, s in _TIME_TICKS if t <= horizon * 1.9]
    ax.set_xticks([t for t, _ in ticks], [s for _, s in ticks])
    ax.set_xlim(0.1, horizon * 1.9)
    ax.axvline(horizon, color="#999999", lw=0.8, ls=":")
    ax.set_xlabel("median dwell, 95% CI (open circle: beyond the horizon, dotted)", fontsize=8)
    bx.set_xscale("log")
    bx.set_xlabel("median records taken, 95% CI", fontsize=8)
    if any(_num(r.get("known_dwell_hours")) is not None for r in rows):
        ax.legend(loc="lower left", fontsize=7, frameon=False)
    fig.suptitle("How long the insider stays and how much leaves, by mandate", fontsize=10)
    return fig


def figure_costs(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Controls a year, the harm of one breach and their sum (mean, 95% CI), per arm."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 0.42 * len(rows) + 1.7), dpi=150, layout="constrained")
    ax = fig.subplots()
    y = _arm_axis(ax, rows)
    for yi, r in zip(y, rows, strict=True):
        c = _num(r.get("control_cost_usd"))
        harm = (_num(r.get("breach_cost_mean_usd")) or 0) + (
            _num(r.get("notification_cost_mean_usd")) or 0)
        s, slo, shi = (_num(r.get(k)) for k in ("social_cost_mean_usd",
                                                "social_cost_mean_lo_usd",
                                                "social_cost_mean_hi_usd"))
        if c:
            ax.plot([c / 1e6], [yi + 0.15], "s", color=_C_CONTROLS, ms=5)
        if harm > 0:
            ax.plot([harm / 1e6], [yi - 0.15], "^", color=_C_BREACH, ms=6)
        if s is not None:
            if slo is not None and shi is not None:
                ax.plot([slo / 1e6, shi / 1e6], [yi, yi], color=_C_SOCIAL, lw=2, alpha=0.35)
            ax.plot([s / 1e6], [yi], "o", mfc="white", color=_C_SOCIAL, ms=7)
    ax.set_xscale("log")
    ax.set_xlabel("USD millions (log scale)")
    from matplotlib.lines import Line2D

    ax.legend(handles=[
        Line2D([], [], marker="s", ls="none", color=_C_CONTROLS, label="controls a year"),
        Line2D([], [], marker="^", ls="none", color=_C_BREACH,
               label="one breach incl. notification (mean)"),
        Line2D([], [], marker="o", mfc="white", ls="none", color=_C_SOCIAL,
               label="social cost: their sum (mean, 95% CI)")],
        loc="upper center", bbox_to_anchor=(0.45, -0.11), ncol=3, fontsize=7, frameon=False)
    fig.suptitle("What controls cost against what a breach costs (fines excluded)", fontsize=10)
    return fig


def figure_deadlines(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Probability of meeting each notification deadline (Wilson 95% CI), per arm."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(8.0, 0.42 * len(rows) + 1.7), dpi=150, layout="constrained")
    ax = fig.subplots()
    y = _arm_axis(ax, rows)
    windows: list[str] = []
    for r in rows:
        for key, *_ in _deadline_parts(r):
            if _window(key) not in windows:
                windows.append(_window(key))
    colour = {w: _C_WINDOWS[i % len(_C_WINDOWS)] for i, w in enumerate(windows)}
    for yi, r in zip(y, rows, strict=True):
        parts = _deadline_parts(r)
        if not parts:
            ax.text(0.01, yi, "no notification deadline", va="center", fontsize=7,
                    color="#777777")
        for j, (key, _label, p, lo, hi) in enumerate(parts):
            dy = (j - (len(parts) - 1) / 2) * 0.18
            if p is None:
                continue
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [yi + dy, yi + dy], color=colour[_window(key)], lw=2,
                        alpha=0.45)
            ax.plot([p], [yi + dy], "o", color=colour[_window(key)], ms=5)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("probability the deadline is met (among discovered breaches)")
    if windows:
        ax.legend(handles=[Line2D([], [], marker="o", ls="none", color=colour[w],
                                  label=f"deadline {w}") for w in windows],
                  loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=min(len(windows), 5),
                  fontsize=7.5, frameon=False)
    fig.suptitle("Notification deadlines met, by mandate", fontsize=10)
    return fig


def figure_fines(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Expected fine (mean, 95% CI) and its cap per arm, with the real fine where known."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(8.0, 0.42 * len(rows) + 1.7), dpi=150, layout="constrained")
    ax = fig.subplots()
    y = _arm_axis(ax, rows)
    for yi, r in zip(y, rows, strict=True):
        m = _num(r.get("fine_mean_usd"))
        if m is None:
            ax.text(0.0, yi, "  no fine under this regime", va="center", fontsize=7,
                    color="#777777")
            continue
        colour = _C_KIND.get(str(r.get("kind")), "#000000")
        cap = _num(r.get("fine_cap_usd"))
        if cap is not None:
            ax.barh([yi], [cap / 1e6], height=0.5, color="#DDDDDD", zorder=0)
        lo, hi = _num(r.get("fine_mean_lo_usd")), _num(r.get("fine_mean_hi_usd"))
        if lo is not None and hi is not None:
            ax.plot([lo / 1e6, hi / 1e6], [yi, yi], color=colour, lw=2.5, alpha=0.5)
        ax.plot([m / 1e6], [yi], "o", color=colour, ms=6)
        k = _num(r.get("known_fine_usd"))
        if k is not None:
            ax.plot([k / 1e6], [yi], "*", color=_C_REAL, ms=12)
    ax.set_xlim(left=0)
    ax.set_xlabel("USD millions")
    ax.legend(handles=[Line2D([], [], marker="o", ls="none", color="#333333",
                              label="expected fine (mean, 95% CI)"),
                       Line2D([], [], marker="s", ls="none", color="#DDDDDD", ms=9,
                              label="legal cap"),
                       Line2D([], [], marker="*", ls="none", color=_C_REAL, ms=10,
                              label="real fine")],
              loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize=7.5,
              frameon=False)
    fig.suptitle("Expected fine against the legal cap, by mandate", fontsize=10)
    return fig


# ----------------------------------------------------------------------------- the report
_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1180px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;
border-bottom:1px solid #ddd;padding-bottom:.2em}
.sub{color:#555;margin-top:0}.reading li{margin:.35em 0}
table{border-collapse:collapse;font-size:.82em;width:100%}
th,td{border:1px solid #ddd;padding:.3em .45em;vertical-align:top;text-align:left}
th{background:#f3f3f3}td.n{text-align:right;white-space:nowrap}
tr.baseline td:first-child{border-left:4px solid #555}
tr.regime td:first-child{border-left:4px solid #0072B2}
tr.mandate td:first-child{border-left:4px solid #D55E00}
tr.real td{background:#fbeef6;font-style:italic}
.ci{color:#777;font-size:.9em}figure{margin:1.2em 0}figure img{max-width:100%}
figcaption{color:#555;font-size:.9em}.changes li{font-size:.9em}
.note{color:#555;font-size:.9em}
"""


def _table_cells(r: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(text, ci text) of the table's cells for one arm."""
    h = r.get("horizon_hours")
    deadlines = "; ".join(f"{key}: {fmt_pct(p)}" for key, _l, p, _lo, _hi in _deadline_parts(r))
    changes = str(r.get("changes") or "")
    n_changes = len([c for c in changes.split(_SEP) if c]) if changes else 0
    return [
        (str(r.get("label")), f"{r.get('regime')}; {n_changes} change(s)" if n_changes
         else str(r.get("regime"))),
        (fmt_pct(r.get("detected_fraction")),
         _ci(r.get("detected_lo"), r.get("detected_hi"), fmt_pct)),
        (fmt_dwell(r.get("dwell_median_hours"), h),
         _ci(r.get("dwell_median_lo_hours"), r.get("dwell_median_hi_hours"), format_hours, h)),
        (fmt_count(r.get("records_median")),
         _ci(r.get("records_median_lo"), r.get("records_median_hi"), fmt_count)),
        (deadlines or "none", ""),
        (fmt_money(r.get("fine_mean_usd")) if r.get("fine_applies") else "none",
         _ci(r.get("fine_mean_lo_usd"), r.get("fine_mean_hi_usd"), fmt_money)
         if r.get("fine_applies") else ""),
        (fmt_money(r.get("control_cost_usd")),
         f"{_num(r.get('control_analyst_fte')) or 0:.0f} analyst FTE"),
        (fmt_money((_num(r.get("breach_cost_mean_usd")) or 0)
                   + (_num(r.get("notification_cost_mean_usd")) or 0)), ""),
        (fmt_money(r.get("social_cost_mean_usd")),
         _ci(r.get("social_cost_mean_lo_usd"), r.get("social_cost_mean_hi_usd"), fmt_money)),
        (fmt_money(r.get("firm_cost_mean_usd")), ""),
    ]


_HEADERS = ("arm", "detected by horizon", "median dwell", "median records taken",
            "deadlines met", "expected fine (mean)", "controls a year",
            "one breach (mean)", "social cost (mean)", "cost to the firm (mean)")


def _real_cells(r: Mapping[str, Any]) -> list[str] | None:
    if _num(r.get("known_fine_local")) is None:
        return None
    cur = r.get("currency") or "USD"
    kd = _num(r.get("known_dwell_hours"))
    return ["reality: " + str(r.get("known_label") or ""), "detected",
            format_hours(kd) if kd is not None else "", fmt_count(r.get("known_people")), "",
            f"{fmt_money(r.get('known_fine_local'), cur, 4)} "
            f"({fmt_money(r.get('known_fine_usd'))})", "", "", "", ""]


def _intro(rows: Sequence[Mapping[str, Any]]) -> str:
    r = rows[0]
    scen = sorted({str(x.get("scenario")) for x in rows})
    firms = sorted({str(x.get("firm_title") or x.get("firm")) for x in rows})
    reps = sorted({int(_num(x.get("replications")) or 0) for x in rows})
    return (f"{len(rows)} arms; scenario {', '.join(scen)}; firm {', '.join(firms)}; "
            f"{'/'.join(str(n) for n in reps)} replications per arm, seed {r.get('seed')}, "
            f"horizon {fmt_dwell(r.get('horizon_hours'))}. Every arm has the same insiders "
            f"(the same seed: common random numbers). Money in USD.")


_METHOD = [
    "Dwell is the time from the insider's first access to detection; its median is the "
    "Kaplan-Meier median (undetected breaches are censored at the horizon), with a "
    "Brookmeyer-Crowley 95% interval.",
    "A mandate raises a weaker control to the rule (an audit interval shortened, log retention "
    "lengthened, monitoring or key rotation added, analysts added) and leaves a stronger one "
    "alone; the list below says what changed in each arm.",
    "Notification deadlines are counted from awareness (detection) or, for the SEC, from a "
    "materiality determination a few days later (assumption); the firm files after a lognormal "
    "delay of its own (firm parameter). Business days skip weekends; public holidays are not "
    "modelled. A breach undiscovered at the horizon starts no clock, misses no deadline and is "
    "not fined (nobody knows of it); it is counted apart as undiscovered.",
    "Fine = legal cap x severity. The cap is the law's (share of revenue, a fixed amount where "
    "the law has one, an aggravated tier); the severity is this model's rule, not law, by "
    "default min(1, people/10M)^0.5 x min(1, 0.25 + 0.25 x dwell/1 y + 0.25 x share of "
    "expected controls missing + 0.25 x a deadline missed), weights all assumptions "
    "(conf/regime/none.yaml).",
    "Breach cost (fines excluded), by default = USD 4.99M (IBM 2024, malicious insider) x "
    "(records / 25,000)^0.42 (slope of the Verizon DBIR 2015 loss model); a per-record cost "
    "would be exponent 1. Sources disagree by orders of magnitude for breaches of tens of "
    "millions of records: this is the least certain number of the report.",
    "Controls a year: analysts x FTE per seat (24x7: 168 h / 33.8 h = 5 FTE) x salary, "
    "tooling, audit hours x rate, key reviews and rotations. Social cost = controls for a year "
    "+ one breach's cost and notification; a fine is a transfer and is left out of it, but in "
    "the cost to the firm.",
    "Undetected breaches are priced as if they came to light at the horizon, so their fines and "
    "costs are lower bounds.",
]


def render(table: Sequence[Mapping[str, Any]] | str | os.PathLike[str],
           out_dir: str | os.PathLike[str], *, title: str = "Mandate comparison",
           write_csv: bool | None = None) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and the figures (and the table) into ``out_dir``.

    Args:
        table: the rows (dicts with :data:`COLUMNS`, e.g. from :func:`row_from_summary`), or
            the path of a CSV written by :func:`write_table`.
        out_dir: where to write (created if missing).
        title: the report's title.
        write_csv: also write ``mandates.csv``; default: when ``table`` is rows.

    Returns:
        Paths written, by name (``html``, ``md``, ``csv`` if written, and each figure's key).

    Raises:
        ValueError: the table is empty or not a mandate table.
    """
    if isinstance(table, (str, os.PathLike)):
        rows: list[Mapping[str, Any]] = list(read_table(table))
        write_csv = bool(write_csv)
    else:
        rows = list(table)
        write_csv = True if write_csv is None else write_csv
    if not rows:
        raise ValueError("no arms to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if write_csv:
        written["csv"] = write_table(rows, out / TABLE_CSV)
    pngs: dict[str, bytes] = {}
    for key, build in (("dwell", figure_dwell), ("costs", figure_costs),
                       ("deadlines", figure_deadlines), ("fines", figure_fines)):
        pngs[key] = _png(build(rows))
        atomic.write_bytes(out / FIGURES[key], pngs[key])
        written[key] = out / FIGURES[key]
    sentences = reading(rows)
    captions = {
        "dwell": "Median time to detection (left, log scale) and median records taken (right) "
                 "per arm, with 95% intervals. Blue: regimes; orange: candidate mandates; "
                 "grey: no regime. Star: the real case.",
        "costs": "Per arm: what the controls cost a year (square), what one breach costs the "
                 "firm and the people in it, notification included (triangle), and their sum, "
                 "the social cost (circle, with its 95% interval). Log scale.",
        "deadlines": "Probability of meeting each notification deadline of the arm's regime, "
                     "with Wilson 95% intervals; colours by the deadline's window.",
        "fines": "Expected fine (mean with 95% interval) against the legal cap (grey bar); "
                 "star: the real fine. Regimes without a fine rule are marked.",
    }
    written["html"] = out / REPORT_HTML
    atomic.write_bytes(written["html"], _html(rows, title, sentences, pngs, captions)
                  .encode("utf-8"))
    written["md"] = out / REPORT_MD
    atomic.write_bytes(written["md"], _markdown(rows, title, sentences, captions).encode("utf-8"))
    return written


def _html(rows: Sequence[Mapping[str, Any]], title: str, sentences: Sequence[str],
          pngs: Mapping[str, bytes], captions: Mapping[str, str]) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(title)}</h1>", f"<p class=\"sub\">{e(_intro(rows))}</p>",
             "<h2>Reading</h2>", "<ul class=\"reading\">",
             *(f"<li>{e(s)}</li>" for s in sentences), "</ul>",
             "<h2>The arms</h2>", "<table><thead><tr>",
             *(f"<th>{e(h)}</th>" for h in _HEADERS), "</tr></thead><tbody>"]
    for r in rows:
        parts.append(f"<tr class=\"{e(str(r.get('kind') or ''))}\">")
        for i, (text, ci) in enumerate(_table_cells(r)):
            cls = "" if i in (0, 4) else " class=\"n\""
            extra = f"<br><span class=\"ci\">{e(ci)}</span>" if ci else ""
            parts.append(f"<td{cls}>{e(text)}{extra}</td>")
        parts.append("</tr>")
        real = _real_cells(r)
        if real is not None:
            parts.append("<tr class=\"real\">" + "".join(f"<td>{e(c)}</td>" for c in real)
                         + "</tr>")
    parts.append("</tbody></table>")
    parts.append("<p class=\"note\">Medians with 95% intervals beneath. 'One breach' is the "
                 "breach cost plus notification; social cost = controls a year + one breach; "
                 "cost to the firm adds the expected fine.</p>")
    parts.append("<h2>Figures</h2>")
    for key, data in pngs.items():
        b64 = base64.b64encode(data).decode("ascii")
        parts.append(f"<figure><img alt=\"{e(key)}\" src=\"data:image/png;base64,{b64}\">"
                     f"<figcaption>{e(captions[key])}</figcaption></figure>")
    parts.append("<h2>What each arm changed</h2><ul class=\"changes\">")
    for r in rows:
        changes = [c for c in str(r.get("changes") or "").split(_SEP) if c]
        inner = "".join(f"<li>{e(c)}</li>" for c in changes) or "<li>nothing</li>"
        parts.append(f"<li><b>{e(str(r.get('label')))}</b> ({e(str(r.get('regime_title')))})"
                     f"<ul>{inner}</ul></li>")
    parts.append("</ul><h2>How the numbers are made</h2><ul>")
    parts.extend(f"<li>{e(s)}</li>" for s in _METHOD)
    parts.append("</ul><p class=\"note\">Sources: ../shared/CALIBRATION.md and the comments "
                 "in conf/regime/ and conf/firm/; numbers marked assumption there have no "
                 "public source. Generated by sim.policy.report.</p></body></html>")
    return "\n".join(parts) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown(rows: Sequence[Mapping[str, Any]], title: str, sentences: Sequence[str],
              captions: Mapping[str, str]) -> str:
    lines = [f"# {title}", "", _intro(rows), "", "## Reading", ""]
    lines += [f"- {s}" for s in sentences]
    lines += ["", "## The arms", "", "| " + " | ".join(_HEADERS) + " |",
              "|" + "---|" * len(_HEADERS)]
    for r in rows:
        cells = [f"{t} ({c})" if c else t for t, c in _table_cells(r)]
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
        real = _real_cells(r)
        if real is not None:
            lines.append("| " + " | ".join(f"*{_md_escape(c)}*" if c else "" for c in real)
                         + " |")
    lines += ["", "Medians with 95% intervals in brackets. 'One breach' is the breach cost plus "
                  "notification; social cost = controls a year + one breach; cost to the firm "
                  "adds the expected fine.", "", "## Figures", ""]
    for key, name in FIGURES.items():
        lines += [f"![{key}]({name})", "", f"*{captions[key]}*", ""]
    lines += ["## What each arm changed", ""]
    for r in rows:
        lines.append(f"- **{r.get('label')}** ({r.get('regime_title')})")
        changes = [c for c in str(r.get("changes") or "").split(_SEP) if c]
        lines += [f"  - {c}" for c in changes] or ["  - nothing"]
    lines += ["", "## How the numbers are made", ""]
    lines += [f"- {s}" for s in _METHOD]
    lines += ["", "Sources: ../shared/CALIBRATION.md and the comments in conf/regime/ and "
                  "conf/firm/; numbers marked assumption there have no public source.", ""]
    return "\n".join(lines)
