"""Global sensitivity of a scenario's outputs to its assumptions (SALib: Sobol and Morris).

``python -m sim.sensitivity CONFIG [--out DIR] [--quick] [--workers N]``, where CONFIG is a
study file (:mod:`sim.analysis.study`; a path, or a name in ``conf/sensitivity/``) with, beside
the scenario and the parameters::

    outputs: [median_dwell_days, p_dwell_over_30d, mean_records]
    sobol: {samples: 64, bootstrap: 500}     # N base samples (a power of 2): N (D + 2) runs
    morris: {trajectories: 20, levels: 4}    # r trajectories: r (D + 1) runs

Every parameter set runs ``replications`` replications with the same seed (common random
numbers), so a parameter that changes nothing gets indices of exactly 0 and the differences
between parameter sets are the parameters', not chance. The indices are those of that
fixed-seed estimate of each output.

* **Sobol** (Saltelli sampling, scrambled Sobol' sequence; Jansen's estimator): the first-order
  index ``S1`` is the share of an output's variance over the ranges that one parameter explains
  alone, the total index ``ST`` the share it takes part in, interactions included; 95%
  bootstrap intervals. Parameters are ranked by ``ST``.
* **Morris** screening (elementary effects over the unit range of each parameter, so effects
  are comparable across parameters): ``mu_star`` (mean absolute effect, with its 95% interval,
  in the output's unit) and ``sigma`` (spread: non-linearity or interaction).

Writes into the output dir: ``sobol.csv`` and ``morris.csv`` (tidy: one row per output and
parameter), ``samples.csv`` (every Sobol parameter set and its outputs), ``sensitivity.png``
(ST and S1 per parameter and output, with intervals) and ``sensitivity.json`` (the study, the
number of runs, the time taken).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis.study import (
    OUTPUTS,
    STUDY_KEYS,
    Study,
    add_study_arguments,
    check_keys,
    check_outputs,
    load_study,
    measure_many,
    positive_int,
    section,
    shown,
    study_fields,
)
from sim.core.errors import ConfigError, SimError

KEYS = (*STUDY_KEYS, "outputs", "sobol", "morris")
QUICK = {"replications": 20, "samples": 8, "trajectories": 4, "bootstrap": 100}


@dataclass(frozen=True, kw_only=True)
class SensitivityStudy(Study):
    """A parsed sensitivity file (see the module docstring)."""

    outputs: tuple[str, ...]
    samples: int = 64
    bootstrap: int = 500
    trajectories: int = 20
    levels: int = 4
    QUICK = QUICK


def parse_study(path: str | Path) -> SensitivityStudy:
    """Read and check a sensitivity file.

    Raises:
        SimError: (ConfigError naming the key) anything wrong in it.
    """
    p, data = load_study(path, "sensitivity")
    try:
        check_keys(data, KEYS, ("scenario", "parameters", "outputs"))
        common = study_fields(p, data, 100)
        outputs = check_outputs(data["outputs"], "outputs")
        sobol = section(data, "sobol", ("samples", "bootstrap"))
        morris = section(data, "morris", ("trajectories", "levels"))
        samples = positive_int(sobol, "sobol.samples", 64, 2, 2**16)
        if samples & (samples - 1):
            raise ConfigError("sobol.samples", f"must be a power of 2 (Sobol' sequence), "
                                               f"got {samples}")
        return SensitivityStudy(
            **common, outputs=tuple(outputs), samples=samples,
            bootstrap=positive_int(sobol, "sobol.bootstrap", 500, 10, 10**5),
            trajectories=positive_int(morris, "morris.trajectories", 20, 2, 10**4),
            levels=positive_int(morris, "morris.levels", 4, 2, 100))
    except ConfigError as err:
        raise SimError(f"{p}: {err}") from None


def problem(study: SensitivityStudy) -> dict[str, Any]:
    """SALib's problem: every parameter on its unit range (mapped by :meth:`Parameter.value`)."""
    return {"num_vars": len(study.parameters), "names": [q.key for q in study.parameters],
            "bounds": [[0.0, 1.0]] * len(study.parameters)}


def sobol_indices(study: SensitivityStudy, units: np.ndarray, y: np.ndarray
                  ) -> list[dict[str, Any]]:
    """Tidy rows of S1 and ST (with 95% bootstrap intervals) per output and parameter.

    An output that does not vary over the sampled sets has no indices (NaN) and is noted.
    """
    from SALib.analyze import sobol

    rows = []
    for j, name in enumerate(study.outputs):
        col = y[:, j]
        if not np.all(np.isfinite(col)) or np.ptp(col) == 0:
            for q in study.parameters:
                rows.append({"output": name, "parameter": q.key, "S1": math.nan,
                             "S1_lo": math.nan, "S1_hi": math.nan, "ST": math.nan,
                             "ST_lo": math.nan, "ST_hi": math.nan, "rank": None,
                             "note": "output constant over the ranges"})
            continue
        res = sobol.analyze(problem(study), col, calc_second_order=False,
                            num_resamples=study.bootstrap, conf_level=0.95, seed=study.seed)
        order = np.argsort(-np.nan_to_num(res["ST"], nan=-np.inf), kind="stable")
        rank = {int(i): r + 1 for r, i in enumerate(order)}
        for i, q in enumerate(study.parameters):
            s1, s1c, st, stc = (float(res[k][i]) for k in ("S1", "S1_conf", "ST", "ST_conf"))
            rows.append({"output": name, "parameter": q.key, "S1": s1, "S1_lo": s1 - s1c,
                         "S1_hi": s1 + s1c, "ST": st, "ST_lo": st - stc, "ST_hi": st + stc,
                         "rank": rank[i], "note": ""})
    return rows


def morris_indices(study: SensitivityStudy, units: np.ndarray, y: np.ndarray
                   ) -> list[dict[str, Any]]:
    """Tidy rows of Morris mu* (with its 95% interval) and sigma per output and parameter."""
    from SALib.analyze import morris

    rows = []
    for j, name in enumerate(study.outputs):
        col = y[:, j]
        if np.ptp(col) == 0:
            res = {"mu_star": [0.0] * len(study.parameters),
                   "mu_star_conf": [0.0] * len(study.parameters),
                   "sigma": [0.0] * len(study.parameters)}
        else:
            res = morris.analyze(problem(study), units, col, num_resamples=study.bootstrap,
                                 conf_level=0.95, num_levels=study.levels, seed=study.seed)
        top = max(float(np.max(res["mu_star"])), 1e-300)
        for i, q in enumerate(study.parameters):
            mu, c = float(res["mu_star"][i]), float(res["mu_star_conf"][i])
            rows.append({"output": name, "unit": OUTPUTS[name][2], "parameter": q.key,
                         "mu_star": mu, "mu_star_lo": max(0.0, mu - c), "mu_star_hi": mu + c,
                         "sigma": float(res["sigma"][i]), "mu_star_relative": mu / top})
    return rows


def run_study(study: SensitivityStudy, out: Path, workers: int = 1,
              progress: bool | str = "auto", morris: bool = True) -> dict[str, Any]:
    """Sample, simulate, analyse and write every file into ``out``; return the record.

    Raises:
        SimError: a bad scenario, key or range (before anything is simulated).
    """
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    from sim.cli.app import Progress
    from sim.outputs.report import write_csv

    t0 = time.perf_counter()
    scenario = study.build_scenario()
    prob = problem(study)
    units = sobol_sample.sample(prob, study.samples, calc_second_order=False, seed=study.seed)
    m_units = (morris_sample.sample(prob, study.trajectories, num_levels=study.levels,
                                    seed=study.seed) if morris else np.empty((0, len(prob))))
    rows = [scenario.values(u) for u in units]
    m_rows = [scenario.values(u) for u in m_units]
    bar = Progress(len(rows) + len(m_rows), f"{study.scenario}: sensitivity", progress)
    y = measure_many(scenario, rows, study.outputs, workers, bar)
    m_y = measure_many(scenario, m_rows, study.outputs, workers, bar)
    out.mkdir(parents=True, exist_ok=True)
    s_rows = sobol_indices(study, units, y)
    write_csv(s_rows, out / "sobol.csv")
    if morris:
        write_csv(morris_indices(study, m_units, m_y), out / "morris.csv")
    write_csv([{**v, **dict(zip(study.outputs, map(float, yy), strict=True))}
               for v, yy in zip(rows, y, strict=True)], out / "samples.csv")
    plot_indices([(study.scenario, s_rows)], study.outputs, out / "sensitivity.png")
    record = {
        "study": shown(study.path), "scenario": study.scenario,
        "overrides": list(study.overrides), "seed": study.seed,
        "replications_per_set": study.replications, "horizon_hours": scenario.horizon,
        "parameters": [{"key": q.key, "range": [q.lo, q.hi], "scale": q.scale,
                        "integer": q.integer, "why": q.why} for q in study.parameters],
        "outputs": {name: OUTPUTS[name][1] for name in study.outputs},
        "sobol": {"samples": study.samples, "sets": len(rows), "bootstrap": study.bootstrap},
        "morris": {"trajectories": study.trajectories, "levels": study.levels,
                   "sets": len(m_rows)},
        "output_range": {name: [float(np.min(y[:, j])), float(np.max(y[:, j]))]
                         for j, name in enumerate(study.outputs)},
        "runtime_seconds": round(time.perf_counter() - t0, 1),
    }
    from sim.core.atomic import write_text

    write_text(out / "sensitivity.json", json.dumps(record, indent=2) + "\n")
    return record


def short(key: str) -> str:
    """A parameter's label: the last two parts of its key (``audit.recognition``)."""
    return ".".join(key.split(".")[-2:])


def plot_indices(panels: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
                 outputs: Sequence[str], path: Path) -> Path:
    """Bars of ST (with its 95% interval) and S1 per parameter: one column per panel (a
    scenario), one row per output; parameters sorted by ST within each panel."""
    from matplotlib.figure import Figure

    from sim.outputs.report import save_figure, style_axes

    n_par = max(len({r["parameter"] for r in rows}) for _, rows in panels)
    fig = Figure(figsize=(4.6 * len(panels) + 1.4, (0.28 * n_par + 1.1) * len(outputs)),
                 dpi=150, layout="constrained")
    axes = fig.subplots(len(outputs), len(panels), squeeze=False)
    for c, (title, rows) in enumerate(panels):
        for r, name in enumerate(outputs):
            ax = axes[r][c]
            sel = [x for x in rows if x["output"] == name]
            if not sel or all(math.isnan(x["ST"]) for x in sel):
                ax.text(0.5, 0.5, "constant over the ranges", ha="center", va="center",
                        transform=ax.transAxes, fontsize=8)
                ax.set_yticks([])
            else:
                sel = sorted(sel, key=lambda x: -np.nan_to_num(x["ST"], nan=-1))[::-1]
                ys = np.arange(len(sel))
                st = np.array([x["ST"] for x in sel])
                ax.barh(ys, st, height=0.7, color="#0072B2", alpha=0.85, label="total (ST)")
                ax.errorbar(st, ys, xerr=[st - [x["ST_lo"] for x in sel],
                                          [x["ST_hi"] for x in sel] - st],
                            fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
                ax.barh(ys, np.clip([x["S1"] for x in sel], 0, None), height=0.3,
                        color="#E69F00", label="first order (S1)")
                ax.set_yticks(ys, [short(x["parameter"]) for x in sel], fontsize=7.5)
                ax.set_xlim(0, max(1.0, float(np.nanmax([x["ST_hi"] for x in sel]))))
            ax.set_title(f"{title}\n{OUTPUTS[name][1]}", fontsize=8.5)
            style_axes(ax)
            if r == len(outputs) - 1:
                ax.set_xlabel("Sobol index (share of variance; 95% bootstrap CI)", fontsize=8)
    axes[0][0].legend(fontsize=7, loc="lower right", frameon=False)
    return save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.sensitivity CONFIG``: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m sim.sensitivity",
                                     description=__doc__.split("\n")[0])
    add_study_arguments(parser, "sensitivity",
                        f"{QUICK['replications']} replications, {QUICK['samples']} Sobol "
                        f"samples, {QUICK['trajectories']} Morris trajectories")
    parser.add_argument("--no-morris", action="store_true", help="Sobol indices only")
    args = parser.parse_args(argv)
    try:
        from sim.core.runner import resolve_workers

        workers = resolve_workers(args.workers, "--workers")
        study = parse_study(args.config)
        if args.quick:
            study = study.quick()
        out = args.out or Path("outputs/sensitivity") / study.path.stem / time.strftime(
            "%Y-%m-%d_%H-%M-%S")
        record = run_study(study, out, workers, morris=not args.no_morris)
    except SimError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing written for the unfinished study", file=sys.stderr)
        return 130
    rows = [r for r in _read_csv(out / "sobol.csv")]
    for name in study.outputs:
        ranked = sorted((r for r in rows if r["output"] == name and r["rank"]),
                        key=lambda r: int(r["rank"]))
        text = ", ".join(f"{short(r['parameter'])} {float(r['ST']):.2f}" for r in ranked[:4])
        print(f"{OUTPUTS[name][1]:<28} ST: {text or 'constant over the ranges'}")
    print(f"{record['sobol']['sets'] + record['morris']['sets']} parameter sets x "
          f"{study.replications} replications in {record['runtime_seconds']:.0f} s; "
          f"outputs in {out.resolve()}")
    return 0


def _read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
