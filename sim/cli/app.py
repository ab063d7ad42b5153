"""The command line: ``python -m sim [KEY=VALUE ...]``, a Hydra app over conf/.

One job = one config: it validates everything before simulating (a bad value is one line on
stderr and exit code 2), runs the replications, and writes into Hydra's run dir:

* ``replications.csv`` - one row per replication (streamed to ``replications.csv.partial``
  and renamed when the last row is in, so a crash never leaves a file that looks complete);
* ``summary.json`` - the run's statistics;
* ``dwell.png`` - the dwell-time distribution;
* ``run.json`` - status (``running``, ``complete``, ``failed``, ``interrupted``), the full
  config and its hash, seed, software version, runtime and the error if any; written first
  and last.

A job whose run dir already holds a complete run of the same config (same hash and version,
see :func:`sim.cli.sweep.completed_summary`) is not run again (``resume=false`` forces it):
re-running a
killed sweep into its sweep dir runs only the jobs that are missing or did not finish. In a
multirun every job says which job of how many it is, a failed job is recorded and the sweep
goes on, and ``python -m sim`` exits non-zero at the end if any job did not complete.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import platform
import socket
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import hydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from sim import __version__
from sim.core.errors import SimError

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

# ``${sim.cwd:}`` in conf/config.yaml: the cwd of the process that composes the config. Cached
# like Hydra's ``now``, so a sweep's jobs (which get a copy of the cache) all see the launching
# process's cwd, even on a Ray worker that runs somewhere else.
if not OmegaConf.has_resolver("sim.cwd"):
    OmegaConf.register_new_resolver("sim.cwd", os.getcwd, use_cache=True)


class Progress:
    """A one-line progress meter on a terminal; silent when output is a file, a log or CI."""

    def __init__(self, total: int, label: str, enabled: bool | str = "auto") -> None:
        if enabled == "auto":
            enabled = sys.stderr.isatty() and not os.environ.get("CI")
        self.total, self.label, self.enabled = total, label, bool(enabled)
        self.done = 0
        self.t0 = time.perf_counter()
        self._last = 0.0

    def step(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.2 and self.done < self.total:
            return
        self._last = now
        rate = self.done / max(now - self.t0, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else math.inf
        width = 30
        filled = int(width * self.done / self.total)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{self.done}/{self.total}  {rate:.0f}/s  eta {left:.0f}s ")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


@dataclass(frozen=True)
class JobInfo:
    """Where a job stands in its sweep.

    Attributes:
        num: the job's number in the sweep (0-based, ``hydra.job.num``); None for a single run.
        total: the number of jobs in the sweep, when it can be known (``sweep.json``).
        overrides: the job's own command-line overrides (``seed=3 triage.analysts=2``).
        sweep_dir: the sweep dir (absolute) of a multirun job.
        parallel: other jobs may be running at the same time (any launcher but the basic one):
            the terminal progress bar is then off unless ``output.progress=true``.
    """

    num: int | None = None
    total: int | None = None
    overrides: tuple[str, ...] = field(default_factory=tuple)
    sweep_dir: str | None = None
    parallel: bool = False

    def label(self) -> str:
        """``job 3/6 (#2)``, ``job #2`` when the total is unknown, ``""`` for a single run."""
        if self.num is None:
            return ""
        if self.total:
            return f"job {self.num + 1}/{self.total} (#{self.num})"
        return f"job #{self.num}"

    def record(self) -> dict[str, Any]:
        """The ``job`` entry of ``run.json``."""
        return {"num": self.num, "total": self.total, "overrides": list(self.overrides),
                "sweep_dir": self.sweep_dir}


#: Outputs of a previous run that a new run of the dir removes before it starts, so that an
#: old complete-looking file never sits beside a new run's record.
STALE_OUTPUTS: tuple[str, ...] = ("replications.csv", "summary.json", "dwell.png",
                                  "events.jsonl", "timeline.png", "network.png")


@functools.lru_cache(maxsize=1)
def software_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the results (for ``run.json``)."""
    from importlib import metadata

    versions = {"python": platform.python_version()}  # read once per process (cached)
    for name in ("numpy", "scipy", "simpy", "networkx", "hydra-core"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def begin_record(run_dir: Path, meta: dict[str, Any]) -> None:
    """Write ``run.json`` (status ``running``), then remove a previous run's outputs.

    The record is atomic but not fsynced: if a power loss takes it, the dir holds an older
    ``run.json`` or none, and without the outputs removed here no state reads as complete
    (:func:`sim.cli.sweep.job_state`), so the job simply runs again. The final record, written
    after the outputs, is durable.
    """
    from sim.outputs import results
    results.write_json_atomic(run_dir / "run.json", meta, durable=False)
    for name in STALE_OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)


def withdraw_outputs(run_dir: Path) -> None:
    """After a failure: no file of this run may look complete.

    A run can fail after ``replications.csv`` was renamed into place (while writing the summary
    or drawing ``dwell.png``): its rows go back to ``replications.csv.partial`` and the
    summary and figures are removed, so the dir holds only what a crashed run leaves.
    """
    final = run_dir / "replications.csv"
    if final.exists():
        os.replace(final, run_dir / "replications.csv.partial")
    for name in STALE_OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)


def record_failure(run_dir: Path, meta: dict[str, Any], exc: BaseException,
                   t0: float) -> None:
    """Finish ``run.json`` for a run that raised: status, one-line error, traceback if a bug."""
    from sim.outputs import results
    meta["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    meta["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    meta["bad_input"] = isinstance(exc, SimError)
    if not isinstance(exc, (SimError, KeyboardInterrupt)):
        meta["traceback"] = traceback.format_exc()
    meta["runtime_s"] = round(time.perf_counter() - t0, 3)
    meta["finished"] = time.time()
    results.write_json_atomic(run_dir / "run.json", meta)


def record_complete(run_dir: Path, meta: dict[str, Any], t0: float) -> None:
    """Finish ``run.json`` for a run whose outputs are all written: status ``complete``."""
    from sim.outputs import results
    meta["status"] = "complete"
    meta["runtime_s"] = round(time.perf_counter() - t0, 3)
    meta["finished"] = time.time()
    results.write_json_atomic(run_dir / "run.json", meta)


def new_record(cfg: dict[str, Any], options: dict[str, Any], chash: str,
               job: JobInfo) -> dict[str, Any]:
    """The ``run.json`` of a run that is starting."""
    from sim.cli.sweep import source_digest

    return {"status": "running", "scenario": cfg["scenario"], "seed": cfg.get("seed"),
            "version": __version__, "source_digest": source_digest(),
            "versions": dict(software_versions()), "config_hash": chash,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname(),
            "pid": os.getpid(), "job": job.record(), "config": cfg, "options": options}


def run_job(cfg: dict[str, Any], run_dir: Path, *, scenario: str = "custom",
            echo: bool = True, job: JobInfo | None = None) -> dict[str, Any]:
    """Validate ``cfg``, simulate every replication and write the outputs into ``run_dir``.

    If ``run_dir`` already holds a complete run of the same config and version (see
    :func:`sim.cli.sweep.completed_summary`) and the ``resume`` option is true (the default),
    nothing is simulated or written: its summary is returned (and printed). Otherwise the
    process takes ownership of the dir (:class:`sim.cli.sweep.JobLock`; if another live process
    owns it, :class:`sim.cli.sweep.JobRunningElsewhere` is raised and nothing is written),
    ``run.json`` is written first (status ``running``), any previous run's outputs are
    removed (a killed run's finished rows of the same config are kept and the run resumes after
    them), and ``run.json`` is written again last (``complete``, or ``failed`` /
    ``interrupted`` with the error).

    Args:
        cfg: the resolved plain config (app options included).
        run_dir: the job's directory (created if missing).
        scenario: the scenario name, unless ``cfg`` has one.
        echo: print the summary.
        job: the job's place in its sweep (default: a single run).

    Returns:
        The summary (the content of ``summary.json``).

    Raises:
        SimError: a bad config value; nothing is written but ``run.json`` saying so.
    """
    from sim.cli.sweep import JobLock, completed_summary, config_hash, pool_hash, read_json
    from sim.core.errors import ConfigError

    job = job or JobInfo()
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = dict(cfg)
    cfg.setdefault("scenario", scenario)
    chash, phash = config_hash(cfg), pool_hash(cfg)
    options = split_app_options(cfg)
    resume = options["resume"]
    if not isinstance(resume, bool):
        raise ConfigError("resume", f"must be true or false, got {resume!r}")
    if resume:
        done = completed_summary(run_dir, chash)
        if done is not None:
            if echo:
                print(summary_text(done, cfg["scenario"], run_dir))
                print("  already complete in this dir (same config, same version): not run "
                      "again; resume=false runs it anyway", flush=True)
            return done
    with JobLock(run_dir):  # raises JobRunningElsewhere, writing nothing, if another owns it
        return _run_owned(cfg, run_dir, chash, options, job, echo,
                          read_json(run_dir / "run.json") if resume else None, phash)


def _run_owned(cfg: dict[str, Any], run_dir: Path, chash: str, options: dict[str, Any],
               job: JobInfo, echo: bool, previous: dict[str, Any] | None,
               phash: str = "") -> dict[str, Any]:
    """The body of :func:`run_job` once this process owns ``run_dir``.

    ``previous`` is the ``run.json`` left by an earlier run of the dir (None: do not resume).
    If it records the same config hash and version, the finished rows of its
    ``replications.csv.partial`` are kept (:func:`sim.outputs.results.resumable_rows`) and the run
    continues with the next replication: the final ``replications.csv`` is byte-identical to an
    uninterrupted run's. ``phash`` is the config's :func:`sim.cli.sweep.pool_hash`, recorded
    for a shard.
    """
    from sim.core.runner import iter_replications, resolve_workers, shard_range
    from sim.outputs import results

    trace, trace_replication = options["trace"], options["trace_replication"]
    workers_option = options["workers"]
    same_config = (previous is not None and previous.get("config_hash") == chash
                   and previous.get("version") == __version__)
    meta = new_record(cfg, options, chash, job)
    begin_record(run_dir, meta)
    t0 = time.perf_counter()
    try:
        output = check_output_options(options["output"])
        cfg, model, layer = prepare_model(cfg, options)
        if layer is not None:
            meta["policy_changes"] = list(layer.changes)
        n, seed = model.run.replications, model.run.seed
        reps = shard_range(n, options["shard"], options["shards"])
        if len(reps) < n:  # one shard of a larger job: sim.outputs.pool joins the shards
            meta["shard"] = {"index": options["shard"], "of": options["shards"],
                             "first": reps.start, "stop": reps.stop, "replications": n}
            meta["pool_hash"] = phash
            results.write_json_atomic(run_dir / "run.json", meta)
        workers = resolve_workers(workers_option)
        check_trace_options(trace, trace_replication, n)
        show = output.get("progress", "auto")
        if show == "auto" and job.parallel:
            show = False  # several jobs at once would draw over each other
        label = f"{job.label()} {cfg['scenario']}".strip()
        progress = Progress(len(reps), label, show)
        columns = layer.columns if layer is not None else ()
        crew = model.crew.size > 1  # a crew's rows have the crew columns (sim.agents.crew)
        kept = (results.resumable_rows(run_dir, columns, reps.stop, start=reps.start, crew=crew)
                if same_config else 0)
        if kept:
            meta["resumed_from"] = reps.start + kept
            results.write_json_atomic(run_dir / "run.json", meta)
            if echo:
                print(f"{label}: resuming after replication {reps.start + kept - 1} ({kept} "
                      f"finished rows kept from replications.csv.partial)", flush=True)
            progress.done = kept
        with results.ResultWriter(run_dir, extra_columns=columns, keep_rows=kept,
                                  crew=crew) as writer:
            for result in iter_replications(cfg, model, workers, start=reps.start + kept,
                                            stop=reps.stop):
                writer.write(result, extra=layer.price(result, model) if layer else ())
                progress.step()
            writer.finish()
        rows, summary = summarize_run(run_dir, cfg, model, layer, meta.get("shard"))
        if output.get("plot", True):
            results.plot_dwell(rows, model.run.horizon, run_dir / "dwell.png")
        if trace and trace_replication in reps:  # the shard holding it writes the trace
            write_trace(model, seed, trace_replication, run_dir,
                        figures=bool(output.get("plot", True)))
        if echo:  # before the record says complete: a job that cannot report is not done
            print(summary_text(summary, cfg["scenario"], run_dir), flush=True)
    except BaseException as exc:
        withdraw_outputs(run_dir)  # the rows go back to .partial: a re-run keeps every one
        record_failure(run_dir, meta, exc, t0)
        raise
    record_complete(run_dir, meta, t0)
    return summary


def summary_text(summary: dict[str, Any], scenario: str, run_dir: Path) -> str:
    """The lines ``python -m sim`` prints for a finished run (policy lines included)."""
    from sim.outputs import results

    text = results.format_summary(summary, scenario=scenario, run_dir=str(run_dir))
    if "policy" in summary:  # the policy lines go before "outputs in ..."
        from sim.policy import model as policy

        head, _, tail = text.rpartition("\n")
        text = "\n".join([head, *policy.format_summary(summary["policy"]), tail])
    return text


def prepare_model(cfg: dict[str, Any], options: dict[str, Any]
                  ) -> tuple[dict[str, Any], Any, Any]:
    """The config to simulate, its model and its policy layer (None without a regime or firm).

    With a policy layer the controls are raised to the regime's mandate before the model is
    built (:meth:`sim.policy.model.PolicyLayer.build`), so the returned config is what worker
    processes must rebuild from.
    """
    from sim.core.engine import build_model
    from sim.policy import model as policy

    layer = policy.PolicyLayer.from_config({"regime": options["regime"],
                                            "firm": options["firm"]})
    if layer is not None:
        cfg, model = layer.build(cfg)
    else:
        model = build_model(cfg)
    return cfg, model, layer


def summarize_run(run_dir: Path, cfg: dict[str, Any], model: Any, layer: Any,
                  shard: dict[str, Any] | None = None) -> tuple[list[Any], dict[str, Any]]:
    """Read ``run_dir/replications.csv`` back and write its ``summary.json``.

    The one place a summary is made from finished rows: a job's own rows, or the rows of its
    shards joined by :mod:`sim.outputs.pool` (so a pooled summary is byte-identical to the
    unsharded job's). A shard's summary says which replications it holds (``shard``).

    Returns:
        ``(rows, summary)``.
    """
    from sim.controls.triage import team_summary
    from sim.outputs import results

    rows, extra = results.read_table(run_dir / "replications.csv")
    summary = results.summarize(rows, model.run.horizon)
    summary["scenario"] = cfg["scenario"]
    summary["seed"] = model.run.seed
    team = team_summary(model, rows, model.run.seed)  # is the analyst team keeping up? (#12)
    if team is not None:
        summary["triage"] = team
    if layer is not None:
        summary["policy"] = layer.summarize(extra, rows, model)
    if shard is not None:
        summary["shard"] = dict(shard)
    results.write_json_atomic(run_dir / "summary.json", summary)
    return rows, summary


def check_job(cfg: dict[str, Any]) -> Any:
    """Run every check :func:`run_job` makes before simulating, on a copy of ``cfg``; return
    the model.

    The explorer (:mod:`sim.explore`) validates a form with it, so a value refused here is
    refused at the terminal with the same line. Nothing is written or simulated.

    Raises:
        SimError: the error ``python -m sim`` would print for this config.
    """
    from sim.core.errors import ConfigError
    from sim.core.runner import resolve_workers, shard_range

    cfg = dict(cfg)
    options = split_app_options(cfg)
    if not isinstance(options["resume"], bool):
        raise ConfigError("resume", f"must be true or false, got {options['resume']!r}")
    check_output_options(options["output"])
    _cfg, model, _layer = prepare_model(cfg, options)
    shard_range(model.run.replications, options["shard"], options["shards"])
    resolve_workers(options["workers"])
    check_trace_options(options["trace"], options["trace_replication"],
                        model.run.replications)
    return model


#: Top-level keys the app handles itself (defaults); everything else describes the model.
#: ``shard``/``shards``: run only the replications of one shard of the job
#: (:func:`sim.core.runner.shard_range`); ``python -m sim.report --pool`` joins the shards.
APP_OPTIONS: dict[str, Any] = {"output": {}, "trace": False, "trace_replication": 0,
                               "workers": 1, "resume": True, "regime": None, "firm": None,
                               "shard": 0, "shards": 1}


def split_app_options(cfg: dict[str, Any]) -> dict[str, Any]:
    """Remove the app's own keys from ``cfg`` (in place) and return them with defaults."""
    return {key: cfg.pop(key, default)
            for key, default in APP_OPTIONS.items()}


#: The keys of ``output`` and what each allows.
OUTPUT_OPTIONS: dict[str, tuple[Any, ...]] = {"plot": (True, False),
                                              "progress": (True, False, "auto")}


def check_output_options(output: Any) -> dict[str, Any]:
    """``output`` as a dict after rejecting unknown keys and values other than the allowed."""
    import difflib

    from sim.core.errors import ConfigError

    if output is None:
        return {}
    if not isinstance(output, dict):
        raise ConfigError("output", f"must be a mapping with keys {', '.join(OUTPUT_OPTIONS)}, "
                                    f"got {output!r}")
    for key, value in output.items():
        if key not in OUTPUT_OPTIONS:
            near = difflib.get_close_matches(str(key), list(OUTPUT_OPTIONS), n=1)
            hint = f"did you mean output.{near[0]}? " if near else ""
            raise ConfigError(f"output.{key}", f"unknown key; {hint}allowed keys are "
                                               f"{', '.join(OUTPUT_OPTIONS)}")
        allowed = OUTPUT_OPTIONS[key]
        if not any(value is a or (isinstance(a, str) and value == a) for a in allowed):
            names = ", ".join(str(a).lower() if isinstance(a, bool) else a for a in allowed)
            raise ConfigError(f"output.{key}", f"must be one of {names}; got {value!r}")
    return dict(output)


def check_trace_options(trace: Any, replication: Any, replications: int) -> None:
    """Reject bad ``trace``/``trace_replication`` values before anything is simulated."""
    from sim.core.errors import ConfigError

    if not isinstance(trace, bool):
        raise ConfigError("trace", f"must be true or false, got {trace!r}")
    if isinstance(replication, bool) or not isinstance(replication, int) \
            or not 0 <= replication < replications:
        raise ConfigError("trace_replication", f"must be an integer in [0, {replications - 1}]"
                                               f", got {replication!r}")


def write_trace(model: Any, seed: int, replication: int, run_dir: Path, *,
                figures: bool = True) -> None:
    """Re-run one replication with tracing on; write its ``events.jsonl`` (labelled with the
    scenario, seed and replication) and, with ``figures``, ``timeline.png`` and
    ``network.png`` (:func:`sim.outputs.figures.write_trace_figures`)."""
    from sim.core.engine import simulate
    from sim.outputs.trace import write_jsonl

    events: list[dict[str, Any]] = []
    result = simulate(model, seed, replication, trace=events)
    write_jsonl(events, model.calendar, run_dir / "events.jsonl",
                labels={"scenario": model.run.scenario, "seed": seed,
                        "replication": replication})
    if figures:
        from sim.outputs.figures import write_trace_figures

        write_trace_figures(model, result, events, run_dir)


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> Any:
    """Hydra entry point: resolve the config once, then hand plain data to :func:`run_job`.

    A single run that fails on bad input prints one line and exits with code 2. A job of a
    multirun records its failure in its ``run.json``, prints one ``error:`` line naming the job
    and returns, so that the other jobs still run; the sweep's exit code comes at the end
    (see :func:`cli`).

    Returns:
        With an ``optimise`` node (``optimise=NAME``, for ``hydra/sweeper=optuna``): the job's
        objective value, a tuple for several (:mod:`sim.analysis.objectives`); a bad node stops
        the whole sweep with one line and exit 2 (every job would fail alike). Else None.
    """
    from hydra.core.hydra_config import HydraConfig

    from sim.cli.sweep import JobRunningElsewhere, describe_owner

    hc = HydraConfig.get()
    scenario = str(hc.runtime.choices.get("scenario") or "custom")
    job = job_info(hc)
    run_dir = Path(hc.runtime.output_dir)
    if job.num is not None:
        print(f"{job.label()}: {' '.join(job.overrides) or '(no overrides)'}", flush=True)
    try:
        try:
            plain = plain_config(cfg)
        except SimError as err:
            t0 = time.perf_counter()
            meta = {"status": "running", "scenario": scenario, "version": __version__,
                    "job": job.record(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            run_dir.mkdir(parents=True, exist_ok=True)
            begin_record(run_dir, meta)
            record_failure(run_dir, meta, err, t0)
            raise
        objective = _objective(plain)
        summary = run_job(plain, run_dir, scenario=scenario, job=job)
        if objective is not None:
            return objective.of_job(run_dir, summary)
    except JobRunningElsewhere as err:  # another launcher's job owns the dir: not a failure
        if job.num is None:
            fail(str(err), code=1)
        print(f"{job.label()}: running elsewhere ({describe_owner(err.owner)}): not run here",
              flush=True)
    except SimError as err:
        if job.num is None:
            fail(str(err))
        print(f"error: {job.label()} [{' '.join(job.overrides)}]: {err}", file=sys.stderr,
              flush=True)
    except KeyboardInterrupt:
        fail("interrupted; finished replications are in replications.csv.partial (the same "
             "command resumes from them)", code=130)
    except Exception as exc:
        if job.num is None:
            raise  # a bug: the traceback is the useful output
        first = f"{type(exc).__name__}: {exc}".splitlines()[0]
        print(f"error: {job.label()} [{' '.join(job.overrides)}]: {first} (traceback in "
              f"{run_dir / 'run.json'})", file=sys.stderr, flush=True)


def _objective(plain: dict[str, Any]) -> Any:
    """Pop and check ``plain["optimise"]`` (:func:`sim.analysis.objectives.pop_objective`)."""
    if "optimise" not in plain:
        return None
    from sim.analysis.objectives import pop_objective

    try:
        return pop_objective(plain)
    except SimError as err:
        fail(str(err))


def job_info(hc: Any) -> JobInfo:
    """The job's place in its sweep, from Hydra's runtime config (``HydraConfig.get()``).

    The total comes from the ``sweep.json`` that :class:`sim.cli.sweep.SweepCallback` wrote
    before the sweep started (or from Hydra's ``multirun.yaml``); it is None when neither can
    say (e.g. an Optuna sweep, whose jobs are not known in advance).
    """
    from hydra.types import RunMode

    from sim.cli.sweep import job_total

    # unresolved: an override's text may itself hold ``${...}``, which plain_config reports
    task = OmegaConf.to_container(hc.overrides.task, resolve=False) if hc.overrides.task else []
    overrides = tuple(str(o) for o in cast(list, task))
    if hc.mode != RunMode.MULTIRUN:
        return JobInfo(overrides=overrides)
    sweep_dir = Path(str(hc.sweep.dir))
    if not sweep_dir.is_absolute():
        sweep_dir = Path(str(hc.runtime.cwd)) / sweep_dir
    launcher = str(OmegaConf.select(hc.launcher, "_target_", default="") or "")
    return JobInfo(num=int(hc.job.num), total=job_total(sweep_dir), overrides=overrides,
                   sweep_dir=str(sweep_dir), parallel=not launcher.endswith(".BasicLauncher"))


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain Python data, converted once before simulating.

    Raises:
        ConfigError: a mandatory value (``???``) is unset or an interpolation fails.
    """
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    from sim.core.errors import ConfigError

    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", "") or "config"
        raise ConfigError(str(key), "has no value; set it on the command line, "
                                    f"e.g. {key}=VALUE") from None
    except OmegaConfBaseException as exc:
        raise ConfigError(str(getattr(exc, "full_key", "") or "config"),
                          str(exc).splitlines()[0]) from None
    assert isinstance(plain, dict)
    return cast(dict[str, Any], plain)


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code``."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def check_group_choices(argv: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Reject ``GROUP=OPTION`` overrides naming an option that does not exist, in one line.

    Hydra's own message for this spans a dozen lines; this check runs before Hydra starts.
    Sweeps (``a,b``), globs and other syntax are left to Hydra.
    """
    for arg in argv:
        if "=" not in arg or arg.startswith(("-", "+", "~", "hydra")):
            continue
        key, value = arg.split("=", 1)
        group = conf_dir / key
        if "@" in key or "." in key or not group.is_dir():
            continue
        if any(c in value for c in ",*()[]{}") or not value:
            continue
        options = sorted(p.stem for p in group.glob("*.yaml"))
        if value not in options:
            fail(f"{key}={value}: unknown {key}; choose one of {', '.join(options)}")


#: Hydra launcher plugins: config name prefix -> (plugin module, how to install it).
LAUNCHER_PLUGINS: dict[str, tuple[str, str]] = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher",
               "pip install hydra-joblib-launcher (part of the base install)"),
    "submitit": ("hydra_plugins.hydra_submitit_launcher",
                 "pip install -e '.[slurm]' (hydra-submitit-launcher)"),
    "ray": ("hydra_plugins.hydra_ray_launcher", "pip install -e '.[ray]' (hydra-ray-launcher)"),
}


#: Launcher configs that Hydra and its plugins provide themselves.
PLUGIN_LAUNCHERS: tuple[str, ...] = ("basic", "joblib", "submitit_local", "submitit_slurm",
                                     "ray", "ray_aws")


def check_launcher(argv: list[str], conf_dir: Path = CONF_DIR) -> None:
    """Reject ``hydra/launcher=NAME`` naming no launcher, or one whose plugin is not
    installed, in one line (Hydra's own message spans a dozen).

    NAME is one of our presets (``conf/hydra/launcher/NAME.yaml``, whose first default names
    the plugin's config) or a plugin's own config (``submitit_slurm``).
    """
    import importlib.util

    for arg in argv:
        if not arg.startswith("hydra/launcher="):
            continue
        name = arg.split("=", 1)[1]
        base = name
        presets = sorted(p.stem for p in (conf_dir / "hydra" / "launcher").glob("*.yaml"))
        if name not in presets and name not in PLUGIN_LAUNCHERS:
            fail(f"hydra/launcher={name}: unknown launcher; choose one of "
                 f"{', '.join(presets)} (presets in conf/hydra/launcher/) or "
                 f"{', '.join(PLUGIN_LAUNCHERS)}")
        preset = conf_dir / "hydra" / "launcher" / f"{name}.yaml"
        if preset.is_file():
            loaded = OmegaConf.load(preset)
            defaults = (loaded.get("defaults") if isinstance(loaded, DictConfig) else None) or []
            if defaults and isinstance(defaults[0], str):
                base = defaults[0]
        for prefix, (module, install) in LAUNCHER_PLUGINS.items():
            if base.startswith(prefix) and importlib.util.find_spec(module) is None:
                fail(f"hydra/launcher={name}: the {prefix} launcher plugin is not installed; "
                     f"{install}")


#: sweeper prefix -> (plugin module, how to install it)
SWEEPER_PLUGINS = {
    "optuna": ("hydra_plugins.hydra_optuna_sweeper",
               "pip install -e '.[optimise]' (hydra-optuna-sweeper)"),
}


def check_sweeper(argv: list[str]) -> None:
    """Reject ``hydra/sweeper=NAME`` whose plugin is not installed, in one line, saying what
    to install (``optuna_sqlite``, our preset in conf/hydra/sweeper/, and the plugin's own
    ``optuna`` both need hydra-optuna-sweeper; without it Hydra says only that it cannot find
    the sweeper's config)."""
    import importlib.util

    for arg in argv:
        if not arg.startswith("hydra/sweeper="):
            continue
        name = arg.split("=", 1)[1]
        for prefix, (module, install) in SWEEPER_PLUGINS.items():
            if name.startswith(prefix) and importlib.util.find_spec(module) is None:
                fail(f"hydra/sweeper={name}: the {prefix} sweeper plugin is not installed; "
                     f"{install}")


def absolute_sweep_dir(argv: list[str]) -> list[str]:
    """``argv`` with a relative ``hydra.sweep.dir=DIR`` made absolute (from the cwd).

    Remote workers (a Ray cluster, SLURM nodes started elsewhere) have another cwd; an
    absolute sweep dir makes every job write where the user asked. Values holding an
    interpolation (``${...}``) are left alone.
    """
    out = []
    for arg in argv:
        if arg.startswith("hydra.sweep.dir="):
            value = arg.split("=", 1)[1]
            if value and "${" not in value and not Path(value).is_absolute():
                arg = f"hydra.sweep.dir={Path(value).resolve()}"
        out.append(arg)
    return out


def _is_group_choice(arg: str, conf_dir: Path = CONF_DIR) -> bool:
    """``GROUP=OPTION`` or ``+GROUP@PKG=OPTION`` with one option (no sweep)."""
    if "=" not in arg or arg.startswith(("-", "~", "hydra")):
        return False
    key, value = arg.lstrip("+").split("=", 1)
    group = key.split("@", 1)[0]
    return ("." not in group and (conf_dir / group).is_dir() and bool(value)
            and not any(c in value for c in ",*()[]{}"))


def known_keys(argv: Sequence[str], conf_dir: Path = CONF_DIR) -> list[str]:
    """Every dotted key of the config that ``argv``'s group choices compose (no ``hydra.``)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    def walk(node: Any, prefix: str) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                dotted = f"{prefix}{key}"
                yield dotted
                yield from walk(value, dotted + ".")

    for overrides in ([a for a in argv if _is_group_choice(a, conf_dir)], []):
        try:
            GlobalHydra.instance().clear()
            with initialize_config_dir(str(conf_dir), version_base="1.3"):
                cfg = compose("config", overrides=overrides)
            return list(walk(OmegaConf.to_container(cfg, resolve=False), ""))
        except Exception:  # noqa: BLE001 - only a hint: try without the choices, then give up
            continue
        finally:
            GlobalHydra.instance().clear()
    return []


def nearest_key(key: str, keys: Sequence[str]) -> str | None:
    """The valid key most like ``key`` (difflib), or None when nothing is close."""
    import difflib

    near = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    return near[0] if near else None


def describe_hydra_error(exc: BaseException, argv: Sequence[str]) -> str:
    """One line (``KEY: what is wrong and what is allowed``) for an error Hydra raised while
    composing the config or parsing the command line."""
    import re

    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    unknown = re.match(r"Could not (?:override|append to config) '([^']+)'", first)
    if unknown:
        key = unknown.group(1)
        keys = known_keys(argv)
        parent, _, _ = key.rpartition(".")
        near = nearest_key(key, keys)
        hint = f"did you mean {near}? " if near else ""
        siblings = [k[len(parent) + 1:] if parent else k for k in keys
                    if k.rpartition(".")[0] == parent]
        if siblings:
            shown = ", ".join(siblings[:15]) + (", ..." if len(siblings) > 15 else "")
            where = f"keys under {parent}" if parent else "top-level keys"
            allowed = f"{where}: {shown}"
        else:
            allowed = f"{parent} has no keys of its own" if parent else "see conf/config.yaml"
        return (f"{key}: unknown key; {hint}{allowed} (+{key}=VALUE adds a new key where one "
                f"is allowed, e.g. +detectors.NAME)")
    override = getattr(exc, "override", None)  # OverrideParseException names its override
    if isinstance(override, str) and override:
        return f"{override}: cannot parse this override: {first}"
    if first.startswith("Ambiguous value for argument"):
        arg = next((a for a in argv if a in first), "command line")
        return (f"{arg}: a list of values is a sweep; run it with -m (--multirun), or quote a "
                f"list as '[a,b]'")
    missing = re.search(r"Could not find '([^'/]+)/([^']+)'", first)
    if missing:
        group, option = missing.groups()
        arg = next((a for a in argv if a.lstrip("+~").startswith(group)
                    and a.endswith(f"={option}")), f"{group}={option}")
        options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
        return f"{arg}: unknown {group}; choose one of {', '.join(options) or '(none)'}"
    quoted = re.findall(r"'([^']+)'", first)
    arg = next((a for a in argv if a in text), None) or next(
        (q for q in quoted if any(q in a for a in argv)), None)
    return f"{arg or 'command line'}: {first}"


#: errno values that mean "you may not write there": bad input (a path), not a crash.
_PATH_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR,
                          errno.EEXIST, errno.EISDIR, errno.ENAMETOOLONG})


def describe_os_error(exc: OSError, argv: Sequence[str]) -> tuple[str, int]:
    """One line and an exit code for an OS error: almost always an output dir that cannot be
    written (``hydra.run.dir=/proc/x``, a read-only sweep dir). Exit code 2 for a path the
    user chose badly, 1 for anything else (a full disk)."""
    multirun = any(a in ("-m", "--multirun") for a in argv)
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    code = 2 if exc.errno in _PATH_ERRNOS else 1
    return (f"{key}: cannot write{where}: {reason}; choose a directory you can write "
            f"({key}=DIR)"), code


def check_output_dirs(argv: Sequence[str]) -> None:
    """Fail in one line if ``hydra.run.dir=DIR`` / ``hydra.sweep.dir=DIR`` (the one this
    command uses) cannot be created and written, before Hydra or a callback tries.

    The dir is created (as Hydra would) and a probe file written and removed. Values holding
    an interpolation are left to Hydra (its error is reported by :func:`cli`).
    """
    import tempfile

    multirun = any(a in ("-m", "--multirun") for a in argv)
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    for arg in argv:
        if not arg.startswith(key + "="):
            continue
        value = arg.split("=", 1)[1]
        if not value or "${" in value:
            continue
        try:
            Path(value).mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=value):
                pass
        except OSError as exc:
            message, code = describe_os_error(exc, argv)
            fail(message, code)


def register_launchers() -> None:
    """Register the project's own launcher (``hydra/launcher=local_submitit``: submitit's local
    launcher with a cap on jobs at once) when its base plugin is installed."""
    try:
        from hydra_plugins.insider_sim_launcher import _capped
    except ImportError:
        return  # hydra-submitit-launcher is not installed: check_launcher says so
    _capped.register()


#: At most this many job configs composed while a sweeper validates a batch are kept for its
#: launcher (one composed config holds some hundred KB; beyond this, jobs compose again).
COMPOSED_KEPT = 256


@contextlib.contextmanager
def one_composition(argv: Sequence[str]) -> Iterator[None]:
    """Compose each config once, not twice (Hydra internals, restored on exit).

    * A run: before running, Hydra composes the whole config only to read ``hydra.mode``
      (``Hydra.get_mode``), then composes it again to run. No file in conf/ sets
      ``hydra.mode`` (tests/cli/test_app.py checks), so unless the command line does, the
      answer is known without composing: None (RUN, or MULTIRUN with ``-m``).
    * A sweep: the sweeper composes every job's config to validate the batch up front
      (``Sweeper.validate_batch_is_legal``), then the launcher composes each again, in the
      same process, to launch it. The configs composed while validating are handed to the
      launcher (each object once; up to :data:`COMPOSED_KEPT`) instead of being thrown away.

    * Every composition deep-copies the config repository (``CachingConfigRepository``, so
      that a search path set in the primary config does not change it), and with it the whole
      ConfigStore of structured configs, which it only reads (``ConfigStore.load`` hands out
      copies): the store is shared instead of copied (~5 ms per composition).
    * Every composition re-reads and re-parses each YAML file of conf/ (``FileConfigSource``)
      and Hydra's own; here each file is parsed once per process (conf/ keyed by path, size and
      mtime, so an edited file is read again) and every composition gets its own copy of the
      file's config (unpickled: faster than building it from the parsed data).
    * Compositions of one *shape* (the same group choices and additions; ``seed=1`` and
      ``seed=2`` differ only in values) share one defaults list and one merge of their
      configs; each gets its own copy (unpickled from the merged config, faster than a deep
      copy), to which Hydra applies the job's own value overrides as usual
      (tests/cli/test_app.py compares every config with Hydra's own).
    * The defaults list and merged config of a shape are also kept on disk
      (:mod:`sim.cli.compose_cache`, keyed by the shape and a fingerprint of conf/, the
      plugins, the versions and this code), so the next process with the same shape, e.g. the
      same command with another seed or run dir, skips them (~0.1 s of start-up).

    Together they cut the fixed cost of a short job by about half (experiments/benchmark/).
    """
    import copy
    import pickle
    import warnings

    import yaml
    from hydra.core.plugins import Plugins

    from sim.cli.compose_cache import open_cache

    # Hydra's plugin scan (which every run does anyway) reloads the modules of its core
    # plugins, replacing their classes: scan first, then patch the classes that stay.
    Plugins.instance()
    from hydra._internal import config_loader_impl as loader_module
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.config_repository import CachingConfigRepository
    from hydra._internal.core_plugins.file_config_source import FileConfigSource
    from hydra._internal.core_plugins.importlib_resources_config_source import (
        ImportlibResourcesConfigSource,
    )
    from hydra._internal.defaults_list import DefaultsList
    from hydra._internal.hydra import Hydra
    from hydra.core.config_store import ConfigStore
    from hydra.plugins.config_source import ConfigResult, ConfigSource
    from hydra.plugins.sweeper import Sweeper
    from omegaconf._utils import get_yaml_loader

    real_mode, real_load = Hydra.get_mode, ConfigLoaderImpl.load_sweep_config
    real_validate = Sweeper.validate_batch_is_legal
    real_file_load = FileConfigSource.load_config
    real_defaults = loader_module.create_defaults_list
    real_compose = ConfigLoaderImpl._compose_config_from_defaults_list
    real_resource_load = ImportlibResourcesConfigSource.load_config
    real_caching_init = CachingConfigRepository.__init__
    resources: dict[tuple[str, str], Any] = {}
    parsed: dict[tuple[str, int, int], tuple[Any, dict[str, Any]]] = {}
    disk = open_cache()  # None when INSIDER_SIM_CACHE_DIR=off

    def load_config(self: Any, config_path: str) -> Any:
        full = os.path.realpath(os.path.join(self.path, self._normalize_file_name(config_path)))
        try:
            st = os.stat(full)
        except OSError:
            return real_file_load(self, config_path)  # Hydra's own "not found"
        key = (full, st.st_size, st.st_mtime_ns)
        cfg = None
        if key not in parsed:
            with open(full, encoding="utf-8") as f:
                text = f.read()
            stored = disk.load_yaml(text) if disk is not None else None
            if stored is None:
                obj = yaml.load(text, Loader=get_yaml_loader())
                if obj is not None and not isinstance(obj, (list, dict, str)):
                    return real_file_load(self, config_path)
                cfg = OmegaConf.create() if obj is None else OmegaConf.create(obj)
                stored = (pickle.dumps(cfg, protocol=pickle.HIGHEST_PROTOCOL),
                          ConfigSource._get_header_dict(text[:512]))
                if disk is not None:
                    disk.save_yaml(text, *stored)
            parsed[key] = stored
        blob, header = parsed[key]
        if cfg is None:  # every later load gets its own copy of the file's config
            cfg = pickle.loads(blob)
        return ConfigResult(config=cfg, path=f"{self.scheme()}://{self.path}",
                            provider=self.provider, header=dict(header))
    composed: dict[tuple[int, tuple[str, ...]], Any] = {}
    validating = False
    shapes: dict[tuple[Any, ...], Any] = {}
    bases: dict[int, tuple[Any, bytes]] = {}
    unsaved: dict[int, tuple[Any, tuple[Any, ...], str]] = {}  # defaults id -> list, key, fp

    def quietly(call: Any, *args: Any, **kwargs: Any) -> tuple[Any, bool]:
        """``call(...)`` and whether it warned; the warnings are shown as usual."""
        with warnings.catch_warnings(record=True) as caught:
            out = call(*args, **kwargs)
        for w in caught:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
        return out, not caught

    def create_defaults_list(repo: Any, config_name: Any, overrides_list: list[Any],
                             prepend_hydra: bool, skip_missing: bool) -> Any:
        """Hydra's defaults list, computed once per *shape*: the overrides that choose configs
        (group choices, additions, deletions) and the config sources. Jobs that differ only
        in values (``seed=3``) share it; each gets its own value overrides, split from the
        rest exactly as :class:`hydra._internal.defaults_list.Overrides` splits them."""
        values = [o for o in overrides_list if not o.is_sweep_override()
                  and (isinstance(o.value(), dict) or not repo.group_exists(o.key_or_group))]
        value_ids = {id(o) for o in values}
        shape = tuple(o.input_line for o in overrides_list if id(o) not in value_ids)
        sources = tuple((s.scheme(), s.path, s.provider) for s in repo.get_sources())
        key = (config_name, shape, sources, prepend_hydra, skip_missing)
        if key not in shapes:
            fingerprint = disk.fingerprint(sources) if disk is not None else None
            entry = disk.load(key, fingerprint) if fingerprint is not None else None
            if entry is not None:  # composed by an earlier process
                shapes[key] = DefaultsList(defaults=entry["defaults"],
                                           defaults_tree=entry["defaults_tree"],
                                           config_overrides=[], overrides=entry["overrides"])
                bases[id(entry["defaults"])] = (entry["defaults"], entry["base"])
            else:
                shapes[key], clean = quietly(
                    real_defaults, repo=repo, config_name=config_name,
                    overrides_list=overrides_list, prepend_hydra=prepend_hydra,
                    skip_missing=skip_missing)
                if fingerprint is not None and clean:  # stored once its merge is known
                    unsaved[id(shapes[key].defaults)] = (shapes[key], key, fingerprint)
        found = shapes[key]
        choices = copy.copy(found.overrides)
        choices.config_overrides = values
        return DefaultsList(defaults=found.defaults, defaults_tree=found.defaults_tree,
                            config_overrides=values, overrides=choices)

    def compose_from_defaults(self: Any, defaults: Any, repo: Any) -> Any:
        """The configs of a defaults list merged once; every caller gets its own copy
        (Hydra then applies the job's value overrides to it): the first the merged config
        itself, the others unpickled from it as it was before any override."""
        base = bases.get(id(defaults))
        if base is not None and base[0] is defaults:
            return pickle.loads(base[1])
        cfg, clean = quietly(real_compose, self, defaults, repo)
        blob = pickle.dumps(cfg, protocol=pickle.HIGHEST_PROTOCOL)
        bases[id(defaults)] = (defaults, blob)
        pending = unsaved.pop(id(defaults), None)
        if pending is not None and pending[0].defaults is defaults and clean and disk:
            found, key, fingerprint = pending
            kept = copy.copy(found.overrides)
            kept.config_overrides = []  # the first job's values are not part of the shape
            disk.save(key, fingerprint, defaults=found.defaults,
                      defaults_tree=found.defaults_tree, overrides=kept, base=blob)
        return cfg

    def load_resource(self: Any, config_path: str) -> Any:
        """Hydra's own packaged configs (logging, help): read once, a new config each time."""
        key = (str(self.path), config_path)
        if key not in resources:
            found = real_resource_load(self, config_path)
            resources[key] = (OmegaConf.to_container(found.config, resolve=False), found)
        plain, found = resources[key]
        return ConfigResult(config=OmegaConf.create(copy.deepcopy(plain)), path=found.path,
                            provider=found.provider, header=dict(found.header),
                            is_schema_source=found.is_schema_source)

    def caching_repository(self: Any, delegate: Any) -> None:
        """Hydra's ``CachingConfigRepository.__init__`` without copying the ConfigStore."""
        store = ConfigStore.instance()
        self.delegate = copy.deepcopy(delegate, {id(store): store})
        self.cache = {}

    def load_sweep_config(self: Any, master_config: Any, sweep_overrides: list[str]) -> Any:
        key = (id(master_config), tuple(sweep_overrides))
        if not validating and key in composed:
            return composed.pop(key)
        cfg = real_load(self, master_config, sweep_overrides)
        if validating and len(composed) < COMPOSED_KEPT:
            composed[key] = cfg
        return cfg

    def validate_batch_is_legal(self: Any, batch: Any) -> None:
        nonlocal validating
        validating = True
        try:
            real_validate(self, batch)
        finally:
            validating = False

    if not any("hydra.mode" in arg for arg in argv):
        Hydra.get_mode = lambda self, config_name, overrides: None  # type: ignore
    ConfigLoaderImpl.load_sweep_config = load_sweep_config  # type: ignore
    FileConfigSource.load_config = load_config  # type: ignore
    ImportlibResourcesConfigSource.load_config = load_resource  # type: ignore
    Sweeper.validate_batch_is_legal = validate_batch_is_legal  # type: ignore
    CachingConfigRepository.__init__ = caching_repository  # type: ignore
    loader_module.create_defaults_list = create_defaults_list  # type: ignore
    ConfigLoaderImpl._compose_config_from_defaults_list = compose_from_defaults  # type: ignore
    try:
        yield
    finally:
        Hydra.get_mode = real_mode  # type: ignore
        ConfigLoaderImpl.load_sweep_config = real_load  # type: ignore
        Sweeper.validate_batch_is_legal = real_validate  # type: ignore
        FileConfigSource.load_config = real_file_load  # type: ignore
        ImportlibResourcesConfigSource.load_config = real_resource_load  # type: ignore
        CachingConfigRepository.__init__ = real_caching_init  # type: ignore
        loader_module.create_defaults_list = real_defaults  # type: ignore
        ConfigLoaderImpl._compose_config_from_defaults_list = real_compose  # type: ignore
        shapes.clear()
        bases.clear()
        unsaved.clear()
        resources.clear()
        composed.clear()
        parsed.clear()


def cli() -> None:
    """Console entry point (``python -m sim``); a sweep exits non-zero if a job did not complete.

    Exit codes: 0 done; 2 bad input (for a sweep: every job that did not complete had bad
    input); 1 a sweep with a job that crashed, was killed or is missing; 130 interrupted.
    """
    from sim.cli import sweep
    if sys.argv[1:2] == ["explore"]:  # `insider-sim explore [...]`: the explorer (sim.explore)
        from sim.explore.__main__ import main as explore

        sys.exit(explore(sys.argv[2:]))
    if not CONF_DIR.is_dir():
        fail(f"config directory {CONF_DIR} not found: install the project with "
             "`pip install -e .` from its repository")
    # ``KEY=V -m KEY=A,B``: argparse takes no overrides after a flag that follows overrides
    # (a dozen lines of usage); the flag means the same anywhere, so it goes first
    flags = [a for a in sys.argv[1:] if a in ("-m", "--multirun")]
    if flags:
        sys.argv[1:] = flags[:1] + [a for a in sys.argv[1:] if a not in ("-m", "--multirun")]
    check_group_choices(sys.argv[1:])
    check_launcher(sys.argv[1:])
    check_sweeper(sys.argv[1:])
    sys.argv[1:] = absolute_sweep_dir(sys.argv[1:])
    check_output_dirs(sys.argv[1:])
    if any("launcher" in arg for arg in sys.argv[1:]):
        register_launchers()  # imports submitit (~0.2 s): only when a launcher is chosen
    sweep.LAST_SWEEP = None
    argv = list(sys.argv[1:])
    # Hydra prints its own errors over several lines and exits with 1; with HYDRA_FULL_ERROR
    # they reach us instead, and bad input becomes one line and exit code 2 (a bug in a single
    # run still shows its whole traceback).
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        with one_composition(argv):
            main()
    except HydraException as exc:
        fail(describe_hydra_error(exc, argv))
    except OSError as exc:
        message, code = describe_os_error(exc, argv)
        fail(message, code)
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous
    if sweep.LAST_SWEEP is not None and sweep.LAST_SWEEP.exit_code:
        sys.exit(sweep.LAST_SWEEP.exit_code)
