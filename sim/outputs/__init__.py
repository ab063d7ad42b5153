"""What a run leaves behind: per-replication results (:mod:`~sim.outputs.results`), interval
and survival statistics (:mod:`~sim.outputs.stats`), event traces (:mod:`~sim.outputs.trace`),
figures (:mod:`~sim.outputs.figures`) and the sweep report (:mod:`~sim.outputs.report`).

These read saved results; none of them runs the engine.
"""
