"""The world the insider acts in: the network graph (:mod:`~sim.world.network`), the places on it
and their benign traffic (:mod:`~sim.world.places`, :mod:`~sim.world.background`), how a session
walks it (:mod:`~sim.world.walk`) and wall-clock time (:mod:`~sim.world.calendar`).
"""
