"""Helpers of the teaching lab: run a scenario with a few changes, compare settings, trace one
replication and draw it.

Everything goes through the same code as the command line: a setting is a list of Hydra
overrides (``["scenario=coupang_2025", "detectors.audit.interval=1w"]``), composed from
``conf/`` exactly as ``python -m sim`` would, and replications ``0..n-1`` of seed ``s`` are the
rows ``python -m sim ... replications=n seed=s`` writes. So every number in the lab can be
checked on the command line.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the simulator of this repository, installed or not
    sys.path.insert(0, str(ROOT))

from sim.core.engine import Model, build_model, simulate  # noqa: E402
from sim.core.errors import ConfigError  # noqa: E402
from sim.core.timeunits import format_hours  # noqa: E402
from sim.outputs.figures import Timeline, timeline_data, write_trace_figures  # noqa: E402
from sim.outputs.results import ReplicationResult  # noqa: E402
from sim.outputs.trace import write_jsonl  # noqa: E402


def config(overrides: Sequence[str]) -> dict[str, Any]:
    """The plain config ``python -m sim OVERRIDES...`` would run (app options removed).

    Raises:
        ConfigError: an override Hydra cannot apply (one line naming it).
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from sim.cli.app import CONF_DIR, plain_config, split_app_options

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError("overrides", str(exc).splitlines()[0]) from None
    plain = plain_config(cfg)
    split_app_options(plain)
    scenario = next((o.split("=", 1)[1] for o in overrides if o.startswith("scenario=")),
                    "default")
    plain["scenario"] = scenario
    return plain


def model_of(overrides: Sequence[str]) -> Model:
    """The model of a setting (validated like the command line does)."""
    return build_model(config(overrides))


# ------------------------------------------------------------------------------------ outcomes


def median_dwell_hours(dwell: np.ndarray, censored: np.ndarray) -> float:
    """Median of ``dwell`` (hours); ``inf`` if half or more of ``censored`` are true.

    Undetected replications are censored at the horizon, the largest time there is, so while
    fewer than half are censored the plain median is the Kaplan-Meier median.
    """
    if 2 * int(np.sum(censored)) >= len(dwell):
        return math.inf
    return float(np.median(dwell))


@dataclass
class Outcome:
    """The replications of one setting and the statistics the lab reports."""

    label: str
    overrides: tuple[str, ...]
    model: Model
    results: list[ReplicationResult]

    @property
    def n(self) -> int:
        return len(self.results)

    @property
    def horizon(self) -> float:
        return self.model.run.horizon

    def dwell(self) -> np.ndarray:
        """Hours to detection; an undetected replication counts as the horizon."""
        return np.array([r.dwell_hours for r in self.results], dtype=float)

    def median_dwell(self) -> float:
        """Median hours to detection; ``inf`` if half or more were never detected
        (:func:`median_dwell_hours`)."""
        return median_dwell_hours(self.dwell(), np.array([r.censored for r in self.results]))

    def share_within(self, hours: float) -> float:
        """Share of replications detected within ``hours`` of the first access."""
        return sum(r.detected and r.dwell_hours <= hours for r in self.results) / self.n

    def caught_by(self) -> dict[str, float]:
        """Share of replications ended by each detector (``none``: never detected)."""
        counts = Counter(r.detected_by or "none" for r in self.results)
        return {k: v / self.n for k, v in counts.most_common()}

    def median_records(self) -> float:
        return float(np.median([r.records_exfiltrated for r in self.results]))

    def mean(self, attribute: str) -> float:
        """Mean of a result column over the replications (NaNs ignored; NaN if all are)."""
        values = np.array([getattr(r, attribute) for r in self.results], dtype=float)
        return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan

    def all_stopped(self) -> float:
        """Share of replications in which a control ended every insider's access (a crew's
        every member; the lone insider: containment or revocation, not an emptied store)."""
        return sum(r.insiders_stopped == r.insiders for r in self.results) / self.n

    def median_access(self) -> float:
        """Median hours from the first access to the end of the last insider's access (the
        horizon when one still had access)."""
        return float(np.median([r.access_hours for r in self.results]))

    def access_ended_by(self) -> dict[str, float]:
        counts = Counter(r.access_ended_by or "still open" for r in self.results)
        return {k: v / self.n for k, v in counts.most_common()}

    def summary(self) -> dict[str, Any]:
        """The numbers of this setting as plain data (for answer keys and JSON)."""
        return {
            "label": self.label, "overrides": list(self.overrides), "replications": self.n,
            "median_dwell_hours": self.median_dwell(),
            "detected_within_24h": self.share_within(24.0),
            "detected_within_30d": self.share_within(30 * 24.0),
            "caught_by": self.caught_by(), "access_ended_by": self.access_ended_by(),
            "median_records": self.median_records(),
            "mean_records": self.mean("records_exfiltrated"),
            "false_alerts": self.mean("false_alerts"),
            "alerts_dropped": self.mean("alerts_dropped"),
            "mean_triage_wait_hours": self.mean("mean_triage_wait_hours"),
            "insiders": self.mean("insiders"),
            "insiders_identified": self.mean("insiders_identified"),
            "all_stopped": self.all_stopped(),
            "median_access_hours": self.median_access(),
            "sessions": self.mean("sessions"),
            "insider_lines_sampled_a_month": insider_lines_sampled_a_month(self),
            "insider_flag_rate": insider_flag_rate(self.model),
            "benign_alerts_per_day": benign_alerts_per_day(self.model),
        }


def run(overrides: Sequence[str], replications: int, seed: int = 0,
        label: str | None = None) -> Outcome:
    """Simulate replications ``0..replications-1`` of a setting under ``seed``."""
    model = model_of(overrides)
    results = [simulate(model, seed, r) for r in range(replications)]
    return Outcome(label or " ".join(overrides), tuple(overrides), model, results)


def sweep(base: Sequence[str], key: str, values: Iterable[Any], replications: int,
          seed: int = 0) -> list[Outcome]:
    """Change one control: run ``base`` with ``key=value`` for each value."""
    return [run([*base, f"{key}={v}"], replications, seed, label=f"{key.split('.')[-1]}={v}")
            for v in values]


# --------------------------------------------------------------------------------------- tables


def records_text(n: float) -> str:
    """``33.7M``, ``149K``."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.1f}{suffix}"
    return f"{n:.0f}"


def dwell_text(hours: float, horizon: float) -> str:
    return f"> {format_hours(horizon)}" if math.isinf(hours) else format_hours(hours)


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _count(x: float) -> str:
    """``317``, ``2.9``, ``0.19``: two significant figures below 10."""
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def one_in(p: float) -> str:
    """A small probability as ``1 in 741``."""
    return "never" if p <= 0 else f"1 in {records_text(1 / p) if 1 / p >= 1e4 else f'{1 / p:,.0f}'}"


def _monitor(o: Outcome) -> Any:
    return monitor(o.model)


def monitor(model: Model) -> Any:
    """The setting's continuous monitoring detector (``None`` if it has none)."""
    return next((d for d in model.detectors if type(d).__name__ == "ContinuousMonitoring"),
                None)


def audit(model: Model) -> Any:
    """The setting's periodic audit (``None`` if it has none)."""
    return next((d for d in model.detectors if type(d).__name__ == "PeriodicAudit"), None)


def insider_flag_rate(model: Model, draws: int = 4000) -> float:
    """Chance the monitor flags one insider session at one or more of the places it watches on
    the session's walk, averaged over the insider's batch sizes (gamma, as the engine draws
    them; a fixed stream, so the number is the same every time) and targets.

    This is the engine's own score (:meth:`sim.controls.scoring.ScoreModel.detection_probability`)
    for the insider's request rate and addresses: what the ``tpr_fpr`` column shows.
    """
    from sim.agents.insider import Session

    det = monitor(model)
    if det is None:
        return math.nan
    prof = model.plan.profile
    cap = prof.max_session_hours * prof.ip_addresses * prof.request_rate_per_ip \
        / prof.requests_per_record
    if prof.batch_cv > 0:
        shape = 1.0 / prof.batch_cv ** 2
        batches = np.random.default_rng(0).gamma(shape, prof.records_per_session / shape, draws)
    else:
        batches = np.array([prof.records_per_session])
    batches = np.minimum(np.maximum(batches, 1.0), cap)
    edges = model.plan.edges
    per_target = []
    for target, walk in det.on_walk.items():
        chances = []
        for records in batches.tolist():
            session = Session(0, 0.0, 1.0, target, int(records),
                              records * prof.requests_per_record, prof.ip_addresses,
                              prof.request_rate_per_ip, True)
            miss = 1.0
            for node in walk:
                miss *= 1.0 - det.score.detection_probability(session, det.traffic[node],
                                                              node in edges[target])
            chances.append(1.0 - miss)
        per_target.append(float(np.mean(chances)))
    return float(np.mean(per_target)) if per_target else 0.0


def benign_alerts_per_day(model: Model) -> float:
    """The monitor's expected benign alerts a day (a weekly mean: benign observations an hour
    at its places x its false-positive rate x 24)."""
    det = monitor(model)
    return det.benign_rate() * det.false_positive_rate * 24.0 if det is not None else math.nan


def insider_lines_sampled_a_month(o: Outcome) -> float:
    """Insider log lines the audit samples in a month, on average while the insider is active:
    ``coverage`` x the insider's lines a month at the audited places (sessions per hour of
    access in these replications x the watched assets on a walk x 730.5 h). The cadence does
    not enter: that is the point."""
    det = audit(o.model)
    if det is None:
        return math.nan
    hours = sum(r.access_hours for r in o.results)
    sessions = sum(r.sessions for r in o.results)
    lines = np.mean([len(w) for w in det.on_walk.values()]) if det.on_walk else 0.0
    return det.params.coverage * lines * sessions / hours * 730.5 if hours > 0 else math.nan


#: Columns a table can show: name -> (header, function of an Outcome).
COLUMNS: dict[str, tuple[str, Any]] = {
    "dwell": ("median time to detection", lambda o: dwell_text(o.median_dwell(), o.horizon)),
    "within_24h": ("caught within 24 h", lambda o: pct(o.share_within(24.0))),
    "within_30d": ("caught within 30 d", lambda o: pct(o.share_within(720.0))),
    "caught_by": ("caught by", lambda o: ", ".join(f"{k} {pct(v)}"
                                                   for k, v in o.caught_by().items())),
    "records": ("median records taken", lambda o: records_text(o.median_records())),
    "ended": ("access ended by", lambda o: ", ".join(f"{k} {pct(v)}"
                                                     for k, v in o.access_ended_by().items())),
    "tpr_fpr": ("flags insider sessions / benign ones", lambda o: (
        f"{pct(insider_flag_rate(o.model))} / {one_in(_monitor(o).false_positive_rate)}"
        if _monitor(o) else "-")),
    "benign_per_day": ("benign alerts a day", lambda o: _count(benign_alerts_per_day(o.model))),
    "audit_lines": ("insider lines sampled a month",
                    lambda o: f"{insider_lines_sampled_a_month(o):.1f}"),
    "false_alerts": ("benign alerts per run", lambda o: f"{o.mean('false_alerts'):,.0f}"),
    "dropped": ("alerts aged out per run", lambda o: f"{o.mean('alerts_dropped'):,.0f}"),
    "wait": ("mean triage wait", lambda o: (
        "-" if math.isnan(o.mean("mean_triage_wait_hours"))
        else format_hours(o.mean("mean_triage_wait_hours")))),
    "identified": ("insiders identified", lambda o: (
        f"{o.mean('insiders_identified'):.2g} of {o.mean('insiders'):.0f}")),
    "all_stopped": ("all insiders stopped by a control", lambda o: pct(o.all_stopped())),
    "last_access": ("median time until the last insider's access ended",
                    lambda o: format_hours(o.median_access())),
}


@dataclass
class Table:
    """A results table; shows as Markdown in Jupyter and as text when printed."""

    headers: list[str]
    rows: list[list[str]]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.headers) + " |",
                 "|" + "|".join("---" for _ in self.headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in
                  enumerate(self.headers)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        return "\n".join([fmt.format(*self.headers), *(fmt.format(*r) for r in self.rows)])


def table(outcomes: Sequence[Outcome], columns: Sequence[str] = ("dwell", "caught_by",
                                                                  "records")) -> Table:
    """One row per setting, with the named :data:`COLUMNS`."""
    headers = ["setting", *(COLUMNS[c][0] for c in columns)]
    rows = [[o.label, *(COLUMNS[c][1](o) for c in columns)] for o in outcomes]
    return Table(headers, rows)


# -------------------------------------------------------------------------------------- tracing


@dataclass
class Traced:
    """One replication run with tracing: its result, events, timeline data and figures."""

    name: str
    model: Model
    result: ReplicationResult
    events: list[dict[str, Any]]
    timeline: Timeline
    files: dict[str, Path] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        """What happened, as numbers (hours)."""
        tl, r = self.timeline, self.result
        audits = tl.audits
        return {
            "sessions": len(tl.sessions),
            "first_session_hours": tl.sessions[0][0] if tl.sessions else math.nan,
            "last_session_hours": tl.sessions[-1][1] if tl.sessions else math.nan,
            "audits": len(audits),
            "audits_with_insider": sum(a["present"] for a in audits),
            "audits_found": sum(a["found"] for a in audits),
            "audit_lines": [int(e.get("insider_lines", 0)) for e in self.events
                            if e.get("action") == "audit"],
            "true_alerts": len(tl.true_alerts),
            "true_alert_waits_hours": [a["start"] - a["t"] for a in tl.true_alerts
                                       if not math.isnan(a["start"])],
            "true_alerts_dropped": sum(a["verdict"] == "dropped" for a in tl.true_alerts),
            "benign_alerts": int(tl.benign_alerts.size),
            "max_queue": tl.max_queue,
            "detected_by": r.detected_by, "dwell_hours": r.dwell_hours, "detected": r.detected,
            "contained_hours": tl.containment,
            "records": r.records_exfiltrated,
            "records_at_detection": _records_at(tl, r.dwell_hours) if r.detected else None,
            "access_ended_by": r.access_ended_by, "access_hours": r.access_hours,
        }

    def describe(self) -> str:
        """A few lines for the notebook."""
        f = self.facts()
        h = self.model.run.horizon
        lines = [
            f"{self.name}: replication {self.result.replication}, seed {self.result.seed}",
            f"  sessions: {f['sessions']} (first at {format_hours(f['first_session_hours'])}, "
            f"last ended at {format_hours(f['last_session_hours'])})",
            f"  records taken: {records_text(f['records'])}",
        ]
        if f["audits"]:
            lines.append(f"  audits: {f['audits']}, {f['audits_with_insider']} with the insider "
                         f"in the period reviewed, {f['audits_found']} found them")
            lines.append("  insider lines in each audit's window: "
                         + ", ".join(str(k) for k in f["audit_lines"]))
        if f["true_alerts"] or f["benign_alerts"]:
            lines.append(f"  alerts: {f['true_alerts']} true, {f['benign_alerts']:,} benign; "
                         f"longest queue {f['max_queue']}")
        if f["detected"]:
            lines.append(f"  detected by {f['detected_by']} after "
                         f"{format_hours(f['dwell_hours'])} "
                         f"({records_text(f['records_at_detection'])} records gone by then), "
                         f"contained after {format_hours(f['contained_hours'])}")
        else:
            lines.append(f"  not detected within {format_hours(h)}")
        lines.append(f"  access ended by: {f['access_ended_by']} after "
                     f"{format_hours(f['access_hours'])}")
        return "\n".join(lines)


    def decisions(self) -> list[dict[str, Any]]:
        """The insider strategy's ``decision`` events, each with the start of the first
        session after it (``next_session``, hours; NaN if none followed)."""
        starts = sorted(e["t"] for e in self.events if e["action"] == "session-start")
        out = []
        for e in self.events:
            if e["action"] != "decision":
                continue
            nxt = next((s for s in starts if s > e["t"]), math.nan)
            out.append({**e, "next_session": nxt})
        return out

    def describe_decisions(self, limit: int = 6) -> str:
        """The first ``limit`` decisions as text: when, what, why, and when it acted again."""
        lines = []
        for d in self.decisions()[:limit]:
            why = f" after a {d['signal']} from {d['control']}" if "signal" in d else ""
            until = f", quiet until {format_hours(d['until'])}" if "until" in d else ""
            nxt = ("no session after it" if math.isnan(d["next_session"])
                   else f"next session at {format_hours(d['next_session'])}")
            lines.append(f"  {format_hours(d['t'])}: {d['decision']} ({', '.join(d['technique'])})"
                         f"{why}{until}; {nxt}")
        total = len(self.decisions())
        head = f"{self.name}: {total} decision(s) in the trace" + (
            f", the first {limit}:" if total > limit else ":")
        return "\n".join([head, *lines])


def _records_at(tl: Timeline, t: float) -> int:
    times, values = tl.records
    return int(np.interp(t, times, values))


def trace(overrides: Sequence[str], out: str | Path, name: str, replication: int = 0,
          seed: int = 0) -> Traced:
    """Trace one replication: ``OUT/NAME/events.jsonl``, ``timeline.png`` and ``network.png``.

    The replication is the same as in :func:`run` (tracing changes no draw).
    """
    model = model_of(overrides)
    events: list[dict[str, Any]] = []
    result = simulate(model, seed, replication, trace=events)
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(events, model.calendar, folder / "events.jsonl",
                labels={"scenario": name, "seed": seed, "replication": replication})
    timeline, network = write_trace_figures(model, result, events, folder, label=name)
    return Traced(name, model, result, events, timeline_data(events, result),
                  {"events": folder / "events.jsonl", "timeline": timeline, "network": network})


def show(thing: Any) -> None:
    """Show a figure (a PNG path), a :class:`Table` or text: inline in Jupyter, else printed."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, Markdown, display
    except ImportError:
        get_ipython = None  # noqa: N806 - plain Python without IPython
    notebook = get_ipython is not None and get_ipython() is not None
    if isinstance(thing, Path):
        if notebook:
            display(Image(filename=str(thing), width=900))
        else:
            print(f"figure: {thing}")
    elif isinstance(thing, Table):
        if notebook:
            display(Markdown(thing.markdown()))
        else:
            print(thing, end="\n\n")
    else:
        print(thing)


def summaries(outcomes: Mapping[str, Outcome | Sequence[Outcome]]) -> dict[str, Any]:
    """Plain-data summaries of named outcomes (for ``results/summary.json``)."""
    out: dict[str, Any] = {}
    for key, value in outcomes.items():
        out[key] = (value.summary() if isinstance(value, Outcome)
                    else [o.summary() for o in value])
    return out
