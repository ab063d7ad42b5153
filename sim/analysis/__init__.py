"""From assumptions to evidence: studies that run the simulator many times over its inputs.

* :mod:`sim.analysis.study` - a study file (YAML in ``conf/sensitivity/`` or
  ``conf/calibration/``): a scenario, the assumption parameters with their ranges, and the
  outputs measured from a batch of replications;
* :mod:`sim.analysis.sensitivity` - global sensitivity (Sobol indices, Morris screening);
* :mod:`sim.analysis.calibration` - approximate Bayesian computation against published figures.

The engine knows nothing of these: a study composes a scenario's config once, changes the
named keys of the plain mapping and builds a model per parameter set (about 15 ms).
"""
