"""Benchmark: the engine's speed against SimPy's own, and what a replication costs.

    python experiments/benchmark/run.py            # full benchmark (a few minutes on 2 cores)
    python experiments/benchmark/run.py --quick    # under a minute (the tests run this)

Measures, in one process on one machine: the raw SimPy event rate (bare timeouts) as the
yardstick; the engine's rate of outcome-relevant events on the canonical scenarios and its
ratio to the raw rate (``efficiency``); replications per second and per-replication time
against its lower bound (its own outcome-relevant events / the raw rate); fast mode against
the exact per-event mode at 10,000 employees (speed-up and two-sample tests); scaling with
hosts and horizon; peak memory against the number of replications; parallel speed-up.
Writes ``results/benchmark.json`` and ``results/benchmark.png``; the last line printed is one
JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
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

from sim.app import CONF_DIR, plain_config, split_app_options  # noqa: E402
from sim.engine import build_model, simulate  # noqa: E402
from sim.runner import iter_replications  # noqa: E402

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


def time_replications(cfg: dict, reps: int) -> dict:
    """Simulate ``reps`` replications serially; per-replication time and event counts."""
    model = build_model(cfg)
    simpy_events = relevant = 0
    results = []
    t0 = time.perf_counter()
    for r in range(reps):
        counters: dict[str, int] = {}
        results.append(simulate(model, SEED, r, counters=counters))
        simpy_events += counters["simpy_events"]
        relevant += counters["relevant_events"]
    seconds = time.perf_counter() - t0
    return {"replications": reps, "seconds": seconds, "ms_per_replication": 1e3 * seconds / reps,
            "replications_per_s": reps / seconds,
            "simpy_events_per_replication": simpy_events / reps,
            "relevant_events_per_replication": relevant / reps,
            "relevant_events_per_s": relevant / seconds, "results": results}


def scenarios(raw: float, reps: int) -> dict:
    out = {}
    for name in ("coupang_2025", "coupang_2025_monitored"):
        m = time_replications(compose(f"scenario={name}"), reps)
        m.pop("results")
        lower_ms = 1e3 * m["relevant_events_per_replication"] / raw
        m.update(efficiency=m["relevant_events_per_s"] / raw, lower_bound_ms=lower_ms,
                 ratio_to_lower_bound=m["ms_per_replication"] / lower_ms)
        out[name] = m
        print(f"  {name}: {m['ms_per_replication']:.2f} ms/replication "
              f"({m['replications_per_s']:.0f}/s), {m['relevant_events_per_replication']:.0f} "
              f"relevant events, efficiency {m['efficiency']:.2f}, "
              f"{m['ratio_to_lower_bound']:.1f}x the lower bound", flush=True)
    return out


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


_MEMORY_PROBE = """
import resource, sys
sys.argv = ["sim"] + sys.argv[1:]
from sim.app import cli
try:
    cli()
finally:
    print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def peak_memory(counts: list[int]) -> dict:
    """Peak resident memory of a whole run (``python -m sim``) for each replication count."""
    out = {}
    for n in counts:
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run(
                [sys.executable, "-c", _MEMORY_PROBE, "scenario=coupang_2025",
                 f"replications={n}", "output.plot=false", f"hydra.run.dir={tmp}"],
                capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        kb = int(proc.stderr.split("PEAK_RSS_KB")[-1].split()[0])
        out[n] = kb / 1024
        print(f"  {n} replications: peak {kb / 1024:.0f} MiB", flush=True)
    return out


def parallel(reps: int) -> dict:
    cfg = compose("scenario=coupang_2025", f"replications={reps}")
    model = build_model(cfg)
    cores = os.cpu_count() or 1
    times = {}
    for workers in sorted({1, cores}):
        t0 = time.perf_counter()
        for _ in iter_replications(cfg, model, workers):
            pass
        times[workers] = time.perf_counter() - t0
    speedup = times[1] / times[cores]
    print(f"  {reps} replications: 1 worker {times[1]:.1f} s, {cores} workers "
          f"{times[cores]:.1f} s: {speedup:.2f}x", flush=True)
    return {"replications": reps, "seconds": times, "cores": cores, "speedup": speedup,
            "coupang_2025_10k_seconds_estimate": times[cores] * 10_000 / reps}


def plot(report: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6.5), dpi=150)
    axes = fig.subplots(2, 2)
    ax = axes[0, 0]
    names = list(report["scenarios"])
    actual = [report["scenarios"][n]["ms_per_replication"] for n in names]
    bound = [report["scenarios"][n]["lower_bound_ms"] for n in names]
    x = np.arange(len(names))
    ax.bar(x - 0.2, actual, 0.4, label="measured", color="#3a6ea5")
    ax.bar(x + 0.2, bound, 0.4, label="lower bound\n(relevant events / raw SimPy rate)",
           color="#bbbbbb")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per replication")
    ax.set_title("Cost of one replication", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    ax = axes[0, 1]
    fe = report["fast_vs_exact"]
    ax.bar(["fast", "exact"], [fe["fast_ms"], fe["exact_ms"]], color=["#3a6ea5", "#c0504d"])
    ax.set_yscale("log")
    ax.set_ylabel("ms per replication")
    ax.set_title(f"Fast vs exact at 10,000 employees: {fe['speedup']:.0f}x", fontsize=10)
    ax = axes[1, 0]
    hosts = sorted(report["scaling"]["hosts"], key=int)
    ax.plot([int(h) for h in hosts],
            [report["scaling"]["hosts"][h]["ms_per_replication"] for h in hosts], "o-")
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("hosts in the network")
    ax.set_ylabel("ms per replication")
    ax.set_title("Scaling with network size (coupang_2025)", fontsize=10)
    ax = axes[1, 1]
    mem = report["memory_mib"]
    counts = sorted(mem, key=int)
    ax.plot([int(c) for c in counts], [mem[c] for c in counts], "o-", color="#c0504d")
    ax.set_xscale("log")
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
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    q = args.quick
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"quick": q, "machine": {"cpus": os.cpu_count(), "python":
                                            platform.python_version(),
                                            "platform": platform.platform()}}
    print("raw SimPy rate", flush=True)
    raw = raw_simpy_rate(200_000 if q else 1_000_000)
    report["raw_simpy_events_per_s"] = raw
    print(f"  {raw / 1e6:.2f}M events/s", flush=True)
    print("canonical scenarios", flush=True)
    report["scenarios"] = scenarios(raw, 100 if q else 1000)
    print("fast vs exact mode", flush=True)
    report["fast_vs_exact"] = fast_vs_exact(5 if q else 100, 50 if q else 1000)
    print("scaling", flush=True)
    report["scaling"] = scaling(30 if q else 300,
                                [100, 1000, 10_000] if q else [100, 1000, 10_000, 100_000],
                                ["1d", "30d", "1y"])
    print("peak memory", flush=True)
    report["memory_mib"] = peak_memory([100, 1000] if q else [1000, 10_000])
    print("parallel speed-up", flush=True)
    report["parallel"] = parallel(400 if q else 4000)
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
            report["parallel"]["coupang_2025_10k_seconds_estimate"], 1),
        "parallel_speedup": round(report["parallel"]["speedup"], 2),
    }
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
