"""How does the mean dwell under a periodic audit depend on its interval and its hit rate?

Sweeps the audit interval T (a day to a year) against the per-audit detection probability p
for an insider active throughout (scenario ``analytic_audit``), and compares the simulated
mean dwell, with its 95% confidence interval, to the theory T/p - T/2.

    python experiments/audit_interval/run.py            # full study (~1 min on 2 cores)
    python experiments/audit_interval/run.py --quick    # smoke-sized run (used by the tests)

Writes ``audit_interval.csv`` (one row per (T, p) arm) and ``audit_interval.png`` into
``results/`` (``--quick``: ``scratch/``, git-ignored; or ``--out``).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sim.cli.app import CONF_DIR, plain_config, split_app_options  # noqa: E402
from sim.core.engine import build_model  # noqa: E402
from sim.core.runner import iter_replications  # noqa: E402
from sim.core.timeunits import DAY, MONTH, WEEK, YEAR  # noqa: E402
from sim.outputs import stats  # noqa: E402

INTERVALS = {"1d": DAY, "3d": 3 * DAY, "1w": WEEK, "2w": 2 * WEEK, "1mo": MONTH,
             "3mo": 3 * MONTH, "6mo": 6 * MONTH, "1y": YEAR}
PROBABILITIES = (0.05, 0.1, 0.2, 0.5, 1.0)
SEED = 2025


def config(interval_hours: float, p: float, replications: int, seed: int) -> dict:
    """The plain config of one arm: ``analytic_audit`` with T and p set."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[
            "scenario=analytic_audit", f"seed={seed}", f"replications={replications}",
            f"detectors.audit.interval={interval_hours}", "detectors.audit.coverage=1.0",
            f"detectors.audit.recognition={p}"])
    plain = plain_config(cfg)
    split_app_options(plain)
    return plain


def run_arm(interval_hours: float, p: float, replications: int, workers: int,
            seed: int) -> dict:
    """Simulate one (T, p) arm; each arm has its own seed so the arms are independent."""
    cfg = config(interval_hours, p, replications, seed)
    model = build_model(cfg)
    dwell = np.array([r.dwell_hours for r in iter_replications(cfg, model, workers)])
    lo, hi = stats.mean_ci(dwell)
    theory = interval_hours / p - interval_hours / 2
    se = dwell.std(ddof=1) / math.sqrt(len(dwell))
    return {"interval_hours": interval_hours, "p": p, "seed": seed, "replications": len(dwell),
            "mean_dwell_hours": float(dwell.mean()), "ci95_lo": lo, "ci95_hi": hi,
            "theory_hours": theory, "z": (dwell.mean() - theory) / se if se > 0 else 0.0,
            "theory_in_ci": lo <= theory <= hi}


def plot(rows: list[dict], path: Path) -> None:
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.2, 6.0), dpi=150)
    ax, res = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    cmap = colormaps["viridis"]
    ps = sorted({r["p"] for r in rows})
    grid = np.geomspace(min(r["interval_hours"] for r in rows),
                        max(r["interval_hours"] for r in rows), 200)
    for i, p in enumerate(ps):
        colour = cmap(i / max(len(ps) - 1, 1) * 0.9)
        arm = sorted((r for r in rows if r["p"] == p), key=lambda r: r["interval_hours"])
        x = np.array([r["interval_hours"] for r in arm])
        y = np.array([r["mean_dwell_hours"] for r in arm])
        lo = np.array([r["ci95_lo"] for r in arm])
        hi = np.array([r["ci95_hi"] for r in arm])
        theory = np.array([r["theory_hours"] for r in arm])
        ax.plot(grid / DAY, (grid / p - grid / 2) / DAY, color=colour, lw=1.2, alpha=0.8)
        ax.errorbar(x / DAY, y / DAY, yerr=[(y - lo) / DAY, (hi - y) / DAY], fmt="o", ms=4,
                    color=colour, capsize=2, label=f"p = {p:g}")
        shift = 1.0 + 0.06 * (i - (len(ps) - 1) / 2)  # spread the arms sideways
        res.errorbar(x / DAY * shift, y / theory, yerr=[(y - lo) / theory, (hi - y) / theory],
                     fmt="o", ms=3, color=colour, capsize=1.5)
    res.axhline(1.0, color="black", lw=0.8)
    res.set_ylabel("simulated / theory")
    res.set_xscale("log")
    ax.set_yscale("log")
    ticks = {"1 d": 1, "1 w": 7, "1 mo": MONTH / DAY, "6 mo": 6 * MONTH / DAY, "1 y": 365.25}
    res.set_xticks(list(ticks.values()), list(ticks.keys()))
    yt = {"1 d": 1, "1 w": 7, "1 mo": MONTH / DAY, "1 y": 365.25, "10 y": 3652.5}
    ax.set_yticks(list(yt.values()), list(yt.keys()))
    res.set_xlabel("audit interval T")
    ax.set_ylabel("mean dwell (time to detection)")
    ax.set_title("Periodic audit: simulated mean dwell (points, 95% CI) on theory T/p - T/2",
                 fontsize=10)
    for a in (ax, res):
        a.grid(True, which="major", alpha=0.3)
    ax.legend(title="per-audit detection\nprobability", fontsize=8, title_fontsize=8,
              loc="upper left", frameon=False)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--quick", action="store_true", help="smoke-sized run")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write (default results/; with --quick scratch/, "
                             "git-ignored, so a smoke run never replaces the committed results)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = Path(__file__).parent / ("scratch" if args.quick else "results")
    intervals = {k: INTERVALS[k] for k in ("1d", "1mo", "1y")} if args.quick else INTERVALS
    probabilities = (0.1, 0.5) if args.quick else PROBABILITIES
    replications = 100 if args.quick else 2000
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    total = len(intervals) * len(probabilities)
    for i, (label, hours) in enumerate(intervals.items()):
        for j, p in enumerate(probabilities):
            print(f"[{i * len(probabilities) + j + 1}/{total}] T={label} p={p}", flush=True)
            arm = i * len(probabilities) + j
            rows.append({"interval": label,
                         **run_arm(hours, p, replications, args.workers, SEED + arm)})
    tmp = args.out / "audit_interval.csv.partial"
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in row.items()})
    tmp.replace(args.out / "audit_interval.csv")
    plot(rows, args.out / "audit_interval.png")
    inside = sum(r["theory_in_ci"] for r in rows)
    worst = max(abs(r["z"]) for r in rows)
    print(f"theory inside the 95% CI in {inside} of {len(rows)} arms; largest |z| = {worst:.2f}")
    print(f"wrote {args.out / 'audit_interval.csv'} and {args.out / 'audit_interval.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
