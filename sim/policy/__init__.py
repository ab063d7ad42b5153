"""The policy layer: regulatory regimes, the firm and what a breach costs
(:mod:`~sim.policy.model`), and the mandate comparison report (:mod:`~sim.policy.report`).
"""
