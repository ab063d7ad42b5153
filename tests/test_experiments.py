"""Each experiment's --quick run works end to end and writes what its README promises."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.analysis.calibration import preset_value
from tests.conftest import committed_results
from tests.test_configs import compose_plain

ROOT = Path(__file__).resolve().parent.parent


def run_quick(name: str, out: Path | None) -> subprocess.CompletedProcess:
    """``--quick`` (into ``out``, or the default scratch/ when None); the committed results
    must be byte for byte what they were."""
    before = committed_results(name)
    assert before, f"experiments/{name} has no committed results"
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / name / "run.py"),
                           "--quick", *(["--out", str(out)] if out else [])],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert committed_results(name) == before, f"--quick changed experiments/{name}/results"
    return proc


def test_audit_interval_quick_run_is_on_the_theory_line():
    # no --out: a quick run goes to scratch/ (git-ignored), never over results/ (#14)
    proc = run_quick("audit_interval", None)
    assert proc.returncode == 0, proc.stderr
    tmp_path = ROOT / "experiments" / "audit_interval" / "scratch"
    rows = list(csv.DictReader((tmp_path / "audit_interval.csv").open()))
    assert len(rows) == 6
    for row in rows:
        # 100 replications per arm: the mean is within 4 standard errors of T/p - T/2
        assert abs(float(row["z"])) < 4, row
    assert (tmp_path / "audit_interval.png").stat().st_size > 20_000


def test_committed_audit_interval_results_cover_the_sweep():
    rows = list(csv.DictReader((ROOT / "experiments/audit_interval/results/audit_interval.csv")
                               .open()))
    assert len(rows) == 40
    assert sum(row["theory_in_ci"] == "True" for row in rows) >= 34  # 38 +- 2 SD expected


@pytest.mark.slow
def test_benchmark_quick_run_prints_its_headline_json(tmp_path):
    proc = run_quick("benchmark", tmp_path)
    assert proc.returncode == 0, proc.stderr
    headline = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("raw_simpy_events_per_s", "engine_events_per_s", "efficiency",
                "replications_per_s", "fast_vs_exact_speedup"):
        assert key in headline
    assert headline["raw_simpy_events_per_s"] > 0
    assert set(headline["replications_per_s"]) == {"coupang_2025", "coupang_2025_monitored"}
    report = json.loads((tmp_path / "benchmark.json").read_text())
    assert report["fast_vs_exact"]["speedup"] > 1  # the fast mode is faster at all
    assert (tmp_path / "benchmark.png").stat().st_size > 20_000


def _placement(path: Path) -> dict[str, dict]:
    return {r["arm"]: r for r in csv.DictReader(path.open())}


@pytest.mark.slow
def test_sensor_placement_quick_run_writes_its_table_and_figure(tmp_path):
    committed = ROOT / "experiments/sensor_placement/results/sensor_placement.csv"
    before = committed.read_bytes()
    proc = run_quick("sensor_placement", tmp_path)
    assert proc.returncode == 0, proc.stderr
    arms = _placement(tmp_path / "sensor_placement.csv")
    assert len(arms) == 14 and all(r["command"].startswith("python -m sim ") for r in arms.values())
    # 40 replications: the monitor on the walk confirms within the first session, the one on
    # the staff VPN never sees the low-and-slow insider (months, from audits and customers)
    assert float(arms["A_api_gateway_low_and_slow"]["median_dwell_hours"]) < 24
    assert float(arms["A_vpn_gateway_low_and_slow"]["median_dwell_lo_hours"]) > 30 * 24
    assert (tmp_path / "sensor_placement.png").stat().st_size > 20_000
    assert committed.read_bytes() == before  # a quick run never writes over the results


def test_committed_sensor_placement_results_show_placement_and_segmentation_matter():
    arms = _placement(ROOT / "experiments/sensor_placement/results/sensor_placement.csv")
    assert {r["replications"] for r in arms.values()} == {"1000"}

    def ci(arm):
        r = arms[arm]
        return float(r["median_dwell_lo_hours"]), float(r["median_dwell_hi_hours"])

    # placement: on the walk (gateway) against blind to the low-and-slow insider (datastore)
    assert ci("A_api_gateway_low_and_slow")[1] < ci("A_customer_db_low_and_slow")[0]
    # behaviour: the datastore monitor sees the smash-and-grab pull, not the trickle
    assert ci("A_customer_db_smash_and_grab")[1] < ci("A_customer_db_low_and_slow")[0]
    # segmentation: the longer host route crosses more EDR-covered hosts
    assert ci("B_seg0.9_low_and_slow")[1] < ci("B_seg0_low_and_slow")[0]
    assert float(arms["B_seg0.9_low_and_slow"]["median_records"]) < \
        float(arms["B_seg0_low_and_slow"]["median_records"])


def _worst(path: Path) -> dict[str, dict]:
    with path.open(newline="") as f:
        return {r["arm"]: r for r in csv.DictReader(f)}


@pytest.mark.slow
def test_best_response_quick_run_writes_its_tables_and_figure(tmp_path):
    proc = run_quick("best_response", tmp_path)
    assert proc.returncode == 0, proc.stderr
    worst = _worst(tmp_path / "worst_case.csv")
    assert len(worst) == 9
    with (tmp_path / "best_response.csv").open(newline="") as f:
        assert len(list(csv.DictReader(f))) == 9 * 13  # control sets x insider variants
    assert (tmp_path / "best_response.png").stat().st_size > 20_000
    assert "worst case by records" in (tmp_path / "worst_case.md").read_text()


def test_committed_best_response_results_name_the_worst_cases():
    worst = _worst(ROOT / "experiments/best_response/results/worst_case.csv")
    # the worst case is never better for the defender than the naive insider
    for r in worst.values():
        assert float(r["worst_mean_records"]) >= float(r["naive_mean_records"])
    # monitoring's short dwell survives adaptation, its loss does not: a smash-and-grab pull
    # runs on during the ~4 h containment delay
    for arm in ("monitoring_1", "monitoring_2", "monitoring_5"):
        assert float(worst[arm]["worst_median_dwell_hours"]) < 24
        assert worst[arm]["worst_records_variant"].startswith("smash")
        assert float(worst[arm]["worst_mean_records_lo"]) > 5 * float(
            worst[arm]["naive_mean_records"])


@pytest.mark.slow
def test_sensitivity_quick_run_ranks_every_parameter_of_both_scenarios(tmp_path):
    pytest.importorskip("SALib")
    proc = run_quick("sensitivity", tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((tmp_path / "ranking.csv").open()))
    assert {r["scenario"] for r in rows} == {"coupang_2025", "coupang_2025_monitored"}
    # the containment delay comes after detection: it cannot change the dwell (exactly 0 with
    # common random numbers), in either scenario
    for r in rows:
        if r["parameter"] == "response.containment_delay" and r["output"] == "median_dwell_days":
            assert float(r["ST"]) == 0.0, r
    assert (tmp_path / "sensitivity.png").stat().st_size > 50_000
    assert (tmp_path / "below_the_rule.csv").exists()


def test_committed_sensitivity_results_put_the_volume_rule_first():
    rows = list(csv.DictReader((ROOT / "experiments/sensitivity/results/ranking.csv").open()))
    top = {(r["scenario"], r["output"]): r["parameter"] for r in rows if r["rank"] == "1"}
    # the README's reading: under Coupang's controls the per-address rule's limit decides
    # every output; with monitoring the monitor's threshold leads the dwell
    rule = "detectors.threshold_rules.max_requests_per_ip_hour"
    assert top[("coupang_2025", "median_dwell_days")] == rule
    assert top[("coupang_2025", "mean_records")] == rule
    assert top[("coupang_2025_monitored", "median_dwell_days")] == "detectors.monitoring.threshold"


def test_committed_calibration_reports_its_held_out_check_and_the_preset_is_its_median():
    record = json.loads((ROOT / "experiments/calibration/results/calibration.json").read_text())
    held = record["held_out"]
    assert held["left_out"] == "coupang_dwell" and "coupang_dwell" not in held["fitted_on"]
    lo, hi = held["predictive_90"]
    assert held["inside"] == (lo <= held["value"] <= hi)
    readme = (ROOT / "experiments/calibration/README.md").read_text()
    assert ("passes" if held["inside"] else "fails") in readme.split("Held-out check:")[1][:40]
    # the preset's fitted numbers are the posterior medians (the scenario file says so): each,
    # in the unit the file writes it in, is the median rounded to the significant digits the
    # file gives (115000: 3, 13.9y: 3, 0.017: 2), so a preset one rounding step stale fails
    cfg = compose_plain(["scenario=coupang_2025"])
    for key, post in record["posterior"].items():
        preset = preset_value(cfg, key)
        div = post["display"][0]
        written = f"{preset / div:.10g}"
        digits = len(written.replace(".", "").replace("-", "").strip("0"))
        assert float(f"{post['median'] / div:.{digits}g}") == float(written), \
            (key, preset / div, post["median"] / div)
        assert post["preset"] == preset, key  # the committed fit ran on this preset


@pytest.mark.slow
def test_explorer_tour_quick_run_times_two_arms_and_takes_the_screenshot(tmp_path):
    pytest.importorskip("dash", reason="the explorer extra is not installed")
    pytest.importorskip("selenium", reason="selenium is not installed")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("no system chromium/chromedriver: apt-get install -y chromium chromium-driver")
    proc = run_quick("explorer_tour", tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert timings["replications_per_arm"] == 40 and len(timings["run_to_arm_shown_s"]) == 2
    assert all(t > 0 for t in timings["run_to_arm_shown_s"])
    assert (tmp_path / "explorer.png").stat().st_size > 50_000  # a page, not a blank


def test_headline_uncertainty_quick_run_pairs_the_arms_and_writes_every_file(tmp_path):
    proc = run_quick("headline_uncertainty", tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    rows = list(csv.DictReader((tmp_path / "draws.csv").open()))
    arms = ("baseline", "audit_weekly", "audit_daily", "key_rotation", "monitoring_5")
    draws = sorted({r["draw"] for r in rows})
    assert len(draws) == 6 + 1 and len(rows) == len(draws) * len(arms)  # QUICK_DRAWS + preset
    assert not (tmp_path / "draws.csv.partial").exists()
    # within a draw every arm ran at the same parameter values (paired)
    keys = ("insider.records_per_session", "detectors.external.mean_time_per_million",
            "detectors.audit.recognition")
    for d in draws:
        assert len({tuple(r[k] for k in (*keys, "seed")) for r in rows if r["draw"] == d}) == 1
    # ... and each draw (the preset row shares draw 0's seed) its own seed
    seeds = {r["draw"]: r["seed"] for r in rows}
    assert len(set(seeds.values())) == len(draws) - 1 and seeds["preset"] == seeds["0"]
    # the preset row is the preset (13.9 y in hours)
    preset = next(r for r in rows if r["draw"] == "preset")
    assert (float(preset[keys[0]]), float(preset[keys[2]])) == (115000.0, 0.017)
    assert abs(float(preset[keys[1]]) - 13.9 * 8766) < 1
    # what survives any draw even at 30 replications: monitoring within hours, the baseline
    # months (its slowest arm-mate, key rotation, aside)
    for r in rows:
        days = float(r["median_dwell_days"])
        if r["arm"] == "monitoring_5":
            assert days < 1.0, r
        if r["arm"] == "baseline":
            assert days > 30.0, r
    summary = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert {(s["arm"], s["output"]) for s in summary} >= {(a, "dwell_ratio_to_baseline")
                                                         for a in arms}
    assert (tmp_path / "uncertainty.png").stat().st_size > 30_000
    # --replot redraws from draws.csv and simulates nothing
    before = (tmp_path / "summary.csv").read_bytes()
    replot = subprocess.run([sys.executable, str(ROOT / "experiments/headline_uncertainty/run.py"),
                             "--replot", "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert replot.returncode == 0, replot.stderr
    assert (tmp_path / "summary.csv").read_bytes() == before


def test_committed_headline_uncertainty_supports_its_readme():
    """The README's reading of the committed draws: monitoring within the hour and the
    baseline months in every draw; weekly audits always a little sooner and key rotation
    always later than the baseline of the same draw; the daily audit's dwell spread over a
    factor of five and more, following recognition."""
    rows = [r for r in csv.DictReader(
        (ROOT / "experiments/headline_uncertainty/results/draws.csv").open())
        if r["draw"] != "preset"]
    dwell = {(r["draw"], r["arm"]): float(r["median_dwell_days"]) for r in rows}
    draws = {r["draw"] for r in rows}
    assert len(draws) == 100
    for d in draws:
        assert dwell[(d, "monitoring_5")] < 1 / 24, d
        assert dwell[(d, "baseline")] > 60, d
        assert dwell[(d, "audit_weekly")] < dwell[(d, "baseline")], d
        assert dwell[(d, "key_rotation")] > dwell[(d, "baseline")], d
    daily = sorted(dwell[(d, "audit_daily")] for d in draws)
    assert daily[94] / daily[4] > 5  # the 90% range over 100 draws (inverted-CDF quantiles)
    readme = (ROOT / "experiments/headline_uncertainty/README.md").read_text()
    assert "One reading is not robust: the daily audit" in readme
