"""Control budget: the cheapest mix of controls that finds a Coupang-like insider within a week,
and the Pareto front of what controls cost against what the insider takes.

The scenario is ``coupang_2025_monitored`` (the case's network and low-and-slow insider, outside
discovery) priced by the policy layer with ``firm=coupang_2025`` (every unit cost is in
conf/firm/coupang_2025.yaml with its source or assumption; :func:`sim.policy.model.control_costs`
turns a mix into USD a year). The decision variables (:data:`SPACE`) are the controls a firm
buys: the access-log audit (interval, share of log lines sampled), the behavioural monitor at
the API gateway (on/off, score threshold), the per-IP volume rule at the gateway (on/off,
limit), the analysts on shift 24/7 (when something alerts), and a key rotation (on/off,
interval: every key rotated once per interval, the insider's 3-year-old signing key at the
first review).

Four Optuna studies (in-process, the same objectives as ``python -m sim optimise=...``,
:mod:`sim.analysis.objectives`; every trial runs ``REPLICATIONS`` replications with one seed,
common random numbers across trials):

A. **Cheapest mix with P(dwell > 7 d) <= 5%** (TPE): minimise the yearly control cost plus the
   penalty of conf/optimise/control_budget.yaml (1e8 USD per unit of probability over 5%), as
   the Hydra sweeper would. The chosen mix is the cheapest trial of both studies whose *upper*
   95% bound of P(dwell > 7 d) is at most 5% (the search's own estimate is optimistic: the
   cheapest of many noisy estimates is picked for its luck); it is then run again with a fresh
   seed and ``CHECK_REPLICATIONS`` replications, and against two insiders it was not chosen
   for (half the request rate per address; the threshold prober).
B. **Pareto front of cost against mean records taken** (NSGA-II, two objectives): the
   non-dominated trials, each run again with a fresh seed and ``FRONT_REPLICATIONS``
   replications for 95% intervals.
C. **Cheapest mix against all three insiders** (TPE): the worst of the three insiders' P.
D. **The same with a team that keeps up** (TPE, conf/optimise/control_budget_staffed.yaml):
   C's question with a second limit, the analysts' offered load at most 1
   (:func:`sim.controls.triage.offered_load`). The policy layer prices analyst seats, not their
   workload, so C may pick a team of one that only keeps up because old benign alerts age out
   unreviewed; D's answer is chosen among C and D's trials whose load is below 1.

    python experiments/control_budget/run.py            # full study (~4 min on one core)
    python experiments/control_budget/run.py --quick    # a few trials, into a scratch dir

Writes into ``results/`` (``--quick``: a scratch dir unless ``--out``): ``trials.csv`` (every
trial: study, settings, cost, P(dwell > 7 d) with its interval, mean records), ``pareto.csv``
(the front, re-run), ``chosen.csv`` (the chosen mix: search estimate, fresh re-run, the two
other insiders), ``control_budget.md`` (the tables), ``control_budget.png`` (the figure) and
``control_budget.json`` (sizes, seeds, time taken).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from sim.analysis.objectives import parse_objective  # noqa: E402
from sim.analysis.study import CONF_DIR, Scenario  # noqa: E402
from sim.core.timeunits import DAY, MONTH, WEEK, YEAR  # noqa: E402
from sim.outputs import report, stats  # noqa: E402

NAME = "control_budget"
SCENARIO = "coupang_2025_monitored"
FIRM = "coupang_2025"
SEED = 2025            # the search's seed (every trial: common random numbers)
CHECK_SEED = 7_2025    # fresh seeds for the re-runs (another stream than the search's)
HORIZON = "1y"
LIMIT = 0.05           # P(dwell > 7 d) at most this (issue #15)
FULL = {"replications": 200, "trials_a": 200, "trials_b": 320, "trials_c": 150,
        "trials_d": 150, "population": 40, "check_replications": 4000,
        "front_replications": 1000, "front_max": 30}
QUICK = {"replications": 80, "trials_a": 12, "trials_b": 12, "trials_c": 8, "trials_d": 8,
         "population": 6, "check_replications": 100, "front_replications": 60, "front_max": 4}
#: a team that keeps up: offered load below this (study D, conf/optimise/control_budget_staffed)
MAX_LOAD = 1.0
#: The insiders of study C (and of the chosen mix's re-runs): the case's own, and two it was
#: not fitted to. Half the case's 630 requests per address-hour (conf/insider/former_employee.yaml)
#: is the low end of the sensitivity study's range; the prober (conf/insider/strategy/) backs
#: off below a rule that refuses it.
INSIDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "case": ("the case's insider", ()),
    "half_rate": ("insider at half the rate per address (315/h)",
                  ("insider.request_rate_per_ip=315",)),
    "prober": ("threshold-prober insider", ("insider/strategy=threshold_prober",)),
}

#: The volume rule's false alarms as a function of its limit. The preset's 1e-6 benign trips
#: per session at 1,000 requests per address-hour (conf/scenario/coupang_2025.yaml, an
#: assumption: ~10 a day from 10M sessions) grows as (1000 / limit) ** RULE_TAIL below it.
#: Assumption: a Pareto tail of index 2 for benign requests per address-hour (heavy-tailed web
#: traffic); no published figure for this gateway. Without it a lower limit would cost nothing.
RULE_TAIL = 2.0
RULE_TRIP_AT_1000 = 1.0e-6

#: The decision variables: name -> (kind, low, high, log scale). Durations in hours.
SPACE: dict[str, tuple[str, float, float, bool]] = {
    "audit_interval_h": ("float", WEEK, 3 * MONTH, True),      # weekly to quarterly
    "audit_coverage": ("float", 0.003, 0.3, True),             # share of log lines sampled
    "monitoring": ("bool", 0, 1, False),
    "monitoring_threshold": ("float", 4.0, 6.0, False),        # ~300 to a few false alarms a month
    "volume_rule": ("bool", 0, 1, False),
    "rule_limit_per_ip_hour": ("float", 300.0, 3000.0, True),
    "analysts": ("int", 1, 10, False),                         # on shift, 24/7
    "key_rotation": ("bool", 0, 1, False),
    "rotation_interval_h": ("float", WEEK, 2 * YEAR, True),
}


def suggest(trial: Any) -> dict[str, Any]:
    """The trial's mix (define-by-run: a control's settings only when it is on)."""
    x: dict[str, Any] = {}

    def draw(name: str) -> Any:
        kind, lo, hi, log = SPACE[name]
        if kind == "bool":
            return trial.suggest_categorical(name, [False, True])
        if kind == "int":
            return trial.suggest_int(name, int(lo), int(hi))
        return trial.suggest_float(name, lo, hi, log=log)

    x["audit_interval_h"] = draw("audit_interval_h")
    x["audit_coverage"] = draw("audit_coverage")
    x["monitoring"] = draw("monitoring")
    if x["monitoring"]:
        x["monitoring_threshold"] = draw("monitoring_threshold")
    x["volume_rule"] = draw("volume_rule")
    if x["volume_rule"]:
        x["rule_limit_per_ip_hour"] = draw("rule_limit_per_ip_hour")
    if x["monitoring"] or x["volume_rule"]:
        x["analysts"] = draw("analysts")
    x["key_rotation"] = draw("key_rotation")
    if x["key_rotation"]:
        x["rotation_interval_h"] = draw("rotation_interval_h")
    return x


def configure(base: dict[str, Any], x: dict[str, Any]) -> dict[str, Any]:
    """The scenario's plain config with the mix ``x`` in place."""
    cfg = copy.deepcopy(base)
    det = cfg["detectors"]
    det["audit"]["interval"] = float(x["audit_interval_h"])
    det["audit"]["coverage"] = float(x["audit_coverage"])
    if x["monitoring"]:
        det["monitoring"]["threshold"] = float(x["monitoring_threshold"])
    else:
        del det["monitoring"]
    if x["volume_rule"]:
        limit = float(x["rule_limit_per_ip_hour"])
        det["threshold_rules"]["max_requests_per_ip_hour"] = limit
        det["threshold_rules"]["benign_trip_probability"] = min(
            1.0, RULE_TRIP_AT_1000 * (1000.0 / limit) ** RULE_TAIL)
    else:
        del det["threshold_rules"]
    cfg["triage"]["analysts"] = int(x.get("analysts", 0))
    if x["key_rotation"]:
        det["key_rotation"]["interval"] = float(x["rotation_interval_h"])
        det["key_rotation"]["max_credential_age"] = float(x["rotation_interval_h"])
    else:
        del det["key_rotation"]
    return cfg


def describe(x: dict[str, Any]) -> str:
    """The mix in words, for tables."""
    parts = [f"audit every {_dur(x['audit_interval_h'])} of {100 * x['audit_coverage']:.2g}% "
             f"of log lines"]
    if x["monitoring"]:
        parts.append(f"monitor at z > {x['monitoring_threshold']:.2f}")
    if x["volume_rule"]:
        parts.append(f"rule {x['rule_limit_per_ip_hour']:.0f}/address-hour")
    if x["monitoring"] or x["volume_rule"]:
        parts.append(f"{x['analysts']} analyst{'s' if x['analysts'] != 1 else ''} 24/7")
    if x["key_rotation"]:
        parts.append(f"keys rotated every {_dur(x['rotation_interval_h'])}")
    return "; ".join(parts)


def _dur(hours: float) -> str:
    for size, unit in ((YEAR, "y"), (MONTH, "mo"), (WEEK, "w"), (DAY, "d")):
        if hours >= size:
            return f"{hours / size:.3g} {unit}"
    return f"{hours:.3g} h"


class Evaluator:
    """Runs a mix: the replications, its yearly control cost, P(dwell > 7 d), mean records."""

    def __init__(self, replications: int, extra: tuple[str, ...] = ()) -> None:
        """``replications`` per run of the scenario with ``extra`` overrides (an insider)."""
        from sim.policy.model import Firm

        self.scenario = Scenario(SCENARIO, ["+detector@detectors.key_rotation=credential_hygiene",
                                            *extra], [], replications, SEED, HORIZON)
        firm_file = CONF_DIR / "firm" / f"{FIRM}.yaml"
        self.firm = Firm.from_mapping(yaml.safe_load(firm_file.read_text(encoding="utf-8")))
        opt = yaml.safe_load((CONF_DIR / "optimise" / "control_budget.yaml").read_text())
        self.constrained = parse_objective(opt)
        opt = yaml.safe_load((CONF_DIR / "optimise" / "control_budget_staffed.yaml").read_text())
        self.staffed = parse_objective(opt)
        self.objective = parse_objective({"objective": ["control_cost_usd", "mean_records"]})

    def run(self, x: dict[str, Any], seed: int = SEED, replications: int | None = None,
            ) -> dict[str, Any]:
        from sim.controls.triage import offered_load
        from sim.core.engine import build_model, simulate_many
        from sim.policy.model import control_costs

        cfg = configure(self.scenario.base, x)
        if replications is not None:
            cfg["replications"] = replications
        model = build_model(cfg)
        costs = control_costs(model, self.firm)
        load = offered_load(model, seed)["offered_load"]
        results = list(simulate_many(model, seed, range(model.run.replications)))
        measured = self.constrained.measure(results, model.run.horizon, costs.total_usd)
        measured.update(self.objective.measure(results, model.run.horizon, costs.total_usd))
        n = len(results)
        late = sum(r.dwell_hours > 7 * DAY for r in results)  # censoring only at the horizon
        lo_hi = stats.binomial_ci(late, n) or (math.nan, math.nan)
        rec = np.array([r.records_exfiltrated for r in results], dtype=float)
        rec_ci = stats.mean_ci(rec) or (math.nan, math.nan)
        return {"replications": n, "seed": seed, "control_cost_usd": costs.total_usd,
                "analysts_usd": costs.analysts_usd, "monitoring_usd": costs.monitoring_usd,
                "rules_usd": costs.rules_usd, "audits_usd": costs.audits_usd,
                "keys_usd": costs.credentials_usd,
                "p_dwell_over_7d": measured["p_dwell_over_7d"], "p_dwell_over_7d_lo": lo_hi[0],
                "p_dwell_over_7d_hi": lo_hi[1], "mean_records": float(rec.mean()),
                "mean_records_lo": rec_ci[0], "mean_records_hi": rec_ci[1],
                "median_dwell_days": _median_days(results, model.run.horizon),
                "offered_load": load,
                "penalised_cost_usd": self.constrained.value(measured),
                "penalised_cost_staffed_usd": self.staffed.value(
                    self.staffed.measure(results, model.run.horizon, costs.total_usd, load))}


def _median_days(results: list[Any], horizon: float) -> float:
    from sim.analysis.study import median_dwell_days

    return median_dwell_days(results, horizon)


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (both coordinates minimised), by the first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best = [], math.inf
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def search(evs: dict[str, Evaluator], size: dict[str, int], log: Any) -> list[dict[str, Any]]:
    """The three studies; every trial's row. ``evs``: an evaluator per insider of
    :data:`INSIDERS`; studies A and B meet the case's insider, study C all three."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: list[dict[str, Any]] = []
    ev = evs["case"]

    def row(study: str, trial: Any, x: dict[str, Any], out: dict[str, Any],
            per: dict[str, float] | None = None) -> dict[str, Any]:
        r = {"study": study, "trial": trial.number, **_flat(x), "mix": describe(x), **out}
        for name in INSIDERS:
            r[f"p_dwell_over_7d_{name}"] = (per or {}).get(name)
        return r

    def objective_a(trial: Any) -> float:
        x = suggest(trial)
        out = ev.run(x)
        rows.append(row("A_cheapest_within_a_week", trial, x, out))
        return out["penalised_cost_usd"]

    def objective_b(trial: Any) -> tuple[float, float]:
        x = suggest(trial)
        out = ev.run(x)
        rows.append(row("B_cost_vs_records", trial, x, out))
        return out["control_cost_usd"], out["mean_records"]

    def robust(study: str, value: str) -> Any:
        """A study's objective against every insider: the worst insider's P(dwell > 7 d)
        and its ``value`` (a penalised cost; the load is the mix's, whoever the insider)."""
        def objective(trial: Any) -> float:
            x = suggest(trial)
            outs = {name: e.run(x) for name, e in evs.items()}
            worst = max(outs.values(), key=lambda o: o["p_dwell_over_7d"])
            out = {**worst, "p_dwell_over_7d_hi": max(o["p_dwell_over_7d_hi"]
                                                      for o in outs.values())}
            rows.append(row(study, trial, x, out,
                            {n: o["p_dwell_over_7d"] for n, o in outs.items()}))
            return worst[value]
        return objective

    objective_c = robust("C_robust_within_a_week", "penalised_cost_usd")
    objective_d = robust("D_robust_staffed_within_a_week", "penalised_cost_staffed_usd")

    for label, study, objective, n in (
            ("A", optuna.create_study(direction="minimize",
                                      sampler=optuna.samplers.TPESampler(seed=SEED)),
             objective_a, size["trials_a"]),
            ("B", optuna.create_study(directions=["minimize", "minimize"],
                                      sampler=optuna.samplers.NSGAIISampler(
                                          seed=SEED, population_size=size["population"])),
             objective_b, size["trials_b"]),
            ("C", optuna.create_study(direction="minimize",
                                      sampler=optuna.samplers.TPESampler(seed=SEED)),
             objective_c, size["trials_c"]),
            ("D", optuna.create_study(direction="minimize",
                                      sampler=optuna.samplers.TPESampler(seed=SEED)),
             objective_d, size["trials_d"])):
        t0 = time.perf_counter()
        study.optimize(objective, n_trials=n, callbacks=[
            lambda s, t, label=label, n=n, t0=t0: _progress(log, label, t.number + 1, n, t0)])
    return rows


def _progress(log: Any, study: str, done: int, total: int, t0: float) -> None:
    if done % 25 == 0 or done == total:
        log(f"  study {study}: {done}/{total} trials, {time.perf_counter() - t0:.0f} s")


def _flat(x: dict[str, Any]) -> dict[str, Any]:
    """Every decision variable as a column (empty when the control is off)."""
    return {k: x.get(k) for k in SPACE}


def choose(rows: list[dict[str, Any]], max_load: float = math.inf) -> dict[str, Any] | None:
    """The cheapest trial whose upper 95% bound of P(dwell > 7 d) is within the limit (for
    study C's rows: the largest upper bound of the three insiders) and whose analysts' offered
    load is below ``max_load``."""
    ok = [r for r in rows if r["p_dwell_over_7d_hi"] <= LIMIT and r["offered_load"] < max_load]
    return min(ok, key=lambda r: r["control_cost_usd"]) if ok else None


def mix_of(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in SPACE if row.get(k) is not None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few trials, into a scratch dir")
    parser.add_argument("--out", type=Path, help="where to write (default results/, or a "
                                                 "scratch dir with --quick)")
    parser.add_argument("--replot", action="store_true", help="only redraw the table and figure "
                        "from the CSVs already in the output dir")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    out = args.out or (Path(tempfile.mkdtemp(prefix=f"{NAME}-")) / "results" if args.quick
                       else HERE / "results")
    logging.getLogger("optuna").setLevel(logging.WARNING)
    if args.replot:
        meta = json.loads((out / f"{NAME}.json").read_text())
        rows, front_rows, chosen_rows = (read_csv(out / f) for f in
                                         ("trials.csv", "pareto.csv", "chosen.csv"))
        write_markdown(chosen_rows, front_rows, meta, out / f"{NAME}.md")
        plot(rows, front_rows, chosen_rows, meta, out / f"{NAME}.png")
        return 0

    def log(text: str) -> None:
        print(text, flush=True)

    t0 = time.perf_counter()
    evs = {name: Evaluator(size["replications"], extra)
           for name, (_label, extra) in INSIDERS.items()}
    ev = evs["case"]
    log(f"{SCENARIO} with firm={FIRM}: {size['trials_a']} + {size['trials_b']} + "
        f"{size['trials_c']} + {size['trials_d']} (x 3 insiders) trials x "
        f"{size['replications']} replications")
    rows = search(evs, size, log)
    t_search = time.perf_counter() - t0

    # the chosen mixes: cheapest with the upper bound within the limit, re-run on fresh seeds
    chosen_rows: list[dict[str, Any]] = []
    case_rows = [r for r in rows if r["study"][0] in "AB"]
    robust_rows = [r for r in rows if r["study"][0] in "CD"]
    checks = {name: Evaluator(size["check_replications"], extra)
              for name, (_label, extra) in INSIDERS.items()}
    for question, pool, max_load in (
            ("the case's insider", case_rows, math.inf),
            ("all three insiders", [r for r in rows if r["study"].startswith("C")], math.inf),
            (STAFFED, robust_rows, MAX_LOAD)):
        best = choose(pool, max_load)
        if best is None:
            log(f"no trial met the limit for {question}")
            continue
        x = mix_of(best)
        res = best if question == "the case's insider" else evs["case"].run(x)
        chosen_rows.append({"question": question, "evaluation": "search (same seed as every "
                            "trial), the case's insider", "mix": describe(x), **_flat(x),
                            **{k: res[k] for k in RESULT_KEYS}})
        for name, (label, _extra) in INSIDERS.items():
            res = checks[name].run(x, CHECK_SEED)
            chosen_rows.append({"question": question, "evaluation": f"fresh seed, {label}",
                                "mix": describe(x), **_flat(x),
                                **{k: res[k] for k in RESULT_KEYS}})
        log(f"chosen for {question}: {describe(x)}: {best['control_cost_usd']:,.0f} USD a year")
    by_estimate = min((r for r in case_rows if r["p_dwell_over_7d"] <= LIMIT),
                      key=lambda r: r["control_cost_usd"], default=None)
    # the Pareto front of studies A and B (the case's insider; every trial measured both)
    front_idx = pareto([(r["control_cost_usd"], r["mean_records"]) for r in case_rows])
    if len(front_idx) > size["front_max"]:  # keep an even spread along the cost axis
        pick = np.linspace(0, len(front_idx) - 1, size["front_max"]).round().astype(int)
        front_idx = [front_idx[i] for i in sorted(set(pick))]
    front_rows = []
    for i in front_idx:
        r = case_rows[i]
        res = ev.run(mix_of(r), CHECK_SEED, size["front_replications"])
        front_rows.append({"mix": r["mix"], **_flat(mix_of(r)), "study": r["study"],
                           "trial": r["trial"],
                           "search_mean_records": r["mean_records"],
                           **{k: res[k] for k in RESULT_KEYS}})
    elapsed = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    report.write_csv(rows, out / "trials.csv")
    report.write_csv(front_rows, out / "pareto.csv")
    report.write_csv(chosen_rows, out / "chosen.csv")
    meta = {"scenario": SCENARIO, "firm": FIRM, "horizon": HORIZON, "limit": LIMIT,
            "seed": SEED, "check_seed": CHECK_SEED, **size, "trials": len(rows),
            "search_seconds": round(t_search, 1), "seconds": round(elapsed, 1),
            "rule_tail": RULE_TAIL, "cheapest_by_point_estimate": by_estimate and {
                "mix": by_estimate["mix"], "control_cost_usd": by_estimate["control_cost_usd"],
                "p_dwell_over_7d": by_estimate["p_dwell_over_7d"],
                "p_dwell_over_7d_hi": by_estimate["p_dwell_over_7d_hi"]}}
    report.write_atomic(out / f"{NAME}.json", (json.dumps(meta, indent=2) + "\n").encode())
    write_markdown(chosen_rows, front_rows, meta, out / f"{NAME}.md")
    plot(rows, front_rows, chosen_rows, meta, out / f"{NAME}.png")
    log(f"wrote trials.csv, pareto.csv, chosen.csv, {NAME}.md, {NAME}.png in {out} "
        f"({elapsed:.0f} s)")
    return 0


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows written by :func:`sim.outputs.report.write_csv`, numbers as numbers."""
    import csv

    def cell(v: str) -> Any:
        if v == "":
            return None
        if v in ("true", "false"):
            return v == "true"
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return v

    with path.open(encoding="utf-8") as f:
        return [{k: cell(v) for k, v in r.items()} for r in csv.DictReader(f)]


RESULT_KEYS = ("replications", "seed", "control_cost_usd", "analysts_usd", "monitoring_usd",
               "rules_usd", "audits_usd", "keys_usd", "p_dwell_over_7d", "p_dwell_over_7d_lo",
               "p_dwell_over_7d_hi", "mean_records", "mean_records_lo", "mean_records_hi",
               "median_dwell_days", "offered_load")
#: the question of study D
STAFFED = "all three insiders, with a team that keeps up"


def _usd(v: float) -> str:
    return f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.0f}K"


def _pct(r: dict[str, Any]) -> str:
    return (f"{100 * r['p_dwell_over_7d']:.1f}% [{100 * r['p_dwell_over_7d_lo']:.1f}, "
            f"{100 * r['p_dwell_over_7d_hi']:.1f}]")


def _rec(r: dict[str, Any]) -> str:
    return (f"{report.records_label(r['mean_records'])} "
            f"[{report.records_label(max(0.0, r['mean_records_lo']))}, "
            f"{report.records_label(r['mean_records_hi'])}]")


def write_markdown(chosen: list[dict[str, Any]], front: list[dict[str, Any]],
                   meta: dict[str, Any], path: Path) -> None:
    lines = []
    for question in ("the case's insider", "all three insiders", STAFFED):
        rows = [r for r in chosen if r["question"] == question]
        lines += [f"### The cheapest mix with P(dwell > 7 d) <= 5% against {question}", ""]
        if not rows:
            lines += ["No trial met the limit with its upper 95% bound.", ""]
            continue
        load = rows[0]["offered_load"]
        lines += [f"**{rows[0]['mix']}**: {_usd(rows[0]['control_cost_usd'])} USD a year; the "
                  f"analysts' offered load {load:.2f}"
                  + (" (overloaded: old benign alerts age out unreviewed)." if load >= 1
                     else "."),
                  "", "| evaluation | replications | P(dwell > 7 d) [95% CI] | mean records "
                  "taken [95% CI] | median dwell |", "|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['evaluation']} | {r['replications']} | {_pct(r)} | {_rec(r)} | "
                         f"{r['median_dwell_days']:.2g} d |")
        lines.append("")
    lines += ["### Pareto front: yearly control cost against mean records taken (the case's "
              "insider)", "",
              "| control cost (USD a year) | mix | mean records taken [95% CI] | "
              "P(dwell > 7 d) [95% CI] |", "|---|---|---|---|"]
    for r in front:
        lines.append(f"| {_usd(r['control_cost_usd'])} | {r['mix']} | {_rec(r)} | {_pct(r)} |")
    lines += ["", f"Search: {meta['trials']} trials ({meta['trials_a']} TPE, {meta['trials_b']} "
              f"NSGA-II, {meta['trials_c']} TPE against all three insiders, "
              f"{meta.get('trials_d', 0)} TPE against all three with a team that keeps up) x "
              f"{meta['replications']} replications, seed {meta['seed']}; re-runs: "
              f"seed {meta['check_seed']}, {meta['check_replications']} replications for the "
              f"chosen mixes, {meta['front_replications']} for each front point. Clopper-Pearson "
              f"intervals for P, t intervals for the mean. Horizon {meta['horizon']}; "
              f"{meta['seconds']:.0f} s."]
    report.write_atomic(path, ("\n".join(lines) + "\n").encode())


def plot(rows: list[dict[str, Any]], front: list[dict[str, Any]], chosen: list[dict[str, Any]],
         meta: dict[str, Any], path: Path) -> None:
    """Left: every trial's cost against mean records, the front re-run with intervals.
    Right: cost against P(dwell > 7 d), the 5% limit and the chosen mix."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.6, 4.4), dpi=150, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    cost = np.array([r["control_cost_usd"] for r in rows])
    rec = np.array([r["mean_records"] for r in rows])
    p7 = np.array([r["p_dwell_over_7d"] for r in rows])
    colour = {"A_cheapest_within_a_week": ("#999999", "trials, A: cheapest (TPE)"),
              "B_cost_vs_records": ("#56B4E9", "trials, B: Pareto (NSGA-II)"),
              "C_robust_within_a_week": ("#009E73", "trials, C: all three insiders (worst)"),
              "D_robust_staffed_within_a_week": ("#E69F00", "trials, D: C + team keeps up")}
    for study, (c, label) in colour.items():
        m = np.array([r["study"] == study for r in rows])
        if study[0] in "AB":
            ax1.scatter(cost[m], np.maximum(rec[m], 1), s=6, color=c, alpha=0.6, label=label)
        ax2.scatter(cost[m], p7[m], s=6, color=c, alpha=0.6, label=label)
    if front:
        fc = np.array([r["control_cost_usd"] for r in front])
        fm = np.array([r["mean_records"] for r in front])
        lo = np.array([max(r["mean_records_lo"], 1.0) for r in front])
        hi = np.array([r["mean_records_hi"] for r in front])
        fm1 = np.maximum(fm, 1.0)
        ax1.errorbar(fc, fm1, yerr=[fm1 - np.minimum(lo, fm1), np.maximum(hi, fm1) - fm1],
                     fmt="o-", ms=4, color="#0072B2", capsize=2, lw=1, drawstyle="steps-post",
                     label=f"Pareto front, re-run ({meta['front_replications']} replications)")
    for question, colour_, marker, short in (
            ("the case's insider", "#D55E00", "*", "the case's insider"),
            ("all three insiders", "#CC79A7", "P", "all three insiders"),
            (STAFFED, "#E69F00", "D", "all three, a team that keeps up")):
        sel = [r for r in chosen if r["question"] == question
               and r["evaluation"].startswith("fresh seed")]
        if not sel:
            continue
        c = max(sel, key=lambda r: r["p_dwell_over_7d"])  # its worst insider
        case = next(r for r in sel if r["evaluation"].endswith("the case's insider"))
        ax1.plot([case["control_cost_usd"]], [max(case["mean_records"], 1.0)], marker=marker,
                 ms=11, color=colour_, linestyle="none",
                 label=f"cheapest within a week, {short} (re-run)")
        ax2.errorbar([c["control_cost_usd"]], [c["p_dwell_over_7d"]],
                     yerr=[[max(0.0, c["p_dwell_over_7d"] - c["p_dwell_over_7d_lo"])],
                           [max(0.0, c["p_dwell_over_7d_hi"] - c["p_dwell_over_7d"])]],
                     fmt=marker, ms=11, color=colour_, capsize=3,
                     label=f"cheapest, {short}: worst insider ({c['replications']})")
    ax2.axhline(LIMIT, color="#D55E00", lw=0.8, ls="--", label="limit: 5%")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("yearly cost of the controls (USD, firm coupang_2025; log scale)",
                      fontsize=8)
        report.style_axes(ax)
    ax1.set_yscale("log")
    ax1.set_ylabel("mean records taken per insider (log scale)", fontsize=8)
    ax2.set_ylabel("P(dwell > 7 days)", fontsize=8)
    ax1.set_title("Cost against records taken", fontsize=9, loc="left")
    ax2.set_title("Cost against P(dwell > 7 days)", fontsize=9, loc="left")
    ax1.legend(fontsize=6.5, frameon=False, loc="lower left")
    ax2.legend(fontsize=6.5, frameon=False, loc="center right")
    fig.suptitle(f"Control budget, Coupang-like insider ({meta['trials']} trials x "
                 f"{meta['replications']} replications)", fontsize=10)
    report.save_figure(fig, path)


if __name__ == "__main__":
    raise SystemExit(main())
