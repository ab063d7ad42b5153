"""``python -m sim``: run a scenario (see :mod:`sim.cli.app`)."""

from sim.cli.app import cli

if __name__ == "__main__":
    cli()
