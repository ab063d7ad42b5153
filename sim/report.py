"""``python -m sim.report SWEEP_OR_RUN_DIR``: the command; the code is :mod:`sim.outputs.report`."""

from sim.outputs.report import main

if __name__ == "__main__":
    raise SystemExit(main())
