"""Several insiders in one replication (sim.agents.crew): what the controls see of a crew, and
what containing one member means for the others."""

from __future__ import annotations

import pytest

from sim.core.engine import Run, simulate
from sim.core.errors import ConfigError
from sim.outputs.results import CREW_COLUMNS, REPLICATIONS_CSV, ResultWriter, read_replications
from tests.conftest import make_model

BIG = {"_target_": "tests.conftest.tiny_network", "records": 10**8}
CAUTIOUS = {"_target_": "sim.agents.cautious.Cautious", "quiet": "30d"}


def per_credential_rule(limit: float = 1000.0) -> dict:
    return {"_target_": "sim.controls.detectors.VolumeThreshold", "per": "credential",
            "max_requests_per_ip_hour": limit, "benign_trip_probability": 0.0}


def monitor() -> dict:
    # without features each watched observation is flagged with P(Z > 3 - 1) = 2.3%
    return {"_target_": "sim.controls.detectors.ContinuousMonitoring", "threshold": 3.0,
            "dprime": 1.0, "watch": "kind:datastore"}


def crew_model(size: int = 3, credentials: str = "own", reveal: float = 0.0, *,
               insider: dict | None = None, **over):
    crew = {"size": size} if size == 1 else {"size": size, "credentials": credentials,
                                             "reveal": reveal}
    return make_model(insider={**(insider or {}), "crew": crew}, **{"network": BIG, **over})


def test_a_crew_of_one_is_the_lone_insider_row_for_row():
    alone = make_model(detectors={"mon": monitor()})
    one = make_model(insider={"crew": {"size": 1}}, detectors={"mon": monitor()})
    for r in range(10):
        a, b = simulate(alone, 1, r), simulate(one, 1, r)
        assert a == b and b.insiders == 1


def test_members_draw_apart_and_share_the_store():
    m = crew_model(insider={"records_per_session": 300, "batch_cv": 0.5},
                   network={"_target_": "tests.conftest.tiny_network", "records": 5000})
    run = Run(m, 1, 0)
    run.attach([])
    run.env.run(until=m.run.horizon)
    batches = [mem._draw_batch() for mem in run.crew.members]
    assert len(set(batches)) == 3  # each its own stream
    # 5,000 records shared: together they take all of them once, never more
    assert run.crew.records == 5000
    assert all(mem.ended_by == "exhausted" for mem in run.crew.members)
    assert all(mem.records > 0 for mem in run.crew.members)


def test_the_audit_lookup_finds_every_member_s_overlapping_sessions():
    # sessions of ~7 h (1,000 records at 600 requests/h) by 3 members at 4 a day overlap
    m = crew_model(insider={"records_per_session": 1000, "request_rate_per_ip": 60},
                   horizon="20d")
    run = Run(m, 3, 0)
    seen = []
    run.attach([])
    run._start_hooks.append(seen.append)
    run.env.run(until=m.run.horizon)
    overlapping = sum(1 for a in seen for b in seen
                      if a.member < b.member and a.start < b.end and b.start < a.end)
    assert overlapping > 10
    for t0, t1 in [(0, 24), (100, 130), (200, 200.5), (0, 480)]:
        want = sorted(s.target + str(s.member) + str(s.index) for s in seen
                      if s.start <= t1 and s.end >= t0)
        got = run.crew.sessions_between(t0, t1)
        assert len(got) == len(want)


def test_own_keys_split_volume_below_a_per_credential_rule():
    # Each member runs 10 IPs x 60 = 600 requests/h, under a 1,000/h per-credential rule; one
    # insider with the crew's total (10 x 180 = 1,800/h, three times the sessions) trips it at
    # its first session. Both are deterministic: the rule draws nothing.
    rule = {"rule": per_credential_rule()}
    crew = crew_model(insider={"request_rate_per_ip": 60}, horizon="30d", detectors=rule)
    lone = make_model(insider={"request_rate_per_ip": 180, "sessions_per_day": 12},
                      network=BIG, horizon="30d", detectors=rule)
    for r in range(5):
        a, b = simulate(crew, 1, r), simulate(lone, 1, r)
        assert not a.detected and b.detected and b.dwell_hours < 1
        assert a.records_exfiltrated > 20 * b.records_exfiltrated


def test_a_shared_key_adds_the_members_up_and_trips_the_rule():
    # the same crew on one key: two overlapping 7-hour sessions make 1,200/h > 1,000/h
    rule = {"rule": per_credential_rule()}
    insider = {"request_rate_per_ip": 60, "records_per_session": 1000}
    own = [simulate(crew_model(insider=insider, horizon="30d", detectors=rule), 1, r)
           for r in range(20)]
    shared = [simulate(crew_model(credentials="shared", insider=insider, horizon="30d",
                                  detectors=rule), 1, r) for r in range(20)]
    assert not any(r.detected for r in own)
    assert all(r.detected and r.detected_by == "rule" and r.dwell_hours < 3 * 24
               for r in shared)
    # revoking the shared key cuts every member: all stopped, identified or not
    assert all(r.insiders_stopped == 3 for r in shared)
    assert sum(r.records_exfiltrated for r in shared) < sum(r.records_exfiltrated for r in own)


def test_reveal_decides_whether_one_containment_stops_the_crew():
    # Same seeds: until the first containment both runs are the same draw for draw (the
    # reveal has its own stream), so the crew that is not revealed takes at least as much.
    full = crew_model(reveal=1.0, horizon="60d", detectors={"mon": monitor()})
    none = crew_model(reveal=0.0, horizon="60d", detectors={"mon": monitor()})
    more = 0
    for r in range(30):
        a, b = simulate(full, 1, r), simulate(none, 1, r)
        assert a.detected and b.detected and a.dwell_hours == b.dwell_hours
        # reveal = 1: every member identified and cut at the first containment (1 h later)
        assert a.insiders_identified == 3 and a.insiders_stopped == 3
        assert a.access_hours == pytest.approx(a.dwell_hours + 1.0)
        assert b.records_exfiltrated >= a.records_exfiltrated
        more += b.records_exfiltrated > a.records_exfiltrated
        assert b.access_hours >= a.access_hours
    # the other two go on until found themselves (each monitor catch is ~1 day apart at ~4
    # sessions a day each): they take nothing more only if neither starts a session before its
    # own containment, a few per cent of replications at most; 25 of 30 leaves room for 5
    assert more >= 25


def test_a_cautious_member_goes_quiet_when_a_colleague_is_revoked():
    # The monitor finds one member, who is contained; the others (own keys, not revealed)
    # hear of it. A cautious member starts no session for 30 days after; a naive one goes on.
    def survivors_sessions(strategy: dict | None) -> tuple[int, list]:
        insider = {"strategy": strategy} if strategy else {}
        m = crew_model(size=2, reveal=0.0, insider=insider, horizon="60d",
                       detectors={"mon": monitor()})
        total, quiet = 0, []
        for r in range(20):
            events: list = []
            simulate(m, 1, r, trace=events)
            first = min(e["t"] for e in events if e["action"] == "containment")
            lost = next(e["member"] for e in events if e["action"] == "containment")
            total += sum(1 for e in events if e["action"] == "session-start"
                         and e["member"] != lost and first < e["t"] < first + 30 * 24)
            quiet += [e for e in events if e["action"] == "decision"
                      and e["signal"] == "colleague-lost"]
        return total, quiet

    wary, signals = survivors_sessions(CAUTIOUS)
    naive, none = survivors_sessions(None)
    assert wary == 0 and naive > 20 * 5  # ~4 a day for days before the colleague is found
    assert signals and not none
    assert all(e["until"] == pytest.approx(e["t"] + 30 * 24) for e in signals)


def test_a_leavers_review_cuts_leavers_keys_and_not_staff_accomplices():
    # a review every 10 days that revokes every credential a former employee holds (the
    # configured key is one): with holders: same every member's own key goes at the first
    # review; with holders: staff only member 0's, and the two accomplices on their own valid
    # credentials go on to the horizon
    review = {"_target_": "sim.controls.detectors.CredentialHygiene", "interval": "10d",
              "max_credential_age": "inf", "revoke_former_employees": True}

    def ended(holders: str) -> list[list[str]]:
        m = make_model(insider={"crew": {"size": 3, "credentials": "own", "holders": holders}},
                       network=BIG, detectors={"review": review}, horizon="60d")
        out = []
        for r in range(5):
            run = Run(m, 1, r)
            run.attach(det.start(run) for det in m.detectors)
            run.env.run(until=m.run.horizon)
            out.append([mem.ended_by for mem in run.crew.members])
        return out

    assert ended("same") == [["review"] * 3] * 5
    assert ended("staff") == [["review", "", ""]] * 5


@pytest.mark.parametrize(("crew", "key", "what"), [
    ({"size": 0}, "insider.crew.size", "must be in [1, 100]"),
    ({"size": 2, "credentials": "borrowed"}, "insider.crew.credentials", "must be one of"),
    ({"size": 2, "reveal": -0.1}, "insider.crew.reveal", "must be in [0, 1]"),
    ({"size": 1, "reveal": 0.5}, "insider.crew.reveal", "applies only to a crew"),
    ({"size": 1, "credentials": "shared"}, "insider.crew.credentials", "applies only"),
    ({"size": 1, "holders": "staff"}, "insider.crew.holders", "applies only to a crew"),
    ({"size": 2, "credentials": "shared", "holders": "staff"}, "insider.crew.holders",
     "applies only to own credentials"),
    ({"size": 2, "holders": "contractors"}, "insider.crew.holders", "must be one of"),
    ("three", "insider.crew", "must be a mapping"),
])
def test_bad_crews_are_refused_naming_the_key(crew, key, what):
    with pytest.raises(ConfigError) as err:
        make_model(insider={"crew": crew})
    assert err.value.key == key and what in err.value.message


def test_a_crew_s_rows_carry_the_crew_columns_and_read_back(tmp_path):
    m = crew_model(reveal=0.5, horizon="30d", detectors={"mon": monitor()})
    rows = [simulate(m, 1, r) for r in range(5)]
    with ResultWriter(tmp_path, crew=True) as w:
        for row in rows:
            w.write(row)
    header = (tmp_path / REPLICATIONS_CSV).read_text().splitlines()[0].split(",")
    assert tuple(header[-3:]) == CREW_COLUMNS
    assert read_replications(tmp_path / REPLICATIONS_CSV) == rows
    lone = make_model(detectors={"mon": monitor()})
    solo = [simulate(lone, 1, r) for r in range(5)]
    with ResultWriter(tmp_path / "solo") as w:
        for row in solo:
            w.write(row)
    # a lone insider's file has no crew column, and reads back to the same rows
    assert "insiders" not in (tmp_path / "solo" / REPLICATIONS_CSV).read_text()
    assert read_replications(tmp_path / "solo" / REPLICATIONS_CSV) == solo


def test_credential_reviews_rotate_own_keys_apart_and_a_shared_key_at_once():
    # a review every 30 days revokes leavers' keys with chance 0.5 each time
    hyg = {"hyg": {"_target_": "sim.controls.detectors.CredentialHygiene", "interval": "30d",
                   "revoke_former_employees": True, "coverage": 0.5}}
    ends: dict[str, list[set]] = {"own": [], "shared": []}
    for mode in ends:
        m = crew_model(credentials=mode, horizon="1y", detectors=hyg)
        for r in range(20):
            events: list = []
            simulate(m, 1, r, trace=events)
            ends[mode].append({e["t"] for e in events if e["action"] == "access-ended"})
            assert sum(e["action"] == "access-revoked" for e in events) == 3
    # one key: the three lose access at one review; three keys: each rotated at a geometric
    # (1/2) review of its own, all three at the same one with chance sum_k (2^-k)^3 = 1/7, so
    # ~17 of 20 end apart (binomial SD 1.6): 8 is over 5 SD below
    assert all(len(t) == 1 for t in ends["shared"])
    assert sum(len(t) > 1 for t in ends["own"]) >= 8


def test_outside_discovery_grows_with_what_the_whole_crew_took():
    # the hazard grows with records leaked: three insiders leak three times as fast, so the
    # cumulative hazard (~ t^2 at a steady rate) reaches the same draw ~sqrt(3) sooner: the
    # median dwell ratio is ~0.58. With n = 200 per arm the sample medians' relative SE is
    # ~10%, so 0.8 is over 2 SE above the expected ratio
    ext = {"ext": {"_target_": "sim.controls.detectors.ExternalDiscovery",
                   "mean_time_per_million": "30d"}}
    insider = {"records_per_session": 10_000}  # ~40K records a day each: found in ~1-2 months
    crew = crew_model(insider=insider, horizon="1y", detectors=ext)
    lone = make_model(insider=insider, network=BIG, horizon="1y", detectors=ext)
    med = [sorted(simulate(m, 1, r).dwell_hours for r in range(200))[100] for m in (crew, lone)]
    assert med[0] < 0.8 * med[1]


def test_risk_based_triage_adds_risk_per_credential():
    # two alerts of 1.5 reach a case threshold of 2.5 only on one entity: members on one shared
    # key are one entity, members on keys of their own are entities apart
    def items(mode: str) -> list:
        m = crew_model(credentials=mode, detectors={"mon": monitor()},
                       triage={"discipline": "risk_based", "risk_threshold": 2.5})
        run = Run(m, 1, 0)
        return [run.triage._item(1.0 + k, "mon", True, 1.5, None, member=k,
                                 key=k if mode == "own" else 0) for k in range(2)]

    first, second = items("shared")
    assert first is None and second is not None and second.case and second.member == 1
    assert items("own") == [None, None]
