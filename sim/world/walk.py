"""How a session walks the network: the route to a target and the places it touches.

A session of the insider enters where the credential is used (an internet-facing asset the
credential opens: an API gateway, a VPN concentrator, a bastion), crosses ``connects`` edges
through assets the credential opens to the datastore it takes from, and the data leaves the
way it came (the entry point is also the egress). Segmentation decides how long that route is,
or whether there is one: in a segmented network an account must hop through the hub zone,
and a credential that opens nothing on the way reaches nothing.

The *route* is chosen by a rule (``insider.route``):

* ``shortest`` — a shortest route, the lexicographically smallest of them (deterministic);
* ``least_watched`` — the insider knows where the sensors sit and takes the route through the
  fewest watched assets (an asset is watched if any observing detector's ``watch`` keeps it),
  the shortest among those;
* ``given`` — ``insider.path``, a list of asset ids, checked edge by edge.

The *walk* is the route plus the authentication service that validates the credential at the
entry: a granted ``auth``-role service the entry point calls (token validation). Every asset of
the walk sees every session: it is an observation there. Each asset may add set-up time to a
session (node attribute ``hop_seconds``: connection, hand-shake, token exchange), so a longer
walk makes longer sessions.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from sim.core.errors import ConfigError

if TYPE_CHECKING:
    from sim.world.network import Network

ROUTES: Final = ("shortest", "least_watched", "given")


def least_watched_route(network: Network, credential: str, target: str,
                        watched: frozenset[str]) -> list[str] | None:
    """The route to ``target`` through the fewest ``watched`` assets, then the fewest hops,
    then the smallest sequence of ids (Dijkstra over the assets ``credential`` opens)."""
    granted = network.granted(credential)
    graph = network.graph
    heap: list[tuple[int, int, list[str]]] = []
    for entry in network.entry_points():
        if entry in granted:
            heapq.heappush(heap, (int(entry in watched), 1, [entry]))
    done: set[str] = set()
    while heap:
        seen, hops, path = heapq.heappop(heap)
        node = path[-1]
        if node in done:
            continue
        done.add(node)
        if node == target:
            return path
        for nxt in graph.successors(node):
            if nxt in granted and nxt not in done:
                heapq.heappush(heap, (seen + int(nxt in watched), hops + 1, [*path, nxt]))
    return None


def check_given(network: Network, credential: str, path: Sequence[str]) -> list[str]:
    """Validate ``insider.path``: assets the credential opens, from an entry point, along
    ``connects`` edges, ending at a datastore.

    Raises:
        ConfigError: naming the first step at fault.
    """
    key = "insider.path"
    if len(path) == 0:
        raise ConfigError(key, "route: given needs insider.path, a list of asset ids from an "
                               "entry point to a datastore")
    granted = network.granted(credential)
    assets = set(network.assets())
    for i, node in enumerate(path):
        if node not in assets:
            raise ConfigError(f"{key}[{i}]", f"{node!r} is not an asset of network "
                                             f"{network.name!r}")
        if node not in granted:
            raise ConfigError(f"{key}[{i}]", f"the credential {credential!r} does not open "
                                             f"{node!r}")
    if path[0] not in network.entry_points():
        raise ConfigError(f"{key}[0]", f"{path[0]!r} is not an entry point (internet-facing); "
                                       f"entry points: {', '.join(network.entry_points()[:10])}")
    for i, (a, b) in enumerate(zip(path, path[1:], strict=False)):
        if not network.graph.has_edge(a, b):
            raise ConfigError(f"{key}[{i + 1}]", f"no connects edge {a!r} -> {b!r}")
    if network.node(path[-1])["kind"] != "datastore":
        raise ConfigError(f"{key}[{len(path) - 1}]", f"{path[-1]!r} is not a datastore")
    return list(path)


def walk_of(network: Network, credential: str, route: Sequence[str]) -> tuple[str, ...]:
    """The assets a session on ``route`` touches: the route, with the ``auth`` service that
    validates the credential at the entry (a granted one the entry point calls) after it."""
    granted = network.granted(credential)
    entry = route[0]
    auth = sorted(n for n in network.graph.successors(entry)
                  if n in granted and n not in route
                  and network.node(n).get("role") == "auth")
    return (entry, *auth[:1], *route[1:])


def edge_of(walk: Sequence[str], route: Sequence[str]) -> frozenset[str]:
    """The assets of ``walk`` that see the client's own addresses: the entry point and the
    validating auth service (the assets before the route's second hop)."""
    return frozenset(n for n in walk if n == route[0] or n not in route)


def setup_hours(network: Network, walk: Sequence[str]) -> float:
    """Set-up time of a session along ``walk``: the sum of ``hop_seconds``, in hours."""
    return sum(float(network.node(n).get("hop_seconds", 0.0)) for n in walk) / 3600.0
