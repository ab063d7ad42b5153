"""Which assumptions drive the Coupang results? Sobol and Morris indices for two scenarios.

Runs :mod:`sim.analysis.sensitivity` on ``conf/sensitivity/coupang_2025.yaml`` (the controls
Coupang had) and ``conf/sensitivity/coupang_2025_monitored.yaml`` (the same + continuous
monitoring at the gateway), then writes one ranking table and one figure for both.

    nice python experiments/sensitivity/run.py            # full study (~70 s on 2 cores)
    python experiments/sensitivity/run.py --quick         # smoke-sized (the tests run this)

Writes ``ranking.csv`` (one row per scenario, output and parameter: S1 and ST with 95%
intervals, rank by ST, Morris mu* relative to the largest), ``ranking.md`` (the top of each
ranking), ``sensitivity.png`` (the bars) and each scenario's own files (``NAME/sobol.csv``,
``morris.csv``, ``samples.csv``, ``sensitivity.json``), and ``below_the_rule.csv`` (Spearman
correlations among the coupang_2025 sets in which the insider stays under the per-address
rule) into ``results/`` (``--quick``:
``scratch/``, git-ignored; or ``--out``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from sim.analysis.sensitivity import parse_study, plot_indices, run_study, short  # noqa: E402
from sim.analysis.study import OUTPUTS  # noqa: E402
from sim.core.atomic import write_text  # noqa: E402
from sim.outputs.report import write_csv  # noqa: E402

STUDIES = ("coupang_2025", "coupang_2025_monitored")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def ranking(out: Path) -> list[dict]:
    """Sobol and Morris rows of every study, joined on (scenario, output, parameter)."""
    rows = []
    for name in STUDIES:
        morris = {(r["output"], r["parameter"]): r for r in read(out / name / "morris.csv")}
        for r in read(out / name / "sobol.csv"):
            m = morris.get((r["output"], r["parameter"]), {})
            def num(key: str, row: dict = r) -> float:
                return float(row[key]) if row.get(key) not in (None, "") else float("nan")

            rows.append({"scenario": name, "output": r["output"], "parameter": r["parameter"],
                         "rank": int(r["rank"]) if r["rank"] else None,
                         "ST": num("ST"), "ST_lo": num("ST_lo"), "ST_hi": num("ST_hi"),
                         "S1": num("S1"), "S1_lo": num("S1_lo"), "S1_hi": num("S1_hi"),
                         "morris_mu_star_relative": num("mu_star_relative", m),
                         "note": r["note"]})
    return rows


def table(rows: list[dict], top: int = 5) -> str:
    lines = []
    for name in STUDIES:
        meta = read_json(name)
        lines.append(f"### {name} ({meta})")
        lines.append("")
        lines.append("| output | rank | parameter | ST (95% CI) | S1 (95% CI) "
                     "| Morris mu* (rel.) |")
        lines.append("|---|---|---|---|---|---|")
        for output in OUTPUTS:
            sel = sorted((r for r in rows if r["scenario"] == name and r["output"] == output
                          and r["rank"]), key=lambda r: r["rank"])
            if not sel and any(r["scenario"] == name and r["output"] == output for r in rows):
                lines.append(f"| {OUTPUTS[output][1]} | - | constant over the ranges | | | |")
            for r in sel[:top]:
                lines.append(f"| {OUTPUTS[output][1]} | {r['rank']} | {short(r['parameter'])} "
                             f"| {r['ST']:.2f} ({r['ST_lo']:.2f}-{r['ST_hi']:.2f}) "
                             f"| {r['S1']:.2f} ({r['S1_lo']:.2f}-{r['S1_hi']:.2f}) "
                             f"| {r['morris_mu_star_relative']:.2f} |")
        lines.append("")
    return "\n".join(lines)


_META: dict[str, str] = {}


def read_json(name: str) -> str:
    return _META.get(name, "")


def run_one(name: str, out: Path, quick: bool, progress: bool) -> str:
    """One study into ``out/name``; returns its one-line description."""
    study = parse_study(ROOT / "conf" / "sensitivity" / f"{name}.yaml")
    if quick:
        study = study.quick()
    record = run_study(study, out / name, progress="auto" if progress else False)
    meta = (f"{record['sobol']['sets']} Sobol + {record['morris']['sets']} Morris "
            f"parameter sets x {study.replications} replications, seed {study.seed}, "
            f"{record['runtime_seconds']:.0f} s")
    write_text(out / name / "meta.txt", meta + "\n")
    return meta


RULE = ("insider.request_rate_per_ip", "detectors.threshold_rules.max_requests_per_ip_hour")


def below_the_rule(out: Path, name: str = STUDIES[0]) -> list[dict]:
    """Spearman correlations of each parameter with each output among the Sobol parameter sets
    in which the insider stays under the gateway's per-address rule (as the real one did).

    The rule dominates every output (it either fires on the first session or never); this asks
    what drives the outputs given that it did not fire. A descriptive reading of the samples,
    not a variance decomposition: the subset is not a Sobol design.
    """
    from scipy.stats import spearmanr

    samples = read(out / name / "samples.csv")
    keep = [r for r in samples if float(r[RULE[0]]) < float(r[RULE[1]])]
    study = parse_study(ROOT / "conf" / "sensitivity" / f"{name}.yaml")
    rows = []
    for output in study.outputs:
        y = [float(r[output]) for r in keep]
        for q in study.parameters:
            rho, p = spearmanr([float(r[q.key]) for r in keep], y)
            rows.append({"scenario": name, "output": output, "parameter": q.key,
                         "sets_below_rule": len(keep), "sets": len(samples),
                         "spearman_rho": float(rho), "p_value": float(p)})
    return rows


def run_all(out: Path, quick: bool, jobs: int) -> None:
    """Every study, ``jobs`` at once."""
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(STUDIES)))) as pool:
        futures = {name: pool.submit(run_one, name, out, quick, jobs <= 1) for name in STUDIES}
        for name, future in futures.items():
            _META[name] = future.result()
            print(f"{name}: {_META[name]}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-sized run")
    parser.add_argument("--out", type=Path, help="where to write (default results/; with "
                        "--quick scratch/, git-ignored)")
    parser.add_argument("--jobs", type=int, default=2, help="studies run at once (processes)")
    parser.add_argument("--tables-only", action="store_true",
                        help="redo the tables and figure from the studies already in --out")
    args = parser.parse_args(argv)
    out = args.out or HERE / ("scratch" if args.quick else "results")
    if args.tables_only:
        for name in STUDIES:
            _META[name] = (out / name / "meta.txt").read_text().strip()
    else:
        run_all(out, args.quick, args.jobs)
    rows = ranking(out)
    write_csv(rows, out / "ranking.csv")
    write_csv(below_the_rule(out), out / "below_the_rule.csv")
    write_text(out / "ranking.md", table(rows) + "\n")
    outputs = list(parse_study(ROOT / "conf" / "sensitivity" / f"{STUDIES[0]}.yaml").outputs)
    plot_indices([(name, [r for r in rows if r["scenario"] == name]) for name in STUDIES],
                 outputs, out / "sensitivity.png")
    print(table(rows, top=3))
    print(f"wrote ranking.csv, ranking.md, sensitivity.png in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
