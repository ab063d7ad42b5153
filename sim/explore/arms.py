"""Arms: runs of the explorer, each a ``python -m sim`` job in its own process and run dir.

An arm is exactly the job its exported command runs: the explorer starts
``python -m sim OVERRIDES hydra.run.dir=DIR`` (:func:`sim.explore.form.command`), so the arm's
``replications.csv`` and ``summary.json`` are those of the command line, byte for byte, and
a run is cancelled the way Ctrl-C stops it (SIGINT: ``run.json`` says ``interrupted``). Rows
are read as they are written (``replications.csv.partial``, flushed per row), so progress and
partial results come from the files, and the statistics from :mod:`sim.outputs` - nothing is
recomputed here.

At most :func:`sim.core.limits.max_explorer_runs` arms simulate at once; the others wait their
turn in submission order, so a class pressing Run together shares the cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.explore.form import command

QUEUED, RUNNING, COMPLETE, FAILED, CANCELLED = "queued", "running", "complete", "failed", \
    "cancelled"


@dataclass
class Arm:
    """One run of the explorer.

    Attributes:
        id: its number in this explorer (1, 2, ...).
        label: what the user called it.
        overrides: the exact overrides of ``python -m sim``.
        run_dir: its run dir (``replications.csv``, ``summary.json``, ``run.json``...).
        replications, horizon: what it runs (horizon in hours), for progress and plots.
        status: queued, running, complete, failed or cancelled.
        error: the one-line error of a failed run (the command line's ``error:`` line).
    """

    id: int
    label: str
    overrides: list[str]
    run_dir: Path
    replications: int
    horizon: float
    status: str = QUEUED
    error: str = ""
    started: float = 0.0
    finished: float = 0.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _rows: tuple[int, list[Any]] = field(default=(-1, []), repr=False)

    @property
    def command(self) -> str:
        """The shell command that reproduces the arm at a terminal."""
        return command(self.overrides, self.run_dir)

    @property
    def active(self) -> bool:
        return self.status in (QUEUED, RUNNING)

    def rows(self) -> list[Any]:
        """The replications finished so far (:class:`sim.outputs.results.ReplicationResult`),
        read from ``replications.csv`` or its ``.partial`` (a torn last line left out)."""
        from sim.outputs.results import ResultsFileError, read_table

        for name in ("replications.csv", "replications.csv.partial"):
            path = self.run_dir / name
            try:
                stamp = path.stat().st_mtime_ns + path.stat().st_size
            except OSError:
                continue
            if stamp == self._rows[0]:
                return self._rows[1]
            try:
                rows = read_table(path)[0]
            except (OSError, ResultsFileError):
                continue  # renamed under us, or the header not yet written
            self._rows = (stamp, rows)
            return rows
        return []

    def done(self) -> int:
        """How many replications have finished."""
        return len(self.rows())

    def summary(self) -> dict[str, Any] | None:
        """``summary.json`` once the run is complete."""
        try:
            return json.loads((self.run_dir / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


class ArmRunner:
    """Starts arms as processes, at most ``max_running`` at once, and keeps them.

    Args:
        base_dir: where the arms' run dirs go (``arm-001-LABEL``...).
        max_running: arms simulating at once (default :func:`sim.core.limits.max_explorer_runs`).
        python: the interpreter that runs ``-m sim`` (this one).
    """

    def __init__(self, base_dir: Path, max_running: int | None = None,
                 python: str = sys.executable) -> None:
        from sim.core.limits import max_explorer_runs

        self.base_dir = Path(base_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.max_running = max_running or max_explorer_runs()
        self.python = python
        self.arms: list[Arm] = []
        self._lock = threading.Lock()
        self._closed = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="arms", daemon=True)
        self._thread.start()

    def submit(self, label: str, overrides: list[str], replications: int,
               horizon: float) -> Arm:
        """Queue an arm; it starts as soon as a slot is free."""
        with self._lock:
            n = len(self.arms) + 1
            safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:40]
            arm = Arm(n, label or f"arm {n}", list(overrides),
                      self.base_dir / f"arm-{n:03d}-{safe or 'run'}", replications, horizon)
            self.arms.append(arm)
        self._wake.set()
        return arm

    def get(self, arm_id: int) -> Arm | None:
        with self._lock:
            return next((a for a in self.arms if a.id == arm_id), None)

    def cancel(self, arm: Arm) -> None:
        """Stop ``arm``: a queued arm never starts; a running one gets SIGINT (as Ctrl-C at
        the terminal: its finished rows stay in ``replications.csv.partial``), then SIGKILL
        if it has not stopped within 10 s."""
        with self._lock:
            if arm.status == QUEUED:
                arm.status = CANCELLED
                return
            proc = arm.process
            if arm.status != RUNNING or proc is None:
                return
            arm.status = CANCELLED
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        arm.finished = time.time()

    def close(self) -> None:
        """Cancel every active arm and stop the scheduler (on shutdown)."""
        self._closed = True
        self._wake.set()
        for arm in list(self.arms):
            if arm.active:
                self.cancel(arm)

    # -- scheduling ------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(0.2)
            self._wake.clear()
            with self._lock:
                for arm in self.arms:
                    if arm.status == RUNNING and arm.process is not None \
                            and arm.process.poll() is not None:
                        self._finish(arm)
                running = sum(a.status == RUNNING for a in self.arms)
                for arm in self.arms:
                    if running >= self.max_running or self._closed:
                        break
                    if arm.status == QUEUED:
                        self._start(arm)
                        running += 1

    def _start(self, arm: Arm) -> None:
        arm.run_dir.mkdir(parents=True, exist_ok=True)
        args = [self.python, "-m", "sim", *arm.overrides, f"hydra.run.dir={arm.run_dir}"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("HYDRA_FULL_ERROR", None)
        with open(arm.run_dir / "explorer.log", "wb") as log:
            arm.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, env=env,
                                           cwd=self.base_dir)
        arm.status = RUNNING
        arm.started = time.time()

    def _finish(self, arm: Arm) -> None:
        assert arm.process is not None
        code = arm.process.returncode
        arm.finished = time.time()
        if code == 0:
            arm.status = COMPLETE
            return
        arm.status = FAILED
        try:
            text = (arm.run_dir / "explorer.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        errors = [line for line in text.splitlines() if line.startswith("error: ")]
        arm.error = errors[-1][len("error: "):] if errors else \
            (text.strip().splitlines() or [f"exit code {code}"])[-1]
