"""Best response: which controls still work against an insider who adapts?

For each control set of ``experiments/five_months_vs_hours`` (its ``conf/arm/``: what Coupang
had, more frequent audits, key rotation, monitoring with 1-5 analysts at two thresholds), run
the naive insider of the case (the renewal strategy) and every adaptive strategy of
:mod:`sim.agents` over a small grid of its parameters (:data:`VARIANTS`), all with the same
seed (common random numbers), then report for each control set the naive result next to the
worst case for the defender: the variant that takes the most records (mean records taken by
containment, or by the horizon) and the one with the longest Kaplan-Meier median dwell.

    python experiments/best_response/run.py            # full study (REPLICATIONS per job)
    python experiments/best_response/run.py --quick    # QUICK_REPLICATIONS, into scratch/

Writes into ``results/`` (``--quick``: ``scratch/`` unless ``--out`` is given; a quick run
never touches the committed results): ``best_response.csv`` (one row per control set x
variant, with 95% intervals), ``worst_case.csv`` and ``worst_case.md`` (one row per control
set: naive, worst by records, worst by dwell) and ``best_response.png``.

Jobs run in this process's children (``--jobs``, default 2), each composing the same Hydra
config ``python -m sim`` would (``+arm=NAME`` from five_months_vs_hours' conf, plus the
variant's overrides) and simulating with :func:`sim.core.engine.simulate_many`.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from sim.core.timeunits import MINUTE, format_hours, parse_duration  # noqa: E402
from sim.outputs import report  # noqa: E402

NAME = "best_response"
SEED = 2025
REPLICATIONS = 1000
QUICK_REPLICATIONS = 40
HORIZON = "2y"  # as five_months_vs_hours: long enough for the naive medians
ARM_CONF = ROOT / "experiments" / "five_months_vs_hours" / "conf"

#: control set -> label (five_months_vs_hours' arms, in its order)
ARMS: dict[str, str] = {
    "baseline": "monthly audit + volume rules + outside discovery",
    "audit_weekly": "weekly audit",
    "audit_daily": "daily audit",
    "key_rotation": "quarterly rotation of keys over 1 year old",
    "monitoring_1": "monitoring, 1 analyst 24/7",
    "monitoring_2": "monitoring, 2 analysts 24/7",
    "monitoring_5": "monitoring, 5 analysts 24/7",
    "monitoring_t4_1": "threshold 4 (~300 false alarms/day), 1 analyst",
    "monitoring_t4_5": "threshold 4 (~300 false alarms/day), 5 analysts",
}

#: insider variant -> (label, overrides). The naive insider is the case's own (renewal). The
#: grid is small on purpose: two values of each strategy's main parameter.
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "naive": ("renewal (the Coupang insider)", []),
    "prober_1.5": ("threshold prober, step 1.5", [
        "insider/strategy=threshold_prober", "insider.strategy.step=1.5"]),
    "prober_1.2": ("threshold prober, step 1.2", [
        "insider/strategy=threshold_prober", "insider.strategy.step=1.2"]),
    # the cautious insider reacts to what it sees: here it learns of every audit (a colleague
    # tells it, auditors ask questions), so the audit is made visible for it
    "cautious_7d": ("cautious, sees audits, quiet 7 d", [
        "insider/strategy=cautious", "insider.strategy.quiet=7d",
        "++detectors.audit.visible=true"]),
    "cautious_30d": ("cautious, sees audits, quiet 30 d", [
        "insider/strategy=cautious", "insider.strategy.quiet=30d",
        "++detectors.audit.visible=true"]),
    # windows start at time 0, so the dwell clock starts with the first theft as for the others
    "departing_14d": ("departing employee, +-14 d", [
        "insider/strategy=departing_employee", "insider.strategy.departure=14d",
        "insider.strategy.before=14d", "insider.strategy.after=14d"]),
    "departing_30d": ("departing employee, +-30 d", [
        "insider/strategy=departing_employee", "insider.strategy.departure=30d",
        "insider.strategy.before=30d", "insider.strategy.after=30d"]),
    "smash": ("smash-and-grab, 2 addresses", [
        "insider=smash_and_grab", "insider/strategy=smash_and_grab"]),
    "smash_spread": ("smash-and-grab, spreads x1000 when refused", [
        "insider=smash_and_grab", "insider/strategy=smash_and_grab",
        "insider.strategy.escalate=1000"]),
    # several insiders (sim.agents.crew): three of the case's insider at once, sharing the work;
    # investigating a contained member exposes each other one with even odds
    "crew_own": ("crew of 3, own keys", ["insider/crew=own_keys"]),
    "crew_shared": ("crew of 3, one shared key", ["insider/crew=shared_key"]),
    "crew_cautious": ("crew of 3 cautious, own keys, see audits, quiet 30 d", [
        "insider/crew=own_keys", "insider/strategy=cautious", "insider.strategy.quiet=30d",
        "++detectors.audit.visible=true"]),
    # a different harm: records changed, not taken (reported apart, never ranked with theft)
    "fraud": ("fraud: ~20-record changes from one address", ["insider/strategy=fraud"]),
}

#: What a variant's records are, when not records taken: they are reported in their own
#: columns and never compete with theft for the worst case by records or dwell. Sabotage is
#: left out: its harm (the store destroyed in one burst) is noticed by the outage itself, which
#: the model does not represent, so its dwell would measure nothing real.
HARM: dict[str, str] = {"fraud": "modified"}


def overrides(arm: str, variant: str, replications: int) -> list[str]:
    """The overrides of one job: ``python -m sim --config-dir=... +arm=ARM ...`` runs it too."""
    return [f"+arm={arm}", f"hydra.searchpath=[file://{ARM_CONF}]",
            *VARIANTS[variant][1], f"replications={replications}", f"seed={SEED}",
            f"horizon={HORIZON}"]


def run_job(arm: str, variant: str, replications: int) -> dict:
    """Compose, build and simulate one control set x variant; its summary and wall time."""
    from hydra import compose, initialize_config_dir

    from sim.cli.app import CONF_DIR, plain_config, split_app_options
    from sim.core.engine import build_model, simulate_many
    from sim.outputs.results import summarize

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides(arm, variant, replications))
    plain = plain_config(cfg)
    split_app_options(plain)
    t0 = time.perf_counter()
    model = build_model(plain)
    rows = list(simulate_many(model, SEED, range(replications)))
    summary = summarize(rows, model.run.horizon)
    return {"arm": arm, "variant": variant, "summary": summary,
            "seconds": time.perf_counter() - t0}


def job_row(result: dict) -> dict:
    """One tidy row: a control set x variant with 95% intervals."""
    s = result["summary"]
    arm, variant = result["arm"], result["variant"]
    km = s.get("km_median_ci95") or [None, None]
    rec = s["records_exfiltrated"]
    det_ci = s.get("detected_fraction_ci95") or [None, None]
    return {
        "arm": arm, "controls": ARMS[arm], "variant": variant,
        "insider": VARIANTS[variant][0], "harm": HARM.get(variant, "taken"),
        "insiders": (s.get("crew") or {}).get("insiders", 1),
        "replications": s["replications"],
        "detected_within_horizon": s["detected_fraction"],
        "detected_lo": det_ci[0], "detected_hi": det_ci[1],
        # Kaplan-Meier median: None = not reached within the horizon (fewer than half caught)
        "median_dwell_hours": s.get("km_median_dwell_hours"),
        "median_dwell_lo_hours": km[0], "median_dwell_hi_hours": km[1],
        "median_dwell": report.dwell_text(s),
        "mean_records": rec["mean"],
        "mean_records_lo": (rec.get("ci95") or [None, None])[0],
        "mean_records_hi": (rec.get("ci95") or [None, None])[1],
        "median_records": rec["median"],
        "median_records_lo": (rec.get("median_ci95") or [None, None])[0],
        "median_records_hi": (rec.get("median_ci95") or [None, None])[1],
        "detected_by": report.counts_text(s.get("detected_by")),
        "access_ended_by": report.counts_text(s.get("access_ended_by")),
        "true_alerts_mean": s["alerts"]["true_mean"],
        # insiders identified (confirmed or revealed) and stopped by a control, per replication
        **crew_means(s),
        "seconds": round(result["seconds"], 2),
    }


def crew_means(s: dict) -> dict:
    """Insiders identified and stopped by a control per replication, and the share of
    replications where every one was stopped (a lone insider: from its detection and its
    ``access_ended_by``)."""
    crew = s.get("crew")
    if crew:
        return {"insiders_identified_mean": crew["identified_mean"],
                "insiders_stopped_mean": crew["stopped_mean"], "all_stopped": crew["all_stopped"]}
    n = s["replications"] or 1
    own = {"none", "horizon", "exhausted", "stopped", "expired"}
    stopped = sum(c for why, c in (s.get("access_ended_by") or {}).items() if why not in own)
    return {"insiders_identified_mean": s["detected"] / n, "insiders_stopped_mean": stopped / n,
            "all_stopped": stopped / n}


def dwell_key(row: dict) -> float:
    """For ranking dwell: a median not reached within the horizon counts as the longest."""
    med = row["median_dwell_hours"]
    return math.inf if med is None else float(med)


def worst_rows(rows: list[dict]) -> list[dict]:
    """Per control set: the naive insider, the variant taking the most records (mean), the one
    with the longest median dwell (both among the thieves), and the fraudster apart."""
    out = []
    for arm in dict.fromkeys(r["arm"] for r in rows):
        every = [r for r in rows if r["arm"] == arm]
        mine = [r for r in every if r.get("harm", "taken") == "taken"]
        fraud = next((r for r in every if r["variant"] == "fraud"), None)
        naive = next(r for r in mine if r["variant"] == "naive")
        by_records = max(mine, key=lambda r: r["mean_records"])
        by_dwell = max(mine, key=dwell_key)
        out.append({
            "arm": arm, "controls": ARMS[arm],
            "naive_median_dwell_hours": naive["median_dwell_hours"],
            "naive_median_dwell": naive["median_dwell"],
            "naive_mean_records": naive["mean_records"],
            "worst_records_variant": by_records["variant"],
            "worst_records_insider": by_records["insider"],
            "worst_mean_records": by_records["mean_records"],
            "worst_mean_records_lo": by_records["mean_records_lo"],
            "worst_mean_records_hi": by_records["mean_records_hi"],
            "worst_records_median_dwell": by_records["median_dwell"],
            "worst_dwell_variant": by_dwell["variant"],
            "worst_dwell_insider": by_dwell["insider"],
            "worst_median_dwell_hours": by_dwell["median_dwell_hours"],
            "worst_median_dwell_lo_hours": by_dwell["median_dwell_lo_hours"],
            "worst_median_dwell": by_dwell["median_dwell"],
            "worst_dwell_mean_records": by_dwell["mean_records"],
            "records_ratio": by_records["mean_records"] / max(naive["mean_records"], 1.0),
            "fraud_median_dwell": fraud["median_dwell"] if fraud else None,
            "fraud_mean_records_modified": fraud["mean_records"] if fraud else None,
        })
    return out


def write_tables(rows: list[dict], worst: list[dict], out: Path, n: int) -> None:
    report.write_csv(rows, out / f"{NAME}.csv")
    report.write_csv(worst, out / "worst_case.csv")
    lab = report.records_label
    lines = ["| controls | naive insider: median dwell | naive: mean records | worst case by "
             "records: insider | mean records (95% CI) | its median dwell | worst case by "
             "dwell: insider | median dwell | fraud: median dwell | fraud: records modified |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for w in worst:
        lo, hi = w["worst_mean_records_lo"], w["worst_mean_records_hi"]
        ci = f" ({lab(lo)}-{lab(hi)})" if lo is not None and hi is not None else ""
        changed = w.get("fraud_mean_records_modified")
        modified = "n/a" if changed is None else lab(changed)
        lines.append(f"| {w['controls']} | {w['naive_median_dwell']} | "
                     f"{lab(w['naive_mean_records'])} | {w['worst_records_insider']} | "
                     f"{lab(w['worst_mean_records'])}{ci} | {w['worst_records_median_dwell']} | "
                     f"{w['worst_dwell_insider']} | {w['worst_median_dwell']} | "
                     f"{w.get('fraud_median_dwell') or 'n/a'} | {modified} |")
    lines += ["", f"{n} replications per control set and insider, seed {SEED} (common random "
              f"numbers), horizon {HORIZON}; Kaplan-Meier medians with Brookmeyer-Crowley 95% "
              f"intervals ('not reached': fewer than half caught within the horizon), "
              f"t-intervals for mean records. Insider variants: "
              + "; ".join(f"`{k}` {v[0]}" for k, v in VARIANTS.items()) + "."]
    report.write_atomic(out / "worst_case.md", ("\n".join(lines) + "\n").encode())


def plot(rows: list[dict], worst: list[dict], path: Path) -> None:
    """Per control set: the naive insider (grey) against every variant (small dots) and the
    worst case (red): median dwell on the left, mean records on the right."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    horizon = parse_duration(HORIZON, "horizon")
    fig = Figure(figsize=(10.0, 5.6), dpi=150, layout="constrained")
    ax_t, ax_r = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.2, 1.0]})
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    ys = {arm: y for y, arm in enumerate(arms[::-1])}
    beyond = horizon * 1.6  # where a median not reached is drawn
    fraud = [r for r in rows if r.get("harm") == "modified"]
    rows = [r for r in rows if r.get("harm", "taken") == "taken"]  # records taken, on one axis
    for r in fraud:  # its dwell only: its records were changed, not taken
        med = r["median_dwell_hours"]
        ax_t.plot([beyond if med is None else med], [ys[r["arm"]]], "^", ms=5,
                  color="#009E73", zorder=2)
    for r in rows:
        y = ys[r["arm"]]
        med = r["median_dwell_hours"]
        ax_t.plot([beyond if med is None else med], [y], "o", ms=3, color="#999999",
                  alpha=0.6, zorder=1)
        ax_r.plot([max(r["mean_records"], 1.0)], [y], "o", ms=3, color="#999999", alpha=0.6,
                  zorder=1)
    for w in worst:
        y = ys[w["arm"]]
        naive = w["naive_median_dwell_hours"]
        worst = w["worst_median_dwell_hours"]
        ax_t.plot([beyond if naive is None else naive], [y], "s", ms=6, color="#0072B2",
                  zorder=3)
        ax_t.plot([beyond if worst is None else worst], [y], "D", ms=6, color="#D55E00",
                  zorder=3)
        ax_r.plot([max(w["naive_mean_records"], 1.0)], [y], "s", ms=6, color="#0072B2",
                  zorder=3)
        ax_r.plot([max(w["worst_mean_records"], 1.0)], [y], "D", ms=6, color="#D55E00",
                  zorder=3)
        ax_r.annotate(w["worst_records_variant"], (max(w["worst_mean_records"], 1.0), y),
                      xytext=(0, 6), textcoords="offset points", ha="center", fontsize=6.5,
                      color="#D55E00")
        ax_t.annotate(w["worst_dwell_variant"], (beyond if worst is None else worst, y),
                      xytext=(0, 6), textcoords="offset points", ha="center", fontsize=6.5,
                      color="#D55E00")
    report.time_axis(ax_t, 10 * MINUTE, 2 * beyond, "x")
    ax_t.axvline(horizon, color="#666666", linewidth=0.8, linestyle=":")
    ax_t.text(horizon, -0.5, f" horizon ({format_hours(horizon)})", fontsize=6.5,
              color="#666666", va="bottom", ha="right", rotation=90)
    ax_t.set_yticks(list(ys.values()), list(ARMS[a] for a in ys), fontsize=7.5)
    ax_t.set_ylim(-0.6, len(arms) - 0.2)
    ax_t.set_xlabel("median time to detection (Kaplan-Meier; log scale;\n"
                    "right of the horizon: not reached)", fontsize=8)
    lo = min(max(r["mean_records"], 1.0) for r in rows)
    hi = max(r["mean_records"] for r in rows)
    ax_r.set_xscale("log")
    ax_r.set_xlim(lo / 3, hi * 3)
    ticks = [10.0 ** k for k in range(0, 13) if lo / 3 <= 10.0 ** k <= hi * 3]
    ax_r.set_xticks(ticks, [report.records_label(t) for t in ticks])
    ax_r.xaxis.set_minor_locator(NullLocator())
    ax_r.set_xlabel("mean records taken before containment\n(log scale)", fontsize=8)
    for ax in (ax_t, ax_r):
        report.style_axes(ax)
    handles = [Line2D([], [], color="#0072B2", marker="s", linestyle="none",
                      label="naive insider (renewal)"),
               Line2D([], [], color="#D55E00", marker="D", linestyle="none",
                      label="worst case over strategies (named)"),
               Line2D([], [], color="#999999", marker="o", linestyle="none", ms=3,
                      label="every strategy x parameter"),
               Line2D([], [], color="#009E73", marker="^", linestyle="none", ms=5,
                      label="fraud (records changed, not taken)")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=7.5, frameon=False)
    n = rows[0]["replications"]
    fig.suptitle(f"The naive insider against the worst case, per control set "
                 f"({n} replications each)", fontsize=10)
    report.save_figure(fig, path)


def read_rows(path: Path) -> list[dict]:
    """The rows of a written ``best_response.csv`` (numbers as numbers, empty as None)."""
    import csv

    def value(text: str) -> object:
        if text == "":
            return None
        try:
            return int(text) if text.isdigit() else float(text)
        except ValueError:
            return text

    with path.open(newline="") as f:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_REPLICATIONS} replications per job, into scratch/")
    parser.add_argument("--out", type=Path, help="where to write the results (default "
                        "results/, or scratch/ with --quick)")
    parser.add_argument("--jobs", type=int, default=2, help="jobs run at once (processes)")
    parser.add_argument("--arms", help="comma-separated control sets (default: all)")
    parser.add_argument("--replot", action="store_true", help="only redraw the tables and "
                        "figure from the best_response.csv already in the output dir")
    args = parser.parse_args(argv)
    n = QUICK_REPLICATIONS if args.quick else REPLICATIONS
    out = args.out or (HERE / "scratch" if args.quick else HERE / "results")
    arms = args.arms.split(",") if args.arms else list(ARMS)
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        raise SystemExit(f"error: --arms: unknown control set {unknown[0]!r}; choose from "
                         f"{', '.join(ARMS)}")
    if args.replot:
        rows = read_rows(out / f"{NAME}.csv")
        write_tables(rows, worst_rows(rows), out, rows[0]["replications"])
        plot(rows, worst_rows(rows), out / f"{NAME}.png")
        print(f"redrew {NAME}.png and the worst-case tables in {out}")
        return 0
    jobs = [(a, v) for a in arms for v in VARIANTS]
    t0 = time.perf_counter()
    # run with `nice -n 10` on a shared machine: the workers inherit it
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        futures = [pool.submit(run_job, a, v, n) for a, v in jobs]
        results = []
        for (a, v), fut in zip(jobs, futures, strict=True):
            res = fut.result()
            results.append(res)
            mean = res["summary"]["records_exfiltrated"]["mean"]
            print(f"{a:<16} {v:<14} dwell {report.dwell_text(res['summary']):<30} "
                  f"records mean {report.records_label(mean)} ({res['seconds']:.1f} s)",
                  flush=True)
    rows = [job_row(r) for r in results]
    worst = worst_rows(rows)
    out.mkdir(parents=True, exist_ok=True)
    write_tables(rows, worst, out, n)
    plot(rows, worst, out / f"{NAME}.png")
    print(f"{len(jobs)} jobs in {time.perf_counter() - t0:.0f} s; wrote {NAME}.csv, "
          f"worst_case.csv, worst_case.md, {NAME}.png in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
