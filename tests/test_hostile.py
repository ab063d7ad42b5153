"""Hostile input: what a shared scenario file or a careless command line may try.

Every case must end in a one-line ``error: KEY: ...`` and exit code 2 (or a documented,
bounded acceptance), and must never run code the config names but the engine does not allow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.network import Network
from sim.params import allowed_target, makes
from tests.conftest import make_model

ROOT = Path(__file__).resolve().parent.parent


def _marker_command(marker: Path) -> str:
    return f"touch {marker}"


@pytest.mark.parametrize("target", ["os.system", "subprocess.call", "builtins.eval",
                                    "sim.network.load", "sim.engine.simulate"])
def test_a_detector_target_that_is_no_detector_is_never_called(tmp_path, target):
    marker = tmp_path / "ran"
    with pytest.raises(ConfigError, match=r"detectors\.x\._target_: .* is not a Detector subclass"):
        make_model(detectors={"x": {"_target_": target, "command": _marker_command(marker)}})
    assert not marker.exists()


@pytest.mark.parametrize("target", ["os.system", "sim.network.load",
                                    "sim.detectors.PeriodicAudit"])
def test_a_network_target_must_be_a_marked_factory_or_a_network_class(tmp_path, target):
    # sim.network.load returns a Network but is not marked: only @makes(Network) functions
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
