"""Hostile input: what a shared scenario file or a careless command line may try.

Every case must end in a one-line ``error: KEY: ...`` and exit code 2 (or a documented,
bounded acceptance), and must never run code the config names but the engine does not allow.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.core.errors import ConfigError, NetworkFileError
from sim.core.params import allowed_target, makes
from sim.world.network import Network, load
from tests.conftest import make_model

ROOT = Path(__file__).resolve().parent.parent


def _marker_command(marker: Path) -> str:
    return f"touch {marker}"


@pytest.mark.parametrize("target", ["os.system", "subprocess.call", "builtins.eval",
                                    "sim.world.network.load", "sim.core.engine.simulate"])
def test_a_detector_target_that_is_no_detector_is_never_called(tmp_path, target):
    marker = tmp_path / "ran"
    with pytest.raises(ConfigError, match=r"detectors\.x\._target_: .* is not a Detector subclass"):
        make_model(detectors={"x": {"_target_": target, "command": _marker_command(marker)}})
    assert not marker.exists()


@pytest.mark.parametrize("target", ["os.system", "sim.world.network.load",
                                    "sim.controls.detectors.PeriodicAudit"])
def test_a_network_target_must_be_a_marked_factory_or_a_network_class(tmp_path, target):
    # sim.world.network.load returns a Network but is not marked: only @makes(Network) functions
    # (generate, coupang_like, from_file) and Network subclasses may be named.
    marker = tmp_path / "ran"
    with pytest.raises(ConfigError, match=r"network\._target_: .* is not a Network subclass"):
        make_model(network={"_target_": target, "command": _marker_command(marker)})
    assert not marker.exists()


def test_allowed_target_accepts_subclasses_and_marked_factories_only():
    @makes(Network)
    def mine() -> Network:
        raise AssertionError("never called by allowed_target")

    def unmarked() -> Network:
        raise AssertionError("never called")

    assert allowed_target(Network, Network)
    assert allowed_target(mine, Network)
    assert not allowed_target(unmarked, Network)
    assert not allowed_target(print, Network)
    assert not allowed_target(mine, int)


def test_cli_refuses_os_system_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    proc = subprocess.run(
        [sys.executable, "-m", "sim", f"hydra.run.dir={tmp_path / 'run'}",
         f'+detectors.x={{_target_: os.system, command: "touch {marker}"}}'],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: detectors.x._target_: os.system is "
                                                   "not a Detector subclass"), proc.stderr
    assert not marker.exists()


# ------------------------------------------------------------------------------------------
# Values that cannot be simulated in bounded time or memory, or would be silently wrong (#14)
# ------------------------------------------------------------------------------------------

_MONITOR = {"_target_": "sim.controls.detectors.ContinuousMonitoring", "threshold": 3.0}


@pytest.mark.parametrize(("over", "key", "what"), [
    # would raise billions of benign alarms, or hold a list per analyst
    ({"background": {"employees": 10**12}}, "background.employees", r"in \[-1, 1e\+10\]"),
    ({"background": {"employees": 10**9}, "detectors": {"m": _MONITOR}},
     "background.employees", r"benign false alarms per replication .*the limit is 1e\+08"),
    ({"network": {"_target_": "sim.world.network.generate", "employees": 10**12}},
     "network.employees", r"in \[0, 1e\+10\]"),
    ({"network": {"_target_": "sim.world.network.generate", "employees": 10**9},
      "background": {"employees": -1}, "detectors": {"m": _MONITOR}},
     "network.employees", r"benign false alarms"),
    ({"insider": {"sessions_per_day": 1e9}}, "insider.sessions_per_day",
     r"about 7.3\d*e\+11 events .* the limit is 1e\+08 per replication"),
    ({"detectors": {"audit": {"_target_": "sim.controls.detectors.PeriodicAudit",
                              "interval": 1e-300}}},
     "detectors.audit.interval", r"events .*change detectors.audit.interval or shorten"),
    ({"detectors": {"audit": {"_target_": "sim.controls.detectors.PeriodicAudit",
                              "interval": "1e-320"}}},  # denormal: horizon / interval = inf
     "detectors.audit.interval", r"inf events"),
    ({"triage": {"analysts": 10**9}}, "triage.analysts", r"in \[0, 100000\]"),
    ({"network": {"_target_": "sim.world.network.generate", "hosts": 10**9}}, "network.hosts",
     r"in \[1, 200000\]"),
    ({"network": {"_target_": "sim.world.network.generate", "datastores": 10**9}},
     "network.datastores", r"in \[1, 200000\]"),
    ({"network": {"_target_": "sim.world.network.generate", "hosts": 150_000,
                  "datastores": 60_000}}, "network.datastores", r"hosts \+ datastores"),
    ({"network": {"_target_": "sim.world.network.generate", "records_per_store": 10**29}},
     "network.records_per_store", r"in \[0, 1e\+15\]"),
    ({"network": {"_target_": "sim.world.network.coupang_like", "customers": 10**20}},
     "network.customers", r"in \[1, 1e\+15\]"),
    ({"network": {"_target_": "sim.world.network.coupang_like", "hosts": 10**9}}, "network.hosts",
     r"in \[1, 200000\]"),
    ({"replications": 10**8}, "replications", r"in \[1, 1e\+06\]"),
    # accepted silently before
    ({"insider": {"weekend_factor": 1e300}}, "insider.weekend_factor", r"in \[0, 100\]"),
    ({"background": {"weekend_factor": 1e300}}, "background.weekend_factor", r"in \[0, 100\]"),
    ({"horizon": 1e300}, "horizon", r"at most 1000y"),
    ({"horizon": "1001y"}, "horizon", r"at most 1000y"),
    ({"start": "2025-06-24T00:00:00"}, "start",
     r"needs a UTC offset, e\.g\. 2025-06-24T00:00:00\+09:00 .* or 2025-06-24T00:00:00Z"),
    ({"start": "2025-06-24"}, "start", r"needs a UTC offset"),
    # found while trying: a hang (the insider goes on until containment, past the horizon),
    # gamma shapes of 1/cv**2 that underflow, weights whose sum overflows
    ({"response": {"containment_delay": 1e300}}, "response.containment_delay",
     r"must be <= 8.766e\+06"),
    ({"response": {"containment_delay": "900y"}, "insider": {"sessions_per_day": 20_000}},
     "insider.sessions_per_day", r"events"),
    ({"response": {"containment_cv": 1e300}}, "response.containment_cv", r"in \[0, 100\]"),
    ({"insider": {"batch_cv": 1e300}}, "insider.batch_cv", r"in \[0, 100\]"),
    ({"triage": {"triage_time_cv": 1e300}}, "triage.triage_time_cv", r"in \[0, 100\]"),
    ({"insider": {"profile": [1e308] * 24}}, "insider.profile", r"overflow or underflow"),
    ({"background": {"profile": [1e-320] + [0] * 23}}, "background.profile",
     r"overflow or underflow"),
    ({"triage": {"warmup": 1e300}, "detectors": {"m": _MONITOR}}, "triage.warmup",
     r"benign false alarms"),
])
def test_what_cannot_be_simulated_is_refused_naming_key_and_limit(over, key, what):
    with pytest.raises(ConfigError) as info:
        make_model(**over)
    message = str(info.value)
    assert message.startswith(f"{key}: ") and "\n" not in message, message
    assert re.search(what, message), message


def test_limits_leave_room_for_every_shipped_scenario():
    from sim.core.limits import MAX_EVENTS_PER_REPLICATION, expected_events

    m = make_model(detectors={"m": _MONITOR, "a": {
        "_target_": "sim.controls.detectors.PeriodicAudit", "interval": "1d"}})
    assert 0 < sum(expected_events(m).values()) < MAX_EVENTS_PER_REPLICATION / 1000
    make_model(start="2025-06-24T00:00:00Z", horizon="1000y")  # the bounds themselves pass


@pytest.mark.parametrize(("workers", "ok"), [(1, True), ("auto", True), (0, True),
                                             (10_000, False), (-1, False), (True, False),
                                             ("many", False)])
def test_workers_are_bounded_by_a_multiple_of_the_cores(workers, ok):
    from sim.core.limits import max_workers
    from sim.core.runner import resolve_workers

    if ok:
        assert 1 <= resolve_workers(workers) <= max_workers()
        return
    with pytest.raises(ConfigError, match=r"^workers: must be"):
        resolve_workers(workers)


def test_parallel_replications_stream_instead_of_building_every_task():
    # A million replications on 2 workers: the first rows arrive at once, and stopping early
    # cancels what is queued (pool.map submitted every task first and waited for them all).
    from sim.core.engine import build_model
    from sim.core.runner import iter_replications
    from tests.conftest import BASE, merge

    cfg = merge(BASE, {"replications": 10**6, "horizon": "1d"})
    model = build_model(cfg)
    t0 = time.perf_counter()
    rows = iter_replications(cfg, model, workers=2, chunk=5)
    first = list(itertools.islice(rows, 12))
    rows.close()
    assert [r.replication for r in first] == list(range(12))
    assert time.perf_counter() - t0 < 60


@pytest.mark.parametrize(("output", "key", "what"), [
    ({"plot": "maybe"}, "output.plot", "must be one of true, false; got 'maybe'"),
    ({"progress": "bogus"}, "output.progress", "must be one of true, false, auto; got 'bogus'"),
    ({"progress": 1}, "output.progress", "must be one of true, false, auto"),
    ({"foo": 1}, "output.foo", "unknown key; allowed keys are plot, progress"),
    ({"plots": True}, "output.plots", "did you mean output.plot?"),
    ("yes", "output", "must be a mapping"),
])
def test_output_options_are_checked(output, key, what):
    from sim.cli.app import check_output_options

    with pytest.raises(ConfigError) as info:
        check_output_options(output)
    assert str(info.value).startswith(f"{key}: ") and what in str(info.value)


def test_output_options_accept_what_is_documented():
    from sim.cli.app import check_output_options

    assert check_output_options(None) == {}
    assert check_output_options({"plot": False, "progress": "auto"}) == \
        {"plot": False, "progress": "auto"}


# ------------------------------------------------------------------------------------------
# Graph files
# ------------------------------------------------------------------------------------------


def _json_graph(tmp_path: Path, *, employees=100, records=10_000) -> Path:
    import networkx as nx

    from tests.conftest import tiny_graph

    g = tiny_graph()
    data = nx.node_link_data(g, edges="edges")
    data["graph"]["employees"] = employees
    for node in data["nodes"]:
        if node.get("kind") == "datastore":
            node["records"] = records
        if node.get("lifetime_hours") == float("inf"):
            node["lifetime_hours"] = "inf"
    path = tmp_path / "net.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("kw", "what"), [
    ({"records": 10**29}, r"node 'store': datastore 'records' must be an integer in \[0, 1e\+15\]"),
    ({"records": 1e300}, r"'records' must be an integer in \[0, 1e\+15\] .*, got 1e\+300"),
    ({"records": 2.0**60}, r"'records' must be an integer"),  # a float is no exact count here
    ({"employees": 10**20}, r"'employees' must be an integer in \[0, 1e\+10\]"),
])
def test_graph_file_counts_beyond_reason_are_refused(tmp_path, kw, what):
    path = _json_graph(tmp_path, **kw)
    with pytest.raises(NetworkFileError, match=what) as info:
        load(str(path))
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_graph_file_with_exact_float_counts_still_loads(tmp_path):
    assert load(str(_json_graph(tmp_path, records=5000.0))).total_records(["store"]) == 5000


def test_graph_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    from sim.core.limits import MAX_GRAPH_FILE_BYTES

    path = tmp_path / "huge.graphml"
    with open(path, "wb") as f:
        f.truncate(MAX_GRAPH_FILE_BYTES + 1)  # sparse: no disk, and never read
    with pytest.raises(NetworkFileError, match=r"is 100 MB; the limit is 100 MB"):
        load(str(path))


def test_deeply_nested_json_graph_is_one_line_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"nodes": ' + "[" * 200_000 + "]" * 200_000 + ', "edges": []}')
    with pytest.raises(NetworkFileError, match="nested too deeply"):
        load(str(path))


def test_unreadable_graph_file_is_hashed_without_error_and_refused_by_the_loader(
        tmp_path, monkeypatch):
    import builtins

    from sim.cli import sweep
    path = _json_graph(tmp_path)
    real_open = builtins.open

    def no_read(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_read)
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: no_read(self) and "")
    cfg = {"network": {"_target_": "sim.world.network.from_file", "path": str(path)}}
    chash = sweep.config_hash(cfg)  # no PermissionError from the hash
    assert len(chash) == 16
    with pytest.raises(NetworkFileError, match="cannot read: Permission denied"):
        load(str(path))


def test_config_hash_streams_the_graph_file(tmp_path):
    import hashlib

    from sim.cli import sweep
    path = tmp_path / "big.graphml"
    block = b"x" * (1 << 20)
    with open(path, "wb") as f:
        for _ in range(5):
            f.write(block)
    assert sweep._file_digest(path) == hashlib.sha256(block * 5).hexdigest()


# ------------------------------------------------------------------------------------------
# A failing run leaves nothing that looks complete; tiny dwells plot
# ------------------------------------------------------------------------------------------


def test_a_run_that_fails_after_its_rows_leaves_nothing_complete_looking(tmp_path, monkeypatch):
    from sim.cli import app
    from sim.outputs import results
    from tests.conftest import BASE, merge

    def boom(*args, **kwargs):
        raise ValueError("bins must increase monotonically")

    monkeypatch.setattr(results, "plot_dwell", boom)
    cfg = merge(BASE, {"replications": 3})
    with pytest.raises(ValueError, match="bins"):
        app.run_job(cfg, tmp_path, echo=False)
    assert not (tmp_path / "replications.csv").exists()
    assert not (tmp_path / "summary.json").exists()
    assert len(results.read_replications(tmp_path / "replications.csv.partial")) == 3
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["status"] == "failed" and "bins" in meta["error"]


@pytest.mark.parametrize(("dwells", "horizon"), [
    ([0.004, 0.007], 8766.0),          # all under a minute (a 1 s audit)
    ([0.005, 0.005, 0.005], 8766.0),   # all equal and tiny
    ([5.0, 5.0], 8766.0),              # all equal
    ([0.0, 0.0], 8766.0),              # caught at the first access
    ([None, None], 0.01),              # censored at a 36 s horizon
    ([0.002, None], 0.004),
])
def test_plot_dwell_draws_tiny_and_equal_dwells(tmp_path, dwells, horizon):
    from sim.outputs.results import ReplicationResult, plot_dwell

    rows = [ReplicationResult(replication=i, seed=0, detected=d is not None,
                              censored=d is None, detected_by="audit" if d is not None else "",
                              dwell_hours=d if d is not None else horizon,
                              records_exfiltrated=1, true_alerts=0, false_alerts=0,
                              alerts_dropped=0, access_ended_by="", access_hours=1.0,
                              sessions=1, mean_triage_wait_hours=math.nan)
            for i, d in enumerate(dwells)]
    plot_dwell(rows, horizon, tmp_path / "dwell.png")
    assert (tmp_path / "dwell.png").stat().st_size > 10_000


def test_summary_notes_say_empty_not_null():
    from sim.outputs.results import ReplicationResult, format_summary, summarize

    rows = [ReplicationResult(replication=i, seed=0, detected=i < 4, censored=i >= 4,
                              detected_by="audit" if i < 4 else "",
                              dwell_hours=float(i + 1) if i < 4 else 10.0,
                              records_exfiltrated=1, true_alerts=0, false_alerts=0,
                              alerts_dropped=0, access_ended_by="", access_hours=1.0,
                              sessions=1, mean_triage_wait_hours=math.nan) for i in range(10)]
    text = format_summary(summarize(rows, 10.0), scenario="x", run_dir="d")
    assert "null" not in text and "not reached" in text


# ------------------------------------------------------------------------------------------
# The command line: what only the CLI sees (a handful of subprocesses)
# ------------------------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    multirun = "-m" in args
    own_dir = any(a.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) for a in args)
    where = [] if own_dir else [f"hydra.{'sweep' if multirun else 'run'}.dir={tmp_path / 'o'}"]
    return subprocess.run([sys.executable, "-m", "sim", *where, "replications=2",
                           "output.plot=false", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("args", "start"), [
    (["horizon=${nope}"], "error: horizon: "),
    (["foo=1"], "error: foo: unknown key; "),
    (["scenario=coupang_2025", "detectors.audit.intervall=1w"],
     "error: detectors.audit.intervall: unknown key; did you mean detectors.audit.interval?"),
    (["triage.analyst=2"], "error: triage.analyst: unknown key; did you mean triage.analysts?"),
    (["-m", "foo=1,2"], "error: foo: unknown key"),
    (["+detector@detectors.x=nope"],
     "error: +detector@detectors.x=nope: unknown detector; choose one of continuous_monitoring"),
    (["horizon=[1"], "error: horizon=[1: cannot parse this override"),
    (["detectors.x=1,2"], "error: detectors.x=1,2: a list of values is a sweep; run it with -m"),
    (["trace=false", "-m", "foo=1,2"], "error: foo: unknown key"),  # -m after an override
    (["hydra.run.dir=/proc/foo"], "error: hydra.run.dir: cannot write /proc/foo"),
    (["hydra.run.dir=/etc/hostname/run"], "error: hydra.run.dir: cannot write"),
    (["-m", "seed=1,2", "hydra.sweep.dir=/proc/foo"],
     "error: hydra.sweep.dir: cannot write /proc/foo"),
    # the insider's strategy (sim.agents): unknown, a negative pause, a date past the horizon
    (["insider/strategy=nope"],
     "error: insider/strategy=nope: unknown insider/strategy; choose one of cautious, "),
    (["insider.strategy._target_=os.system"],
     "error: insider.strategy._target_: os.system is not a Strategy subclass"),
    (["insider/strategy=cautious", "insider.strategy.quiet=-5"],
     "error: insider.strategy.quiet: must be a non-negative duration, got -5"),
    (["insider/strategy=smash_and_grab", "insider.strategy.pause=-1h"],
     "error: insider.strategy.pause: "),
    (["insider/strategy=departing_employee", "insider.strategy.departure=2y"],
     "error: insider.strategy.departure: must be within the horizon (0 to 8766 h), got 17532 h"),
    # a crew (sim.agents.crew): no members, an unknown credentials mode, reveal not a chance,
    # crew-only keys on a lone insider
    (["insider/crew=own_keys", "insider.crew.size=0"],
     "error: insider.crew.size: must be in [1, 100], got 0"),
    (["insider/crew=own_keys", "insider.crew.credentials=borrowed"],
     "error: insider.crew.credentials: must be one of own, shared; got 'borrowed'"),
    (["insider/crew=shared_key", "insider.crew.reveal=1.5"],
     "error: insider.crew.reveal: must be in [0, 1], got 1.5"),
    (["insider/crew=shared_key", "insider.crew.size=1"],
     "error: insider.crew.credentials: applies only to a crew (size >= 2)"),
])
def test_cli_hostile_arguments_are_one_line_and_exit_2(tmp_path, args, start):
    proc = _cli(tmp_path, *args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith(start), proc.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only dirs")
def test_cli_read_only_output_dir_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        for args in (["hydra.run.dir=" + str(ro)], ["-m", "seed=1,2", f"hydra.sweep.dir={ro}"]):
            proc = _cli(tmp_path, *args)
            lines = proc.stderr.strip().splitlines()
            assert proc.returncode == 2 and len(lines) == 1, proc.stderr
            assert lines[0].startswith("error: hydra."), proc.stderr
    finally:
        ro.chmod(0o755)


@pytest.mark.slow
def test_cli_tiny_dwells_complete_with_a_figure(tmp_path):
    # a one-second audit catches the insider within seconds: plot_dwell used to raise
    # "bins must increase" and leave a complete-looking replications.csv beside a failed run
    proc = _cli(tmp_path, "scenario=coupang_2025", "detectors.audit.interval=1s",
                "output.plot=true")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "o"
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert (out / "dwell.png").stat().st_size > 10_000
