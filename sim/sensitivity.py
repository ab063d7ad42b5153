"""``python -m sim.sensitivity CONFIG``: the command (code in :mod:`sim.analysis.sensitivity`)."""

from sim.analysis.sensitivity import main

if __name__ == "__main__":
    raise SystemExit(main())
