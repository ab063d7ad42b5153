"""Benchmark: the engine's speed against SimPy's own, and what a replication and a job cost.

    python experiments/benchmark/run.py            # full benchmark (about 10 min on 2 cores)
    python experiments/benchmark/run.py --quick    # a few minutes (the tests run this)

Measures, in one process on one machine: the raw SimPy event rate (bare timeouts) as the
yardstick; on the canonical scenarios the engine's rate of SimPy events and of all modelled
(outcome-relevant) events, each against the raw rate (``efficiency``) and the replication's
time against its essential-event bound both ways; the same work written the usual SimPy way
(one process per entity, a Resource for the analysts: ``usual_simpy.py``) side by side; fast
mode against the exact per-event mode at 10,000 employees (best of N on both sides, speed-up
and two-sample tests); scaling with hosts (config loading and model building timed apart) and
with horizon; the start-up time of ``python -m sim`` and the fixed cost of one more job in a
multirun; peak memory against replications; parallel speed-up. The load average before and
after is recorded (the machine is shared). Writes ``results/benchmark.json`` and
``results/benchmark.png`` (``--quick``: into ``scratch/``, git-ignored; or ``--out``); the
last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sim.cli.app import CONF_DIR, plain_config, split_app_options  # noqa: E402
from sim.core.engine import build_model, simulate  # noqa: E402

SEED = 7


ROUNDS = 3  # best of: every timed side of a comparison gets the same number of rounds


def compose(*overrides: str) -> dict:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=list(overrides))
    plain = plain_config(cfg)
    split_app_options(plain)
    return plain


def raw_simpy_rate(n: int, repeats: int = 3) -> float:
    """Events per second of a bare ``env.timeout`` loop (best of ``repeats``)."""
    import simpy

    def loop(env):
        timeout = env.timeout
        for _ in range(n):
            yield timeout(1.0)

    best = 0.0
    for _ in range(repeats):
        env = simpy.Environment()
        env.process(loop(env))
        t0 = time.perf_counter()
        env.run()
        best = max(best, n / (time.perf_counter() - t0))
    return best


def time_replications(cfg: dict, reps: int, rounds: int = 1) -> dict:
    """Simulate replications ``0..reps-1`` serially, ``rounds`` times over; time per
    replication from the fastest round (the same convention as the raw rate's best of three,
    so a busy moment on a shared machine does not count against one side only)."""
    model = build_model(cfg)
    best = math.inf
    for _ in range(rounds):
        simpy_events = relevant = advances = 0
        results = []
        t0 = time.perf_counter()
        for r in range(reps):
            counters: dict[str, int] = {}
            results.append(simulate(model, SEED, r, counters=counters))
            simpy_events += counters["simpy_events"]
            relevant += counters["relevant_events"]
            advances += counters["clock_advances"]
        best = min(best, time.perf_counter() - t0)
    return {"replications": reps, "rounds": rounds, "seconds": best,
            "ms_per_replication": 1e3 * best / reps, "replications_per_s": reps / best,
            "simpy_events_per_replication": simpy_events / reps,
            # waits that took no SimPy event (sim.core.engine.Environment.advance)
            "clock_advances_per_replication": advances / reps,
            "relevant_events_per_replication": relevant / reps,
            "relevant_events_per_s": relevant / best, "simpy_events_per_s": simpy_events / best,
            "results": results, "model": model}


def scenarios(reps: int, rounds: int, raw_repeats_n: int) -> tuple[dict, dict]:
    """Time the canonical scenarios between two measurements of the raw rate, and the same
    work the usual SimPy way. Efficiency and the bound use the higher raw rate (conservative).

    Both ways: ``simpy`` counts only the events the SimPy environment scheduled; ``modelled``
    counts every outcome-relevant event, most of which (benign alerts) the engine serves
    without a SimPy event, so that efficiency can exceed 1 and is the flattering one.
    """
    from usual_simpy import run_all, workload

    raws = [raw_simpy_rate(raw_repeats_n)]
    out, usual = {}, {}
    cases = {"coupang_2025": ["scenario=coupang_2025"],
             "coupang_2025_monitored": ["scenario=coupang_2025_monitored"],
             "coupang_2025, 3 days": ["scenario=coupang_2025",
                                                         "horizon=3d"]}
    for name, overrides in cases.items():
        m = time_replications(compose(*overrides), reps, rounds)
        loads = [workload(m["model"], r) for r in m.pop("results")]
        m.pop("model")
        best = math.inf
        for _ in range(rounds):
            t0 = time.perf_counter()
            done = run_all(loads, SEED)
            best = min(best, time.perf_counter() - t0)
        usual[name] = {"ms_per_replication": 1e3 * best / reps,
                       "simpy_events_per_replication": done["simpy_events"] / reps,
                       "sessions_per_replication": done["sessions"] / reps,
                       "alerts_per_replication": done["alerts"] / reps,
                       "engine_ms_per_replication": m["ms_per_replication"],
                       "engine_speedup": 1e3 * best / reps / m["ms_per_replication"]}
        out[name] = m
    raws.append(raw_simpy_rate(raw_repeats_n))
    raw = max(raws)
    for name, m in out.items():
        simpy_bound = 1e3 * m["simpy_events_per_replication"] / raw
        modelled_bound = 1e3 * m["relevant_events_per_replication"] / raw
        m.update(efficiency_simpy=m["simpy_events_per_s"] / raw,
                 efficiency_modelled=m["relevant_events_per_s"] / raw,
                 bound_ms_simpy=simpy_bound, bound_ms_modelled=modelled_bound,
                 ratio_to_bound_simpy=m["ms_per_replication"] / simpy_bound,
                 ratio_to_bound_modelled=m["ms_per_replication"] / modelled_bound)
        u = usual[name]
        print(f"  {name}: {m['ms_per_replication']:.2f} ms/replication "
              f"({m['replications_per_s']:.0f}/s); SimPy events "
              f"{m['simpy_events_per_replication']:.0f} (and "
              f"{m['clock_advances_per_replication']:.0f} waits without one): efficiency "
              f"{m['efficiency_simpy']:.2f}, {m['ratio_to_bound_simpy']:.1f}x the bound; all "
              f"modelled events {m['relevant_events_per_replication']:.0f}: efficiency "
              f"{m['efficiency_modelled']:.2f}, {m['ratio_to_bound_modelled']:.1f}x the bound; "
              f"usual SimPy way {u['ms_per_replication']:.2f} ms "
              f"({u['engine_speedup']:.1f}x the engine's time)", flush=True)
    print(f"  (raw SimPy before / after: {raws[0] / 1e6:.2f}M / {raws[1] / 1e6:.2f}M events/s;"
          f" the higher is the yardstick)", flush=True)
    return out, {"raw_before": raws[0], "raw_after": raws[1], "raw": raw, "usual": usual}


def fast_vs_exact(reps_exact: int, reps_fast: int, rounds: int) -> dict:
    """The default scenario at 10,000 employees, fast against exact mode, each side the best
    of ``rounds`` rounds (the same convention on both sides)."""
    from scipy import stats

    common = ["scenario=default", "background.employees=10000", "horizon=30d"]
    exact = time_replications(compose(*common, "background.mode=exact"), reps_exact, rounds)
    fast = time_replications(compose(*common, "background.mode=fast"), reps_fast, rounds)
    tests = {}
    for column in ("dwell_hours", "false_alerts", "records_exfiltrated"):
        a = [getattr(r, column) for r in fast["results"]]
        b = [getattr(r, column) for r in exact["results"]]
        tests[column] = float(stats.ks_2samp(a, b).pvalue)
    speedup = exact["ms_per_replication"] / fast["ms_per_replication"]
    print(f"  fast {fast['ms_per_replication']:.2f} ms vs exact "
          f"{exact['ms_per_replication']:.1f} ms per replication (best of {rounds} each): "
          f"{speedup:.0f}x; KS p-values {', '.join(f'{k} {v:.2f}' for k, v in tests.items())}",
          flush=True)
    return {"employees": 10_000, "horizon": "30d", "fast_ms": fast["ms_per_replication"],
            "exact_ms": exact["ms_per_replication"], "speedup": speedup, "rounds": rounds,
            "replications": {"fast": reps_fast, "exact": reps_exact},
            "ks_pvalues": tests, "indistinguishable": all(p > 0.01 for p in tests.values())}


def scaling(reps: int, hosts: list[int], horizons: list[str]) -> dict:
    """ms per replication against network size and horizon; for each network size the config
    loading (Hydra) and the model build (network, places, detectors) are timed apart."""
    by_hosts, by_horizon = {}, {}
    for h in hosts:
        t0 = time.perf_counter()
        cfg = compose("scenario=coupang_2025", f"network.hosts={h}")
        t1 = time.perf_counter()
        build_model(cfg)
        t2 = time.perf_counter()
        m = time_replications(cfg, reps)
        by_hosts[h] = {"ms_per_replication": m["ms_per_replication"],
                       "config_s": t1 - t0, "build_s": t2 - t1}
        print(f"  hosts {h}: {m['ms_per_replication']:.2f} ms/replication; config "
              f"{t1 - t0:.2f} s, model build {t2 - t1:.2f} s", flush=True)
    for hz in horizons:
        m = time_replications(compose("scenario=coupang_2025", f"horizon={hz}"), reps)
        by_horizon[hz] = {"ms_per_replication": m["ms_per_replication"]}
        print(f"  horizon {hz}: {m['ms_per_replication']:.2f} ms/replication", flush=True)
    return {"hosts": by_hosts, "horizon": by_horizon}


def _run_once(python: str, cwd: Path, args: list[str],
              env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + sys of the process and its children) of one
    ``PYTHON -m sim ARGS`` in ``cwd`` (with ``env`` added to the environment), into a new
    temporary dir (``{tmp}`` in ``args``)."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [a.replace("{tmp}", tmp) for a in args]
        t0 = time.perf_counter()
        proc = subprocess.Popen([python, "-m", "sim", *argv], cwd=cwd,
                                env={**os.environ, **(env or {})},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if status != 0:
            raise RuntimeError(err or "failed")
    return wall, usage.ru_utime + usage.ru_stime


def _timed(args: list[str], repeats: int, codes: dict[str, tuple[str, Path]],
           env: dict[str, str] | None = None) -> dict[str, dict]:
    """Best (and median) wall and CPU seconds of ``python -m sim ARGS`` over ``repeats`` runs,
    for each code (name -> python executable and checkout), the codes taking turns (the
    first goes first in even rounds, last in odd ones) so that a busy moment falls on both."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in codes}
    for r in range(repeats):
        order = list(codes) if r % 2 == 0 else list(reversed(codes))
        for name in order:
            times[name].append(_run_once(*codes[name], args, env))
    return {name: {"wall_s": min(w for w, _ in t), "wall_median_s": float(np.median(
        [w for w, _ in t])), "cpu_s": min(c for _, c in t), "repeats": repeats}
        for name, t in times.items()}


def fixed_cost(repeats: int, jobs: int, baseline: Path | None = None) -> dict:
    """Start-up: ``python -m sim replications=1 output.plot=false`` end to end (best of
    ``repeats``), and the same with 10 replications (whose confidence intervals load
    scipy.special, which one replication does without). Per-job fixed cost: an in-process
    multirun of ``jobs`` jobs of 10 replications against one of 1 job,
    (T_jobs - T_1) / (jobs - 1). These run with a composition cache of their own (empty at
    first: the best run is one whose shape is cached, as every run after a shape's first is);
    ``startup_no_cache`` is the start-up with the cache off (``INSIDER_SIM_CACHE_DIR=off``),
    what the first run after an edit of conf/ costs.

    With ``baseline`` (another checkout with its own ``.venv``, e.g. the main branch) every
    command also runs on that code, taking turns with this one, and its figures are recorded
    under ``baseline`` with its commit: a comparison at the same moment, fair on a shared
    machine whose load moves.
    """
    codes = {"this": (sys.executable, ROOT)}
    if baseline is not None:
        codes["baseline"] = (str(baseline / ".venv" / "bin" / "python"), baseline)
    with tempfile.TemporaryDirectory() as cache:
        # the composition cache (sim.cli.compose_cache) starts empty, not as the user's is;
        # the first run fills it, so best-of-N is a run with the command's shape cached, as
        # every run after the first of a shape is. Without it: startup_no_cache.
        env = {"INSIDER_SIM_CACHE_DIR": cache}
        start = _timed(["replications=1", "output.plot=false", "hydra.run.dir={tmp}/run"],
                       repeats, codes, env)
        start10 = _timed(["replications=10", "output.plot=false", "hydra.run.dir={tmp}/run"],
                         repeats, codes, env)
        one = _timed(["-m", "seed=0", "replications=10", "output.plot=false",
                      "hydra.sweep.dir={tmp}/sweep"], max(2, repeats // 2), codes, env)
        many = _timed(["-m", f"seed=range(0,{jobs})", "replications=10", "output.plot=false",
                       "hydra.sweep.dir={tmp}/sweep"], max(2, repeats // 2), codes, env)
    cold = _timed(["replications=1", "output.plot=false", "hydra.run.dir={tmp}/run"], repeats,
                  codes, {"INSIDER_SIM_CACHE_DIR": "off"})
    out: dict = {}
    for name in codes:
        per_job = {k: (many[name][k] - one[name][k]) / (jobs - 1) for k in ("wall_s", "cpu_s")}
        print(f"  {'' if name == 'this' else 'baseline '}start-up (replications=1, no plot): "
              f"{start[name]['wall_s']:.2f} s wall ({start[name]['cpu_s']:.2f} s CPU), best of "
              f"{repeats}; with 10 replications {start10[name]['wall_s']:.2f} s wall "
              f"({start10[name]['cpu_s']:.2f} s CPU); per extra job in a multirun: "
              f"{per_job['wall_s']:.3f} s wall ({per_job['cpu_s']:.3f} s CPU); start-up "
              f"without the composition cache {cold[name]['wall_s']:.2f} s wall "
              f"({cold[name]['cpu_s']:.2f} s CPU)", flush=True)
        out[name] = {"startup": start[name], "startup_no_cache": cold[name],
                     "startup_10_replications": start10[name],
                     "multirun_1_job": one[name], f"multirun_{jobs}_jobs": many[name],
                     "per_job": per_job, "jobs": jobs}
    report = out["this"]
    if baseline is not None:
        commit = subprocess.run(["git", "-C", str(baseline), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        report["baseline"] = {"checkout": str(baseline), "commit": commit, **out["baseline"]}
    return report


# Peak memory is VmHWM, the high-water mark of this process's own address space: on Linux
# ru_maxrss survives fork+exec, so it would report the benchmark process's size instead.
_CLI_PROBE = """
import resource, sys, time
sys.argv = ["sim"] + sys.argv[1:]
from sim.cli.app import cli

def peak_kb():
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

t0 = time.perf_counter()
try:
    cli()
finally:
    print("PROBE", peak_kb(), time.perf_counter() - t0, file=sys.stderr)
"""


def run_cli(replications: int, workers: int) -> tuple[float, float]:
    """One whole ``python -m sim scenario=coupang_2025`` run, as a user starts it: wall
    seconds (process start, Hydra, model, replications, CSV, summary) and the main process's
    peak resident memory (MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _CLI_PROBE, "scenario=coupang_2025",
             f"replications={replications}", f"workers={workers}", "output.plot=false",
             f"hydra.run.dir={tmp}"], capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    kb = int(proc.stderr.split("PROBE")[-1].split()[0])
    return wall, kb / 1024


def end_to_end(counts: list[int]) -> dict:
    """Peak memory and wall time of whole runs: serial for each count (memory must not grow
    with replications), then the largest count on every core (the parallel speed-up and the
    '10,000 replications in under a minute' target)."""
    cores = os.cpu_count() or 1
    memory, serial = {}, {}
    for n in counts:
        serial[n], memory[n] = run_cli(n, 1)
        print(f"  {n} replications, 1 worker: {serial[n]:.1f} s, peak {memory[n]:.0f} MiB",
              flush=True)
    n = max(counts)
    wall, _ = run_cli(n, cores)
    speedup = serial[n] / wall
    print(f"  {n} replications, {cores} workers: {wall:.1f} s ({speedup:.2f}x one worker)",
          flush=True)
    return {"memory_mib": memory, "parallel": {
        "replications": n, "cores": cores, "seconds": {1: serial[n], cores: wall},
        "speedup": speedup, "coupang_2025_10k_seconds": wall * 10_000 / n,
        "measured_10k": n == 10_000}}


def plot(report: dict, path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    # plain numbers on log axes (1,000 and 0.5 rather than 10^3 and 5x10^-1)
    plain = FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}")

    fig = Figure(figsize=(10, 6.5), dpi=150)
    axes = fig.subplots(2, 2)
    ax = axes[0, 0]
    names = list(report["scenarios"])
    usual = report["raw_simpy_measurements"]["usual"]
    series = [("engine", [report["scenarios"][n]["ms_per_replication"] for n in names],
               "#3a6ea5"),
              ("usual SimPy way\n(process per entity, Resource)",
               [usual[n]["ms_per_replication"] for n in names], "#c0504d"),
              ("bound: SimPy events / raw rate",
               [report["scenarios"][n]["bound_ms_simpy"] for n in names], "#999999"),
              ("bound: all modelled events / raw rate",
               [report["scenarios"][n]["bound_ms_modelled"] for n in names], "#dddddd")]
    x = np.arange(len(names))
    for i, (label, values, colour) in enumerate(series):
        bars = ax.bar(x - 0.3 + 0.2 * i, values, 0.2, label=label, color=colour)
        ax.bar_label(bars, [f"{v:.2g}" if v < 1 else f"{v:.1f}" for v in values], fontsize=6)
    ax.set_xticks(x, [n.replace("coupang_2025_", "").replace("coupang_2025", "coupang")
                      for n in names], fontsize=8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(plain)
    ax.set_ylabel("ms per replication")
    ax.set_title("Cost of one replication", fontsize=10)
    ax.legend(fontsize=6, frameon=False)
    ax = axes[0, 1]
    fe = report["fast_vs_exact"]
    ax.bar(["fast", "exact"], [fe["fast_ms"], fe["exact_ms"]], color=["#3a6ea5", "#c0504d"])
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(plain)
    ax.set_ylabel("ms per replication")
    ax.set_title(f"Fast vs exact at 10,000 employees: {fe['speedup']:.0f}x", fontsize=10)
    ax = axes[1, 0]
    hosts = sorted(report["scaling"]["hosts"], key=int)
    ax.plot([int(h) for h in hosts],
            [report["scaling"]["hosts"][h]["ms_per_replication"] for h in hosts], "o-")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plain)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("hosts in the network")
    ax.set_ylabel("ms per replication")
    ax.set_title("Scaling with network size (coupang_2025)", fontsize=10)
    ax = axes[1, 1]
    mem = report["memory_mib"]
    counts = sorted(mem, key=int)
    ax.plot([int(c) for c in counts], [mem[c] for c in counts], "o-", color="#c0504d")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plain)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("replications in one run")
    ax.set_ylabel("peak memory (MiB)")
    ax.set_title("Memory is flat in replications (rows stream to disk)", fontsize=10)
    for a in axes.flat:
        a.grid(True, alpha=0.3)
    fig.suptitle(f"insider-sim benchmark: raw SimPy {report['raw_simpy_events_per_s'] / 1e6:.2f}"
                 f"M events/s on {report['machine']['cpus']} cores", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="engine benchmark")
    parser.add_argument("--quick", action="store_true", help="finish in a few minutes")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write (default results/; with --quick scratch/, "
                             "git-ignored, so a smoke run never replaces the committed results)")
    parser.add_argument("--only", choices=["fixed_cost"], default=None,
                        help="re-measure only this section into the existing benchmark.json "
                             "of --out (for a change that moves only it); the section records "
                             "its own date and load")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (with its .venv) whose start-up and per-job "
                             "cost are measured taking turns with this code's")
    args = parser.parse_args(argv)
    if args.baseline is not None and not (args.baseline / ".venv" / "bin" / "python").exists():
        parser.error(f"--baseline: {args.baseline} has no .venv/bin/python; give a checkout "
                     f"with its own venv (python3 -m venv .venv && .venv/bin/pip install -e .)")
    if args.out is None:
        args.out = Path(__file__).parent / ("scratch" if args.quick else "results")
    q = args.quick
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only == "fixed_cost":
        return remeasure_fixed_cost(args.out, 3 if q else 9, 5 if q else 20, args.baseline)
    report: dict = {"quick": q, "machine": {"cpus": os.cpu_count(), "python":
                                            platform.python_version(),
                                            "platform": platform.platform()}}
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}", flush=True)
    print("raw SimPy rate (bare timeouts, best of 3), canonical scenarios, usual SimPy way",
          flush=True)
    cases, raws = scenarios(100 if q else 500, ROUNDS, 200_000 if q else 1_000_000)
    short = next(n for n in cases if n.endswith("3 days"))
    report["short_replication"] = {"case": short, **cases.pop(short)}
    report["scenarios"] = cases
    raw = raws["raw"]
    report["raw_simpy_events_per_s"] = raw
    report["raw_simpy_measurements"] = raws
    print("fast vs exact mode", flush=True)
    report["fast_vs_exact"] = fast_vs_exact(5 if q else 40, 50 if q else 1000, ROUNDS)
    print("scaling", flush=True)
    report["scaling"] = scaling(30 if q else 300,
                                [100, 1000, 10_000] if q else [100, 1000, 10_000, 100_000],
                                ["1d", "30d", "1y"])
    print("fixed cost: start-up and per job", flush=True)
    report["fixed_cost"] = fixed_cost(3 if q else 9, 5 if q else 20, args.baseline)
    print("whole runs: peak memory, parallel speed-up", flush=True)
    report.update(end_to_end([100, 1000] if q else [1000, 10_000]))
    load_after = os.getloadavg()
    report["machine"]["load_average"] = {"before": list(load_before),
                                         "after": list(load_after)}
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}",
          flush=True)
    plot(report, args.out / "benchmark.png")
    tmp = args.out / "benchmark.json.partial"
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(args.out / "benchmark.json")
    print(json.dumps(headline(report)))
    return 0


def remeasure_fixed_cost(out: Path, repeats: int, jobs: int, baseline: Path | None) -> int:
    """Replace the ``fixed_cost`` section of ``out/benchmark.json`` with a new measurement
    (with its own date and load average); every other figure stays as measured."""
    path = out / "benchmark.json"
    if not path.is_file():
        print(f"error: --only fixed_cost: {path} not found; run the full benchmark first",
              file=sys.stderr)
        return 2
    report = json.loads(path.read_text())
    load_before = os.getloadavg()
    print("fixed cost: start-up and per job", flush=True)
    section = fixed_cost(repeats, jobs, baseline)
    section["measured"] = time.strftime("%Y-%m-%d %H:%M")
    section["load_average"] = {"before": list(load_before), "after": list(os.getloadavg())}
    print(f"load average: {load_before[0]:.2f} -> {os.getloadavg()[0]:.2f}", flush=True)
    report["fixed_cost"] = section
    tmp = out / "benchmark.json.partial"
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(path)
    print(json.dumps(headline(report)))
    return 0


def headline(report: dict) -> dict:
    """The headline figures of a report (the last line the benchmark prints)."""
    raws = report["raw_simpy_measurements"]
    raw = report["raw_simpy_events_per_s"]
    load_before = report["machine"]["load_average"]["before"]
    load_after = report["machine"]["load_average"]["after"]
    scen = report["scenarios"]
    hosts = {int(k): v for k, v in report["scaling"]["hosts"].items()}  # str keys from JSON
    usual = raws["usual"]
    fixed = report["fixed_cost"]
    return {
        "raw_simpy_events_per_s": round(raw),
        "engine_events_per_s": {n: round(s["relevant_events_per_s"]) for n, s in scen.items()},
        "efficiency": {n: round(s["efficiency_modelled"], 3) for n, s in scen.items()},
        "efficiency_simpy_events": {n: round(s["efficiency_simpy"], 3) for n, s in scen.items()},
        "ratio_to_bound_modelled": {n: round(s["ratio_to_bound_modelled"], 2)
                                    for n, s in scen.items()},
        "ratio_to_bound_simpy_events": {n: round(s["ratio_to_bound_simpy"], 2)
                                        for n, s in scen.items()},
        "ms_per_replication": {n: round(s["ms_per_replication"], 3) for n, s in scen.items()},
        "replications_per_s": {n: round(s["replications_per_s"], 1) for n, s in scen.items()},
        "usual_simpy_over_engine": {n: round(u["engine_speedup"], 2)
                                    for n, u in usual.items()},
        "fast_vs_exact_speedup": round(report["fast_vs_exact"]["speedup"], 1),
        "hosts_max_over_1k": round(hosts[max(hosts)]["ms_per_replication"]
                                   / hosts[1000]["ms_per_replication"], 2),
        "model_build_s_at_max_hosts": round(hosts[max(hosts)]["build_s"], 3),
        "startup_wall_s": round(fixed["startup"]["wall_s"], 3),
        **({"startup_no_cache_wall_s": round(fixed["startup_no_cache"]["wall_s"], 3)}
           if "startup_no_cache" in fixed else {}),
        "startup_10_replications_wall_s": round(fixed["startup_10_replications"]["wall_s"], 3),
        "per_job_wall_s": round(fixed["per_job"]["wall_s"], 3),
        **({"baseline_startup_wall_s": round(fixed["baseline"]["startup"]["wall_s"], 3),
            "baseline_per_job_wall_s": round(fixed["baseline"]["per_job"]["wall_s"], 3)}
           if "baseline" in fixed else {}),
        "coupang_2025_10k_replications_s": round(
            report["parallel"]["coupang_2025_10k_seconds"], 1),
        "parallel_speedup": round(report["parallel"]["speedup"], 2),
        "load_average_1min": [round(load_before[0], 2), round(load_after[0], 2)],
    }


if __name__ == "__main__":
    raise SystemExit(main())
