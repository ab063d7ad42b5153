"""Sweeps end to end: launchers, job k of N, atomic records, skip-if-complete and resume."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.cli import sweep
from sim.cli.app import CONF_DIR, absolute_sweep_dir

ROOT = Path(__file__).resolve().parents[2]

#: A 2 x 2 sweep of tiny jobs (the default scenario, 4 replications each).
GRID = ["seed=0,1", "detectors.audit.interval=1w,1mo", "replications=4", "output.plot=false"]


def run_sim(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def run_json(job_dir: Path) -> dict:
    return json.loads((job_dir / "run.json").read_text())


def csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- unit


def test_config_hash_ignores_key_order_and_run_only_options():
    a = {"seed": 1, "insider": {"x": 1, "y": 2.5}, "workers": 1, "output": {"plot": True}}
    b = {"insider": {"y": 2.5, "x": 1}, "output": {"plot": True, "progress": False},
         "workers": 4, "resume": False, "seed": 1}
    assert sweep.config_hash(a) == sweep.config_hash(b)
    assert len(sweep.config_hash(a)) == 16
    assert sweep.config_hash({**a, "seed": 2}) != sweep.config_hash(a)
    assert sweep.config_hash({**a, "output": {"plot": False}}) != sweep.config_hash(a)
    assert sweep.config_hash({**a, "horizon": float("inf")}) != sweep.config_hash(a)


USER_DETECTOR = """
from dataclasses import dataclass
from sim.controls.detectors import Detector, Watch
from sim.core.params import spec

@dataclass(frozen=True)
class TipParams:
    mean_time: float = spec(720.0, duration=True, lo=0, lo_open=True)

class Whistleblower(Detector):
    Params = TipParams

    def start(self, run):
        rng = run.rng(f"detector:{self.name}")
        run.env.timeout(rng.exponential(SCALE * self.params.mean_time)).callbacks.append(
            lambda _e: run.confirm(self.name))
        return Watch()
"""


def test_config_hash_follows_the_source_of_every_targets_module(tmp_path, monkeypatch):
    """Editing your own detector (outside sim/) makes a finished job run again on resume."""
    from sim.cli.app import run_job
    from tests.conftest import BASE, merge

    monkeypatch.syspath_prepend(str(tmp_path))
    mod = tmp_path / "my_tips_14.py"
    mod.write_text("SCALE = 1.0\n" + USER_DETECTOR)
    cfg = merge(BASE, {"replications": 3, "output": {"plot": False}, "detectors": {
        "tip": {"_target_": "my_tips_14.Whistleblower", "mean_time": "10d"}}})
    digests = sweep.code_digests(cfg)
    assert set(digests) == {"my_tips_14", "tests.conftest"}   # the network's target too
    before = sweep.config_hash(cfg)
    run_dir = tmp_path / "run"
    run_job(cfg, run_dir, echo=False)
    assert sweep.completed_summary(run_dir, before) is not None
    mod.write_text("SCALE = 2.0\n" + USER_DETECTOR)           # a changed detector
    after = sweep.config_hash(cfg)
    assert after != before
    assert sweep.completed_summary(run_dir, after) is None      # not "complete" any more
    assert sweep.config_hash({"x": {"_target_": "no_such_module_14.X"}}) == \
        sweep.config_hash({"x": {"_target_": "no_such_module_14.X"}})


def test_config_hash_follows_the_content_of_a_network_file(tmp_path):
    net = tmp_path / "net.graphml"
    net.write_text("<graph a/>")
    cfg = {"network": {"path": str(net)}}
    before = sweep.config_hash(cfg)
    net.write_text("<graph b/>")
    assert sweep.config_hash(cfg) != before


def test_expand_sweep_matches_hydra_including_ranges_and_globs():
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path

    jobs = sweep.expand_sweep(["seed=range(0,3)", "replications=5", "horizon=1y,2y"])
    assert len(jobs) == 6
    assert jobs[0] == ["seed=0", "replications=5", "horizon=1y"]
    assert jobs[1] == ["seed=0", "replications=5", "horizon=2y"]  # the last key varies fastest
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONF_DIR)))
    globbed = sweep.expand_sweep(["scenario=glob(coupang_*)", "seed=1,2"], loader)
    assert [j[0] for j in globbed[::2]] == ["scenario=coupang_2025",
                                            "scenario=coupang_2025_monitored"]
    with pytest.raises(sweep.SweepError):
        sweep.expand_sweep(["seed=interval(0,1)"])  # the basic sweeper rejects intervals


def test_job_state_tells_complete_from_everything_that_only_looks_like_it(tmp_path):
    def make(name: str, meta: dict | None, files: tuple[str, ...]) -> Path:
        d = tmp_path / name
        d.mkdir()
        if meta is not None:
            (d / "run.json").write_text(json.dumps(meta))
        for f in files:
            (d / f).write_text("{\"replications\": 1}" if f.endswith(".json") else "x\n")
        return d

    done = make("done", {"status": "complete"}, ("replications.csv", "summary.json"))
    no_csv = make("no_csv", {"status": "complete"}, ("replications.csv.partial",
                                                     "summary.json"))
    killed = make("killed", {"status": "running"}, ("replications.csv.partial",))
    failed = make("failed", {"status": "failed", "error": "ConfigError: x"}, ())
    partial_only = make("partial_only", None, ("replications.csv.partial",))
    assert sweep.job_state(done).status == "complete"
    assert sweep.job_state(no_csv).status == "incomplete"
    assert sweep.job_state(killed).status == "running"
    assert sweep.job_state(failed).status == "failed"
    assert sweep.job_state(failed).error == "ConfigError: x"
    assert sweep.job_state(partial_only).status == "running"
    assert sweep.job_state(tmp_path / "nowhere").status == "missing"


def test_without_a_manifest_only_jobs_finished_before_the_sweep_count_as_done_before(tmp_path):
    """An Optuna sweep writes no manifest: the tally must not call the jobs it just ran
    'done before, skipped'."""
    for num, finished in ((0, 100.0), (1, 300.0), (2, 400.0)):
        d = tmp_path / str(num)
        d.mkdir()
        (d / "run.json").write_text(json.dumps({"status": "complete", "finished": finished}))
        (d / "replications.csv").write_text("x\n")
        (d / "summary.json").write_text('{"replications": 1}')
    assert sweep.sweep_outcome(tmp_path, started=200.0).reused == 1
    assert "3 complete (1 done before, skipped)" in sweep.sweep_outcome(tmp_path,
                                                                        started=200.0).line()
    assert sweep.sweep_outcome(tmp_path).reused == 3  # no start known: the old reading


def test_skip_rule_needs_same_hash_same_version_and_the_files(tmp_path):
    from sim import __version__
    (tmp_path / "replications.csv").write_text("x\n")
    (tmp_path / "summary.json").write_text('{"replications": 3}')
    meta = {"status": "complete", "config_hash": "abc", "version": __version__}
    (tmp_path / "run.json").write_text(json.dumps(meta))
    assert sweep.completed_summary(tmp_path, "abc") == {"replications": 3}
    assert sweep.completed_summary(tmp_path, "abd") is None
    assert sweep.completed_summary(tmp_path, "abc", version="0.0.0-other") is None
    (tmp_path / "replications.csv").unlink()
    assert sweep.completed_summary(tmp_path, "abc") is None


def test_relative_sweep_dir_is_made_absolute():
    args = absolute_sweep_dir(["seed=1", "hydra.sweep.dir=multirun/x",
                               "hydra.run.dir=rel", "hydra.sweep.dir=${oc.env:X}"])
    assert args[1] == f"hydra.sweep.dir={Path('multirun/x').resolve()}"
    assert args[2:] == ["hydra.run.dir=rel", "hydra.sweep.dir=${oc.env:X}"]


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def serial_sweep(tmp_path_factory) -> Path:
    """GRID through Hydra's basic launcher (one job after the other)."""
    out = tmp_path_factory.mktemp("serial") / "sweep"
    proc = run_sim("-m", *GRID, f"hydra.sweep.dir={out}")
    assert proc.returncode == 0, proc.stderr
    return out


def test_joblib_sweep_runs_every_job_in_worker_processes(serial_sweep, tmp_path):
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "-m", "hydra/launcher=local",
                             "hydra.launcher.n_jobs=2", *GRID, f"hydra.sweep.dir={out}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["total"] == 4 and manifest["launcher"].endswith("JoblibLauncher")
    for k in range(1, 5):
        assert f"job {k}/4 (#{k - 1}):" in stdout
    assert f"sweep {out}: 4 jobs, 4 complete" in stdout
    pids = set()
    for num in range(4):
        meta = run_json(out / str(num))
        assert meta["status"] == "complete"
        assert meta["job"]["num"] == num and meta["job"]["total"] == 4
        assert meta["job"]["overrides"] == manifest["jobs"][num]["overrides"]
        pids.add(meta["pid"])
        # the same config gives the same hash and byte-identical rows whatever the launcher
        assert meta["config_hash"] == run_json(serial_sweep / str(num))["config_hash"]
        assert ((out / str(num) / "replications.csv").read_bytes()
                == (serial_sweep / str(num) / "replications.csv").read_bytes())
    assert proc.pid not in pids  # the jobs ran in joblib's worker processes


def test_submitit_local_sweep(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    out = tmp_path / "sweep"
    proc = run_sim("-m", "hydra/launcher=local_submitit", "seed=3,4", "replications=3",
                   "output.plot=false", f"hydra.sweep.dir={out}")
    assert proc.returncode == 0, proc.stderr
    assert (out / ".submitit").is_dir()  # submitit's own logs and pickles
    for num, seed in ((0, 3), (1, 4)):
        meta = run_json(out / str(num))
        assert meta["status"] == "complete" and meta["seed"] == seed
        assert meta["job"] == {"num": num, "total": 2, "overrides": meta["job"]["overrides"],
                               "sweep_dir": str(out)}
        assert len(csv_rows(out / str(num) / "replications.csv")) == 3


def test_local_submitit_runs_at_most_array_parallelism_jobs_at_once(tmp_path):
    """submitit's local executor would start every job at once; the preset's launcher keeps
    at most hydra.launcher.array_parallelism running (1 here: the jobs never overlap)."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra_plugins.insider_sim_launcher._capped import cap

    out = tmp_path / "sweep"
    proc = run_sim("-m", "hydra/launcher=local_submitit", "hydra.launcher.array_parallelism=1",
                   "seed=0,1,2", "replications=300", "horizon=60d", "scenario=coupang_2025",
                   "output.plot=false", f"hydra.sweep.dir={out}")
    assert proc.returncode == 0, proc.stderr
    assert "at most 1 at once" in proc.stdout
    spans = sorted((m["finished"] - m["runtime_s"], m["finished"])
                   for m in (run_json(out / str(n)) for n in range(3)))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # one by one
    assert cap(None) == (os.cpu_count() or 1) and cap(3) == 3
    with pytest.raises(ValueError, match="array_parallelism"):
        cap(0)


def test_resume_runs_only_missing_killed_and_failed_jobs(serial_sweep, tmp_path):
    import shutil

    out = tmp_path / "sweep"
    shutil.copytree(serial_sweep, out)
    before = {n: (out / str(n) / "replications.csv").read_bytes() for n in range(4)}
    shutil.rmtree(out / "0")                                       # never ran
    (out / "1" / "replications.csv").rename(out / "1" / "replications.csv.partial")
    meta1 = run_json(out / "1")                                    # killed mid-run
    (out / "1" / "run.json").write_text(json.dumps({**meta1, "status": "running"}))
    (out / "1" / "summary.json").unlink()
    meta2 = run_json(out / "2")                                    # failed
    (out / "2" / "run.json").write_text(json.dumps({**meta2, "status": "failed",
                                                    "error": "RuntimeError: boom"}))
    untouched = (out / "3" / "run.json").read_bytes()

    proc = run_sim("-m", *GRID, f"hydra.sweep.dir={out}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("already complete in this dir") == 1
    assert "4 complete (1 done before, skipped)" in proc.stdout
    assert (out / "3" / "run.json").read_bytes() == untouched     # job 3 was not re-run
    for n in range(4):
        assert run_json(out / str(n))["status"] == "complete"
        assert (out / str(n) / "replications.csv").read_bytes() == before[n]
        assert not (out / str(n) / "replications.csv.partial").exists()


def test_a_changed_config_in_the_same_dir_runs_again_and_replaces_old_outputs(tmp_path):
    first = run_sim("replications=3", "output.plot=false", f"hydra.run.dir={tmp_path}")
    assert first.returncode == 0, first.stderr
    same = run_sim("replications=3", "output.plot=false", "workers=2",
                   f"hydra.run.dir={tmp_path}")
    assert same.returncode == 0 and "already complete" in same.stdout  # workers: same rows
    other = run_sim("replications=5", "output.plot=false", f"hydra.run.dir={tmp_path}")
    assert other.returncode == 0, other.stderr
    assert "already complete" not in other.stdout
    assert len(csv_rows(tmp_path / "replications.csv")) == 5
    forced = run_sim("replications=5", "output.plot=false", "resume=false",
                     f"hydra.run.dir={tmp_path}")
    assert forced.returncode == 0 and "already complete" not in forced.stdout


def test_bad_input_in_a_sweep_is_a_failed_record_and_the_sweep_goes_on(tmp_path):
    out = tmp_path / "sweep"
    proc = run_sim("-m", "replications=0,2", "output.plot=false", f"hydra.sweep.dir={out}")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("error: job 1/2 (#0) [replications=0") and \
        "replications: must be in [1, 1e+06], got 0" in lines[0]
    assert lines[1].startswith("error: 1 of 2 jobs did not complete: #0 (failed)")
    assert len(lines) == 2
    meta = run_json(out / "0")
    assert meta["status"] == "failed" and meta["bad_input"] is True
    assert not (out / "0" / "replications.csv").exists()
    assert run_json(out / "1")["status"] == "complete"


def test_missing_launcher_plugin_is_one_line(tmp_path):
    if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None:
        pytest.skip("the Ray launcher is installed")
    proc = run_sim("-m", "hydra/launcher=ray_cluster", "seed=1,2",
                   f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: hydra/launcher=ray_cluster: the ray launcher plugin "
                                   "is not installed; pip install -e '.[ray]' "
                                   "(hydra-ray-launcher)")


def test_killed_sweep_leaves_nothing_that_looks_complete_and_resumes(tmp_path):
    """SIGKILL (no chance to clean up) in the middle of job #1, then the same command again."""
    out = tmp_path / "sweep"
    args = [sys.executable, "-m", "sim", "-m", "scenario=coupang_2025", "horizon=60d",
            "replications=3,400,3", "output.plot=false", f"hydra.sweep.dir={out}"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    partial = out / "1" / "replications.csv.partial"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if partial.exists() and len(partial.read_text().splitlines()) > 20:
                break
            assert proc.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("job #1 never got going")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert run_json(out / "0")["status"] == "complete"
    assert sweep.job_state(out / "1").status == "running"          # killed: not complete
    assert not (out / "1" / "replications.csv").exists()
    assert not (out / "1" / "summary.json").exists()
    assert not (out / "2").exists()
    outcome = sweep.sweep_outcome(out)
    assert outcome.counts["complete"] == 1 and outcome.counts["running"] == 1
    assert outcome.counts["missing"] == 1 and outcome.exit_code == 1

    job0 = (out / "0" / "run.json").read_bytes()
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "3 complete (1 done before, skipped)" in again.stdout
    assert (out / "0" / "run.json").read_bytes() == job0             # not redone
    assert [run_json(out / str(n))["status"] for n in range(3)] == ["complete"] * 3
    assert len(csv_rows(out / "1" / "replications.csv")) == 400
    assert not partial.exists()
    # job #1 resumed after its finished rows, and its file is the uninterrupted run's
    assert "resuming after replication" in again.stdout
    assert run_json(out / "1")["resumed_from"] >= 20
    whole = tmp_path / "whole"
    one = run_sim("scenario=coupang_2025", "horizon=60d", "replications=400",
                  "output.plot=false", f"hydra.run.dir={whole}")
    assert one.returncode == 0, one.stderr
    assert (out / "1" / "replications.csv").read_bytes() == \
        (whole / "replications.csv").read_bytes()


RAY = importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None


def _sigint_default() -> None:
    """In the child before exec: Ctrl-C (SIGINT) at its default even when this test process
    was started with it ignored (a background job), so `ray start --block` stops on the
    SIGINT the fixture sends instead of waiting out its 60 s."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def ray_cluster():
    """A Ray cluster running on this machine (``ray start --head``), as a user may have one.

    Started with ``--block`` in its own process group, so that stopping it here ends exactly
    the processes it started (``ray stop`` would end every Ray process on the machine).
    """
    ray_bin = Path(sys.executable).with_name("ray")
    current = Path("/tmp/ray/ray_current_cluster")
    if current.exists() and subprocess.run([str(ray_bin), "status"], capture_output=True,
                                           timeout=60).returncode == 0:
        yield "already running"
        return
    proc = subprocess.Popen([str(ray_bin), "start", "--head", "--block", "--num-cpus=1",
                             "--disable-usage-stats", "--include-dashboard=false"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=_sigint_default)
    try:
        deadline = time.monotonic() + 120
        while not current.exists():
            assert proc.poll() is None, "ray start --head failed"
            assert time.monotonic() < deadline, "the Ray cluster did not come up"
            time.sleep(0.2)
        yield "started"
    finally:
        address = current.read_text() if current.exists() else None
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        if address is not None and current.exists() and current.read_text() == address:
            current.unlink()  # ours, and stopped: ray.init must not look for it any more


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # one Ray runtime at a time under pytest -n
@pytest.mark.skipif(not RAY, reason="the Ray launcher is not installed (pip install -e '.[ray]'"
                                    "; .ci/run installs it)")
def test_ray_local_sweep_beside_a_running_cluster(ray_cluster, tmp_path):
    """ray_local starts its own runtime (address: local) even when a cluster is running here;
    with address null, ray.init attached to it and refused object_store_memory."""
    out = tmp_path / "sweep"
    proc = run_sim("-m", "hydra/launcher=ray_local", "seed=5,6", "replications=3",
                   "output.plot=false", f"hydra.sweep.dir={out}", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "object_store_memory must not be provided" not in proc.stderr
    for num in range(2):
        meta = run_json(out / str(num))
        assert meta["status"] == "complete" and meta["job"]["total"] == 2
    # the old preset (address null) fails exactly as reported in #14
    old = run_sim("-m", "hydra/launcher=ray_local", "hydra.launcher.ray.init.address=null",
                  "seed=5", "replications=3", "output.plot=false",
                  f"hydra.sweep.dir={tmp_path / 'old'}", timeout=600)
    assert old.returncode != 0 and "object_store_memory must not be provided" in old.stderr


@pytest.mark.xdist_group("ray")  # one Ray runtime at a time under pytest -n
@pytest.mark.skipif(not RAY, reason="the Ray launcher is not installed (pip install -e '.[ray]'"
                                    "; .ci/run installs it)")
def test_ray_local_sweep(tmp_path):
    out = tmp_path / "sweep"
    proc = run_sim("-m", "hydra/launcher=ray_local", "seed=5,6", "replications=3",
                   "output.plot=false", f"hydra.sweep.dir={out}", timeout=600)
    assert proc.returncode == 0, proc.stderr
    for num in range(2):
        meta = run_json(out / str(num))
        assert meta["status"] == "complete" and meta["job"]["total"] == 2
        assert len(csv_rows(out / str(num) / "replications.csv")) == 3


SHARDED = ["replications=12", "shards=4", "shard=0,1,2,3", "output.plot=false",
           "scenario=coupang_2025", "horizon=90d"]


def _assert_pools_to_the_single_job(sweep_dir: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    single = run_sim(*(a for a in SHARDED if not a.startswith("shard")),
                     f"hydra.run.dir={whole}")
    assert single.returncode == 0, single.stderr
    pooled = subprocess.run([sys.executable, "-m", "sim.report", "--pool", str(sweep_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert pooled.returncode == 0, pooled.stderr
    for name in ("replications.csv", "summary.json"):
        assert ((sweep_dir / "pooled" / name).read_bytes()
                == (whole / name).read_bytes()), name
    assert run_json(sweep_dir / "pooled")["config_hash"] == run_json(whole)["config_hash"]


@pytest.mark.slow
def test_four_shards_through_local_submitit_pool_to_the_single_job(tmp_path):
    """The README's million-replication recipe in small: 4 shards as submitit jobs, pooled
    byte-identically to one job of all the replications."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    out = tmp_path / "sweep"
    proc = run_sim("-m", "hydra/launcher=local_submitit", *SHARDED, f"hydra.sweep.dir={out}")
    assert proc.returncode == 0, proc.stderr
    assert sorted(run_json(out / str(i))["shard"]["first"] for i in range(4)) == [0, 3, 6, 9]
    _assert_pools_to_the_single_job(out, tmp_path)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # one Ray runtime at a time under pytest -n
@pytest.mark.skipif(not RAY, reason="the Ray launcher is not installed (pip install -e '.[ray]'"
                                    "; .ci/run installs it)")
def test_four_shards_through_ray_local_pool_to_the_single_job(tmp_path):
    out = tmp_path / "sweep"
    proc = run_sim("-m", "hydra/launcher=ray_local", *SHARDED, f"hydra.sweep.dir={out}",
                   timeout=600)
    assert proc.returncode == 0, proc.stderr
    _assert_pools_to_the_single_job(out, tmp_path)


def test_unknown_launcher_is_one_line(capsys):
    from sim.cli.app import check_launcher

    with pytest.raises(SystemExit) as exc:
        check_launcher(["seed=1,2", "hydra/launcher=slrum"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: hydra/launcher=slrum: unknown launcher; choose one of local,")
    assert len(err.splitlines()) == 1
    check_launcher(["hydra/launcher=local", "hydra/launcher=joblib"])  # installed: no error


def test_missing_sweeper_plugin_is_one_line_saying_what_to_install(capsys, monkeypatch):
    import importlib.util

    from sim.cli.app import check_sweeper

    check_sweeper(["hydra/sweeper=basic", "seed=1,2"])  # not a plugin: nothing to check
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None
                        if name == "hydra_plugins.hydra_optuna_sweeper" else real(name, *a))
    for name in ("optuna_sqlite", "optuna"):
        with pytest.raises(SystemExit) as exc:
            check_sweeper([f"hydra/sweeper={name}", "optimise=dwell"])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err == (f"error: hydra/sweeper={name}: the optuna sweeper plugin is not "
                       "installed; pip install -e '.[optimise]' (hydra-optuna-sweeper)\n")


def test_sweep_overrides_put_sweeper_params_first_and_know_only_the_basic_sweeper():
    from omegaconf import OmegaConf

    hydra_cfg = OmegaConf.create({
        "sweeper": {"_target_": sweep.BASIC_SWEEPER, "params": {"seed": "1,2"}},
        "overrides": {"task": ["triage.analysts=1,5"]}})
    overrides = sweep.sweep_overrides(hydra_cfg)
    assert overrides == ["seed=1,2", "triage.analysts=1,5"]
    assert len(sweep.expand_sweep(overrides)) == 4
    hydra_cfg.sweeper._target_ = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert sweep.sweep_overrides(hydra_cfg) is None  # jobs not known in advance: no total


# ----------------------------------------------------------------------------- resume, locks


def _crash_after(k: int):
    """An iter_replications that dies (like a kill) after yielding ``k`` results."""
    from sim.core import runner
    real = runner.iter_replications

    def dying(cfg, model, workers=1, chunk=None, start=0, stop=None):
        for i, result in enumerate(real(cfg, model, workers, chunk, start, stop)):
            if i == k:
                raise RuntimeError("killed")
            yield result
    return dying


@pytest.mark.parametrize("regime, workers", [(None, 1), ("custom", 1), (None, 2)])
def test_a_crashed_run_resumes_from_its_partial_rows_byte_identical(tmp_path, monkeypatch,
                                                                     regime, workers):
    """Crash mid-run (rows in .partial, a torn last line), re-run: the finished rows are kept,
    the run continues from the next replication, and replications.csv is byte-identical to an
    uninterrupted run's - with the policy layer's extra columns too."""
    from sim.cli.app import run_job
    from sim.core import runner
    from sim.policy.model import Regime
    from tests.conftest import BASE, merge

    over = {"replications": 30, "output": {"plot": False}, "detectors": {
        "audit": {"_target_": "sim.controls.detectors.PeriodicAudit", "interval": "1w"}}}
    if regime:
        over["regime"] = {"name": "custom", "deadlines": {"d": {"within": "72h"}},
                          "fine": {"applies": True, "cap_share": 0.02}}
        Regime.from_mapping(over["regime"])
    cfg = merge(BASE, over)
    cfg["workers"] = workers                                    # the resumed part on workers too
    whole = tmp_path / "whole"
    run_job(dict(cfg), whole, echo=False)

    crashed = tmp_path / "crashed"
    with monkeypatch.context() as m:
        m.setattr(runner, "iter_replications", _crash_after(12))
        with pytest.raises(RuntimeError, match="killed"):
            run_job(dict(cfg), crashed, echo=False)
    partial = crashed / "replications.csv.partial"
    assert run_json(crashed)["status"] == "failed"
    assert len(partial.read_text().splitlines()) == 13
    with partial.open("a") as f:
        f.write("12,999,tr")                       # a torn last line, cut off by the kill
    run_job(dict(cfg), crashed, echo=False)
    meta = run_json(crashed)
    assert meta["status"] == "complete" and meta["resumed_from"] == 12
    assert (crashed / "replications.csv").read_bytes() == \
        (whole / "replications.csv").read_bytes()
    assert (crashed / "summary.json").read_bytes() == (whole / "summary.json").read_bytes()


def test_partial_rows_of_another_config_are_not_kept(tmp_path, monkeypatch):
    from sim.cli.app import run_job
    from sim.core import runner
    from tests.conftest import BASE, merge

    cfg = merge(BASE, {"replications": 10, "output": {"plot": False}})
    with monkeypatch.context() as m:
        m.setattr(runner, "iter_replications", _crash_after(5))
        with pytest.raises(RuntimeError):
            run_job(dict(cfg), tmp_path, echo=False)
    run_job({**cfg, "seed": 2}, tmp_path, echo=False)            # another config: from 0
    assert "resumed_from" not in run_json(tmp_path)
    fresh = tmp_path / "fresh"
    run_job({**cfg, "seed": 2}, fresh, echo=False)
    assert (tmp_path / "replications.csv").read_bytes() == \
        (fresh / "replications.csv").read_bytes()


def test_stale_lock_rule(monkeypatch):
    import socket

    here = socket.gethostname()
    now = time.time()
    me = {"host": here, "pid": os.getpid(), "process_start": sweep._process_start(os.getpid())}
    assert sweep.lock_status(me, now - 3600, now) == "live"       # same host, pid alive
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert sweep.lock_status({**me, "pid": dead.pid}, now, now) == "stale"   # pid gone
    if me["process_start"] is not None:                          # pid reused by another process
        assert sweep.lock_status({**me, "process_start": me["process_start"] - 100}, now,
                                 now) == "stale"
    other = {"host": "elsewhere.example", "pid": 1}
    assert sweep.lock_status(other, now - 60, now) == "live"      # a fresh heartbeat
    assert sweep.lock_status(other, now - sweep.STALE_AFTER_S - 1, now) == "stale"
    assert sweep.lock_status(None, now - 5, now) == "live"        # being written
    assert sweep.lock_status(None, now - 3600, now) == "stale"


def test_a_live_owner_keeps_a_second_launcher_out_of_the_job_dir(tmp_path):
    """A job dir owned by a live process (here: a sleeping child on this host) is reported as
    running elsewhere and nothing is written into it; once the owner is gone its lock is stale
    and the job runs."""
    from sim.cli.app import run_job
    from tests.conftest import BASE, merge

    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        info = {"host": __import__("socket").gethostname(), "pid": owner.pid,
                "process_start": sweep._process_start(owner.pid), "started_at": "then"}
        (tmp_path / sweep.LOCK_FILE).write_text(json.dumps(info))
        (tmp_path / "replications.csv.partial").write_text("being written\n")
        before = sorted(p.name for p in tmp_path.iterdir())
        cfg = merge(BASE, {"replications": 3, "output": {"plot": False}})
        with pytest.raises(sweep.JobRunningElsewhere, match="running elsewhere"):
            run_job(dict(cfg), tmp_path, echo=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == before   # nothing written
        assert (tmp_path / "replications.csv.partial").read_text() == "being written\n"
        assert sweep.job_state(tmp_path).status == "running_elsewhere"
        assert f"pid {owner.pid}" in sweep.job_state(tmp_path).error
    finally:
        owner.kill()
        owner.wait()
    assert sweep.job_state(tmp_path).status == "running"             # owner dead: killed
    run_job(dict(cfg), tmp_path, echo=False)                          # stale: taken over
    assert run_json(tmp_path)["status"] == "complete"
    assert not (tmp_path / sweep.LOCK_FILE).exists()                 # released


def test_the_tally_counts_a_job_running_elsewhere_apart_from_failures(tmp_path):
    out = tmp_path / "sweep"
    sweep.write_manifest(out, [["seed=0"], ["seed=1"]], sweep=["seed=0,1"], launcher="x")
    (out / "0").mkdir()
    (out / "0" / "run.json").write_text(json.dumps({"status": "running"}))
    with sweep.JobLock(out / "0"):
        # the lock is this process's: make it look like another live process's on this host
        info = json.loads((out / "0" / sweep.LOCK_FILE).read_text())
        parent = os.getppid()
        info.update(pid=parent, process_start=sweep._process_start(parent))
        (out / "0" / sweep.LOCK_FILE).write_text(json.dumps(info))
        outcome = sweep.sweep_outcome(out)
        assert outcome.counts["running_elsewhere"] == 1 and outcome.counts["missing"] == 1
        assert "1 running elsewhere" in outcome.line()
        assert [st.status for st in outcome.failed] == ["missing"]
        assert outcome.exit_code == 1


@pytest.mark.slow
def test_killed_submitit_launcher_orphans_run_elsewhere_then_resume(tmp_path):
    """Kill a submitit sweep's launcher: its job lives on. The same command again reports the
    job as running elsewhere and writes nothing into it. Then the job is killed too; the same
    command resumes it from its finished rows, and the result is the uninterrupted run's."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    out = tmp_path / "sweep"
    job = ["scenario=coupang_2025", "horizon=60d", "replications=8000", "output.plot=false"]
    args = [sys.executable, "-m", "sim", "-m", "hydra/launcher=local_submitit", *job,
            f"hydra.sweep.dir={out}"]
    launcher = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    partial, lock = out / "0" / "replications.csv.partial", out / "0" / sweep.LOCK_FILE
    try:
        deadline = time.monotonic() + 120
        while not (lock.exists() and partial.exists()
                   and len(partial.read_bytes().splitlines()) > 100):
            assert time.monotonic() < deadline, "the job never got going"
            assert launcher.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.05)
        os.kill(launcher.pid, signal.SIGKILL)                     # the launcher only
        launcher.wait()
        orphan = json.loads(lock.read_text())["pid"]
        os.kill(orphan, 0)                                        # the job lives on
        second = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert sweep.job_state(out / "0").status == "running_elsewhere", \
            "the orphan finished before the second launcher looked: make the job longer"
        assert json.loads(lock.read_text())["pid"] == orphan
        assert second.returncode == 1, second.stderr
        assert f"sweep {out}: 1 jobs, 1 running elsewhere" in second.stdout
        assert "running elsewhere, not here: #0 (host" in second.stderr
        assert "did not complete" not in second.stderr and "failed" not in second.stdout
        assert run_json(out / "0")["pid"] == orphan                # its record, not ours
    finally:
        lock_info = sweep.read_json(lock) or {}
        for pid in {lock_info.get("pid")} - {None}:               # the orphan job
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(launcher.pid, signal.SIGKILL)               # submitit's controller
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while sweep.job_state(out / "0").status == "running_elsewhere":
        assert time.monotonic() < deadline, "the killed job still owns its dir"
        time.sleep(0.1)
    assert sweep.job_state(out / "0").status == "running"         # killed, lock stale
    third = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    assert f"sweep {out}: 1 jobs, 1 complete" in third.stdout
    assert run_json(out / "0")["resumed_from"] > 100
    whole = tmp_path / "whole"
    one = run_sim(*job, f"hydra.run.dir={whole}")
    assert one.returncode == 0, one.stderr
    assert (out / "0" / "replications.csv").read_bytes() == \
        (whole / "replications.csv").read_bytes()
