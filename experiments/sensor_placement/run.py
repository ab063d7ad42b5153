"""Sensor placement: where a monitor sits decides whether it sees the insider, and how often it
cries wolf.

Two studies, each a set of arms run as ordinary ``python -m sim`` runs (one run dir per arm,
common random numbers: every arm meets the same insiders):

A. **Placement on the Coupang network.** The controls of ``coupang_2025_monitored`` (monthly
   audit, outside discovery, five analysts 24/7; the per-IP volume rules are left out so that
   the monitor's own effect shows) with the behavioural monitor at one place at a time: the
   API gateway, the key service that validates tokens, the address API, the customer
   datastore, or the staff VPN (off the insider's walk). Every placement gets
   the same false-alarm budget (``BUDGET_PER_DAY`` benign alerts a day): its threshold is set
   from the benign traffic at the place. Crossed with the low-and-slow insider of the case
   and a smash-and-grab insider with the same key.
B. **Segmentation.** A generated enterprise (200 hosts) whose former employee kept a VPN-style
   account, so sessions hop over hosts; an EDR-like monitor on 60% of hosts (chosen per
   replication) with a weak, feature-less signal per host (d' = 1.5), plus outside discovery.
   A flat network (segmentation 0) against a segmented one (0.9), crossed with the two
   insiders.

    python experiments/sensor_placement/run.py            # full study (REPLICATIONS per arm)
    python experiments/sensor_placement/run.py --quick    # QUICK_REPLICATIONS, scratch dir

Writes ``sensor_placement.csv`` and ``.md`` (one row per arm, with the exact command that
reproduces it) and ``sensor_placement.png`` into ``results/`` (``--quick``: a temporary
scratch directory unless ``--out`` is given; the committed results are never touched by a
quick run).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from scipy.stats import norm  # noqa: E402

from sim.core.timeunits import MINUTE, YEAR, format_hours  # noqa: E402
from sim.outputs import report  # noqa: E402

NAME = "sensor_placement"
SEED = 2025
REPLICATIONS = 1000
QUICK_REPLICATIONS = 40
HORIZON = "1y"
#: false alarms a day every placement is allowed (assumption: what a monitor may add to a
#: five-analyst queue); the threshold of each placement is set from its benign traffic
BUDGET_PER_DAY = 5.0
FEATURES = "[records_per_ip,rate_per_ip,ip_count]"

#: benign observations a day at each place of coupang_like (sim.world.network.coupang_like)
COUPANG_TRAFFIC = {"api_gateway": 10e6, "auth_service": 10e6, "address_api": 2e6,
                   "customer_db": 5_000, "vpn_gateway": 2 * 20_000}
PLACES = {"api_gateway": "API gateway", "auth_service": "key service (token validation)",
          "address_api": "address API", "customer_db": "customer datastore",
          "vpn_gateway": "staff VPN (off the walk)"}
INSIDERS = {"low_and_slow": ("insider=former_employee",),
            "smash_and_grab": ("insider=smash_and_grab",)}


def threshold_for(per_day: float) -> float:
    """The score threshold whose false-positive rate gives ``BUDGET_PER_DAY`` alerts a day."""
    return float(norm.isf(BUDGET_PER_DAY / per_day))


def arms() -> dict[str, dict]:
    """Every arm: its study, labels and the ``python -m sim`` overrides that make it."""
    out: dict[str, dict] = {}
    for insider, insider_args in INSIDERS.items():
        for place, label in PLACES.items():
            thr = threshold_for(COUPANG_TRAFFIC[place])
            out[f"A_{place}_{insider}"] = dict(
                study="A", where=label, network="coupang_like", insider=insider,
                args=["scenario=coupang_2025_monitored", *insider_args,
                      "~detectors.threshold_rules",
                      f"detectors.monitoring.watch=ids:{place}",
                      f"detectors.monitoring.threshold={thr:.4f}",
                      f"detectors.monitoring.features={FEATURES}"])
        for seg in (0.0, 0.9):
            # generate()'s 500 staff x 8 observations a day are spread over its 200 hosts and
            # 11 services and stores (hosts: 95% of the assets); EDR on 60% of hosts sees
            # ~2,300 a day, and the threshold keeps the same budget of false alarms.
            thr = threshold_for(0.6 * 500 * 8 * 0.95)
            out[f"B_seg{seg:g}_{insider}"] = dict(
                study="B", where=("flat network" if seg == 0 else
                                  f"segmented network ({seg:g})"),
                network=f"generated, segmentation {seg:g}", insider=insider,
                args=["scenario=coupang_2025_monitored", *insider_args, "network=generated",
                      "network.retained_credential=account", f"network.segmentation={seg}",
                      "~detectors.audit", "~detectors.threshold_rules",
                      "detectors.monitoring.watch=kind:host+coverage:0.6",
                      f"detectors.monitoring.threshold={thr:.4f}",
                      "detectors.monitoring.dprime=1.5",
                      "detectors.monitoring.features=[]"])
    return out


def run_arm(name: str, arm: dict, runs: Path, replications: int) -> Path:
    run_dir = runs / name
    cmd = [sys.executable, "-m", "sim", *arm["args"], f"replications={replications}",
           f"seed={SEED}", f"horizon={HORIZON}", "output.plot=false",
           f"hydra.run.dir={run_dir}"]
    arm["command"] = "python -m sim " + " ".join(arm["args"] + [
        f"replications={replications}", f"seed={SEED}", f"horizon={HORIZON}"])
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: arm {name} failed (exit {proc.returncode}):\n"
                         f"{proc.stderr[-2000:]}")
    print(f"  {name}: done", flush=True)
    return run_dir


def rows_of(arms_: dict[str, dict], runs: Path) -> list[dict]:
    rows = []
    for name, arm in arms_.items():
        s = json.loads((runs / name / "summary.json").read_text())
        ci = s.get("km_median_ci95") or [None, None]
        rec = s["records_exfiltrated"]
        rows.append({
            "arm": name, "study": arm["study"], "network": arm["network"],
            "monitor_at": arm["where"], "insider": arm["insider"],
            "replications": s["replications"],
            "detected_within_horizon": s["detected_fraction"],
            "median_dwell_hours": s.get("km_median_dwell_hours"),
            "median_dwell_lo_hours": ci[0], "median_dwell_hi_hours": ci[1],
            "median_dwell": report.dwell_text(s),
            "median_records": rec["median"], "mean_records": rec["mean"],
            "detected_by": report.counts_text(s.get("detected_by")),
            "false_alerts_mean": _mean_col(runs / name, "false_alerts"),
            "true_alerts_mean": _mean_col(runs / name, "true_alerts"),
            "command": arm["command"],
        })
    return rows


def _mean_col(run_dir: Path, col: str) -> float:
    with (run_dir / "replications.csv").open() as f:
        vals = [float(r[col]) for r in csv.DictReader(f)]
    return sum(vals) / len(vals)


def write_table(rows: list[dict], out: Path) -> None:
    report.write_csv(rows, out / f"{NAME}.csv")
    lines = []
    for study, title in (("A", "A. Where the monitor sits (coupang_like, same false-alarm "
                                "budget everywhere)"),
                         ("B", "B. Flat against segmented (generated network, account insider, "
                               "EDR on 60% of hosts)")):
        lines += [f"### {title}", "",
                  "| monitor at | insider | median time to detection (95% CI) | detected "
                  "within 1 y | median records taken | confirmed by |",
                  "|---|---|---|---|---|---|"]
        for r in rows:
            if r["study"] != study:
                continue
            lines.append(f"| {r['monitor_at']} | {r['insider'].replace('_', '-')} | "
                         f"{r['median_dwell']} | {100 * r['detected_within_horizon']:.0f}% | "
                         f"{report.records_label(r['median_records'])} | {r['detected_by']} |")
        lines.append("")
    n = rows[0]["replications"]
    lines.append(f"{n} replications per arm, seed {SEED} (common random numbers), horizon "
                 f"{HORIZON}; Kaplan-Meier medians with Brookmeyer-Crowley 95% intervals. "
                 f"Every placement in A may raise {BUDGET_PER_DAY:g} false alarms a day.")
    report.write_atomic(out / f"{NAME}.md", ("\n".join(lines) + "\n").encode())


def plot(rows: list[dict], path: Path) -> None:
    """Median dwell per arm (log time axis), one panel per study, one colour per insider."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(8.4, 5.2), dpi=150, layout="constrained")
    axes = fig.subplots(2, 1, gridspec_kw={"height_ratios": [len(PLACES), 2]})
    colours = {"low_and_slow": "#0072B2", "smash_and_grab": "#D55E00"}
    for ax, study in zip(axes, ("A", "B"), strict=True):
        sub = [r for r in rows if r["study"] == study]
        wheres = list(dict.fromkeys(r["monitor_at"] for r in sub))
        for r in sub:
            y = len(wheres) - 1 - wheres.index(r["monitor_at"])
            y += 0.15 if r["insider"] == "low_and_slow" else -0.15
            c = colours[r["insider"]]
            med = r["median_dwell_hours"]
            if med is None:  # not reached within the horizon
                ax.annotate("not reached in 1 y", (YEAR, y), xytext=(-4, 0), ha="right",
                            va="center", textcoords="offset points", fontsize=7, color=c)
                ax.plot([YEAR], [y], marker=">", color=c, ms=6)
                continue
            lo = r["median_dwell_lo_hours"] or med
            hi = r["median_dwell_hi_hours"] or med
            ax.errorbar([med], [y], xerr=[[med - lo], [hi - med]], fmt="o", ms=5, color=c,
                        capsize=3)
            above = r["insider"] == "low_and_slow"
            ax.annotate(f"{format_hours(med)}, {report.records_label(r['median_records'])}",
                        (med, y), xytext=(0, 5 if above else -5), textcoords="offset points",
                        ha="center", va="bottom" if above else "top", fontsize=6.5, color=c)
        ax.set_yticks(range(len(wheres)), wheres[::-1], fontsize=7.5)
        ax.set_ylim(-0.6, len(wheres) - 0.4)
        report.time_axis(ax, 5 * MINUTE, YEAR, "x")
        report.style_axes(ax)
    axes[0].set_title("A. Where the monitor sits (Coupang network, equal false-alarm budget)",
                      fontsize=9, loc="left")
    axes[1].set_title("B. Flat against segmented (account insider, EDR on 60% of hosts)",
                      fontsize=9, loc="left")
    axes[1].set_xlabel("median time to detection (Kaplan-Meier, 95% CI; log scale); "
                       "label: dwell, median records taken", fontsize=8)
    handles = [Line2D([], [], color=c, marker="o", linestyle="none",
                      label=k.replace("_", "-")) for k, c in colours.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(f"Sensor placement and segmentation ({rows[0]['replications']} replications "
                 f"per arm)", fontsize=10.5)
    report.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_REPLICATIONS} replications per arm, into a scratch dir")
    parser.add_argument("--out", type=Path, help="where to write the results (default "
                        "results/, or a scratch dir with --quick)")
    parser.add_argument("--jobs", type=int, default=2, help="arms run at once")
    args = parser.parse_args(argv)
    replications = QUICK_REPLICATIONS if args.quick else REPLICATIONS
    scratch = Path(tempfile.mkdtemp(prefix=f"{NAME}-"))
    runs = scratch / "runs"
    out = args.out or (scratch / "results" if args.quick else HERE / "results")
    todo = arms()
    print(f"{len(todo)} arms x {replications} replications into {runs}", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(lambda kv: run_arm(kv[0], kv[1], runs, replications), todo.items()))
    rows = rows_of(todo, runs)
    out.mkdir(parents=True, exist_ok=True)
    write_table(rows, out)
    plot(rows, out / f"{NAME}.png")
    for r in rows:
        print(f"{r['arm']:<32} dwell {r['median_dwell']:<30} records "
              f"{report.records_label(r['median_records'])}")
    print(f"wrote {NAME}.csv, {NAME}.md, {NAME}.png in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
