"""Sweeps: config hashes, the skip-if-complete rule, the sweep manifest and job discovery.

A *job* is one config run into one directory by :func:`sim.cli.app.run_job`; a *sweep* is a Hydra
multirun: a sweep dir holding one job dir per config (``multirun/DATE/0``, ``.../1``, ...).

The pieces, in the order a sweep meets them:

* :class:`SweepCallback` (a Hydra callback, enabled in ``conf/config.yaml``) writes
  ``sweep.json`` into the sweep dir before any job starts: the total number of jobs and each
  job's overrides, expanded from the command line exactly as Hydra's basic sweeper expands them
  (lists, ranges, globs). Jobs read their "job k of N" from it; :mod:`sim.outputs.report` reads it
  to list jobs that never ran. After the sweep the callback prints one line of totals and records
  the outcome for the exit code (:data:`LAST_SWEEP`).
* :func:`config_hash` names what a job computes; :func:`source_digest` names the code that
  computed it (recorded, and compared by :mod:`sim.outputs.report`). :func:`completed_summary` is
  the skip rule: a job dir whose ``run.json`` says ``complete`` with the same hash and package
  version, and whose ``replications.csv`` and ``summary.json`` are there and readable, is not
  run again.
* :func:`job_state` classifies a job dir (``complete``, ``failed``, ``interrupted``,
  ``running``, ``running_elsewhere``, ``incomplete``); :func:`find_job_dirs` finds them under a
  sweep dir.
* :class:`JobLock` makes a process the one owner of a job dir while it runs the job (the lock
  file ``job.lock``: host, pid, process start time, heartbeat), so that a second launcher of the
  same sweep (re-run while orphans of a killed one still run) never writes into a running job:
  it reports the job as ``running elsewhere``. :func:`lock_status` is the stale-lock rule.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.core.errors import SimError

RUN_JSON = "run.json"
SWEEP_JSON = "sweep.json"
MULTIRUN_YAML = "multirun.yaml"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"

#: Option keys (dotted) that change how a job runs but not one byte of what it writes.
HASH_EXCLUDED: frozenset[str] = frozenset({"workers", "resume", "output.progress"})

#: The keys that make a job one shard of a larger job (:func:`sim.core.runner.shard_range`).
SHARD_KEYS: frozenset[str] = frozenset({"shard", "shards"})

#: Job states. ``complete`` is the only one whose results are read. ``running_elsewhere``:
#: another live process owns the dir (:class:`JobLock`); ``running``: ``run.json`` says running
#: but no live process owns the dir (killed without a chance to say so).
STATES: tuple[str, ...] = ("complete", "failed", "interrupted", "running", "running_elsewhere",
                           "incomplete", "missing")


class SweepError(SimError):
    """A sweep or run dir cannot be read (names the dir and what is missing)."""


# ----------------------------------------------------------------------------- job locks

LOCK_FILE = "job.lock"
#: Seconds between heartbeats (the lock file's mtime is renewed) of a running job.
HEARTBEAT_S = 30.0
#: A lock taken on another host is stale when its heartbeat is older than this (seconds). The
#: hosts' clocks (or the shared file system's) must agree to well within it.
STALE_AFTER_S = 600.0


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds, from /proc), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def lock_status(info: Mapping[str, Any] | None, mtime: float, now: float | None = None) -> str:
    """The stale-lock rule: ``live`` or ``stale`` for a lock holding ``info``, last renewed at
    ``mtime`` (epoch seconds).

    * No readable owner: ``stale`` unless it is fresh (younger than :data:`HEARTBEAT_S`: it may
      be being written).
    * Same host: ``live`` while the pid exists and (where the OS tells) started when the lock
      says - a dead pid, or a pid reused by a later process, is ``stale``.
    * Another host: ``live`` while the heartbeat is younger than :data:`STALE_AFTER_S`.
    """
    now = time.time() if now is None else now
    if not info or not isinstance(info.get("pid"), int):
        return "live" if now - mtime < HEARTBEAT_S else "stale"
    if info.get("host") == socket.gethostname():
        pid = int(info["pid"])
        if not _pid_alive(pid):
            return "stale"
        started, recorded = _process_start(pid), info.get("process_start")
        if started is not None and isinstance(recorded, (int, float)) \
                and abs(started - recorded) > 2.0:
            return "stale"  # the pid now belongs to another process
        return "live"
    return "live" if now - mtime < STALE_AFTER_S else "stale"


def read_lock(run_dir: Path) -> tuple[dict[str, Any] | None, float] | None:
    """``(owner info, mtime)`` of ``run_dir``'s lock file, or None without one."""
    path = Path(run_dir) / LOCK_FILE
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return read_json(path), mtime


def live_owner(run_dir: Path) -> dict[str, Any] | None:
    """The owner of ``run_dir`` if another live process holds its lock, else None."""
    found = read_lock(run_dir)
    if found is None:
        return None
    info, mtime = found
    if info and info.get("host") == socket.gethostname() and info.get("pid") == os.getpid():
        return None  # ours
    return (info or {"host": "?", "pid": "?"}) if lock_status(info, mtime) == "live" else None


def describe_owner(info: Mapping[str, Any]) -> str:
    """``host h pid 123 since 2026-11-30T19:40:00+0000``."""
    return (f"host {info.get('host', '?')} pid {info.get('pid', '?')}"
            + (f" since {info['started_at']}" if info.get("started_at") else ""))


class JobRunningElsewhere(SimError):
    """Another live process owns the job dir; nothing was written into it."""

    def __init__(self, run_dir: Path, owner: Mapping[str, Any]) -> None:
        self.run_dir, self.owner = run_dir, dict(owner)
        super().__init__(f"{run_dir}: running elsewhere ({describe_owner(owner)}); not run here, "
                         f"nothing written; re-run when it has finished to collect it")


class JobLock:
    """Ownership of a job dir while a job runs in it (a context manager).

    ``acquire`` creates ``job.lock`` atomically (a hard link of a complete temporary file, which
    also works on NFS) holding ``host``, ``pid``, ``process_start``, ``started_at`` and a token;
    a stale lock (:func:`lock_status`) is taken over, a live one raises
    :class:`JobRunningElsewhere`. While held, a daemon thread renews the file's mtime every
    :data:`HEARTBEAT_S` seconds; ``release`` removes the file if it is still ours.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.token = uuid.uuid4().hex
        self.info = {"host": socket.gethostname(), "pid": os.getpid(),
                     "process_start": _process_start(os.getpid()),
                     "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "token": self.token}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> JobLock:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.run_dir / f".{LOCK_FILE}.{self.token}"
        tmp.write_text(json.dumps(self.info), encoding="utf-8")
        try:
            for _attempt in range(3):
                try:
                    os.link(tmp, self.path)
                    break
                except FileExistsError:
                    found = read_lock(self.run_dir)
                    if found is None:
                        continue  # released meanwhile: try again
                    info, mtime = found
                    if lock_status(info, mtime) == "live":
                        raise JobRunningElsewhere(self.run_dir, info or {}) from None
                    self.path.unlink(missing_ok=True)  # stale: take it over
            else:
                raise JobRunningElsewhere(self.run_dir, (read_lock(self.run_dir) or ({},))[0]
                                          or {})
        finally:
            tmp.unlink(missing_ok=True)
        self._thread = threading.Thread(target=self._beat, name="job-lock-heartbeat",
                                        daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        info = read_json(self.path)
        if info is not None and info.get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> JobLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


# ----------------------------------------------------------------------------- hashing


def _canonical(obj: Any) -> Any:
    """``obj`` with mappings as sorted dicts and floats that JSON can write (inf as a string)."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    return obj


def _drop(cfg: Mapping[str, Any], excluded: frozenset[str], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        dotted = f"{prefix}{key}"
        if dotted in excluded:
            continue
        out[key] = _drop(value, excluded, dotted + ".") if isinstance(value, Mapping) else value
    return out


def _file_digest(path: Path) -> str:
    """sha256 of the file, read in 1 MiB blocks (a huge file is never held in memory whole).

    A file that cannot be read gets a digest of its error (e.g. ``unreadable: Permission
    denied``): the hash stays defined, and the loader that reads the file reports the problem
    in its own words, naming the key.
    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    except OSError as err:
        return f"unreadable: {err.strerror or err}"
    return h.hexdigest()


def _file_digests(cfg: Any, found: dict[str, str]) -> dict[str, str]:
    """sha256 of every existing file named by a ``path`` key anywhere in ``cfg``."""
    if isinstance(cfg, Mapping):
        for key, value in cfg.items():
            if key == "path" and isinstance(value, str) and Path(value).is_file():
                found[value] = _file_digest(Path(value))
            else:
                _file_digests(value, found)
    elif isinstance(cfg, list):
        for value in cfg:
            _file_digests(value, found)
    return found


def _targets(cfg: Any, found: set[str]) -> set[str]:
    """Every ``_target_`` string anywhere in ``cfg``."""
    if isinstance(cfg, Mapping):
        for key, value in cfg.items():
            if key == "_target_" and isinstance(value, str):
                found.add(value)
            else:
                _targets(value, found)
    elif isinstance(cfg, list):
        for value in cfg:
            _targets(value, found)
    return found


def _module_file(target: str) -> tuple[str, Path] | None:
    """The module a dotted ``_target_`` lives in and its source file (the longest importable
    prefix: ``pkg.mod.Class.method`` -> ``pkg.mod``), or None if it cannot be found."""
    import importlib.util

    parts = target.split(".")
    for i in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:i])
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            continue
        if spec is not None and spec.origin and Path(spec.origin).is_file():
            return name, Path(spec.origin)
    return None


def code_digests(cfg: Mapping[str, Any]) -> dict[str, str]:
    """Module -> sha256 of its source file, for the module of every ``_target_`` in ``cfg``
    (``sim.controls.detectors`` as much as a user's ``mymodule``); ``"unknown"`` for a target whose
    module cannot be found (the run reports that itself).

    Only the target's own module file is read, not what it imports: a detector whose logic lives
    in a helper module should be named by a target there, or the helper edited with
    ``resume=false``.
    """
    out: dict[str, str] = {}
    for target in sorted(_targets(cfg, set())):
        found = _module_file(target)
        if found is None:
            out[target] = "unknown"
            continue
        name, path = found
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def config_hash(cfg: Mapping[str, Any]) -> str:
    """A 16-hex-digit name for what a job computes and writes.

    The sha256 of the canonical JSON (sorted keys) of the resolved plain config, without the
    keys of :data:`HASH_EXCLUDED` (``workers``, ``resume``, ``output.progress``: the rows are
    identical whatever they are), plus the content digest of every file a ``path`` key names (a
    GraphML network edited in place is a different job) and of the source of the module of every
    ``_target_`` (:func:`code_digests`: editing your own detector, or ``sim/controls/detectors.py``,
    makes a finished job run again on resume). Equal configs give equal hashes in any process
    and on any machine with the same code; key order does not matter.

    ``shard``/``shards`` count only for a sharded job (``shards`` above 1): an unsharded job
    hashes as if the keys were absent, so its hash is also the :func:`pool_hash` of its shards.
    """
    excluded = HASH_EXCLUDED if cfg.get("shards", 1) not in (1, None) \
        else HASH_EXCLUDED | SHARD_KEYS
    payload = {"config": _canonical(_drop(cfg, excluded)),
               "files": _file_digests(cfg, {}), "code": code_digests(cfg)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pool_hash(cfg: Mapping[str, Any]) -> str:
    """The :func:`config_hash` of the whole job a shard belongs to: its config without
    ``shard``/``shards``. Every shard of one job has the same pool hash, which is the config
    hash of the job run unsharded; :mod:`sim.outputs.pool` joins only shards that share it."""
    return config_hash({k: v for k, v in cfg.items() if k not in SHARD_KEYS})


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """A 16-hex-digit digest of the ``sim`` package's source files (names and contents).

    Recorded in ``run.json`` so that results computed by different code can be told apart
    even when the package version string did not change.
    """
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------- job dirs


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing, unreadable or not an object."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


@dataclass
class JobState:
    """What a job dir holds.

    Attributes:
        dir: the job dir.
        status: one of :data:`STATES`. ``complete`` needs ``run.json`` saying so *and* a
            readable ``replications.csv`` and ``summary.json``; a ``run.json`` that says
            ``complete`` without them is ``incomplete``. ``running`` is a job that is running
            or was killed without a chance to say so.
        meta: the content of ``run.json`` ({} without one).
        summary: the content of ``summary.json`` for a complete job, else None.
    """

    dir: Path
    status: str
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None

    @property
    def error(self) -> str:
        """The recorded error (``""`` if none); for ``incomplete``/``running``, what is wrong."""
        if self.meta.get("error"):
            return str(self.meta["error"])
        if self.status == "incomplete":
            return "run.json says complete but replications.csv or summary.json is missing"
        if self.status == "running":
            return "killed before it could record an error (no live process owns the dir)"
        if self.status == "running_elsewhere":
            owner = live_owner(self.dir) or {}
            return f"running elsewhere ({describe_owner(owner)})"
        return ""


def job_state(run_dir: Path) -> JobState:
    """Classify ``run_dir`` (see :class:`JobState`); never raises for a bad dir."""
    run_dir = Path(run_dir)
    meta = read_json(run_dir / RUN_JSON)
    if live_owner(run_dir) is not None:
        return JobState(run_dir, "running_elsewhere", meta or {})
    if meta is None:
        partial = (run_dir / "replications.csv.partial").exists()
        return JobState(run_dir, "running" if partial else "missing", {})
    status = str(meta.get("status", ""))
    if status == "complete":
        summary = read_json(run_dir / "summary.json")
        if summary is None or not (run_dir / "replications.csv").is_file():
            return JobState(run_dir, "incomplete", meta)
        return JobState(run_dir, "complete", meta, summary)
    if status in ("failed", "interrupted", "running"):
        return JobState(run_dir, status, meta)
    return JobState(run_dir, "incomplete", meta)


def completed_summary(run_dir: Path, chash: str, version: str | None = None
                      ) -> dict[str, Any] | None:
    """The skip rule: ``summary.json`` of a finished run of this config, else None.

    A job is skipped only if its ``run.json`` says ``complete`` and records the same
    ``config_hash`` and the same package ``version`` (default: this one's), and its
    ``replications.csv`` and ``summary.json`` exist and are readable. Anything else (no run
    dir, a failed, interrupted or killed run, only a ``.partial`` file, another config, another
    release) runs again.

    The source digest is recorded but not compared: editing code between a sweep and its
    resumption (a plotting fix, say) should not throw finished jobs away.
    :mod:`sim.outputs.report` warns when one sweep's jobs were computed by different code.
    """
    from sim import __version__
    state = job_state(run_dir)
    if state.status != "complete":
        return None
    if state.meta.get("config_hash") != chash:
        return None
    if state.meta.get("version") != (version or __version__):
        return None
    return state.summary


def find_job_dirs(sweep_dir: Path, max_depth: int = 3) -> list[Path]:
    """Job dirs under ``sweep_dir``: dirs holding ``run.json``, a ``.partial`` or ``.hydra/``.

    Searched up to ``max_depth`` levels down, skipping hidden dirs (``.submitit``, ``.hydra``);
    sorted by job number when the dir name is one, else by path.
    """
    found: list[Path] = []

    def visit(d: Path, depth: int) -> None:
        for child in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if ((child / RUN_JSON).exists() or (child / ".hydra").is_dir()
                    or (child / "replications.csv.partial").exists()):
                found.append(child)
            elif depth < max_depth:
                visit(child, depth + 1)

    visit(sweep_dir, 1)

    def order(p: Path) -> tuple[int, int, str]:
        rel = p.relative_to(sweep_dir)
        return (0, int(rel.name), str(rel)) if rel.name.isdigit() else (1, 0, str(rel))

    return sorted(found, key=order)


def job_overrides(run_dir: Path, meta: Mapping[str, Any] | None = None) -> list[str] | None:
    """The job's task overrides: from ``run.json`` (``job.overrides``), else ``.hydra/``."""
    job = (meta or {}).get("job") or {}
    if isinstance(job.get("overrides"), list):
        return [str(o) for o in job["overrides"]]
    path = run_dir / ".hydra" / "overrides.yaml"
    if path.is_file():
        from omegaconf import OmegaConf

        try:
            loaded = OmegaConf.to_container(OmegaConf.load(path))
        except Exception:  # noqa: BLE001 - an unreadable file is "unknown", not a crash
            return None
        if isinstance(loaded, list):
            return [str(o) for o in loaded]
    return None


# ----------------------------------------------------------------------------- sweep manifest


def expand_sweep(overrides: Sequence[str], config_loader: Any = None) -> list[list[str]]:
    """Each job's overrides, in job-number order, as Hydra's basic sweeper makes them.

    Args:
        overrides: the sweep's overrides (``hydra.sweeper.params`` as ``KEY=VALUES`` first,
            then the command line's), e.g. ``["seed=1,2", "horizon=range(1,3)"]``.
        config_loader: Hydra's config loader, needed only to expand ``glob(...)`` over a
            config group.

    Raises:
        SweepError: the overrides do not parse or use a sweep the basic sweeper rejects.
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parser = OverridesParser.create(config_loader=config_loader)
        parsed = parser.parse_overrides(list(overrides))
        batches = BasicSweeper.split_arguments(parsed, None)
    except (HydraException, AssertionError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SweepError(f"cannot expand the sweep {list(overrides)}: {reason}") from None
    return [list(job) for job in batches[0]]


def sweep_overrides(hydra_cfg: Any) -> list[str] | None:
    """The overrides that define the sweep (sweeper params, then the command line's), or None
    when the sweeper is not Hydra's basic sweeper (whose jobs cannot be listed in advance)."""
    from omegaconf import OmegaConf

    sweeper = OmegaConf.select(hydra_cfg, "sweeper._target_", default=None)
    if sweeper != BASIC_SWEEPER:
        return None
    params = OmegaConf.select(hydra_cfg, "sweeper.params", default=None) or {}
    task = OmegaConf.select(hydra_cfg, "overrides.task", default=None) or []
    return [f"{k}={v}" for k, v in dict(params).items()] + [str(o) for o in task]


def write_manifest(sweep_dir: Path, jobs: Sequence[Sequence[str]], *, sweep: Sequence[str],
                   launcher: str) -> None:
    """Write ``sweep.json``: ``total``, ``jobs`` [{num, overrides}], the sweep's overrides,
    the launcher, and ``started`` (epoch seconds, to tell reused results from new ones)."""
    from sim.outputs.results import write_json_atomic

    sweep_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(sweep_dir / SWEEP_JSON, {
        "total": len(jobs), "sweep": list(sweep), "launcher": launcher,
        "started": time.time(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "jobs": [{"num": i, "overrides": list(job)} for i, job in enumerate(jobs)],
    })


def read_manifest(sweep_dir: Path) -> dict[str, Any] | None:
    """``sweep.json`` of ``sweep_dir``; failing that, the job list rebuilt from Hydra's
    ``multirun.yaml`` (without glob expansion over config groups); None if neither works."""
    manifest = read_json(Path(sweep_dir) / SWEEP_JSON)
    if manifest is not None and isinstance(manifest.get("jobs"), list):
        return manifest
    path = Path(sweep_dir) / MULTIRUN_YAML
    if not path.is_file():
        return None
    from omegaconf import OmegaConf

    try:
        hydra_cfg = OmegaConf.load(path).hydra
        overrides = sweep_overrides(hydra_cfg)
        if overrides is None:
            return None
        jobs = expand_sweep(overrides)
    except Exception:  # noqa: BLE001 - no manifest is a normal answer here
        return None
    return {"total": len(jobs), "sweep": overrides, "launcher": "",
            "jobs": [{"num": i, "overrides": job} for i, job in enumerate(jobs)]}


def job_total(sweep_dir: Path) -> int | None:
    """The number of jobs in the sweep writing into ``sweep_dir``, if it can be known."""
    manifest = read_manifest(sweep_dir)
    total = manifest.get("total") if manifest else None
    return total if isinstance(total, int) else None


# ----------------------------------------------------------------------------- callback


@dataclass
class SweepOutcome:
    """What a finished sweep left in its dir (see :func:`sweep_outcome`)."""

    sweep_dir: Path
    total: int
    counts: dict[str, int]
    reused: int
    failed: list[JobState]
    bad_input_only: bool
    elsewhere: list[JobState] = field(default_factory=list)

    def line(self) -> str:
        """One line: ``sweep DIR: 6 jobs, 5 complete (2 reused), 1 failed``."""
        parts = []
        for status, n in self.counts.items():
            if n:
                reused = (f" ({self.reused} done before, skipped)"
                          if status == "complete" and self.reused else "")
                parts.append(f"{n} {status.replace('_', ' ')}{reused}")
        return f"sweep {self.sweep_dir}: {self.total} jobs, " + ", ".join(parts)

    @property
    def exit_code(self) -> int:
        """0 when every job is complete; 2 when every failure was bad input; else 1 (also when
        jobs are still running elsewhere: their results are not in yet)."""
        if self.counts.get("complete", 0) == self.total:
            return 0
        return 2 if self.bad_input_only and not self.elsewhere else 1


def index_job_dirs(sweep_dir: Path) -> dict[int, Path]:
    """Job number -> job dir, from each dir's ``run.json`` (``job.num``), else its name."""
    index: dict[int, Path] = {}
    for d in find_job_dirs(sweep_dir):
        meta = read_json(d / RUN_JSON) or {}
        num = (meta.get("job") or {}).get("num")
        if not isinstance(num, int) and d.name.isdigit():
            num = int(d.name)
        if isinstance(num, int):
            index.setdefault(num, d)
    return index


def sweep_outcome(sweep_dir: Path, manifest: Mapping[str, Any] | None = None,
                  started: float | None = None) -> SweepOutcome:
    """Classify every job of the sweep in ``sweep_dir`` (from its manifest, else its dirs).

    With a manifest a job whose dir does not exist is ``missing``; a job dir is matched by the
    job number its ``run.json`` records (or its name), so any ``hydra.sweep.subdir`` works.
    A complete job counts as done before (reused) when it finished before the sweep started:
    the manifest's start, else ``started`` (epoch seconds; a sweeper whose jobs are not known
    in advance, such as Optuna's, writes no manifest), else every complete job.
    """
    manifest = manifest if manifest is not None else read_manifest(sweep_dir)
    if manifest is not None:
        index = index_job_dirs(sweep_dir)
        dirs = [index.get(int(job["num"]), sweep_dir / str(job["num"]))
                for job in manifest["jobs"]]
        started = float(manifest.get("started", math.inf))
    else:
        dirs = find_job_dirs(sweep_dir)
        started = math.inf if started is None else started
    states = [job_state(d) for d in dirs]
    counts = {s: sum(st.status == s for st in states) for s in STATES}
    reused = sum(st.status == "complete" and float(st.meta.get("finished", 0)) < started
                 for st in states)
    failed = [st for st in states if st.status not in ("complete", "running_elsewhere")]
    elsewhere = [st for st in states if st.status == "running_elsewhere"]
    bad_input = all(st.meta.get("bad_input") for st in failed) if failed else False
    return SweepOutcome(sweep_dir, len(states), counts, reused, failed, bad_input, elsewhere)


#: The outcome of the last sweep this process ran (set by :class:`SweepCallback`).
LAST_SWEEP: SweepOutcome | None = None


def _callback_base() -> type:
    from hydra.experimental.callback import Callback

    return Callback


class SweepCallback(_callback_base()):  # type: ignore[misc]
    """Hydra callback: the sweep manifest before a multirun, the tally after it.

    ``on_multirun_start`` expands the sweep (basic sweeper only) and writes ``sweep.json``;
    ``on_multirun_end`` prints one line of totals, one line per job that did not complete, and
    sets :data:`LAST_SWEEP`, from which ``python -m sim`` takes its exit code.
    """

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        from hydra.core.global_hydra import GlobalHydra
        from omegaconf import OmegaConf

        self.started = time.time()  # the tally's "done before" when there is no manifest
        sweep_dir = Path(str(config.hydra.sweep.dir))
        overrides = sweep_overrides(config.hydra)
        if overrides is None:
            return
        loader = GlobalHydra.instance().config_loader() \
            if GlobalHydra.instance().is_initialized() else None
        try:
            jobs = expand_sweep(overrides, loader)
        except SweepError:
            return  # Hydra's sweeper reports the same problem in its own words
        launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default=""))
        write_manifest(sweep_dir, jobs, sweep=overrides, launcher=launcher)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        import sys

        global LAST_SWEEP
        sweep_dir = Path(str(config.hydra.sweep.dir))
        outcome = sweep_outcome(sweep_dir, started=getattr(self, "started", None))
        LAST_SWEEP = outcome
        print(outcome.line(), flush=True)
        if outcome.elsewhere:
            names = ", ".join(f"#{st.dir.name} ({describe_owner(live_owner(st.dir) or {})})"
                              for st in outcome.elsewhere[:10])
            print(f"{len(outcome.elsewhere)} of {outcome.total} jobs are running elsewhere, not "
                  f"here: {names}; re-run the same command when they have finished to collect "
                  f"them", file=sys.stderr, flush=True)
        if outcome.failed:
            names = ", ".join(f"#{st.dir.name} ({st.status})" for st in outcome.failed[:10])
            more = f" and {len(outcome.failed) - 10} more" if len(outcome.failed) > 10 else ""
            print(f"error: {len(outcome.failed)} of {outcome.total} jobs did not complete: "
                  f"{names}{more}; re-run the same command with hydra.sweep.dir={sweep_dir} "
                  f"to run only those", file=sys.stderr, flush=True)
