"""Global sensitivity (sim.analysis.sensitivity) on the analytic audit scenario, and its errors.

In ``analytic_audit`` the dwell is ``T/p - T/2`` on average (audits every ``T``, each catching
with ``p = coverage x recognition``); the containment delay comes after detection, so it cannot
change the dwell. Sobol indices must rank it last and give it (with common random numbers) an
index of exactly 0, and rank the two parameters of the formula above it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

pytest.importorskip("SALib")

from sim.analysis.sensitivity import main, parse_study, run_study  # noqa: E402
from sim.analysis.study import Scenario  # noqa: E402

STUDY = """\
scenario: analytic_audit
replications: 40
seed: 7
outputs: [median_dwell_days, mean_records]
sobol: {samples: 32, bootstrap: 200}
morris: {trajectories: 6, levels: 4}
parameters:
  detectors.audit.recognition: {range: [0.1, 0.5], scale: log, why: "T/p - T/2: p"}
  response.containment_delay: {range: [1h, 100h], scale: log, why: "after detection: no effect"}
  detectors.audit.interval: {range: [2w, 2mo], scale: log, why: "T/p - T/2: T"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_sobol_ranks_a_parameter_with_no_effect_on_dwell_last(tmp_path):
    study = parse_study(write(tmp_path, STUDY))
    run_study(study, tmp_path / "out", progress=False)
    sobol = {(r["output"], r["parameter"]): r for r in rows(tmp_path / "out" / "sobol.csv")}
    dwell = {k[1]: v for k, v in sobol.items() if k[0] == "median_dwell_days"}
    delay = dwell["response.containment_delay"]
    assert delay["rank"] == "3"
    # same seed for every parameter set: a parameter that changes nothing changes no number,
    # so both estimators are exactly 0 (not merely small)
    assert float(delay["ST"]) == 0.0 and float(delay["S1"]) == 0.0
    # The median dwell is T m(p), m(p) the median of (uniform phase + geometric failures) in
    # units of T; with T and p log-uniform and independent, the total indices are
    # ST_T = 1 - Var(E[f|p]) / V = 0.463 and ST_p = 0.630 (by quadrature of m(p) over the
    # ranges). The 95% bootstrap interval of N = 32 base samples must contain them and exclude 0.
    for key, exact in (("detectors.audit.recognition", 0.630), ("detectors.audit.interval", 0.463)):
        row = dwell[key]
        assert 0 < float(row["ST_lo"]) < exact < float(row["ST_hi"]), row
        assert int(row["rank"]) < 3
    # the records taken do depend on the delay (the insider goes on until containment)
    assert float(sobol[("mean_records", "response.containment_delay")]["ST"]) > 0
    morris = {(r["output"], r["parameter"]): r for r in rows(tmp_path / "out" / "morris.csv")}
    assert float(morris[("median_dwell_days", "response.containment_delay")]["mu_star"]) == 0
    assert float(morris[("median_dwell_days", "detectors.audit.recognition")]["mu_star"]) > 0
    assert (tmp_path / "out" / "sensitivity.png").stat().st_size > 10_000
    samples = rows(tmp_path / "out" / "samples.csv")
    assert len(samples) == 32 * (3 + 2)  # N (D + 2) parameter sets without second order
    # the median dwell follows the formula's direction: higher p, shorter dwell
    lo = [float(s["median_dwell_days"]) for s in samples
          if float(s["detectors.audit.recognition"]) < 0.15]
    hi = [float(s["median_dwell_days"]) for s in samples
          if float(s["detectors.audit.recognition"]) > 0.35]
    assert sum(lo) / len(lo) > sum(hi) / len(hi)


BAD = [
    (("replications: 40", "replication: 40"),
     "replication: unknown key (did you mean replications?)"),
    (("[0.1, 0.5]", "[0.5, 0.1]"),
     "parameters.detectors.audit.recognition.range: must be finite with lo < hi"),
    (("detectors.audit.recognition:", "detectors.audit.recognitio:"),
     "parameters.detectors.audit.recognitio: not a key of scenario analytic_audit "
     "(did you mean detectors.audit.recognition?)"),
    ((', why: "T/p - T/2: T"', ""), "parameters.detectors.audit.interval.why: is required"),
    (("median_dwell_days,", "median_dwell,"), "outputs[0]: unknown output 'median_dwell'"),
    (("scale: log, why: \"T/p - T/2: p\"", "scale: logs, why: x"),
     "parameters.detectors.audit.recognition.scale: must be linear or log"),
    (("samples: 32", "samples: 30"), "sobol.samples: must be a power of 2"),
    (("[0.1, 0.5]", "[0.1, 1.5]"),
     "parameters.detectors.audit.recognition.range: the model refuses 1.5"),
    (("scenario: analytic_audit", "scenario: analytic_audits"),
     "scenario: unknown scenario 'analytic_audits' (did you mean analytic_audit?)"),
]


@pytest.mark.parametrize("edit, message", BAD)
def test_a_bad_study_file_is_one_line_and_exit_2(tmp_path, capsys, edit, message):
    path = write(tmp_path, STUDY.replace(*edit))
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: {message}"), err
    assert not (tmp_path / "out").exists()


def test_a_missing_or_broken_file_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err and "coupang_2025" in err
    path = write(tmp_path, "scenario: [unclosed\n")
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid YAML at line" in err


def test_shipped_study_files_parse_and_name_real_keys():
    for name in ("coupang_2025", "coupang_2025_monitored"):
        study = parse_study(name)
        assert study.parameters and all(p.why for p in study.parameters)
        assert all(math.isfinite(p.lo) and p.lo < p.hi for p in study.parameters)
        # every key is a key of the scenario and the model builds at both ends of each range
        Scenario(study.scenario, study.overrides, study.parameters, 2, 0, study.horizon)
