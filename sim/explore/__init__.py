"""The explorer in the browser (``python -m sim.explore``): pick controls, run arms, compare.

:mod:`sim.explore.form` is the framework-free core (the form read from conf/, overrides,
validation); :mod:`sim.explore.arms` runs arms as ``python -m sim`` jobs and reads their rows;
:mod:`sim.explore.app` is the web app (the ``explore`` extra).
"""
