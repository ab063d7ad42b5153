"""``python -m sim``: run a scenario (see :mod:`sim.app`)."""

from sim.app import cli

if __name__ == "__main__":
    cli()
