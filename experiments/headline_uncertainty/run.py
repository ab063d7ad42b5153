"""Do the headline's conclusions survive the calibration's uncertainty? (issue #15 follow-up)

The Coupang preset takes the posterior *medians* of ``experiments/calibration/`` (the insider's
batch size, the outside-discovery hazard, the audit's recognition), and
``experiments/five_months_vs_hours`` reads its conclusions at that one point. The posterior is
wide (recognition 0.0055-0.081): which conclusions hold over all of it?

For each of ``DRAWS`` parameter sets drawn from the committed posterior (``posterior.csv``, by
weight; seed ``SEED``), run each arm of ``ARMS`` - the same arm files as five_months_vs_hours
(``../five_months_vs_hours/conf/arm/``) - with ``REPLICATIONS`` replications. Within a draw
every arm uses the same seed (common random numbers: the arms' differences are paired); each
draw has its own seed, so the spread over draws is the posterior predictive spread of a batch
of that size: the parameters' uncertainty plus the batch's sampling noise. Row ``preset`` is the
preset itself (the rounded medians) on the seed of draw 0.

    python experiments/headline_uncertainty/run.py            # DRAWS x ARMS batches (~1 min)
    python experiments/headline_uncertainty/run.py --quick    # QUICK_DRAWS x QUICK_REPLICATIONS

Writes into ``results/`` (``--quick``: a scratch directory unless ``--out`` is given; a quick
run never touches the committed results): ``draws.csv`` (one row per draw and arm: the
parameter values, the outputs), ``summary.csv`` and ``summary.md`` (per arm and output: the
value at the preset, the median and 90% interval over draws; per arm, its median dwell against
the baseline's in the same draw) and ``uncertainty.png``. Rows are appended to
``draws.csv.partial`` as batches finish; the final files appear only when every batch is done.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from sim.core.errors import SimError  # noqa: E402

NAME = "headline_uncertainty"
SEED = 2025
DRAWS = 100
REPLICATIONS = 200
QUICK_DRAWS = 6
QUICK_REPLICATIONS = 30
HORIZON = "2y"           # as five_months_vs_hours: long enough to see a slow arm's median
#: the arms of five_months_vs_hours read here (its conf/arm/NAME.yaml), in table order
ARMS = ("baseline", "audit_weekly", "audit_daily", "key_rotation", "monitoring_5")
LABELS = {"baseline": "monthly audit + volume rules + outside discovery (Coupang's controls)",
          "audit_weekly": "weekly audit", "audit_daily": "daily audit",
          "key_rotation": "quarterly rotation of keys over 1 year old",
          "monitoring_5": "monitoring, 5 analysts 24/7"}
OUTPUTS = ("median_dwell_days", "median_records", "p_dwell_over_30d", "found_externally")
ARM_DIR = ROOT / "experiments" / "five_months_vs_hours" / "conf"
CALIBRATION = ROOT / "conf" / "calibration" / "coupang_2025.yaml"
POSTERIOR = ROOT / "experiments" / "calibration" / "results" / "posterior.csv"
LEVEL = 0.9


def arm_scenario(arm: str) -> str:
    """The scenario an arm file overrides to (``override /scenario: NAME`` in its defaults)."""
    for line in (ARM_DIR / "arm" / f"{arm}.yaml").read_text().splitlines():
        if "override /scenario:" in line:
            return line.split(":", 1)[1].split("#")[0].strip()
    raise SimError(f"{ARM_DIR / 'arm' / arm}.yaml: no 'override /scenario:' in its defaults")


def build_scenarios(replications: int) -> dict[str, Any]:
    """One :class:`sim.analysis.study.Scenario` per arm, with the calibrated keys settable."""
    from sim.analysis.calibration import parse_study
    from sim.analysis.study import Scenario

    parameters = parse_study(CALIBRATION).parameters
    return {arm: Scenario(arm_scenario(arm), [f"+arm={arm}", f"hydra.searchpath=[file://{ARM_DIR}]"],
                          parameters, replications, SEED, horizon=HORIZON, key=f"arm {arm}")
            for arm in ARMS}


def draw_parameters(n: int) -> tuple[list[str], list[dict[str, float]]]:
    """``n`` parameter sets drawn by weight from the committed posterior (seed ``SEED``)."""
    try:
        with POSTERIOR.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise SimError(f"{POSTERIOR}: cannot read the posterior ({exc.strerror}); run "
                       f"experiments/calibration/run.py first") from None
    from sim.analysis.calibration import parse_study

    expected = [p.key for p in parse_study(CALIBRATION).parameters]
    if not rows or sorted(rows[0]) != sorted([*expected, "weight"]):
        raise SimError(f"{POSTERIOR}: not the posterior of {CALIBRATION.name}: its columns must "
                       f"be {', '.join(expected)} and weight")
    try:
        values = np.array([[float(r[k]) for k in (*expected, "weight")] for r in rows])
    except (TypeError, ValueError):
        raise SimError(f"{POSTERIOR}: a value that is not a number") from None
    weights = values[:, -1]
    if not (np.all(np.isfinite(values)) and np.all(weights >= 0) and weights.sum() > 0):
        raise SimError(f"{POSTERIOR}: values must be finite and weights >= 0, not all 0")
    rng = np.random.default_rng([SEED, 1])
    idx = rng.choice(len(rows), size=n, p=weights / weights.sum())
    return expected, [dict(zip(expected, map(float, values[j, :-1]), strict=True))
                      for j in idx]


def draw_seed(draw: int) -> int:
    """The seed of a draw's batches (every arm of the draw shares it)."""
    return int(np.random.SeedSequence([SEED, 2, draw]).generate_state(1)[0])


_SCENARIOS: dict[str, Any] = {}


def _init(replications: int) -> None:
    _SCENARIOS.update(build_scenarios(replications))


def _measure(task: tuple[str, str, dict[str, float], int]) -> tuple[str, str, int, list[float]]:
    draw, arm, values, seed = task
    return draw, arm, seed, _SCENARIOS[arm].measure(values, OUTPUTS, seed=seed)


def run(out: Path, draws: int, replications: int, workers: int) -> list[dict[str, Any]]:
    """Every batch; rows appended to ``draws.csv.partial`` as they finish. Returns the rows."""
    from sim.analysis.calibration import preset_value
    from sim.analysis.study import compose_scenario

    keys, sets = draw_parameters(draws)
    base = compose_scenario("coupang_2025")
    preset = {k: float(preset_value(base, k)) for k in keys}
    tasks = [("preset", arm, preset, draw_seed(0)) for arm in ARMS]
    tasks += [(str(i), arm, values, draw_seed(i)) for i, values in enumerate(sets)
              for arm in ARMS]
    values_of = {"preset": preset, **{str(i): v for i, v in enumerate(sets)}}
    partial = out / "draws.csv.partial"
    columns = ["draw", "arm", "replications", "seed", *keys, *OUTPUTS]
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with partial.open("w", newline="") as f, \
            ProcessPoolExecutor(max_workers=workers, initializer=_init,
                                initargs=(replications,)) as pool:
        writer = csv.DictWriter(f, columns, lineterminator="\n")
        writer.writeheader()
        for k, (draw, arm, seed, ys) in enumerate(pool.map(_measure, tasks, chunksize=2),
                                                  start=1):
            row = {"draw": draw, "arm": arm, "replications": replications, "seed": seed,
                   **values_of[draw], **dict(zip(OUTPUTS, ys, strict=True))}
            rows.append(row)
            writer.writerow(row)
            f.flush()
            if k % 25 == 0 or k == len(tasks):
                print(f"  {k}/{len(tasks)} batches, {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr)
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per arm and output: the preset's value, the median and 90% interval over draws; per arm,
    its median dwell over the baseline's in the same draw (and the share of draws below 1)."""
    out = []
    lo_q, hi_q = (1 - LEVEL) / 2, (1 + LEVEL) / 2
    by = {(r["draw"], r["arm"]): r for r in rows}
    draws = sorted({r["draw"] for r in rows if r["draw"] != "preset"}, key=int)
    for arm in ARMS:
        for name in (*OUTPUTS, "dwell_ratio_to_baseline"):
            if name == "dwell_ratio_to_baseline":
                ys = np.array([_ratio(by[(d, arm)], by[(d, "baseline")]) for d in draws])
                at_preset = _ratio(by[("preset", arm)], by[("preset", "baseline")])
            else:
                ys = np.array([float(by[(d, arm)][name]) for d in draws])
                at_preset = float(by[("preset", arm)][name])
            finite = ys[~np.isnan(ys)]
            lo, med, hi = (np.quantile(finite, [lo_q, 0.5, hi_q], method="inverted_cdf")
                           if finite.size else (math.nan,) * 3)
            out.append({"arm": arm, "output": name, "at_preset": at_preset,
                        "median": float(med), "lo90": float(lo), "hi90": float(hi),
                        "draws": int(len(ys)), "undefined": int(np.isnan(ys).sum()),
                        "share_below_1": (float(np.mean(finite < 1.0))
                                          if name == "dwell_ratio_to_baseline" else "")})
    return out


def _ratio(arm_row: dict[str, Any], base_row: dict[str, Any]) -> float:
    a, b = float(arm_row["median_dwell_days"]), float(base_row["median_dwell_days"])
    if math.isinf(a) and math.isinf(b):
        return math.nan
    return a / b if b > 0 else math.nan


def _dwell(days: float) -> str:
    from sim.core.timeunits import DAY, format_hours

    return "> horizon" if math.isinf(days) else format_hours(days * DAY)


def _ratio_text(x: float) -> str:
    """A ratio as 0.24, or as 1/7,700 when it is below 0.01."""
    if not math.isfinite(x) or x <= 0:
        return "n/a"
    if x < 0.01:
        inverse = float(f"{1 / x:.2g}")  # two significant digits, written out
        return f"1/{inverse:,.0f}"
    return f"{x:.2g}"


def _records(n: float) -> str:
    for div, unit in ((1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


def table(summary: list[dict[str, Any]], draws: int, replications: int) -> str:
    """summary.md: one row per arm."""
    s = {(r["arm"], r["output"]): r for r in summary}
    lines = ["| arm | median dwell at the preset | over the posterior: median (90% interval) "
             "| dwell / baseline's, same draw: median (90%) | median records at the preset "
             "| over the posterior (90%) | P(dwell > 30 d) over the posterior (90%) |",
             "|---|---|---|---|---|---|---|"]
    for arm in ARMS:
        d, r = s[(arm, "median_dwell_days")], s[(arm, "median_records")]
        p, q = s[(arm, "p_dwell_over_30d")], s[(arm, "dwell_ratio_to_baseline")]
        ratio = ("1 (itself)" if arm == "baseline" else
                 f"{_ratio_text(q['median'])} ({_ratio_text(q['lo90'])}-"
                 f"{_ratio_text(q['hi90'])})")
        lines.append(
            f"| {LABELS[arm]} | {_dwell(d['at_preset'])} | {_dwell(d['median'])} "
            f"({_dwell(d['lo90'])}-{_dwell(d['hi90'])}) | {ratio} | "
            f"{_records(r['at_preset'])} | {_records(r['lo90'])}-{_records(r['hi90'])} | "
            f"{p['lo90']:.2f}-{p['hi90']:.2f} |")
    lines += ["", f"{draws} draws from the posterior of `experiments/calibration/` (by weight, "
              f"seed {SEED}), {replications} replications per arm and draw, horizon {HORIZON}; "
              "within a draw every arm shares the seed (paired), each draw has its own. The "
              "preset column is one batch at the rounded posterior medians. Intervals over "
              "draws hold the parameters' uncertainty and a batch's sampling noise."]
    return "\n".join(lines) + "\n"


TIME_TICKS = ((1 / 24, "1 h"), (1.0, "1 d"), (7.0, "1 wk"), (30.44, "1 mo"), (365.25, "1 y"))
RECORD_TICKS = ((1e4, "10K"), (1e5, "100K"), (1e6, "1M"), (1e7, "10M"), (1e8, "100M"))


def figure(rows: list[dict[str, Any]], path: Path) -> None:
    """Median dwell and records per arm: one dot per draw, the 90% interval, the preset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.core.atomic import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    rng = np.random.default_rng(0)  # jitter only
    for ax, name, label in ((axes[0], "median_dwell_days", "median dwell (log scale)"),
                            (axes[1], "median_records", "median records taken (log scale)")):
        for y, arm in enumerate(ARMS):
            xs = np.array([float(r[name]) for r in rows if r["arm"] == arm
                           and r["draw"] != "preset"])
            preset = next(float(r[name]) for r in rows if r["arm"] == arm
                          and r["draw"] == "preset")
            finite = xs[np.isfinite(xs) & (xs > 0)]
            ax.scatter(finite, y + rng.uniform(-0.18, 0.18, finite.size), s=9, alpha=0.45,
                       color="tab:blue", linewidths=0)
            if finite.size:
                lo, hi = np.quantile(finite, [(1 - LEVEL) / 2, (1 + LEVEL) / 2],
                                     method="inverted_cdf")
                ax.plot([lo, hi], [y, y], color="black", lw=2)
            if math.isfinite(preset) and preset > 0:
                ax.scatter([preset], [y], marker="D", s=40, color="tab:red", zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
        ticks = (TIME_TICKS if name == "median_dwell_days" else RECORD_TICKS)
        lo_x, hi_x = ax.get_xlim()
        shown = [(v, t) for v, t in ticks if lo_x <= v <= hi_x]
        ax.set_xticks([v for v, _t in shown], [t for _v, t in shown])
        ax.minorticks_off()
    axes[0].set_yticks(range(len(ARMS)), [LABELS[a].split(" (")[0] for a in ARMS])
    axes[0].invert_yaxis()
    axes[1].scatter([], [], s=9, color="tab:blue", label="one posterior draw")
    axes[1].plot([], [], color="black", lw=2, label=f"{int(LEVEL * 100)}% of draws")
    axes[1].scatter([], [], marker="D", s=40, color="tab:red", label="the preset (medians)")
    axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle("five_months_vs_hours over the calibration's posterior", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_DRAWS} draws x {QUICK_REPLICATIONS} replications, into a "
                             "scratch dir")
    parser.add_argument("--out", type=Path, help="where to write (default results/, or a "
                        "scratch dir with --quick)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--replot", action="store_true", help="redo summary and figure from "
                        "the output dir's draws.csv, simulating nothing")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    draws, reps = (QUICK_DRAWS, QUICK_REPLICATIONS) if args.quick else (DRAWS, REPLICATIONS)
    if args.replot:
        out = args.out or HERE / "results"
    else:
        out = args.out or (Path(tempfile.mkdtemp(prefix=f"{NAME}-")) if args.quick
                           else HERE / "results")
    out.mkdir(parents=True, exist_ok=True)
    from sim.core.atomic import write_text
    from sim.outputs.report import write_csv

    t0 = time.perf_counter()
    partial, staged = out / "draws.csv.partial", out / "draws.csv.staged"
    if args.replot:
        path = out / "draws.csv"
        try:
            with path.open(newline="") as f:
                rows = list(csv.DictReader(f))
            draws = len({r["draw"] for r in rows}) - 1
            reps = int(rows[0].get("replications") or reps)
            summary = summarise(rows)
        except OSError as exc:
            print(f"error: --replot: cannot read {path} ({exc.strerror}); run the study "
                  f"first", file=sys.stderr)
            return 2
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            print(f"error: --replot: {path} is not this study's draws.csv ({exc!r})",
                  file=sys.stderr)
            return 2
    else:
        try:
            rows = run(out, draws, reps, args.workers)
        except SimError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"error: interrupted; the finished batches are in {partial} (the final "
                  f"files are as they were)", file=sys.stderr)
            return 130
        rows.sort(key=lambda r: (r["draw"] != "preset",
                                 int(r["draw"]) if r["draw"] != "preset" else 0,
                                 ARMS.index(r["arm"])))
        write_csv(rows, staged)
        with staged.open(newline="") as f:  # summarise what the file holds, so that
            rows = list(csv.DictReader(f))   # --replot gives the same bytes
        summary = summarise(rows)
    # the summaries and the figure first, draws.csv last, and only then is the partial file
    # removed: while it is there, the set is not complete
    write_csv(summary, out / "summary.csv")
    write_text(out / "summary.md", table(summary, draws, reps))
    figure(rows, out / "uncertainty.png")
    if not args.replot:
        staged.replace(out / "draws.csv")
        partial.unlink(missing_ok=True)
    print(table(summary, draws, reps))
    print(f"wrote draws.csv, summary.csv, summary.md, uncertainty.png in {out} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
