"""Run a job's replications, serially or on several worker processes, in replication order.

Each worker builds the model once from the plain config (so nothing unpicklable crosses a
process boundary) and simulates chunks of replication indices; results come back in order and
stream straight to the writer. Because every replication owns its seed sequence, the rows are
identical whatever the number of workers.
"""

from __future__ import annotations

import gc
import os
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from sim.core.engine import Model, build_model, simulate_many
from sim.outputs.results import ReplicationResult

_WORKER_MODEL: Model | None = None

#: Replications between two garbage collections in :func:`sim.core.engine.simulate_many`.
COLLECT_EVERY = 256


def resolve_workers(workers: Any, key: str = "workers") -> int:
    """``workers`` as a count: a positive integer up to :func:`sim.core.limits.max_workers`
    (a small multiple of the cores: more processes only compete for them), or 0 / ``auto``
    for every core."""
    from sim.core.errors import ConfigError
    from sim.core.limits import WORKERS_PER_CORE, max_workers

    if isinstance(workers, str) and workers == "auto" or (isinstance(workers, int)
                                                          and not isinstance(workers, bool)
                                                          and workers == 0):
        return os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ConfigError(key, f"must be a positive integer, or 0/auto for all cores; "
                               f"got {workers!r}")
    if workers > max_workers():
        raise ConfigError(key, f"must be at most {max_workers()} ({WORKERS_PER_CORE} x the "
                               f"{os.cpu_count() or 1} cores of this machine; 0/auto uses "
                               f"every core); got {workers}")
    return workers


def _init_worker(cfg: Mapping[str, Any]) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = build_model(cfg)
    gc.collect()
    gc.freeze()  # the model lives as long as the worker: keep it out of every collection


def _run_chunk(args: tuple[int, list[int]]) -> list[ReplicationResult]:
    seed, reps = args
    assert _WORKER_MODEL is not None
    return list(simulate_many(_WORKER_MODEL, seed, reps, freeze=False))


def shard_range(replications: int, shard: int, shards: int) -> range:
    """The replications of shard ``shard`` (0-based) of a job split into ``shards`` shards.

    Shard ``i`` runs ``[i*n // K, (i+1)*n // K)``: contiguous, in order, sizes differing by at
    most one, and together exactly ``range(n)``. Because every replication owns its seed
    sequence, the rows of the shards, concatenated in shard order, are the rows of the
    unsharded job (:mod:`sim.outputs.pool` joins them).

    Raises:
        ConfigError: ``shards`` is not an integer in [1, replications] or ``shard`` not one in
            [0, shards - 1] (each named by its key).
    """
    from sim.core.errors import ConfigError

    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not integer(shards) or not 1 <= shards <= replications:
        raise ConfigError("shards", f"must be an integer from 1 to replications "
                                    f"({replications}); got {shards!r}")
    if not integer(shard) or not 0 <= shard < shards:
        raise ConfigError("shard", f"must be an integer from 0 to shards - 1 ({shards - 1}); "
                                   f"got {shard!r}")
    return range(shard * replications // shards, (shard + 1) * replications // shards)


def iter_replications(cfg: Mapping[str, Any], model: Model, workers: int = 1,
                      chunk: int | None = None, start: int = 0,
                      stop: int | None = None) -> Iterator[ReplicationResult]:
    """Yield the results of replications ``start..stop-1`` of the job, in order.

    Args:
        cfg: the plain config ``model`` was built from (workers rebuild the model from it).
        model: the job's model, used directly when ``workers`` is 1.
        workers: worker processes.
        chunk: replications per task; default spreads about 8 tasks per worker.
        start: the first replication (a resumed run continues after its finished rows; each
            replication owns its seed sequence, so the rows are those of a run from 0).
        stop: one past the last replication (default: the job's ``replications``; a shard
            stops at the end of its :func:`shard_range`).
    """
    seed = model.run.seed
    n = model.run.replications if stop is None else min(stop, model.run.replications)
    if workers <= 1 or n - start < 2:
        # Freezing the heap pays off only when simulate_many collects on the way (every 256
        # replications); for a short job its full collection would be most of the job's cost.
        yield from simulate_many(model, seed, range(start, n),
                                 freeze=n - start > COLLECT_EVERY)
        return
    size = chunk or max(1, min(500, (n - start) // (workers * 8)))
    tasks = ((seed, list(range(i, min(i + size, n)))) for i in range(start, n, size))
    # Submit lazily, a few tasks ahead of the one being yielded: memory stays flat in n (as
    # with one worker), where pool.map would first submit every task and hold every result.
    ahead = 2 * workers
    from concurrent.futures import Future, ProcessPoolExecutor  # a one-process run needs neither

    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                             initargs=(dict(cfg),)) as pool:
        pending: deque[Future[list[ReplicationResult]]] = deque()
        try:
            for task in tasks:
                pending.append(pool.submit(_run_chunk, task))
                if len(pending) > ahead:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        finally:  # stopped early (an error, ^C): do not start what is still queued
            for future in pending:
                future.cancel()
