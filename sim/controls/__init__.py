"""The controls that compete to catch the insider: detectors and where they sit
(:mod:`~sim.controls.detectors`), how anomalous an observation looks
(:mod:`~sim.controls.scoring`) and the analyst team that triages alerts
(:mod:`~sim.controls.triage`).
"""
