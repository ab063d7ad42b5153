"""What a job returns to an optimising sweeper (sim.analysis.objectives, `optimise=`), and the
Optuna sweeper preset (conf/hydra/sweeper/optuna_sqlite.yaml): values that follow the theory,
a study that resumes after a kill, one-line errors."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.analysis.objectives import (
    OBJECTIVES,
    Objective,
    check_directions,
    job_offered_load,
    parse_objective,
    pop_objective,
)
from sim.core.errors import ConfigError
from sim.outputs.results import ReplicationResult, read_table

ROOT = Path(__file__).resolve().parents[2]


def run_sim(*args: str, cwd: Path = ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, **kw)


# -- the node -------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "conf" / "optimise")
                                           .glob("*.yaml")))
def test_every_shipped_optimise_preset_parses(preset):
    import yaml

    node = yaml.safe_load((ROOT / "conf" / "optimise" / f"{preset}.yaml").read_text())
    objective = parse_objective(node, has_firm=True)
    assert objective.names and all(name in OBJECTIVES for name in objective.names)
    if preset == "control_budget_staffed":
        assert objective.limits == {"p_dwell_over_7d": 0.05, "offered_load": 1.0}


@pytest.mark.parametrize("node, key, words", [
    ({"objective": "p_dwell_over_7"}, "optimise.objective", "did you mean p_dwell_over_7d"),
    ({"objective": []}, "optimise.objective", "must be an objective"),
    ({}, "optimise.objective", "is required"),
    ({"objective": "mean_records", "limit": {}}, "optimise.limit", "did you mean limits"),
    ({"objective": ["mean_records", "control_cost_usd"], "limits": {"p_dwell_over_7d": 0.05},
      "penalty": 1.0}, "optimise.limits", "single objective"),
    ({"objective": "mean_records", "limits": {"p_dwell_over_7d": 0.05}},
     "optimise.penalty", "must be > 0"),
    ({"objective": "mean_records", "penalty": 3.0}, "optimise.penalty", "only with limits"),
    ({"objective": "mean_records", "limits": {"dwell": 1}, "penalty": 1.0},
     "optimise.limits.dwell", "unknown output"),
    ({"objective": "mean_records", "limits": {"p_dwell_over_7d": "5%"}, "penalty": 1.0},
     "optimise.limits.p_dwell_over_7d", "finite number"),
])
def test_a_bad_optimise_node_names_its_key(node, key, words):
    with pytest.raises(ConfigError, match=words) as err:
        parse_objective(node)
    assert err.value.key == key


def test_a_priced_objective_needs_a_firm():
    with pytest.raises(ConfigError, match="add firm=NAME"):
        pop_objective({"optimise": {"objective": "control_cost_usd"}})
    assert pop_objective({"optimise": {"objective": "control_cost_usd"},
                          "firm": {"name": "generic"}}).names == ("control_cost_usd",)
    cfg = {"seed": 1}
    assert pop_objective(cfg) is None and cfg == {"seed": 1}


def _result(dwell_days: float, detected: bool, records: int) -> ReplicationResult:
    return ReplicationResult(replication=0, seed=0, detected=detected, censored=not detected,
                             detected_by="audit" if detected else "",
                             dwell_hours=dwell_days * 24, records_exfiltrated=records,
                             true_alerts=0, false_alerts=0, alerts_dropped=0,
                             access_ended_by="", access_hours=dwell_days * 24, sessions=1,
                             mean_triage_wait_hours=math.nan)


def test_values_penalty_and_violations_are_the_stated_arithmetic():
    # 3 of 10 replications last beyond 7 days: P = 0.3, 0.25 over a 0.05 limit
    results = [_result(1, True, 10)] * 7 + [_result(20, True, 1000)] * 3
    obj = Objective(("control_cost_usd",), {"p_dwell_over_7d": 0.05}, penalty=1e6)
    measured = obj.measure(results, 24 * 365, control_cost_usd=5000.0)
    assert measured["p_dwell_over_7d"] == pytest.approx(0.3)
    assert obj.violations(measured) == [pytest.approx(0.25)]
    assert obj.value(measured) == pytest.approx(5000.0 + 1e6 * 0.25)
    met = Objective(("control_cost_usd",), {"p_dwell_over_7d": 0.5}, penalty=1e6)
    assert met.value(measured) == 5000.0  # a limit that holds adds nothing
    two = Objective(("control_cost_usd", "mean_records"))
    assert two.value(two.measure(results, 24 * 365, 5000.0)) == (5000.0, pytest.approx(307.0))
    assert set(OBJECTIVES) >= {"p_dwell_over_7d", "mean_records", "control_cost_usd"}


def test_an_undefined_limited_output_is_never_a_limit_met():
    # no breach found internally: the median dwell of those found internally is undefined;
    # max(0, nan) is 0, which once counted the limit as met
    results = [_result(1, False, 10)] * 5
    obj = parse_objective({"objective": "mean_records",
                           "limits": {"median_dwell_internal_days": 5.0}, "penalty": 1.0})
    measured = obj.measure(results, 24 * 365)
    assert math.isnan(measured["median_dwell_internal_days"])
    assert obj.value(measured) == math.inf
    undefined = parse_objective({"objective": "median_dwell_internal_days"})
    assert math.isnan(undefined.value(undefined.measure(results, 24 * 365)))


def test_offered_load_is_an_objective_and_a_limit():
    results = [_result(1, True, 10)] * 10
    obj = parse_objective({"objective": "control_cost_usd", "limits": {"offered_load": 1.0},
                           "penalty": 1e8})
    # a team asked for 1.11 of its capacity pays 0.11 x the penalty; one asked for 0.9 nothing
    assert obj.value(obj.measure(results, 24 * 365, 5000.0, offered_load=1.11)) == \
        pytest.approx(5000.0 + 0.11 * 1e8)
    assert obj.value(obj.measure(results, 24 * 365, 5000.0, offered_load=0.9)) == 5000.0
    load = Objective(("offered_load",))
    assert load.value(load.measure(results, 24 * 365, offered_load=0.4)) == 0.4
    with pytest.raises(ConfigError, match=r"optimise.limits.offered_lod: unknown output "
                                          r"\(did you mean offered_load\?\)"):
        parse_objective({"objective": "control_cost_usd", "limits": {"offered_lod": 1.0},
                         "penalty": 1.0})


def test_a_jobs_offered_load_comes_from_its_team_and_falls_with_more_analysts(tmp_path):
    # the same benign alerts shared by 3 analysts instead of 1: a third of the load (the shift
    # pattern is the same), read back from each job's summary as the sweeper would
    loads = {}
    for n in (1, 3):
        out = tmp_path / f"a{n}"
        proc = run_sim("scenario=coupang_2025_monitored", "replications=3", "horizon=2d",
                       f"triage.analysts={n}", "output.plot=false", f"hydra.run.dir={out}")
        assert proc.returncode == 0, proc.stderr
        summary = json.loads((out / "summary.json").read_text())
        results, _extra = read_table(out / "replications.csv")
        loads[n] = job_offered_load(summary, results)
    assert loads[1] > 0 and loads[3] == pytest.approx(loads[1] / 3)
    # without analysts nobody reviews the alerts the monitor raises: infinite load
    nobody = [dataclasses.replace(_result(1, False, 10), false_alerts=4)]
    assert job_offered_load({"triage": None}, nobody) == math.inf
    assert job_offered_load({}, [_result(1, True, 10)]) == 0.0  # nothing alerts: no load


def test_the_sweeper_must_minimise_as_many_objectives_as_there_are():
    two = Objective(("control_cost_usd", "mean_records"))
    check_directions(two, None)  # not under a sweeper with directions
    check_directions(two, ["minimize", "minimize"])
    with pytest.raises(ConfigError, match=r"direction=\[minimize,minimize\]"):
        check_directions(two, ["minimize"])
    with pytest.raises(ConfigError, match="all minimised"):
        check_directions(Objective(("mean_records",)), ["maximize"])


# -- through python -m sim -------------------------------------------------------------------------
def test_a_bad_objective_is_one_line_and_exit_2(tmp_path):
    proc = run_sim("scenario=analytic_monitoring", "optimise=dwell",
                   "optimise.objective=records", "replications=2", "output.plot=false",
                   f"hydra.run.dir={tmp_path / 'a'}")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: optimise.objective: unknown "
                                                   "objective 'records'"), proc.stderr
    assert not (tmp_path / "a" / "replications.csv").exists()  # nothing simulated
    proc = run_sim("scenario=analytic_monitoring", "optimise=control_budget", "replications=2",
                   f"hydra.run.dir={tmp_path / 'b'}")
    assert proc.returncode == 2 and "add firm=NAME" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


needs_optuna = pytest.mark.skipif(
    importlib.util.find_spec("optuna") is None
    or importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None,
    reason="the optimise extra is not installed: pip install -e '.[optimise]'")


def study_of(db: Path, name: str):
    import optuna

    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}")


SWEEP = ("-m", "hydra/sweeper=optuna_sqlite", "scenario=analytic_monitoring", "optimise=dwell",
         "output.plot=false", "hydra.sweeper.study_name=s")


@needs_optuna
@pytest.mark.slow
def test_a_sweep_with_the_wrong_number_of_directions_stops_at_once(tmp_path):
    proc = run_sim("-m", "hydra/sweeper=optuna_sqlite", "optimise=cost_vs_records",
                   "firm=coupang_2025", "scenario=analytic_monitoring", "replications=5",
                   "triage.analysts=range(1,3)", "hydra.sweeper.n_trials=3",
                   f"hydra.sweep.dir={tmp_path / 'm'}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: optimise.objective: 2 objectives"), proc.stderr[-2000:]
    assert not list((tmp_path / "m").rglob("replications.csv"))  # nothing simulated


@needs_optuna
@pytest.mark.slow
def test_a_study_follows_the_theory_and_resumes_after_a_kill(tmp_path):
    # analytic_monitoring: sessions at 2 a day, each alerts with 0.5 and is confirmed with c, no
    # delays: the job returns P(dwell > 7 d) = exp(-2 x 0.5 x c x 7), 0.70 at c = 0.05 and
    # 0.004 at c = 0.8.
    n = 150
    args = (*SWEEP, f"replications={n}", "triage.confirm_probability=interval(0.05,0.8)",
            "hydra.sweeper.sampler.seed=3")
    first = subprocess.Popen([sys.executable, "-m", "sim", *args, "hydra.sweeper.n_trials=200",
                              f"hydra.sweep.dir={tmp_path / 'first'}"], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    db = tmp_path / "optuna.db"
    try:
        deadline = time.monotonic() + 180
        done = 0
        while time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.5)
            if db.exists():
                try:
                    done = sum(t.state.name == "COMPLETE" for t in study_of(db, "s").trials)
                except Exception:  # the study is being created
                    continue
                if done >= 3:
                    break
        assert done >= 3, "the first sweep never finished 3 trials"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    before = [(t.number, t.params) for t in study_of(db, "s").trials
              if t.state.name == "COMPLETE"]
    assert first.returncode != 0 and len(before) < 200  # killed mid-study
    proc = run_sim(*args, "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={tmp_path / 'again'}",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Using an existing study" in proc.stderr + proc.stdout
    trials = [t for t in study_of(db, "s").trials if t.state.name == "COMPLETE"]
    assert [(t.number, t.params) for t in trials][:len(before)] == before  # kept ...
    assert len(trials) == len(before) + 2  # ... and two more run on top of them
    for t in trials:
        c = t.params["triage.confirm_probability"]
        p = math.exp(-7 * c)
        assert abs(t.value - p) < 4 * math.sqrt(p * (1 - p) / n) + 1 / n, (c, t.value, p)
    lo = min(trials, key=lambda t: t.params["triage.confirm_probability"])
    hi = max(trials, key=lambda t: t.params["triage.confirm_probability"])
    assert hi.params["triage.confirm_probability"] - lo.params["triage.confirm_probability"] > 0.2
    assert hi.value < lo.value  # a surer analyst finds the insider within a week more often
