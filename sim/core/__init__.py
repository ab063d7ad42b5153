"""The engine and what every part of it shares: the replication loop, typed parameters, the
limits of a job, the worker pool, errors, atomic writes and the time unit.

Nothing here knows what a network, an insider or a detector is beyond the interfaces it calls.
"""
