"""Where controls watch and what else happens there (sim/world/places.py, sim/world/walk.py),
end to end: the network, the placement and the insider's behaviour change results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.core.engine import simulate
from sim.core.errors import ConfigError
from sim.core.params import makes
from sim.world.network import Network
from sim.world.places import Selector
from tests.conftest import make_model, tiny_graph

MON = "sim.controls.detectors.ContinuousMonitoring"
AUDIT = "sim.controls.detectors.PeriodicAudit"


def dwell(model, n=300, seed=11):
    return np.array([simulate(model, seed, r).dwell_hours for r in range(n)])


@makes(Network)
def two_routes(watched_hop: str = "a") -> Network:
    """gateway -> a -> store and gateway -> b -> c -> store: the short route via a."""
    g = tiny_graph()
    g.remove_node("api")
    for n in ("a", "b", "c"):
        g.add_node(n, kind="host", zone="app", role="server")
    for u, v in [("gateway", "a"), ("a", "store"), ("gateway", "b"), ("b", "c"), ("c", "store")]:
        g.add_edge(u, v, relation="connects")
        g.add_edge(v, u, relation="connects")
    for n in ("a", "b", "c"):
        g.add_edge("key", n, relation="grants")
    return Network(g, source="two_routes")


# ----------------------------------------------------------------------------- selectors
def test_selector_keeps_assets_matching_every_filter():
    net = Network(tiny_graph())
    assert Selector.parse("all").match(net) == frozenset({"gateway", "api", "store"})
    assert Selector.parse({"kind": "datastore"}).match(net) == {"store"}
    assert Selector.parse({"zone": ["dmz", "app"], "kind": ["service"]}).match(net) == {"api"}
    assert Selector.parse({"internet_facing": True}).match(net) == {"gateway"}


def test_the_text_form_of_a_selector_is_the_mapping_form():
    mapping = Selector.parse({"zone": ["dmz", "app"], "kind": ["service"], "coverage": 0.6})
    assert Selector.parse("zone:dmz|app+kind:service+coverage:0.6") == mapping
    assert Selector.parse("zone=dmz,app kind=service coverage=0.6") == mapping
    assert Selector.parse("internet_facing:false") == Selector(internet_facing=False)
    for bad, message in [("role", "must be 'all', a mapping of filters or text"),
                         ("coverage=lots", r"watch\.coverage: must be a number"),
                         ("internet_facing=maybe", r"watch\.internet_facing: must be true")]:
        with pytest.raises(ConfigError, match=message):
            Selector.parse(bad)


@pytest.mark.parametrize("watch, message", [
    ({"zone": "moon"}, r"detectors\.m\.watch: matches no asset of network 'tiny' \(zones: "),
    ({"ids": ["nope"]}, r"detectors\.m\.watch\.ids: 'nope' is not an asset"),
    ({"colour": "red"}, r"detectors\.m\.watch\.colour: unknown filter"),
    ({"coverage": 0}, r"detectors\.m\.watch\.coverage: must be in \(0, 1\]"),
    ("everywhere", r"detectors\.m\.watch: must be 'all', a mapping of filters or text"),
])
def test_a_bad_selector_is_a_one_line_error_naming_the_key(watch, message):
    with pytest.raises(ConfigError, match=message):
        make_model(detectors={"m": {"_target_": MON, "watch": watch}})


# ----------------------------------------------------------------------------- the network matters
def test_the_same_scenario_on_two_networks_gives_different_dwell():
    # The same monitor (no features, every asset watched) sees a session once per asset of
    # its walk: 3 on the tiny network, 4 on coupang_like (gateway, key service, API, store).
    # (threshold 5: coupang_like's customer traffic makes only a few false alarms a day)
    detectors = {"m": {"_target_": MON, "threshold": 5.0, "dprime": 4.0, "latency": 0}}
    common = dict(detectors=detectors, background={"employees": 0}, horizon="1y",
                  triage={"triage_time": 0, "confirm_probability": 1.0})
    tiny = make_model(**common)
    coupang = make_model(network={"_target_": "sim.world.network.coupang_like", "hosts": 20,
                                  "employees": 0}, **common)
    assert len(tiny.plan.walks["store"]) == 3 and len(coupang.plan.walks["customer_db"]) == 4
    a, b = dwell(tiny), dwell(coupang)
    assert stats.mannwhitneyu(a, b).pvalue < 0.001 and np.median(b) < np.median(a)


def test_segmentation_changes_dwell_under_partial_host_coverage():
    # An account insider crosses hosts; EDR on 60% of hosts. A segmented network forces a
    # longer host route (8 assets against 5 at seed 0), so more covered hosts see it.
    def model(seg):
        return make_model(
            network={"_target_": "sim.world.network.generate", "hosts": 200, "segmentation": seg,
                     "retained_credential": "account", "employees": 0},
            insider={"fields": ["name"]}, background={"employees": 0}, horizon="1y",
            triage={"triage_time": 0, "confirm_probability": 1.0},
            detectors={"edr": {"_target_": MON, "threshold": 2.5, "dprime": 0.5, "latency": 0,
                               "watch": {"kind": ["host"], "coverage": 0.6}}})
    flat, segmented = model(0.0), model(0.9)
    assert len(flat.plan.paths["data-store-0"]) < len(segmented.plan.paths["data-store-0"])
    a, b = dwell(flat), dwell(segmented)
    assert stats.mannwhitneyu(a, b).pvalue < 0.001 and np.median(b) < np.median(a)


def test_lower_coverage_means_longer_dwell():
    def model(coverage):
        return make_model(background={"employees": 0}, horizon="1y",
                          triage={"triage_time": 0, "confirm_probability": 1.0},
                          detectors={"m": {"_target_": MON, "threshold": 2.0, "dprime": 0.5,
                                           "latency": 0,
                                           "watch": {"coverage": coverage}}})
    means = [dwell(model(c)).mean() for c in (1.0, 0.5, 0.2)]
    assert means[0] < means[1] < means[2]


def test_a_sensor_off_the_walk_never_sees_the_insider_but_still_raises_false_alarms():
    g_model = make_model(network={"_target_": "sim.world.network.coupang_like", "hosts": 20},
                         horizon="30d",
                         detectors={"m": {"_target_": MON, "threshold": 4.0, "dprime": 5.0,
                                          "watch": {"ids": ["vpn_gateway"]}}})
    assert g_model.detectors[0].on_walk == {"customer_db": ()}
    res = [simulate(g_model, 1, r) for r in range(5)]
    assert all(r.true_alerts == 0 and not r.detected for r in res)
    # staff VPN traffic: 2 sessions/day x 20,000 employees x FPR P(Z > 4) = 1.3 a day
    assert np.mean([r.false_alerts for r in res]) > 10


def test_benign_false_alarms_follow_the_traffic_at_the_watched_places():
    net = {"_target_": "sim.world.network.coupang_like", "hosts": 20, "employees": 1000}
    rate = {}
    for where in ("api_gateway", "customer_db"):
        m = make_model(network=net, horizon="10d", insider={"sessions_per_day": 1e-6,
                                                            "first_session_at_start": False},
                       detectors={"m": {"_target_": MON, "threshold": 4.5,
                                        "watch": {"ids": [where]}}})
        rate[where] = np.mean([simulate(m, 1, r).false_alerts for r in range(4)])
    # 10M customer sessions a day against 5,000 pooled connections: FPR 3.4e-6 gives ~340
    # false alarms in 10 days at the gateway and ~0.2 at the datastore
    assert rate["api_gateway"] > 100 * max(rate["customer_db"], 1)


# ----------------------------------------------------------------------------- routes
def test_least_watched_route_avoids_a_known_sensor():
    detectors = {"m": {"_target_": MON, "watch": {"ids": ["a"]}}}
    shortest = make_model(network={"_target_": "tests.world.test_places.two_routes"},
                          detectors=detectors)
    sneaky = make_model(network={"_target_": "tests.world.test_places.two_routes"},
                        detectors=detectors, insider={"route": "least_watched"})
    assert shortest.plan.paths["store"] == ("gateway", "a", "store")
    assert sneaky.plan.paths["store"] == ("gateway", "b", "c", "store")
    assert sneaky.detectors[0].on_walk["store"] == ()


def test_a_given_route_is_checked_edge_by_edge():
    net = {"_target_": "tests.world.test_places.two_routes"}
    ok = make_model(network=net, insider={"route": "given", "path": ["gateway", "b", "c",
                                                                      "store"]})
    assert ok.plan.paths["store"] == ("gateway", "b", "c", "store")
    for path, message in [(["gateway", "c", "store"], r"insider\.path\[1\]: no connects edge"),
                          (["a", "store"], r"insider\.path\[0\]: 'a' is not an entry point"),
                          (["gateway", "x"], r"insider\.path\[1\]: 'x' is not an asset"),
                          ([], r"insider\.path: route: given needs insider\.path")]:
        with pytest.raises(ConfigError, match=message):
            make_model(network=net, insider={"route": "given", "path": path})
    with pytest.raises(ConfigError, match=r"insider\.path: is only used with route: given"):
        make_model(network=net, insider={"path": ["gateway", "a", "store"]})


@makes(Network)
def slow_api() -> Network:
    """The tiny network with half an hour of set-up per session at the API."""
    g = tiny_graph()
    g.nodes["api"]["hop_seconds"] = 1800.0
    return Network(g)


def test_hop_set_up_time_lengthens_every_session():
    base = make_model(horizon="2d")
    slowed = make_model(horizon="2d", network={"_target_": "tests.world.test_places.slow_api"})
    assert slowed.plan.setup["store"] == pytest.approx(0.5) and base.plan.setup["store"] == 0
    a, b = simulate(base, 1, 0), simulate(slowed, 1, 0)
    assert b.access_hours == a.access_hours and b.sessions <= a.sessions
    s_base = [e for e in _trace(base) if e["action"] == "session-start"][0]
    s_slow = [e for e in _trace(slowed) if e["action"] == "session-start"][0]
    assert s_slow["planned_end"] - s_slow["t"] == pytest.approx(
        s_base["planned_end"] - s_base["t"] + 0.5)


def _trace(model):
    events: list = []
    simulate(model, 1, 0, trace=events)
    return events


# ----------------------------------------------------------------------------- behaviour
def test_audit_detection_grows_with_the_insiders_activity_in_the_window():
    def model(per_day):
        return make_model(network={"_target_": "tests.conftest.tiny_network", "records": 10**12},
                          horizon="10y", insider={"sessions_per_day": per_day},
                          detectors={"a": {"_target_": AUDIT, "interval": "1mo",
                                           "coverage": 0.1, "recognition": 0.2,
                                           "watch": {"kind": "datastore"}}})
    means = [dwell(model(r), n=300).mean() for r in (0.1, 1.0, 10.0)]
    assert means[0] > means[1] > means[2]


def test_per_credential_rule_catches_what_a_per_ip_rule_misses():
    # 300 addresses at 630 requests an hour each: 189,000 an hour for the credential
    insider = {"ip_addresses": 300, "request_rate_per_ip": 630}

    def model(per):
        return make_model(horizon="30d", insider=insider,
                          detectors={"r": {"_target_": "sim.controls.detectors.VolumeThreshold",
                                           "max_requests_per_ip_hour": 1000, "per": per,
                                           "benign_trip_probability": 0, "latency": 0}})
    by_ip = [simulate(model("ip"), 1, r) for r in range(10)]
    by_cred = [simulate(model("credential"), 1, r) for r in range(10)]
    assert all(r.true_alerts == 0 for r in by_ip)
    assert all(r.true_alerts > 0 for r in by_cred)


def test_features_make_smash_and_grab_and_low_and_slow_differ_at_the_gateway():
    # The same monitor at coupang_like's gateway: the insiders' per-observation chances differ.
    from sim.core.engine import Run
    net = {"_target_": "sim.world.network.coupang_like", "hosts": 20}
    mon = {"m": {"_target_": MON, "threshold": 5.0, "dprime": 0.0,
                 "features": ["records_per_ip"], "watch": {"role": "gateway"}}}
    chances = {}
    for name, insider in [("low", {"records_per_session": 68000, "ip_addresses": 300,
                                   "request_rate_per_ip": 630}),
                          ("smash", {"records_per_session": 5e6, "ip_addresses": 2,
                                     "request_rate_per_ip": 5e5, "batch_cv": 0})]:
        model = make_model(network=net, detectors=mon, insider=insider)
        det = model.detectors[0]
        run = Run(model, 1, 0)
        watch = det.start(run)
        from sim.agents.insider import Session
        p = model.plan.profile
        s = Session(0, 0.0, 1.0, "customer_db", int(p.records_per_session),
                    p.records_per_session * 4.4, p.ip_addresses, p.request_rate_per_ip, True)
        chances[name] = [watch.detect(s, t, e) for t, e in watch.traffic["customer_db"]]
    assert chances["smash"][0] > 0.99 > 0.01 > chances["low"][0]
    assert not math.isclose(chances["smash"][0], chances["low"][0])


def test_off_hours_catches_a_night_insider_sooner_than_one_working_office_hours():
    # tiny_network's assets carry no traffic attributes: their benign traffic is the staff's
    # office rhythm. A monitor scoring only the hour (threshold 3, nothing else) flags a
    # night-shift insider's sessions often and an office-hours insider's almost never, so the
    # night insider's median dwell is shorter. 40 replications each, common seed.
    mon = {"m": {"_target_": MON, "threshold": 3.0, "dprime": 0.0, "features": ["off_hours"]}}
    dwell = {}
    for profile in ("evening", "office"):
        # the first access (time 0, every insider) at 10:00 on a Tuesday, a busy office hour
        model = make_model(detectors=mon, horizon="90d", start="2025-06-24T10:00:00+09:00",
                           insider={"profile": profile, "sessions_per_day": 2,
                                    "utc_offset_hours": 9})
        dwell[profile] = float(np.median([simulate(model, 1, r).dwell_hours for r in range(40)]))
    # evening: most sessions 19-01 h local, where office traffic is thin (z 1.5-6) -> caught in
    # days; office: sessions at the staff's own busy hours (z < 1) -> P per session < Q(3.2)
    assert dwell["evening"] * 5 < dwell["office"]
