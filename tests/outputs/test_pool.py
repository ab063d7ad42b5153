"""Sharded jobs and their pool: the shards' files joined are the unsharded job's, byte for byte,
and anything that would not give that is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli.app import run_job
from sim.core.errors import ConfigError
from sim.core.runner import shard_range
from sim.outputs.pool import PoolError, pool_sweep
from sim.outputs.report import main as report_main
from tests.conftest import BASE, merge

REGIME = {"name": "custom", "deadlines": {"d": {"within": "72h"}},
          "fine": {"applies": True, "cap_share": 0.02}}


def config(replications: int = 10, **over) -> dict:
    return merge(BASE, {"replications": replications, "output": {"plot": False}, "detectors": {
        "audit": {"_target_": "sim.controls.detectors.PeriodicAudit", "interval": "1w"}},
        **over})


def run_shards(sweep: Path, cfg: dict, shards: int, which=None, first_num: int = 0) -> None:
    for i in (range(shards) if which is None else which):
        run_job({**cfg, "shard": i, "shards": shards}, sweep / str(first_num + i), echo=False)


def test_shard_range_tiles_the_replications_in_order():
    for n in (1, 7, 10, 1000):
        for k in range(1, min(n, 12) + 1):
            parts = [shard_range(n, i, k) for i in range(k)]
            assert [r for part in parts for r in part] == list(range(n))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1
    with pytest.raises(ConfigError, match="^shards: must be an integer from 1 to replications"):
        shard_range(10, 0, 11)
    with pytest.raises(ConfigError, match=r"^shard: must be an integer from 0 to shards - 1 \(3\)"):
        shard_range(10, 4, 4)
    with pytest.raises(ConfigError, match="^shards:"):
        shard_range(10, 0, True)


@pytest.mark.parametrize("regime", [None, REGIME])
def test_pooled_shards_are_byte_identical_to_the_unsharded_job(tmp_path, regime):
    over = {"regime": regime} if regime else {}
    cfg = config(10, **over)
    whole = tmp_path / "whole"
    run_job(dict(cfg), whole, echo=False)
    sweep = tmp_path / "sweep"
    run_shards(sweep, cfg, 3)                     # uneven: 3 + 3 + 4 replications
    meta = json.loads((sweep / "1" / "run.json").read_text())
    assert meta["shard"] == {"index": 1, "of": 3, "first": 3, "stop": 6, "replications": 10}
    summary = json.loads((sweep / "1" / "summary.json").read_text())
    assert summary["replications"] == 3 and summary["shard"]["first"] == 3  # says it is a part
    [(out, _summary, shards)] = pool_sweep(sweep)
    assert out == sweep / "pooled" and [s.num for s in shards] == [0, 1, 2]
    for name in ("replications.csv", "summary.json"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    pooled, single = (json.loads((d / "run.json").read_text()) for d in (out, whole))
    assert pooled["status"] == "complete" and len(pooled["pooled_from"]) == 3
    assert pooled["config_hash"] == single["config_hash"]  # the pool is the unsharded job
    # a second pool of the same sweep ignores the pooled dir and writes the same files
    pool_sweep(sweep)
    assert (out / "summary.json").read_bytes() == (whole / "summary.json").read_bytes()


def test_several_sharded_jobs_in_one_sweep_pool_separately(tmp_path):
    sweep = tmp_path / "sweep"
    run_shards(sweep, config(6), 2)
    run_shards(sweep, config(6, seed=9), 2, first_num=2)
    pooled = pool_sweep(sweep, tmp_path / "out")
    assert [p[0].name for p in pooled] == ["0", "1"]
    assert [p[1]["seed"] for p in pooled] == [1, 9]


def test_a_killed_shard_resumes_from_its_rows_and_pools_identically(tmp_path, monkeypatch):
    from sim.core import runner
    from tests.cli.test_sweep import _crash_after

    cfg = config(12)
    whole = tmp_path / "whole"
    run_job(dict(cfg), whole, echo=False)
    sweep = tmp_path / "sweep"
    run_shards(sweep, cfg, 2, which=[0])
    with monkeypatch.context() as m:
        m.setattr(runner, "iter_replications", _crash_after(2))
        with pytest.raises(RuntimeError, match="killed"):
            run_shards(sweep, cfg, 2, which=[1])
    # the killed shard is not complete: the pool refuses, naming it, and writes nothing
    with pytest.raises(PoolError, match=r"1 of 2 jobs are not complete \(#1 failed\)"):
        pool_sweep(sweep)
    assert not (sweep / "pooled").exists()
    run_shards(sweep, cfg, 2, which=[1])         # the same command again: resumes at 6 + 2
    assert json.loads((sweep / "1" / "run.json").read_text())["resumed_from"] == 8
    [(out, _s, _shards)] = pool_sweep(sweep)
    assert (out / "replications.csv").read_bytes() == (whole / "replications.csv").read_bytes()


def test_missing_overlapping_and_foreign_shards_are_refused(tmp_path):
    cfg = config(8)
    missing = tmp_path / "missing"
    run_shards(missing, cfg, 4, which=[0, 1, 3])
    with pytest.raises(PoolError, match=r"replications 4-5 of 8 are in no shard"):
        pool_sweep(missing)

    overlap = tmp_path / "overlap"
    run_shards(overlap, cfg, 2)
    run_shards(overlap, cfg, 4, which=[0], first_num=2)
    with pytest.raises(PoolError, match=r"overlap"):
        pool_sweep(overlap)

    foreign = tmp_path / "foreign"
    run_shards(foreign, cfg, 2, which=[0])
    run_shards(foreign, config(8, seed=5), 2, which=[1])
    with pytest.raises(PoolError, match=r"shards of 2 different configs here.*in no shard"):
        pool_sweep(foreign)

    whole_jobs = tmp_path / "whole_jobs"
    run_job(dict(cfg), whole_jobs / "0", echo=False)
    with pytest.raises(PoolError, match="no shards here"):
        pool_sweep(whole_jobs)


def test_a_shard_file_changed_after_it_completed_is_refused(tmp_path):
    sweep = tmp_path / "sweep"
    run_shards(sweep, config(6), 2)
    path = sweep / "1" / "replications.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))                 # one row lost
    with pytest.raises(PoolError, match="holds 2 rows, its run.json says 3"):
        pool_sweep(sweep)
    assert not (sweep / "pooled" / "replications.csv").exists()
    assert json.loads((sweep / "pooled" / "run.json").read_text())["status"] == "failed"


def test_pool_cli_is_one_line_and_exit_2(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run_shards(sweep, config(4), 2, which=[0])
    assert report_main([str(sweep), "--pool"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "replications 2-3 of 4 are in no shard" in err
    run_shards(sweep, config(4), 2, which=[1])
    assert report_main([str(sweep), "--pool"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"pooled 2 shards (#0, #1) into {sweep / 'pooled'}")
