"""Benchmark: the engine's speed against SimPy's own, and what a replication costs.

    python experiments/benchmark/run.py            # full benchmark (a few minutes on 2 cores)
    python experiments/benchmark/run.py --quick    # under a minute (the tests run this)

Measures, in one process on one machine: the raw SimPy event rate (bare timeouts) as the
yardstick; the engine's rate of outcome-relevant events on the canonical scenarios and its
ratio to the raw rate (``efficiency``); replications per second and per-replication time
against its lower bound (its own outcome-relevant events / the raw rate); fast mode against
the exact per-event mode at 10,000 employees (speed-up and two-sample tests); scaling with
hosts and horizon; peak memory against the number of replications; parallel speed-up.
Writes ``results/benchmark.json`` and ``results/benchmark.png`` (``--quick``: into ``scratch/``,
git-ignored; or ``--out``); the last line printed is one
JSON object with the headline figures.
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
        simpy_events = relevant = 0
        results = []
        t0 = time.perf_counter()
        for r in range(reps):
            counters: dict[str, int] = {}
            results.append(simulate(model, SEED, r, counters=counters))
            simpy_events += counters["simpy_events"]
            relevant += counters["relevant_events"]
        best = min(best, time.perf_counter() - t0)
    return {"replications": reps, "rounds": rounds, "seconds": best,
            "ms_per_replication": 1e3 * best / reps, "replications_per_s": reps / best,
            "simpy_events_per_replication": simpy_events / reps,
            "relevant_events_per_replication": relevant / reps,
            "relevant_events_per_s": relevant / best, "results": results}


def scenarios(reps: int, rounds: int, raw_repeats_n: int) -> tuple[dict, dict]:
    """Time the canonical scenarios between two measurements of the raw rate; the efficiency
    uses the higher of the two (the conservative choice)."""
    raws = [raw_simpy_rate(raw_repeats_n)]
    out = {}
    for name in ("coupang_2025", "coupang_2025_monitored"):
        m = time_replications(compose(f"scenario={name}"), reps, rounds)
        m.pop("results")
        out[name] = m
    raws.append(raw_simpy_rate(raw_repeats_n))
    raw = max(raws)
    for name, m in out.items():
        lower_ms = 1e3 * m["relevant_events_per_replication"] / raw
        m.update(efficiency=m["relevant_events_per_s"] / raw, lower_bound_ms=lower_ms,
                 ratio_to_lower_bound=m["ms_per_replication"] / lower_ms)
        print(f"  {name}: {m['ms_per_replication']:.2f} ms/replication "
              f"({m['replications_per_s']:.0f}/s), {m['relevant_events_per_replication']:.0f} "
              f"relevant events, efficiency {m['efficiency']:.2f}, "
              f"{m['ratio_to_lower_bound']:.1f}x the lower bound", flush=True)
    print(f"  (raw SimPy before / after: {raws[0] / 1e6:.2f}M / {raws[1] / 1e6:.2f}M events/s;"
          f" the higher is the yardstick)", flush=True)
    return out, {"raw_before": raws[0], "raw_after": raws[1], "raw": raw}


def fast_vs_exact(reps_exact: int, reps_fast: int) -> dict:
    """The default scenario at 10,000 employees, fast against exact mode."""
    from scipy import stats

    common = ["scenario=default", "background.employees=10000", "horizon=30d"]
    exact = time_replications(compose(*common, "background.mode=exact"), reps_exact)
    fast = time_replications(compose(*common, "background.mode=fast"), reps_fast)
    tests = {}
    for column in ("dwell_hours", "false_alerts", "records_exfiltrated"):
        a = [getattr(r, column) for r in fast["results"]]
        b = [getattr(r, column) for r in exact["results"]]
        tests[column] = float(stats.ks_2samp(a, b).pvalue)
    speedup = exact["ms_per_replication"] / fast["ms_per_replication"]
    print(f"  fast {fast['ms_per_replication']:.2f} ms vs exact "
          f"{exact['ms_per_replication']:.1f} ms per replication: {speedup:.0f}x; "
          f"KS p-values {', '.join(f'{k} {v:.2f}' for k, v in tests.items())}", flush=True)
    return {"employees": 10_000, "horizon": "30d", "fast_ms": fast["ms_per_replication"],
            "exact_ms": exact["ms_per_replication"], "speedup": speedup,
            "replications": {"fast": reps_fast, "exact": reps_exact},
            "ks_pvalues": tests, "indistinguishable": all(p > 0.01 for p in tests.values())}


def scaling(reps: int, hosts: list[int], horizons: list[str]) -> dict:
    by_hosts, by_horizon = {}, {}
    for h in hosts:
        t0 = time.perf_counter()
        cfg = compose("scenario=coupang_2025", f"network.hosts={h}")
        model_cfg_build = time.perf_counter()
        m = time_replications(cfg, reps)
        by_hosts[h] = {"ms_per_replication": m["ms_per_replication"],
                       "build_s": model_cfg_build - t0}
        print(f"  hosts {h}: {m['ms_per_replication']:.2f} ms/replication", flush=True)
    for hz in horizons:
        m = time_replications(compose("scenario=coupang_2025", f"horizon={hz}"), reps)
        by_horizon[hz] = {"ms_per_replication": m["ms_per_replication"]}
        print(f"  horizon {hz}: {m['ms_per_replication']:.2f} ms/replication", flush=True)
    return {"hosts": by_hosts, "horizon": by_horizon}


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
    actual = [report["scenarios"][n]["ms_per_replication"] for n in names]
    bound = [report["scenarios"][n]["lower_bound_ms"] for n in names]
    x = np.arange(len(names))
    bars = ax.bar(x - 0.2, actual, 0.4, label="measured", color="#3a6ea5")
    ax.bar_label(bars, [f"{v:.1f} ms\n(eff. {report['scenarios'][n]['efficiency']:.2f})"
                        for v, n in zip(actual, names, strict=True)], fontsize=7)
    bars = ax.bar(x + 0.2, bound, 0.4, label="lower bound\n(relevant events / raw SimPy rate)",
                  color="#bbbbbb")
    ax.bar_label(bars, [f"{v:.1f} ms" for v in bound], fontsize=7)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylim(0, 1.3 * max(actual))
    ax.set_ylabel("ms per replication")
    ax.set_title("Cost of one replication", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
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
    parser.add_argument("--quick", action="store_true", help="finish within a minute")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write (default results/; with --quick scratch/, "
                             "git-ignored, so a smoke run never replaces the committed results)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = Path(__file__).parent / ("scratch" if args.quick else "results")
    q = args.quick
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"quick": q, "machine": {"cpus": os.cpu_count(), "python":
                                            platform.python_version(),
                                            "platform": platform.platform()}}
    print("raw SimPy rate (bare timeouts, best of 3) and canonical scenarios", flush=True)
    report["scenarios"], raws = scenarios(100 if q else 500, 2 if q else 3,
                                          200_000 if q else 1_000_000)
    raw = raws["raw"]
    report["raw_simpy_events_per_s"] = raw
    report["raw_simpy_measurements"] = raws
    print("fast vs exact mode", flush=True)
    report["fast_vs_exact"] = fast_vs_exact(5 if q else 100, 50 if q else 1000)
    print("scaling", flush=True)
    report["scaling"] = scaling(30 if q else 300,
                                [100, 1000, 10_000] if q else [100, 1000, 10_000, 100_000],
                                ["1d", "30d", "1y"])
    print("whole runs: peak memory, parallel speed-up", flush=True)
    report.update(end_to_end([100, 1000] if q else [1000, 10_000]))
    plot(report, args.out / "benchmark.png")
    tmp = args.out / "benchmark.json.partial"
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(args.out / "benchmark.json")
    scen = report["scenarios"]
    hosts = report["scaling"]["hosts"]
    headline = {
        "raw_simpy_events_per_s": round(raw),
        "engine_events_per_s": {n: round(s["relevant_events_per_s"]) for n, s in scen.items()},
        "efficiency": {n: round(s["efficiency"], 3) for n, s in scen.items()},
        "replications_per_s": {n: round(s["replications_per_s"], 1) for n, s in scen.items()},
        "ratio_to_lower_bound": {n: round(s["ratio_to_lower_bound"], 2)
                                 for n, s in scen.items()},
        "fast_vs_exact_speedup": round(report["fast_vs_exact"]["speedup"], 1),
        "hosts_max_over_1k": round(hosts[max(hosts)]["ms_per_replication"]
                                   / hosts[1000]["ms_per_replication"], 2),
        "coupang_2025_10k_replications_s": round(
            report["parallel"]["coupang_2025_10k_seconds"], 1),
        "parallel_speedup": round(report["parallel"]["speedup"], 2),
    }
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
