"""The command line end to end: `python -m sim ...` as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sim.cli.app import CONF_DIR, check_group_choices

ROOT = Path(__file__).resolve().parents[2]


def run_sim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_default_scenario_writes_every_output(tmp_path):
    out = tmp_path / "run"
    proc = run_sim("replications=8", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout and "dwell" in proc.stdout
    rows = list(csv.DictReader((out / "replications.csv").open()))
    assert len(rows) == 8 and [int(r["replication"]) for r in rows] == list(range(8))
    for col in ("replication", "seed", "detected", "censored", "detected_by", "dwell_hours",
                "records_exfiltrated", "true_alerts", "false_alerts", "alerts_dropped"):
        assert col in rows[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replications"] == 8
    assert set(summary["dwell_hours"]) >= {"mean", "median", "p10", "p90"}
    assert (out / "dwell.png").stat().st_size > 10_000
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "complete" and meta["seed"] == 0
    assert not (out / "replications.csv.partial").exists()


def test_same_seed_gives_byte_identical_csv(tmp_path):
    for name in ("a", "b"):
        proc = run_sim("replications=5", "seed=42", f"hydra.run.dir={tmp_path / name}",
                       "output.plot=false")
        assert proc.returncode == 0, proc.stderr
    a = (tmp_path / "a" / "replications.csv").read_bytes()
    assert a == (tmp_path / "b" / "replications.csv").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["replications=0"], "error: replications: must be in [1, 1e+06], got 0"),
    (["replications=many"], "error: replications: must be an integer, got 'many'"),
    (["horizon=5 fortnights"], "error: horizon: must be a duration"),
    (["scenario=nope"], "error: scenario=nope: unknown scenario; choose one of analytic_audit,"),
    (["detectors.audit.coverage=1.5"], "error: detectors.audit.coverage: must be in [0, 1]"),
    (["network=file", "network.path=/nonexistent/net.graphml"], "error: /nonexistent/net.graphml"),
    (["scenario=coupang_2025_monitored", "triage.analysts=0"],
     "error: triage.analysts: is 0, but detectors.monitoring sends alerts"),
    (["triage.risk_threshold=3"], "error: triage.risk_threshold: applies only to discipline "
                                  "risk_based, and discipline is fifo"),
])
def test_bad_input_is_one_line_and_nonzero(tmp_path, args, message):
    out = tmp_path / "run"
    proc = run_sim(*args, f"hydra.run.dir={out}")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "replications.csv").exists() and not (out / "summary.json").exists()


def test_malformed_graph_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "net.json"
    bad.write_text('{"graph": {"employees": 5}, "nodes": [{"id": "a", "kind": "spaceship"}], '
                   '"edges": []}')
    proc = run_sim("network=file", f"network.path={bad}", f"hydra.run.dir={tmp_path / 'r'}")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {bad}") and "spaceship" in proc.stderr


def test_group_choice_check_lists_the_options():
    with pytest.raises(SystemExit) as exc:
        check_group_choices(["network=nowhere"])
    assert exc.value.code == 2
    check_group_choices(["network=coupang_like", "seed=3", "scenario=a,b", "+x=1"])


def test_every_config_option_exists_for_each_group():
    groups = [p.name for p in CONF_DIR.iterdir() if p.is_dir()]
    assert {"network", "insider", "background", "triage", "response", "detector",
            "scenario"} <= set(groups)


def test_rows_do_not_depend_on_workers_or_replication_count(tmp_path):
    """Replication r's row is the same whatever N and however many workers ran it."""
    common = ["scenario=coupang_2025", "output.plot=false", "horizon=60d"]
    runs = {"serial": ["replications=6", "workers=1"], "parallel": ["replications=6", "workers=2"],
            "fewer": ["replications=3", "workers=1"]}
    text = {}
    for name, args in runs.items():
        proc = run_sim(*common, *args, f"hydra.run.dir={tmp_path / name}")
        assert proc.returncode == 0, proc.stderr
        text[name] = (tmp_path / name / "replications.csv").read_text().splitlines()
    assert text["serial"] == text["parallel"]
    assert text["fewer"] == text["serial"][:4]  # header + rows 0..2


def test_trace_writes_an_event_log(tmp_path):
    proc = run_sim("replications=2", "trace=true", "trace_replication=1", "output.plot=false",
                   f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    # the default scenario monitors: the warm-up backlog, then the insider's first access
    assert [json.loads(x)["event.action"] for x in lines[:2]] == ["queue-backlog",
                                                                 "session-start"]
    bad = run_sim("replications=2", "trace=true", "trace_replication=5",
                  f"hydra.run.dir={tmp_path / 'bad'}")
    assert bad.returncode == 2 and "trace_replication: must be an integer in [0, 1]" in bad.stderr


def test_mostly_censored_run_reports_km_fields_honestly(tmp_path):
    """20 days of coupang_2025: most replications are censored; the summary must say so."""
    proc = run_sim("scenario=coupang_2025", "replications=40", "horizon=20d",
                   "output.plot=false", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["censored"] > 30
    assert s["km_median_dwell_hours"] is None  # never reached: not a spurious number
    assert s["dwell_hours"]["median"] == 20 * 24.0  # plain median is the horizon (lower bound)
    within = s["p_detected_within"]
    assert within["24h"]["ci95"][0] <= within["24h"]["estimate"] <= within["24h"]["ci95"][1]
    assert within["30d"]["estimate"] is None  # beyond the horizon: no number
    assert any("censor" in note or "undetected" in note for note in s["notes"])


def test_an_overloaded_team_is_warned_about_and_summarised(tmp_path):
    """The monitored Coupang case at threshold 4 (~300 false alarms a day) with one analyst:
    offered load ~3.4, one warning line; summary.json["triage"] says so."""
    out = tmp_path / "run"
    proc = run_sim("scenario=coupang_2025_monitored", "triage.analysts=1",
                   "detectors.monitoring.threshold=4", "replications=5", "output.plot=false",
                   f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    warnings = [x for x in proc.stdout.splitlines() if "warning: the analyst team is overloaded"
                in x]
    assert len(warnings) == 1, proc.stdout
    team = json.loads((out / "summary.json").read_text())["triage"]
    assert team["overloaded"] is True and 3 < team["offered_load"] < 4
    assert team["discipline"] == "fifo" and team["analysts"] == 1


#: What a plain run (``replications=1 output.plot=false``) must not import: each is lazy, loaded
#: only by the path that needs it (figures, a quantile, the report and its parquet, the studies,
#: the explorer, the launchers and sweepers of a sweep, a process pool), and together they
#: would double the start-up.
LAZY = ("scipy", "matplotlib", "pandas", "pyarrow", "SALib", "pyabc", "optuna", "dash",
        "plotly", "ray", "submitit", "joblib", "concurrent.futures.process",
        "sim.outputs.figures", "sim.outputs.report", "sim.outputs.pool", "sim.outputs.trace",
        "sim.analysis", "sim.explore", "sim.policy.report")

STARTUP_PROBE = """
import sys
LAZY = @LAZY@
from hydra._internal.config_loader_impl import ConfigLoaderImpl
import yaml

counts = {"compose": 0, "yaml": 0}
real_compose, real_yaml = ConfigLoaderImpl._load_configuration_impl, yaml.load

def compose(*a, **k):
    counts["compose"] += 1
    return real_compose(*a, **k)

def load(*a, **k):
    counts["yaml"] += 1
    return real_yaml(*a, **k)

ConfigLoaderImpl._load_configuration_impl = compose
yaml.load = load
sys.argv = ["sim", *sys.argv[1:]]
from sim.cli.app import cli
cli()
heavy = sorted(m for m in sys.modules if any(m == x or m.startswith(x + ".") for x in LAZY))
print("PROBE", counts["compose"], counts["yaml"], heavy)
""".replace("@LAZY@", repr(LAZY))


def test_fixed_cost_one_composition_per_job_and_no_heavy_imports(tmp_path):
    """A run composes its config once (Hydra's mode probe is skipped), a sweep once per job
    plus the sweep's own (the sweeper's validation hands its configs to the launcher), every
    YAML file is parsed once per process, and none of :data:`LAZY` (scipy, matplotlib, pandas,
    the report, the launchers, ...) is imported when no figure is written and one replication
    needs no quantile. With the composition cache (sim.cli.compose_cache) warm, a run of a shape
    composed before parses no YAML file at all."""
    def probe(*args: str, cache: str = "off") -> tuple[int, int, str]:
        env = {**os.environ, "INSIDER_SIM_CACHE_DIR": cache}
        proc = subprocess.run([sys.executable, "-c", STARTUP_PROBE, *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr
        compose, parsed, heavy = proc.stdout.split("PROBE")[-1].split(maxsplit=2)
        return int(compose), int(parsed), heavy.strip()

    compose, parsed_one, heavy = probe("replications=1", "output.plot=false",
                                       f"hydra.run.dir={tmp_path / 'run'}")
    assert (compose, heavy) == (1, "[]")
    assert parsed_one >= 10  # every file of the composition (conf/ and Hydra's own)
    compose, parsed, heavy = probe("-m", "seed=0,1,2", "replications=1", "output.plot=false",
                                   f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert (compose, heavy) == (1 + 3, "[]")
    assert parsed <= parsed_one + 2  # the sweep's files once (+ multirun/hydra yaml reads)
    cache = str(tmp_path / "cache")
    cold = probe("replications=1", "output.plot=false", f"hydra.run.dir={tmp_path / 'c1'}",
                 cache=cache)
    warm = probe("seed=5", "replications=1", "output.plot=false",
                 f"hydra.run.dir={tmp_path / 'c2'}", cache=cache)  # same shape, other values
    assert cold == (1, parsed_one, "[]") and warm == (1, 0, "[]")


def test_no_config_file_sets_hydra_mode():
    """sim.cli.app.one_composition answers Hydra's mode probe without composing; that is right
    only while no file in conf/ sets hydra.mode."""
    from omegaconf import OmegaConf

    for path in CONF_DIR.rglob("*.yaml"):
        cfg = OmegaConf.load(path)
        assert OmegaConf.select(cfg, "hydra.mode", default=None) is None, path


def test_a_job_that_cannot_print_its_summary_is_not_complete_and_keeps_its_rows(
        tmp_path, monkeypatch):
    """The record says complete only after the summary is printed: a job whose printing raises
    (a closed pipe) is recorded failed, so a sweep never tallies it complete, and its finished
    rows wait in replications.csv.partial: the re-run simulates nothing and writes the same
    bytes as an undisturbed run."""
    from sim.cli import sweep
    from sim.cli.app import run_job
    from sim.outputs import results
    from tests.conftest import BASE, merge

    cfg = merge(BASE, {"replications": 6, "output": {"plot": False}})
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    run_job(dict(cfg), whole, echo=False)

    def closed_pipe(*args, **kwargs):
        raise BrokenPipeError("stdout is closed")

    with monkeypatch.context() as m:
        m.setattr(results, "format_summary", closed_pipe)
        with pytest.raises(BrokenPipeError):
            run_job(dict(cfg), broken, echo=True)
    assert sweep.job_state(broken).status == "failed"
    assert sweep.sweep_outcome(tmp_path).counts["failed"] == 1  # the tally a sweep prints
    partial = (broken / "replications.csv.partial").read_text().splitlines()
    assert len(partial) == 1 + 6 and not (broken / "summary.json").exists()
    run_job(dict(cfg), broken, echo=False)
    meta = json.loads((broken / "run.json").read_text())
    assert meta["status"] == "complete" and meta["resumed_from"] == 6
    for name in ("replications.csv", "summary.json"):
        assert (broken / name).read_bytes() == (whole / name).read_bytes()


#: Compositions in the order a sweep might ask for them: shapes (group choices and additions)
#: repeat with other values (deleting a key, a dict value and a hydra.* key are values too), and
#: the plain config comes back after overridden ones.
SHAPES = [[], ["seed=3"], ["seed=4", "replications=7", "horizon=2y"], [],
          ["scenario=coupang_2025", "seed=1"], ["scenario=coupang_2025", "horizon=30d"],
          ["+detector@detectors.hygiene=credential_hygiene", "seed=2"],
          ["+detector@detectors.hygiene=credential_hygiene", "detectors.hygiene.interval=1w"],
          ["~detectors.external"], ["regime=gdpr", "seed=1"], ["regime=gdpr"],
          ["detectors={}", "seed=5"], ["hydra.job.chdir=true", "seed=6"], ["seed=3"]]


def config_signature(cfg: Any) -> list[tuple[Any, ...]]:
    """Every node of an OmegaConf config: its path, node class, flags, declared and object
    types and value; two configs with equal signatures behave alike (not only print alike)."""
    from omegaconf import DictConfig, ListConfig

    out: list[tuple[Any, ...]] = []

    def walk(node: Any, path: str) -> None:
        md = node._metadata
        out.append((path, type(node).__name__, md.ref_type, md.object_type, md.optional,
                    dict(md.flags or {}), md.key))
        if isinstance(node, (DictConfig, ListConfig)):
            if node._is_missing() or node._is_none() or node._is_interpolation():
                out.append((path, repr(node._value())))
            elif isinstance(node, DictConfig):
                for key in node.keys():
                    walk(node._get_node(key), f"{path}.{key}")
            else:
                for i in range(len(node)):
                    walk(node._get_node(i), f"{path}[{i}]")
        else:
            out.append((path, repr(node._value())))

    walk(cfg, "")
    return out


def test_jobs_of_one_shape_share_a_composition_and_get_the_same_configs(monkeypatch, tmp_path):
    """one_composition composes each shape of overrides once (its defaults list and merged
    configs); each job applies its own values to its own copy. A later process (a new
    one_composition) reads the shapes from the disk cache (sim.cli.compose_cache) and composes
    none. Every config, Hydra's part included, is the one Hydra composes without either: the
    same YAML and the same nodes (classes, flags, types)."""
    from hydra import compose, initialize_config_dir
    from hydra._internal import defaults_list
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from sim.cli.app import one_composition

    built = []
    real = defaults_list._create_defaults_list
    monkeypatch.setattr(defaults_list, "_create_defaults_list",
                        lambda *a, **k: built.append(1) or real(*a, **k))

    def compose_all() -> list[tuple[str, list[tuple[Any, ...]]]]:
        out = []
        for overrides in SHAPES:
            GlobalHydra.instance().clear()
            with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
                cfg = compose("config", overrides=overrides, return_hydra_config=True)
                out.append((OmegaConf.to_yaml(cfg), config_signature(cfg)))
        GlobalHydra.instance().clear()
        return out

    plain = compose_all()
    assert len(built) == len(SHAPES)
    built.clear()
    monkeypatch.setenv("INSIDER_SIM_CACHE_DIR", "off")
    with one_composition(["-m"]):
        shared = compose_all()
    assert shared == plain
    assert len(built) == 4  # the shapes: none, a scenario, an added detector, a regime
    monkeypatch.setenv("INSIDER_SIM_CACHE_DIR", str(tmp_path / "cache"))
    for expected_built in (4, 0):  # the first process stores the shapes, the next reads them
        built.clear()
        with one_composition(["-m"]):
            assert compose_all() == plain
        assert len(built) == expected_built
    assert len(list((tmp_path / "cache" / "compose").glob("*.pkl"))) >= 4
    yaml_texts = [text for text, _ in plain]
    assert "seed: 3" in yaml_texts[1] and "seed: 0" in yaml_texts[3]
    assert yaml_texts[3] == yaml_texts[0]
