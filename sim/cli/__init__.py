"""The command line: the Hydra app (:mod:`~sim.cli.app`) and sweep bookkeeping
(:mod:`~sim.cli.sweep`)."""
