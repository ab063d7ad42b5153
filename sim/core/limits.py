"""What a job may ask for: the limits that keep a config simulable in bounded memory and time.

A config that passes :func:`sim.core.params.build` is well typed and in range, but may still ask
for more than any machine can do: a thousand billion employees raising false alarms, audits
every 1e-300 hours, a century of sessions at a billion a day. Such a job would not fail, it
would run for ever (or until the memory is gone) and leave a ``run.json`` saying ``running``.
The limits here reject it before anything is simulated, with one line that names the key,
the limit and why. Each is derived from what the model does and what a machine can hold:

* :data:`MAX_EVENTS_PER_REPLICATION`: the SimPy events one replication would schedule if
  it ran to the horizon (:func:`expected_events`: insider sessions, periodic checks): 10**8,
  a few minutes of one core at the engine's ~600,000 events a second. ``coupang_2025``
  expects ~4,400.
* :data:`MAX_ALARMS_PER_REPLICATION`: 10**8 benign false alarms over the horizon and the
  triage warm-up. The fast triage queue serves ~1.3 million a second but keeps ~40 bytes of
  each until the replication ends: at most ~4 GB and ~75 s, reached only by an insider never
  caught (most runs end far earlier, at detection). The lab's busiest setting (threshold 2 on
  ``coupang_2025_monitored``) expects 8.5e7 over a year.
* :data:`MAX_HORIZON_HOURS`: 1000 years. The parameters describe a firm as it is now (staff,
  keys, controls), so a horizon past a human lifetime only means "never censored", which is
  what the analytic checks use 1000 years for; beyond that a horizon is a typo, and one of
  1e300 hours would be written back into every censored row as a meaningless dwell.
* :data:`MAX_EMPLOYEES`: 10 billion, more than the world's population.
* :data:`MAX_RECORDS`: 10**15 records in a datastore, 100,000 times the largest known breach
  and below 2**53, so every count stays exact in floating point.
* :data:`MAX_GRAPH_NODES`: 200,000 generated hosts and datastores; a generated node costs
  about 2 KB and 12 us, so the graph stays under ~0.5 GB and a few seconds in each process
  that builds it (each worker builds its own).
* :data:`MAX_GRAPH_FILE_BYTES`: 100 MB of GraphML or JSON, about as many nodes; parsing it
  takes ~1 GB and ~20 s in every process that loads it.
* :data:`MAX_ANALYSTS`: 100,000 analysts (the queue keeps one slot per analyst).
* :func:`max_workers`: 4 x the machine's cores (``os.cpu_count()``); more processes only
  compete for the same cores.
* :data:`MAX_REPLICATIONS`: a million (~30 min with 2 workers); the summary reads every
  row back into memory, ~0.5 KB each.
* :data:`MAX_EXPLORER_REPLICATIONS`, :data:`MAX_EXPLORER_REPLICATION_YEARS`,
  :data:`MAX_EXPLORER_RUNS`: what one run of the browser explorer (:mod:`sim.explore`) may
  ask of a server a class shares: 5,000 replications (the explorer reads every row back on
  each refresh), replications x horizon at most 5,000 years (coupang_2025's 200 x 1 y takes
  a few seconds of one core, so 5,000 replication-years is at most a couple of minutes), and
  at most as many runs at once as cores (the others wait their turn), so 30 students
  pressing Run share the cores instead of exhausting them.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from sim.core.errors import ConfigError
from sim.core.timeunits import YEAR

if TYPE_CHECKING:
    from sim.core.engine import Model

MAX_EVENTS_PER_REPLICATION = 100_000_000
MAX_ALARMS_PER_REPLICATION = 100_000_000
MAX_HORIZON_HOURS = 1000 * YEAR
MAX_EMPLOYEES = 10_000_000_000
MAX_RECORDS = 10**15
MAX_GRAPH_NODES = 200_000
MAX_GRAPH_FILE_BYTES = 100_000_000
MAX_ANALYSTS = 100_000
MAX_REPLICATIONS = 1_000_000
WORKERS_PER_CORE = 4
MAX_EXPLORER_REPLICATIONS = 5_000
MAX_EXPLORER_REPLICATION_YEARS = 5_000.0


def max_explorer_runs() -> int:
    """How many runs the explorer simulates at once: one per core (the others queue)."""
    return os.cpu_count() or 1


def max_workers() -> int:
    """The most worker processes a job may ask for: a small multiple of the cores."""
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


def expected_events(model: Model) -> dict[str, float]:
    """The expected number of events of one replication, by the config key that drives each.

    An upper estimate, as if nothing caught the insider before the horizon (plus the mean
    containment delay, during which a detected insider goes on): two events per insider
    session, one per periodic check of each detector with an ``interval``, and under
    :data:`ALARMS_KEY` the benign false alarms of the detectors' watched places, warm-up
    included (``fast`` mode; ``exact`` mode has its own, lower limit in build_model).
    """
    # a detected insider goes on until containment, which may come after the horizon
    span = model.run.horizon + model.response.containment_delay
    out: dict[str, float] = {}
    out["insider.sessions_per_day"] = (2.0 * model.plan.profile.sessions_per_day * span / 24.0
                                       * model.crew.size)  # every member of a crew
    for det in model.detectors:
        interval = getattr(det.params, "interval", None)
        if isinstance(interval, float) and interval > 0:
            out[f"detectors.{det.name}.interval"] = span / interval
    rate = 0.0  # benign false alarms per hour, over every detector that scores benign work
    for det in model.detectors:
        if det.scores_benign_activity:
            p = getattr(det, "false_positive_rate", None)
            if p is None:
                p = getattr(det.params, "benign_trip_probability", 1.0)
            rate += float(p) * det.benign_rate()
    if rate > 0:
        out[ALARMS_KEY] = rate * (span + model.triage.warmup)
    return out


#: The entry of :func:`expected_events` for the benign false alarms.
ALARMS_KEY = "benign false alarms"


def check_model(model: Model) -> None:
    """Reject a model that cannot be simulated in bounded time and memory.

    Raises:
        ConfigError: the horizon is over :data:`MAX_HORIZON_HOURS`, or a replication would
            raise more than :data:`MAX_ALARMS_PER_REPLICATION` benign alarms or schedule more
            than :data:`MAX_EVENTS_PER_REPLICATION` other events (the key named is the biggest
            contributor).
    """
    horizon = model.run.horizon
    if horizon > MAX_HORIZON_HOURS:
        raise ConfigError("horizon", f"must be at most 1000y ({MAX_HORIZON_HOURS:g} h; "
                                     f"anything past a lifetime already means never "
                                     f"censored); got {horizon:g} h")
    parts = expected_events(model)
    alarms = parts.get(ALARMS_KEY, 0.0)
    if not alarms <= MAX_ALARMS_PER_REPLICATION:
        key = "background.employees" if model.background.params.employees >= 0 \
            else "network.employees"
        if model.triage.warmup > horizon:
            key = "triage.warmup"  # the warm-up before time 0 raises most of them
        raise ConfigError(key, f"the benign activity at the watched places ("
                               f"{model.background.employees:.3g} employees, and any traffic "
                               f"the graph gives) would raise about {alarms:.3g} benign false "
                               f"alarms per replication (warm-up included); the limit is "
                               f"{MAX_ALARMS_PER_REPLICATION:.0e} (~4 GB of triage queue if "
                               f"the insider is never caught, sim.core.limits); use fewer "
                               f"employees or less traffic, stricter detector thresholds or a "
                               f"shorter horizon")
    total = sum(v for k, v in parts.items() if k != ALARMS_KEY)
    if not total <= MAX_EVENTS_PER_REPLICATION:  # also catches inf and nan
        events = {k: v for k, v in parts.items() if k != ALARMS_KEY}
        key = max(events, key=lambda k: events[k] if not math.isnan(events[k]) else math.inf)
        raise ConfigError(key, f"a replication would simulate about {total:.3g} events "
                               f"({key}: {parts[key]:.3g}); the limit is "
                               f"{MAX_EVENTS_PER_REPLICATION:.0e} per replication (a few "
                               f"minutes of one core, sim.core.limits); change {key} or "
                               f"shorten the horizon")
