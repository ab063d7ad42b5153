"""The yardstick users care about: the same work written the usual SimPy way.

One process per entity, as a SimPy tutorial would write it: an insider process whose sessions
are two timeouts each (start, end), an alert process per alert that queues for a
``simpy.Resource`` of analysts and holds one for its triage time, a process per periodic
control, a generator process for the benign false alarms (from a week of warm-up before the
insider's first access, like the engine's queue), and the standard library's ``random`` for the
draws (cheaper per scalar draw than numpy's).

Each replication is given the *workload the engine measured* for the same replication
(:func:`workload`): its length, its number of sessions, of true and of false alerts, the
analysts and the mean triage time, the periodic controls' intervals. So both sides process
the same number of sessions, alerts and checks per replication, and the comparison is of the
two ways of writing the model, not of two models.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import simpy


@dataclass(frozen=True)
class Workload:
    """What one engine replication did (and the usual-way one must do)."""

    hours: float              # from the insider's first access to the end of the run
    sessions: int
    true_alerts: int
    false_alerts: int
    warmup_hours: float       # benign alerts start this long before time 0
    analysts: int
    triage_mean: float        # hours
    intervals: tuple[float, ...]  # periodic controls (audits, reviews)


def workload(model, result) -> Workload:
    """The workload of one engine replication (``model``, its ``ReplicationResult``)."""
    hours = result.access_hours if math.isfinite(result.access_hours) else model.run.horizon
    hours = max(min(hours, model.run.horizon), 1e-9)
    intervals = tuple(float(d.params.interval) for d in model.detectors
                      if hasattr(getattr(d, "params", None), "interval"))
    alerting = result.false_alerts > 0
    return Workload(hours=hours, sessions=result.sessions, true_alerts=result.true_alerts,
                    false_alerts=result.false_alerts,
                    warmup_hours=model.triage.warmup if alerting else 0.0,
                    analysts=max(1, model.triage.analysts),
                    triage_mean=model.triage.triage_time, intervals=intervals)


def replicate(w: Workload, seed: int) -> dict[str, int]:
    """Run one replication of ``w`` the usual SimPy way; returns what it did."""
    rng = random.Random(seed)
    env = simpy.Environment()
    analysts = simpy.Resource(env, capacity=w.analysts)
    done = {"sessions": 0, "alerts": 0, "checks": 0, "confirmed": 0}
    start = w.warmup_hours
    end = start + w.hours
    session_rate = w.sessions / w.hours
    alert_share = w.true_alerts / w.sessions if w.sessions else 0.0
    benign_rate = w.false_alerts / w.hours

    def alert(true: bool):
        with analysts.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0 / w.triage_mean))
        done["alerts"] += 1
        if true and rng.random() < 0.9:
            done["confirmed"] += 1

    def insider():
        yield env.timeout(start)
        while True:
            yield env.timeout(rng.expovariate(session_rate))   # next session starts
            yield env.timeout(0.25)                            # the session runs
            done["sessions"] += 1
            rng.random()                                       # outside discovery's hazard
            if rng.random() < alert_share:
                env.process(alert(True))

    def benign():
        while True:
            yield env.timeout(rng.expovariate(benign_rate))
            env.process(alert(False))

    def periodic(interval: float):
        yield env.timeout(start + rng.uniform(0, interval))
        while True:
            done["checks"] += 1
            rng.random()
            yield env.timeout(interval)

    if session_rate > 0:
        env.process(insider())
    if benign_rate > 0:
        env.process(benign())
    for interval in w.intervals:
        env.process(periodic(interval))
    env.run(until=end)
    done["simpy_events"] = next(env._eid)
    return done


def run_all(workloads: Sequence[Workload], seed: int = 0) -> dict[str, int]:
    """Every workload once (replication ``i`` seeded ``seed + i``); the totals."""
    total = {"sessions": 0, "alerts": 0, "checks": 0, "confirmed": 0, "simpy_events": 0}
    for i, w in enumerate(workloads):
        for key, value in replicate(w, seed + i).items():
            total[key] += value
    return total
