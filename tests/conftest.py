"""Shared fixtures: a tiny network, and models built from plain dicts without Hydra."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from sim.core.engine import Model, build_model
from sim.core.params import makes
from sim.world.network import Network


def tiny_graph(records: int = 10_000) -> nx.DiGraph:
    """gateway (internet-facing) -> api -> store, and a key that grants all three."""
    g = nx.DiGraph(name="tiny", employees=100)
    g.add_node("gateway", kind="host", zone="dmz", role="gateway", internet_facing=True)
    g.add_node("api", kind="service", zone="app", role="api", internet_facing=False)
    g.add_node("store", kind="datastore", zone="data", records=records,
               fields=["name", "phone", "shipping_address"])
    g.add_node("leaver", kind="identity", role="former_employee")
    g.add_node("key", kind="credential", cred_type="signing_key", issued_hours_ago=1000.0,
               lifetime_hours=float("inf"), revoked=False)
    for a, b in [("gateway", "api"), ("api", "store")]:
        g.add_edge(a, b, relation="connects")
        g.add_edge(b, a, relation="connects")
    for asset in ("gateway", "api", "store"):
        g.add_edge("key", asset, relation="grants")
    g.add_edge("leaver", "key", relation="holds")
    return g


BASE: dict[str, Any] = {
    "scenario": "test",
    "seed": 1,
    "replications": 10,
    "horizon": "1y",
    "network": {"_target_": "tests.conftest.tiny_network"},
    "insider": {"profile": "flat", "sessions_per_day": 4, "records_per_session": 100,
                "batch_cv": 0.0, "request_rate_per_ip": 1000, "ip_addresses": 10},
    "background": {"employees": 100, "mode": "fast"},
    "triage": {"analysts": 2, "triage_time": "10m"},
    "response": {"containment_delay": "1h", "containment_cv": 0.0},
    "detectors": {},
}


@makes(Network)
def tiny_network(records: int = 10_000) -> Network:
    """Config target used by BASE: the tiny network as a validated Network."""
    return Network(tiny_graph(records), source="tiny")


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and "_target_" not in v:
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def make_model(**over: Any) -> Model:
    """A model from BASE with nested overrides (``insider={"sessions_per_day": 1}``)."""
    return build_model(merge(BASE, over))


@pytest.fixture(scope="session", autouse=True)
def _own_compose_cache(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tests never read or write the user's cache of compositions
    (:mod:`sim.cli.compose_cache`): the session (each xdist worker) has its own, which the
    ``python -m sim`` subprocesses it starts share. A test of the cache itself sets its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSIDER_SIM_CACHE_DIR", str(tmp_path_factory.mktemp("compose_cache")))
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def committed_results(name: str) -> dict[str, str]:
    """sha256 of every committed output of ``experiments/NAME`` (``results/``, ANSWER_KEY.md):
    a test that runs an experiment's --quick run checks these are the same afterwards."""
    root = EXPERIMENTS / name
    files = [p for p in (root / "results").rglob("*") if p.is_file()
             and "quick" not in p.relative_to(root).parts]
    files += [p for p in (root / "ANSWER_KEY.md",) if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(files)}
