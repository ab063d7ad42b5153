"""Five months against hours: the Coupang breach under the controls it had, and under others.

Runs one Hydra multirun (``python -m sim --multirun``, joblib launcher) over nineteen arms -
the controls Coupang had (``coupang_2025``), audits every week and every day, quarterly key
rotation, and continuous monitoring (``coupang_2025_monitored``) with 1, 2 and 5 analysts and,
at a more sensitive threshold, with 1 and 5, each monitoring arm under the three triage
disciplines (first come first served, priority by score, risk-based cases) -
all with the same seed (common random numbers: every arm meets the same insider), then
tabulates and draws them with :mod:`sim.outputs.report`.

    python experiments/five_months_vs_hours/run.py            # full study (~40 s on 2 cores)
    python experiments/five_months_vs_hours/run.py --quick    # 60 replications per arm
    python experiments/five_months_vs_hours/run.py --arms baseline,monitoring_5 --out DIR

``--arms`` runs a subset at full size: its rows are the committed rows of those arms, byte for
byte (the arms share one seed but not one stream, so an arm's row does not depend on which
others run); the test suite checks the committed table that way without the whole study.

Writes ``five_months_vs_hours.csv`` and ``.md`` (one row per arm),
``five_months_vs_hours.png`` (median dwell and median records per arm), ``survival.png`` and
``records_vs_dwell.png`` into ``results/`` (``--quick``: ``runs/quick/results/``; or ``--out``).
The job dirs go to ``runs/`` (not committed). Each run starts afresh, so the results always
come from the current code; ``--resume`` keeps the jobs a killed run finished.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from sim.core.timeunits import MINUTE, MONTH, YEAR, format_hours  # noqa: E402
from sim.outputs import report  # noqa: E402

#: arm -> (group, label); the order of the table and the figure.
ARMS: dict[str, tuple[str, str]] = {
    "baseline": ("What Coupang had", "monthly audit + volume rules + outside discovery"),
    "audit_weekly": ("Audit more often", "weekly audit"),
    "audit_daily": ("Audit more often", "daily audit"),
    "key_rotation": ("Rotate keys", "quarterly rotation of keys over 1 year old"),
    "monitoring_1": ("Monitor continuously", "monitoring, 1 analyst 24/7"),
    "monitoring_1_priority": ("Monitor continuously", "monitoring, 1 analyst, priority"),
    "monitoring_1_risk": ("Monitor continuously", "monitoring, 1 analyst, risk-based"),
    "monitoring_2": ("Monitor continuously", "monitoring, 2 analysts 24/7"),
    "monitoring_2_priority": ("Monitor continuously", "monitoring, 2 analysts, priority"),
    "monitoring_2_risk": ("Monitor continuously", "monitoring, 2 analysts, risk-based"),
    "monitoring_5": ("Monitor continuously", "monitoring, 5 analysts 24/7"),
    "monitoring_5_priority": ("Monitor continuously", "monitoring, 5 analysts, priority"),
    "monitoring_5_risk": ("Monitor continuously", "monitoring, 5 analysts, risk-based"),
    "monitoring_t4_1": ("Monitor, more sensitive",
                        "threshold 4 (~300 false alarms/day), 1 analyst"),
    "monitoring_t4_1_priority": ("Monitor, more sensitive", "threshold 4, 1 analyst, priority"),
    "monitoring_t4_1_risk": ("Monitor, more sensitive", "threshold 4, 1 analyst, risk-based"),
    "monitoring_t4_5": ("Monitor, more sensitive",
                        "threshold 4 (~300 false alarms/day), 5 analysts"),
    "monitoring_t4_5_priority": ("Monitor, more sensitive",
                                 "threshold 4, 5 analysts, priority"),
    "monitoring_t4_5_risk": ("Monitor, more sensitive", "threshold 4, 5 analysts, risk-based"),
}


def discipline(arm: str) -> str:
    """The triage discipline of an arm (fifo unless its name says otherwise)."""
    return ("priority" if arm.endswith("_priority") else
            "risk_based" if arm.endswith("_risk") else "fifo")

SEED = 2025
REPLICATIONS = 2000
QUICK_REPLICATIONS = 60
HORIZON = "2y"  # long enough for the Kaplan-Meier median of every arm to be reached
NAME = "five_months_vs_hours"


def run_sweep(sweep_dir: Path, replications: int, seed: int, jobs: int,
              arms: list[str]) -> None:
    """The one command behind the study: a multirun over ``arms`` into ``sweep_dir``."""
    cmd = [sys.executable, "-m", "sim", "--multirun", f"--config-dir={HERE / 'conf'}",
           "hydra/launcher=local", f"hydra.launcher.n_jobs={jobs}",
           f"hydra.sweep.dir={sweep_dir}", f"+arm={','.join(arms)}",
           f"replications={replications}", f"seed={seed}", f"horizon={HORIZON}",
           "output.plot=false"]
    print("$ " + " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(("job ", "sweep ")):
            print(line, flush=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"error: the sweep failed (exit {proc.returncode}); see {sweep_dir}")


def arm_rows(coll: report.Collection, arms: list[str]) -> list[dict]:
    """One row per arm of ``arms`` (in :data:`ARMS` order), from each job's ``summary.json``."""
    by_arm = {job.params.get("arm"): job for job in coll.jobs}
    rows = []
    for arm, (group, label) in ARMS.items():
        if arm not in arms:
            continue
        job = by_arm.get(arm)
        if job is None or not job.complete:
            status = job.status if job else "missing"
            raise SystemExit(f"error: arm {arm} did not complete ({status}); see {coll.root}")
        s = job.summary
        n = s["replications"]
        ci = s.get("km_median_ci95") or [None, None]
        rec = s["records_exfiltrated"]
        ended = s.get("access_ended_by", {})
        within = s["p_detected_within"]
        team = s.get("triage") or {}
        rows.append({
            "arm": arm, "group": group, "controls": label, "replications": n,
            "triage_discipline": discipline(arm) if team else None,
            "detected_within_horizon": s["detected_fraction"],
            "median_dwell_hours": s.get("km_median_dwell_hours"),
            "median_dwell_lo_hours": ci[0], "median_dwell_hi_hours": ci[1],
            "median_dwell": report.dwell_text(s),
            "p_detected_24h": within["24h"]["estimate"],
            "p_detected_30d": within["30d"]["estimate"],
            "median_records": rec["median"],
            "median_records_lo": (rec.get("median_ci95") or [None, None])[0],
            "median_records_hi": (rec.get("median_ci95") or [None, None])[1],
            "mean_records": rec["mean"],
            "access_cut_by_rotation": ended.get("hygiene", 0) / n,
            "detected_by": report.counts_text(s.get("detected_by")),
            # the analyst team (summary.json["triage"], sim.controls.triage.team_summary)
            "offered_load": team.get("offered_load"),
            "utilisation": team.get("utilisation"),
            "mean_wait_hours": team.get("mean_wait_hours"),
            "dropped_fraction": team.get("dropped_fraction"),
            "overloaded": team.get("overloaded"),
        })
    return rows


def _fmt(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else ""
    return str(v)


def write_table(rows: list[dict], out: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow([_fmt(v) for v in row.values()])
    report.write_atomic(out / f"{NAME}.csv", buf.getvalue().encode())

    def records(v: float | None) -> str:
        if v is None:
            return "n/a"
        for scale, suffix in ((1e6, "M"), (1e3, "K")):
            if v >= scale:
                return f"{v / scale:.{1 if v < 10 * scale else 0}f}{suffix}"
        return f"{v:.0f}"

    lines = ["| controls | median time to detection (95% CI) | detected within 30 days "
             "| median records taken (95% CI) | access cut by key rotation "
             "| analysts' offered load | alerts (cases) aged out |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["median_records_lo"], r["median_records_hi"]
        rec_ci = f" ({records(lo)}-{records(hi)})" if lo is not None else ""
        p30 = r["p_detected_30d"]
        load, drop = r["offered_load"], r["dropped_fraction"]
        load_text = "" if load is None else f"{load:.2f}" + (" (overloaded)" if load >= 1 else "")
        drop_text = "" if drop is None else f"{100 * drop:.0f}%"
        lines.append(f"| {r['controls']} | {r['median_dwell']} | "
                     f"{'n/a' if p30 is None else f'{100 * p30:.0f}%'} | "
                     f"{records(r['median_records'])}{rec_ci} | "
                     f"{100 * r['access_cut_by_rotation']:.0f}% | {load_text} | {drop_text} |")
    n = rows[0]["replications"]
    lines.append("")
    lines.append(f"{n} replications per arm, seed {SEED} (common random numbers), horizon "
                 f"{HORIZON}; Kaplan-Meier medians with Brookmeyer-Crowley 95% intervals, "
                 f"order-statistic intervals for the median of records. Offered load: false "
                 f"alarms (risk-based: cases) per hour x mean triage time / analysts on shift; "
                 f"aged out: share of the warm-up week's alerts (cases) never reviewed.")
    report.write_atomic(out / f"{NAME}.md", ("\n".join(lines) + "\n").encode())


def plot(rows: list[dict], path: Path) -> None:
    """Two panels sharing the arms: median dwell (log time axis) and median records taken."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    fig = Figure(figsize=(8.6, 7.2), dpi=150, layout="constrained")
    ax_t, ax_r = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.25, 1.0]})
    colours = {"What Coupang had": "#D55E00", "Audit more often": "#E69F00",
               "Rotate keys": "#009E73", "Monitor continuously": "#0072B2",
               "Monitor, more sensitive": "#CC79A7"}
    ys = list(range(len(rows)))[::-1]
    markers = {"fifo": "o", "priority": "^", "risk_based": "D", None: "o"}
    for y, r in zip(ys, rows, strict=True):
        c = colours[r["group"]]
        mk = markers[r["triage_discipline"]]
        med = r["median_dwell_hours"]
        lo, hi = r["median_dwell_lo_hours"], r["median_dwell_hi_hours"]
        if med is not None:
            ax_t.errorbar([med], [y], xerr=[[med - (lo or med)], [(hi or med) - med]], fmt=mk,
                          ms=6, color=c, capsize=3)
            ax_t.annotate(format_hours(med), (med, y), xytext=(0, 7),
                          textcoords="offset points", ha="center", fontsize=7.5, color=c)
        m, mlo, mhi = r["median_records"], r["median_records_lo"], r["median_records_hi"]
        ax_r.errorbar([m], [y], xerr=[[m - (mlo or m)], [(mhi or m) - m]], fmt=mk, ms=6,
                      color=c, capsize=3)
        ax_r.annotate(report.records_label(m), (m, y), xytext=(0, 7),
                      textcoords="offset points", ha="center", fontsize=7.5, color=c)
    report.time_axis(ax_t, 10 * MINUTE, 2 * YEAR, "x")
    ax_t.axvspan(4 * MONTH, 6 * MONTH, color="#D55E00", alpha=0.08, linewidth=0)
    ax_t.text(5 * MONTH, -0.5, "real breach:\n~147 days", ha="center", va="bottom",
              fontsize=7, color="#D55E00")
    ax_t.set_yticks(ys, [r["controls"] for r in rows], fontsize=8)
    ax_t.set_ylim(-0.6, len(rows) - 0.3)
    ax_t.set_xlabel("median time to detection\n(Kaplan-Meier, 95% CI; log scale)",
                    fontsize=8.5)
    ax_r.set_xscale("log")
    top = max(r["median_records_hi"] or r["median_records"] for r in rows)
    bottom = min(r["median_records_lo"] or r["median_records"] for r in rows)
    ticks = [10.0 ** k for k in range(3, 9) if bottom / 3 <= 10.0 ** k <= top * 3]
    ax_r.set_xlim(bottom / 3, top * 3)
    ax_r.set_xticks(ticks, [report.records_label(t) for t in ticks])
    ax_r.xaxis.set_minor_locator(NullLocator())
    ax_r.set_xlabel("median records taken\n(95% CI; log scale)", fontsize=8.5)
    for ax in (ax_t, ax_r):
        report.style_axes(ax)
    handles = [Line2D([], [], color=c, marker="o", linestyle="none", label=g)
               for g, c in colours.items()]
    handles += [Line2D([], [], color="#555555", marker=markers[d], linestyle="none",
                       label=f"triage: {d.replace('_', '-')}")
                for d in ("fifo", "priority", "risk_based")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=7.5,
               frameon=False)
    n = rows[0]["replications"]
    fig.suptitle(f"The Coupang insider under different controls ({n} replications per arm)",
                 fontsize=10.5)
    report.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_REPLICATIONS} replications per arm, into runs/quick/")
    parser.add_argument("--out", type=Path, help="where to write the results "
                        "(default results/, or runs/quick/results/ with --quick)")
    parser.add_argument("--runs", type=Path, help="the sweep dir for the job dirs "
                        "(default runs/full, or runs/quick with --quick)")
    parser.add_argument("--jobs", type=int, default=2, help="arms run at once (joblib)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the arms a killed run finished (default: start afresh)")
    parser.add_argument("--arms", help="comma-separated arms to run (default: all nineteen); "
                        "a subset must go to --out, never over results/")
    args = parser.parse_args(argv)
    arms = list(ARMS)
    if args.arms is not None:
        arms = [a.strip() for a in args.arms.split(",") if a.strip()]
        unknown = [a for a in arms if a not in ARMS]
        if unknown or not arms:
            print(f"error: --arms: unknown arm {', '.join(unknown) or '(none given)'}; "
                  f"allowed: {', '.join(ARMS)}", file=sys.stderr)
            return 2
        if args.out is None and not args.quick:
            print("error: --arms: a subset of the arms needs --out (results/ holds all of them)",
                  file=sys.stderr)
            return 2
    replications = QUICK_REPLICATIONS if args.quick else REPLICATIONS
    sweep_dir = (args.runs or HERE / "runs" / ("quick" if args.quick else "full")).resolve()
    out = args.out or (sweep_dir / "results" if args.quick else HERE / "results")
    if sweep_dir.exists() and not args.resume:
        if any(sweep_dir.iterdir()) and not ((sweep_dir / "sweep.json").exists()
                                             or (sweep_dir / "multirun.yaml").exists()):
            raise SystemExit(f"error: {sweep_dir} is not empty and not a sweep dir; "
                             f"refusing to delete it")
        shutil.rmtree(sweep_dir)
    run_sweep(sweep_dir, replications, SEED, args.jobs, arms)
    coll = report.collect(sweep_dir)
    rows = arm_rows(coll, arms)
    out.mkdir(parents=True, exist_ok=True)
    write_table(rows, out)
    plot(rows, out / f"{NAME}.png")
    reps = {id(j): report.job_replications(j) for j in coll.complete}
    for job in coll.jobs:
        job.label = ARMS[job.params["arm"]][1]
    report.plot_survival(coll, reps, out / report.SURVIVAL_PNG)
    report.plot_records_vs_dwell(coll, reps, out / report.RECORDS_PNG)
    for r in rows:
        print(f"{r['controls']:<50} dwell {r['median_dwell']:<28} records "
              f"{report.records_label(r['median_records'])}")
    print(f"wrote {NAME}.csv, {NAME}.md, {NAME}.png, survival.png, records_vs_dwell.png "
          f"in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
