"""The agents that act in the world: the insider (:mod:`~sim.agents.insider`)."""
