"""The agents that act in the world: the insider (:mod:`~sim.agents.insider`) and how it
decides (:mod:`~sim.agents.strategy`, one module per strategy family: :mod:`~sim.agents.renewal`,
:mod:`~sim.agents.prober`, :mod:`~sim.agents.cautious`, :mod:`~sim.agents.departing`,
:mod:`~sim.agents.smash_and_grab`, :mod:`~sim.agents.fraud`, :mod:`~sim.agents.sabotage`)."""
