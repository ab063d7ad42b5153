"""``hydra/launcher=local_submitit``: submitit's local launcher, at most N jobs at once.

submitit's local executor starts every job of a sweep as its own process at once (100 jobs ->
100 processes) and has no ``array_parallelism`` like its SLURM executor. This launcher submits
jobs one at a time and keeps at most ``array_parallelism`` of them running (default: the
machine's cores), in job order; results come back in job order, as Hydra expects.

It lives in the ``hydra_plugins`` namespace because Hydra instantiates launchers only from
there. It needs ``hydra-submitit-launcher`` (``pip install -e '.[slurm]'``), so Hydra's plugin
scan skips it (a leading ``_``: no import warning where submitit is missing);
:func:`sim.cli.app.register_launchers` imports it and :func:`register` adds it to Hydra.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher
from omegaconf import OmegaConf

#: Seconds between polls of the running jobs.
POLL_S = 0.2


@dataclass
class CappedLocalQueueConf(LocalQueueConf):
    _target_: str = (
        "hydra_plugins.insider_sim_launcher._capped.CappedLocalLauncher"
    )
    # at most this many jobs run at once; null = the machine's cores
    array_parallelism: Any = None


ConfigStore.instance().store(group="hydra/launcher", name="submitit_local_capped",
                             node=CappedLocalQueueConf(), provider="insider_sim")


def cap(value: Any) -> int:
    """``array_parallelism`` as a positive count (None: every core)."""
    if value is None:
        return os.cpu_count() or 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"hydra.launcher.array_parallelism: must be a positive integer or "
                         f"null (every core), got {value!r}")
    return value


class CappedLocalLauncher(LocalLauncher):
    """submitit's local launcher with at most ``array_parallelism`` jobs running at once."""

    def __init__(self, **params: Any) -> None:
        self.array_parallelism = cap(params.pop("array_parallelism", None))
        super().__init__(**params)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
               ) -> Sequence[JobReturn]:
        import submitit

        assert self.config is not None
        assert len(job_overrides) > 0
        params = dict(self.params)
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR,
                                         folder=params.pop("submitit_folder"))
        base = set(OmegaConf.structured(LocalQueueConf).keys()) - {"_target_"}
        executor.update_parameters(**{k if k in base else f"{self._EXECUTOR}_{k}": v
                                      for k, v in params.items()
                                      if k not in ("_target_", "max_num_timeout")})
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        pending = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            print(f"[submitit local, at most {self.array_parallelism} at once] #{idx} : "
                  f"{' '.join(filter_overrides(overrides))}", flush=True)
            pending.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                            Singleton.get_state()))
        jobs: list[Any] = []
        running: list[Any] = []
        for args in pending:
            while len(running) >= self.array_parallelism:
                running = [j for j in running if not j.done()]
                if len(running) >= self.array_parallelism:
                    time.sleep(POLL_S)
            job = executor.submit(self, *args)
            jobs.append(job)
            running.append(job)
        return [j.results()[0] for j in jobs]


def register() -> None:
    """Make sure Hydra knows this launcher even where its plugin scan cannot see it.

    An editable install (``pip install -e .``) exposes the ``hydra_plugins`` namespace portion
    through an import hook that ``pkgutil.walk_packages`` - Hydra's plugin scan - does not list,
    so ``python -m sim`` registers the class itself (importing it works either way).
    """
    from hydra.core.plugins import Plugins

    name = f"{CappedLocalLauncher.__module__}.{CappedLocalLauncher.__name__}"
    Plugins.instance().class_name_to_class.setdefault(name, CappedLocalLauncher)
