"""The command line: ``python -m sim [KEY=VALUE ...]``, a Hydra app over conf/.

One job = one config: it validates everything before simulating (a bad value is one line on
stderr and exit code 2), runs the replications, and writes into Hydra's run dir:

* ``replications.csv`` - one row per replication (streamed to ``replications.csv.partial``
  and renamed when the last row is in, so a crash never leaves a file that looks complete);
* ``summary.json`` - the run's statistics;
* ``dwell.png`` - the dwell-time distribution;
* ``run.json`` - status (``running``, ``complete``, ``failed``, ``interrupted``), seed,
  software version, runtime and the error if any; written first and last.
"""

from __future__ import annotations

import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from sim import __version__
from sim.errors import SimError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


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


def run_job(cfg: dict[str, Any], run_dir: Path, *, scenario: str = "custom",
            echo: bool = True) -> dict[str, Any]:
    """Validate ``cfg``, simulate every replication and write the outputs into ``run_dir``.

    Returns:
        The summary (the content of ``summary.json``).

    Raises:
        SimError: a bad config value; nothing is written but ``run.json`` saying so.
    """
    from sim import results
    from sim.engine import build_model
    from sim.runner import iter_replications, resolve_workers

    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = dict(cfg)
    options = split_app_options(cfg)
    output = dict(options["output"] or {})
    trace, trace_replication = options["trace"], options["trace_replication"]
    workers_option = options["workers"]
    cfg.setdefault("scenario", scenario)
    meta: dict[str, Any] = {"status": "running", "scenario": cfg["scenario"],
                            "seed": cfg.get("seed"), "version": __version__,
                            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": cfg}
    results.write_json_atomic(run_dir / "run.json", meta)
    t0 = time.perf_counter()
    try:
        model = build_model(cfg)
        n, seed = model.run.replications, model.run.seed
        workers = resolve_workers(workers_option)
        check_trace_options(trace, trace_replication, n)
        progress = Progress(n, cfg["scenario"], output.get("progress", "auto"))
        with results.ResultWriter(run_dir) as writer:
            for result in iter_replications(cfg, model, workers):
                writer.write(result)
                progress.step()
            writer.finish()
        rows = results.read_replications(run_dir / "replications.csv")
        summary = results.summarize(rows, model.run.horizon)
        summary["scenario"] = cfg["scenario"]
        summary["seed"] = seed
        results.write_json_atomic(run_dir / "summary.json", summary)
        if output.get("plot", True):
            results.plot_dwell(rows, model.run.horizon, run_dir / "dwell.png")
        if trace:
            write_trace(model, seed, trace_replication, run_dir)
    except BaseException as exc:
        meta["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        meta["error"] = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, (SimError, KeyboardInterrupt)):
            meta["traceback"] = traceback.format_exc()
        meta["runtime_s"] = round(time.perf_counter() - t0, 3)
        results.write_json_atomic(run_dir / "run.json", meta)
        raise
    meta["status"] = "complete"
    meta["runtime_s"] = round(time.perf_counter() - t0, 3)
    results.write_json_atomic(run_dir / "run.json", meta)
    if echo:
        print(results.format_summary(summary, scenario=cfg["scenario"], run_dir=str(run_dir)))
    return summary


#: Top-level keys the app handles itself (defaults); everything else describes the model.
APP_OPTIONS: dict[str, Any] = {"output": {}, "trace": False, "trace_replication": 0,
                               "workers": 1}


def split_app_options(cfg: dict[str, Any]) -> dict[str, Any]:
    """Remove the app's own keys from ``cfg`` (in place) and return them with defaults."""
    return {key: cfg.pop(key, default)
            for key, default in APP_OPTIONS.items()}


def check_trace_options(trace: Any, replication: Any, replications: int) -> None:
    """Reject bad ``trace``/``trace_replication`` values before anything is simulated."""
    from sim.errors import ConfigError

    if not isinstance(trace, bool):
        raise ConfigError("trace", f"must be true or false, got {trace!r}")
    if isinstance(replication, bool) or not isinstance(replication, int) \
            or not 0 <= replication < replications:
        raise ConfigError("trace_replication", f"must be an integer in [0, {replications - 1}]"
                                               f", got {replication!r}")


def write_trace(model: Any, seed: int, replication: int, run_dir: Path) -> None:
    """Re-run one replication with tracing on and write its ``events.jsonl``."""
    from sim.engine import simulate
    from sim.trace import write_jsonl

    events: list[dict[str, Any]] = []
    simulate(model, seed, replication, trace=events)
    write_jsonl(events, model.calendar, run_dir / "events.jsonl")


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: resolve the config once, then hand plain data to :func:`run_job`."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    scenario = hc.runtime.choices.get("scenario") or "custom"
    try:
        plain = plain_config(cfg)
        run_job(plain, Path(hc.runtime.output_dir), scenario=str(scenario))
    except SimError as err:
        fail(str(err))
    except KeyboardInterrupt:
        fail("interrupted; finished replications are in replications.csv.partial", code=130)


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain Python data, converted once before simulating.

    Raises:
        ConfigError: a mandatory value (``???``) is unset or an interpolation fails.
    """
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    from sim.errors import ConfigError

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
    return plain


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


def cli() -> None:
    """Console entry point (``python -m sim``)."""
    if not CONF_DIR.is_dir():
        fail(f"config directory {CONF_DIR} not found: install the project with "
             "`pip install -e .` from its repository")
    check_group_choices(sys.argv[1:])
    main()
