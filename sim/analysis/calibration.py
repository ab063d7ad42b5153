"""Calibration by approximate Bayesian computation (pyabc's ABC-SMC) against published figures.

``python -m sim.calibrate CONFIG [--out DIR] [--quick] [--workers N] [--fresh]``, where CONFIG
is a study file (:mod:`sim.analysis.study`; a path, or a name in ``conf/calibration/``) whose
``parameters`` are the priors (uniform over ``range``, or log-uniform with ``scale: log``) and
which adds::

    targets:
      coupang_dwell:
        output: median_dwell_days      # one of sim.analysis.study.OUTPUTS
        value: 147                     # the published figure, in the output's unit
        tolerance: 30                  # distance unit: a miss of this size counts 1
        source: "..."                  # where the figure comes from (required)
        measures: "..."                # what it measures, and how it maps to the output
        fit: true                      # optional; false: a check only - shown against the
                                       # posterior predictive, never fitted (a figure of
                                       # another population, kept visible)
    held_out: coupang_dwell            # fitted without it, then predicted
    abc: {population: 60, generations: 5, min_epsilon: 0.0, predictive: 100}

The distance between a simulated batch and the fitted targets is the Euclidean norm of the
misses in units of each target's tolerance; a batch whose output is undefined (NaN: e.g. no
breach found internally) counts as a miss of 10^9 tolerances. Each simulated batch runs
``replications`` replications with its own seed (drawn from the study's seed and the parameter
values, so a batch is reproducible), so the posterior accounts for the noise of a batch of that
size. A ``scale: log`` parameter is sampled as its logarithm (uniform over the log range).

Writes into the output dir: ``posterior.csv`` (weighted samples of the last generation, one
column per parameter and ``weight``), ``pairs.png`` (the pair plot, preset values marked),
``predictive.png`` (the posterior predictive check: each target's simulated distribution
against the figure), ``held_out.png`` and ``calibration.json`` (posterior summaries, 90%
predictive intervals, and the held-out check: fitted on every target but one, is the one left
out inside the predictive interval?). ``calibration.db`` is pyabc's database: running the same
command again continues a fit that stopped (a changed study file starts afresh).

Reproducibility: with one worker (the default) an uninterrupted fit is the same to the last
digit for the same study file and software (pyabc's single-core sampler draws from numpy's
global stream, seeded here from the study's seed). With ``--workers N > 1`` pyabc's parallel
sampler accepts particles in the order its processes return them, so a re-run is another
Monte Carlo draw of the same posterior, not the same numbers. A fit continued from its
database (stopped, or extended with ``--generations``) is reseeded from the generation it
continues from - repeatable, but not the uninterrupted fit. The database keeps, per fit, the
workers of every run that drew generations and where it was resumed; ``calibration.json``
reports them (``abc.workers``, ``abc.resumed_after``) and ``abc.reproducible``: true only
when one uninterrupted single-worker run gives these numbers. Committed fits are such runs.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import logging
import math
import sys
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis.study import (
    OUTPUTS,
    STUDY_KEYS,
    Parameter,
    Scenario,
    Study,
    _hint,
    add_study_arguments,
    check_keys,
    load_study,
    positive_int,
    section,
    shown,
    study_fields,
)
from sim.core.errors import ConfigError, SimError

KEYS = (*STUDY_KEYS, "targets", "held_out", "abc")
TARGET_KEYS = ("output", "value", "tolerance", "source", "measures", "fit")
MISS = 1e9  # tolerances: the miss of an undefined (NaN) output
ABC_KEYS = ("population", "generations", "min_epsilon", "predictive")
QUICK = {"replications": 20, "population": 20, "generations": 2, "predictive": 20}
LEVEL = 0.90  # predictive and credible intervals


@dataclass(frozen=True)
class Target:
    """A published figure the model should reproduce (see the module docstring)."""

    name: str
    output: str
    value: float
    tolerance: float
    source: str
    measures: str
    fit: bool = True


@dataclass(frozen=True, kw_only=True)
class CalibrationStudy(Study):
    """A parsed calibration file."""

    targets: tuple[Target, ...]
    held_out: str | None = None
    replications: int = 40
    population: int = 60
    generations: int = 5
    min_epsilon: float = 0.0
    predictive: int = 100

    QUICK = QUICK

    def quick(self) -> CalibrationStudy:
        """The same study at a few runs (:meth:`Study.quick`), marked quick in its record."""
        return replace(super().quick(), raw={**self.raw, "quick": True})

    def digest(self) -> str:
        """A hash of what the fit depends on: a changed file starts a new fit. The number of
        generations in it is the file's, so ``--generations`` (a stopping rule) continues or
        cuts short the same fit."""
        abc = self.raw.get("abc") if isinstance(self.raw.get("abc"), Mapping) else {}
        text = json.dumps(["log-scale parameters sampled as logs", self.raw,
                           self.replications, self.population,
                           abc.get("generations", 5) if self.raw else self.generations],
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _yaml_number_hint(value: Any) -> str:
    try:
        float(value)
    except (TypeError, ValueError):
        return ""
    return " (YAML reads a number like 33.7e6 as text: write 33700000 or 3.37e+7)"


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ConfigError(key, f"must be a positive number, got {value!r}"
                               f"{_yaml_number_hint(value)}")
    return float(value)


def parse_targets(node: Any) -> list[Target]:
    """The ``targets`` mapping as :class:`Target` objects (each with its source)."""
    if not isinstance(node, Mapping) or not node:
        raise ConfigError("targets", "must be a mapping of name -> {output, value, tolerance, "
                                     "source, measures}")
    targets = []
    for name, spec in node.items():
        at = f"targets.{name}"
        spec = section(node, name, TARGET_KEYS, at)
        for k in TARGET_KEYS[:-1]:
            if k not in spec:
                raise ConfigError(f"{at}.{k}", "is required")
        if spec["output"] not in OUTPUTS:
            raise ConfigError(f"{at}.output", f"unknown output {spec['output']!r}"
                                              f"{_hint(spec['output'], OUTPUTS)}; allowed: "
                                              f"{', '.join(OUTPUTS)}")
        value = spec["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value):
            raise ConfigError(f"{at}.value", f"must be a finite number, got {value!r}"
                                             f"{_yaml_number_hint(value)}")
        for k in ("source", "measures"):
            if not isinstance(spec[k], str) or not spec[k].strip():
                raise ConfigError(f"{at}.{k}", "must say where the figure comes from and what "
                                               "it measures (a non-empty string)")
        fitted = spec.get("fit", True)
        if not isinstance(fitted, bool):
            raise ConfigError(f"{at}.fit", f"must be true or false, got {fitted!r}")
        targets.append(Target(str(name), str(spec["output"]), float(value),
                              _positive(spec["tolerance"], f"{at}.tolerance"),
                              spec["source"].strip(), spec["measures"].strip(), fitted))
    if not any(t.fit for t in targets):
        raise ConfigError("targets", "at least one target must be fitted (fit: true)")
    return targets


def parse_study(path: str | Path) -> CalibrationStudy:
    """Read and check a calibration file.

    Raises:
        SimError: anything wrong in it, as one line naming the file and the key.
    """
    p, data = load_study(path, "calibration")
    try:
        check_keys(data, KEYS, ("scenario", "parameters", "targets"))
        common = study_fields(p, data, 40)
        if any(q.integer for q in common["parameters"]):
            raise ConfigError("parameters", "integer parameters cannot be calibrated here "
                                            "(ABC-SMC perturbs continuously)")
        targets = parse_targets(data["targets"])
        held = data.get("held_out")
        names = [t.name for t in targets if t.fit]
        if held is not None and held not in names:
            raise ConfigError("held_out", f"must name a fitted target{_hint(held, names)}; "
                                          f"fitted targets: {', '.join(names)}")
        if held is not None and len(names) < 2:
            raise ConfigError("held_out", "needs at least two fitted targets (one to leave "
                                          "out)")
        abc = section(data, "abc", ABC_KEYS)
        min_eps = abc.get("min_epsilon", 0.0)
        if isinstance(min_eps, bool) or not isinstance(min_eps, (int, float)) or min_eps < 0:
            raise ConfigError("abc.min_epsilon", f"must be a number >= 0, got {min_eps!r}"
                                                 f"{_yaml_number_hint(min_eps)}")
        return CalibrationStudy(
            **common, targets=tuple(targets), held_out=held,
            population=positive_int(abc, "abc.population", 60, 5, 10**5),
            generations=positive_int(abc, "abc.generations", 5, 1, 100),
            min_epsilon=float(min_eps),
            predictive=positive_int(abc, "abc.predictive", 100, 5, 10**5))
    except ConfigError as err:
        raise SimError(f"{p}: {err}") from None


# -- the fit ------------------------------------------------------------------------------------
def _name(key: str) -> str:
    return key.replace(".", "__")


def _value(p: Parameter, x: Any) -> Any:
    """A parameter's value from pyabc's coordinate (a number or an array): pyabc samples a
    ``scale: log`` parameter as its logarithm, uniform over the log range, so that its
    Gaussian perturbations act on that scale. (Sampled as the value under a log-uniform
    density, the importance weights ~1/value piled onto a few particles at the bottom of the
    range: an effective sample of ~6 of 60.)"""
    return np.exp(x) if p.scale == "log" else x


def _column(frame: Any, p: Parameter) -> np.ndarray:
    return _value(p, frame[_name(p.key)].to_numpy(dtype=float))


class Simulator:
    """pyabc's model: parameter values in, the targets' outputs of one batch out.

    Each batch draws its seed from the study's seed and the parameter values (a hash), never
    from global state, so the same particle gives the same batch.
    """

    def __init__(self, scenario: Scenario, outputs: Sequence[str], seed: int,
                 progress: Any = None) -> None:
        self.scenario, self.outputs, self.seed = scenario, list(outputs), seed
        self.progress = progress
        self.calls = 0

    def batch_seed(self, values: Mapping[str, float], salt: int = 0) -> int:
        text = repr(sorted((k, float(v)) for k, v in values.items()))
        ss = np.random.SeedSequence([self.seed, salt, zlib.crc32(text.encode())])
        return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))

    def values(self, pars: Mapping[str, float]) -> dict[str, float]:
        return {p.key: float(_value(p, float(pars[_name(p.key)])))
                for p in self.scenario.parameters}

    def __call__(self, pars: Mapping[str, float]) -> dict[str, float]:
        values = self.values(pars)
        ys = self.scenario.measure(values, self.outputs, seed=self.batch_seed(values))
        self.calls += 1
        if self.progress is not None:
            self.progress(self.calls)
        return dict(zip(self.outputs, ys, strict=True))


def prior(parameters: Sequence[Parameter]) -> Any:
    """pyabc's prior: uniform over each range; for ``scale: log`` uniform over the logarithm
    of the range (log-uniform in the value, see :func:`_value`)."""
    import pyabc

    rvs = {}
    for p in parameters:
        if p.scale == "log":
            lo, hi = math.log(p.lo), math.log(p.hi)
            rvs[_name(p.key)] = pyabc.RV("uniform", lo, hi - lo)
        else:
            rvs[_name(p.key)] = pyabc.RV("uniform", p.lo, p.hi - p.lo)
    return pyabc.Distribution(**rvs)


def fit(study: CalibrationStudy, scenario: Scenario, targets: Sequence[Target], db: Path,
        label: str, workers: int = 1) -> tuple[Any, Any, dict[str, Any]]:
    """Run (or continue) ABC-SMC on ``targets``; returns (posterior frame, weights,
    provenance).

    The run in ``db`` whose meta-information carries this study's digest and ``label`` is
    continued; otherwise a new one is started. The run's meta-information also keeps the
    workers of every invocation that drew generations and the generations after which it was
    resumed; ``provenance`` is that: ``{"workers": [...] or None (a run from before this was
    kept), "resumed_after": [...]}``. A resumed run reseeds numpy's stream from the study's
    seed and the generation it continues from, so a resume is repeatable, but it is not the
    uninterrupted fit.
    """
    import pyabc

    outputs = [t.name for t in targets]
    sim = Simulator(scenario, [t.output for t in targets], study.seed,
                    progress=_ticker(label))

    def model(pars: Mapping[str, float]) -> dict[str, float]:
        ys = sim(pars)
        return {t.name: (ys[t.output] if math.isfinite(ys[t.output])
                         else t.value + MISS * t.tolerance) for t in targets}

    sampler = (pyabc.sampler.SingleCoreSampler() if workers <= 1
               else pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers))
    distance = pyabc.PNormDistance(p=2, fixed_weights={t.name: 1.0 / t.tolerance
                                                       for t in targets})
    abc = pyabc.ABCSMC(model, prior(study.parameters), distance,
                       population_size=study.population, sampler=sampler)
    url = f"sqlite:///{db}"
    observed = {t.name: t.value for t in targets}
    found = _find_run(db, study.digest(), label)
    # pyabc perturbs particles with numpy's global stream (its design, not ours): seed it for
    # the fit and give the process its old state back afterwards, so nothing else sees it
    saved = np.random.get_state()  # noqa: NPY002
    try:
        if found is None:
            np.random.seed(study.seed % 2**32)  # noqa: NPY002
            info: dict[str, Any] = {"digest": study.digest(), "label": label,
                                    "targets": ",".join(outputs), "workers": [workers],
                                    "resumed_after": []}
            history = abc.new(url, observed, meta_info=info)
            run_id, done = history.id, 0
            target = study.generations
        else:
            run_id, info = found
            history = abc.load(url, run_id, observed)
            done = history.max_t + 1
            print(f"{label}: continuing the fit in {db} after generation {done}",
                  file=sys.stderr)
            # a fit that reached min_epsilon before its generations is finished: drawing on
            # would add a generation at every re-run
            target = done if info.get("stopped_at") == done else study.generations
            if done < target:
                np.random.seed([study.seed % 2**32, done])  # noqa: NPY002
                info = {**info, "resumed_after": [*info.get("resumed_after", []), done]}
                if "workers" in info:
                    info["workers"] = sorted({*info["workers"], workers})
                _save_meta(db, run_id, info)
        if done < target:
            history = abc.run(max_nr_populations=target - done,
                              minimum_epsilon=study.min_epsilon)
            if history.max_t + 1 < target:  # stopped at min_epsilon
                info = {**info, "stopped_at": history.max_t + 1}
                _save_meta(db, run_id, info)
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    # the file's generations (or --generations): a database holding a longer fit gives its
    # generation at that point, which is what a fit of that length draws
    frame, weights = history.get_distribution(t=min(history.max_t, study.generations - 1))
    return frame, weights, {"workers": info.get("workers"),
                            "resumed_after": list(info.get("resumed_after", []))}


def _save_meta(db: Path, run_id: int, info: Mapping[str, Any]) -> None:
    """Rewrite a run's meta-information in pyabc's database (the repr of a dict, as pyabc
    stores it)."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        with con:
            con.execute("update abc_smc set json_parameters = ? where id = ?",
                        (repr(dict(info)), run_id))
    finally:
        con.close()


def _find_run(db: Path, digest: str, label: str) -> tuple[int, dict[str, Any]] | None:
    """The id and meta-information of the run in ``db`` of this study and label, if any (for
    resuming)."""
    import sqlite3

    if not db.exists():
        return None
    try:
        con = sqlite3.connect(db)
        try:
            rows = con.execute("select a.id, a.json_parameters from abc_smc a").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    found = None
    for run_id, meta in rows:
        try:  # pyabc stores the meta-information as the repr of a dict
            info = ast.literal_eval(meta or "{}")
        except (ValueError, SyntaxError):
            continue
        if not isinstance(info, dict):
            continue
        if info.get("digest") == digest and info.get("label") == label:
            found = (run_id, info)
    return found


def _ticker(label: str) -> Any:
    enabled = sys.stderr.isatty()
    t0 = time.perf_counter()

    def tick(n: int) -> None:
        if enabled and n % 10 == 0:
            sys.stderr.write(f"\r{label}: {n} simulated batches, "
                             f"{time.perf_counter() - t0:.0f} s ")
            sys.stderr.flush()
    return tick


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: Sequence[float]) -> list[float]:
    """Quantiles ``q`` of ``x`` under weights ``w`` (inverse of the weighted CDF)."""
    order = np.argsort(x)
    cw = np.cumsum(w[order]) / np.sum(w)
    return [float(x[order][min(np.searchsorted(cw, qq), len(x) - 1)]) for qq in q]


def predictive(study: CalibrationStudy, scenario: Scenario, frame: Any, weights: np.ndarray,
               outputs: Sequence[str], salt: int) -> np.ndarray:
    """Outputs of ``study.predictive`` batches at parameter sets drawn from the posterior
    (each with its own seed): the posterior predictive distribution."""
    rng = np.random.default_rng([study.seed, salt])
    idx = rng.choice(len(frame), size=study.predictive, p=weights / weights.sum())
    sim = Simulator(scenario, outputs, study.seed)
    out = np.empty((study.predictive, len(outputs)))
    for i, j in enumerate(idx):
        values = {p.key: float(_value(p, float(frame.iloc[j][_name(p.key)])))
                  for p in study.parameters}
        out[i] = scenario.measure(values, outputs, seed=sim.batch_seed(values, salt + i + 1))
    return out


def interval(y: np.ndarray) -> tuple[float, float]:
    """The central :data:`LEVEL` interval of the defined (non-NaN) values of ``y``; NaN when
    none is defined."""
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if not len(y):
        return math.nan, math.nan
    a = (1 - LEVEL) / 2
    return float(np.quantile(y, a)), float(np.quantile(y, 1 - a))


def _median(y: np.ndarray) -> float:
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    return float(np.median(y)) if len(y) else math.nan


def run_study(study: CalibrationStudy, out: Path, workers: int = 1,
              fresh: bool = False) -> dict[str, Any]:
    """Fit, check and write every file into ``out``; return the record (calibration.json)."""
    from sim.core.atomic import write_text
    from sim.outputs.report import write_csv

    logging.getLogger("ABC").setLevel(logging.INFO if sys.stderr.isatty() else logging.WARNING)
    t0 = time.perf_counter()
    scenario = study.build_scenario()
    out.mkdir(parents=True, exist_ok=True)
    db = (out / "calibration.db").resolve()
    if fresh and db.exists():
        db.unlink()
    fitted = [t for t in study.targets if t.fit]
    frame, weights, provenance = fit(study, scenario, fitted, db, "all", workers)
    provenances = {"all": provenance}
    weights = np.asarray(weights, dtype=float)
    columns = {p.key: _column(frame, p) for p in study.parameters}
    rows = [{**{p.key: float(columns[p.key][i]) for p in study.parameters},
             "weight": float(weights[i])} for i in range(len(frame))]
    write_csv(rows, out / "posterior.csv")
    preset = scenario.base
    posterior = {}
    for p in study.parameters:
        x = columns[p.key]
        lo, med, hi = weighted_quantile(x, weights, [(1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2])
        posterior[p.key] = {"median": med, f"ci{int(LEVEL * 100)}": [lo, hi],
                            "prior": [p.lo, p.hi], "scale": p.scale,
                            "preset": preset_value(preset, p.key),
                            "display": list(p.display()), "why": p.why}
    outputs = [t.output for t in study.targets]
    pred = predictive(study, scenario, frame, weights, outputs, salt=1)
    checks = {}
    for j, t in enumerate(study.targets):
        lo, hi = interval(pred[:, j])
        checks[t.name] = {"output": t.output, "value": t.value, "source": t.source,
                          "measures": t.measures, "fitted": t.fit,
                          "predictive_median": _median(pred[:, j]),
                          f"predictive_{int(LEVEL * 100)}": [lo, hi],
                          "undefined_draws": int(np.sum(~np.isfinite(pred[:, j]))),
                          "inside": bool(lo <= t.value <= hi)}
    plot_pairs(study, frame, weights, preset, out / "pairs.png")
    plot_predictive(study.targets, pred, out / "predictive.png",
                    f"{study.scenario}: posterior predictive check (fitted on "
                    f"{', '.join(t.name for t in fitted)})")
    held: dict[str, Any] | None = None
    if study.held_out:
        kept = [t for t in fitted if t.name != study.held_out]
        left = next(t for t in study.targets if t.name == study.held_out)
        label = f"without {left.name}"
        hframe, hweights, provenances[label] = fit(study, scenario, kept, db, label, workers)
        hweights = np.asarray(hweights, dtype=float)
        hpred = predictive(study, scenario, hframe, hweights, [left.output], salt=2)[:, 0]
        lo, hi = interval(hpred)
        held = {"left_out": left.name, "fitted_on": [t.name for t in kept],
                "output": left.output, "value": left.value, "source": left.source,
                "predictive_median": _median(hpred),
                f"predictive_{int(LEVEL * 100)}": [lo, hi],
                "inside": bool(lo <= left.value <= hi)}
        plot_predictive([left], hpred[:, None], out / "held_out.png",
                        f"held-out check: {left.name} predicted from "
                        f"{', '.join(t.name for t in kept)}")
    record = {
        "study": shown(study.path), "scenario": study.scenario, "seed": study.seed,
        "replications_per_batch": study.replications,
        "abc": {"population": study.population, "generations": study.generations,
                "min_epsilon": study.min_epsilon, "predictive_draws": study.predictive,
                "library": f"pyabc {_version('pyabc')}", **_reproducibility(provenances)},
        "posterior": posterior, "targets": checks, "held_out": held,
        "interval_level": LEVEL, "runtime_seconds": round(time.perf_counter() - t0, 1),
    }
    write_text(out / "calibration.json", json.dumps(record, indent=2) + "\n")
    return record


def _reproducibility(provenances: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the record says of how its fits were drawn: the workers of every invocation that
    drew generations (None: a database from before this was kept), the generations after
    which a fit was resumed, and whether one uninterrupted single-worker run reproduces it."""
    workers = [p["workers"] for p in provenances.values()]
    known = all(w is not None for w in workers)
    used = sorted({w for ws in workers if ws is not None for w in ws}) if known else None
    resumed = {label: p["resumed_after"] for label, p in provenances.items()
               if p["resumed_after"]}
    return {"workers": used, "resumed_after": resumed,
            "reproducible": bool(known and used == [1] and not resumed)}


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def preset_value(cfg: Mapping[str, Any], key: str) -> float | None:
    """The number at dotted ``key`` of a composed config (durations in hours); None when the
    key is missing or not a number."""
    from sim.core.timeunits import parse_duration

    node: Any = cfg
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return float(node)
    try:
        return parse_duration(node)
    except SimError:
        return None


def _label(p: Parameter) -> str:
    from sim.analysis.sensitivity import short

    unit = p.display()[1]
    return short(p.key) + (f" ({unit})" if unit else "")


def plot_pairs(study: CalibrationStudy, frame: Any, weights: np.ndarray,
               preset: Mapping[str, Any], path: Path) -> Path:
    """Weighted histograms on the diagonal, particles below it; the preset value in red."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    from sim.outputs.report import save_figure, style_axes

    d = len(study.parameters)
    fig = Figure(figsize=(2.3 * d + 0.6, 2.3 * d + 0.4), dpi=150, layout="constrained")
    axes = fig.subplots(d, d, squeeze=False)
    w = weights / weights.sum()
    def col(p: Parameter) -> np.ndarray:
        return _column(frame, p) / p.display()[0]

    def lim(p: Parameter) -> tuple[float, float]:
        return p.lo / p.display()[0], p.hi / p.display()[0]

    def mark(p: Parameter) -> float | None:
        v = preset_value(preset, p.key)
        return None if v is None else v / p.display()[0]

    for i, pi in enumerate(study.parameters):
        xi = col(pi)
        for j, pj in enumerate(study.parameters):
            ax = axes[i][j]
            xj = col(pj)
            if j > i:
                ax.set_axis_off()
                continue
            if i == j:
                bins = (np.geomspace(*lim(pi), 21) if pi.scale == "log"
                        else np.linspace(*lim(pi), 21))
                ax.hist(xi, bins=bins, weights=w, color="#0072B2", alpha=0.8)
                ax.set_yticks([])
            else:
                ax.scatter(xj, xi, s=8 + 400 * w, color="#0072B2", alpha=0.5, linewidths=0)
                ax.set_ylim(*lim(pi))
                if pi.scale == "log":
                    ax.set_yscale("log")
                    ax.yaxis.set_minor_formatter(NullFormatter())
                v = mark(pi)
                if v is not None:
                    ax.axhline(v, color="#D55E00", lw=0.8, ls="--")
            ax.set_xlim(*lim(pj))
            if pj.scale == "log":
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
            v = mark(pj)
            if v is not None:
                ax.axvline(v, color="#D55E00", lw=0.8, ls="--")
            if i == d - 1:
                ax.set_xlabel(_label(pj), fontsize=7.5)
            if j == 0 and i > 0:
                ax.set_ylabel(_label(pi), fontsize=7.5)
            ax.tick_params(labelsize=6.5)
            style_axes(ax)
    fig.suptitle(f"{study.scenario}: posterior (ABC-SMC, {len(frame)} particles; dashed: "
                 f"the preset)", fontsize=9.5)
    return save_figure(fig, path)


def plot_predictive(targets: Sequence[Target], pred: np.ndarray, path: Path,
                    title: str) -> Path:
    """One panel per target: the simulated outputs of posterior draws, their 90% interval
    (shaded) and the published figure (line)."""
    from matplotlib.figure import Figure

    from sim.outputs.report import save_figure, style_axes

    fig = Figure(figsize=(3.4 * len(targets) + 0.4, 2.9), dpi=150, layout="constrained")
    axes = fig.subplots(1, len(targets), squeeze=False)[0]
    for ax, t, y in zip(axes, targets, pred.T, strict=True):
        lo, hi = interval(y)
        ax.hist(y[np.isfinite(y)], bins=20, color="#0072B2", alpha=0.75)
        ax.axvspan(lo, hi, color="#0072B2", alpha=0.12, lw=0)
        ax.axvline(t.value, color="#D55E00", lw=1.5)
        inside = "inside" if lo <= t.value <= hi else "OUTSIDE"
        ax.set_title(f"{t.name}: {t.value:.4g} ({inside} the 90% interval)"
                     + ("" if t.fit else "\nnot fitted: a check"), fontsize=8)
        ax.set_xlabel(f"{OUTPUTS[t.output][1]} ({OUTPUTS[t.output][2]})", fontsize=8)
        ax.set_yticks([])
        style_axes(ax)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.calibrate CONFIG``: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m sim.calibrate",
                                     description=__doc__.split("\n")[0])
    add_study_arguments(parser, "calibration",
                        f"{QUICK['population']} particles, {QUICK['generations']} generations, "
                        f"{QUICK['replications']} replications per batch (the same --out "
                        f"resumes a stopped fit)")
    parser.add_argument("--fresh", action="store_true",
                        help="discard the database and start the fit afresh")
    parser.add_argument("--generations", type=int,
                        help="stop each fit after this many generations in all (continues or "
                             "cuts short the file's fit; default: the file's abc.generations)")
    args = parser.parse_args(argv)
    try:
        from sim.core.runner import resolve_workers

        workers = resolve_workers(args.workers, "--workers")
        study = parse_study(args.config)
        if args.quick:
            study = study.quick()
        if args.generations is not None:
            if args.generations < 1:
                raise ConfigError("--generations", f"must be >= 1, got {args.generations}")
            study = replace(study, generations=args.generations)
        out = args.out or Path("outputs/calibration") / (study.path.stem
                                                         + ("_quick" if args.quick else ""))
        if workers > 1:
            print(f"note: with {workers} workers each run of the fit is another Monte Carlo "
                  f"draw, not the same numbers; one worker reproduces it", file=sys.stderr)
        record = run_study(study, out, workers, fresh=args.fresh)
    except SimError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; the same command continues the fit from its database",
              file=sys.stderr)
        return 130
    print(describe(record))
    print(f"outputs in {out.resolve()}")
    return 0


def describe(record: Mapping[str, Any]) -> str:
    """A few lines: the posterior, the fit to each target and the held-out check."""
    key = f"ci{int(LEVEL * 100)}"
    pkey = f"predictive_{int(LEVEL * 100)}"
    lines = [f"{record['scenario']}: posterior (median, {int(LEVEL * 100)}% credible interval)"]
    for name, p in record["posterior"].items():
        div, unit = p.get("display", [1.0, ""])
        preset = "n/a" if p["preset"] is None else f"{p['preset'] / div:.4g}{unit}"
        lines.append(f"  {name:<45} {p['median'] / div:.4g}{unit} [{p[key][0] / div:.4g}{unit}, "
                     f"{p[key][1] / div:.4g}{unit}]  preset {preset}")
    for name, t in record["targets"].items():
        lines.append(f"  target {name:<20} {t['value']:.4g}: predicted {t['predictive_median']:.4g}"
                     f" [{t[pkey][0]:.4g}, {t[pkey][1]:.4g}] "
                     f"{'inside' if t['inside'] else 'OUTSIDE'}"
                     f"{'' if t.get('fitted', True) else ' (a check, not fitted)'}")
    h = record.get("held_out")
    if h:
        lines.append(f"  held-out {h['left_out']} ({h['value']:.4g}) predicted from "
                     f"{', '.join(h['fitted_on'])}: {h['predictive_median']:.4g} "
                     f"[{h[pkey][0]:.4g}, {h[pkey][1]:.4g}]: "
                     f"{'PASS (inside)' if h['inside'] else 'FAIL (outside)'}")
    return "\n".join(lines)


def experiment(study: Path, here: Path, description: str,
               argv: Sequence[str] | None = None) -> tuple[int, Path, bool]:
    """The command line of an experiment folder that runs one calibration file
    (``experiments/*/run.py``): ``--quick`` (smoke-sized, into ``scratch/``), ``--out``,
    ``--fresh`` and ``--workers``; the fit goes to ``here/results`` by default.

    Returns:
        (exit code of :func:`main`, the output dir, whether the run was quick).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smoke-sized run")
    parser.add_argument("--out", type=Path, help="where to write (default results/; with "
                        "--quick scratch/, git-ignored)")
    parser.add_argument("--fresh", action="store_true", help="start the fit afresh")
    parser.add_argument("--workers", default="1", help="processes (default 1, reproducible; "
                        "more are faster, but each run is another Monte Carlo draw)")
    args = parser.parse_args(argv)
    out = args.out or here / ("scratch" if args.quick else "results")
    code = main([str(study), "--out", str(out), "--workers", str(args.workers),
                 *(["--quick"] if args.quick else []),
                 *(["--fresh"] if args.fresh or args.quick else [])])
    return code, out, args.quick
