"""Errors the command line reports as one line and a non-zero exit.

Every error a user can cause (a bad config value, a malformed graph file, an unknown option)
is a :class:`SimError`. Its ``str()`` is the whole message: it names the key or file and says
what is allowed. Anything else that escapes is a bug in the engine, not in the input.
"""

from __future__ import annotations


class SimError(Exception):
    """Base class of errors caused by the user's input."""


class ConfigError(SimError, ValueError):
    """A config value is missing, of the wrong type or out of range.

    Args:
        key: dotted path of the offending key, e.g. ``detectors.audit.coverage``.
        message: what is wrong and what is allowed, e.g. ``must be in [0, 1], got 1.5``.
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)

    def under(self, prefix: str) -> ConfigError:
        """The same error with ``prefix`` put in front of its key (``network`` + ``size``)."""
        key = f"{prefix}.{self.key}" if self.key else prefix
        return ConfigError(key, self.message)


class NetworkFileError(SimError, ValueError):
    """A graph file cannot be read or describes an inconsistent network.

    Args:
        source: the file (or other origin) of the graph.
        message: what is wrong, naming the node or edge (``node 'db1': no 'records'``).
    """

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}")
