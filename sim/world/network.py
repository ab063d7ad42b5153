"""The enterprise network the insider moves through: assets, identities and credentials.

A network is a :class:`networkx.DiGraph` that follows this small grammar::

    Network    ::= Node* Edge*     graph attributes: name, employees [, description]
    Node       ::= Asset | Identity | Credential
    Asset      ::= host      (zone, role, [internet_facing = False], [Place])
                 | service   (zone, role, [internet_facing = False], [Place])
                 | datastore (zone, records, fields, [internet_facing = False], [Place])
    Place      ::= [hop_seconds] [traffic_rate traffic_profile traffic_weekend
                    traffic_utc_offset traffic_records traffic_rate_per_ip traffic_spread]
    Identity   ::= identity  (role)
    Credential ::= credential(cred_type, issued_hours_ago, lifetime_hours, revoked)
    Edge       ::= Asset      --connects--> Asset       reachability or a service call
                 | Credential --grants-->   Asset       the credential opens the asset
                 | Identity   --holds-->    Credential  who has the credential

=====================  =====================================================================
attribute              meaning
=====================  =====================================================================
``kind``               ``host``, ``service``, ``datastore``, ``identity`` or ``credential``
``zone``               network zone of an asset (``dmz``, ``app``, ``data``, ``corp``, ...)
``role``               host: ``workstation``, ``server``, ``gateway``, ``db``, ``build`` ...;
                       service: ``api``, ``web``, ``auth``, ``batch`` ...; identity: one of
                       :data:`IDENTITY_ROLES`
``internet_facing``    the asset can be reached from outside: it is an *entry point*
``records``            number of customer records in a datastore (integer >= 0)
``fields``             what each record holds, e.g. ``["name", "email", "phone"]``
``cred_type``          one of :data:`CREDENTIAL_TYPES`
``issued_hours_ago``   age of the credential when the simulation starts, in hours
``lifetime_hours``     hours from issue until the credential expires or policy would rotate
                       it (> 0, ``inf`` for never)
``revoked``            the credential was revoked and opens nothing
``hop_seconds``        set-up time a session spends at the asset (:mod:`sim.world.walk`), >= 0
``traffic_*``          the benign traffic at the asset (:mod:`sim.world.places`): ``traffic_rate``
                       observations/hour (>= 0; absent: a share of the staff population),
                       ``traffic_profile`` (a rhythm name), ``traffic_weekend``,
                       ``traffic_utc_offset``, and the medians ``traffic_records``,
                       ``traffic_rate_per_ip`` with their log-sd ``traffic_spread`` (> 0)
``tags``               free labels a detector's ``watch`` may select (a list, or comma text)
``relation``           edge kind: ``connects``, ``grants`` or ``holds``
``employees``          graph attribute: size of the benign user population (a count only)
=====================  =====================================================================

Hosts, services and datastores are *assets*. A symmetric link between two assets is stored as
two ``connects`` edges; a service call (caller to callee) as one. :func:`validate` enforces the
grammar; :class:`Network` is the read-only, validated view the engine queries. Networks come
from a file (:func:`load`, GraphML or node-link JSON), from :func:`generate` (a parametric
enterprise) or from :func:`coupang_like` (the 2025 Coupang breach). Durations are in hours
(:mod:`sim.core.timeunits`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, Final

import networkx as nx
import numpy as np

from sim.core.errors import ConfigError, NetworkFileError
from sim.core.limits import MAX_EMPLOYEES, MAX_GRAPH_FILE_BYTES, MAX_GRAPH_NODES, MAX_RECORDS
from sim.core.params import build, makes, spec
from sim.core.timeunits import DAY, YEAR
from sim.world.calendar import PROFILES

KINDS: Final = ("host", "service", "datastore", "identity", "credential")
ASSET_KINDS: Final = ("host", "service", "datastore")
RELATIONS: Final = ("connects", "grants", "holds")
IDENTITY_ROLES: Final = ("employee", "service_account", "former_employee", "contractor")
CREDENTIAL_TYPES: Final = ("account", "api_token", "signing_key")

CUSTOMER_FIELDS: Final = (
    "name", "email", "phone", "shipping_address", "order_history", "entrance_code",
    "date_of_birth", "gender", "loyalty_tier", "card_token",
)
"""Fields a generated datastore draws from; the first store always has the first four."""

FORMATS: Final = (".graphml", ".json")

# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

_Check = tuple[str, Callable[[Any], bool]]  # (what is allowed, predicate)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


def _is_fields(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(f, str) and f.strip() == f and f != "" and "," not in f for f in value)


_STR: _Check = ("a non-empty string", lambda v: isinstance(v, str) and v != "")
_BOOL: _Check = ("true or false", lambda v: isinstance(v, bool))
_COUNT: _Check = ("an integer >= 0", lambda v: _is_int(v) and v >= 0)
_RECORDS: _Check = (f"an integer in [0, {MAX_RECORDS:.0e}] (sim.core.limits.MAX_RECORDS)",
                    lambda v: _is_int(v) and 0 <= v <= MAX_RECORDS)
_FIELDS: _Check = ("a list of field names (non-empty strings without commas)", _is_fields)
_AGE: _Check = ("a finite number >= 0", lambda v: _is_real(v) and 0 <= v < math.inf)
_LIFETIME: _Check = ("a number > 0 or inf", lambda v: _is_real(v) and v > 0)
_IDENTITY_ROLE: _Check = (f"one of {', '.join(IDENTITY_ROLES)}",
                          lambda v: isinstance(v, str) and v in IDENTITY_ROLES)
_CRED_TYPE: _Check = (f"one of {', '.join(CREDENTIAL_TYPES)}",
                      lambda v: isinstance(v, str) and v in CREDENTIAL_TYPES)

_REQUIRED: Final[Mapping[str, tuple[tuple[str, _Check], ...]]] = {
    "host": (("zone", _STR), ("role", _STR)),
    "service": (("zone", _STR), ("role", _STR)),
    "datastore": (("zone", _STR), ("records", _RECORDS), ("fields", _FIELDS)),
    "identity": (("role", _IDENTITY_ROLE),),
    "credential": (("cred_type", _CRED_TYPE), ("issued_hours_ago", _AGE),
                   ("lifetime_hours", _LIFETIME), ("revoked", _BOOL)),
}
_RATE: _Check = ("a finite number >= 0", lambda v: _is_real(v) and 0 <= v < math.inf)
_POSITIVE: _Check = ("a finite number > 0", lambda v: _is_real(v) and 0 < v < math.inf)
_OFFSET: _Check = ("a number of hours in [-12, 14]", lambda v: _is_real(v) and -12 <= v <= 14)
_PROFILE: _Check = (f"one of {', '.join(PROFILES)}", lambda v: isinstance(v, str) and v in PROFILES)
_ASSET_OPTIONAL: Final = (
    ("internet_facing", _BOOL), ("hop_seconds", _RATE),
    ("traffic_rate", _RATE), ("traffic_profile", _PROFILE), ("traffic_weekend", _RATE),
    ("traffic_utc_offset", _OFFSET), ("traffic_records", _POSITIVE),
    ("traffic_rate_per_ip", _POSITIVE), ("traffic_spread", _POSITIVE),
)
"""Optional attributes of every asset: set-up time per session (:mod:`sim.world.walk`) and the
benign traffic model (:mod:`sim.world.places`)."""
_ASSET_FLOATS: Final = ("hop_seconds", "traffic_rate", "traffic_weekend", "traffic_utc_offset",
                        "traffic_records", "traffic_rate_per_ip", "traffic_spread")
_OPTIONAL: Final[Mapping[str, tuple[tuple[str, _Check], ...]]] = {
    "host": _ASSET_OPTIONAL,
    "service": _ASSET_OPTIONAL,
    "datastore": _ASSET_OPTIONAL,
    "identity": (),
    "credential": (),
}
_ENDPOINTS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...], str]]] = {
    "connects": (ASSET_KINDS, ASSET_KINDS, "from an asset to an asset"),
    "grants": (("credential",), ASSET_KINDS, "from a credential to an asset"),
    "holds": (("identity",), ("credential",), "from an identity to a credential"),
}

_PAIRS: Final[Mapping[str, frozenset[tuple[str, str]]]] = {
    relation: frozenset((a, b) for a in sources for b in targets)
    for relation, (sources, targets, _) in _ENDPOINTS.items()
}


def validate(graph: nx.DiGraph, source: str) -> None:
    """Check that ``graph`` follows the grammar in the module docstring.

    Checks, in this order, and stops at the first problem: the graph is a simple directed
    graph with nodes; the graph attribute ``employees`` is an integer >= 0 (``name`` and
    ``description`` are strings if present); every node id is a string and every node has a
    known ``kind`` with its required attributes well typed; every edge has a known
    ``relation`` between nodes of the right kinds and is not a self-loop; every credential
    grants at least one asset and is held by at most one identity; at least one asset is
    internet-facing. Attributes the grammar does not name are allowed and ignored.

    Args:
        graph: the graph to check; it is not modified.
        source: where the graph came from, named in the error.

    Raises:
        NetworkFileError: one line naming the node or edge and what is wrong.
    """

    def fail(message: str) -> NetworkFileError:
        return NetworkFileError(source, message)

    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise fail(f"a network must be a simple directed graph (networkx.DiGraph), "
                   f"got {type(graph).__name__}")
    if graph.number_of_nodes() == 0:
        raise fail("the network has no nodes")
    employees = graph.graph.get("employees")
    if employees is None:
        raise fail("graph attribute 'employees' is missing (size of the benign user "
                   "population, an integer >= 0)")
    if not (_is_int(employees) and 0 <= employees <= MAX_EMPLOYEES):
        raise fail(f"graph attribute 'employees' must be an integer in [0, {MAX_EMPLOYEES:.0e}]"
                   f" (more is more than the world's population), got {employees!r}")
    for key in ("name", "description"):
        if key in graph.graph and not isinstance(graph.graph[key], str):
            raise fail(f"graph attribute {key!r} must be a string, got {graph.graph[key]!r}")

    kinds: dict[Any, str] = {}
    entry = False
    for node, attrs in graph.nodes(data=True):
        if not isinstance(node, str):
            raise fail(f"node {node!r}: node ids must be strings")
        kind = attrs.get("kind")
        if kind is None:
            raise fail(f"node {node!r} has no 'kind' (one of {', '.join(KINDS)})")
        if not isinstance(kind, str) or kind not in KINDS:
            raise fail(f"node {node!r}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
        for attr, (allowed, ok) in _REQUIRED[kind]:
            if attr not in attrs:
                raise fail(f"node {node!r}: {kind} has no {attr!r} (must be {allowed})")
            if not ok(attrs[attr]):
                raise fail(f"node {node!r}: {kind} {attr!r} must be {allowed}, "
                           f"got {attrs[attr]!r}")
        for attr, (allowed, ok) in _OPTIONAL[kind]:
            if attr in attrs and not ok(attrs[attr]):
                raise fail(f"node {node!r}: {kind} {attr!r} must be {allowed}, "
                           f"got {attrs[attr]!r}")
        entry = entry or bool(attrs.get("internet_facing", False))
        kinds[node] = kind

    grants: dict[str, int] = dict.fromkeys((n for n, k in kinds.items() if k == "credential"), 0)
    holders: dict[str, str] = {}
    for u, v, attrs in graph.edges(data=True):
        if u == v:
            raise fail(f"edge {u!r} -> {v!r}: self-loops are not allowed")
        relation = attrs.get("relation")
        if relation is None:
            raise fail(f"edge {u!r} -> {v!r} has no 'relation' (one of {', '.join(RELATIONS)})")
        if not isinstance(relation, str) or relation not in RELATIONS:
            raise fail(f"edge {u!r} -> {v!r}: unknown relation {relation!r} "
                       f"(one of {', '.join(RELATIONS)})")
        if (kinds[u], kinds[v]) not in _PAIRS[relation]:
            raise fail(f"edge {u!r} -> {v!r}: {relation!r} must go {_ENDPOINTS[relation][2]}, "
                       f"got {kinds[u]} -> {kinds[v]}")
        if relation == "connects":
            continue
        if relation == "grants":
            grants[u] += 1
        elif relation == "holds":
            if v in holders:
                raise fail(f"credential {v!r} is held by more than one identity "
                           f"({holders[v]!r}, {u!r})")
            holders[v] = u
    for credential, count in grants.items():
        if count == 0:
            raise fail(f"credential {credential!r} grants no asset")
    if not entry:
        raise fail("no entry point: no asset is internet_facing")


# --------------------------------------------------------------------------------------------
# The read-only view
# --------------------------------------------------------------------------------------------


def _bfs_parents(graph: nx.DiGraph, sources: Iterable[str],
                 allowed: AbstractSet[str] | None = None) -> dict[str, str | None]:
    """Breadth-first search over asset successors, visiting sources and neighbours by id.

    Asset out-edges are all ``connects`` edges (the grammar allows nothing else), so the
    successors of an asset are the assets it connects to. Visiting in id order makes the path
    found to each node the lexicographically smallest of its shortest paths.

    Returns:
        Each reached node mapped to its predecessor (``None`` for a source).
    """
    parents: dict[str, str | None] = {}
    queue: deque[str] = deque()
    for node in sorted(sources):
        if allowed is None or node in allowed:
            parents[node] = None
            queue.append(node)
    while queue:
        node = queue.popleft()
        succ = [v for v in graph.successors(node)
                if v not in parents and (allowed is None or v in allowed)]
        for nxt in sorted(succ):
            parents[nxt] = node
            queue.append(nxt)
    return parents


def _trace(parents: Mapping[str, str | None], target: str) -> list[str] | None:
    if target not in parents:
        return None
    path = [target]
    while (prev := parents[path[-1]]) is not None:
        path.append(prev)
    return path[::-1]


class Network:
    """Read-only view over a validated graph, built once per job and shared by replications.

    Every query is answered from caches built here (lists, granted sets, holders) or filled on
    first use (one breadth-first search per credential), so the event loop never walks the
    whole graph. Lists are sorted by node id.

    Args:
        graph: a graph following the module grammar. It is frozen in place
            (:func:`networkx.freeze`): pass a copy if you want to keep editing it. Do not
            mutate node attribute dicts either.
        source: where the graph came from (a path), named in errors.

    Attributes:
        graph: the frozen graph.
        source: as given.
        name: graph attribute ``name`` (default: the file name without extension).
        employees: graph attribute ``employees``, the benign user population.

    Raises:
        NetworkFileError: the graph does not validate (see :func:`validate`).
    """

    def __init__(self, graph: nx.DiGraph, source: str = "<memory>") -> None:
        validate(graph, source)
        self.graph: nx.DiGraph = nx.freeze(graph)
        self.source = source
        default_name = Path(source).stem if source != "<memory>" else "network"
        self.name: str = graph.graph.get("name") or default_name
        self.employees: int = int(graph.graph["employees"])
        by_kind: dict[str, list[str]] = {kind: [] for kind in KINDS}
        zones: set[str] = set()
        entry: list[str] = []
        for node, attrs in graph.nodes(data=True):
            by_kind[attrs["kind"]].append(node)
            if attrs["kind"] in ASSET_KINDS:
                zones.add(attrs["zone"])
                if attrs.get("internet_facing", False):
                    entry.append(node)
        self._assets = sorted(n for kind in ASSET_KINDS for n in by_kind[kind])
        self._datastores = sorted(by_kind["datastore"])
        self._credentials = sorted(by_kind["credential"])
        self._zones = sorted(zones)
        self._entry = sorted(entry)
        # A credential's out-edges are all grants, an identity's all holds (the grammar).
        self._granted = {c: frozenset(graph.succ[c]) for c in self._credentials}
        self._holder: dict[str, str] = {
            c: identity for identity in by_kind["identity"] for c in graph.succ[identity]}
        self._reach: dict[str, dict[str, str | None]] = {}

    def __repr__(self) -> str:
        return (f"Network({self.name!r}, {self.graph.number_of_nodes()} nodes, "
                f"{self.graph.number_of_edges()} edges)")

    def node(self, node_id: str) -> dict[str, Any]:
        """The attribute dict of ``node_id`` (live: read it, do not change it).

        Raises:
            KeyError: no such node.
        """
        try:
            return self.graph.nodes[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id!r} in network {self.name!r}") from None

    def assets(self) -> list[str]:
        """All hosts, services and datastores."""
        return list(self._assets)

    def datastores(self) -> list[str]:
        """All datastores."""
        return list(self._datastores)

    def credentials(self) -> list[str]:
        """All credentials."""
        return list(self._credentials)

    def zones(self) -> list[str]:
        """The distinct zones of the assets, sorted."""
        return list(self._zones)

    def entry_points(self) -> list[str]:
        """The internet-facing assets."""
        return list(self._entry)

    def _credential(self, credential: str) -> str:
        if credential not in self._granted:
            raise KeyError(f"{credential!r} is not a credential in network {self.name!r}")
        return credential

    def granted(self, credential: str) -> frozenset[str]:
        """The assets ``credential`` grants (whether or not it is revoked or expired).

        Raises:
            KeyError: ``credential`` is not a credential.
        """
        return self._granted[self._credential(credential)]

    def holder(self, credential: str) -> str | None:
        """The identity holding ``credential``, or ``None`` if nobody holds it.

        Raises:
            KeyError: ``credential`` is not a credential.
        """
        return self._holder.get(self._credential(credential))

    def _parents(self, credential: str) -> dict[str, str | None]:
        parents = self._reach.get(credential)
        if parents is None:
            granted = self.granted(credential)
            parents = _bfs_parents(self.graph, (e for e in self._entry if e in granted), granted)
            self._reach[credential] = parents
        return parents

    def path_to(self, credential: str, target: str) -> list[str] | None:
        """A shortest route for a holder of ``credential`` from outside to ``target``.

        The route starts at an entry point, follows ``connects`` edges and uses only assets
        the credential grants (``target`` included). Among shortest routes the one whose
        sequence of node ids is lexicographically smallest is returned, so the answer is
        deterministic.

        Returns:
            The node ids from the entry point to ``target``, or ``None`` if unreachable.

        Raises:
            KeyError: ``credential`` is not a credential or ``target`` is not an asset.
        """
        self._credential(credential)
        if self.node(target)["kind"] not in ASSET_KINDS:
            raise KeyError(f"{target!r} is not an asset in network {self.name!r}")
        return _trace(self._parents(credential), target)

    def targets(self, credential: str, fields: Sequence[str]) -> list[str]:
        """The datastores worth stealing with ``credential``.

        Args:
            credential: the credential the attacker holds.
            fields: the fields wanted; a datastore qualifies if it holds at least one of
                them. Empty: every datastore qualifies.

        Returns:
            Qualifying datastores :meth:`path_to` reaches, by descending ``records`` then id.

        Raises:
            KeyError: ``credential`` is not a credential.
        """
        parents = self._parents(self._credential(credential))
        wanted = set(fields)
        found = [d for d in self._datastores if d in parents
                 and (not wanted or wanted.intersection(self.graph.nodes[d]["fields"]))]
        return sorted(found, key=lambda d: (-self.graph.nodes[d]["records"], d))

    def total_records(self, datastores: Iterable[str]) -> int:
        """The sum of ``records`` over ``datastores``.

        Raises:
            KeyError: one of them is not a datastore.
        """
        total = 0
        for store in datastores:
            attrs = self.node(store)
            if attrs["kind"] != "datastore":
                raise KeyError(f"{store!r} is not a datastore in network {self.name!r}")
            total += attrs["records"]
        return total


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

_GRAMMAR_ATTRS: Final[Mapping[str, frozenset[str]]] = {
    kind: frozenset(["kind", *(a for a, _ in _REQUIRED[kind]), *(a for a, _ in _OPTIONAL[kind])])
    for kind in KINDS
}
_ALL_GRAMMAR_ATTRS: Final = frozenset().union(*_GRAMMAR_ATTRS.values())
_FLOAT_ATTRS: Final = ("issued_hours_ago", "lifetime_hours")
_BOOL_TEXT: Final = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _coerce(graph: nx.DiGraph) -> None:
    """Turn the text a file may hold into the grammar's types, in place.

    GraphML keeps ``fields`` as a comma-separated string; JSON keeps ``inf`` as a string;
    hand-written GraphML may declare every key as a string. Values that do not parse are left
    alone for :func:`validate` to report.
    """

    def number(value: Any, kind: type) -> Any:
        if isinstance(value, str):
            try:
                return kind(value.strip())
            except ValueError:
                return value
        if kind is int and isinstance(value, float) and value.is_integer() \
                and abs(value) <= 2.0**53:  # beyond, the float is no exact count: reported
            return int(value)
        return value

    def boolean(value: Any) -> Any:
        if isinstance(value, str):
            return _BOOL_TEXT.get(value.strip().lower(), value)
        return value

    if "employees" in graph.graph:
        graph.graph["employees"] = number(graph.graph["employees"], int)
    for _, attrs in graph.nodes(data=True):
        kind = attrs.get("kind")
        if kind in ASSET_KINDS and "internet_facing" in attrs:
            attrs["internet_facing"] = boolean(attrs["internet_facing"])
        if kind in ASSET_KINDS:
            for attr in _ASSET_FLOATS:
                if attr in attrs:
                    attrs[attr] = number(attrs[attr], float)
        if kind == "datastore":
            if "records" in attrs:
                attrs["records"] = number(attrs["records"], int)
            if isinstance(attrs.get("fields"), str):
                text = attrs["fields"]
                attrs["fields"] = [f.strip() for f in text.split(",")] if text.strip() else []
        elif kind == "credential":
            for attr in _FLOAT_ATTRS:
                if attr in attrs:
                    attrs[attr] = number(attrs[attr], float)
            if "revoked" in attrs:
                attrs["revoked"] = boolean(attrs["revoked"])


def _read_graphml(path: str) -> nx.DiGraph:
    try:
        graph = nx.read_graphml(path, node_type=str)
    except Exception as err:  # noqa: BLE001 - any parser failure is a bad file
        raise NetworkFileError(path, f"cannot parse GraphML: {err}") from None
    if not graph.is_directed():
        raise NetworkFileError(path, "the graph must be directed (edgedefault=\"directed\")")
    if graph.is_multigraph():
        pairs = set()
        for u, v in graph.edges():
            if (u, v) in pairs:
                raise NetworkFileError(path, f"edge {u!r} -> {v!r} appears more than once")
            pairs.add((u, v))
        graph = nx.DiGraph(graph)
    # GraphML <default> values: apply them to the nodes and edges that lack the key, but a
    # grammar attribute only to the kinds that have it (internet_facing only to assets).
    node_default = graph.graph.pop("node_default", None) or {}
    edge_default = graph.graph.pop("edge_default", None) or {}
    for _, attrs in graph.nodes(data=True):
        if "kind" in node_default:
            attrs.setdefault("kind", node_default["kind"])
        own = _GRAMMAR_ATTRS.get(attrs.get("kind"), _ALL_GRAMMAR_ATTRS)
        for key, value in node_default.items():
            if key in own or key not in _ALL_GRAMMAR_ATTRS:
                attrs.setdefault(key, value)
    for _, _, attrs in graph.edges(data=True):
        for key, value in edge_default.items():
            attrs.setdefault(key, value)
    return graph


def _read_json(path: str) -> nx.DiGraph:
    def fail(message: str) -> NetworkFileError:
        return NetworkFileError(path, message)

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except RecursionError:
        raise fail("not a node-link graph: JSON nested too deeply") from None
    except json.JSONDecodeError as err:
        raise fail(f"not valid JSON: {err}") from None
    except UnicodeDecodeError:
        raise fail("not valid JSON: the file is not UTF-8 text") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise fail("expected a node-link JSON object with a 'nodes' list")
    if "edges" in data and "links" in data:
        raise fail("has both 'edges' and 'links'; use one")
    edges = data.get("edges", data.get("links"))
    if not isinstance(edges, list):
        raise fail("expected an 'edges' (or 'links') list")
    if data.get("directed", True) is not True:
        raise fail("the graph must be directed (\"directed\": true)")
    if data.get("multigraph", False) is not False:
        raise fail("multigraphs are not supported (\"multigraph\": false)")
    graph_attrs = data.get("graph", {})
    if not isinstance(graph_attrs, dict):
        raise fail(f"'graph' must be an object of graph attributes, got {graph_attrs!r}")

    def node_id(value: Any, where: str) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise fail(f"{where}: ids must be strings or integers, got {value!r}")
        return str(value)

    graph = nx.DiGraph()
    graph.graph.update(graph_attrs)
    for i, item in enumerate(data["nodes"]):
        if not isinstance(item, dict) or "id" not in item:
            raise fail(f"node #{i} has no 'id'")
        attrs = dict(item)
        node = node_id(attrs.pop("id"), f"node #{i}")
        if node in graph:
            raise fail(f"node {node!r} appears more than once")
        graph.add_node(node, **attrs)
    for i, item in enumerate(edges):
        if not isinstance(item, dict) or "source" not in item or "target" not in item:
            raise fail(f"edge #{i} needs a 'source' and a 'target'")
        attrs = dict(item)
        u = node_id(attrs.pop("source"), f"edge #{i}")
        v = node_id(attrs.pop("target"), f"edge #{i}")
        for end in (u, v):
            if end not in graph:
                raise fail(f"edge {u!r} -> {v!r}: unknown node {end!r}")
        if graph.has_edge(u, v):
            raise fail(f"edge {u!r} -> {v!r} appears more than once")
        graph.add_edge(u, v, **attrs)
    return graph


def _format(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise NetworkFileError(path, f"unknown extension {suffix or '(none)'!r}; "
                                     f"use {' or '.join(FORMATS)}")
    return suffix


def load(path: str) -> Network:
    """Read a network from a ``.graphml`` or node-link ``.json`` file and validate it.

    GraphML holds ``fields`` as one comma-separated string. JSON follows
    :func:`networkx.node_link_data`, with the edge list under ``edges`` or ``links``;
    ``lifetime_hours`` may be the string ``"inf"``. Integer JSON ids become strings.

    Raises:
        NetworkFileError: unknown extension, missing or unreadable file, unparsable content,
            or a graph that does not validate.
    """
    path = str(path)
    suffix = _format(path)
    if not Path(path).is_file():
        raise NetworkFileError(path, "no such file")
    try:
        size = Path(path).stat().st_size
        if size > MAX_GRAPH_FILE_BYTES:
            raise NetworkFileError(path, f"is {size / 1e6:.0f} MB; the limit is "
                                         f"{MAX_GRAPH_FILE_BYTES / 1e6:.0f} MB (about as many "
                                         f"nodes as the generator's {MAX_GRAPH_NODES}, ~1 GB to "
                                         f"parse in every process; sim.core.limits)")
        graph = _read_graphml(path) if suffix == ".graphml" else _read_json(path)
    except OSError as err:
        raise NetworkFileError(path, f"cannot read: {err.strerror or err}") from None
    _coerce(graph)
    return Network(graph, source=path)


@makes(Network)
def from_file(path: str) -> Network:
    """The network in ``path``: the same as :func:`load` (the ``file`` config option)."""
    return load(path)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar it stands for; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _export_attrs(attrs: Mapping[str, Any], kind: Any, graphml: bool) -> dict[str, Any]:
    out = {key: _plain(value) for key, value in attrs.items()}
    if kind == "datastore":
        out["records"] = int(out["records"])
        out["fields"] = ",".join(out["fields"]) if graphml else list(out["fields"])
    if kind == "credential":
        for attr in _FLOAT_ATTRS:
            value = float(out[attr])
            out[attr] = "inf" if (not graphml and math.isinf(value)) else value
    return out


def save(network: Network, path: str) -> None:
    """Write ``network`` to ``path`` (``.graphml`` or ``.json``) so that :func:`load` gives
    back an equal graph.

    Raises:
        NetworkFileError: unknown extension, an extra attribute the format cannot hold, or
            the file cannot be written.
    """
    path = str(path)
    suffix = _format(path)
    graph = network.graph
    graph_attrs = {key: _plain(value) for key, value in graph.graph.items()}
    try:
        if suffix == ".graphml":
            out = nx.DiGraph()
            out.graph.update(graph_attrs)
            out.add_nodes_from((n, _export_attrs(a, a["kind"], True))
                               for n, a in graph.nodes(data=True))
            out.add_edges_from(graph.edges(data=True))
            nx.write_graphml(out, path)
        else:
            data = {
                "directed": True,
                "multigraph": False,
                "graph": graph_attrs,
                "nodes": [{"id": n, **_export_attrs(a, a["kind"], False)}
                          for n, a in graph.nodes(data=True)],
                "edges": [{"source": u, "target": v, **a} for u, v, a in graph.edges(data=True)],
            }
            text = json.dumps(data, indent=1, allow_nan=False)
            Path(path).write_text(text + "\n", encoding="utf-8")
    except OSError as err:
        raise NetworkFileError(path, f"cannot write: {err.strerror or err}") from None
    except (nx.NetworkXError, TypeError, ValueError) as err:
        raise NetworkFileError(path, f"cannot write {suffix[1:]}: {err}") from None


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------

MAX_EXPLICIT_PEOPLE: Final = 50
"""Human identities created explicitly; the rest of ``employees`` is a count only."""
ACCOUNT_ROTATION: Final = 90 * DAY
"""Lifetime of an employee account password under the rotation policy."""
TOKEN_LIFETIME: Final = YEAR
"""Lifetime of a service account's API token."""

_KNOWN_ZONE_ROLES: Final[Mapping[str, tuple[str, ...]]] = {
    "dmz": ("gateway", "web"), "app": ("server",), "data": ("db",), "corp": ("workstation",),
}
_OTHER_ROLES: Final = ("workstation", "build", "bastion")
# (issued_hours_ago, lifetime_hours) of the retained credential, by type.
_RETAINED: Final[Mapping[str, tuple[float, float]]] = {
    "signing_key": (3 * YEAR, 10 * YEAR),  # like Coupang's: keys said to be valid 5-10 years
    "api_token": (180 * DAY, 2 * YEAR),
    "account": (30 * DAY, math.inf),       # never deprovisioned, no password expiry
}


@dataclasses.dataclass(frozen=True)
class _EnterpriseParams:
    """Arguments of :func:`generate`, checked with :func:`sim.core.params.build`."""

    hosts: int = spec(lo=1, hi=MAX_GRAPH_NODES)
    zones: tuple[str, ...] = spec()
    segmentation: float = spec(lo=0, hi=1)
    datastores: int = spec(lo=1, hi=MAX_GRAPH_NODES)
    records_per_store: int = spec(lo=0, hi=MAX_RECORDS)
    employees: int = spec(lo=0, hi=MAX_EMPLOYEES)
    retained_credential: str = spec(choices=CREDENTIAL_TYPES)
    seed: int = spec(lo=0)
    retained_lifetime: float | None = spec(None, duration=True, allow_inf=True, lo=0,
                                           lo_open=True)

    def check(self) -> None:
        _check_zones(self.zones, self.hosts)
        if self.hosts + self.datastores > MAX_GRAPH_NODES:
            raise ConfigError("datastores", f"hosts + datastores must be at most "
                              f"{MAX_GRAPH_NODES} (about 2 KB of memory each in every process "
                              f"that builds the graph), got {self.hosts + self.datastores}")


@dataclasses.dataclass(frozen=True)
class _CoupangParams:
    """Arguments of :func:`coupang_like`."""

    customers: int = spec(lo=1, hi=MAX_RECORDS)
    employees: int = spec(lo=0, hi=MAX_EMPLOYEES)
    hosts: int = spec(lo=1, hi=MAX_GRAPH_NODES)
    seed: int = spec(lo=0)

    def check(self) -> None:
        _check_zones(_COUPANG_ZONES, self.hosts)


def _check_zones(zones: Sequence[str], hosts: int) -> None:
    if len(zones) < 2:
        raise ConfigError("zones", f"needs at least 2 zones (an internet-facing first zone and "
                                   f"a data zone), got {list(zones)}")
    if any(not z for z in zones):
        raise ConfigError("zones", f"zone names must be non-empty, got {list(zones)}")
    if len(set(zones)) != len(zones):
        raise ConfigError("zones", f"zone names must be distinct, got {list(zones)}")
    if hosts < len(zones):
        raise ConfigError("hosts", f"must be >= the number of zones ({len(zones)}), got {hosts}")


@dataclasses.dataclass(frozen=True)
class _Layout:
    """What each zone is for: the internet-facing edge, the application hub, the data zone."""

    zones: tuple[str, ...]
    edge: str
    hub: str | None
    data: str
    others: tuple[str, ...]

    @classmethod
    def of(cls, zones: Sequence[str]) -> _Layout:
        zones = tuple(zones)
        rest = zones[1:]
        data = "data" if "data" in rest else (zones[-2] if len(zones) >= 3 else zones[-1])
        free = [z for z in rest if z != data]
        hub = "app" if "app" in free else (free[0] if free else None)
        others = tuple(z for z in free if z != hub)
        return cls(zones, zones[0], hub, data, others)

    @property
    def service_zone(self) -> str:
        """Where the internal services live: the hub, or the edge zone if there is none."""
        return self.hub if self.hub is not None else self.edge

    def roles(self, zone: str) -> tuple[str, ...]:
        if zone in _KNOWN_ZONE_ROLES:
            return _KNOWN_ZONE_ROLES[zone]
        if zone == self.edge:
            return ("gateway", "web")
        if zone == self.hub:
            return ("server",)
        if zone == self.data:
            return ("db",)
        return (_OTHER_ROLES[self.others.index(zone) % len(_OTHER_ROLES)],)

    def weight(self, zone: str) -> float:
        """Share of the hosts in ``zone``: a small edge, a middling hub, most hosts in offices."""
        if zone == self.edge:
            return 0.05
        if zone == self.hub:
            return 0.25
        if zone == self.data:
            return 0.10
        return 0.60 / len(self.others)


class _Builder:
    """Collects nodes and edges, then makes the graph in one go."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[tuple[str, str, str]] = []

    def node(self, node_id: str, **attrs: Any) -> str:
        if node_id in self.nodes:
            raise ConfigError("zones", f"zone names give two nodes the id {node_id!r}; "
                                       f"rename a zone")
        self.nodes[node_id] = attrs
        return node_id

    def link(self, a: str, b: str) -> None:
        """A symmetric link: ``connects`` both ways."""
        self.edges.append((a, b, "connects"))
        self.edges.append((b, a, "connects"))

    def call(self, caller: str, callee: str) -> None:
        """A service call: ``connects`` from caller to callee only."""
        self.edges.append((caller, callee, "connects"))

    def grant(self, credential: str, asset: str) -> None:
        self.edges.append((credential, asset, "grants"))

    def hold(self, identity: str, credential: str) -> None:
        self.edges.append((identity, credential, "holds"))

    def graph(self, **graph_attrs: Any) -> nx.DiGraph:
        graph = nx.DiGraph(**graph_attrs)
        graph.add_nodes_from(self.nodes.items())
        graph.add_edges_from((u, v, {"relation": r}) for u, v, r in self.edges)
        return graph


def _host_counts(layout: _Layout, hosts: int) -> list[int]:
    """Hosts per zone (in zone order): proportional to the zone weights, at least one each."""
    weights = np.array([layout.weight(z) for z in layout.zones])
    weights /= weights.sum()
    counts = np.maximum(1, np.floor(weights * hosts).astype(int))
    order = np.argsort(-weights, kind="stable")
    excess = int(counts.sum()) - hosts
    if excess < 0:
        counts[order[0]] -= excess
    for zone in order:
        if excess <= 0:
            break
        take = min(int(counts[zone]) - 1, excess)
        counts[zone] -= take
        excess -= take
    return [int(c) for c in counts]


def _add_hosts(b: _Builder, layout: _Layout, hosts: int, segmentation: float,
               rng: np.random.Generator) -> dict[str, list[str]]:
    """Add ``hosts`` hosts over the zones and link them.

    Within a zone the hosts form a random recursive tree (so the zone is connected) plus
    ``n // 2`` random chords. Across zones every host proposes one link to a uniformly drawn
    host of another zone, and each proposal is dropped with probability ``segmentation``
    (common random numbers: raising ``segmentation`` only removes links). Every office zone
    keeps one designated link between its first host and the hub's first host. Edge-zone
    hosts are internet-facing.

    Returns:
        The host ids of each zone.
    """
    counts = _host_counts(layout, hosts)
    by_zone: dict[str, list[str]] = {}
    for zone, n in zip(layout.zones, counts, strict=True):
        roles = layout.roles(zone)
        facing = zone == layout.edge
        ids = [f"{zone}-host-{i}" for i in range(n)]
        for i, host in enumerate(ids):
            b.node(host, kind="host", zone=zone, role=roles[i % len(roles)],
                   internet_facing=facing)
        by_zone[zone] = ids
    for zone, n in zip(layout.zones, counts, strict=True):
        ids = by_zone[zone]
        if n < 2:
            continue
        parents = (rng.random(n - 1) * np.arange(1, n)).astype(np.int64)
        for child, parent in enumerate(parents.tolist(), start=1):
            b.link(ids[child], ids[parent])
        m = n // 2
        left, right = rng.integers(0, n, m).tolist(), rng.integers(0, n, m).tolist()
        for i, j in zip(left, right, strict=True):
            if i != j:
                b.link(ids[i], ids[j])
    # cross-zone proposals over hosts laid out zone after zone
    all_ids = [h for zone in layout.zones for h in by_zone[zone]]
    size = np.repeat(counts, counts)
    start = np.repeat(np.cumsum([0, *counts[:-1]]), counts)
    draw = (rng.random(hosts) * (hosts - size)).astype(np.int64)
    partner = draw + size * (draw >= start)
    keep = rng.random(hosts) >= segmentation
    for i, j in zip(np.flatnonzero(keep).tolist(), partner[keep].tolist(), strict=True):
        b.link(all_ids[i], all_ids[j])
    if layout.hub is not None:
        for zone in layout.others:
            b.link(by_zone[zone][0], by_zone[layout.hub][0])
    return by_zone


def _add_people(b: _Builder, layout: _Layout, by_zone: Mapping[str, list[str]],
                employees: int, rng: np.random.Generator) -> None:
    """Add up to :data:`MAX_EXPLICIT_PEOPLE` human identities, each with an account.

    Every tenth person is a former employee (account revoked), every tenth a contractor.
    People work in the office zones (every third, a developer, in the service zone); an
    account grants up to three hosts of the person's zone and rotates every
    :data:`ACCOUNT_ROTATION`.
    """
    homes = list(layout.others) or [layout.service_zone]
    for i in range(min(employees, MAX_EXPLICIT_PEOPLE)):
        role = ("former_employee" if i % 10 == 9 else "contractor" if i % 10 == 4
                else "employee")
        zone = layout.service_zone if i % 3 == 2 else homes[i % len(homes)]
        person = b.node(f"user-{i}", kind="identity", role=role)
        account = b.node(f"account-{i}", kind="credential", cred_type="account",
                         issued_hours_ago=float(rng.uniform(0, ACCOUNT_ROTATION)),
                         lifetime_hours=ACCOUNT_ROTATION, revoked=role == "former_employee")
        b.hold(person, account)
        pool = by_zone[zone]
        picks = rng.choice(len(pool), size=min(3, len(pool)), replace=False)
        for j in sorted(picks.tolist()):
            b.grant(account, pool[j])


def _add_service_accounts(b: _Builder, calls: Mapping[str, Sequence[str]],
                          rng: np.random.Generator) -> None:
    """Give each calling service an identity ``svc-<service>`` with an API token
    ``token-<service>`` that grants the services and datastores it calls."""
    for caller in sorted(calls):
        if not calls[caller]:
            continue
        identity = b.node(f"svc-{caller}", kind="identity", role="service_account")
        token = b.node(f"token-{caller}", kind="credential", cred_type="api_token",
                       issued_hours_ago=float(rng.uniform(0, TOKEN_LIFETIME)),
                       lifetime_hours=TOKEN_LIFETIME, revoked=False)
        b.hold(identity, token)
        for callee in calls[caller]:
            b.grant(token, callee)


@makes(Network)
def generate(hosts: int = 200, zones: Sequence[str] = ("dmz", "app", "data", "corp"),
             segmentation: float = 0.8, datastores: int = 3,
             records_per_store: int = 1_000_000, employees: int = 500,
             retained_credential: str = "signing_key", seed: int = 0,
             retained_lifetime: float | str | None = None) -> Network:
    """A parametric enterprise network with one retained credential.

    Zones, in order: the first is the internet-facing edge (hosts ``gateway``/``web``); the
    data zone is ``data`` if present, else the last-but-one zone (the last of two); the hub
    (``app`` if present, else the first remaining zone) holds the internal services
    (``server`` hosts); the remaining zones are offices (``corp`` -> ``workstation``; other
    names take ``workstation``, ``build``, ``bastion`` in turn). Hosts are linked as
    described in :func:`_add_hosts`.

    Services, each running on (linked with) a host of its zone:

    - edge: ``<edge>-api-<i>`` (``max(1, min(8, hosts // 100))`` of them) and
      ``<edge>-web-0``, internet-facing;
    - hub: ``<hub>-auth`` (the token issuer, home of the signing key), ``<hub>-api-<i>``
      reading datastore ``i``, ``<hub>-batch`` reading every datastore (with only two zones
      these live in the edge zone as ``<edge>-internal-auth`` and so on).

    Service calls: web -> edge APIs and auth; edge APIs -> hub APIs and auth; hub API i ->
    store i and auth; batch -> every store. With ``segmentation=1`` these calls are the only
    way across zones from the edge, so the data zone is reached only through the hub.

    Datastores ``<data>-store-<i>`` sit in the data zone (each linked with a ``db`` host),
    ``records_per_store`` records each; store 0 holds name, email, phone and
    shipping_address, the others 2 to 5 fields from :data:`CUSTOMER_FIELDS`.

    Identities: see :func:`_add_people` and :func:`_add_service_accounts`; ``employees`` is
    stored as the graph attribute. The former employee ``former_insider`` holds
    ``retained_<retained_credential>``, never revoked, granting a route from an entry point
    to store 0:

    - ``signing_key``: forges tokens for the edge APIs and the services behind them, so it
      grants the edge APIs, auth, the hub services reading store 0, and store 0;
    - ``api_token``: ``<edge>-api-0``, ``<hub>-api-0`` and store 0;
    - ``account``: every host on the shortest route over host links (not service calls)
      from an internet-facing host to store 0, and store 0: the more segmented the network,
      the longer the route.

    Args:
        hosts: number of hosts, >= the number of zones.
        zones: distinct zone names, at least two, the internet-facing one first.
        segmentation: share of cross-zone host links blocked, in [0, 1]: 0 is a flat network.
        datastores: number of customer datastores, >= 1.
        records_per_store: records in each datastore, >= 0.
        employees: size of the benign user population, >= 0.
        retained_credential: one of :data:`CREDENTIAL_TYPES`.
        seed: seed of the generator; the same arguments give the same network.
        retained_lifetime: lifetime of the retained credential (a duration; ``inf`` never
            expires); default by type: signing key 10 y, API token 2 y, account never.

    Raises:
        ConfigError: an argument is out of range; the key is the argument name.
    """
    p = build(_EnterpriseParams, dict(
        hosts=hosts, zones=zones, segmentation=segmentation, datastores=datastores,
        records_per_store=records_per_store, employees=employees,
        retained_credential=retained_credential, seed=seed,
        retained_lifetime=retained_lifetime))
    rng = np.random.default_rng(p.seed)
    layout = _Layout.of(p.zones)
    b = _Builder()
    by_zone = _add_hosts(b, layout, p.hosts, p.segmentation, rng)
    edge, hub, data = layout.edge, layout.service_zone, layout.data

    inner = layout.hub or f"{edge}-internal"   # id prefix of the internal services

    def service(zone: str, sid: str, role: str, index: int, facing: bool = False) -> str:
        b.node(sid, kind="service", zone=zone, role=role, internet_facing=facing)
        pool = by_zone[zone]
        b.link(sid, pool[index % len(pool)])
        return sid

    n_edge_api = max(1, min(8, p.hosts // 100))
    edge_apis = [service(edge, f"{edge}-api-{i}", "api", i, True) for i in range(n_edge_api)]
    web = service(edge, f"{edge}-web-0", "web", n_edge_api, True)
    auth = service(hub, f"{inner}-auth", "auth", 0)
    readers = [service(hub, f"{inner}-api-{i}", "api", i + 1) for i in range(p.datastores)]
    batch = service(hub, f"{inner}-batch", "batch", p.datastores + 1)

    stores = []
    db_hosts = by_zone[data]
    for i in range(p.datastores):
        if i == 0:
            fields = list(CUSTOMER_FIELDS[:4])
        else:
            k = int(rng.integers(2, 6))
            fields = [CUSTOMER_FIELDS[j] for j in sorted(
                rng.choice(len(CUSTOMER_FIELDS), size=k, replace=False).tolist())]
        store = b.node(f"{data}-store-{i}", kind="datastore", zone=data,
                       records=p.records_per_store, fields=fields, internet_facing=False)
        b.link(store, db_hosts[i % len(db_hosts)])
        stores.append(store)

    calls: dict[str, list[str]] = {web: [*edge_apis, auth]}
    for api in edge_apis:
        calls[api] = [*readers, auth]
    for reader, store in zip(readers, stores, strict=True):
        calls[reader] = [store, auth]
    calls[batch] = list(stores)
    calls[auth] = []
    for caller, callees in calls.items():
        for callee in callees:
            b.call(caller, callee)

    _add_people(b, layout, by_zone, p.employees, rng)
    _add_service_accounts(b, calls, rng)

    graph = b.graph(
        name="enterprise", employees=p.employees,
        description=(f"generate(hosts={p.hosts}, zones={list(p.zones)}, "
                     f"segmentation={p.segmentation:g}, datastores={p.datastores}, "
                     f"records_per_store={p.records_per_store}, employees={p.employees}, "
                     f"retained_credential={p.retained_credential!r}, seed={p.seed})"))
    kind = p.retained_credential
    if kind == "signing_key":
        grants = [*edge_apis, auth, readers[0], batch, stores[0]]
    elif kind == "api_token":
        grants = [edge_apis[0], readers[0], stores[0]]
    else:
        # a person's account moves over host links (the network layer), not through service
        # calls: segmentation decides how many hosts lie between the edge and the data
        hosts = {h for zone_hosts in by_zone.values() for h in zone_hosts}
        parents = _bfs_parents(graph, by_zone[edge], allowed=hosts | {stores[0]})
        route = _trace(parents, stores[0])
        if route is None:
            raise ConfigError("segmentation", f"at {p.segmentation:g} no host route leads "
                                              f"from the edge to {stores[0]}: the retained "
                                              f"account reaches nothing (lower it, or retain "
                                              f"a signing_key or api_token)")
        grants = route
    insider, key = "former_insider", f"retained_{kind}"
    issued, lifetime = _RETAINED[kind]
    if p.retained_lifetime is not None:
        lifetime = p.retained_lifetime
    graph.add_node(insider, kind="identity", role="former_employee")
    graph.add_node(key, kind="credential", cred_type=kind, issued_hours_ago=issued,
                   lifetime_hours=lifetime, revoked=False)
    graph.add_edge(insider, key, relation="holds")
    graph.add_edges_from((key, asset, {"relation": "grants"}) for asset in grants)
    return Network(graph, source="generate")


_COUPANG_ZONES: Final = ("dmz", "app", "data", "corp")
COUPANG_SEGMENTATION: Final = 0.9
"""Share of cross-zone host links blocked in :func:`coupang_like`. Coupang's topology is not
public; a well-segmented network is assumed (the key needed no lateral movement anyway)."""


@makes(Network)
def coupang_like(customers: int = 33_700_000, employees: int = 20_000, hosts: int = 300,
                 seed: int = 0) -> Network:
    """The network of the 2025 Coupang breach (facts from ../shared/CALIBRATION.md).

    A former developer of the authentication system (identity ``former_developer``) kept the
    token-signing key ``auth_signing_key``, never revoked; with forged tokens the customer
    address pages were requested about 148M times and 33.7M accounts' name, email, phone,
    shipping address, some order history and building entrance codes were taken, but no
    payment data.

    Places with their own benign traffic (:mod:`sim.world.places`; order-of-magnitude
    assumptions): customers' sessions at the gateway, web front end, token validation in
    ``auth_service`` and the APIs; pooled service connections at the datastores; staff at
    ``vpn_gateway`` (corp, internet-facing) and administrators at ``bastion`` (app).

    Services (zone): ``api_gateway``, ``web_frontend`` (dmz, internet-facing);
    ``auth_service`` (auth), ``address_api``, ``account_api``, ``order_api``, ``payment_api``
    (app). Datastores (data): ``customer_db`` (name, email, phone, shipping_address,
    entrance_code), ``order_db`` (order_history), ``payment_vault`` (card_token, billing),
    ``customers`` records each. The key grants every service but ``payment_api`` and the
    first two datastores, so ``path_to("auth_signing_key", "customer_db")`` is
    ``[api_gateway, address_api, customer_db]`` and ``payment_vault`` is out of its reach.
    ``hosts`` generic hosts (see :func:`generate`, segmentation
    :data:`COUPANG_SEGMENTATION`), people with accounts and service accounts with API
    tokens are added for realism.

    Args:
        customers: accounts in each datastore, >= 1 (33.7M reported; about 37.5M in the
            final count).
        employees: size of the benign user population, >= 0.
        hosts: generic hosts, >= 4.
        seed: seed of the generator.

    Raises:
        ConfigError: an argument is out of range; the key is the argument name.
    """
    p = build(_CoupangParams, dict(customers=customers, employees=employees, hosts=hosts,
                                   seed=seed))
    rng = np.random.default_rng(p.seed)
    layout = _Layout.of(_COUPANG_ZONES)
    b = _Builder()
    by_zone = _add_hosts(b, layout, p.hosts, COUPANG_SEGMENTATION, rng)

    def asset(name: str, kind: str, zone: str, index: int, **attrs: Any) -> str:
        b.node(name, kind=kind, zone=zone, internet_facing=False, **attrs)
        pool = by_zone[zone]
        b.link(name, pool[index % len(pool)])
        return name

    # Benign traffic at each place (sim.world.places), all assumptions of order of magnitude: no
    # traffic figures are public. Customers' sessions reach the edge, token validation and the
    # APIs (~10M a day against tens of millions of active customers); the datastores see the
    # services' pooled connections, few and bulky; staff come in through the VPN.
    day = 24.0
    customer = dict(traffic_profile="consumer", traffic_utc_offset=9.0, traffic_weekend=1.1,
                    traffic_spread=1.0)
    pooled = dict(traffic_profile="flat", traffic_records=20_000.0,
                  traffic_rate_per_ip=50_000.0, traffic_spread=1.5)
    asset("api_gateway", "service", "dmz", 0, role="gateway", traffic_rate=10e6 / day,
          traffic_records=2.0, traffic_rate_per_ip=60.0, **customer)
    asset("web_frontend", "service", "dmz", 1, role="web", traffic_rate=10e6 / day,
          traffic_records=2.0, traffic_rate_per_ip=60.0, **customer)
    b.nodes["api_gateway"]["internet_facing"] = True
    b.nodes["web_frontend"]["internet_facing"] = True
    # the key service: validates every customer token (one identity per validation)
    asset("auth_service", "service", "app", 0, role="auth", traffic_rate=10e6 / day,
          traffic_records=1.0, traffic_rate_per_ip=60.0, **customer)
    asset("address_api", "service", "app", 1, role="api",   # customer address pages
          traffic_rate=2e6 / day, traffic_records=1.0, traffic_rate_per_ip=20.0, **customer)
    for i, name in enumerate(("account_api", "order_api", "payment_api")):
        asset(name, "service", "app", 2 + i, role="api", traffic_rate=3e6 / day,
              traffic_records=2.0, traffic_rate_per_ip=30.0, **customer)
    asset("customer_db", "datastore", "data", 0, records=p.customers,
          fields=["name", "email", "phone", "shipping_address", "entrance_code"],
          traffic_rate=5_000 / day, **pooled)
    asset("order_db", "datastore", "data", 1, records=p.customers, fields=["order_history"],
          traffic_rate=5_000 / day, **pooled)
    # No payment data was taken: the vault sits behind payment_api, which the key does not open.
    asset("payment_vault", "datastore", "data", 2, records=p.customers,
          fields=["card_token", "billing"], traffic_rate=2_000 / day, **pooled)
    # The corporate side: staff come in through the VPN (two sessions a day each, office
    # hours) and administrators through a bastion into the application zone.
    staff = dict(traffic_profile="office", traffic_utc_offset=9.0, traffic_weekend=0.2,
                 traffic_records=20.0, traffic_rate_per_ip=120.0, traffic_spread=1.0)
    asset("vpn_gateway", "host", "corp", 0, role="vpn", traffic_rate=2 * p.employees / day,
          **staff)
    b.nodes["vpn_gateway"]["internet_facing"] = True
    asset("bastion", "host", "app", 5, role="bastion", traffic_rate=200 / day,
          **{**staff, "traffic_records": 50.0})
    b.link("vpn_gateway", "bastion")
    calls = {
        "web_frontend": ["api_gateway", "auth_service"],
        "api_gateway": ["auth_service", "address_api", "account_api", "order_api",
                        "payment_api"],
        "address_api": ["customer_db", "auth_service"],
        "account_api": ["auth_service", "address_api"],
        "order_api": ["order_db", "address_api", "payment_api", "auth_service"],
        "payment_api": ["payment_vault", "auth_service"],
    }
    for caller, callees in calls.items():
        for callee in callees:
            b.call(caller, callee)
    _add_people(b, layout, by_zone, p.employees, rng)
    _add_service_accounts(b, calls, rng)

    b.node("former_developer", kind="identity", role="former_employee")
    # Signing keys were said to be valid 5-10 years; the upper end is used. The 3-year age is
    # an assumption (the key's issue date is not public).
    b.node("auth_signing_key", kind="credential", cred_type="signing_key",
           issued_hours_ago=3 * YEAR, lifetime_hours=10 * YEAR, revoked=False)
    b.hold("former_developer", "auth_signing_key")
    for granted in ("api_gateway", "web_frontend", "auth_service", "address_api",
                    "account_api", "order_api", "customer_db", "order_db"):
        b.grant("auth_signing_key", granted)
    graph = b.graph(
        name="coupang_like", employees=p.employees,
        description=("2025 Coupang breach: a former authentication developer's never-revoked "
                     "token-signing key; 33.7M accounts exposed, no payment data "
                     "(../shared/CALIBRATION.md)"))
    return Network(graph, source="coupang_like")
