"""Every option of every config group composes and builds (as in lightning-hydra-template)."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from sim.cli.app import CONF_DIR, plain_config, split_app_options
from sim.core.engine import build_model, simulate
from sim.core.errors import ConfigError


def compose_plain(overrides: list[str]) -> dict:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    plain = plain_config(cfg)
    split_app_options(plain)
    return plain


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize("scenario", options("scenario"))
def test_every_scenario_builds_and_runs_one_replication(scenario):
    model = build_model(compose_plain([f"scenario={scenario}"]))
    assert model.detectors, "a scenario without detectors measures nothing"
    res = simulate(model, 0, 0)
    assert res.dwell_hours > 0 or res.detected


@pytest.mark.parametrize("group", ["network", "insider", "background", "triage", "response"])
def test_every_group_option_builds(group):
    for option in options(group):
        overrides = [f"{group}={option}"]
        if (group, option) == ("network", "file"):
            with pytest.raises(ConfigError, match="^network.path: has no value"):
                compose_plain(overrides)
            continue
        build_model(compose_plain(overrides))


@pytest.mark.parametrize("option", options("detector"))
def test_every_detector_option_can_be_added_from_the_command_line(option):
    model = build_model(compose_plain([f"+detector@detectors.extra={option}"]))
    assert "extra" in [d.name for d in model.detectors]


def test_a_detector_can_be_removed_from_the_command_line():
    model = build_model(compose_plain(["~detectors.monitoring"]))
    assert "monitoring" not in [d.name for d in model.detectors]


def test_every_number_in_a_preset_has_a_comment_or_a_self_explaining_key():
    """Presets must say where numbers come from: a numeric value without a comment on its
    line is allowed only for keys whose meaning fixes the number (seed, zero, booleans)."""
    exempt = {"seed", "containment_cv", "batch_cv", "weekend_factor", "triage_time_cv",
              "shift_start_hour", "shift_hours", "utc_offset_hours", "duration",
              "coverage", "latency", "replications", "hosts", "datastores",
              "records_per_store", "employees", "sessions_per_day", "requests_per_record"}
    missing = []
    for path in CONF_DIR.rglob("*.yaml"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            body = line.split("#", 1)[0]
            if ":" not in body or "#" in line:
                continue
            key, value = (s.strip() for s in body.split(":", 1))
            if key in exempt or not value:
                continue
            try:
                float(value.rstrip("hdwmoy"))
            except ValueError:
                continue
            missing.append(f"{path.relative_to(CONF_DIR)}:{n}: {line.strip()}")
    assert not missing, "numbers without a source comment:\n" + "\n".join(missing)


def test_scenario_seed_changes_draws():
    model = build_model(compose_plain([]))
    assert simulate(model, 0, 0) != simulate(model, 1, 0)
    assert np.isfinite(simulate(model, 0, 1).dwell_hours)
