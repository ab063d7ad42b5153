"""The event log of one replication as JSON Lines, with Elastic Common Schema field names.

``python -m sim ... trace=true [trace_replication=R]`` re-runs replication R (default 0) with
tracing on (the same draws, so the same outcome as its row in ``replications.csv``) and writes
``events.jsonl``: one JSON object per line, in time order.

Schema of each line (ECS names where one fits):

==========================  ===================================================================
``@timestamp``              ISO 8601 UTC wall-clock time of the event
``sim.t_hours``             simulation time, hours since the insider's first access
``event.action``            session-start, access, exfiltration, access-ended, alert,
                            triage-start, triage-end, alert-dropped, audit, credential-review,
                            detection, containment, access-revoked
``event.category``          authentication, lateral-movement, exfiltration (insider actions)
``threat.technique.id``     list of MITRE ATT&CK ids of an insider action
``user.name``               identity holding the insider's credential (insider actions)
``source.ip_count``         how many source addresses a session spreads over
``destination.node``        network node reached (access) or datastore read (exfiltration)
``sim.*``                   every other field of the event, unchanged
==========================  ===================================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.calendar import Calendar

_RENAME = {
    "action": "event.action",
    "category": "event.category",
    "technique": "threat.technique.id",
    "user": "user.name",
    "ip_addresses": "source.ip_count",
    "node": "destination.node",
    "target": "destination.node",
}


def to_ecs(event: Mapping[str, Any], calendar: Calendar) -> dict[str, Any]:
    """One engine event as a flat ECS-style record."""
    out: dict[str, Any] = {
        "@timestamp": calendar.at(event["t"]).isoformat().replace("+00:00", "Z"),
        "sim.t_hours": event["t"],
    }
    for key, value in event.items():
        if key == "t":
            continue
        out[_RENAME.get(key, f"sim.{key}")] = value
    return out


def write_jsonl(events: Iterable[Mapping[str, Any]], calendar: Calendar, path: Path) -> int:
    """Write ``events`` (in time order) to ``path`` atomically; return how many were written."""
    tmp = path.with_name(path.name + ".partial")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for event in sorted(events, key=lambda e: e["t"]):  # stable: same-time order kept
            fh.write(json.dumps(to_ecs(event, calendar), allow_nan=False, default=float) + "\n")
            n += 1
    tmp.replace(path)
    return n
