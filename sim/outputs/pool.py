"""Join the shards of a job into the outputs of the unsharded job (``sim.report --pool``).

A job of ``replications=N`` can run as ``shards=K`` jobs, ``shard=0 .. K-1``, each computing
the replications of :func:`sim.core.runner.shard_range` - on K SLURM tasks, Ray workers or
machines. Every replication owns its seed sequence, so the shards' rows, concatenated in
replication order, are exactly the rows of the unsharded job; :func:`pool_sweep` writes them as
one ``replications.csv`` and computes its ``summary.json`` with the code a job uses
(:func:`sim.cli.app.summarize_run`): both files are byte-identical to those of the job run
unsharded (same config, same code).

Pooling refuses, in one line naming the jobs, anything that would not give that:

* a job of the sweep that is not complete (failed, interrupted, killed, still running, never
  ran): its shard is not finished, and a partial shard never looks complete;
* shards whose replications leave a gap (a missing shard) or overlap (two shards of one
  replication, e.g. ``shards=4`` and ``shards=2`` runs of the same config in one dir);
* shards of different configs that do not each make a whole job (their ``pool_hash``, the
  config hash without ``shard``/``shards``, differs), or computed by different releases.

A sweep may hold several sharded jobs (``triage.analysts=1,2 shard='range(0,4)' shards=4``):
each is pooled on its own. The pooled dir is a normal run dir (``run.json`` complete, with
``pooled_from``): ``python -m sim.report`` reads it like any run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.cli.sweep import (
    RUN_JSON,
    SweepError,
    find_job_dirs,
    index_job_dirs,
    job_state,
    read_json,
    read_manifest,
)
from sim.core import atomic
from sim.outputs.results import PARTIAL_SUFFIX, REPLICATIONS_CSV

#: The default output dir of a pool, under the sweep dir (one sub-dir per job if several).
POOLED_DIR = "pooled"


class PoolError(SweepError):
    """The shards cannot be joined into a whole job (one line: which jobs, what is wrong)."""


@dataclass(frozen=True)
class Shard:
    """One complete shard job: its dir, job number and the replications it holds."""

    dir: Path
    num: int | None
    meta: dict[str, Any]

    @property
    def first(self) -> int:
        return int(self.meta["shard"]["first"])

    @property
    def stop(self) -> int:
        return int(self.meta["shard"]["stop"])

    @property
    def replications(self) -> int:
        return int(self.meta["shard"]["replications"])

    @property
    def pool_hash(self) -> str:
        return str(self.meta.get("pool_hash", ""))

    def name(self) -> str:
        where = f"#{self.num}" if self.num is not None else str(self.dir)
        return f"{where} (replications {self.first}-{self.stop - 1})"


def _job_dirs(sweep_dir: Path) -> list[tuple[int | None, Path | None]]:
    """(job number, dir) of every job of the sweep; dir None for a listed job that never ran."""
    manifest = read_manifest(sweep_dir)
    if manifest is not None:
        index = index_job_dirs(sweep_dir)
        return [(int(j["num"]), index.get(int(j["num"]))) for j in manifest["jobs"]]
    return [(int(d.name) if d.name.isdigit() else None, d) for d in find_job_dirs(sweep_dir)
            if not (read_json(d / RUN_JSON) or {}).get("pooled_from")]


def find_shards(sweep_dir: str | os.PathLike[str]) -> tuple[list[Shard], int]:
    """The complete shard jobs under ``sweep_dir``, and how many complete unsharded jobs it has.

    Raises:
        PoolError: the dir is not a sweep dir, a job of the sweep is not complete, or no job
            is a shard.
    """
    root = Path(sweep_dir)
    if not root.is_dir():
        raise PoolError(f"{root}: no such directory (give the sweep dir of the shards)")
    jobs = _job_dirs(root)
    if not jobs:
        raise PoolError(f"{root}: no job dirs here (give the sweep dir of the shards)")
    unfinished = []
    shards: list[Shard] = []
    whole = 0
    for num, d in jobs:
        where = f"#{num}" if num is not None else str(d)
        if d is None:
            unfinished.append(f"{where} never ran")
            continue
        state = job_state(d)
        if state.status != "complete":
            unfinished.append(f"{where} {state.status.replace('_', ' ')}")
        elif isinstance(state.meta.get("shard"), dict) and state.meta.get("pool_hash"):
            shards.append(Shard(d, num, state.meta))
        else:
            whole += 1
    if unfinished:
        shown = ", ".join(unfinished[:8]) + (f" and {len(unfinished) - 8} more"
                                             if len(unfinished) > 8 else "")
        raise PoolError(f"{root}: {len(unfinished)} of {len(jobs)} jobs are not complete "
                        f"({shown}); a shard that did not finish is never pooled: re-run the "
                        f"same command with hydra.sweep.dir={root} to finish them, then pool")
    if not shards:
        raise PoolError(f"{root}: no shards here (no job ran with shards=K shard=I); "
                        f"python -m sim.report {root} tabulates whole jobs")
    return shards, whole


def check_tiling(shards: Sequence[Shard]) -> list[Shard]:
    """The shards of one job in replication order, after checking that together they hold
    every replication ``0 .. N-1`` exactly once.

    Raises:
        PoolError: a replication is in no shard (missing shard) or in two (overlap).
    """
    ordered = sorted(shards, key=lambda s: (s.first, s.stop))
    n = ordered[0].replications
    cursor, previous = 0, None
    for shard in ordered:
        if shard.first > cursor:
            raise PoolError(f"replications {cursor}-{shard.first - 1} of {n} are in no shard "
                            f"(a shard is missing; have {_names(ordered)})")
        if shard.first < cursor:
            assert previous is not None
            raise PoolError(f"shards {previous.name()} and {shard.name()} overlap (two "
                            f"shardings of one config in one dir?); pool one sharding")
        cursor, previous = shard.stop, shard
    if cursor < n:
        raise PoolError(f"replications {cursor}-{n - 1} of {n} are in no shard (a shard is "
                        f"missing; have {_names(ordered)})")
    return ordered


def _names(shards: Sequence[Shard]) -> str:
    shown = ", ".join(s.name() for s in shards[:6])
    return shown + (f" and {len(shards) - 6} more" if len(shards) > 6 else "")


def group_shards(shards: Sequence[Shard]) -> list[list[Shard]]:
    """The shards grouped by job (``pool_hash``), each group checked by :func:`check_tiling`,
    groups in the order of their first job number.

    Raises:
        PoolError: a group does not tile its replications (with several groups the message
            says that the shards are of different configs), or the shards of one job were
            computed by different releases of the package.
    """
    groups: dict[str, list[Shard]] = {}
    for shard in shards:
        groups.setdefault(shard.pool_hash, []).append(shard)
    out = []
    for phash, members in groups.items():
        versions = sorted({str(s.meta.get("version")) for s in members})
        if len(versions) > 1:
            raise PoolError(f"shards of config {phash} were computed by different versions "
                            f"({', '.join(versions)}); re-run them with resume=false")
        try:
            out.append(check_tiling(members))
        except PoolError as err:
            if len(groups) > 1:
                raise PoolError(f"shards of {len(groups)} different configs here; config "
                                f"{phash} ({members[0].meta.get('scenario')}): {err}") from None
            raise
    return sorted(out, key=lambda g: min((s.num if s.num is not None else 1 << 62)
                                         for s in g))


def join_rows(shards: Sequence[Shard], out_dir: Path) -> int:
    """Write the shards' rows, in order, as ``out_dir/replications.csv`` (through
    ``.partial``, renamed when whole); returns the number of rows.

    Raises:
        PoolError: the shards' headers differ, or a shard's file does not hold exactly its
            replications (edited or truncated after it completed).
    """
    partial = out_dir / (REPLICATIONS_CSV + PARTIAL_SUFFIX)
    header: bytes | None = None
    rows = 0
    with open(partial, "wb") as out:
        for shard in shards:
            with open(shard.dir / REPLICATIONS_CSV, "rb") as f:
                first = f.readline()
                if header is None:
                    header = first
                    out.write(first)
                elif first != header:
                    raise PoolError(f"{shard.dir / REPLICATIONS_CSV}: its header differs from "
                                    f"the first shard's")
                count = 0
                expected = shard.first
                for line in f:
                    if not line.endswith(b"\n") or not line.startswith(b"%d," % expected):
                        raise PoolError(f"{shard.dir / REPLICATIONS_CSV}: line {count + 2} is "
                                        f"not replication {expected}; the shard's file was "
                                        f"changed after it completed: re-run it")
                    out.write(line)
                    count += 1
                    expected += 1
                if expected != shard.stop:
                    raise PoolError(f"{shard.dir / REPLICATIONS_CSV}: holds {count} rows, its "
                                    f"run.json says {shard.stop - shard.first}; re-run it")
                rows += count
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, out_dir / REPLICATIONS_CSV)
    atomic.fsync_dir(out_dir)
    return rows


def pool_job(shards: Sequence[Shard], out_dir: Path, *, figures: bool = True
             ) -> dict[str, Any]:
    """Join one job's shards (in replication order, checked) into ``out_dir``.

    Writes ``run.json`` first (``running``), then ``replications.csv``, ``summary.json``
    (:func:`sim.cli.app.summarize_run` on the rebuilt model), ``dwell.png`` when the job
    plots, and ``run.json`` again (``complete``, ``config_hash`` = the pool hash,
    ``pooled_from``). If anything fails, the dir holds no file that looks complete.

    Returns:
        The summary.
    """
    from sim import __version__
    from sim.cli.app import (
        begin_record,
        prepare_model,
        record_complete,
        record_failure,
        summarize_run,
        withdraw_outputs,
    )
    from sim.cli.sweep import source_digest
    from sim.outputs import results

    head = shards[0].meta
    options = dict(head.get("options") or {})
    options.update(shard=0, shards=1)
    cfg = dict(head["config"])
    meta: dict[str, Any] = {
        "status": "running", "scenario": head.get("scenario"), "seed": head.get("seed"),
        "version": __version__, "source_digest": source_digest(),
        "versions": head.get("versions"), "config_hash": shards[0].pool_hash,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "job": {"num": None, "total": None, "overrides": [], "sweep_dir": None},
        "config": cfg, "options": options,
        "pooled_from": [{"dir": str(s.dir), "job": s.num, "first": s.first, "stop": s.stop,
                         "config_hash": s.meta.get("config_hash"),
                         "source_digest": s.meta.get("source_digest")} for s in shards]}
    out_dir.mkdir(parents=True, exist_ok=True)
    begin_record(out_dir, meta)
    t0 = time.perf_counter()
    try:
        join_rows(shards, out_dir)
        cfg, model, layer = prepare_model(dict(cfg), options)
        rows, summary = summarize_run(out_dir, cfg, model, layer)
        if figures and (options.get("output") or {}).get("plot", True):
            results.plot_dwell(rows, model.run.horizon, out_dir / "dwell.png")
    except BaseException as exc:
        withdraw_outputs(out_dir)
        record_failure(out_dir, meta, exc, t0)
        raise
    record_complete(out_dir, meta, t0)
    return summary


def pool_sweep(sweep_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
               *, figures: bool = True) -> list[tuple[Path, dict[str, Any], list[Shard]]]:
    """Pool every sharded job of a sweep.

    Args:
        sweep_dir: the sweep dir holding the shard jobs.
        out: where to write; default ``SWEEP_DIR/pooled``. One sharded job is written into
            ``out`` itself, several into ``out/0``, ``out/1``, ... (in job order).
        figures: draw ``dwell.png`` (when the job's ``output.plot`` is true).

    Returns:
        ``(pooled dir, summary, shards)`` per job.

    Raises:
        PoolError: see the module docstring; nothing is pooled then.
    """
    root = Path(sweep_dir)
    shards, _whole = find_shards(root)
    groups = group_shards(shards)
    base = Path(out) if out is not None else root / POOLED_DIR
    done = []
    for k, group in enumerate(groups):
        target = base if len(groups) == 1 else base / str(k)
        try:
            summary = pool_job(group, target, figures=figures)
        except OSError as exc:
            raise PoolError(f"{target}: cannot write the pooled job "
                            f"({exc.strerror or exc})") from None
        done.append((target, summary, group))
    return done
