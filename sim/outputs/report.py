"""``python -m sim.report SWEEP_OR_RUN_DIR [--out DIR]``: one table and the standard figures.

Collects every job of a sweep (a Hydra multirun dir) - or the one job of a run dir - into

* ``sweep.csv``: one row per job, in job order: ``job``, ``status``, the overridden keys as
  columns (values as written on the command line), then the summary metrics with their 95%
  intervals (see :data:`METRIC_COLUMNS`), then the job's bookkeeping (error, dir, config hash,
  version, source digest, runtime). A job that failed, was interrupted or killed, or never ran
  (listed in ``sweep.json`` but without a dir) has a row with its status and no metrics: a
  hole in a sweep is visible, not silent. ``sweep.parquet`` too when pyarrow is installed.
* ``dwell_vs_KEY.png`` for each swept key (a key with more than one value): the Kaplan-Meier
  median dwell with its 95% interval against the key's values (in sweep order), one line per
  combination of the other swept keys.
* ``survival.png``: the Kaplan-Meier probability that the insider is still undetected, one
  curve (with its 95% band) per job.
* ``records_vs_dwell.png``: records exfiltrated against dwell, one point per replication,
  coloured by job, with each job's medians.

Only complete jobs are read (``run.json`` complete, ``replications.csv`` and ``summary.json``
present); a ``.partial`` file is never read. Everything is written atomically into ``--out``
(default: the dir itself). Bad input (no such dir, a dir that is neither) prints one line,
``error: ...``, and exits with code 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.cli.sweep import (
    RUN_JSON,
    SweepError,
    find_job_dirs,
    index_job_dirs,
    job_overrides,
    job_state,
    read_manifest,
)
from sim.core import atomic
from sim.core.errors import SimError
from sim.core.timeunits import DAY, HOUR, MINUTE, MONTH, WEEK, YEAR, format_hours
from sim.outputs import stats
from sim.policy import report as policy_report

SWEEP_CSV = "sweep.csv"
SWEEP_PARQUET = "sweep.parquet"
SURVIVAL_PNG = "survival.png"
RECORDS_PNG = "records_vs_dwell.png"

#: Detection windows reported as columns (labels of ``summary["p_detected_within"]``).
WINDOWS: tuple[str, ...] = ("24h", "72h", "30d", "90d", "180d")

#: Metric columns of ``sweep.csv``, in order. ``*_lo``/``*_hi`` are 95% intervals: Wilson for
#: the detected fraction, Brookmeyer-Crowley for the Kaplan-Meier median (empty when the band
#: does not reach 0.5 within the horizon, i.e. the end lies beyond it), order statistics for
#: the median of records, Student t for means, Kaplan-Meier bands for ``p_detected_*``.
METRIC_COLUMNS: tuple[str, ...] = (
    "horizon_hours", "detected_fraction", "detected_fraction_lo", "detected_fraction_hi",
    "censored", "dwell_km_median_hours", "dwell_km_median_lo_hours",
    "dwell_km_median_hi_hours", "dwell_km_median_text", "records_median", "records_median_lo",
    "records_median_hi", "records_mean", "records_mean_lo", "records_mean_hi",
    *(f"p_detected_{w}{s}" for w in WINDOWS for s in ("", "_lo", "_hi")),
    "detected_by", "access_ended_by", "true_alerts_mean", "false_alerts_mean",
    "alerts_dropped_mean", "mean_triage_wait_hours", "analyst_utilisation",
)
TAIL_COLUMNS: tuple[str, ...] = ("error", "dir", "config_hash", "version", "source_digest",
                                 "runtime_s")

# Okabe-Ito (colour-blind safe), then viridis for more arms.
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
            "#F0E442")


# ----------------------------------------------------------------------------- collection


@dataclass
class Job:
    """One job of a sweep (or the run of a run dir) as the report sees it.

    Attributes:
        num: the job number (None for a lone run dir).
        dir: the job dir (None when the job never ran).
        status: ``complete``, ``failed``, ``interrupted``, ``running``, ``incomplete`` or
            ``missing`` (see :class:`sim.cli.sweep.JobState`).
        params: overridden key -> value as written (``detectors.audit.interval`` -> ``1w``).
        meta: ``run.json``; summary: ``summary.json`` (complete jobs only).
        error: the recorded error, or what is wrong with the dir.
    """

    num: int | None
    dir: Path | None
    status: str
    params: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    error: str = ""
    label: str = ""

    @property
    def complete(self) -> bool:
        return self.status == "complete" and self.summary is not None


@dataclass
class Collection:
    """Every job found under a dir.

    Attributes:
        root: the dir given.
        kind: ``sweep`` or ``run``.
        jobs: in job order.
        keys: every overridden key, in order of first appearance.
        swept: the keys with more than one value among the jobs (the sweep's axes).
        notes: warnings for the reader (mixed code, stale dirs).
    """

    root: Path
    kind: str
    jobs: list[Job]
    keys: list[str]
    swept: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> list[Job]:
        return [j for j in self.jobs if j.complete]


def parse_override(text: str) -> tuple[str, str]:
    """``(column, value)`` of one override: ``+detector@detectors.h=credential_hygiene`` gives
    ``("detector@detectors.h", "credential_hygiene")``; ``~detectors.external`` gives
    ``("detectors.external", "(deleted)")``."""
    body = text.lstrip("+~")
    if text.startswith("~"):
        key, _, value = body.partition("=")
        return key, f"(deleted{': ' + value if value else ''})"
    key, sep, value = body.partition("=")
    return key, value if sep else ""


def _params(overrides: Sequence[str] | None) -> dict[str, str]:
    return dict(parse_override(o) for o in overrides or ())


def _job_from_dir(d: Path, num: int | None) -> Job:
    state = job_state(d)
    meta = state.meta
    params = _params(job_overrides(d, meta))
    return Job(num=num, dir=d, status=state.status, params=params, meta=meta,
               summary=state.summary, error=state.error)


def collect(path: str | os.PathLike[str]) -> Collection:
    """Find and classify every job under ``path`` (a sweep dir or a run dir).

    A dir with ``run.json`` or ``replications.csv[.partial]`` is a run dir; one with
    ``sweep.json``, ``multirun.yaml`` or job dirs under it is a sweep dir. With a manifest
    (``sweep.json``, or one rebuilt from ``multirun.yaml``) jobs are matched to it by number
    and a job without a dir is ``missing``; job dirs the manifest does not list (left by an
    earlier, larger sweep into the same dir) are left out with a note.

    Raises:
        SweepError: ``path`` does not exist or is neither kind of dir.
    """
    root = Path(path)
    if not root.exists():
        raise SweepError(f"{root}: no such directory")
    if not root.is_dir():
        raise SweepError(f"{root}: not a directory (give a sweep dir or a run dir)")
    is_run = ((root / RUN_JSON).exists() or (root / "replications.csv").exists()
              or (root / "replications.csv.partial").exists())
    notes: list[str] = []
    if is_run:
        jobs = [_job_from_dir(root, None)]
        kind = "run"
    else:
        manifest = read_manifest(root)
        if manifest is not None:
            index = index_job_dirs(root)
            jobs = []
            for entry in manifest["jobs"]:
                num = int(entry["num"])
                expected = _params(entry.get("overrides"))
                if num in index:
                    job = _job_from_dir(index[num], num)
                    if job.params and job.params != expected:
                        job = Job(num, index[num], "missing", expected,
                                  error="its dir holds a different config (an earlier sweep)")
                    job.params = job.params or expected
                else:
                    job = Job(num, None, "missing", expected, error="never ran")
                jobs.append(job)
            extra = sorted(set(index) - {int(e["num"]) for e in manifest["jobs"]})
            if extra:
                notes.append(f"{len(extra)} job dir(s) not in this sweep's manifest left out "
                             f"(#{', #'.join(map(str, extra[:10]))}): from an earlier sweep")
        else:
            dirs = find_job_dirs(root)
            if not dirs:
                raise SweepError(f"{root}: neither a run dir (no run.json or replications.csv)"
                                 f" nor a sweep dir (no sweep.json, multirun.yaml or job dirs)")
            jobs = [_job_from_dir(d, int(d.name) if d.name.isdigit() else None) for d in dirs]
        kind = "sweep"
    jobs = [_read_check(j) for j in jobs]
    keys: list[str] = []
    for job in jobs:
        keys.extend(k for k in job.params if k not in keys)
    swept = [k for k in keys if len({j.params.get(k, "") for j in jobs}) > 1]
    digests = {j.meta.get("source_digest") for j in jobs if j.complete} - {None}
    if len(digests) > 1:
        notes.append(f"complete jobs were computed by {len(digests)} different versions of the "
                     f"code (source digests {', '.join(sorted(map(str, digests)))}); re-run "
                     f"with resume=false for one consistent set")
    coll = Collection(root, kind, jobs, keys, swept, notes)
    _label(coll)
    return coll


def _read_check(job: Job) -> Job:
    """A complete job whose ``summary.json`` lacks what the table needs is ``incomplete``."""
    if job.complete and "replications" not in (job.summary or {}):
        job.status, job.summary = "incomplete", None
        job.error = "summary.json lacks the summary fields"
    return job


def _label(coll: Collection) -> None:
    """Each job's legend label: its swept values, else its scenario."""
    seen: dict[str, int] = {}
    for job in coll.jobs:
        if coll.swept:
            label = ", ".join(f"{_short_key(k)}={job.params.get(k, '-')}" for k in coll.swept)
        else:
            label = str(job.meta.get("scenario") or (job.summary or {}).get("scenario")
                        or (job.dir.name if job.dir else "run"))
        seen[label] = seen.get(label, 0) + 1
        job.label = label if seen[label] == 1 else f"{label} (#{job.num})"


def _short_key(key: str) -> str:
    """``detectors.audit.interval`` -> ``audit.interval``; ``triage.analysts`` stays."""
    parts = key.split("@")[-1].split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else ".".join(parts)


# ----------------------------------------------------------------------------- table


def _get(d: Mapping[str, Any] | None, *path: Any) -> Any:
    for key in path:
        if d is None:
            return None
        if isinstance(d, Mapping):
            d = d.get(key)
        elif isinstance(d, (list, tuple)) and isinstance(key, int):
            d = d[key] if -len(d) <= key < len(d) else None
        else:
            return None
    return d


def dwell_text(summary: Mapping[str, Any]) -> str:
    """``4.8 mo (4.1 mo-5.5 mo)``; ``> 1.0 y`` when the median is beyond the horizon."""
    horizon = float(summary.get("horizon_hours") or math.inf)
    med = summary.get("km_median_dwell_hours")
    if med is None:
        return f"> {format_hours(horizon)}"
    lo = _get(summary, "km_median_ci95", 0)
    hi = _get(summary, "km_median_ci95", 1)
    lo_t = format_hours(lo) if lo is not None else "?"
    hi_t = format_hours(hi) if hi is not None else f"> {format_hours(horizon)}"
    return f"{format_hours(med)} ({lo_t}-{hi_t})"


def counts_text(counts: Mapping[str, Any] | None) -> str:
    return ";".join(f"{k}:{v}" for k, v in (counts or {}).items())


def job_row(job: Job, keys: Sequence[str]) -> dict[str, Any]:
    """One row of ``sweep.csv`` (values as Python data, None where not available)."""
    row: dict[str, Any] = {"job": job.num, "status": job.status}
    for key in keys:
        row[key] = job.params.get(key)
    meta = job.meta
    config = meta.get("config") or {}
    for key, value in (("scenario", meta.get("scenario")), ("seed", meta.get("seed")),
                       ("replications", config.get("replications"))):
        if key not in row:
            row[key] = value
    s = job.summary if job.complete else None
    metrics: dict[str, Any] = dict.fromkeys(METRIC_COLUMNS)
    if s is not None:
        if "replications" not in keys:  # an overridden key keeps its value as written (str)
            row["replications"] = s.get("replications")
        metrics.update({
            "horizon_hours": s.get("horizon_hours"),
            "detected_fraction": s.get("detected_fraction"),
            "detected_fraction_lo": _get(s, "detected_fraction_ci95", 0),
            "detected_fraction_hi": _get(s, "detected_fraction_ci95", 1),
            "censored": s.get("censored"),
            "dwell_km_median_hours": s.get("km_median_dwell_hours"),
            "dwell_km_median_lo_hours": _get(s, "km_median_ci95", 0),
            "dwell_km_median_hi_hours": _get(s, "km_median_ci95", 1),
            "dwell_km_median_text": dwell_text(s),
            "records_median": _get(s, "records_exfiltrated", "median"),
            "records_median_lo": _get(s, "records_exfiltrated", "median_ci95", 0),
            "records_median_hi": _get(s, "records_exfiltrated", "median_ci95", 1),
            "records_mean": _get(s, "records_exfiltrated", "mean"),
            "records_mean_lo": _get(s, "records_exfiltrated", "ci95", 0),
            "records_mean_hi": _get(s, "records_exfiltrated", "ci95", 1),
            "detected_by": counts_text(s.get("detected_by")),
            "access_ended_by": counts_text(s.get("access_ended_by")),
            "true_alerts_mean": _get(s, "alerts", "true_mean"),
            "false_alerts_mean": _get(s, "alerts", "false_mean"),
            "alerts_dropped_mean": _get(s, "alerts", "dropped_mean"),
            "mean_triage_wait_hours": s.get("mean_triage_wait_hours"),
            "analyst_utilisation": s.get("analyst_utilisation"),
        })
        for w in WINDOWS:
            metrics[f"p_detected_{w}"] = _get(s, "p_detected_within", w, "estimate")
            metrics[f"p_detected_{w}_lo"] = _get(s, "p_detected_within", w, "ci95", 0)
            metrics[f"p_detected_{w}_hi"] = _get(s, "p_detected_within", w, "ci95", 1)
    row.update(metrics)
    row.update({"error": job.error or None, "dir": None, "config_hash": meta.get("config_hash"),
                "version": meta.get("version"), "source_digest": meta.get("source_digest"),
                "runtime_s": meta.get("runtime_s")})
    return row


def table(coll: Collection) -> list[dict[str, Any]]:
    """The rows of ``sweep.csv``: one per job, in job order (see the module docstring)."""
    rows = []
    for job in coll.jobs:
        row = job_row(job, coll.keys)
        if job.dir is not None:
            rel = os.path.relpath(job.dir, coll.root)
            row["dir"] = rel
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)


#: Atomic writes live in :mod:`sim.core.atomic`; kept under this name for callers of the report.
write_atomic = atomic.write_bytes


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Write ``rows`` (same keys each) as CSV, atomically; floats to 6 significant digits."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = list(rows[0]) if rows else ["job", "status"]
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    write_atomic(path, buf.getvalue().encode("utf-8"))


def _one_type(values: list[Any]) -> list[Any]:
    """A column's values with one Arrow type: when strings mix with numbers or booleans (a
    value as written on the command line beside a number from a summary), every value that is
    not None becomes its CSV text; numbers alone (ints and floats) stay numbers."""
    kinds = {type(v) for v in values if v is not None}
    if str in kinds and len(kinds) > 1:
        return [None if v is None else _cell(v) if not isinstance(v, str) else v
                for v in values]
    if bool in kinds and len(kinds) > 1:
        return [None if v is None else _cell(v) for v in values]
    return values


def write_parquet(rows: Sequence[Mapping[str, Any]], path: Path) -> bool:
    """Write ``rows`` as Parquet if pyarrow is installed (atomically); False if it is not."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    columns = list(rows[0]) if rows else ["job", "status"]
    data = {c: _one_type([row.get(c) for row in rows]) for c in columns}
    tbl = pa.table({c: pa.array(v, from_pandas=True) if any(x is not None for x in v)
                    else pa.array(v, type=pa.string()) for c, v in data.items()})
    buf = pa.BufferOutputStream()
    pq.write_table(tbl, buf)
    write_atomic(path, buf.getvalue().to_pybytes())
    return True


# ----------------------------------------------------------------------------- figures

#: Round units first (each kept if at least 13% of the axis from the others), then the
#: in-between ones where there is room (12%).
_TIME_TICKS: tuple[tuple[float, str], ...] = (  # in order of preference
    (HOUR, "1 h"), (DAY, "1 d"), (MONTH, "1 mo"), (YEAR, "1 y"), (MINUTE, "1 min"),
    (WEEK, "1 w"), (10 * YEAR, "10 y"),
)
_TIME_TICKS_MINOR: tuple[tuple[float, str], ...] = (
    (10 * MINUTE, "10 min"), (6 * HOUR, "6 h"), (3 * MONTH, "3 mo"), (6 * MONTH, "6 mo"),
    (2 * YEAR, "2 y"), (5 * YEAR, "5 y"),
)


def time_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Labelled ticks in real units (1 min ... 10 y) inside ``[lo, hi]`` hours, none crowding
    another; ``lo`` and ``hi`` themselves when fewer than two round units fall inside."""
    span = math.log10(hi / lo) if hi > lo > 0 else 1.0
    kept: list[tuple[float, str]] = []
    for ticks, share in ((_TIME_TICKS, 0.13), (_TIME_TICKS_MINOR, 0.12)):
        for v, label in ticks:
            if lo <= v <= hi and all(abs(math.log10(v / k)) >= share * span for k, _ in kept):
                kept.append((v, label))
    if len(kept) < 2:
        kept = [(lo, format_hours(lo)), (hi, format_hours(hi))]
    return sorted(kept)


def time_axis(ax: Any, lo: float, hi: float, which: str = "x") -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    ticks = time_ticks(lo, hi)
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    (ax.set_xlim if which == "x" else ax.set_ylim)(lo, hi)
    axis.set_major_locator(FixedLocator([v for v, _ in ticks]))
    (ax.set_xticks if which == "x" else ax.set_yticks)([v for v, _ in ticks],
                                                        [s for _, s in ticks])
    axis.set_minor_locator(NullLocator())


def records_label(value: float) -> str:
    """``512``, ``12K``, ``3.4M``, ``1.2B`` records (two significant digits at most)."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= scale:
            v = value / scale
            return f"{v:.1f}{suffix}" if v < 10 and not float(v).is_integer() else \
                f"{v:.0f}{suffix}"
    return f"{value:.0f}"


def records_axis(ax: Any, lo: float, hi: float) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator

    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ticks = [10.0 ** k for k in range(0, 13) if lo <= 10.0 ** k <= hi]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.set_yticks(ticks, [records_label(t) for t in ticks])
    ax.yaxis.set_minor_locator(NullLocator())


def _colours(n: int) -> list[Any]:
    if n <= len(_COLOURS):
        return list(_COLOURS[:n])
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(n - 1, 1) * 0.95) for i in range(n)]


def style_axes(ax: Any) -> None:
    ax.grid(True, color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


def save_figure(fig: Any, path: Path) -> Path:
    return atomic.save_figure(fig, path, dpi=150)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "key"


def _as_number(values: Sequence[str]) -> list[float] | None:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def plot_dwell_vs(coll: Collection, key: str, path: Path) -> Path | None:
    """``dwell_vs_KEY.png``: KM median dwell (95% CI) against ``key``, one line per combination
    of the other swept keys. None when no complete job has a median or an interval to show."""
    from matplotlib.figure import Figure

    jobs = coll.complete
    if not jobs:
        return None
    values: list[str] = []
    for j in coll.jobs:  # sweep order
        v = j.params.get(key, "")
        if v not in values:
            values.append(v)
    numeric = _as_number(values)
    position = dict(zip(values, numeric if numeric else range(len(values)), strict=True))
    others = [k for k in coll.swept if k != key]
    series: dict[tuple[str, ...], list[Job]] = {}
    for j in jobs:
        series.setdefault(tuple(j.params.get(k, "") for k in others), []).append(j)
    horizons = [float(j.summary["horizon_hours"]) for j in jobs if j.summary]
    horizon = max(horizons) if horizons else YEAR
    meds = [j.summary.get("km_median_dwell_hours") for j in jobs if j.summary]
    ci = [_get(j.summary, "km_median_ci95", i) for j in jobs for i in (0, 1)]
    pts = [v for v in meds + ci if v]
    lo = max(min(pts) / 2.5, MINUTE) if pts else horizon / 100
    open_ended = None in meds or None in ci or (pts and max(pts) > horizon / 3)
    hi = horizon * 1.6 if open_ended or not pts else max(pts) * 2.5
    fig = Figure(figsize=(6.8, 4.2), dpi=150, layout="constrained")
    ax = fig.subplots()
    colours = _colours(len(series))
    width = 0.5 if not numeric else 0.0
    for i, (combo, members) in enumerate(series.items()):
        members = sorted(members, key=lambda j: position[j.params.get(key, "")])
        shift = ((i - (len(series) - 1) / 2) * width / max(len(series), 1)
                 if not numeric else 0.0)
        xs, ys, ylo, yhi, reached = [], [], [], [], []
        for j in members:
            s = j.summary or {}
            med = s.get("km_median_dwell_hours")
            xs.append(position[j.params.get(key, "")] + shift)
            reached.append(med is not None)
            ys.append(med if med is not None else horizon)
            ci_lo = _get(s, "km_median_ci95", 0)
            ci_hi = _get(s, "km_median_ci95", 1)
            ylo.append(ci_lo if ci_lo is not None else ys[-1])
            yhi.append(ci_hi if ci_hi is not None else hi)
        label = (combo[0] if len(others) == 1 else
                 ", ".join(f"{_short_key(k)}={v}" for k, v in zip(others, combo, strict=True)))
        c = colours[i]
        x, y = np.array(xs, dtype=float), np.array(ys, dtype=float)
        ok = np.array(reached)
        if numeric and len(xs) > 1:
            ax.fill_between(x, ylo, yhi, color=c, alpha=0.15, linewidth=0)
        ax.plot(x, y, color=c, linewidth=1.2, alpha=0.8 if numeric else 0.5,
                linestyle="-" if numeric else ":")
        ax.errorbar(x[ok], y[ok], yerr=[y[ok] - np.array(ylo)[ok], np.array(yhi)[ok] - y[ok]],
                    fmt="o", ms=5, color=c, capsize=3, label=label or "median dwell")
        if (~ok).any():
            ax.plot(x[~ok], y[~ok], linestyle="none", marker="^", ms=7, color=c,
                    markerfacecolor="white")
    if open_ended:
        ax.axhline(horizon, color="0.5", linestyle=":", linewidth=0.8)
        ax.annotate(f"horizon {format_hours(horizon)} (\u25b3: median beyond it)",
                    (0.01, horizon * 1.08), xycoords=("axes fraction", "data"), fontsize=7,
                    color="0.35")
    time_axis(ax, lo, hi, "y")
    if not numeric:
        ax.set_xticks(range(len(values)), values)
        ax.set_xlim(-0.6, len(values) - 0.4)
    elif len(values) <= 12:
        ax.set_xticks(numeric, values)
    ax.set_xlabel(key)
    ax.set_ylabel("median dwell, first access to detection\n(Kaplan-Meier, 95% CI; log scale)",
                  fontsize=8.5)
    style_axes(ax)
    handles, labels = ax.get_legend_handles_labels()
    if others and handles:
        ax.legend(fontsize=7, frameon=False, title=", ".join(_short_key(k) for k in others),
                  title_fontsize=7, loc="best")
    ax.set_title(f"Time to detection against {key}", fontsize=10)
    return save_figure(fig, path)


def job_replications(job: Job) -> list[Any]:
    from sim.outputs.results import read_replications

    assert job.dir is not None
    return read_replications(job.dir / "replications.csv")


def plot_survival(coll: Collection, rows: Mapping[int, list[Any]], path: Path) -> Path | None:
    """``survival.png``: one Kaplan-Meier curve (with its 95% band when at most 8 jobs) per
    complete job, on a log time axis in real units."""
    from matplotlib.figure import Figure

    jobs = [j for j in coll.complete if rows.get(id(j))]
    if not jobs:
        return None
    all_dwell = np.concatenate([[r.dwell_hours for r in rows[id(j)]] for j in jobs])
    positive = all_dwell[all_dwell > 0]
    lo = max(float(positive.min()) / 1.5 if positive.size else MINUTE, MINUTE)
    hi = max(float(all_dwell.max()), lo * 10) * 1.3
    fig = Figure(figsize=(7.0, 4.6 + 0.12 * len(jobs)), dpi=150, layout="constrained")
    ax = fig.subplots()
    colours = _colours(len(jobs))
    bands = len(jobs) <= 8
    for j, c in zip(jobs, colours, strict=True):
        reps = rows[id(j)]
        t = np.array([r.dwell_hours for r in reps], dtype=float)
        e = np.array([r.detected for r in reps], dtype=bool)
        km = stats.kaplan_meier(t, e)
        xs = np.concatenate(([lo], np.clip(km.times, lo, None), [max(km.max_time, lo)]))
        ys = np.concatenate(([1.0], km.survival, [km.survival[-1] if km.survival.size else 1.0]))
        ax.step(xs, ys, where="post", color=c, linewidth=1.5, label=j.label)
        if bands and km.times.size:
            bl = np.concatenate(([1.0], km.lower, [km.lower[-1]]))
            bu = np.concatenate(([1.0], km.upper, [km.upper[-1]]))
            ax.fill_between(xs, bl, bu, step="post", color=c, alpha=0.15, linewidth=0)
    ax.axhline(0.5, color="0.6", linewidth=0.7, linestyle=":")
    time_axis(ax, lo, hi, "x")
    ax.set_ylim(-0.02, 1.03)
    ax.set_xlabel("time since the insider's first access (log scale)")
    ax.set_ylabel("P(insider still undetected)")
    ax.set_title("Kaplan-Meier survival per arm" + (" (95% bands)" if bands else ""),
                 fontsize=10)
    style_axes(ax)
    _legend_below(fig, ax, len(jobs))
    return save_figure(fig, path)


def _legend_below(fig: Any, ax: Any, n: int) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        longest = max(len(lbl) for lbl in labels)
        ncol = max(1, min(n, 3 if longest < 28 else 2 if longest < 45 else 1))
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=7,
                   frameon=False)


def plot_records_vs_dwell(coll: Collection, rows: Mapping[int, list[Any]],
                          path: Path) -> Path | None:
    """``records_vs_dwell.png``: records exfiltrated against dwell, one dot per replication
    (open triangles: undetected at the horizon), coloured by job; a diamond per job at
    (KM median dwell, median records)."""
    from matplotlib.figure import Figure

    jobs = [j for j in coll.complete if rows.get(id(j))]
    if not jobs:
        return None
    dwell = np.concatenate([[r.dwell_hours for r in rows[id(j)]] for j in jobs])
    recs = np.concatenate([[r.records_exfiltrated for r in rows[id(j)]] for j in jobs])
    positive = dwell[dwell > 0]
    xlo = max(float(positive.min()) / 1.5 if positive.size else MINUTE, MINUTE)
    xhi = max(float(dwell.max()), xlo * 10) * 1.4
    zero = bool((recs < 1).any())
    ylo = 0.6 if zero else max(float(recs.min()) / 2, 0.6)
    yhi = max(float(recs.max()) * 2.5, ylo * 100)
    fig = Figure(figsize=(7.0, 4.8 + 0.12 * len(jobs)), dpi=150, layout="constrained")
    ax = fig.subplots()
    colours = _colours(len(jobs))
    alpha = float(np.clip(30 / math.sqrt(max(len(dwell), 1)), 0.08, 0.7))
    for j, c in zip(jobs, colours, strict=True):
        reps = rows[id(j)]
        t = np.clip([r.dwell_hours for r in reps], xlo, None)
        n = np.maximum([r.records_exfiltrated for r in reps], 1)
        det = np.array([r.detected for r in reps], dtype=bool)
        ax.scatter(t[det], n[det], s=7, color=c, alpha=alpha, linewidths=0)
        if (~det).any():
            ax.scatter(t[~det], n[~det], s=14, marker="^", facecolors="none", edgecolors=c,
                       alpha=min(1.0, alpha * 1.5), linewidths=0.7)
        s = j.summary or {}
        med_t = s.get("km_median_dwell_hours")
        med_n = _get(s, "records_exfiltrated", "median")
        if med_n is not None:
            ax.scatter([med_t if med_t is not None else float(np.max(t))], [max(med_n, 1)],
                       s=70, marker="D", color=c, edgecolors="black", linewidths=0.8, zorder=5,
                       label=j.label)
    time_axis(ax, xlo, xhi, "x")
    records_axis(ax, ylo, yhi)
    ax.set_xlabel("dwell, first access to detection (log scale; \u25b3: undetected at the "
                  "horizon)", fontsize=8.5)
    ax.set_ylabel("records exfiltrated (log scale" + ("; 0 drawn at 1)" if zero else ")"))
    ax.set_title("Records taken against time to detection (◆ medians per arm)", fontsize=10)
    style_axes(ax)
    _legend_below(fig, ax, len(jobs))
    return save_figure(fig, path)


# ----------------------------------------------------------------------------- report


@dataclass
class Report:
    """What :func:`build_report` wrote and found."""

    collection: Collection
    rows: list[dict[str, Any]]
    written: list[Path]


def build_report(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
                 figures: bool = True) -> Report:
    """Collect the jobs under ``path`` and write the table and figures into ``out``.

    Args:
        path: a sweep dir or a run dir.
        out: where to write (created if missing); default ``path``.
        figures: draw the figures (the table is always written).

    Raises:
        SweepError: ``path`` is not a sweep or run dir, or ``out`` cannot be written.
    """
    coll = collect(path)
    out_dir = Path(out) if out is not None else coll.root
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepError(f"{out_dir}: cannot create the output dir ({exc.strerror})") from None
    reps: dict[int, list[Any]] = {}
    if figures:
        from sim.outputs.results import ResultsFileError

        for job in coll.complete:
            try:
                reps[id(job)] = job_replications(job)
            except (ResultsFileError, OSError) as exc:
                job.status, job.summary = "incomplete", None
                job.error = f"replications.csv unreadable: {str(exc).splitlines()[0]}"
    rows = table(coll)
    written: list[Path] = []
    try:
        write_csv(rows, out_dir / SWEEP_CSV)
        written.append(out_dir / SWEEP_CSV)
        if write_parquet(rows, out_dir / SWEEP_PARQUET):
            written.append(out_dir / SWEEP_PARQUET)
        if figures:
            for key in coll.swept:
                p = plot_dwell_vs(coll, key, out_dir / f"dwell_vs_{_safe(key)}.png")
                if p:
                    written.append(p)
            for p in (plot_survival(coll, reps, out_dir / SURVIVAL_PNG),
                      plot_records_vs_dwell(coll, reps, out_dir / RECORDS_PNG)):
                if p:
                    written.append(p)
        policy_jobs = [j for j in coll.complete if policy_report.has_policy(j.summary or {})]
        if policy_jobs:  # a sweep with regime=: the mandate comparison beside sweep.csv
            arms = [policy_report.row_from_summary(
                j.summary or {}, arm=str(j.num if j.num is not None else j.label),
                label=j.label) for j in policy_jobs]
            if figures:
                written.extend(policy_report.render(
                    arms, out_dir, title=f"Mandate comparison: {coll.root.name}").values())
            else:
                written.append(policy_report.write_table(arms, out_dir / policy_report.TABLE_CSV))
    except OSError as exc:
        raise SweepError(f"{out_dir}: cannot write the report ({exc.strerror or exc})") from None
    return Report(coll, rows, written)


def describe(report: Report) -> str:
    """The lines printed by ``python -m sim.report``."""
    coll = report.collection
    counts: dict[str, int] = {}
    for j in coll.jobs:
        counts[j.status] = counts.get(j.status, 0) + 1
    what = "sweep" if coll.kind == "sweep" else "run"
    lines = [f"{what} {coll.root}: {len(coll.jobs)} job{'s' * (len(coll.jobs) != 1)}: "
             + ", ".join(f"{n} {s}" for s, n in counts.items())]
    if coll.swept:
        lines.append("  swept: " + ", ".join(
            f"{k} ({len({j.params.get(k) for j in coll.jobs})} values)" for k in coll.swept))
    for j in coll.jobs:
        if j.status != "complete":
            where = f"#{j.num}" if j.num is not None else str(j.dir)
            params = " ".join(f"{k}={v}" for k, v in j.params.items())
            lines.append(f"  {where} {j.status}: {params}: {j.error}".rstrip(": "))
    for note in coll.notes:
        lines.append(f"  note: {note}")
    if report.written:
        out = report.written[0].parent
        lines.append(f"wrote {', '.join(p.name for p in report.written)} in {out}")
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``error: ...``) and exit code 2."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        print(f"error: {message} (usage: python -m sim.report DIR [--out OUT] [--pool])",
              file=sys.stderr)
        raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.report DIR [--out OUT] [--no-figures] [--pool]``; returns the exit
    code."""
    parser = _Parser(
        prog="python -m sim.report",
        description="Collect a sweep (or one run) into sweep.csv and the standard figures; "
                    "with --pool, join the shards of a sharded job into one run dir.")
    parser.add_argument("dir", help="a sweep dir (multirun/DATE) or a run dir")
    parser.add_argument("--out", help="where to write (default: DIR; with --pool DIR/pooled)")
    parser.add_argument("--no-figures", action="store_true", help="write only the table")
    parser.add_argument("--pool", action="store_true",
                        help="join the shards (jobs run with shards=K shard=I) into one "
                             "replications.csv and summary.json, as the unsharded job")
    args = parser.parse_args(argv)
    if args.pool:
        return _pool_main(args.dir, args.out, figures=not args.no_figures)
    try:
        report = build_report(args.dir, args.out, figures=not args.no_figures)
    except SimError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(describe(report))
    return 0


def _pool_main(path: str, out: str | None, *, figures: bool) -> int:
    """``python -m sim.report --pool DIR``: one line per pooled job, or one ``error:`` line."""
    from sim.outputs.pool import pool_sweep
    from sim.outputs.results import format_summary

    try:
        pooled = pool_sweep(path, out, figures=figures)
    except SimError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for target, summary, shards in pooled:
        print(f"pooled {len(shards)} shards ({', '.join(f'#{s.num}' for s in shards[:8])}"
              f"{', ...' if len(shards) > 8 else ''}) into {target}")
        print(format_summary(summary, scenario=str(summary.get("scenario", "")),
                             run_dir=str(target)))
    return 0
