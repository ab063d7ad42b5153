"""Calibration (sim.analysis.calibration, pyabc ABC-SMC) recovers a known parameter.

The "published figures" are made here: the analytic audit scenario is run at a known
recognition probability (0.2) with another seed, and its median dwell and P(dwell > 30 d)
become the targets. A tiny ABC-SMC from a flat prior over [0.05, 0.6] must put 0.2 inside its
90% credible interval and narrow the prior, and the held-out check (fit on the dwell, predict
P(dwell > 30 d)) must run end to end.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pyabc")

from sim.analysis.calibration import main, parse_study, run_study  # noqa: E402
from sim.analysis.study import OUTPUTS, Scenario, parse_parameters  # noqa: E402

TRUE_P = 0.2


def study_text(dwell: float, p30: float) -> str:
    return f"""\
scenario: analytic_audit
replications: 30
seed: 11
parameters:
  detectors.audit.recognition: {{range: [0.05, 0.6], why: "flat prior around the truth (0.2)"}}
targets:
  dwell:
    output: median_dwell_days
    value: {dwell}
    tolerance: 5
    source: "simulated at recognition 0.2, seed 99, 400 replications"
    measures: "median dwell"
  p30:
    output: p_dwell_over_30d
    value: {p30}
    tolerance: 0.05
    source: "the same simulation"
    measures: "P(dwell > 30 d)"
held_out: p30
abc: {{population: 30, generations: 3, predictive: 30}}
"""


@pytest.mark.slow
def test_abc_recovers_the_audit_recognition_from_simulated_dwell(tmp_path):
    truth = Scenario("analytic_audit", (), parse_parameters(
        {"detectors.audit.recognition": {"range": [0.05, 0.6], "why": "x"}}), 400, 99)
    results = truth.simulate({"detectors.audit.recognition": TRUE_P})
    dwell = OUTPUTS["median_dwell_days"][0](results, truth.horizon)
    p30 = OUTPUTS["p_dwell_over_30d"][0](results, truth.horizon)
    path = tmp_path / "cal.yaml"
    path.write_text(study_text(dwell, p30))
    record = run_study(parse_study(path), tmp_path / "out")
    post = record["posterior"]["detectors.audit.recognition"]
    lo, hi = post["ci90"]
    assert lo < TRUE_P < hi, post
    assert hi - lo < 0.5 * (0.6 - 0.05), post  # the data narrowed the flat prior by half or more
    held = record["held_out"]
    assert held["left_out"] == "p30" and held["fitted_on"] == ["dwell"]
    # P(dwell > 30 d) follows from the dwell in this scenario: predicted from the dwell fit it
    # falls inside the 90% predictive interval
    assert held["inside"], held
    for name in ("posterior.csv", "pairs.png", "predictive.png", "held_out.png",
                 "calibration.json", "calibration.db"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "out" / "calibration.json").read_text())["held_out"] == held


def test_a_rerun_continues_from_the_database(tmp_path, capsys):
    path = tmp_path / "cal.yaml"
    path.write_text(study_text(80.0, 0.7).replace("generations: 3", "generations: 1")
                    .replace("population: 30", "population: 10")
                    .replace("predictive: 30", "predictive: 5").replace("held_out: p30\n", ""))
    study = parse_study(path)
    run_study(study, tmp_path / "out")
    capsys.readouterr()
    run_study(study, tmp_path / "out")  # all generations done: nothing new is simulated
    assert "continuing the fit" in capsys.readouterr().err


def test_a_check_target_is_shown_but_never_fitted(tmp_path, monkeypatch):
    """``fit: false``: the check enters no fit (not the distance of either ABC run), yet it
    is reported with its predictive interval beside the fitted targets."""
    from sim.analysis import calibration

    fitted_on: list[list[str]] = []
    real_fit = calibration.fit

    def spy(study, scenario, targets, *args, **kwargs):
        fitted_on.append([t.name for t in targets])
        return real_fit(study, scenario, targets, *args, **kwargs)

    monkeypatch.setattr(calibration, "fit", spy)
    path = tmp_path / "cal.yaml"
    path.write_text(study_text(80.0, 0.0).replace("generations: 3", "generations: 1")
                    .replace("population: 30", "population: 10")
                    .replace("predictive: 30", "predictive: 5").replace("held_out: p30\n", "")
                    .replace('measures: "P(dwell > 30 d)"',
                             'measures: "P(dwell > 30 d)"\n    fit: false'))
    run_study(parse_study(path), tmp_path / "out")
    assert fitted_on == [["dwell"]]
    record = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert record["targets"]["p30"]["fitted"] is False
    assert record["targets"]["dwell"]["fitted"] is True
    assert len(record["targets"]["p30"]["predictive_90"]) == 2


BAD = [
    (("tolerance: 5", "tolerance: -5"), "targets.dwell.tolerance: must be a positive number"),
    (('    source: "the same simulation"\n', ""), "targets.p30.source: is required"),
    (("output: median_dwell_days", "output: dwell_days"),
     "targets.dwell.output: unknown output 'dwell_days'"),
    (("held_out: p30", "held_out: p3"), "held_out: must name a fitted target (did you mean p30?)"),
    (("abc: {", "abcs: {"), "abcs: unknown key (did you mean abc?)"),
    # a check-only target (fit: false) cannot be the one held out of the fit
    (('measures: "P(dwell > 30 d)"', 'measures: "P(dwell > 30 d)"\n    fit: false'),
     "held_out: must name a fitted target; fitted targets: dwell"),
    (('measures: "P(dwell > 30 d)"', 'measures: "P(dwell > 30 d)"\n    fit: maybe'),
     "targets.p30.fit: must be true or false, got 'maybe'"),
    (("generations: 3", "generation: 3"), "abc.generation: unknown key (did you mean "
                                          "generations?)"),
]


@pytest.mark.parametrize("edit, message", BAD)
def test_a_bad_calibration_file_is_one_line_and_exit_2(tmp_path, capsys, edit, message):
    path = tmp_path / "cal.yaml"
    path.write_text(study_text(80.0, 0.7).replace(*edit))
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: {message}"), err
    assert not (tmp_path / "out").exists()


def test_a_log_scale_parameter_is_sampled_as_its_logarithm_and_reported_as_its_value(tmp_path):
    import csv
    import math

    from sim.analysis.calibration import Simulator, _name, prior

    path = tmp_path / "cal.yaml"
    path.write_text(study_text(80.0, 0.7)
                    .replace("{range: [0.05, 0.6], why:", "{range: [0.01, 0.6], scale: log, why:")
                    .replace("generations: 3", "generations: 1")
                    .replace("population: 30", "population: 10")
                    .replace("predictive: 30", "predictive: 5").replace("held_out: p30\n", ""))
    study = parse_study(path)
    # pyabc's coordinate is the logarithm, uniform over [log 0.01, log 0.6]: its density is
    # flat there (a log-uniform density in the value made the importance weights ~1/value)
    rv = prior(study.parameters)[_name("detectors.audit.recognition")]
    assert rv.pdf(math.log(0.02)) > 0
    assert rv.pdf(math.log(0.02)) == pytest.approx(rv.pdf(math.log(0.5)))
    assert rv.pdf(math.log(0.005)) == 0
    sim = Simulator(study.build_scenario(), ["median_dwell_days"], study.seed)
    assert sim.values({_name("detectors.audit.recognition"): math.log(0.2)}) == pytest.approx(
        {"detectors.audit.recognition": 0.2})
    record = run_study(study, tmp_path / "out")
    rows = list(csv.DictReader((tmp_path / "out" / "posterior.csv").open()))
    assert rows and all(0.01 <= float(r["detectors.audit.recognition"]) <= 0.6 for r in rows)
    assert 0.01 <= record["posterior"]["detectors.audit.recognition"]["median"] <= 0.6


def _small_study(tmp_path, generations: int = 2):
    path = tmp_path / "cal.yaml"
    path.write_text(study_text(80.0, 0.7).replace("generations: 3", f"generations: {generations}")
                    .replace("population: 30", "population: 10")
                    .replace("predictive: 30", "predictive: 5").replace("held_out: p30\n", ""))
    return path


def test_one_worker_reproduces_a_fit_to_the_last_digit_in_another_process(tmp_path):
    """The committed fits rely on it: the same study file, fitted afresh with one worker here
    and in a fresh process with another hash seed, gives the same particles, weights and
    summaries; calibration.json says so."""
    import os
    import subprocess
    import sys

    path = _small_study(tmp_path)
    first = run_study(parse_study(path), tmp_path / "a")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run([sys.executable, "-m", "sim.calibrate", str(path), "--out",
                           str(tmp_path / "b")], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a" / "posterior.csv").read_bytes() == \
        (tmp_path / "b" / "posterior.csv").read_bytes()
    second = json.loads((tmp_path / "b" / "calibration.json").read_text())
    for record in (first, second):
        record.pop("runtime_seconds")
    assert json.loads(json.dumps(first)) == second
    assert first["abc"]["workers"] == [1] and first["abc"]["reproducible"] is True
    # reloading the finished fit draws nothing: still the uninterrupted fit
    assert run_study(parse_study(path), tmp_path / "a")["abc"]["reproducible"] is True


def test_a_resumed_fit_is_repeatable_but_not_called_reproducible(tmp_path):
    """Stopped after one generation and continued to two, a fit is not the uninterrupted one
    (numpy's stream is reseeded at the resume): calibration.json says where it was resumed
    and that one run does not reproduce it; the same stop and resume repeat exactly."""
    from dataclasses import replace

    path = _small_study(tmp_path)
    study = parse_study(path)
    posteriors = []
    for out in ("a", "b"):
        run_study(replace(study, generations=1), tmp_path / out)
        record = run_study(study, tmp_path / out)
        assert record["abc"]["resumed_after"] == {"all": [1]}
        assert record["abc"]["reproducible"] is False
        posteriors.append((tmp_path / out / "posterior.csv").read_bytes())
    assert posteriors[0] == posteriors[1]
    # and a later reload remembers the resume
    assert run_study(study, tmp_path / "a")["abc"]["reproducible"] is False


def test_a_shorter_rerun_reports_the_generation_it_asks_for(tmp_path):
    """``--generations 1`` over a database holding a 2-generation fit reports generation 0 of
    that fit, which is what a fresh 1-generation fit draws (so "reproducible" stays true)."""
    from dataclasses import replace

    path = _small_study(tmp_path)
    study = parse_study(path)
    run_study(study, tmp_path / "long")
    short = run_study(replace(study, generations=1), tmp_path / "long")
    fresh = run_study(replace(study, generations=1), tmp_path / "fresh")
    assert (tmp_path / "long" / "posterior.csv").read_bytes() == \
        (tmp_path / "fresh" / "posterior.csv").read_bytes()
    for record in (short, fresh):
        record.pop("runtime_seconds")
    assert json.loads(json.dumps(short)) == json.loads(json.dumps(fresh))


def test_min_epsilon_stops_the_fit_and_a_rerun_draws_nothing_more(tmp_path):
    """``abc.min_epsilon`` is a stopping rule: a tolerance every batch already meets stops the
    fit after its first generation (its posterior is a 1-generation fit's), and running the
    same command again does not draw another generation."""
    from dataclasses import replace

    path = _small_study(tmp_path)
    text = path.read_text().replace("predictive: 5}", "predictive: 5, min_epsilon: 1000000000}")
    assert text != path.read_text()
    path.write_text(text)
    study = parse_study(path)
    assert study.min_epsilon == 1.0e9 and study.generations == 2
    run_study(study, tmp_path / "stopped")
    first = (tmp_path / "stopped" / "posterior.csv").read_bytes()
    run_study(replace(study, generations=1, min_epsilon=0.0), tmp_path / "one")
    assert first == (tmp_path / "one" / "posterior.csv").read_bytes()
    again = run_study(study, tmp_path / "stopped")
    assert (tmp_path / "stopped" / "posterior.csv").read_bytes() == first
    assert again["abc"]["reproducible"] is True and again["abc"]["resumed_after"] == {}
