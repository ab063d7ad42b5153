"""``python -m sim.report``: the tidy table, the listing of holes, the figures; and the study."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.outputs import report

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "experiments" / "five_months_vs_hours"


def run_report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.report", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    """A 2 x 2 sweep (seed x analysts) of the default scenario, 8 replications per job."""
    out = tmp_path_factory.mktemp("report") / "sweep"
    proc = subprocess.run([sys.executable, "-m", "sim", "-m", "seed=0,1", "triage.analysts=1,2",
                           "replications=8", "output.plot=false", f"hydra.sweep.dir={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def close(text: str, value: float | None) -> bool:
    """A 6-significant-digit cell against the exact number (None: an empty cell)."""
    if value is None:
        return text == ""
    return math.isclose(float(text), value, rel_tol=1e-5, abs_tol=1e-12)


def test_report_on_a_sweep_is_one_row_per_job_with_swept_keys_and_metrics(sweep_dir, tmp_path):
    out = tmp_path / "out"
    proc = run_report(str(sweep_dir), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "4 jobs: 4 complete" in proc.stdout
    assert "swept: seed (2 values), triage.analysts (2 values)" in proc.stdout
    rows = read_csv(out / report.SWEEP_CSV)
    assert [r["job"] for r in rows] == ["0", "1", "2", "3"]
    assert [(r["seed"], r["triage.analysts"]) for r in rows] == [
        ("0", "1"), ("0", "2"), ("1", "1"), ("1", "2")]
    for row in rows:
        s = json.loads((sweep_dir / row["job"] / "summary.json").read_text())
        assert row["status"] == "complete" and row["replications"] == "8"
        assert close(row["detected_fraction"], s["detected_fraction"])
        assert close(row["detected_fraction_lo"], s["detected_fraction_ci95"][0])
        assert close(row["dwell_km_median_hours"], s["km_median_dwell_hours"])
        assert close(row["dwell_km_median_lo_hours"], s["km_median_ci95"][0])
        assert close(row["dwell_km_median_hi_hours"], s["km_median_ci95"][1])
        assert close(row["records_median"], s["records_exfiltrated"]["median"])
        assert close(row["p_detected_24h"], s["p_detected_within"]["24h"]["estimate"])
        assert row["dir"] == row["job"] and row["error"] == ""
    for name in ("dwell_vs_seed.png", "dwell_vs_triage_analysts.png", report.SURVIVAL_PNG,
                 report.RECORDS_PNG):
        width, _ = png_size(out / name)
        assert width in (int(6.8 * 150), int(7.0 * 150)), name  # 150 dpi
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_report_lists_failed_killed_and_missing_jobs_and_never_reads_partial_files(
        sweep_dir, tmp_path):
    d = tmp_path / "sweep"
    shutil.copytree(sweep_dir, d)
    shutil.rmtree(d / "1")                                           # never ran
    meta = json.loads((d / "2" / "run.json").read_text())            # failed
    (d / "2" / "run.json").write_text(json.dumps({**meta, "status": "failed",
                                                  "error": "RuntimeError: boom"}))
    (d / "3" / "replications.csv").rename(d / "3" / "replications.csv.partial")
    coll = report.collect(d)       # job 3: run.json says complete, only a .partial is there
    assert [j.status for j in coll.jobs] == ["complete", "missing", "failed", "incomplete"]
    built = report.build_report(d, tmp_path / "out")
    rows = read_csv(tmp_path / "out" / report.SWEEP_CSV)
    assert [r["status"] for r in rows] == ["complete", "missing", "failed", "incomplete"]
    assert rows[1]["seed"] == "0" and rows[1]["triage.analysts"] == "2"  # from sweep.json
    for row in rows[1:]:
        assert row["dwell_km_median_hours"] == "" and row["detected_fraction"] == ""
    assert rows[2]["error"] == "RuntimeError: boom"
    text = report.describe(built)
    assert "#1 missing: seed=0 triage.analysts=2" in text and "never ran" in text
    assert "#2 failed" in text and "boom" in text and "#3 incomplete" in text
    assert [j.label for j in built.collection.complete] == ["seed=0, triage.analysts=1"]


def test_report_without_sweep_json_rebuilds_the_job_list_from_multirun_yaml(sweep_dir,
                                                                            tmp_path):
    d = tmp_path / "sweep"
    shutil.copytree(sweep_dir, d)
    (d / "sweep.json").unlink()
    shutil.rmtree(d / "3")
    coll = report.collect(d)
    assert [j.status for j in coll.jobs] == ["complete", "complete", "complete", "missing"]
    assert coll.jobs[3].params == {"seed": "1", "triage.analysts": "2", "replications": "8",
                                   "output.plot": "False"}


def test_report_warns_when_jobs_came_from_different_code(sweep_dir, tmp_path):
    d = tmp_path / "sweep"
    shutil.copytree(sweep_dir, d)
    meta = json.loads((d / "0" / "run.json").read_text())
    (d / "0" / "run.json").write_text(json.dumps({**meta, "source_digest": "0" * 16}))
    notes = report.collect(d).notes
    assert len(notes) == 1 and "2 different versions of the code" in notes[0]
    assert report.collect(sweep_dir).notes == []


def test_report_on_a_single_run_dir(sweep_dir, tmp_path):
    proc = run_report(str(sweep_dir / "0"), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"run {sweep_dir / '0'}: 1 job: 1 complete")
    rows = read_csv(tmp_path / report.SWEEP_CSV)
    assert len(rows) == 1 and rows[0]["status"] == "complete" and rows[0]["seed"] == "0"
    assert (tmp_path / report.SURVIVAL_PNG).exists() and (tmp_path / report.RECORDS_PNG).exists()
    assert not list(tmp_path.glob("dwell_vs_*.png"))  # nothing was swept


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nowhere", "no such directory"),
    (lambda p: p, "neither a run dir"),
    (lambda p: (p / "f.txt", (p / "f.txt").write_text("x"))[0], "not a directory"),
])
def test_bad_dir_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    assert report.main([str(make(tmp_path))]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_bad_dir_at_the_command_line_is_one_line(tmp_path):
    proc = run_report(str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert proc.stderr == f"error: {tmp_path / 'nowhere'}: no such directory\n"
    usage = run_report()
    assert usage.returncode == 2 and len(usage.stderr.splitlines()) == 1


def test_parquet_beside_the_csv_when_pyarrow_is_installed(sweep_dir, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    report.build_report(sweep_dir, tmp_path, figures=False)
    table = pq.read_table(tmp_path / report.SWEEP_PARQUET)
    assert table.num_rows == 4 and "triage.analysts" in table.column_names


def test_parquet_of_a_sweep_with_missing_jobs_has_one_type_per_column(tmp_path):
    """A swept count (``replications=6,8``) is text as written for every job, complete or
    missing: pyarrow used to get an int from the summary beside '8' and raise ArrowInvalid."""
    import shutil

    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, "-m", "sim", "-m", "replications=6,8", "seed=0,1",
                           "output.plot=false", f"hydra.sweep.dir={out}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(out / "3")                                   # never ran
    rows = report.table(report.collect(out))
    assert [r["status"] for r in rows] == ["complete"] * 3 + ["missing"]
    assert [r["replications"] for r in rows] == ["6", "6", "8", "8"]
    proc = run_report(str(out))
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(out / report.SWEEP_PARQUET)
    assert table.num_rows == 4
    assert table.column("replications").to_pylist() == ["6", "6", "8", "8"]
    assert table.column("detected_fraction").to_pylist()[3] is None


def test_one_type_per_column():
    assert report._one_type(["8", 6, None]) == ["8", "6", None]
    assert report._one_type([1, 2.5, None]) == [1, 2.5, None]
    assert report._one_type([True, 1]) == ["true", "1"]


def test_time_ticks_are_round_units_in_range():
    lo, hi = 10 / 60, 2 * 8766.0
    ticks = report.time_ticks(lo, hi)
    labels = [label for _, label in ticks]
    assert {"10 min", "1 h", "1 d", "1 mo", "1 y"} <= set(labels)
    values = [v for v, _ in ticks]
    assert values == sorted(values) and lo <= values[0] and values[-1] <= hi
    gaps = [math.log10(b / a) / math.log10(hi / lo)
            for a, b in zip(values, values[1:], strict=False)]
    assert min(gaps) >= 0.07  # none crowds another
    assert report.time_ticks(2.0, 3.0) == [(2.0, "2.0 h"), (3.0, "3.0 h")]  # no round unit


# ----------------------------------------------------------------------------- the study


def read_study(path: Path) -> dict[str, dict]:
    return {r["arm"]: r for r in read_csv(path)}


def test_study_quick_run_orders_the_controls(tmp_path):
    from tests.conftest import committed_results

    before = committed_results("five_months_vs_hours")
    proc = subprocess.run([sys.executable, str(STUDY / "run.py"), "--quick", "--runs",
                           str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert committed_results("five_months_vs_hours") == before
    arms = read_study(tmp_path / "out" / "five_months_vs_hours.csv")
    monitoring = [f"{arm}{d}" for arm in ("monitoring_1", "monitoring_2", "monitoring_5",
                                          "monitoring_t4_1", "monitoring_t4_5")
                  for d in ("", "_priority", "_risk")]
    assert list(arms) == ["baseline", "audit_weekly", "audit_daily", "key_rotation",
                          *monitoring]
    # one analyst at threshold 4 is overloaded (load ~3.4) whatever the discipline of its
    # queue; priority lets the insider's higher-scored alerts overtake the backlog: its
    # interval lies far below FIFO's (full run: ~43 min against ~26.0 h)
    assert arms["monitoring_t4_1"]["overloaded"] == "True"
    assert float(arms["monitoring_t4_1"]["offered_load"]) > 3
    assert float(arms["monitoring_t4_1_priority"]["median_dwell_hi_hours"]) < \
        float(arms["monitoring_t4_1"]["median_dwell_lo_hours"]) / 5
    hours = {a: float(r["median_dwell_hours"]) for a, r in arms.items()}
    # 60 replications per arm: the intervals are separated by far more than their widths
    # (full run: daily audit 35-40 days against 4.4-4.8 months; monitoring 27-30 minutes).
    assert float(arms["audit_daily"]["median_dwell_hi_hours"]) < \
        float(arms["baseline"]["median_dwell_lo_hours"])
    for arm in ("monitoring_1", "monitoring_2", "monitoring_5"):
        assert float(arms[arm]["median_dwell_hi_hours"]) < 24.0
        assert hours["baseline"] / hours[arm] > 100
    # rotation cuts access at a uniform time in the first quarter (median ~1.5 months, ~14M
    # records at ~310k/day) while the baseline insider takes most of the 33.7M: medians far
    # apart at any sample size (full run: 12M against 34M)
    assert float(arms["key_rotation"]["median_records"]) < \
        0.6 * float(arms["baseline"]["median_records"])
    # rotation comes within 3 months; before it the monthly audit (about 1.5% a month at the
    # calibrated recognition) or outside discovery may catch the insider first. The bound is
    # the one derived when the audit caught 5% a month, P(cut by rotation) >= (1 - 0.05)^3 =
    # 0.86, less 4 standard errors of a share from 60 replications (4 * sqrt(0.86 * 0.14 / 60)
    # = 0.18); it still holds with room (full run: 0.90)
    assert float(arms["key_rotation"]["access_cut_by_rotation"]) > 0.86 - 0.18
    for name in ("five_months_vs_hours.png", "five_months_vs_hours.md", "survival.png",
                 "records_vs_dwell.png"):
        assert (tmp_path / "out" / name).exists()


def test_committed_study_results_state_the_headline():
    arms = read_study(STUDY / "results" / "five_months_vs_hours.csv")
    assert len(arms) == 19 and {r["replications"] for r in arms.values()} == {"2000"}
    base = float(arms["baseline"]["median_dwell_hours"]) / 24
    assert 90 <= base <= 220  # the calibration target range of coupang_2025, in days
    assert float(arms["monitoring_5"]["median_dwell_hours"]) < 24
    # a sensitive threshold drowns one analyst (about a day) but not five (under an hour)
    assert float(arms["monitoring_t4_1"]["median_dwell_lo_hours"]) > \
        10 * float(arms["monitoring_t4_5"]["median_dwell_hi_hours"])
    # ... unless that one analyst takes the highest-scored alert first
    assert float(arms["monitoring_t4_1"]["median_dwell_lo_hours"]) > \
        10 * float(arms["monitoring_t4_1_priority"]["median_dwell_hi_hours"])


@pytest.mark.slow
def test_study_reproduces_its_committed_results(tmp_path):
    """Two arms at full size (2,000 replications each; the headline: months against minutes)
    write their committed rows byte for byte. Each arm is its own job under the study's one
    seed, so its row does not depend on the other arms; the whole study (19 arms, a few
    minutes on 2 cores) is run.py without --arms."""
    arms = ["baseline", "monitoring_5"]
    proc = subprocess.run([sys.executable, str(STUDY / "run.py"), "--arms", ",".join(arms),
                           "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    name = "five_months_vs_hours.csv"
    got = (tmp_path / "out" / name).read_text().splitlines()
    committed = {line.split(",", 1)[0]: line
                 for line in (STUDY / "results" / name).read_text().splitlines()}
    assert got[0] == committed["arm"]  # the same columns
    assert [line.split(",", 1)[0] for line in got[1:]] == arms
    for line in got[1:]:
        assert line == committed[line.split(",", 1)[0]], \
            f"{name}: re-run run.py to refresh results/"


def test_study_refuses_unknown_arms_and_a_subset_over_the_results():
    for args, message in ((["--arms", "baseline,nope", "--out", "x"], "unknown arm nope"),
                          (["--arms", "baseline"], "needs --out")):
        proc = subprocess.run([sys.executable, str(STUDY / "run.py"), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: --arms: ") and message in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
