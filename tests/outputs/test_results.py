"""Tests of sim.outputs.results: the CSV writer/reader, summary.json, dwell.png and the text
summary."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.core.timeunits import DAY, YEAR
from sim.outputs import results
from sim.outputs.results import (
    COLUMNS,
    CREW_COLUMNS,
    ReplicationResult,
    ResultsFileError,
    ResultWriter,
    read_replications,
    read_table,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make(i: int = 0, dwell: float = 10.0, detected: bool = True, **kw: Any) -> ReplicationResult:
    fields: dict[str, Any] = dict(
        replication=i, seed=100 + i, detected=detected, censored=not detected,
        detected_by="audit" if detected else "", dwell_hours=dwell,
        records_exfiltrated=1000 * (i + 1),
        true_alerts=1, false_alerts=10, alerts_dropped=0,
        access_ended_by="containment" if detected else "horizon", access_hours=dwell,
        sessions=3, mean_triage_wait_hours=2.0)
    fields.update(kw)
    return ReplicationResult(**fields)


def same(a: ReplicationResult, b: ReplicationResult) -> bool:
    """Field equality with NaN == NaN."""
    for name in COLUMNS:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, float) and math.isnan(x):
            if not (isinstance(y, float) and math.isnan(y)):
                return False
        elif x != y or type(x) is not type(y):
            return False
    return True


def fake_runs(n: int, horizon: float, seed: int = 1) -> list[ReplicationResult]:
    """Lognormal dwell around 100 days, about 10% beyond the horizon of one year."""
    rng = np.random.default_rng(seed)
    sigma = math.log(YEAR / (100 * DAY)) / 1.2816  # P(dwell > 1 y) = 10%
    rows = []
    for i in range(n):
        d = float(rng.lognormal(math.log(100 * DAY), sigma))
        det = d <= horizon
        by = str(rng.choice(["external_discovery", "audit"])) if det else ""
        rows.append(make(i, d if det else horizon, det, detected_by=by))
    return rows


# ------------------------------------------------------------------------- rows


def test_columns_match_fields() -> None:
    assert tuple(f.name for f in dataclasses.fields(ReplicationResult)) == COLUMNS + CREW_COLUMNS
    assert tuple(make().row()) == COLUMNS  # a lone insider's row has no crew column
    crew = dataclasses.replace(make(), insiders=3, insiders_identified=1, insiders_stopped=2)
    assert tuple(crew.row()) == COLUMNS + CREW_COLUMNS


def test_row_validation_and_normalisation() -> None:
    with pytest.raises(ValueError):
        make(detected=True, censored=True)
    with pytest.raises(ValueError):
        make(detected=True, detected_by="")
    with pytest.raises(ValueError):
        make(detected=False, detected_by="audit")
    with pytest.raises(ValueError):
        make(dwell=math.inf)
    with pytest.raises(TypeError):
        make(records_exfiltrated=2.5)
    r = make(records_exfiltrated=np.int64(7), dwell=np.float64(3.5), detected=np.bool_(True),
             true_alerts=4.0)
    assert type(r.records_exfiltrated) is int and type(r.dwell_hours) is float
    assert r.detected is True and r.true_alerts == 4 and type(r.true_alerts) is int


# ------------------------------------------------------------------------- writer / reader


def test_writer_leaves_partial_on_exception(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with ResultWriter(tmp_path) as w:
            w.write(make(0))
            w.write(make(1))
            raise RuntimeError("engine crashed")
    assert not (tmp_path / "replications.csv").exists()
    partial = tmp_path / "replications.csv.partial"
    assert partial.exists()
    got = results.read_replications(partial)
    assert [r.replication for r in got] == [0, 1]


def test_writer_flushes_every_row(tmp_path: Path) -> None:
    w = ResultWriter(tmp_path)
    w.write(make(0))
    lines = (tmp_path / "replications.csv.partial").read_text().splitlines()
    assert len(lines) == 2  # header + the row, readable while the writer is still open
    w.abort()


def test_finish_produces_csv_with_header(tmp_path: Path) -> None:
    with ResultWriter(tmp_path) as w:
        for i in range(3):
            w.write(make(i))
        w.finish()  # explicit finish inside the block is fine: finishing is idempotent
    assert not (tmp_path / "replications.csv.partial").exists()
    with open(tmp_path / "replications.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 4 and w.rows_written == 3


def test_writer_refuses_to_clobber_a_finished_run(tmp_path: Path) -> None:
    with ResultWriter(tmp_path) as w:
        w.write(make(0))
    with pytest.raises(FileExistsError):
        ResultWriter(tmp_path)
    with ResultWriter(tmp_path, overwrite=True) as w:
        w.write(make(5))
    assert [r.replication for r in results.read_replications(tmp_path / "replications.csv")] == [5]


def test_round_trip(tmp_path: Path) -> None:
    rows = [
        make(0, dwell=1 / 3, mean_triage_wait_hours=math.nan),
        make(1, dwell=YEAR, detected=False, access_ended_by=""),
        make(2, dwell=0.0, detected_by="dlp, \"inline\"", access_ended_by="dlp",
             records_exfiltrated=12_345_678_901, mean_triage_wait_hours=0.1 + 0.2),
    ]
    with ResultWriter(tmp_path / "run") as w:
        for r in rows:
            w.write(r)
    got = results.read_replications(tmp_path / "run" / "replications.csv")
    assert len(got) == 3
    assert all(same(a, b) for a, b in zip(rows, got, strict=True))
    text = (tmp_path / "run" / "replications.csv").read_text().splitlines()
    assert text[1].split(",")[2:4] == ["true", "false"]
    wait = results.COLUMNS.index("mean_triage_wait_hours")
    assert text[1].split(",")[wait] == ""  # NaN is an empty field


def test_read_rejects_bad_files(tmp_path: Path) -> None:
    bad_header = tmp_path / "a.csv"
    bad_header.write_text("replication,seed\n0,1\n")
    with pytest.raises(ResultsFileError, match="line 1"):
        results.read_replications(bad_header)
    with ResultWriter(tmp_path) as w:
        w.write(make(0))
    good = (tmp_path / "replications.csv").read_text()
    bad_value = tmp_path / "b.csv"
    bad_value.write_text(good + good.splitlines()[1].replace("true", "maybe", 1) + "\n")
    with pytest.raises(ResultsFileError, match="line 3.*detected"):
        results.read_replications(bad_value)


def test_read_partial_drops_a_torn_last_line(tmp_path: Path) -> None:
    w = ResultWriter(tmp_path)
    w.write(make(0))
    w.write(make(1))
    w.abort()
    partial = tmp_path / "replications.csv.partial"
    partial.write_text(partial.read_text()[:-7])  # the crash cut the last row
    assert [r.replication for r in results.read_replications(partial)] == [0]


# ------------------------------------------------------------------------- summary


HORIZON = 100.0


def small_rows() -> list[ReplicationResult]:
    # dwell 10, 20, 30 detected; one censored at the horizon (100 h).
    return [
        make(0, 10.0, detected_by="audit", records_exfiltrated=100, false_alerts=1,
             mean_triage_wait_hours=1.0),
        make(1, 20.0, detected_by="external_discovery", records_exfiltrated=200, false_alerts=2,
             mean_triage_wait_hours=math.nan),
        make(2, 30.0, detected_by="audit", records_exfiltrated=300, false_alerts=3,
             access_ended_by="", mean_triage_wait_hours=3.0),
        make(3, HORIZON, detected=False, records_exfiltrated=1000, false_alerts=6,
             true_alerts=0, alerts_dropped=2),
    ]


def test_summarize_hand_computed() -> None:
    s = results.summarize(small_rows(), HORIZON)
    json.dumps(s, allow_nan=False)  # plain JSON types only
    assert s["replications"] == 4 and s["censored"] == 1 and s["detected"] == 3
    assert s["horizon_hours"] == HORIZON
    assert s["detected_fraction"] == 0.75
    # Wilson 3/4: centre (0.75 + z^2/8) / (1 + z^2/4) = 0.6275, half-width 0.3269.
    assert s["detected_fraction_ci95"] == pytest.approx([0.3006, 0.9544], abs=1e-4)

    d = s["dwell_hours"]  # censored row counted at 100 h
    assert d["mean"] == 40.0  # (10 + 20 + 30 + 100) / 4
    assert d["median"] == 25.0
    assert d["p10"] == pytest.approx(13.0)  # position 0.3 between 10 and 20
    assert d["p90"] == pytest.approx(79.0)  # position 2.7 between 30 and 100
    # sd = sqrt(5000 / 3) = 40.825, se = 20.412, t(0.975, 3) = 3.1824: 40 -+ 64.96
    assert d["ci95"] == pytest.approx([40 - 64.9615, 40 + 64.9615], abs=1e-3)
    assert d["median_ci95"] is None
    assert s["dwell_days"]["median"] == pytest.approx(25.0 / 24.0)

    assert s["records_exfiltrated"]["mean"] == 400.0
    assert s["records_exfiltrated"]["median"] == 250.0
    assert s["detected_by"] == {"audit": 2, "external_discovery": 1}
    assert list(s["detected_by"]) == ["audit", "external_discovery"]  # most frequent first
    assert s["access_ended_by"] == {"containment": 2, "horizon": 1, "none": 1}
    assert s["alerts"] == {"true_mean": 0.75, "false_mean": 3.0, "dropped_mean": 0.5}
    assert s["mean_triage_wait_hours"] == pytest.approx((1 + 3 + 2) / 3)  # NaN row skipped

    # KM: n = 4, 3, 2 at t = 10, 20, 30: S = 3/4, 1/2, 1/4. Median: first S <= 1/2 -> 20.
    assert s["km_median_dwell_hours"] == 20.0
    lo, hi = s["km_median_ci95"]
    assert lo is not None and lo <= 20.0 and (hi is None or hi >= 20.0)
    p = s["p_detected_within"]
    assert set(p) == {"24h", "72h", "30d", "90d", "180d"}
    assert p["24h"]["estimate"] == pytest.approx(0.5)  # 1 - S(24) = 1 - 1/2
    assert p["72h"]["estimate"] == pytest.approx(0.75)  # 1 - S(72) = 1 - 1/4
    assert p["30d"] == {"estimate": None, "ci95": None}  # 720 h is past the 100 h horizon

    notes = " | ".join(s["notes"])
    assert "4 replications: too few for a 95% interval of the median (need >= 6)" in notes
    assert "lower bounds" in notes and "30d" in notes


def test_summarize_tiny_n_notes() -> None:
    s = results.summarize([make(0, 5.0), make(1, 7.0)], HORIZON)
    assert s["dwell_hours"]["median_ci95"] is None
    assert s["dwell_hours"]["ci95"] is not None  # n = 2 is enough for a t-interval
    assert "2 replications: too few for a 95% interval of the median (need >= 6)" in s["notes"]
    one = results.summarize([make(0, 5.0)], HORIZON)
    assert one["dwell_hours"]["ci95"] is None
    assert any("1 replication: too few for a 95% interval of the mean" in n for n in one["notes"])
    empty = results.summarize([], HORIZON)
    assert empty["replications"] == 0 and empty["detected_fraction"] is None
    json.dumps(empty, allow_nan=False)


def test_summarize_all_censored() -> None:
    s = results.summarize([make(i, HORIZON, detected=False) for i in range(10)], HORIZON)
    assert s["detected_fraction"] == 0.0 and s["detected_by"] == {}
    assert s["km_median_dwell_hours"] is None
    assert s["km_median_ci95"] == [None, None]
    assert s["p_detected_within"]["24h"]["estimate"] == 0.0
    assert any("not reached" in n for n in s["notes"])


def test_write_json_atomic(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    results.write_json_atomic(path, {"a": math.nan, "b": np.float64(1.5), "c": (1, 2)})
    assert json.loads(path.read_text()) == {"a": None, "b": 1.5, "c": [1, 2]}
    with pytest.raises(TypeError):
        results.write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text())["b"] == 1.5  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temp file left


# ------------------------------------------------------------------------- figure and text


@pytest.mark.parametrize("case", ["normal", "all_censored", "all_detected", "single_detected",
                                  "single_censored", "zero_dwell", "empty"])
def test_plot_dwell_writes_png(tmp_path: Path, case: str) -> None:
    rows = {
        "normal": fake_runs(200, YEAR),
        "all_censored": [make(i, YEAR, detected=False) for i in range(30)],
        "all_detected": [make(i, 2.0 + i) for i in range(30)],
        "single_detected": [make(0, 40 * DAY)],
        "single_censored": [make(0, YEAR, detected=False)],
        "zero_dwell": [make(0, 0.0), make(1, 0.5), make(2, 30.0)],
        "empty": [],
    }[case]
    path = tmp_path / "dwell.png"
    results.plot_dwell(rows, YEAR, path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in tmp_path.iterdir()] == ["dwell.png"]


def test_format_summary() -> None:
    s = results.summarize(fake_runs(200, YEAR), YEAR)
    text = results.format_summary(s, scenario="demo", run_dir="/tmp/run_42", seed=0)
    assert text.splitlines()[0].startswith("demo: 200 replications (seed 0)")
    assert "median" in text and "/tmp/run_42" in text
    assert "external_discovery" in text and "records" in text
    cens = results.summarize([make(i, YEAR, detected=False) for i in range(3)], YEAR)
    text = results.format_summary(cens, scenario="x", run_dir="/r")
    assert "not reached" in text and "/r" in text


def test_import_has_no_side_effects() -> None:
    code = ("import sys, sim.outputs.results, sim.outputs.stats; "
            "print(any(m.startswith('matplotlib') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"


def test_extra_columns_round_trip(tmp_path):
    with ResultWriter(tmp_path, extra_columns=("fine_krw", "cost_usd")) as w:
        w.write(make(0), extra=(1.5e9, math.nan))
        w.write(make(1), extra=(0.0, 2.0))
        with pytest.raises(ValueError, match="expected 2 extra values"):
            w.write(make(2))
    rows, extra = read_table(tmp_path / "replications.csv")
    assert [r.replication for r in rows] == [0, 1]
    assert extra["fine_krw"].tolist() == [1.5e9, 0.0]
    assert math.isnan(extra["cost_usd"][0]) and extra["cost_usd"][1] == 2.0
    assert read_replications(tmp_path / "replications.csv") == rows
    with pytest.raises(ValueError, match="new and distinct"):
        ResultWriter(tmp_path / "x", extra_columns=("dwell_hours",))
