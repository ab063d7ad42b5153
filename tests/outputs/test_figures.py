"""The figures of one replication: the time axis, what the timeline and network show, files."""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import numpy as np
import pytest

from sim.core.engine import build_model, simulate
from sim.core.timeunits import DAY, MONTH, YEAR
from sim.outputs import figures
from sim.outputs.figures import (
    network_view,
    plot_network,
    plot_timeline,
    time_axis,
    timeline_data,
    write_trace_figures,
)
from sim.outputs.trace import read_jsonl, write_jsonl
from sim.world.network import coupang_like, generate
from tests.conftest import make_model
from tests.outputs.test_trace import BUSY, REVOKE
from tests.test_configs import compose_plain

PNG = b"\x89PNG\r\n\x1a\n"


def traced(model, seed=3, replication=0):
    events: list = []
    return simulate(model, seed, replication, trace=events), events


@pytest.fixture(scope="module")
def busy():
    model = make_model(**copy.deepcopy(BUSY))
    return (model, *traced(model))


@pytest.fixture(scope="module")
def coupang():
    """Replication 0 of coupang_2025: ~5 months, hundreds of sessions, monthly audits."""
    model = build_model(compose_plain(["scenario=coupang_2025"]))
    return (model, *traced(model, seed=0))


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# ------------------------------------------------------------------------------------ time axis

def test_short_runs_get_a_linear_axis_in_minutes_or_hours():
    axis = time_axis(0.5)
    assert axis.kind == "linear" and axis.lo < 0 < 0.5 < axis.hi
    assert [s for _, s in axis.ticks][:3] == ["0", "5 min", "10 min"]
    axis = time_axis(40.0)
    assert axis.kind == "linear"
    assert [s for _, s in axis.ticks] == ["0", "6 h", "12 h", "18 h", "24 h", "30 h", "36 h"]
    assert time_axis(2 * DAY).kind == "linear" and time_axis(2 * DAY + 1).kind == "daylog"


def test_long_runs_get_a_day_log_axis_with_round_uncrowded_ticks():
    axis = time_axis(YEAR)
    labels = [s for _, s in axis.ticks]
    assert labels[0] == "0" and {"1 d", "1 w", "1 mo", "6 mo", "1 y"} <= set(labels)
    pos = axis.to_axis([v for v, _ in axis.ticks])
    span = float(axis.to_axis(axis.hi) - axis.to_axis(axis.lo))
    assert np.all(np.diff(pos) >= 0.075 * span - 1e-9)  # no two labels crowd each other
    # linear over the first day, a decade per unit after it, continuous at 1 day
    assert float(axis.to_axis(12.0)) == pytest.approx(0.25)
    assert float(axis.to_axis(DAY)) == pytest.approx(0.5)
    assert float(axis.to_axis(10 * DAY)) == pytest.approx(1.5)
    hours = np.array([0.0, 3.0, DAY, 5 * DAY, MONTH, YEAR])
    assert figures._inv(figures._fwd(hours)) == pytest.approx(hours)


# ------------------------------------------------------------------------------------- timeline

def test_timeline_data_matches_the_result(busy):
    model, result, events = busy
    tl = timeline_data(events, result)
    assert result.detected and tl.detection == (result.dwell_hours, result.detected_by)
    assert tl.records_taken == result.records_exfiltrated
    assert len(tl.sessions) == result.sessions
    t, v = tl.records
    assert np.all(np.diff(t) >= 0) and np.all(np.diff(v) >= 0)  # records only ever grow
    assert len(tl.true_alerts) == result.true_alerts
    assert len(tl.benign_alerts) == result.false_alerts
    assert tl.containment is not None and tl.containment > result.dwell_hours
    if result.detected_by == "monitoring":
        assert any(a["verdict"] == "confirmed" for a in tl.true_alerts)
    audits = [e for e in events if e["action"] == "audit"]
    assert len(tl.audits) == len(audits) and tl.audits[0]["window"][0] == 0.0
    assert tl.queue[1].min() >= 0 and tl.max_queue >= 1


@pytest.mark.parametrize("mode", ["fast", "exact"])
@pytest.mark.parametrize("warmup", ["0h", "1w"])
def test_the_rebuilt_queue_matches_the_engine_when_nothing_ages_out(mode, warmup):
    over = copy.deepcopy(BUSY)
    over["triage"]["max_alert_age"] = "inf"
    over["triage"]["warmup"] = warmup
    over["background"]["mode"] = mode
    # the monitor at the gateway alone (one observation per session) sees a third of the tiny
    # network's staff traffic: 300 employees make the same ~127 alerts a day as 100 at all three
    over["background"]["employees"] = 300
    over["detectors"]["monitoring"]["watch"] = {"ids": ["gateway"]}
    over["horizon"] = "20d"
    model = make_model(**over)
    result, events = traced(model)
    tl = timeline_data(events, result)
    qt, qv = tl.queue
    backlog = [e for e in events if e["action"] == "queue-backlog"]
    if warmup == "0h":
        assert backlog == [] and qv[0] == 0
    else:  # one analyst, ~127 alerts a day of 30 min: the week before leaves a backlog
        assert len(backlog) == 1 and backlog[0]["t"] == 0 and backlog[0]["queue_length"] > 20
        assert qv[1] == backlog[0]["queue_length"] and backlog[0]["analysts_busy"] == 1
        left = [e for e in events if e.get("warmup")]
        assert len(left) <= backlog[0]["queue_length"]
        assert all(e["action"] == "triage-start" and e["t"] >= 0 for e in left)
    alerts = [e for e in sorted(events, key=lambda e: e["t"]) if e["action"] == "alert"]
    assert len(alerts) > 20
    # the value right after each alert (+1 at alerts, -1 at triage starts) is the queue length
    # the engine reports with the alert
    i = 0
    for step_t, step_v in zip(qt[1:], qv[1:], strict=True):
        if i < len(alerts) and step_t == alerts[i]["t"] and step_v >= 1:
            assert step_v == alerts[i]["queue_length"]
            i += 1
    assert i == len(alerts)


def test_timeline_reads_the_same_from_a_jsonl_file(busy, tmp_path):
    model, result, events = busy
    path = tmp_path / "events.jsonl"
    write_jsonl(events, model.calendar, path)
    a, b = timeline_data(events, result), timeline_data(read_jsonl(path), result)
    for x, y in ((a.records, b.records), (a.queue, b.queue)):
        assert np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1])
    assert a.audits == b.audits and a.detection == b.detection
    assert [x["verdict"] for x in a.true_alerts] == [x["verdict"] for x in b.true_alerts]


def test_revocation_without_detection_ends_access_and_observation(tmp_path):
    model = make_model(**copy.deepcopy(REVOKE), horizon="30d")
    result, events = traced(model)
    tl = timeline_data(events, result)
    assert not result.detected and tl.detection is None
    assert tl.access_ended is not None and tl.access_ended[1] == "hygiene"
    assert tl.end == 30 * DAY and [r["rotated"] for r in tl.reviews] == [True]
    path = plot_timeline(events, result, model.calendar, tmp_path / "t.png", "revoked")
    assert png_size(path) == (1350, 1110)


def test_plot_timeline_writes_a_png_for_short_and_long_runs(busy, coupang, tmp_path):
    for name, (model, result, events) in {"busy": busy, "coupang": coupang}.items():
        path = plot_timeline(events, result, model.calendar, tmp_path / f"{name}.png",
                             title=name, utc_offset_hours=9)
        assert png_size(path) == (1350, 1110)  # 9 x 7.4 in at 150 dpi
        assert path.stat().st_size > 40_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy.png", "coupang.png"]  # no temp


def test_coupang_timeline_shows_months_of_sessions_and_monthly_audits(coupang):
    model, result, events = coupang
    tl = timeline_data(events, result)
    assert time_axis(tl.end).kind == "daylog"
    assert len(tl.sessions) > 100 and tl.records_taken == result.records_exfiltrated
    gaps = np.diff([a["t"] for a in tl.audits])
    assert gaps == pytest.approx(MONTH)  # the monthly audit, one dot a month
    # once the datastore is empty nothing is left to find: audits after it see nobody
    if tl.access_ended and tl.access_ended[1] == "exhausted":
        after = [a for a in tl.audits if a["window"][0] > tl.access_ended[0]]
        assert after and not any(a["present"] for a in after)


# -------------------------------------------------------------------------------------- network

def test_network_view_aggregates_coupang_and_finds_the_insiders_path(coupang):
    model, result, events = coupang
    view = network_view(model.network, events)
    assert len(view.groups) <= 20  # 310 assets
    members = [m for g in view.groups.values() for m in g.members]
    assert sorted(members) == sorted(model.network.assets())  # each asset in one box
    # the walk: the route and the key service that validates the forged tokens at the entry
    assert view.path == ["api_gateway", "auth_service", "address_api", "customer_db"]
    assert view.reached == {"customer_db": result.records_exfiltrated}
    assert view.credential == "auth_signing_key" and view.holder == "former_developer"
    assert {"order_db", "auth_service"} <= view.granted and "payment_vault" not in view.granted
    # internet-facing zones first (the dmz, and corp with the staff VPN), the data zone last
    assert view.columns[0] == ["corp", "dmz"] and view.columns[-1] == ["data"]
    hosts = [g for g in view.groups.values() if g.kind == "host"]
    # 300 generic hosts and the two named ones (vpn_gateway, bastion), grouped by zone and role
    assert sum(len(g.members) for g in hosts) == 302 and all(not g.single for g in hosts)


def test_network_view_stays_small_for_a_big_network_and_works_without_events():
    net = generate(hosts=3000, datastores=12, seed=1)
    view = network_view(net)
    assert len(net.assets()) > 3000 and len(view.groups) <= 25
    assert view.path == [] and view.reached == {}
    assert view.credential == "retained_signing_key"  # the former employee's key
    stores = [g for g in view.groups.values() if g.kind == "datastore"]
    assert len(stores) == 1 and len(stores[0].members) == 12  # more than 8: one box


def test_plot_network_writes_a_png(coupang, tmp_path):
    model, _, events = coupang
    path = plot_network(model.network, tmp_path / "network.png", events, title="coupang")
    width, height = png_size(path)
    assert 1100 <= width <= 2000 and 700 <= height <= 1600
    plot_network(coupang_like(hosts=40), tmp_path / "small.png")
    assert png_size(tmp_path / "small.png")[0] >= 1100


def test_write_trace_figures_writes_both_next_to_the_log(busy, tmp_path):
    model, result, events = busy
    paths = write_trace_figures(model, result, events, tmp_path)
    assert [p.name for p in paths] == ["timeline.png", "network.png"]
    assert all(p.stat().st_size > 30_000 for p in paths)


def test_importing_figures_loads_no_plotting_library():
    code = ("import sys, sim.outputs.figures; "
            "print(any(m.startswith('matplotlib') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_nan_safe_when_nothing_happens(tmp_path):
    """A replication with no events at all (no sessions before the horizon) still draws."""
    tl = timeline_data([], None)
    assert tl.end == 0 and tl.records_taken == 0 and math.isfinite(tl.max_queue)
    path = plot_timeline([], None, None, tmp_path / "empty.png")
    assert png_size(path) == (1350, 1110)


def test_risk_based_timeline_counts_cases_not_alerts():
    """Under risk_based the analysts' queue holds cases: alerts that only add risk do not
    lengthen it, and a true alert that opened no case is shown as having added risk."""
    from sim.outputs.figures import timeline_data

    ev = [
        {"t": 1.0, "action": "alert", "detector": "m", "true_positive": False},
        {"t": 2.0, "action": "alert", "detector": "m", "true_positive": True},
        {"t": 3.0, "action": "case-open", "detector": "m", "true_positive": True, "risk": 16.0},
        {"t": 3.0, "action": "alert", "detector": "m", "true_positive": True},
        {"t": 4.0, "action": "triage-start", "detector": "m", "true_positive": True,
         "wait_hours": 1.0, "case": True},
        {"t": 5.0, "action": "triage-end", "detector": "m", "true_positive": True,
         "outcome": "confirmed"},
    ]
    tl = timeline_data(ev)
    assert tl.cases and tl.max_queue == 1
    assert [a["verdict"] for a in tl.true_alerts] == ["added risk", "confirmed"]
    assert tl.true_alerts[1]["start"] == 4.0
    fifo = timeline_data([e for e in ev if e["action"] != "case-open"])
    assert not fifo.cases and fifo.max_queue == 3
