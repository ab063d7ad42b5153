"""The event log: ECS names, its JSON Schema, validation, and a traced run of the CLI."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import jsonschema
import pytest

from sim.core.engine import simulate
from sim.outputs import trace
from sim.outputs.trace import (
    ACTIONS,
    REQUIRED_BY_ACTION,
    SCHEMA,
    TraceFormatError,
    from_ecs,
    to_ecs,
    validate_file,
    validate_line,
    write_jsonl,
)
from tests.cli.test_app import run_sim
from tests.conftest import make_model

REFERENCE = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())

# A busy tiny network: a weak monitor floods one slow analyst whose alerts age out after an
# hour, and a daily audit that finds the insider half the time: alerts, triage, drops, audits,
# detection and containment all happen.
BUSY = {
    "network": {"_target_": "tests.conftest.tiny_network", "records": 10**9},
    "background": {"employees": 100, "mode": "fast", "profile": "flat"},
    "triage": {"analysts": 1, "triage_time": "30m", "max_alert_age": "1h"},
    "detectors": {
        "monitoring": {"_target_": "sim.controls.detectors.ContinuousMonitoring", "threshold": 1.0,
                       "dprime": 1.0},
        "audit": {"_target_": "sim.controls.detectors.PeriodicAudit", "interval": "1d",
                  "coverage": 1, "recognition": 0.5, "phase": "30m", "watch": {"ids": ["gateway"]}},
    },
}
# Key rotation: the tiny network's key is 1000 h old, so the first review rotates it.
REVOKE = {"detectors": {"hygiene": {"_target_": "sim.controls.detectors.CredentialHygiene",
                                    "interval": "1d", "max_credential_age": "10h"}}}


def traced(over: dict, seed: int = 3, replication: int = 0):
    model = make_model(**copy.deepcopy(over))
    events: list = []
    result = simulate(model, seed, replication, trace=events)
    return model, result, events


# A cautious insider who sees the daily audit lies low: its decisions are events too.
WARY = {"insider": {"strategy": {"_target_": "sim.agents.cautious.Cautious", "quiet": "2d"}},
        "detectors": {"audit": {"_target_": "sim.controls.detectors.PeriodicAudit",
                                "interval": "1d", "coverage": 0.0, "visible": True}}}
# BUSY under risk-based triage: the false alarms fall on 5 entities and two alerts open a case
RISK = {**BUSY, "triage": {**BUSY["triage"], "discipline": "risk_based", "risk_entities": 5,
                           "risk_threshold": 2.5, "case_triage_time": "30m"}}


@pytest.fixture(scope="module")
def runs():
    return [traced(BUSY), traced(REVOKE), traced(WARY), traced(RISK)]


def test_every_action_the_engine_emits_validates_and_the_reference_agrees(runs):
    seen = set()
    for model, _, events in runs:
        for i, event in enumerate(sorted(events, key=lambda e: e["t"])):
            record = to_ecs(event, model.calendar, sequence=i, labels={"scenario": "test"})
            validate_line(record)
            validate_line(json.dumps(record))
            assert not list(REFERENCE.iter_errors(record)), record
            seen.add(record["event.action"])
    assert seen == set(ACTIONS)  # the three runs exercise every action in the schema


def test_from_ecs_inverts_to_ecs(runs):
    for model, _, events in runs:
        for event in events:
            assert from_ecs(to_ecs(event, model.calendar)) == event


def test_insider_actions_carry_ecs_threat_user_and_destination(runs):
    model, _, events = runs[0]
    records = [to_ecs(e, model.calendar) for e in events]
    start = next(r for r in records if r["event.action"] == "session-start")
    # tiny network: a signing key (forged tokens, T1550.001) and 10 addresses (proxy, T1090.003)
    assert start["threat.technique.id"] == ["T1550", "T1090"]
    assert start["threat.technique.subtechnique.id"] == ["T1550.001", "T1090.003"]
    assert start["threat.tactic.name"] == ["Initial Access"]
    assert start["user.name"] == "leaver" and start["destination.address"] == "store"
    assert start["sim.source_ip_count"] == 10 and start["sim.credential"] == "key"
    assert start["event.category"] == ["authentication", "session"]
    assert start["@timestamp"] == "2025-06-23T15:00:00Z"  # 24 Jun 00:00 KST, time 0
    hops = [r["destination.address"] for r in records if r["event.action"] == "access"]
    assert hops[:3] == ["gateway", "api", "store"]
    exfil = next(r for r in records if r["event.action"] == "exfiltration")
    assert exfil["threat.tactic.id"] == ["TA0009", "TA0010"]
    assert "T1567" in exfil["threat.technique.id"] and exfil["event.outcome"] == "success"


def test_controls_name_observer_rule_and_outcome(runs):
    model, result, events = runs[0]
    records = [to_ecs(e, model.calendar) for e in events]
    alert = next(r for r in records if r["event.action"] == "alert")
    assert alert["event.kind"] == "alert" and alert["rule.name"] == "monitoring"
    assert alert["observer.name"] == "monitoring" and "event.outcome" not in alert
    for audit in (r for r in records if r["event.action"] == "audit"):
        expected = ("success" if audit["sim.found"] else
                    "failure" if audit["sim.insider_in_window"] else None)
        assert audit.get("event.outcome") == expected
        assert "rule.name" not in audit and audit["observer.name"] == "audit"
    detection = next(r for r in records if r["event.action"] == "detection")
    assert detection["rule.name"] == result.detected_by
    assert detection["event.kind"] == "alert" and detection["event.outcome"] == "success"
    for end in (r for r in records if r["event.action"] == "triage-end"):
        if end["sim.true_positive"]:
            ok = end["sim.verdict"] == "confirmed"
            assert end["event.outcome"] == ("success" if ok else "failure")
        else:
            assert end["sim.verdict"] == "dismissed" and "event.outcome" not in end
    model, _, events = runs[1]
    review = next(to_ecs(e, model.calendar) for e in events
                  if e["action"] == "credential-review")
    assert review["sim.rotated"] and review["event.type"] == ["change"]
    assert review["event.outcome"] == "success"
    ended = next(to_ecs(e, model.calendar) for e in events if e["action"] == "access-ended")
    assert ended["event.reason"] == "hygiene"


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda r: r.pop("@timestamp"), "@timestamp: is required"),
    (lambda r: r.update({"event.action": "hack"}), "event.action: must be one of"),
    (lambda r: r.update({"sim.records": -1}), "sim.records: must be >= 0"),
    (lambda r: r.update({"sim.records": 1.5}), "sim.records: must be of type integer"),
    (lambda r: r.update({"source.ip": "10.0.0.1"}), "source.ip: unknown field"),
    (lambda r: r.update({"user.name": 3}), "user.name: must be of type string"),
    (lambda r: r.update({"@timestamp": "2025-13-01T00:00:00Z"}), "@timestamp: must be an ISO 8601"),
    (lambda r: r.update({"@timestamp": "2025-06-23 15:00:00"}), "@timestamp: must"),
    (lambda r: r.pop("sim.records_total"),
     "sim.records_total: is required for event.action 'exfiltration'"),
    (lambda r: r.update({"threat.technique.id": ["1567"]}), "threat.technique.id[0]: must match"),
    (lambda r: r.update({"labels.seed": 3}), "labels.seed: must be of type string"),
    (lambda r: r.update({"event.category": []}), "event.category: must have at least 1"),
    (lambda r: r.update({"event.outcome": "maybe"}), "event.outcome: must be one of"),
])
def test_the_validator_names_what_is_wrong_and_the_reference_agrees(runs, mutate, message):
    model, _, events = runs[0]
    event = next(e for e in events if e["action"] == "exfiltration")
    record = to_ecs(event, model.calendar, sequence=0, labels={"seed": 3})
    assert not list(REFERENCE.iter_errors(record))
    mutate(record)
    with pytest.raises(TraceFormatError, match=f"^line: {_re(message)}"):
        validate_line(record)
    if "ISO 8601" in message and "date-time" not in jsonschema.FormatChecker.checkers:
        return  # jsonschema checks date-time formats only with rfc3339-validator installed
    assert list(REFERENCE.iter_errors(record)), "jsonschema accepts what validate_line rejects"


def _re(text: str) -> str:
    import re
    return re.escape(text)


def test_validate_file_names_the_file_and_line(runs, tmp_path):
    model, _, events = runs[0]
    path = tmp_path / "events.jsonl"
    n = write_jsonl(events, model.calendar, path)
    assert validate_file(path) == n == len(events)
    lines = path.read_text().splitlines()
    bad = json.loads(lines[2])
    bad["sim.t_hours"] = -1.0
    for replacement, message in [
        (json.dumps(bad), "events.jsonl:3: sim.t_hours: must be >= 0"),
        ("not json", "events.jsonl:3: not a JSON object"),
        (lines[2].replace('"sim.t_hours": ', '"sim.t_hours": NaN, "x": '),
         "events.jsonl:3: not a JSON object: NaN is not valid JSON"),
        (lines[0], "events.jsonl:3: event.sequence: must be 2 on line 3, got 0"),
    ]:
        path.write_text("\n".join(lines[:2] + [replacement] + lines[3:]) + "\n")
        with pytest.raises(TraceFormatError, match=f"^{_re(message)}"):
            validate_file(path)
    late = json.loads(lines[-1])
    late["event.sequence"] = 0
    path.write_text(json.dumps(late) + "\n" + lines[0].replace('"event.sequence": 0',
                                                                 '"event.sequence": 1') + "\n")
    if late["sim.t_hours"] > 0:
        with pytest.raises(TraceFormatError, match="events.jsonl:2: sim.t_hours: goes back"):
            validate_file(path)


def test_write_jsonl_sorts_numbers_and_replaces_atomically(runs, tmp_path):
    model, _, events = runs[0]
    shuffled = events[::-1]  # the lazy triage queue appends some events ahead of time
    path = tmp_path / "events.jsonl"
    assert write_jsonl(shuffled, model.calendar, path, labels={"replication": 0}) == len(events)
    records = trace.read_jsonl(path)
    times = [r["sim.t_hours"] for r in records]
    assert times == sorted(times)
    assert [r["event.sequence"] for r in records] == list(range(len(events)))
    assert all(r["labels.replication"] == "0" for r in records)
    assert not (tmp_path / "events.jsonl.partial").exists()


def test_the_schema_is_valid_and_documents_every_field():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert set(REQUIRED_BY_ACTION) == set(ACTIONS) == set(SCHEMA["properties"]["event.action"]
                                                          ["enum"])
    for name, prop in SCHEMA["properties"].items():
        assert prop.get("description"), f"{name} has no description"
    for fields in REQUIRED_BY_ACTION.values():
        assert set(fields) <= set(SCHEMA["properties"])
    assert trace.schema() == SCHEMA and trace.schema() is not SCHEMA


def test_module_command_prints_the_schema_and_validates_files(runs, tmp_path, capsys):
    model, _, events = runs[1]
    good = tmp_path / "good.jsonl"
    write_jsonl(events, model.calendar, good)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event.action": "access"}\n')
    assert trace.main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == SCHEMA["title"]
    assert trace.main(["validate", str(good)]) == 0
    assert f"{len(events)} lines valid" in capsys.readouterr().out
    assert trace.main(["validate", str(good), str(bad)]) == 1
    assert "error: bad.jsonl:1: @timestamp: is required" in capsys.readouterr().err
    assert trace.main([]) == 2


# ---------------------------------------------------------------------------- the CLI, traced

@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("traced")
    proc = run_sim("scenario=default", "replications=2", "trace=true", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    return out


def test_cli_trace_writes_a_log_that_validates_against_the_schema(cli_run):
    path = cli_run / "events.jsonl"
    n = validate_file(path)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert n == len(records) > 5
    for record in records:
        assert not list(REFERENCE.iter_errors(record))
    actions = [r["event.action"] for r in records]
    # the queue the run starts with (monitoring warms it up), then the first access
    assert actions[:2] == ["queue-backlog", "session-start"] and "exfiltration" in actions
    # replication 0 of the default scenario: its row in replications.csv and its log agree
    with (cli_run / "replications.csv").open() as fh:
        row = next(csv.DictReader(fh))
    assert row["replication"] == "0"
    assert actions.count("session-start") == int(row["sessions"])


def test_cli_trace_writes_the_timeline_and_network_figures(cli_run):
    for name in ("timeline.png", "network.png"):
        assert (cli_run / name).stat().st_size > 30_000, name


def test_the_warm_up_backlog_is_the_first_event_of_the_log():
    from sim.core.engine import simulate
    from tests.conftest import make_model

    for mode in ("fast", "exact"):
        events: list = []
        simulate(make_model(**{**BUSY, "horizon": "2d", "background": {
            **BUSY["background"], "mode": mode}}), 3, 0, trace=events)
        assert events[0]["action"] == "queue-backlog" and events[0]["t"] == 0, mode
