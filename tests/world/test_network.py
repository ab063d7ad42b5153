"""Tests of sim.world.network: the grammar, the queries, the files and the generators."""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest

from sim.core.errors import ConfigError, NetworkFileError
from sim.core.timeunits import YEAR
from sim.world import network as N

DATA = Path(__file__).resolve().parents[1] / "data"


def tiny_graph() -> nx.DiGraph:
    """web (internet-facing) -> api -> db, a corp workstation, and one key held by dev.

    ``key`` grants web, api and db; ``wskey`` grants the workstation only.
    """
    g = nx.DiGraph(name="tiny", employees=12)
    g.add_node("web", kind="service", zone="dmz", role="web", internet_facing=True)
    g.add_node("api", kind="service", zone="app", role="api")
    g.add_node("db", kind="datastore", zone="data", records=1000,
               fields=["name", "email", "phone"])
    g.add_node("ws", kind="host", zone="corp", role="workstation", internet_facing=False)
    g.add_node("key", kind="credential", cred_type="signing_key", issued_hours_ago=100.0,
               lifetime_hours=math.inf, revoked=False)
    g.add_node("wskey", kind="credential", cred_type="account", issued_hours_ago=0.0,
               lifetime_hours=2160.0, revoked=True)
    g.add_node("dev", kind="identity", role="former_employee")
    for u, v in [("web", "api"), ("api", "db"), ("ws", "api"), ("api", "ws")]:
        g.add_edge(u, v, relation="connects")
    for asset in ("web", "api", "db"):
        g.add_edge("key", asset, relation="grants")
    g.add_edge("wskey", "ws", relation="grants")
    g.add_edge("dev", "key", relation="holds")
    return g


@pytest.fixture
def tiny() -> N.Network:
    return N.Network(tiny_graph())


# --- queries ---------------------------------------------------------------------------------


def test_lists_are_sorted_by_id(tiny: N.Network) -> None:
    assert tiny.name == "tiny" and tiny.employees == 12
    assert tiny.assets() == ["api", "db", "web", "ws"]
    assert tiny.datastores() == ["db"]
    assert tiny.credentials() == ["key", "wskey"]
    assert tiny.zones() == ["app", "corp", "data", "dmz"]
    assert tiny.entry_points() == ["web"]


def test_granted_and_holder(tiny: N.Network) -> None:
    assert tiny.granted("key") == frozenset({"web", "api", "db"})
    assert tiny.holder("key") == "dev"
    assert tiny.holder("wskey") is None


def test_path_uses_only_granted_assets(tiny: N.Network) -> None:
    assert tiny.path_to("key", "db") == ["web", "api", "db"]
    assert tiny.path_to("key", "web") == ["web"]
    assert tiny.path_to("key", "ws") is None          # not granted
    assert tiny.path_to("wskey", "ws") is None        # granted but no entry point reaches it


def test_path_ties_broken_by_node_id() -> None:
    g = tiny_graph()
    g.add_node("api2", kind="service", zone="app", role="api")
    g.add_node("aaa", kind="service", zone="app", role="api")
    for mid in ("api2", "aaa"):
        g.add_edge("web", mid, relation="connects")
        g.add_edge(mid, "db", relation="connects")
        g.add_edge("key", mid, relation="grants")
    assert N.Network(g).path_to("key", "db") == ["web", "aaa", "db"]


def test_targets_filter_by_field_and_sort_by_records() -> None:
    g = tiny_graph()
    g.add_node("big", kind="datastore", zone="data", records=5000, fields=["order_history"])
    g.add_node("same", kind="datastore", zone="data", records=1000, fields=["email"])
    for store in ("big", "same"):
        g.add_edge("api", store, relation="connects")
        g.add_edge("key", store, relation="grants")
    net = N.Network(g)
    assert net.targets("key", []) == ["big", "db", "same"]
    assert net.targets("key", ["email"]) == ["db", "same"]
    assert net.targets("key", ["card_token"]) == []
    assert net.total_records(["db", "big"]) == 6000


def test_unknown_ids_raise_key_error(tiny: N.Network) -> None:
    with pytest.raises(KeyError, match="no node 'nope'"):
        tiny.node("nope")
    with pytest.raises(KeyError, match="not a credential"):
        tiny.granted("web")
    with pytest.raises(KeyError, match="not an asset"):
        tiny.path_to("key", "dev")
    with pytest.raises(KeyError, match="not a datastore"):
        tiny.total_records(["api"])


def test_network_freezes_graph_and_pickles(tiny: N.Network) -> None:
    assert nx.is_frozen(tiny.graph)
    with pytest.raises(nx.NetworkXError):
        tiny.graph.add_node("x")
    copy = pickle.loads(pickle.dumps(tiny))
    assert copy.path_to("key", "db") == ["web", "api", "db"]


# --- validation ------------------------------------------------------------------------------


def _set(node: str, **attrs: object) -> Callable[[nx.DiGraph], None]:
    return lambda g: g.nodes[node].update(attrs)


def _drop(node: str, attr: str) -> Callable[[nx.DiGraph], None]:
    return lambda g: g.nodes[node].pop(attr)


def _edge(u: str, v: str, **attrs: object) -> Callable[[nx.DiGraph], None]:
    return lambda g: g.add_edge(u, v, **attrs)


def _no_entry(g: nx.DiGraph) -> None:
    g.nodes["web"]["internet_facing"] = False


def _second_holder(g: nx.DiGraph) -> None:
    g.add_node("dev2", kind="identity", role="employee")
    g.add_edge("dev2", "key", relation="holds")


def _lonely_key(g: nx.DiGraph) -> None:
    g.add_node("k2", kind="credential", cred_type="api_token", issued_hours_ago=0.0,
               lifetime_hours=10.0, revoked=False)


INVALID = [
    (_drop("web", "kind"), r"node 'web' has no 'kind'"),
    (_set("web", kind="router"), r"node 'web': unknown kind 'router'"),
    (_set("db", records="abc"),
     r"node 'db': datastore 'records' must be an integer in \[0, 1e\+15\] .*, got 'abc'"),
    (_set("db", records=-1), r"'records' must be an integer in \[0, 1e\+15\] .*, got -1"),
    (_set("db", fields="name,email"), r"datastore 'fields' must be a list"),
    (_set("db", fields=["name", "a,b"]), r"datastore 'fields' must be a list"),
    (_drop("api", "zone"), r"node 'api': service has no 'zone'"),
    (_set("ws", role=""), r"node 'ws': host 'role' must be a non-empty string"),
    (_set("ws", internet_facing="yes"), r"host 'internet_facing' must be true or false"),
    (_set("dev", role="ceo"), r"node 'dev': identity 'role' must be one of employee"),
    (_set("key", cred_type="password"), r"credential 'cred_type' must be one of account"),
    (_set("key", lifetime_hours=0), r"'lifetime_hours' must be a number > 0 or inf, got 0"),
    (_set("key", issued_hours_ago=math.inf), r"'issued_hours_ago' must be a finite number"),
    (_set("key", revoked="no"), r"credential 'revoked' must be true or false"),
    (_edge("web", "db"), r"edge 'web' -> 'db' has no 'relation'"),
    (_edge("web", "db", relation="pings"), r"edge 'web' -> 'db': unknown relation 'pings'"),
    (_edge("web", "db", relation="grants"),
     r"'grants' must go from a credential to an asset, got service -> datastore"),
    (_edge("dev", "web", relation="holds"),
     r"'holds' must go from an identity to a credential, got identity -> service"),
    (_edge("key", "web", relation="connects"),
     r"'connects' must go from an asset to an asset, got credential -> service"),
    (_edge("web", "web", relation="connects"), r"edge 'web' -> 'web': self-loops"),
    (_lonely_key, r"credential 'k2' grants no asset"),
    (_second_holder, r"credential 'key' is held by more than one identity"),
    (_no_entry, r"no entry point"),
    (lambda g: g.graph.pop("employees"), r"graph attribute 'employees' is missing"),
    (lambda g: g.graph.update(employees=1.5), r"'employees' must be an integer in \[0, 1e\+10\]"),
    (lambda g: g.graph.update(name=3), r"graph attribute 'name' must be a string"),
    (lambda g: nx.relabel_nodes(g, {"ws": 7}, copy=False), r"node 7: node ids must be strings"),
]


@pytest.mark.parametrize("mutate, message", INVALID)
def test_validation_names_the_problem(mutate: Callable[[nx.DiGraph], None],
                                      message: str) -> None:
    g = tiny_graph()
    mutate(g)
    with pytest.raises(NetworkFileError, match=message) as info:
        N.Network(g, source="net.json")
    assert str(info.value).startswith("net.json: ")
    assert "\n" not in str(info.value)


def test_validation_rejects_empty_and_undirected_graphs() -> None:
    with pytest.raises(NetworkFileError, match="no nodes"):
        N.validate(nx.DiGraph(employees=1), "x")
    with pytest.raises(NetworkFileError, match="simple directed graph"):
        N.validate(nx.Graph(tiny_graph()), "x")
    with pytest.raises(NetworkFileError, match="simple directed graph"):
        N.validate(nx.MultiDiGraph(tiny_graph()), "x")


def test_validate_does_not_modify_graph() -> None:
    g = tiny_graph()
    N.validate(g, "x")
    assert nx.utils.graphs_equal(g, tiny_graph()) and not nx.is_frozen(g)


# --- files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["graphml", "json"])
def test_round_trip(tmp_path: Path, ext: str) -> None:
    for net in (N.Network(tiny_graph()), N.generate(hosts=40, employees=15, seed=3)):
        path = tmp_path / f"net.{ext}"
        N.save(net, str(path))
        back = N.load(str(path))
        assert nx.utils.graphs_equal(net.graph, back.graph)
        assert back.name == net.name and back.employees == net.employees


def test_round_trip_keeps_types(tmp_path: Path, tiny: N.Network) -> None:
    for ext in ("graphml", "json"):
        path = tmp_path / f"t.{ext}"
        N.save(tiny, str(path))
        back = N.load(str(path))
        assert back.node("key")["lifetime_hours"] == math.inf
        assert back.node("key")["revoked"] is False
        assert back.node("db")["fields"] == ["name", "email", "phone"]
        assert isinstance(back.node("db")["records"], int)
        assert back.node("web")["internet_facing"] is True
        assert back.graph.graph == {"name": "tiny", "employees": 12}


def test_saved_json_is_strict(tmp_path: Path, tiny: N.Network) -> None:
    path = tmp_path / "t.json"
    N.save(tiny, str(path))
    assert "Infinity" not in path.read_text() and '"inf"' in path.read_text()


@pytest.mark.parametrize("name", ["tiny.graphml", "tiny.json"])
def test_hand_written_fixtures_load(name: str) -> None:
    net = N.from_file(str(DATA / name))
    assert net.name == "tiny" and net.employees == 12
    assert net.node("db")["fields"] == ["name", "email", "phone"]
    assert net.node("db")["records"] == 1000
    assert net.node("key")["lifetime_hours"] == math.inf
    assert net.entry_points() == ["web"]
    assert net.path_to("key", "db") == ["web", "api", "db"]
    assert "internet_facing" not in net.node("dev")    # GraphML defaults reach assets only


def test_networkx_node_link_output_loads(tmp_path: Path) -> None:
    import json

    g = tiny_graph()
    g.nodes["key"]["lifetime_hours"] = 1e6               # plain JSON has no inf
    path = tmp_path / "nx.json"
    path.write_text(json.dumps(nx.node_link_data(g, edges="links")))
    assert N.load(str(path)).path_to("key", "db") == ["web", "api", "db"]


BAD_FILES = [
    ("bad.json", "{not json", r"not valid JSON"),
    ("bad.json", "[1, 2]", r"node-link JSON object"),
    ("bad.json", '{"nodes": []}', r"'edges' \(or 'links'\) list"),
    ("bad.json", '{"nodes": [], "edges": [], "links": []}', r"both 'edges' and 'links'"),
    ("bad.json", '{"directed": false, "nodes": [], "edges": []}', r"must be directed"),
    ("bad.json", '{"nodes": [{"kind": "host"}], "edges": []}', r"node #0 has no 'id'"),
    ("bad.json", '{"nodes": [{"id": "a"}, {"id": "a"}], "edges": []}',
     r"node 'a' appears more than once"),
    ("bad.json", '{"nodes": [{"id": "a"}], "edges": [{"source": "a", "target": "z"}]}',
     r"edge 'a' -> 'z': unknown node 'z'"),
    ("bad.json", '{"graph": {"employees": 1}, "nodes": [], "edges": []}', r"no nodes"),
    ("bad.graphml", "<graphml><graph>", r"cannot parse GraphML"),
    ("bad.graphml", "plain text", r"cannot parse GraphML"),
]


@pytest.mark.parametrize("name, text, message", BAD_FILES)
def test_malformed_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(NetworkFileError, match=message) as info:
        N.load(str(path))
    assert info.value.source == str(path)


def test_unknown_extension_and_missing_file(tmp_path: Path, tiny: N.Network) -> None:
    with pytest.raises(NetworkFileError, match=r"unknown extension '.csv'"):
        N.load(str(tmp_path / "net.csv"))
    with pytest.raises(NetworkFileError, match=r"unknown extension"):
        N.save(tiny, str(tmp_path / "net.txt"))
    with pytest.raises(NetworkFileError, match="no such file"):
        N.load(str(tmp_path / "missing.graphml"))
    with pytest.raises(NetworkFileError, match="cannot write"):
        N.save(tiny, str(tmp_path / "no" / "dir.json"))


def test_graph_file_validation_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    text = (DATA / "tiny.json").read_text().replace('"records": 1000', '"records": "abc"')
    path.write_text(text)
    with pytest.raises(NetworkFileError,
                       match=r"net.json: node 'db': datastore 'records' must be an integer"):
        N.load(str(path))


# --- generate() ------------------------------------------------------------------------------


def test_generate_is_deterministic_by_seed() -> None:
    a, b, c = N.generate(seed=5), N.generate(seed=5), N.generate(seed=6)
    assert nx.utils.graphs_equal(a.graph, b.graph)
    assert not nx.utils.graphs_equal(a.graph, c.graph)


def test_generate_structure() -> None:
    net = N.generate(hosts=200, datastores=4, records_per_store=10, employees=500)
    assert net.zones() == ["app", "corp", "data", "dmz"]
    assert net.employees == 500
    roles = {(a["zone"], a["role"]) for _, a in net.graph.nodes(data=True) if a["kind"] == "host"}
    assert {z for z, _ in roles} == {"dmz", "app", "data", "corp"}
    assert ("corp", "workstation") in roles and ("data", "db") in roles
    stores = net.datastores()
    assert len(stores) == 4 and all(net.node(s)["zone"] == "data" for s in stores)
    assert net.node("data-store-0")["fields"] == ["name", "email", "phone", "shipping_address"]
    assert net.total_records(stores) == 40
    assert all(net.node(e)["zone"] == "dmz" for e in net.entry_points())
    people = [n for n, a in net.graph.nodes(data=True)
              if a["kind"] == "identity" and a["role"] != "service_account"]
    assert len(people) == N.MAX_EXPLICIT_PEOPLE + 1                 # + the former insider
    for credential in net.credentials():
        assert net.granted(credential)


@pytest.mark.parametrize("kind", N.CREDENTIAL_TYPES)
def test_generate_retained_credential_reaches_first_store(kind: str) -> None:
    # an account moves over host links: full segmentation would cut it off (tested below)
    seg = 0.9 if kind == "account" else 1.0
    net = N.generate(hosts=300, segmentation=seg, retained_credential=kind, seed=2)
    key = f"retained_{kind}"
    attrs = net.node(key)
    assert attrs["cred_type"] == kind and attrs["revoked"] is False
    holder = net.holder(key)
    assert holder is not None and net.node(holder)["role"] == "former_employee"
    path = net.path_to(key, "data-store-0")
    assert path is not None and path[0] in net.entry_points()
    assert "data-store-0" in net.targets(key, ["email"])


def _cross_zone_edges(net: N.Network) -> int:
    zone = {n: a.get("zone") for n, a in net.graph.nodes(data=True)}
    return sum(1 for u, v, r in net.graph.edges(data="relation")
               if r == "connects" and zone[u] != zone[v])


def test_full_segmentation_reaches_data_only_through_app() -> None:
    net = N.generate(hosts=400, segmentation=1.0, seed=1)
    connects = nx.DiGraph([(u, v) for u, v, r in net.graph.edges(data="relation")
                           if r == "connects"])
    without_app = connects.subgraph(n for n in connects if net.node(n)["zone"] != "app")
    for entry in net.entry_points():
        reached = nx.descendants(without_app, entry)
        assert not reached.intersection(net.datastores())
        assert not any(net.node(n)["zone"] == "data" for n in reached)
    # ... yet every datastore is reachable with the app zone in place
    reached = set().union(*(nx.descendants(connects, e) for e in net.entry_points()))
    assert set(net.datastores()) <= reached


def test_flat_network_has_more_cross_zone_links() -> None:
    counts = [_cross_zone_edges(N.generate(hosts=400, segmentation=s, seed=1))
              for s in (0.0, 0.5, 1.0)]
    assert counts[0] > counts[1] > counts[2]


def test_generate_custom_zones() -> None:
    net = N.generate(hosts=30, zones=("edge", "mid", "vault", "office", "lab"), seed=4)
    assert all(net.node(s)["zone"] == "office" for s in net.datastores())   # last-but-one
    assert all(net.node(e)["zone"] == "edge" for e in net.entry_points())
    assert net.path_to("retained_signing_key", "office-store-0") is not None
    two = N.generate(hosts=2, zones=("out", "in"), datastores=1, employees=0)
    assert two.path_to("retained_signing_key", "in-store-0") is not None


@pytest.mark.parametrize("kwargs, key, message", [
    (dict(segmentation=2), "segmentation", r"must be in \[0, 1\], got 2"),
    (dict(hosts=3), "hosts", r"must be >= the number of zones \(4\), got 3"),
    (dict(hosts="many"), "hosts", r"must be an integer"),
    (dict(datastores=0), "datastores", r"must be in \[1, 200000\]"),
    (dict(records_per_store=-5), "records_per_store", r"must be in \[0, 1e\+15\]"),
    (dict(employees=-1), "employees", r"must be in \[0, 1e\+10\]"),
    (dict(retained_credential="password"), "retained_credential", r"must be one of"),
    (dict(zones=("dmz",)), "zones", r"at least 2 zones"),
    (dict(zones=("a", "b", "a")), "zones", r"distinct"),
    (dict(zones="dmz"), "zones", r"must be a list"),
    (dict(seed=-1), "seed", r"must be >= 0"),
])
def test_generate_argument_errors(kwargs: dict, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        N.generate(**kwargs)
    assert info.value.key == key


def test_generate_100k_hosts_is_fast() -> None:
    start = time.perf_counter()
    net = N.generate(hosts=100_000, seed=0)
    elapsed = time.perf_counter() - start
    assert sum(1 for _, k in net.graph.nodes(data="kind") if k == "host") == 100_000
    assert net.path_to("retained_signing_key", "data-store-0") is not None
    assert elapsed < 10, f"generate(hosts=100_000) took {elapsed:.1f} s"


# --- coupang_like() --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coupang() -> N.Network:
    return N.coupang_like()


def test_coupang_key_facts(coupang: N.Network) -> None:
    key = coupang.node("auth_signing_key")
    assert key["cred_type"] == "signing_key" and key["revoked"] is False
    assert 5 * YEAR <= key["lifetime_hours"] <= 10 * YEAR
    assert key["issued_hours_ago"] < key["lifetime_hours"]
    assert coupang.holder("auth_signing_key") == "former_developer"
    assert coupang.node("former_developer")["role"] == "former_employee"
    assert coupang.granted("auth_signing_key") == frozenset({
        "api_gateway", "web_frontend", "auth_service", "address_api", "account_api",
        "order_api", "customer_db", "order_db"})


def test_coupang_path_and_scope(coupang: N.Network) -> None:
    assert coupang.path_to("auth_signing_key", "customer_db") == [
        "api_gateway", "address_api", "customer_db"]
    assert coupang.node("customer_db")["records"] == 33_700_000
    assert set(coupang.node("customer_db")["fields"]) == {
        "name", "email", "phone", "shipping_address", "entrance_code"}
    assert coupang.path_to("auth_signing_key", "payment_vault") is None
    assert "payment_vault" not in coupang.granted("auth_signing_key")
    assert coupang.targets("auth_signing_key", []) == ["customer_db", "order_db"]
    assert {"api_gateway", "web_frontend"} <= set(coupang.entry_points())
    assert coupang.employees == 20_000


def test_coupang_arguments() -> None:
    small = N.coupang_like(customers=1000, employees=3, hosts=4, seed=1)
    assert small.node("customer_db")["records"] == 1000
    assert nx.utils.graphs_equal(small.graph, N.coupang_like(1000, 3, 4, seed=1).graph)
    with pytest.raises(ConfigError, match=r"customers: must be in \[1, 1e\+15\]"):
        N.coupang_like(customers=0)
    with pytest.raises(ConfigError, match=r"hosts: must be >= the number of zones"):
        N.coupang_like(hosts=3)


def test_segmentation_lengthens_an_accounts_route_and_full_segmentation_blocks_it() -> None:
    lengths = [len(N.generate(hosts=200, segmentation=s, retained_credential="account",
                              seed=0).path_to("retained_account", "data-store-0"))
               for s in (0.0, 0.9)]
    assert lengths[0] < lengths[1]  # 5 against 8 assets at seed 0
    with pytest.raises(ConfigError, match="segmentation: at 1 no host route leads"):
        N.generate(hosts=200, segmentation=1.0, retained_credential="account", seed=0)


def test_a_negative_or_unknown_traffic_model_is_rejected_naming_the_node() -> None:
    from tests.conftest import tiny_graph
    for attr, value, message in [("traffic_rate", -1.0, "'traffic_rate' must be a finite "
                                                        "number >= 0"),
                                 ("traffic_profile", "weekly", "'traffic_profile' must be one "
                                                               "of"),
                                 ("traffic_spread", 0.0, "'traffic_spread' must be a finite "
                                                         "number > 0")]:
        g = tiny_graph()
        g.nodes["api"][attr] = value
        with pytest.raises(NetworkFileError, match=f"node 'api'.*{message}"):
            N.Network(g)
