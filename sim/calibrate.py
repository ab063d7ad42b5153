"""``python -m sim.calibrate CONFIG``: the command (code in :mod:`sim.analysis.calibration`)."""

from sim.analysis.calibration import main

if __name__ == "__main__":
    raise SystemExit(main())
