"""The mandate comparison report: its table, its reading, and a self-contained report.html."""

from __future__ import annotations

import base64
import copy
import csv
import math
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sim.core.engine import build_model
from sim.outputs import results
from sim.outputs.results import ReplicationResult
from sim.policy import report as policy_report
from sim.policy.model import Firm, PolicyLayer, Regime
from tests.conftest import BASE

ROOT = Path(__file__).resolve().parents[2]


def fake(dwell: float, records: int, detected: bool = True, r: int = 0) -> ReplicationResult:
    return ReplicationResult(r, 1, detected, not detected, "audit" if detected else "", dwell,
                             records, 0, 0, 0, "containment" if detected else "horizon", dwell,
                             1, math.nan)


def summary_of(regime: dict, rows: list[ReplicationResult], firm: dict | None = None) -> dict:
    """A job's summary.json with the policy entry, as run_job and the experiment make it."""
    model = build_model(copy.deepcopy(BASE))
    layer = PolicyLayer(Regime.from_mapping(regime), Firm.from_mapping(firm or {
        "name": "acme", "notify_delay_median": "30h", "notify_delay_sigma": 0.0,
        "known_outcome": {"regime": "strict", "fine": 2e6, "label": "real fine",
                          "dwell": "100d", "people": 5000}}))
    values = [layer.price(r, model) for r in rows]
    extra = {c: [v[i] for v in values] for i, c in enumerate(layer.columns)}
    summary = results.summarize(rows, model.run.horizon)
    summary["scenario"], summary["seed"] = "test", 1
    summary["policy"] = layer.summarize(extra, rows, model)
    return summary


STRICT = {"name": "strict", "title": "Strict rule", "deadlines": {
    "auth_24h": {"label": "authority within 24 h", "within": "24h"},
    "auth_72h": {"label": "authority within 72 h", "within": "72h"}},
    "fine": {"applies": True, "cap_share": 0.04}}
ROWS = [fake(10.0, 100, r=0), fake(20.0, 200, r=1), fake(30.0, 300, r=2),
        fake(8766.0, 400, detected=False, r=3)]


def test_row_from_summary_carries_the_dwell_deadlines_and_costs():
    s = summary_of(STRICT, ROWS)
    row = policy_report.row_from_summary(s, arm="a", kind="regime")
    assert row["label"] == "Strict rule" and row["regime"] == "strict"
    assert row["replications"] == 4 and row["detected_fraction"] == 0.75
    # Kaplan-Meier: S = 3/4 after 10 h, 1/2 after 20 h: the median is 20 h
    assert row["dwell_median_hours"] == s["km_median_dwell_hours"] == 20.0
    # filed 30 h after awareness: 24 h missed everywhere, 72 h met by the 3 detected; the 4th
    # breach is undiscovered (no deadline applies to it)
    assert row["p_deadline_auth_24h"] == 0.0 and row["p_deadline_auth_72h"] == 1.0
    assert row["undiscovered_fraction"] == 0.25
    assert row["p_all_deadlines_met"] == 0.0
    assert row["deadline_labels"] == ("auth_24h=authority within 24 h; "
                                      "auth_72h=authority within 72 h")
    assert row["fine_mean_usd"] == pytest.approx(s["policy"]["fine_usd"]["mean"])
    assert row["fine_cap_usd"] == pytest.approx(0.04 * 5e8)  # the generic revenue
    assert row["notified_fraction"] == 0.75
    assert row["known_fine_local"] == 2e6 and row["known_dwell_hours"] == 2400.0
    # a candidate mandate under the same regime is not the real case
    assert policy_report.row_from_summary(s, arm="b", kind="mandate")["known_fine_local"] \
        is None
    with pytest.raises(ValueError, match="no 'policy'"):
        policy_report.row_from_summary({"replications": 1}, arm="x")


def test_table_round_trips_with_the_deadline_columns_of_every_arm(tmp_path):
    a = policy_report.row_from_summary(summary_of(STRICT, ROWS), arm="a")
    b = policy_report.row_from_summary(summary_of({"name": "none"}, ROWS), arm="b")
    assert b["kind"] == "baseline" and b["fine_applies"] == 0
    path = policy_report.write_table([b, a], tmp_path / "t.csv")
    header = next(csv.reader(path.open()))
    assert header[-6:] == ["p_deadline_auth_24h", "p_deadline_auth_24h_lo",
                           "p_deadline_auth_24h_hi", "p_deadline_auth_72h",
                           "p_deadline_auth_72h_lo", "p_deadline_auth_72h_hi"]
    back = policy_report.read_table(path)
    assert [r["arm"] for r in back] == ["b", "a"]
    assert back[0]["p_deadline_auth_72h"] is None and back[1]["p_deadline_auth_72h"] == 1.0
    assert back[1]["fine_mean_usd"] == pytest.approx(a["fine_mean_usd"])
    assert back[1]["changes"] == "" and back[1]["deadline_labels"] == a["deadline_labels"]


def arm(**over) -> dict:
    base = {"arm": "x", "label": "X", "kind": "regime", "regime": "r", "regime_title": "R",
            "horizon_hours": 8766.0, "replications": 100, "seed": 0, "scenario": "s",
            "firm": "f", "currency": "KRW", "per_usd": 1000.0, "detected_fraction": 1.0,
            "dwell_median_hours": 100.0, "records_median": 1e5, "control_cost_usd": 1e6,
            "breach_cost_mean_usd": 90e6, "notification_cost_mean_usd": 0.0,
            "social_cost_mean_usd": 91e6, "fine_applies": 1, "fine_mean_usd": 5e8,
            "fine_cap_usd": 1e9}
    return {**base, **over}


def test_reading_states_the_reference_the_real_case_and_the_break_even():
    rows = [arm(arm="base", label="Baseline", kind="baseline", dwell_median_hours=None,
                detected_fraction=0.25, fine_applies=0, fine_mean_usd=None),
            arm(arm="real", label="Today's rule", known_fine_local=4e11,
                known_label="the regulator fined KRW 400bn", known_dwell_hours=3528.0),
            arm(arm="mon", label="Monitoring", kind="mandate", control_cost_usd=3e6,
                breach_cost_mean_usd=10e6, social_cost_mean_usd=13e6, fine_mean_usd=1e8)]
    text = policy_report.reading(rows)
    assert text[0].startswith("Baseline: the insider stays undetected for a median beyond "
                              "1.0 y")
    assert "75% of breaches are still undetected" in text[0]
    # model KRW 500bn against KRW 400bn real: 1.2x; the real fine drew 40% of the cap, the
    # rule 50%
    assert "expected fine of KRW 500bn (USD 500M)" in text[1]
    assert "1.2 times reality (the real fine drew 40% of the modelled cap, the rule 50%)" \
        in text[1]
    assert "The real dwell was about 4.8 mo" in text[1]
    # USD 2M more a year in controls for USD 80M less harm per breach: break-even at an
    # insider once every 40 years
    assert text[2].startswith("Monitoring has the lowest social cost")
    assert "USD 2M more than Baseline, and USD 80M less harm per breach" in text[2]
    assert "at least once every 40 years" in text[2]
    assert any(t.startswith("Baseline leaves 75% of breaches undetected") for t in text)
    assert text[-1].startswith("Expected fines run from USD 100M (Monitoring) to USD 500M "
                               "(Today's rule)")


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "data")]


def test_render_writes_a_self_contained_html_and_its_markdown_twin(tmp_path):
    rows = [policy_report.row_from_summary(summary_of({"name": "none"}, ROWS), arm="none"),
            policy_report.row_from_summary(summary_of(STRICT, ROWS), arm="strict")]
    written = policy_report.render(rows, tmp_path, title="Test comparison")
    assert set(written) == {"csv", "html", "md", *policy_report.FIGURES}
    text = (tmp_path / "report.html").read_text()
    parser = _Refs()
    parser.feed(text)
    assert parser.tags.count("img") == len(policy_report.FIGURES)
    assert parser.refs and all(r.startswith("data:image/png;base64,") for r in parser.refs)
    assert not re.search(r"(https?:)?//", re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "",
                                                 text))
    assert "<script" not in text and "@import" not in text
    for ref in parser.refs:
        assert base64.b64decode(ref.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert text.count("<tr class=") == 3  # two arms and the real case beside the strict one
    assert text.count('<tr class="real">') == 1 and "reality: real fine" in text
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# Test comparison")
    for name in policy_report.FIGURES.values():
        assert f"]({name})" in md and (tmp_path / name).stat().st_size > 20_000
    # and again from the CSV alone, which is then left as it is
    before = (tmp_path / "mandates.csv").read_bytes()
    again = policy_report.render(tmp_path / "mandates.csv", tmp_path / "again")
    assert "csv" not in again and (tmp_path / "again" / "report.html").exists()
    assert (tmp_path / "mandates.csv").read_bytes() == before


def test_render_rejects_an_empty_table(tmp_path):
    with pytest.raises(ValueError, match="no arms"):
        policy_report.render([], tmp_path)


@pytest.mark.slow
def test_mandates_experiment_quick_run_writes_its_report(tmp_path):
    from tests.conftest import committed_results

    before = committed_results("mandates")
    proc = subprocess.run([sys.executable, str(ROOT / "experiments/mandates/run.py"), "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert committed_results("mandates") == before
    rows = policy_report.read_table(tmp_path / "mandates.csv")
    assert len(rows) == 12 and rows[0]["regime"] == "none"
    real = [r for r in rows if r["known_fine_local"] is not None]
    assert [r["arm"] for r in real] == ["kr_pipa_2023"]
    assert real[0]["known_fine_local"] == 4.235e11 and real[0]["currency"] == "KRW"
    pci = next(r for r in rows if r["arm"] == "pci_dss_4")
    assert "detectors.audit.interval: 1mo -> 1d" in pci["changes"]
    assert (tmp_path / "report.html").stat().st_size > 100_000
    assert (tmp_path / "report.md").exists()
