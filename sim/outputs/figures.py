"""Figures of one replication: its timeline and the network it happened on.

* :func:`plot_timeline` - the insider's sessions and the records taken so far, the audits (and
  whether the insider was in each one's window, and whether it was found), credential reviews,
  benign and true alerts, how long true alerts waited, the analyst queue, and the moments of
  detection, containment and end of access, on one time axis in real units. A run that ends
  within two days gets a linear axis; a longer one a *day-log* axis, linear over the first day
  (so the first sessions and alerts are visible) and logarithmic after it, so hours, weeks and
  months fit on one page. Dates in the firm's time zone run along the top.
* :func:`plot_network` - the enterprise graph aggregated by zone: one box per service and
  datastore (while a zone has few) and one per host role with its count, so a network of
  thousands of hosts stays readable; the insider's credential, the assets it opens, the path
  the insider walked and the datastores it reached, with the records taken.
* :func:`write_trace_figures` - both, next to ``events.jsonl`` (``trace=true``).

The input is the event list of :func:`sim.core.engine.simulate` (``trace=``), or the records of an
``events.jsonl`` (:func:`sim.outputs.trace.read_jsonl`): both are accepted. The data each figure
draws is computed by :func:`timeline_data` and :func:`network_view`, which the tests check; the
drawing code only places it. Figures are built as ``matplotlib.figure.Figure`` objects (no
pyplot, no global state) and written atomically.
"""

from __future__ import annotations

import math
import os
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core import atomic
from sim.core.timeunits import DAY, MONTH, WEEK, YEAR, format_hours

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sim.core.engine import Model
    from sim.outputs.results import ReplicationResult
    from sim.world.calendar import Calendar
    from sim.world.network import Network

# Colours (colour-blind safe: Okabe-Ito), one meaning each across both figures.
C_INSIDER = "#D55E00"    # the insider, its records, its path, true alerts
C_AUDIT = "#E69F00"      # audits that had the insider in front of them and missed
C_FOUND = "#CC0066"      # detection, and audits that found the insider
C_BENIGN = "#8C8C8C"     # benign alerts, nothing-to-find audits
C_QUEUE = "#0072B2"      # the analyst queue
C_CONTAIN = "#222222"    # containment
C_REVOKE = "#009E73"     # credential rotation / revocation
C_HOST, C_SERVICE, C_STORE = "#EEEEEE", "#D6E6F5", "#FBEFC8"

LINEAR_UP_TO = 2 * DAY   #: a run ending by then gets a linear time axis
_LIN = 0.5               # width of the first (linear) day on the day-log axis, in decades


def _savefig(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically, creating its directory."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic.save_figure(fig, path)


def engine_events(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Engine events in time order, from engine events or ECS records (``events.jsonl``)."""
    from sim.outputs.trace import from_ecs

    out = [from_ecs(e) if "event.action" in e else dict(e) for e in events]
    out.sort(key=lambda e: e["t"])  # stable: same-time order kept
    return out


# ====================================================================================== time axis


def _fwd(x: Any) -> Any:
    """Day-log axis: hours -> axis units (linear to 1 day, then decades)."""
    x = np.asarray(x, dtype=float)
    return np.where(x <= DAY, _LIN * x / DAY, _LIN + np.log10(np.maximum(x, DAY) / DAY))


def _inv(y: Any) -> Any:
    y = np.asarray(y, dtype=float)
    return np.where(y <= _LIN, y * DAY / _LIN, DAY * 10.0 ** (np.maximum(y, _LIN) - _LIN))


_LOG_TICKS: tuple[tuple[float, str], ...] = (
    (0.0, "0"), (6.0, "6 h"), (12.0, "12 h"), (DAY, "1 d"), (2 * DAY, "2 d"),
    (4 * DAY, "4 d"), (WEEK, "1 w"), (2 * WEEK, "2 w"), (MONTH, "1 mo"), (2 * MONTH, "2 mo"),
    (3 * MONTH, "3 mo"), (6 * MONTH, "6 mo"), (YEAR, "1 y"), (2 * YEAR, "2 y"),
    (5 * YEAR, "5 y"), (10 * YEAR, "10 y"),
)


@dataclass(frozen=True)
class TimeAxis:
    """The time axis of a timeline: its kind, range and labelled ticks (hours)."""

    kind: str                                  #: ``linear`` or ``daylog``
    lo: float
    hi: float
    ticks: tuple[tuple[float, str], ...]

    def label(self, origin: str = "the insider's first access") -> str:
        """The axis title: time since ``origin``, and how the axis is scaled."""
        if self.kind == "linear":
            return f"time since {origin}"
        return f"time since {origin} (linear over the first day, then log)"

    def to_axis(self, hours: Any) -> Any:
        """Hours -> position on the axis (the identity for a linear axis)."""
        return np.asarray(hours, dtype=float) if self.kind == "linear" else _fwd(hours)


def time_axis(end: float) -> TimeAxis:
    """The time axis for a run that ends at ``end`` hours (> 0).

    Up to :data:`LINEAR_UP_TO` a linear axis with round ticks in minutes or hours; beyond it a
    day-log axis with ticks at 6 h, 12 h, 1 d, 2 d, 1 w, 1 mo, 3 mo, 6 mo, 1 y... as room allows.
    """
    end = max(float(end), 1 / 60)
    if end <= LINEAR_UP_TO:
        hi = end * 1.04
        step = next(s for s in (1 / 12, 1 / 6, 0.25, 0.5, 1, 2, 3, 4, 6, 12, 24)
                    if hi / s <= 8)
        values = np.arange(0.0, hi + 1e-9, step)
        ticks = tuple((float(v), _short(v, minutes=hi < 2)) for v in values)
        return TimeAxis("linear", -0.015 * hi, hi, ticks)
    hi_h = end * 1.25
    span = float(_fwd(hi_h))
    kept: list[tuple[float, str]] = []
    for value, text in _LOG_TICKS:
        if value > hi_h:
            break
        pos = float(_fwd(value))
        if kept and pos - float(_fwd(kept[-1][0])) < 0.075 * span:
            if value in (DAY, WEEK, MONTH, YEAR) or (value == 6 * MONTH and kept[-1][0] < value):
                kept[-1] = (value, text)  # prefer round units over in-between ones
            continue
        kept.append((value, text))
    lo = float(_inv(-0.012 * span))
    return TimeAxis("daylog", lo, hi_h, tuple(kept))


def _short(hours: float, minutes: bool = False) -> str:
    if hours == 0:
        return "0"
    if minutes:
        return f"{hours * 60:.0f} min"
    return f"{hours:g} h"


# ======================================================================================= timeline


@dataclass
class Timeline:
    """What :func:`plot_timeline` draws, taken from one replication's events.

    Times are hours since the first access. ``records`` is a polyline ``(times, values)`` of
    the records taken so far, rising through each session; ``queue`` is a step function
    holding each value from its time on.
    """

    end: float
    sessions: list[tuple[float, float, str]] = field(default_factory=list)  # start, end, target
    records: tuple[np.ndarray, np.ndarray] = (np.zeros(1), np.zeros(1))
    audits: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    benign_alerts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    benign_dropped: int = 0
    #: true alerts: {t, detector, start (triage start or nan), end (triage end or drop, or nan),
    #: verdict: confirmed / missed / dropped / waiting}
    true_alerts: list[dict[str, Any]] = field(default_factory=list)
    queue: tuple[np.ndarray, np.ndarray] = (np.zeros(1), np.zeros(1))
    detection: tuple[float, str] | None = None
    containment: float | None = None
    access_ended: tuple[float, str] | None = None
    detectors: list[str] = field(default_factory=list)
    #: the queue holds cases (triage discipline risk_based), not alerts
    cases: bool = False

    @property
    def records_taken(self) -> int:
        return int(self.records[1][-1])

    @property
    def max_queue(self) -> int:
        return int(self.queue[1].max()) if self.queue[1].size else 0


def timeline_data(events: Iterable[Mapping[str, Any]],
                  result: ReplicationResult | None = None) -> Timeline:
    """Extract what the timeline shows from one replication's events.

    Args:
        events: engine events or ECS records of one replication, in any order.
        result: its result; sets the end of a censored run (the horizon) and the final
            record count (which counts the elapsed part of a session cut by containment).

    The analyst queue is rebuilt from the events: the warm-up backlog at time 0, +1 at each
    alert, -1 when an alert's triage starts or it ages out; the length it shows never goes
    below zero. Under the ``risk_based`` triage discipline (the events hold ``case-open``)
    analysts work cases, so the queue counts cases: +1 when one opens, -1 when its triage
    starts or it ages out.
    """
    evs = engine_events(events)
    end = max((e["t"] for e in evs), default=0.0)
    if result is not None:
        end = max(end, float(result.dwell_hours) if result.censored else 0.0,
                  float(result.access_hours))
    tl = Timeline(end=end)
    open_sessions: dict[tuple[Any, int], tuple[float, str]] = {}
    rec_t, rec_v = [0.0], [0]
    benign: list[float] = []
    waiting: dict[str, deque[dict[str, Any]]] = {}
    qt: list[float] = [0.0]
    qv: list[int] = [0]
    detectors: dict[str, None] = {}
    tl.cases = any(e["action"] == "case-open" for e in evs)
    case_at = math.nan
    for e in evs:
        action, t = e["action"], float(e["t"])
        if "detector" in e:
            detectors.setdefault(str(e["detector"]), None)
        if action == "session-start":
            # a crew's members number their sessions each from 0 (sim.agents.crew)
            key = (e.get("member", 0), int(e.get("session", len(tl.sessions))))
            open_sessions[key] = (t, str(e.get("target", "")))
        elif action == "exfiltration":
            key = (e.get("member", 0), int(e.get("session", -1)))
            start, target = open_sessions.pop(key, (t, e.get("target", "")))
            tl.sessions.append((start, t, str(target)))
            # records flow during the session: a ramp from start to end (a crew's sessions
            # overlap: a ramp never starts before the last one ended)
            rec_t.append(max(start, rec_t[-1]))
            rec_v.append(rec_v[-1])
            rec_t.append(t)
            rec_v.append(int(e.get("records_total", rec_v[-1] + int(e.get("records", 0)))))
        elif action == "audit":
            tl.audits.append({"t": t, "detector": e.get("detector", ""),
                              "window": (float(e.get("window_start", t)),
                                         float(e.get("window_end", t))),
                              "present": bool(e.get("insider_in_window")),
                              "found": bool(e.get("found"))})
        elif action == "credential-review":
            tl.reviews.append({"t": t, "detector": e.get("detector", ""),
                               "rotated": bool(e.get("rotated")),
                               "stale": bool(e.get("stale") or e.get("former_employee"))})
        elif action == "queue-backlog":  # warm-up alerts still waiting at time 0
            qt.append(t)
            qv.append(qv[-1] + int(e.get("queue_length", 0)))
        elif action == "case-open":
            qt.append(t)
            qv.append(qv[-1] + 1)
            if e.get("true_positive"):
                case_at = t  # the true alert at this time opened it (logged just after)
        elif action == "alert":
            if not tl.cases:
                qt.append(t)
                qv.append(qv[-1] + 1)
            if e.get("true_positive") and tl.cases and case_at != t:
                # risk-based: it only added risk to the insider's entity, no case to triage
                tl.true_alerts.append({"t": t, "detector": e.get("detector", ""), "start": t,
                                       "end": t, "verdict": "added risk"})
            elif e.get("true_positive"):
                alert = {"t": t, "detector": e.get("detector", ""), "start": math.nan,
                         "end": math.nan, "verdict": "waiting"}
                tl.true_alerts.append(alert)
                waiting.setdefault(str(e.get("detector", "")), deque()).append(alert)
            else:
                benign.append(t)
        elif action in ("triage-start", "alert-dropped"):
            qt.append(t)
            qv.append(max(qv[-1] - 1, 0))
            if e.get("true_positive"):
                queue = waiting.get(str(e.get("detector", "")))
                if queue:
                    if action == "alert-dropped":
                        alert = queue.popleft()
                        alert.update(end=t, verdict="dropped")
                    else:
                        alert = next((a for a in queue if math.isnan(a["start"])), queue[0])
                        alert["start"] = t
            elif action == "alert-dropped" and not e.get("warmup"):
                tl.benign_dropped += 1  # like benign_alerts: alerts of the run, not warm-up
        elif action == "triage-end" and e.get("true_positive"):
            queue = waiting.get(str(e.get("detector", "")))
            if queue:
                alert = queue.popleft()
                alert.update(end=t, verdict=str(e.get("outcome", "missed")))
        elif action == "detection" and tl.detection is None:  # a crew's first (the dwell)
            tl.detection = (t, str(e.get("detector", "")))
        elif action == "containment" and tl.containment is None:
            tl.containment = t
        elif action == "access-ended" and tl.access_ended is None:
            tl.access_ended = (t, str(e.get("reason", "")))
    for start, target in open_sessions.values():  # a session still running at the end
        tl.sessions.append((start, end, target))
    if result is not None and result.records_exfiltrated > rec_v[-1]:
        rec_t.append(tl.access_ended[0] if tl.access_ended else end)
        rec_v.append(int(result.records_exfiltrated))
    rec_t.append(end)
    rec_v.append(rec_v[-1])
    qt.append(end)
    qv.append(qv[-1])
    tl.records = (np.array(rec_t), np.array(rec_v, dtype=np.int64))
    tl.queue = (np.array(qt), np.array(qv, dtype=np.int64))
    tl.benign_alerts = np.array(benign)
    tl.sessions.sort()
    tl.detectors = list(detectors)
    return tl


def _percent(x: float) -> str:
    """``100%``, ``37%``, ``0.4%``, ``<0.1%``: a share that does not round small ones to 0."""
    p = 100.0 * x
    if p >= 10:
        return f"{p:.0f}%"
    return f"{p:.1f}%" if p >= 0.1 else "<0.1%"


def _records_text(n: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.1f}{suffix}"
    return f"{n:.0f}"


def _summary_line(tl: Timeline, result: ReplicationResult | None) -> str:
    parts = []
    if tl.detection:
        parts.append(f"detected by {tl.detection[1]} after {format_hours(tl.detection[0])}")
    else:
        parts.append(f"not detected within {format_hours(tl.end)}")
    parts.append(f"{_records_text(tl.records_taken)} records taken in {len(tl.sessions)} "
                 f"session{'s' * (len(tl.sessions) != 1)}")
    if tl.access_ended:
        parts.append(f"access ended ({tl.access_ended[1]}) at {format_hours(tl.access_ended[0])}")
    n_alerts = len(tl.benign_alerts) + len(tl.true_alerts)
    if n_alerts:
        parts.append(f"{len(tl.true_alerts)} true / {len(tl.benign_alerts):,} benign alerts")
    lines, line = [], ""
    for part in parts:  # wrap at about 110 characters
        if line and len(line) + len(part) > 110:
            lines.append(line)
            line = ""
        line = f"{line} · {part}" if line else part
    return "\n".join([*lines, line])


def timeline_figure(events: Iterable[Mapping[str, Any]], result: ReplicationResult | None,
                    calendar: Calendar | None = None, title: str = "", *,
                    utc_offset_hours: float = 0.0, discipline: str = "") -> Figure:
    """The timeline of one replication as a Figure (see :func:`plot_timeline`)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, NullLocator

    tl = timeline_data(events, result)
    axis = time_axis(tl.end if tl.end > 0 else 1.0)
    n_controls = (len({a["detector"] for a in tl.audits})
                  + len({r["detector"] for r in tl.reviews}))
    fig = Figure(figsize=(9.0, 7.4), dpi=150, layout="constrained")
    axes = fig.subplots(4, 1, sharex=True, gridspec_kw={
        "height_ratios": [2.1, 0.35 + 0.45 * min(n_controls, 3), 1.5, 1.2]})
    ax_rec, ax_ctl, ax_alert, ax_q = axes
    for ax in axes:
        if axis.kind == "daylog":
            ax.set_xscale("function", functions=(_fwd, _inv))
        ax.set_xlim(axis.lo, axis.hi)
        ax.grid(axis="x", color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    ax_q.xaxis.set_major_locator(FixedLocator([v for v, _ in axis.ticks]))
    ax_q.set_xticklabels([s for _, s in axis.ticks])
    ax_q.xaxis.set_minor_locator(NullLocator())
    first = min((s for s, _, _ in tl.sessions), default=0.0)
    ax_q.set_xlabel(axis.label("the insider's first access" if first == 0 else
                               "access became possible (t = 0)"))
    if calendar is not None:
        _date_axis(ax_rec, axis, calendar, utc_offset_hours)

    # -- records taken, sessions
    t, v = tl.records
    scale, unit = _scale_of(max(tl.records_taken, 1))
    ax_rec.fill_between(t, v / scale, color=C_INSIDER, alpha=0.18, linewidth=0)
    ax_rec.plot(t, v / scale, color=C_INSIDER, linewidth=1.6)
    ax_rec.set_ylabel(f"records taken\n({unit})" if unit else "records taken")
    ax_rec.set_ylim(0, max(v.max() / scale, 1e-9) * 1.18 if v.size else 1)
    if tl.sessions:
        from matplotlib.collections import LineCollection
        from matplotlib.transforms import blended_transform_factory

        tr = blended_transform_factory(ax_rec.transData, ax_rec.transAxes)
        ticks = [[(s, 0.03), (s, 0.11)] for s, _, _ in tl.sessions]
        bars = [[(s, 0.03), (e, 0.03)] for s, e, _ in tl.sessions]
        ax_rec.add_collection(LineCollection(ticks, colors=C_INSIDER, linewidths=0.7,
                                             transform=tr, alpha=0.8))
        ax_rec.add_collection(LineCollection(bars, colors=C_INSIDER, linewidths=3.0,
                                             transform=tr, alpha=0.8))
    handles = [Line2D([], [], color=C_INSIDER, linewidth=1.6, label="records taken so far"),
               Line2D([], [], color=C_INSIDER, marker="|", linestyle="-", linewidth=3,
                      markersize=8, label=f"insider session ({len(tl.sessions)})")]
    handles += _event_lines(axes, tl)
    ax_rec.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7,
                  frameon=False, title="insider", title_fontsize=7.5, alignment="left")

    # -- controls: audits (window + verdict), credential reviews
    _draw_controls(ax_ctl, tl)

    # -- alerts
    _draw_alerts(ax_alert, tl, axis)

    # -- queue
    qt, qv = tl.queue
    ax_q.step(qt, qv, where="post", color=C_QUEUE, linewidth=1.0)
    ax_q.fill_between(qt, qv, step="post", color=C_QUEUE, alpha=0.15, linewidth=0)
    ax_q.set_ylabel(f"{'cases' if tl.cases else 'alerts'} waiting\nfor an analyst")
    ax_q.set_ylim(0, max(tl.max_queue, 1) * 1.15)
    if not (tl.true_alerts or tl.benign_alerts.size):
        ax_q.text(0.5, 0.5, "no alerts", transform=ax_q.transAxes, ha="center", va="center",
                  color="0.5", fontsize=8)
    else:
        how = f"{discipline.replace('_', '-')} " if discipline else ""
        ax_q.legend(handles=[Line2D([], [], color=C_QUEUE,
                                    label=f"{how}queue (max {tl.max_queue})")],
                    loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    for ax in axes:
        ax.tick_params(labelsize=7.5)
        ax.yaxis.label.set_size(8)
    head = title or "one replication"
    fig.suptitle(f"{head}\n{_summary_line(tl, result)}", fontsize=9, x=0.01, ha="left")
    return fig


def _scale_of(n: float) -> tuple[float, str]:
    for scale, unit in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands")):
        if n >= 2 * scale:
            return scale, unit
    return 1.0, ""


def _date_axis(ax: Axes, axis: TimeAxis, calendar: Calendar, offset: float) -> None:
    """Dates (firm's time zone) along the top of ``ax`` at the ticks of ``axis``."""
    from matplotlib.ticker import FixedLocator, NullLocator

    tz = timezone(timedelta(hours=offset))
    sec = ax.twiny()
    if axis.kind == "daylog":
        sec.set_xscale("function", functions=(_fwd, _inv))
    sec.set_xlim(axis.lo, axis.hi)
    sec.spines["right"].set_visible(False)
    values = [v for v, _ in axis.ticks]
    labels = []
    for i, v in enumerate(values):
        when = calendar.at(v).astimezone(tz)
        if axis.kind == "linear":
            labels.append(when.strftime("%d %b %H:%M" if i == 0 else "%H:%M"))
        elif 0 < v < DAY:  # the first day's hours share its date: leave them blank
            labels.append("")
        else:
            labels.append(when.strftime("%d %b %Y" if i == 0 else "%d %b"
                                        if v < 6 * MONTH else "%b %Y"))
    sec.xaxis.set_major_locator(FixedLocator(values))
    sec.set_xticklabels(labels)
    sec.xaxis.set_minor_locator(NullLocator())
    sign = "+" if offset >= 0 else "-"
    sec.set_xlabel(f"date (UTC{sign}{abs(offset):g})", fontsize=7.5)
    sec.tick_params(labelsize=7)


def _event_lines(axes: Sequence[Axes], tl: Timeline) -> list[Any]:
    """Vertical lines through every panel: detection, containment, end of access."""
    from matplotlib.lines import Line2D

    handles = []
    marks: list[tuple[float, str, Any, float, str]] = []  # time, colour, style, width, label
    if tl.detection:
        marks.append((tl.detection[0], C_FOUND, "-", 1.6,
                      f"detected ({tl.detection[1]}, {format_hours(tl.detection[0])})"))
    if tl.containment is not None:
        marks.append((tl.containment, C_CONTAIN, "--", 1.2,
                      f"contained ({format_hours(tl.containment)})"))
    if tl.access_ended and tl.access_ended[1] != "containment":
        t, why = tl.access_ended
        what = {"exhausted": "datastores emptied", "expired": "credential expired",
                "stopped": "insider stopped"}.get(why, f"access revoked by {why}")
        marks.append((t, C_REVOKE, ":", 1.6, f"{what} ({format_hours(t)})"))
    if not tl.detection:
        marks.append((tl.end, "0.4", (0, (1, 3)), 1.0,
                      f"end of observation, not detected ({format_hours(tl.end)})"))
    for t, colour, style, width, label in marks:
        for ax in axes:
            ax.axvline(t, color=colour, linestyle=style, linewidth=width, zorder=5)
        handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=width,
                              label=label))
    return handles


def _draw_controls(ax: Axes, tl: Timeline) -> None:
    from matplotlib.lines import Line2D

    rows: list[str] = []
    audit_names = list(dict.fromkeys(a["detector"] for a in tl.audits))
    review_names = list(dict.fromkeys(r["detector"] for r in tl.reviews))
    rows = [f"audit\n({n})" if n != "audit" else "audit" for n in audit_names]
    rows += [f"key review\n({n})" for n in review_names]
    y_of = {("audit", n): i for i, n in enumerate(audit_names)}
    y_of.update({("review", n): len(audit_names) + i for i, n in enumerate(review_names)})
    counts: Counter[str] = Counter()
    for k, a in enumerate(tl.audits):
        y = y_of[("audit", a["detector"])]
        colour = C_FOUND if a["found"] else C_AUDIT if a["present"] else C_BENIGN
        kind = "found" if a["found"] else "missed" if a["present"] else "empty"
        counts[kind] += 1
        lo, hi = a["window"]
        dy = 0.13 if k % 2 else -0.13
        ax.plot([lo, hi], [y + dy, y + dy], color=colour, linewidth=2.2, alpha=0.55,
                solid_capstyle="butt")
        ax.plot([a["t"]], [y], marker="*" if a["found"] else "o", color=colour,
                markersize=9 if a["found"] else 5.5, markeredgecolor="white",
                markeredgewidth=0.5, zorder=6, linestyle="")
    for r in tl.reviews:
        y = y_of[("review", r["detector"])]
        colour = C_REVOKE if r["rotated"] else C_BENIGN
        counts["rotated" if r["rotated"] else "kept"] += 1
        ax.plot([r["t"]], [y], marker="D", color=colour, markersize=5.5 if r["rotated"] else 4,
                linestyle="", zorder=6)
    if not rows:
        ax.text(0.5, 0.5, "no audits or credential reviews", transform=ax.transAxes,
                ha="center", va="center", color="0.5", fontsize=8)
        ax.set_yticks([])
        return
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows)
    ax.invert_yaxis()
    handles = []
    if tl.audits:
        handles += [
            Line2D([], [], color=C_FOUND, marker="*", markersize=9, linestyle="",
                   label=f"audit found the insider ({counts['found']})"),
            Line2D([], [], color=C_AUDIT, marker="o", markersize=5.5, linestyle="-",
                   linewidth=2.2, alpha=0.8,
                   label=f"insider in window, missed ({counts['missed']})"),
            Line2D([], [], color=C_BENIGN, marker="o", markersize=5.5, linestyle="-",
                   linewidth=2.2, alpha=0.8,
                   label=f"insider not in window ({counts['empty']})"),
        ]
    if tl.reviews:
        handles += [
            Line2D([], [], color=C_REVOKE, marker="D", linestyle="",
                   label=f"key rotated ({counts['rotated']})"),
            Line2D([], [], color=C_BENIGN, marker="D", linestyle="", markersize=4,
                   label=f"review, key kept ({counts['kept']})"),
        ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.05), fontsize=7,
              frameon=False, title="controls (bar = period reviewed)", title_fontsize=7.5,
              alignment="left")


def _draw_alerts(ax: Axes, tl: Timeline, axis: TimeAxis) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    handles = []
    benign = tl.benign_alerts
    if benign.size:
        # benign alerts per day in bins of equal width on the axis
        n_bins = 90
        edges_axis = np.linspace(float(axis.to_axis(0.0)), float(axis.to_axis(tl.end)),
                                 n_bins + 1)
        edges = edges_axis if axis.kind == "linear" else _inv(edges_axis)
        counts, _ = np.histogram(benign, bins=edges)
        rate = counts / np.diff(edges) * DAY
        ax.stairs(rate, edges, fill=True, color=C_BENIGN, alpha=0.45)
        ax.stairs(rate, edges, color=C_BENIGN, linewidth=0.6)
        ax.set_ylim(0, max(rate.max(), 1.0) * 1.45)
        dropped = f", {tl.benign_dropped:,} aged out" if tl.benign_dropped else ""
        handles.append(Line2D([], [], color=C_BENIGN, linewidth=6, alpha=0.6,
                              label=f"benign alerts per day ({benign.size:,}{dropped})"))
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.text(0.5, 0.3, "no benign alerts", transform=ax.transAxes, ha="center",
                va="center", color="0.5", fontsize=8)
    ax.set_ylabel("benign alerts\nper day")
    if tl.true_alerts:
        tr = blended_transform_factory(ax.transData, ax.transAxes)
        y0 = 0.86
        styles: dict[str, tuple[str, str, Any]] = {
            "confirmed": ("o", C_FOUND, "full"), "missed": ("o", C_INSIDER, "none"),
            "dropped": ("X", C_INSIDER, "full"), "waiting": ("", C_INSIDER, "full"),
            "added risk": ("d", C_INSIDER, "none")}  # risk-based: no case of its own
        seen: Counter[str] = Counter()
        for k, a in enumerate(tl.true_alerts):
            y = y0 - 0.07 * (k % 3)
            end = a["end"] if not math.isnan(a["end"]) else tl.end
            start = a["start"] if not math.isnan(a["start"]) else end
            ax.plot([a["t"], start], [y, y], color=C_INSIDER, linewidth=1.0, linestyle=":",
                    transform=tr)
            ax.plot([start, end], [y, y], color=C_INSIDER, linewidth=1.6, transform=tr)
            ax.plot([a["t"]], [y], marker="v", color=C_INSIDER, markersize=6, linestyle="",
                    transform=tr, zorder=6)
            marker, colour, fill = styles.get(a["verdict"], styles["missed"])
            if marker:
                ax.plot([end], [y], marker=marker, color=colour, fillstyle=fill, markersize=6,
                        linestyle="", transform=tr, zorder=6)
            seen[a["verdict"]] += 1
        handles += [Line2D([], [], color=C_INSIDER, marker="v", linestyle="",
                           label=f"true alert raised ({len(tl.true_alerts)})"),
                    Line2D([], [], color=C_INSIDER, linestyle=":", linewidth=1.0,
                           label="waiting for an analyst"),
                    Line2D([], [], color=C_INSIDER, linewidth=1.6, label="being triaged")]
        for verdict, (marker, colour, fill) in styles.items():
            if seen[verdict] and marker:
                handles.append(Line2D([], [], color=colour, marker=marker, fillstyle=fill,
                                      linestyle="", label=f"{verdict} ({seen[verdict]})"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.05), fontsize=7,
                  frameon=False, title="alerts", title_fontsize=7.5, alignment="left")


def plot_timeline(events: Iterable[Mapping[str, Any]], result: ReplicationResult | None,
                  calendar: Calendar | None, path: str | os.PathLike[str], title: str = "", *,
                  utc_offset_hours: float = 0.0, discipline: str = "") -> Path:
    """Write the timeline of one replication as a PNG (about 9 x 7.4 in at 150 dpi).

    Panels, sharing one time axis (see :func:`time_axis`): records taken so far with a tick
    per insider session; audits (the period each reviewed as a bar, the audit as a dot:
    found / insider in the window but missed / nothing to find) and credential reviews; benign
    alerts per day with each true alert (when raised, how long it waited, its triage and
    verdict); the number of alerts (cases, under risk-based triage) waiting for an analyst,
    labelled with the triage discipline. Vertical lines mark detection,
    containment and the end of access (or of observation, if nothing detected the insider).

    Args:
        events: the replication's engine events or ECS records.
        result: its result (sets the end of a censored run); None to use the events alone.
        calendar: puts dates along the top; None for none.
        path: the PNG to write (replaced atomically).
        title: first line of the title (e.g. scenario, replication and seed).
        utc_offset_hours: time zone of the dates (the firm's: ``model.triage.utc_offset_hours``).
        discipline: the triage discipline (``model.triage.discipline``), named in the queue's
            legend; empty for none.

    Returns:
        ``path``.
    """
    fig = timeline_figure(events, result, calendar, title, utc_offset_hours=utc_offset_hours,
                          discipline=discipline)
    return _savefig(fig, path)


# ======================================================================================== network


@dataclass
class Group:
    """One box of the network figure: one asset, or all the assets of one role in a zone."""

    key: str
    zone: str
    kind: str                  #: host, service or datastore
    role: str
    members: tuple[str, ...]

    @property
    def single(self) -> bool:
        return len(self.members) == 1 and self.key == self.members[0]


@dataclass
class NetworkView:
    """What :func:`plot_network` draws: the network aggregated by zone and role."""

    name: str
    columns: list[list[str]]                 #: zones left to right, stacked within a column
    groups: dict[str, Group]                 #: key -> group, in drawing order
    member_of: dict[str, str]                #: asset -> its group's key
    links: dict[tuple[str, str], int]        #: (group, group), sorted pair -> asset links
    internal_links: dict[str, int]           #: group -> links between its own members
    credential: str | None = None            #: the insider's credential
    holder: str | None = None                #: the identity holding it
    granted: set[str] = field(default_factory=set)     #: groups the credential opens
    path: list[str] = field(default_factory=list)      #: groups the insider walked, in order
    reached: dict[str, int] = field(default_factory=dict)  #: datastore -> records taken
    identities: Counter[str] = field(default_factory=Counter)  #: role -> identities
    credentials: int = 0


def _zone_columns(network: Network) -> list[list[str]]:
    """Zones ordered by hops from the internet-facing assets (ties stacked in one column)."""
    import networkx as nx

    g = network.graph
    assets = set(network.assets())
    und = nx.Graph()
    und.add_nodes_from(assets)
    und.add_edges_from((u, v) for u, v, d in g.edges(data=True)
                       if d.get("relation") == "connects" and u in assets and v in assets)
    dist = nx.multi_source_dijkstra_path_length(und, set(network.entry_points()))
    zone_dist: dict[str, float] = {}
    for a in assets:
        z = str(network.node(a).get("zone", ""))
        zone_dist[z] = min(zone_dist.get(z, math.inf), dist.get(a, math.inf))
    order = sorted(zone_dist, key=lambda z: (zone_dist[z], z))
    columns: list[list[str]] = []
    last = None
    for z in order:
        d = zone_dist[z]
        if columns and d == last:
            columns[-1].append(z)
        else:
            columns.append([z])
        last = d
    return columns


def network_view(network: Network, events: Iterable[Mapping[str, Any]] | None = None, *,
                 max_individual: int = 8) -> NetworkView:
    """Aggregate ``network`` for drawing, and find the insider's path in ``events``.

    Services and datastores are drawn one box each while their zone has at most
    ``max_individual`` of that kind, else one box per role; hosts are one box per role and
    zone; assets the insider walked through or read always get their own box. Without events
    the insider is the holder of the first unrevoked credential of a former employee, if any,
    and no path is drawn.
    """
    evs = engine_events(events) if events is not None else []
    g = network.graph
    walked = [str(e["node"]) for e in evs if e["action"] == "access" and "node" in e]
    reached: dict[str, int] = {}
    for e in evs:
        if e["action"] == "exfiltration":
            reached[str(e["target"])] = reached.get(str(e["target"]), 0) + int(e["records"])
    credential = next((str(e["credential"]) for e in evs
                       if e["action"] == "session-start" and "credential" in e), None)
    if credential is None:
        credential = next((c for c in network.credentials()
                           if not network.node(c).get("revoked", False)
                           and network.holder(c) is not None
                           and network.node(str(network.holder(c))).get("role")
                           == "former_employee"), None)
    special = set(walked) | set(reached)
    by_kind_zone: Counter[tuple[str, str]] = Counter(
        (str(network.node(a)["kind"]), str(network.node(a).get("zone", "")))
        for a in network.assets())
    members: dict[str, list[str]] = {}
    info: dict[str, tuple[str, str, str]] = {}
    member_of: dict[str, str] = {}
    for a in sorted(network.assets()):
        attrs = network.node(a)
        kind, zone = str(attrs["kind"]), str(attrs.get("zone", ""))
        role = str(attrs.get("role", "") or ("datastore" if kind == "datastore" else kind))
        alone = a in special or (kind != "host" and by_kind_zone[(kind, zone)] <= max_individual)
        key = a if alone else f"{zone}/{kind}/{role}"
        members.setdefault(key, []).append(a)
        info[key] = (zone, kind, role)
        member_of[a] = key
    kind_order = {"service": 0, "datastore": 1, "host": 2}
    columns = _zone_columns(network)
    zone_rank = {z: i for i, col in enumerate(columns) for z in col}
    ordered = sorted(members, key=lambda k: (zone_rank.get(info[k][0], 99), info[k][0],
                                             kind_order[info[k][1]], len(members[k]) > 1,
                                             info[k][2], k))
    groups = {k: Group(k, *info[k], tuple(members[k])) for k in ordered}
    links: Counter[tuple[str, str]] = Counter()
    internal: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for u, v, d in g.edges(data=True):
        if d.get("relation") != "connects" or u not in member_of or v not in member_of:
            continue
        pair = (u, v) if u < v else (v, u)
        if pair in seen:  # a symmetric link is two edges: count it once
            continue
        seen.add(pair)
        gu, gv = member_of[u], member_of[v]
        if gu == gv:
            internal[gu] += 1
        else:
            links[(gu, gv) if gu < gv else (gv, gu)] += 1
    granted = ({member_of[a] for a in network.granted(credential) if a in member_of}
               if credential else set())
    path = list(dict.fromkeys(member_of[n] for n in walked if n in member_of))
    identities: Counter[str] = Counter(
        str(d.get("role", "")) for _, d in g.nodes(data=True) if d.get("kind") == "identity")
    return NetworkView(
        name=str(g.graph.get("name", "network")), columns=columns, groups=groups,
        member_of=member_of, links=dict(links), internal_links=dict(internal),
        credential=credential, holder=network.holder(credential) if credential else None,
        granted=granted, path=path, reached=reached, identities=identities,
        credentials=len(network.credentials()))


def _group_label(network: Network, grp: Group, view: NetworkView) -> tuple[str, str]:
    """(title, detail) lines of a group's box."""
    if grp.single:
        attrs = network.node(grp.key)
        if grp.kind == "datastore":
            fields = [str(f) for f in attrs.get("fields", [])]
            head = f"{_records_text(int(attrs.get('records', 0)))} records: "
            shown = fields[:1]
            for f in fields[1:]:  # as many fields as fit in the box
                if len(head) + len(", ".join([*shown, f])) + 4 > 44:
                    break
                shown.append(f)
            more = f", +{len(fields) - len(shown)}" if len(fields) > len(shown) else ""
            return grp.key, head + ", ".join(shown) + more
        facing = " · internet-facing" if attrs.get("internet_facing") else ""
        return grp.key, f"{grp.kind}: {grp.role}{facing}"
    n = len(grp.members)
    noun = {"host": "hosts", "service": "services", "datastore": "datastores"}[grp.kind]
    inner = view.internal_links.get(grp.key, 0)
    detail = f"{inner:,} link{'s' * (inner != 1)} among them" if inner else ""
    return f"{grp.role} {noun} ×{n:,}", detail


def network_figure(network: Network, events: Iterable[Mapping[str, Any]] | None = None,
                   title: str = "") -> Figure:
    """The network figure as a Figure (see :func:`plot_network`)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    view = network_view(network, events)
    box_w, box_h, row, col_w, head = 2.5, 0.62, 0.9, 3.3, 0.55
    # positions: column 0 is outside (the insider); zone columns follow
    pos: dict[str, tuple[float, float]] = {}
    zone_boxes: list[tuple[str, float, float, float]] = []  # zone, x, y_top, height
    heights = []
    for ci, col in enumerate(view.columns):
        x = (ci + 1) * col_w
        y = 0.0
        for zone in col:
            keys = [k for k, gr in view.groups.items() if gr.zone == zone]
            top = y
            y -= head
            for k in keys:
                pos[k] = (x, y - box_h / 2)
                y -= row
            zone_boxes.append((zone, x, top, top - y + 0.1))
            y -= 0.45
        heights.append(-y)
    total_h = max(heights + [4.0])
    n_cols = len(view.columns) + 1
    fig = Figure(figsize=(max(7.5, 2.35 * n_cols + 0.6), 1.2 + 0.5 * total_h), dpi=150,
                 layout="constrained")
    ax = fig.add_subplot()
    right = 1.0 if view.reached else 0.3  # room for "taken: ..." beside a datastore
    ax.set_xlim(-box_w / 2 - 0.3, (n_cols - 1) * col_w + box_w / 2 + right)
    ax.set_ylim(-total_h - 0.2, 0.25)
    ax.axis("off")

    for zone, x, top, h in zone_boxes:
        ax.add_patch(FancyBboxPatch((x - box_w / 2 - 0.18, top - h), box_w + 0.36, h,
                                    boxstyle="round,pad=0,rounding_size=0.15",
                                    facecolor="#F7F7F7", edgecolor="0.75", linewidth=0.8,
                                    zorder=0))
        facing = any(network.node(a).get("internet_facing") for gkey, grp in view.groups.items()
                     if grp.zone == zone for a in grp.members)
        ax.text(x, top - 0.2, f"zone {zone}" + (" (internet-facing)" if facing else ""),
                ha="center", va="center", fontsize=7.5, fontweight="bold", color="0.3")

    # insider column
    x0 = 0.0
    y_ins = -head - box_h / 2
    if view.credential:
        holder = view.holder or "nobody"
        role = network.node(holder).get("role", "") if view.holder else ""
        ax.text(x0, 0.0, "outside", ha="center", va="top", fontsize=7.5, fontweight="bold",
                color="0.3")
        _box(ax, x0, y_ins, box_w, box_h, holder, role.replace("_", " "), "#FFFFFF",
             C_INSIDER, 1.6)
        cred = network.node(view.credential)
        age = float(cred.get("issued_hours_ago", 0.0))
        life = float(cred.get("lifetime_hours", math.inf))
        detail = (f"{str(cred.get('cred_type', '')).replace('_', ' ')}, {format_hours(age)} old"
                  + (", never expires" if math.isinf(life) else
                     f", valid {format_hours(life)}"))
        y_cred = y_ins - row * 1.25
        _box(ax, x0, y_cred, box_w, box_h, view.credential, detail, "#FFF4E5", C_AUDIT, 1.2)
        ax.add_patch(FancyArrowPatch((x0, y_ins - box_h / 2), (x0, y_cred + box_h / 2),
                                     arrowstyle="-|>", mutation_scale=9, color="0.4",
                                     linewidth=0.9))
        ax.text(x0 + 0.08, (y_ins + y_cred) / 2, "holds", fontsize=6.5, color="0.4",
                va="center")
        pos["__credential__"] = (x0, y_cred)

    # links between groups (under the boxes)
    on_path = set(zip(view.path, view.path[1:], strict=False))
    max_links = max(view.links.values(), default=1)
    for (a, b), n in view.links.items():
        if a not in pos or b not in pos or (a, b) in on_path or (b, a) in on_path:
            continue
        (xa, ya), (xb, yb) = pos[a], pos[b]
        width = 0.5 + 2.0 * math.log1p(n) / math.log1p(max_links)
        if abs(xa - xb) > 0.1:  # between columns: centre to centre, under the boxes
            start, end, rad = (xa, ya), (xb, yb), 0.0
        else:  # within a column: an arc out of the right edges, clear of the boxes between
            start, end = (xa + box_w / 2, ya), (xb + box_w / 2, yb)
            rad = math.copysign(min(0.9, 0.9 / max(abs(ya - yb), 1e-9)), yb - ya)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-", color="0.55",
                                     linewidth=width, alpha=0.45, zorder=1,
                                     connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0))
    # boxes
    for key, grp in view.groups.items():
        x, y = pos[key]
        face = {"host": C_HOST, "service": C_SERVICE, "datastore": C_STORE}[grp.kind]
        edge, lw, style = "0.55", 0.7, "-"
        if key in view.granted:
            edge, lw, style = C_AUDIT, 1.3, "--"
        if key in view.path or any(m in view.reached for m in grp.members):
            edge, lw, style = C_INSIDER, 2.0, "-"
        name, detail = _group_label(network, grp, view)
        _box(ax, x, y, box_w, box_h, name, detail, face, edge, lw, style)
        taken = sum(view.reached.get(m, 0) for m in grp.members)
        if grp.kind == "datastore" and taken:
            total = sum(int(network.node(m).get("records", 0)) for m in grp.members)
            share = f" ({_percent(taken / total)})" if total else ""
            ax.text(x + box_w / 2 + 0.08, y, f"taken:\n{_records_text(taken)}{share}",
                    ha="left", va="center", fontsize=7, color=C_INSIDER, fontweight="bold")
    # the insider's path: credential -> entry -> ... -> datastore
    steps = (["__credential__"] if view.credential and view.path else []) + view.path
    for i, (a, b) in enumerate(zip(steps, steps[1:], strict=False), 1):
        (xa, ya), (xb, yb) = pos[a], pos[b]
        if abs(xa - xb) > 0.1:  # right edge of one box to the left edge of the next
            sign = 1.0 if xb > xa else -1.0
            start, end = (xa + sign * box_w / 2, ya), (xb - sign * box_w / 2, yb)
            rad = -0.15
        else:  # within a column: out of the left edges
            start, end = (xa - box_w / 2, ya), (xb - box_w / 2, yb)
            rad = math.copysign(min(0.6, 0.5 / max(abs(ya - yb), 1e-9)), ya - yb)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                     color=C_INSIDER, linewidth=2.2, zorder=4,
                                     connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2))
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.2, str(i), ha="center",
                va="center", fontsize=7, color="white", fontweight="bold", zorder=6,
                bbox={"boxstyle": "circle,pad=0.2", "facecolor": C_INSIDER, "edgecolor": "none"})

    ids = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in view.identities.most_common())
    n_assets = len(view.member_of)
    note = (f"{n_assets:,} assets in {len(view.groups)} boxes; line width ~ log(number of "
            f"links).\nNot drawn: {sum(view.identities.values())} identities ({ids}) and "
            f"{view.credentials} credentials.")
    handles = [Patch(facecolor=C_SERVICE, edgecolor="0.55", label="service"),
               Patch(facecolor=C_STORE, edgecolor="0.55", label="datastore"),
               Patch(facecolor=C_HOST, edgecolor="0.55", label="hosts (count)"),
               Patch(facecolor="white", edgecolor=C_AUDIT, linestyle="--", linewidth=1.3,
                     label="opened by the insider's credential"),
               Line2D([], [], color=C_INSIDER, linewidth=2.2, marker=">",
                      label="the insider's path (first visit)"),
               Line2D([], [], color="0.55", linewidth=2, alpha=0.45, label="network links")]
    ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=False, ncols=3,
              bbox_to_anchor=(0.0, -0.02))
    fig.suptitle((title or f"network {view.name}") + "\n" + note, fontsize=8.5, x=0.02,
                 ha="left")
    return fig


def _box(ax: Axes, x: float, y: float, w: float, h: float, name: str, detail: str,
         face: str, edge: str, lw: float, style: str = "-") -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0,rounding_size=0.08", facecolor=face,
                                edgecolor=edge, linewidth=lw, linestyle=style, zorder=3))
    if detail:
        ax.text(x, y + 0.1, name, ha="center", va="center", fontsize=7.2, fontweight="bold",
                zorder=5)
        ax.text(x, y - 0.15, detail, ha="center", va="center", fontsize=6, color="0.3",
                zorder=5)
    else:
        ax.text(x, y, name, ha="center", va="center", fontsize=7.2, fontweight="bold", zorder=5)


def plot_network(network: Network, path: str | os.PathLike[str],
                 events: Iterable[Mapping[str, Any]] | None = None, title: str = "") -> Path:
    """Write the enterprise network, aggregated by zone, as a PNG.

    Zones are columns ordered by hops from the internet-facing assets (zones at the same
    distance share a column); inside them one box per service and datastore (or per role when
    a zone has many) and one per host role with its count (see :func:`network_view`). The
    insider's identity and credential stand outside; assets the credential opens have a dashed
    outline; the path the insider walked is numbered in red and each datastore reached says
    how many records were taken.

    Args:
        network: the network.
        path: the PNG to write (replaced atomically).
        events: one replication's events (engine or ECS); None to draw no path.
        title: first line of the title.

    Returns:
        ``path``.
    """
    return _savefig(network_figure(network, events, title), path)


# ============================================================================= the trace=true hook


def write_trace_figures(model: Model, result: ReplicationResult | None,
                        events: Sequence[Mapping[str, Any]],
                        run_dir: str | os.PathLike[str], *, label: str = "") -> list[Path]:
    """Write ``timeline.png`` and ``network.png`` of a traced replication into ``run_dir``.

    Args:
        model: the job's model (scenario name, calendar, network, firm's time zone).
        result: the replication's result, from :func:`sim.core.engine.simulate`.
        events: the events it traced.
        run_dir: the run directory (next to ``events.jsonl``).
        label: what to call the run in the titles (default: the scenario).

    Returns:
        The paths written.
    """
    run_dir = Path(run_dir)
    label = label or model.run.scenario
    if result is not None:
        label += f" · replication {result.replication} (seed {result.seed})"
    timeline = plot_timeline(events, result, model.calendar, run_dir / "timeline.png",
                             title=f"{label}: timeline",
                             utc_offset_hours=model.triage.utc_offset_hours,
                             discipline=model.triage.discipline)
    network = plot_network(model.network, run_dir / "network.png", events,
                           title=f"{label}: network {model.network.name}")
    return [timeline, network]
