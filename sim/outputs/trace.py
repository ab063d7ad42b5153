"""The event log of one replication as JSON Lines, with Elastic Common Schema field names.

``python -m sim ... trace=true [trace_replication=R]`` re-runs replication R (default 0) with
tracing on (the same draws, so the same outcome as its row in ``replications.csv``) and writes
``events.jsonl``: one JSON object per line, in time order, that Elasticsearch, OpenSearch,
Splunk or pandas (``pd.read_json(path, lines=True)``) load as they are.

Each line is a flat object with dotted ECS 8.11 names where ECS has a field for the fact, and
``sim.*`` for the rest. :data:`SCHEMA` is its JSON Schema (draft 2020-12, every field
described); ``python -m sim.trace schema`` prints it and ``python -m sim.trace validate FILE``
checks a log against it (:func:`validate_file`).

=====================================  ============================================================
field                                  meaning
=====================================  ============================================================
``@timestamp``                         ISO 8601 UTC wall-clock time of the event (``...Z``)
``ecs.version``, ``event.dataset``     ``8.11.0``, ``insider_sim.events``
``event.sequence``                     position of the line in the file (same-time order kept)
``event.action``                       what happened: one of :data:`ACTIONS` (below)
``event.kind``                         ``alert`` for ``alert``, ``case-open`` (triage discipline
                                       ``risk_based``: an entity's risk opened a case; its
                                       ``sim.risk``) and ``detection``, else ``event``
``event.category``, ``event.type``     ECS categorisation of the action (table below)
``event.outcome``                      insider actions: ``success`` if the action worked (an
                                       exfiltration that took no record is a ``failure``);
                                       controls: ``success`` when the control caught or stopped
                                       the insider, ``failure`` when the insider was in front of
                                       it and it missed (an audit whose window held the insider
                                       but found nothing, a stale key left in place, a true
                                       alert missed or dropped); absent when there was nothing
                                       to catch (a benign alert, an audit of an empty window)
``event.reason``                       why access ended: ``containment``, ``exhausted``,
                                       ``expired``, ``stopped`` (the insider's strategy) or
                                       the name of the control that revoked it
``threat.framework``                   ``MITRE ATT&CK`` on insider actions
``threat.technique.id`` / ``.name``    ATT&CK techniques of the action (``T1550``...)
``threat.technique.subtechnique.id``   sub-techniques (``T1550.001``...), with ``.name``
``threat.tactic.id`` / ``.name``       ATT&CK tactics: TA0001 Initial Access (session start),
                                       TA0008 Lateral Movement (access along the path),
                                       TA0009 Collection + TA0010 Exfiltration (exfiltration);
                                       a strategy's ``decision``: TA0010 Exfiltration (when,
                                       how much), TA0011 Command and Control (more proxies),
                                       TA0040 Impact (modifying or destroying data)
``sim.member``                         in a crew of 2 or more (``insider.crew``): the member an
                                       insider action, detection, containment, revocation or
                                       decision is about (absent for a lone insider)
``sim.decision``, ``sim.channel``      a strategy's decision (``lie-low``, ``back-off``...) and
                                       the exfiltration channel (CERT vocabulary,
                                       :data:`sim.agents.strategy.CHANNELS`)
``user.name``                          identity holding the insider's credential
``destination.address``                network node reached (access) or datastore read
                                       (session-start: the session's target; exfiltration)
``observer.name``                      the control that produced the event (its config name,
                                       e.g. ``audit``, ``monitoring``)
``rule.name``                          the alerting detector behind an alert, its triage, and the
                                       detector that confirmed the insider (``detection``)
``labels.*``                           strings the writer adds, e.g. scenario, seed, replication
``sim.t_hours``                        simulation time, hours since the insider's first access
``sim.*``                              every other field of the engine's event, unchanged; the
                                       documented ones are in :data:`SCHEMA`
=====================================  ============================================================

The model has no individual source addresses, so ``source.ip`` is not set; a session's
``sim.source_ip_count`` says how many it spreads its requests over.

==================  =========  ==============================  ==================  ===============
action              kind       category                        type                outcome
==================  =========  ==============================  ==================  ===============
session-start       event      authentication, session         start               success
access              event      network                         access              success
exfiltration        event      database                        access              success/failure
access-ended        event      session                         end                 -
queue-backlog       event      intrusion_detection             info                -
alert               alert      intrusion_detection             info                -
case-open           alert      intrusion_detection             info                -
alert-dropped       event      intrusion_detection             info                failure (true)
triage-start        event      intrusion_detection             info                -
triage-end          event      intrusion_detection             info                success/failure
audit               event      intrusion_detection             info                success/failure
credential-review   event      iam                             change (if rotated) success/failure
detection           alert      intrusion_detection, threat     indicator           success
containment         event      iam                             change              success
access-revoked      event      iam                             change              success
decision            event      threat                          info                success
==================  =========  ==============================  ==================  ===============
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sim.core.errors import SimError
from sim.world.calendar import Calendar

ECS_VERSION = "8.11.0"
DATASET = "insider_sim.events"

#: Every ``event.action``, in the order a replication usually meets them.
ACTIONS: tuple[str, ...] = (
    "queue-backlog", "session-start", "access", "exfiltration", "access-ended", "alert",
    "case-open", "alert-dropped", "triage-start", "triage-end", "audit", "credential-review",
    "detection", "containment", "access-revoked", "decision",
)

#: action -> (event.kind, event.category, event.type); credential-review's type is ``change``
#: when the key was rotated, else ``info``.
_CLASS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "session-start": ("event", ("authentication", "session"), ("start",)),
    "access": ("event", ("network",), ("access",)),
    "exfiltration": ("event", ("database",), ("access",)),
    "access-ended": ("event", ("session",), ("end",)),
    "queue-backlog": ("event", ("intrusion_detection",), ("info",)),
    "alert": ("alert", ("intrusion_detection",), ("info",)),
    "case-open": ("alert", ("intrusion_detection",), ("info",)),
    "alert-dropped": ("event", ("intrusion_detection",), ("info",)),
    "triage-start": ("event", ("intrusion_detection",), ("info",)),
    "triage-end": ("event", ("intrusion_detection",), ("info",)),
    "audit": ("event", ("intrusion_detection",), ("info",)),
    "credential-review": ("event", ("iam",), ("info",)),
    "detection": ("alert", ("intrusion_detection", "threat"), ("indicator",)),
    "containment": ("event", ("iam",), ("change",)),
    "access-revoked": ("event", ("iam",), ("change",)),
    "decision": ("event", ("threat",), ("info",)),
}

#: ATT&CK names of the techniques and sub-techniques the insider is tagged with.
TECHNIQUE_NAMES: dict[str, str] = {
    "T1078": "Valid Accounts",
    "T1550": "Use Alternate Authentication Material",
    "T1550.001": "Application Access Token",
    "T1090": "Proxy",
    "T1090.003": "Multi-hop Proxy",
    "T1213": "Data from Information Repositories",
    "T1567": "Exfiltration Over Web Service",
    "T1029": "Scheduled Transfer",
    "T1030": "Data Transfer Size Limits",
    "T1020": "Automated Exfiltration",
    "T1567.002": "Exfiltration to Cloud Storage",
    "T1565": "Data Manipulation",
    "T1565.001": "Stored Data Manipulation",
    "T1485": "Data Destruction",
}

#: The engine's ``category`` of an insider action -> its ATT&CK tactics (id, name).
TACTICS: dict[str, tuple[tuple[str, str], ...]] = {
    "authentication": (("TA0001", "Initial Access"),),
    "lateral-movement": (("TA0008", "Lateral Movement"),),
    "exfiltration": (("TA0009", "Collection"), ("TA0010", "Exfiltration")),
    "exfiltration-decision": (("TA0010", "Exfiltration"),),
    "command-and-control": (("TA0011", "Command and Control"),),
    "impact": (("TA0040", "Impact"),),
}

#: Engine field -> ECS field, for fields that keep their value unchanged.
_RENAME = {
    "user": "user.name",
    "node": "destination.address",
    "target": "destination.address",
    "reason": "event.reason",
    "ip_addresses": "sim.source_ip_count",
    "outcome": "sim.verdict",
}
#: Actions whose ``detector`` is also the ``rule.name`` (the alerting or confirming detector).
_RULE_ACTIONS = frozenset({"alert", "case-open", "alert-dropped", "triage-start", "triage-end",
                           "detection"})


class TraceFormatError(SimError, ValueError):
    """A line of an event log does not follow :data:`SCHEMA`.

    Args:
        where: the file and line (``events.jsonl:12``) or ``line``.
        message: the field at fault and what is wrong, e.g. ``sim.records: must be >= 0``.
    """

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


# ------------------------------------------------------------------------------ engine -> ECS


def _outcome(action: str, event: Mapping[str, Any]) -> str | None:
    """``event.outcome`` by the rule in the module docstring; None when it is absent."""
    if action in ("session-start", "access", "detection", "containment", "access-revoked",
                  "decision"):
        return "success"
    if action == "exfiltration":
        return "success" if event.get("records", 0) > 0 else "failure"
    if action == "audit":
        if event.get("found"):
            return "success"
        return "failure" if event.get("insider_in_window") else None
    if action == "credential-review":
        if event.get("rotated"):
            return "success"
        return "failure" if event.get("stale") or event.get("former_employee") else None
    if action == "triage-end" and event.get("true_positive"):
        return "success" if event.get("outcome") == "confirmed" else "failure"
    if action == "alert-dropped" and event.get("true_positive"):
        return "failure"
    return None


def _threat(techniques: Sequence[str], out: dict[str, Any]) -> None:
    parents = list(dict.fromkeys(t.split(".")[0] for t in techniques))
    subs = [t for t in techniques if "." in t]
    out["threat.framework"] = "MITRE ATT&CK"
    out["threat.technique.id"] = parents
    out["threat.technique.name"] = [TECHNIQUE_NAMES.get(t, t) for t in parents]
    if subs:
        out["threat.technique.subtechnique.id"] = subs
        out["threat.technique.subtechnique.name"] = [TECHNIQUE_NAMES.get(t, t) for t in subs]


def _plain(value: Any) -> Any:
    """Numpy scalars and tuples as plain JSON values."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        return item()
    return value


def to_ecs(event: Mapping[str, Any], calendar: Calendar, *, sequence: int | None = None,
           labels: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One engine event (see :meth:`sim.core.engine.Run.emit`) as a flat ECS record.

    Args:
        event: ``{"t": hours, "action": ..., **fields}``.
        calendar: anchors simulation time to ``@timestamp``.
        sequence: the line number to record as ``event.sequence`` (omitted if None).
        labels: extra ``labels.KEY`` strings (values are converted with ``str``).

    Returns:
        A record that :func:`validate_line` accepts if the event is one the engine emits.
    """
    action = str(event["action"])
    kind, category, types = _CLASS.get(action, ("event", (), ()))
    if action == "credential-review" and event.get("rotated"):
        types = ("change",)
    t = float(event["t"])
    out: dict[str, Any] = {
        "@timestamp": calendar.at(t).isoformat().replace("+00:00", "Z"),
        "ecs.version": ECS_VERSION,
        "event.dataset": DATASET,
        "event.action": action,
        "event.kind": kind,
        "event.category": list(category),
        "event.type": list(types),
    }
    if sequence is not None:
        out["event.sequence"] = int(sequence)
    outcome = _outcome(action, event)
    if outcome is not None:
        out["event.outcome"] = outcome
    out["sim.t_hours"] = t
    for key, value in event.items():
        if key in ("t", "action"):
            continue
        value = _plain(value)
        if key == "technique":
            _threat([str(v) for v in value], out)
        elif key == "category" and value in TACTICS:
            out["threat.tactic.id"] = [i for i, _ in TACTICS[value]]
            out["threat.tactic.name"] = [n for _, n in TACTICS[value]]
        elif key == "detector":
            out["observer.name"] = value
            if action in _RULE_ACTIONS:
                out["rule.name"] = value
        else:
            out[_RENAME.get(key, f"sim.{key}")] = value
    for key, value in (labels or {}).items():
        out[f"labels.{key}"] = str(value)
    return out


_TACTIC_CATEGORY = {tuple(i for i, _ in tactics): name for name, tactics in TACTICS.items()}
_BACK = {"user.name": "user", "event.reason": "reason", "observer.name": "detector",
         "sim.source_ip_count": "ip_addresses", "sim.verdict": "outcome"}


def from_ecs(record: Mapping[str, Any]) -> dict[str, Any]:
    """The engine event an ECS record was made from (the inverse of :func:`to_ecs`).

    ``from_ecs(to_ecs(e, cal)) == e`` for every event the engine emits; the fields ECS adds
    (``@timestamp``, ``event.kind``, names, labels...) are dropped. Use it to feed a log read
    from a file to :mod:`sim.outputs.figures`.
    """
    event: dict[str, Any] = {"t": record["sim.t_hours"], "action": record["event.action"]}
    action = event["action"]
    if "threat.technique.id" in record:
        subs = list(record.get("threat.technique.subtechnique.id", []))
        techniques: list[str] = []
        for parent in record["threat.technique.id"]:
            mine = [s for s in subs if s.split(".")[0] == parent]
            techniques.extend(mine or [parent])
        event["technique"] = techniques
    if "threat.tactic.id" in record:
        event["category"] = _TACTIC_CATEGORY.get(tuple(record["threat.tactic.id"]), "")
    for key, value in record.items():
        if key in _BACK:
            event[_BACK[key]] = value
        elif key == "destination.address":
            event["node" if action == "access" else "target"] = value
        elif key.startswith("sim.") and key != "sim.t_hours":
            event[key[4:]] = value
    return event


def write_jsonl(events: Iterable[Mapping[str, Any]], calendar: Calendar, path: Path, *,
                labels: Mapping[str, Any] | None = None) -> int:
    """Write ``events`` to ``path`` as JSON Lines in time order, atomically.

    Args:
        events: engine events (the list :func:`sim.core.engine.simulate` fills).
        calendar: anchors ``@timestamp``.
        path: the file to (re)place; written to ``path.partial`` first.
        labels: ``labels.KEY`` strings put on every line (scenario, seed, replication...).

    Returns:
        The number of lines written.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for event in sorted(events, key=lambda e: e["t"]):  # stable: same-time order kept
            record = to_ecs(event, calendar, sequence=n, labels=labels)
            fh.write(json.dumps(record, allow_nan=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def read_jsonl(path: str | Path, *, validate: bool = True) -> list[dict[str, Any]]:
    """Read an event log written by :func:`write_jsonl`.

    Raises:
        TraceFormatError: a line is not JSON or (with ``validate``) breaks :data:`SCHEMA`.
    """
    path = Path(path)
    records = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            where = f"{path.name}:{number}"
            records.append(validate_line(line, where=where) if validate
                           else _parse(line, where))
    return records


# --------------------------------------------------------------------------------- the schema

_NUM = {"type": "number"}
_HOURS = {"type": "number", "minimum": 0}
_COUNT = {"type": "integer", "minimum": 0}
_BOOL = {"type": "boolean"}
_TEXT = {"type": "string", "minLength": 1}
_TEXTS = {"type": "array", "items": _TEXT, "minItems": 1}


def _d(schema: Mapping[str, Any], text: str) -> dict[str, Any]:
    return {**copy.deepcopy(dict(schema)), "description": text}


_PROPERTIES: dict[str, dict[str, Any]] = {
    "@timestamp": _d({"type": "string", "format": "date-time", "pattern": "Z$"},
                     "UTC wall-clock time of the event, ISO 8601"),
    "ecs.version": _d({"const": ECS_VERSION}, "ECS version the names follow"),
    "event.dataset": _d({"const": DATASET}, "where the event comes from"),
    "event.sequence": _d(_COUNT, "position of the line in the file"),
    "event.action": _d({"enum": list(ACTIONS)}, "what happened"),
    "event.kind": _d({"enum": ["event", "alert"]}, "alert for alerts and detections"),
    "event.category": _d({"type": "array", "minItems": 1, "items": {"enum": [
        "authentication", "session", "network", "database", "intrusion_detection", "threat",
        "iam"]}}, "ECS categories of the action"),
    "event.type": _d({"type": "array", "minItems": 1, "items": {"enum": [
        "start", "end", "access", "info", "indicator", "change"]}}, "ECS types of the action"),
    "event.outcome": _d({"enum": ["success", "failure"]},
                        "insider actions: whether they worked; controls: success when the "
                        "control caught or stopped the insider, failure when it missed them"),
    "event.reason": _d(_TEXT, "why the insider's access ended"),
    "threat.framework": _d({"const": "MITRE ATT&CK"}, "framework of the technique ids"),
    "threat.technique.id": _d({"type": "array", "minItems": 1,
                               "items": {"type": "string", "pattern": "^T[0-9]{4}$"}},
                              "ATT&CK techniques of an insider action"),
    "threat.technique.name": _d(_TEXTS, "their names"),
    "threat.technique.subtechnique.id": _d(
        {"type": "array", "minItems": 1,
         "items": {"type": "string", "pattern": "^T[0-9]{4}\\.[0-9]{3}$"}},
        "ATT&CK sub-techniques of an insider action"),
    "threat.technique.subtechnique.name": _d(_TEXTS, "their names"),
    "threat.tactic.id": _d({"type": "array", "minItems": 1,
                            "items": {"type": "string", "pattern": "^TA[0-9]{4}$"}},
                           "ATT&CK tactics of an insider action"),
    "threat.tactic.name": _d(_TEXTS, "their names"),
    "user.name": _d(_TEXT, "identity holding the insider's credential"),
    "destination.address": _d(_TEXT, "network node reached, or datastore read"),
    "observer.name": _d(_TEXT, "the control (detector config name) behind the event"),
    "rule.name": _d(_TEXT, "the detector that raised the alert or confirmed the insider"),
    "sim.t_hours": _d(_HOURS, "simulation time, hours since the insider's first access"),
    "sim.session": _d(_COUNT, "index of the insider's session (0 = first)"),
    "sim.credential": _d(_TEXT, "id of the insider's credential in the network"),
    "sim.source_ip_count": _d({"type": "integer", "minimum": 1},
                              "source addresses the session's requests are spread over"),
    "sim.planned_records": _d(_COUNT, "records the session sets out to take"),
    "sim.planned_end": _d(_HOURS, "when the session would end if not cut (sim hours)"),
    "sim.zone": _d({"type": "string"}, "network zone of the node reached"),
    "sim.records": _d(_COUNT, "records the session took"),
    "sim.records_total": _d(_COUNT, "records taken so far in the replication (by every "
                                    "member of a crew)"),
    "sim.requests": _d({"type": "number", "minimum": 0}, "page requests the session made"),
    "sim.true_positive": _d(_BOOL, "ground truth: the alert is about the insider"),
    "sim.queue_length": _d(_COUNT, "alerts waiting for an analyst, this one included (on an "
                                   "alert; optional on triage events); on queue-backlog, the "
                                   "warm-up alerts still waiting at time 0"),
    "sim.wait_hours": _d(_HOURS, "hours the alert waited in the queue"),
    "sim.risk": _d({"type": "number"}, "risk of the entity when its case opened (sum of its "
                                       "alerts' scores; triage discipline risk_based)"),
    "sim.case": _d(_BOOL, "the triage event is about a case, not an alert (risk_based)"),
    "sim.analysts_busy": _d(_COUNT, "analysts still triaging warm-up alerts at time 0"),
    "sim.warmup": _d(_BOOL, "the alert arrived in the warm-up before time 0 (in no "
                            "statistic; its triage start or drop empties the backlog)"),
    "sim.verdict": _d({"enum": ["confirmed", "missed", "dismissed"]},
                      "the analyst's verdict: a true alert confirmed or missed, a benign one "
                      "dismissed"),
    "sim.window_start": _d(_HOURS, "start of the period the audit reviewed (sim hours)"),
    "sim.window_end": _d(_HOURS, "end of the period the audit reviewed (sim hours)"),
    "sim.coverage": _d({"type": "number", "minimum": 0, "maximum": 1},
                       "share of the logs the audit reviewed"),
    "sim.insider_in_window": _d(_BOOL, "the insider was active in the audited period"),
    "sim.found": _d(_BOOL, "the audit caught the insider"),
    "sim.stale": _d(_BOOL, "the insider's credential is older than the rotation limit"),
    "sim.former_employee": _d(_BOOL, "the review revokes leavers' credentials"),
    "sim.rotated": _d(_BOOL, "the review rotated the insider's credential"),
    "sim.decision": _d(_TEXT, "what the insider's strategy decided (lie-low, back-off...)"),
    "sim.channel": _d({"enum": ["web_service", "remote_access", "cloud_storage", "email",
                                "removable_media"]},
                      "how the data leaves, in the CERT insider-incident vocabulary"),
    "sim.signal": _d(_TEXT, "what the insider saw that led to the decision (notice, refused, "
                            "colleague-lost)"),
    "sim.member": _d(_COUNT, "in a crew of 2 or more (sim.agents.crew): the member the event "
                             "is about (0 = the one on the configured credential)"),
    "sim.revealed": _d({"type": "array", "items": _COUNT},
                       "containment of a crew member: the accomplices its investigation "
                       "exposed, cut with it"),
    "sim.revoked_with": _d({"type": "array", "items": _COUNT},
                           "containment of a crew member on a shared credential: the others "
                           "on it, cut with it but not identified"),
}

_INSIDER = ("threat.framework", "threat.technique.id", "threat.technique.name",
            "threat.tactic.id", "threat.tactic.name", "sim.session")
_TRIAGE = ("observer.name", "rule.name", "sim.true_positive")
#: Fields each action must have beyond the common ones.
REQUIRED_BY_ACTION: dict[str, tuple[str, ...]] = {
    "session-start": (*_INSIDER, "user.name", "sim.credential", "sim.source_ip_count",
                      "destination.address", "sim.planned_records", "sim.planned_end",
                      "event.outcome"),
    "access": (*_INSIDER, "destination.address", "sim.zone", "event.outcome"),
    "exfiltration": (*_INSIDER, "destination.address", "sim.records", "sim.records_total",
                     "sim.requests", "event.outcome"),
    "access-ended": ("event.reason",),
    "queue-backlog": ("sim.queue_length", "sim.analysts_busy"),
    "alert": (*_TRIAGE, "sim.queue_length"),
    "case-open": (*_TRIAGE, "sim.risk"),
    "alert-dropped": (*_TRIAGE, "sim.wait_hours"),
    "triage-start": (*_TRIAGE, "sim.wait_hours"),
    "triage-end": (*_TRIAGE, "sim.verdict"),
    "audit": ("observer.name", "sim.window_start", "sim.window_end", "sim.coverage",
              "sim.insider_in_window", "sim.found"),
    "credential-review": ("observer.name", "sim.credential", "sim.stale",
                          "sim.former_employee", "sim.rotated"),
    "detection": ("observer.name", "rule.name", "event.outcome"),
    "containment": ("event.outcome",),
    "access-revoked": ("observer.name", "event.outcome"),
    "decision": (*_INSIDER, "sim.decision", "event.outcome"),
}
_COMMON = ("@timestamp", "ecs.version", "event.dataset", "event.action", "event.kind",
           "event.category", "event.type", "sim.t_hours")

#: The JSON Schema (draft 2020-12) of one line of ``events.jsonl``.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://insider-sim/schemas/events-line.json",
    "title": "insider-sim event log line",
    "description": "One event of one replication, flat, with ECS 8.11 field names where ECS "
                   "has the field and sim.* for the rest (see sim/outputs/trace.py).",
    "type": "object",
    "required": list(_COMMON),
    "properties": _PROPERTIES,
    "patternProperties": {
        "^labels\\.[A-Za-z0-9_]+$": {"type": "string",
                                     "description": "labels the writer adds (scenario...)"},
        "^sim\\.[a-z0-9_]+$": {"description": "any other field of the engine's event"},
    },
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"event.action": {"const": action}}, "required": ["event.action"]},
         "then": {"required": list(fields)}}
        for action, fields in REQUIRED_BY_ACTION.items()
    ],
}


def schema() -> dict[str, Any]:
    """A copy of :data:`SCHEMA`, safe to modify or dump with ``json.dumps``."""
    return copy.deepcopy(SCHEMA)


# --------------------------------------------------------------------------------- validation
# A validator for the subset of JSON Schema that SCHEMA uses (type, const, enum, minimum,
# maximum, minLength, minItems, pattern, format date-time, items, required, properties,
# patternProperties, additionalProperties, allOf, if/then). The tests check that it agrees
# with the reference implementation (the `jsonschema` package) on valid and broken lines.

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}


def _is_datetime(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _error(value: Any, rule: Mapping[str, Any], where: str) -> str | None:
    """The first way ``value`` breaks ``rule`` as ``"where: what"``, or None."""
    name = where or "line"
    if "type" in rule and not _TYPES[rule["type"]](value):
        return f"{name}: must be of type {rule['type']}, got {value!r}"
    if "const" in rule and value != rule["const"]:
        return f"{name}: must be {rule['const']!r}, got {value!r}"
    if "enum" in rule and value not in rule["enum"]:
        return f"{name}: must be one of {', '.join(map(str, rule['enum']))}, got {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in rule and value < rule["minimum"]:
            return f"{name}: must be >= {rule['minimum']}, got {value!r}"
        if "maximum" in rule and value > rule["maximum"]:
            return f"{name}: must be <= {rule['maximum']}, got {value!r}"
    if isinstance(value, str):
        if "minLength" in rule and len(value) < rule["minLength"]:
            return f"{name}: must not be empty"
        if "pattern" in rule and not re.search(rule["pattern"], value):
            return f"{name}: must match {rule['pattern']}, got {value!r}"
        if rule.get("format") == "date-time" and not _is_datetime(value):
            return f"{name}: must be an ISO 8601 date-time, got {value!r}"
    if isinstance(value, list):
        if "minItems" in rule and len(value) < rule["minItems"]:
            return f"{name}: must have at least {rule['minItems']} item(s)"
        if "items" in rule:
            for i, item in enumerate(value):
                problem = _error(item, rule["items"], f"{name}[{i}]")
                if problem:
                    return problem
    if isinstance(value, dict):
        missing = [k for k in rule.get("required", ()) if k not in value]
        if missing:
            return f"{missing[0]}: is required" + (
                f" for event.action {value.get('event.action')!r}"
                if "event.action" in value and where == "" and missing[0] not in _COMMON
                else "")
        props = rule.get("properties", {})
        patterns = rule.get("patternProperties", {})
        closed = rule.get("additionalProperties", True) is False
        if not patterns and not closed:  # only the named properties matter (an `if` clause)
            for key in props.keys() & value.keys():
                problem = _error(value[key], props[key], key)
                if problem:
                    return problem
        for key, item in value.items() if patterns or closed else ():
            matched = False
            if key in props:
                matched = True
                problem = _error(item, props[key], key)
                if problem:
                    return problem
            for pattern, sub in patterns.items():
                if re.search(pattern, key):
                    matched = True
                    problem = _error(item, sub, key)
                    if problem:
                        return problem
            if not matched and closed:
                return (f"{key}: unknown field (ECS names in sim/outputs/trace.py, "
                        f"or sim.*/labels.*)")
        for sub in rule.get("allOf", ()):
            if "if" in sub:
                if _error(value, sub["if"], where) is None and "then" in sub:
                    problem = _error(value, sub["then"], where)
                    if problem:
                        return problem
            else:
                problem = _error(value, sub, where)
                if problem:
                    return problem
    return None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _parse(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line, parse_constant=_reject_constant)
    except ValueError as exc:
        raise TraceFormatError(where, f"not a JSON object: {exc}") from None
    if not isinstance(record, dict):
        raise TraceFormatError(where, f"not a JSON object: {line.strip()[:60]!r}")
    return record


def validate_line(line: str | Mapping[str, Any], *, where: str = "line") -> dict[str, Any]:
    """Check one line (a JSON string or a parsed record) against :data:`SCHEMA`.

    Args:
        line: the text of the line, or the record :func:`to_ecs` made.
        where: named in the error, e.g. ``events.jsonl:12``.

    Returns:
        The record as a dict.

    Raises:
        TraceFormatError: one line naming the field at fault and what is allowed.
    """
    record = _parse(line, where) if isinstance(line, str) else dict(line)
    problem = _error(record, SCHEMA, "")
    if problem:
        raise TraceFormatError(where, problem)
    return record


def validate_file(path: str | Path) -> int:
    """Check every line of an event log and that ``event.sequence`` and time never go back.

    Returns:
        The number of lines checked.

    Raises:
        TraceFormatError: the first bad line, as ``FILE:LINE: field: what is wrong``.
    """
    path = Path(path)
    previous_t, n = -math.inf, 0
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            where = f"{path.name}:{number}"
            record = validate_line(line, where=where)
            if record["sim.t_hours"] < previous_t:
                raise TraceFormatError(where, "sim.t_hours: goes back in time "
                                              f"({record['sim.t_hours']} < {previous_t})")
            if "event.sequence" in record and record["event.sequence"] != number - 1:
                raise TraceFormatError(where, f"event.sequence: must be {number - 1} on line "
                                              f"{number}, got {record['event.sequence']}")
            previous_t = record["sim.t_hours"]
            n += 1
    return n


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sim.trace schema`` prints the JSON Schema; ``validate FILE...`` checks logs.

    Returns:
        The exit code: 0 if every file is valid, 1 if one is not, 2 for bad usage.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["schema"] and len(args) == 1:
        print(json.dumps(SCHEMA, indent=2))
        return 0
    if args[:1] == ["validate"] and len(args) > 1:
        code = 0
        for name in args[1:]:
            try:
                print(f"{name}: {validate_file(name)} lines valid")
            except (TraceFormatError, OSError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                code = 1
        return code
    print("usage: python -m sim.trace schema | validate FILE...", file=sys.stderr)
    return 2
