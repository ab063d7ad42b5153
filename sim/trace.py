"""``python -m sim.trace FILE``: the command; the code is :mod:`sim.outputs.trace`."""

from sim.outputs.trace import main

if __name__ == "__main__":
    raise SystemExit(main())
