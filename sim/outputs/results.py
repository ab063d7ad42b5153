"""Per-replication results and the outputs of a run.

A run of N replications produces, in its run directory:

``replications.csv``
    one row per replication, columns :data:`COLUMNS`, written by :class:`ResultWriter` as the
    replications finish. While the run is going (or if it crashed) the file is
    ``replications.csv.partial``; only a run that finished has a ``replications.csv``.
``summary.json``
    :func:`summarize` of those rows, written with :func:`write_json_atomic`.
``dwell.png``
    :func:`plot_dwell`: the distribution of the time to detection.

The engine's sequence is::

    with ResultWriter(run_dir) as writer:
        for result in replications():          # ReplicationResult objects
            writer.write(result)
    results = read_replications(run_dir / REPLICATIONS_CSV)
    summary = summarize(results, horizon_hours)
    write_json_atomic(run_dir / SUMMARY_JSON, summary)
    plot_dwell(results, horizon_hours, run_dir / DWELL_PNG)
    print(format_summary(summary, scenario=name, run_dir=str(run_dir), seed=seed))

CSV encoding: booleans are ``true``/``false``, floats are written with ``repr`` (exact round
trip), a NaN float is an empty field, strings are written as they are (``""`` stays empty).
"""

from __future__ import annotations

import array
import csv
import json
import math
import operator
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from sim.core import atomic
from sim.core.errors import SimError
from sim.core.timeunits import DAY, YEAR, format_hours
from sim.outputs import stats

COLUMNS: tuple[str, ...] = (
    "replication", "seed", "detected", "censored", "detected_by", "dwell_hours",
    "records_exfiltrated", "true_alerts", "false_alerts", "alerts_dropped",
    "access_ended_by", "access_hours", "sessions", "mean_triage_wait_hours",
    "analyst_utilisation", "cases", "warmup_sealed",
    "warmup_dropped",
)

#: Columns of a crew (``insider.crew.size >= 2``, :mod:`sim.agents.crew`), after
#: :data:`COLUMNS`: a run of a lone insider writes none of them (its file stays as before), and
#: reading a file without them derives them (``1``, ``1`` if detected, ``1`` if a control
#: ended the access).
CREW_COLUMNS: tuple[str, ...] = ("insiders", "insiders_identified", "insiders_stopped")
#: ``access_ended_by`` values that are not a control's doing.
_NOT_BY_CONTROL = frozenset({"", "horizon", "exhausted", "stopped", "expired"})

REPLICATIONS_CSV = "replications.csv"
PARTIAL_SUFFIX = ".partial"
SUMMARY_JSON = "summary.json"
DWELL_PNG = "dwell.png"

#: Horizons of ``summary["p_detected_within"]``, label -> hours.
DETECTION_WINDOWS: dict[str, float] = {
    "24h": 24.0, "72h": 72.0, "30d": 30 * DAY, "90d": 90 * DAY, "180d": 180 * DAY,
}


class ResultsFileError(SimError, ValueError):
    """A replications CSV cannot be read: a wrong header or a malformed value (names file, line)."""


@dataclass(frozen=True, slots=True)
class ReplicationResult:
    """The outcome of one replication: one row of ``replications.csv``.

    Every replication is either detected (``detected=True``: ``dwell_hours`` is the time from
    the insider's first access to the detection) or censored (``censored=True``: no detection
    before the horizon, and ``dwell_hours`` is the time observation stopped, normally the
    horizon, so the true dwell is longer). Exactly one of the two is true.

    Attributes:
        replication: the replication index (0-based).
        seed: the seed of this replication's random stream.
        detected: a detector confirmed the insider within the horizon.
        censored: not detected within the horizon (``== not detected``).
        detected_by: the name of the detector that confirmed the insider; ``""`` when censored.
        dwell_hours: hours from first access to detection, or to the end of observation.
        records_exfiltrated: records taken before access ended.
        true_alerts: alerts raised on the insider's activity.
        false_alerts: alerts raised on benign activity.
        alerts_dropped: alerts never triaged (queue overflow, expiry).
        access_ended_by: why the insider's access ended: ``""`` (it did not),
            ``"containment"``, ``"exhausted"`` (nothing left to take), ``"stopped"`` (its
            strategy chose to start no more sessions, :mod:`sim.agents.strategy`),
            ``"expired"``, ``"horizon"``, or the name of a detector that prevented further
            access.
        access_hours: hours from first access to the end of access.
        sessions: the number of the insider's sessions.
        mean_triage_wait_hours: the mean wait of triaged alerts; NaN when none was triaged.
        analyst_utilisation: analysts' busy time / (analysts x simulated time); NaN without
            analysts.
        cases: cases opened by entity risk (``triage.discipline: risk_based``; 0
            otherwise); under risk_based ``alerts_dropped`` counts cases.
        warmup_sealed: warm-up alerts (or cases) that arrived more than
            ``triage.max_alert_age`` before time 0, whose fate was sealed by then.
        warmup_dropped: those of them aged out unreviewed (the steady-state dropped
            fraction is their share, :func:`sim.controls.triage.team_summary`).
        insiders: the crew's size (``insider.crew.size``; 1: a lone insider).
        insiders_identified: members a detector confirmed or an investigation revealed.
        insiders_stopped: members whose access a control ended (containment, a revoked shared
            credential, a rotated key), not their own end (exhausted, stopped, expired).

    With a crew (:mod:`sim.agents.crew`) the row is the crew's: ``detected``/``dwell_hours``/
    ``detected_by`` are the first detection of any member; ``records_exfiltrated`` and
    ``sessions`` add up every member until each was stopped (or the end of the run);
    ``access_ended_by``/``access_hours`` are the last member's end of access (``""`` and the
    run's end while a member still had access after a detection). For a lone insider every
    column means what it always did.

    Numpy scalars are accepted and stored as the plain Python type (an integral float is
    accepted for an integer field).

    Raises:
        ValueError: ``detected == censored``, ``detected_by`` empty on a detected row or set on a
            censored one, or a negative or non-finite count or duration.
        TypeError: a value of the wrong type (a fractional number for a count, a non-string name).
    """

    replication: int
    seed: int
    detected: bool
    censored: bool
    detected_by: str
    dwell_hours: float
    records_exfiltrated: int
    true_alerts: int
    false_alerts: int
    alerts_dropped: int
    access_ended_by: str
    access_hours: float
    sessions: int
    mean_triage_wait_hours: float
    analyst_utilisation: float = math.nan
    cases: int = 0
    warmup_sealed: int = 0
    warmup_dropped: int = 0
    insiders: int = 1
    insiders_identified: int = 0
    insiders_stopped: int = 0

    def __post_init__(self) -> None:
        # Normalise numpy scalars and integral floats to the declared Python types.
        for name, kind in _FIELD_TYPES.items():
            value = getattr(self, name)
            if kind == "int":
                if isinstance(value, (float, np.floating)) and float(value).is_integer():
                    value = int(value)
                try:
                    value = operator.index(value)
                except TypeError:
                    raise TypeError(f"replication {self.replication}: {name} must be an "
                                    f"integer, got {value!r}") from None
            elif kind == "float":
                value = float(value)
            elif kind == "bool":
                value = bool(value)
            elif not isinstance(value, str):
                raise TypeError(f"replication {self.replication}: {name} must be a str, "
                                f"got {value!r}")
            object.__setattr__(self, name, value)
        if self.detected == self.censored:
            raise ValueError(f"replication {self.replication}: exactly one of detected/censored "
                             f"must be true, got detected={self.detected}, "
                             f"censored={self.censored}")
        if self.detected and not self.detected_by:
            raise ValueError(f"replication {self.replication}: detected but detected_by is empty")
        if self.censored and self.detected_by:
            raise ValueError(f"replication {self.replication}: censored but detected_by="
                             f"{self.detected_by!r} (must be '')")
        for name in ("dwell_hours", "access_hours"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"replication {self.replication}: {name} must be a finite "
                                 f"number >= 0, got {value!r}")
        for name in ("records_exfiltrated", "true_alerts", "false_alerts", "alerts_dropped",
                     "sessions", "insiders_identified", "insiders_stopped"):
            if getattr(self, name) < 0:
                raise ValueError(f"replication {self.replication}: {name} must be >= 0, "
                                 f"got {getattr(self, name)!r}")

    def row(self) -> dict[str, Any]:
        """The fields as a dict, keys in :data:`COLUMNS` order (then :data:`CREW_COLUMNS` for
        a crew), values as stored."""
        names = COLUMNS + CREW_COLUMNS if self.insiders > 1 else COLUMNS
        return {name: getattr(self, name) for name in names}

    def csv_row(self, crew: bool = False) -> list[str]:
        """The fields encoded for the CSV file (see the module docstring), in column order
        (with ``crew``, :data:`CREW_COLUMNS` too)."""
        names = COLUMNS + CREW_COLUMNS if crew else COLUMNS
        return [_encode(getattr(self, name)) for name in names]

    @classmethod
    def from_csv_row(cls, values: Sequence[str]) -> ReplicationResult:
        """Decode a row written by :meth:`csv_row` (with or without the crew columns).

        Raises:
            ValueError: a wrong number of fields or a field that does not parse.
        """
        names = {len(COLUMNS): COLUMNS, len(COLUMNS) + len(CREW_COLUMNS): COLUMNS + CREW_COLUMNS}
        if len(values) not in names:
            raise ValueError(f"expected {len(COLUMNS)} fields (or {len(COLUMNS)} + "
                             f"{len(CREW_COLUMNS)} with a crew), got {len(values)}")
        kwargs: dict[str, Any] = {name: _decode(name, _FIELD_TYPES[name], text)
                                  for name, text in zip(names[len(values)], values, strict=True)}
        if "insiders" not in kwargs:  # a lone insider: identified if detected, etc.
            kwargs["insiders_identified"] = int(kwargs["detected"])
            kwargs["insiders_stopped"] = int(kwargs["access_ended_by"] not in _NOT_BY_CONTROL)
        return cls(**kwargs)


_FIELD_TYPES: dict[str, str] = {
    "replication": "int", "seed": "int", "detected": "bool", "censored": "bool",
    "detected_by": "str", "dwell_hours": "float", "records_exfiltrated": "int",
    "true_alerts": "int", "false_alerts": "int", "alerts_dropped": "int",
    "access_ended_by": "str", "access_hours": "float", "sessions": "int",
    "mean_triage_wait_hours": "float", "analyst_utilisation": "float",
    "cases": "int", "warmup_sealed": "int", "warmup_dropped": "int",
    "insiders": "int", "insiders_identified": "int", "insiders_stopped": "int",
}


def _encode(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _decode(name: str, kind: str, text: str) -> Any:
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return math.nan if text == "" else float(text)
        if kind == "bool":
            if text.lower() in ("true", "1"):
                return True
            if text.lower() in ("false", "0"):
                return False
            raise ValueError
        return sys.intern(text)  # a handful of detector/reason names, shared by all rows
    except ValueError:
        raise ValueError(f"{name}: cannot read {text!r} as {kind}") from None


class ResultWriter:
    """Streams replication rows to ``<run_dir>/replications.csv``.

    Rows go to ``replications.csv.partial`` as they come (header first, the file flushed after
    every row, so a crash keeps every finished row). :meth:`finish` fsyncs and renames it
    atomically to ``replications.csv``: a ``replications.csv`` therefore always holds a complete
    run. Nothing is kept in memory; rows are written in the order given.

    As a context manager it finishes on a normal exit, and on an exception only closes the
    file: the ``.partial`` file stays and no ``replications.csv`` is written.

    Args:
        run_dir: the run directory (created if missing).
        overwrite: remove an existing ``replications.csv`` first. Without it an existing file
            is an error, so that a crashed re-run cannot leave an old complete-looking file.
        extra_columns: names of further numeric columns after :data:`COLUMNS` (a layer such
            as the policy costs adds them); each :meth:`write` then passes their values.
        keep_rows: append to an existing ``.partial`` file whose header and first
            ``keep_rows`` rows :func:`resumable_rows` has checked (and cut to them), instead of
            starting a new one: a killed run resumes from its finished rows.
        crew: write :data:`CREW_COLUMNS` after :data:`COLUMNS` (a run of a crew of 2 or more,
            ``model.crew.size > 1``); a lone insider's file has none.

    Raises:
        FileExistsError: ``replications.csv`` exists and ``overwrite`` is false.
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, overwrite: bool = False,
                 extra_columns: Sequence[str] = (), keep_rows: int = 0,
                 crew: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.crew = crew
        self.path = self.run_dir / REPLICATIONS_CSV
        self.partial_path = self.run_dir / (REPLICATIONS_CSV + PARTIAL_SUFFIX)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            if not overwrite:
                raise FileExistsError(f"{self.path} exists; refusing to overwrite a finished run")
            self.path.unlink()
        clash = sorted(set(extra_columns) & set(COLUMNS + CREW_COLUMNS))
        if clash or len(set(extra_columns)) != len(extra_columns):
            raise ValueError(f"extra columns must be new and distinct, got {list(extra_columns)}")
        self.extra_columns = tuple(extra_columns)
        self._file = open(self.partial_path, "a" if keep_rows else "w", newline="",
                          encoding="utf-8")
        self._csv = csv.writer(self._file, lineterminator="\n")
        if not keep_rows:
            self._csv.writerow(COLUMNS + (CREW_COLUMNS if crew else ()) + self.extra_columns)
        self._file.flush()
        self.rows_written = keep_rows
        self.finished = False

    def write(self, result: ReplicationResult, extra: Sequence[float] = ()) -> None:
        """Append one row (``extra``: the values of the extra columns) and flush it to the OS.

        Raises:
            ValueError: the writer is closed (finished or aborted), or ``extra`` does not
                match the extra columns.
        """
        if self._file.closed:
            raise ValueError(f"{self.partial_path}: writer is closed")
        if len(extra) != len(self.extra_columns):
            raise ValueError(f"expected {len(self.extra_columns)} extra values, got {len(extra)}")
        self._csv.writerow(result.csv_row(self.crew) + [_encode(float(v)) for v in extra])
        self._file.flush()
        self.rows_written += 1

    def finish(self) -> None:
        """Fsync the rows and rename ``.partial`` to ``replications.csv`` (atomic). Idempotent.

        Raises:
            ValueError: the writer was aborted (closed after an exception).
        """
        if self.finished:
            return
        if self._file.closed:
            raise ValueError(f"{self.partial_path}: writer was aborted, cannot finish")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial_path, self.path)
        atomic.fsync_dir(self.run_dir)
        self.finished = True

    def abort(self) -> None:
        """Close the file without finishing: the ``.partial`` file stays as it is."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def resumable_rows(run_dir: str | os.PathLike[str], extra_columns: Sequence[str],
                   replications: int, start: int = 0, crew: bool = False) -> int:
    """How many finished rows of a killed run's ``replications.csv.partial`` can be kept.

    The file must have exactly the header a new run would write (:data:`COLUMNS`, with
    ``crew`` :data:`CREW_COLUMNS`, then ``extra_columns``); its rows are kept from the top
    while each is a whole line (ends with a newline), parses, and holds replication
    ``start, start + 1, ...`` in order, below ``replications`` (a shard's rows start at its
    first replication, see :func:`sim.core.runner.shard_range`).
    The file is cut (truncated) after the last row kept, so appending the next replication's
    row continues it exactly as an uninterrupted run would have. The caller checks that the rows
    come from the same config (``run.json``'s config hash) before calling this.

    Returns:
        The number of rows kept (0: none; the file is then left for the writer to replace).
    """
    path = Path(run_dir) / (REPLICATIONS_CSV + PARTIAL_SUFFIX)
    own = COLUMNS + (CREW_COLUMNS if crew else ())
    header = ",".join(own + tuple(extra_columns)) + "\n"
    try:
        f = open(path, "rb+")
    except OSError:
        return 0
    with f:
        first = f.readline()
        if first.decode("utf-8", "replace") != header:
            return 0
        kept, end = 0, f.tell()
        n_fields = len(own) + len(extra_columns)
        while start + kept < replications:
            line = f.readline()
            if not line.endswith(b"\n"):
                break
            try:
                values = next(csv.reader([line.decode("utf-8")]))
                if len(values) != n_fields:
                    break
                row = ReplicationResult.from_csv_row(values[:len(own)])
                [float(v) for v in values[len(own):] if v != ""]
            except (ValueError, TypeError, StopIteration, UnicodeDecodeError):
                break
            if row.replication != start + kept:
                break
            kept, end = kept + 1, f.tell()
        f.truncate(end)
    return kept


def read_replications(path: str | os.PathLike[str]) -> list[ReplicationResult]:
    """Read a replications CSV (finished or ``.partial``) back into :class:`ReplicationResult` rows.

    Extra columns after :data:`COLUMNS` are ignored here; :func:`read_table` returns them.

    Returns:
        The rows in file order. A ``.partial`` file whose last line was cut off by a crash
        loses only that line.

    Raises:
        ResultsFileError: the header does not start with :data:`COLUMNS`, or a row does not
            parse (the message names the file and line).
        OSError: the file cannot be opened.
    """
    return read_table(path)[0]


def read_table(path: str | os.PathLike[str]
               ) -> tuple[list[ReplicationResult], dict[str, np.ndarray]]:
    """Like :func:`read_replications`, also returning the extra columns by name (floats)."""
    path = Path(path)
    results: list[ReplicationResult] = []
    partial = path.name.endswith(PARTIAL_SUFFIX)

    def lines(f: Iterable[str]) -> Iterator[str]:  # streamed: no copy of the whole file
        for line in f:
            if partial and not line.endswith("\n"):
                return  # a torn last line, cut off by a crash
            yield line

    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(lines(f))
        header = next(reader, None)
        if header is None or tuple(header[: len(COLUMNS)]) != COLUMNS:
            raise ResultsFileError(f"{path}: line 1: header must start with "
                                   f"{','.join(COLUMNS)}, got {','.join(header or [])!r}")
        n = len(COLUMNS)
        if tuple(header[n:n + len(CREW_COLUMNS)]) == CREW_COLUMNS:
            n += len(CREW_COLUMNS)
        extra_names = header[n:]
        extra = array.array("d")
        for line_no, values in enumerate(reader, start=2):
            if not values:
                continue
            try:
                if len(values) != len(header):
                    raise ValueError(f"expected {len(header)} fields, got {len(values)}")
                results.append(ReplicationResult.from_csv_row(values[:n]))
                extra.extend(math.nan if v == "" else float(v) for v in values[n:])
            except ValueError as err:
                raise ResultsFileError(f"{path}: line {line_no}: {err}") from None
    table = np.frombuffer(extra, dtype=float).reshape(len(results), len(extra_names))
    return results, {name: table[:, i].copy() for i, name in enumerate(extra_names)}


# ----------------------------------------------------------------------------- summary


def _jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays made plain, tuples made lists and NaN/inf made None."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def _describe(x: np.ndarray) -> dict[str, Any]:
    """mean, median, p10, p90, ci95 (t-interval of the mean), median_ci95 (order statistics)."""
    if x.size == 0:
        return {"mean": None, "median": None, "p10": None, "p90": None,
                "ci95": None, "median_ci95": None}
    mean_ci = stats.mean_ci(x)
    median_ci = stats.median_ci(x)
    return {
        "mean": float(x.mean()),
        "median": stats.quantile(x, 0.5),
        "p10": stats.quantile(x, 0.1),
        "p90": stats.quantile(x, 0.9),
        "ci95": list(mean_ci) if mean_ci else None,
        "median_ci95": list(median_ci) if median_ci else None,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _counts(values: Iterable[str]) -> dict[str, int]:
    """Counts, most frequent first (ties by name)."""
    counter = Counter(values)
    return {k: counter[k] for k in sorted(counter, key=lambda k: (-counter[k], k))}


def summarize(results: Sequence[ReplicationResult], horizon_hours: float) -> dict[str, Any]:
    """The content of ``summary.json``: plain JSON types only, NaN/inf written as ``None``.

    Keys:
        ``replications``, ``horizon_hours``;
        ``detected`` (count), ``detected_fraction`` and ``detected_fraction_ci95`` (Wilson);
        ``censored`` (count of replications undetected at the horizon);
        ``dwell_hours``: ``mean``, ``median``, ``p10``, ``p90``, ``ci95`` (t-interval of the
        mean), ``median_ci95`` (order statistics), over ALL replications with the censored ones
        counted at their recorded dwell (the horizon): when ``censored > 0`` these are lower
        bounds of the true values (``notes`` says so);
        ``dwell_days``: ``mean``, ``median``, ``p10``, ``p90`` of the same, in days;
        ``records_exfiltrated``: the same six statistics as ``dwell_hours``;
        ``detected_by``: detector -> count over detected replications, most frequent first;
        ``access_ended_by``: reason -> count over all replications (``""`` is counted as
        ``"none"``);
        ``alerts``: ``true_mean``, ``false_mean``, ``dropped_mean`` per replication;
        ``sessions_mean``, ``access_hours_mean``, ``mean_triage_wait_hours`` (the mean over
        replications that triaged any alert; ``None`` if none did);
        ``km_median_dwell_hours``: the Kaplan-Meier median (``None`` if not reached within the
        horizon), ``km_median_ci95``: ``[lo, hi]`` (an entry is ``None`` where the band does not
        reach 0.5 within the horizon, i.e. beyond it; the whole value ``None`` with no data);
        ``p_detected_within``: for each label of :data:`DETECTION_WINDOWS`
        (``24h``, ``72h``, ``30d``, ``90d``, ``180d``) ``{"estimate": P, "ci95": [lo, hi]}``
        from the Kaplan-Meier estimate (both ``None`` past the horizon);
        ``notes``: a list of sentences about what could not be estimated or is biased
        (always present, possibly empty);
        ``crew`` (only for a crew, rows with ``insiders > 1``): ``insiders`` (the largest
        size), ``identified_mean``, ``stopped_mean`` (members per replication), ``all_stopped``
        (the share of replications where a control stopped every member) and
        ``last_stopped_hours`` (the six statistics of ``access_hours``: when the last member's
        access ended, the run's end if one still had it).

    Args:
        results: the replication rows (any order).
        horizon_hours: the simulated horizon, in hours.
    """
    notes: list[str] = []
    n = len(results)
    dwell = np.array([r.dwell_hours for r in results], dtype=float)
    detected = np.array([r.detected for r in results], dtype=bool)
    records = np.array([r.records_exfiltrated for r in results], dtype=float)
    k = int(detected.sum())
    n_censored = n - k
    if n == 0:
        notes.append("0 replications: nothing to summarize")

    dwell_stats = _describe(dwell)
    records_stats = _describe(records)
    if 0 < n < 2:
        notes.append(f"{_plural(n, 'replication')}: too few for a 95% interval of the mean "
                     f"(need >= 2)")
    min_n = stats.median_ci_min_n(0.95)
    if 0 < n < min_n:
        notes.append(f"{_plural(n, 'replication')}: too few for a 95% interval of the median "
                     f"(need >= {min_n})")

    if n_censored:
        notes.append(
            f"{n_censored} of {_plural(n, 'replication')} undetected at the horizon "
            f"({format_hours(horizon_hours)}): dwell_hours/dwell_days count them at the horizon "
            f"and are lower bounds; km_* and p_detected_within account for the censoring")

    km = stats.kaplan_meier(dwell, detected)
    km_med = stats.km_median(km)
    km_ci = stats.km_median_ci(km)
    if n and km_med is None:
        notes.append(f"Kaplan-Meier median dwell not reached within the horizon "
                     f"({format_hours(horizon_hours)}): fewer than half the replications "
                     f"were detected")
    if km_med is not None and km_ci is not None and km_ci[1] is None:
        notes.append("upper end of the 95% interval of the Kaplan-Meier median not reached "
                     "within the follow-up: too few detections to bound it (left empty)")

    within: dict[str, Any] = {}
    beyond: list[str] = []
    for label, hours in DETECTION_WINDOWS.items():
        at = stats.km_survival_at(km, hours)
        if at is None:
            within[label] = {"estimate": None, "ci95": None}
            if n:
                beyond.append(label)
        else:
            s, lo, hi = at
            within[label] = {"estimate": 1.0 - s, "ci95": [1.0 - hi, 1.0 - lo]}
    if beyond:
        notes.append(f"p_detected_within {', '.join(beyond)}: beyond the horizon "
                     f"({format_hours(horizon_hours)}), left empty")

    def finite_mean(name: str) -> float | None:
        values = np.array([getattr(r, name) for r in results], dtype=float)
        values = values[np.isfinite(values)]
        return float(values.mean()) if values.size else None

    def mean_of(name: str) -> float | None:
        return float(np.mean([getattr(r, name) for r in results])) if n else None

    summary: dict[str, Any] = {
        "replications": n,
        "horizon_hours": float(horizon_hours),
        "detected": k,
        "detected_fraction": k / n if n else None,
        "detected_fraction_ci95": stats.binomial_ci(k, n),
        "censored": n_censored,
        "dwell_hours": dwell_stats,
        "dwell_days": {key: (None if dwell_stats[key] is None else dwell_stats[key] / DAY)
                       for key in ("mean", "median", "p10", "p90")},
        "records_exfiltrated": records_stats,
        "detected_by": _counts(r.detected_by for r in results if r.detected),
        "access_ended_by": _counts(r.access_ended_by or "none" for r in results),
        "alerts": {
            "true_mean": mean_of("true_alerts"),
            "false_mean": mean_of("false_alerts"),
            "dropped_mean": mean_of("alerts_dropped"),
        },
        "sessions_mean": mean_of("sessions"),
        "access_hours_mean": mean_of("access_hours"),
        "mean_triage_wait_hours": finite_mean("mean_triage_wait_hours"),
        "analyst_utilisation": finite_mean("analyst_utilisation"),
        "km_median_dwell_hours": km_med,
        "km_median_ci95": list(km_ci) if km_ci is not None else None,
        "p_detected_within": within,
        "notes": notes,
    }
    if any(r.insiders > 1 for r in results):
        summary["crew"] = {
            "insiders": max(r.insiders for r in results),
            "identified_mean": mean_of("insiders_identified"),
            "stopped_mean": mean_of("insiders_stopped"),
            "all_stopped": float(np.mean([r.insiders_stopped == r.insiders for r in results])),
            "last_stopped_hours": _describe(np.array([r.access_hours for r in results])),
        }
    return _jsonable(summary)


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, durable: bool = True) -> None:
    """Write ``obj`` as indented JSON so that ``path`` is either the old file or the whole new one.

    Goes through :func:`sim.core.atomic.write_bytes` (``durable`` passes on). Numpy scalars
    become plain numbers, tuples lists, NaN/inf ``null``.

    Raises:
        TypeError: ``obj`` holds something JSON cannot represent (the old file is untouched).
        OSError: the directory is not writable.
    """
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n"
    atomic.write_text(path, text, durable=durable)


# ----------------------------------------------------------------------------- figure

_TICKS: tuple[tuple[float, str], ...] = (
    (1 / 60, "1 min"), (1.0, "1 h"), (DAY, "1 d"), (7 * DAY, "1 w"), (YEAR / 12, "1 mo"),
    (YEAR / 2, "6 mo"), (YEAR, "1 y"), (2 * YEAR, "2 y"), (5 * YEAR, "5 y"), (10 * YEAR, "10 y"),
)
_MINOR_TICKS: tuple[tuple[float, str], ...] = (
    (10 / 60, "10 min"), (6.0, "6 h"), (YEAR / 4, "3 mo"),
)
_C_DETECTED = "#2b6a99"
_C_CENSORED = "#c8553d"
_C_MEDIAN = "#222222"


def plot_dwell(results: Sequence[ReplicationResult], horizon_hours: float,
               path: str | os.PathLike[str]) -> None:
    """Write ``dwell.png``: the distribution of the time to detection.

    Left: a histogram of dwell on a log time axis (ticks 1 h, 1 d, 1 w, 1 mo, 6 mo, 1 y where in
    range), detected replications as bars, the ones still undetected at the horizon as a
    separate hatched bar just past it, and the Kaplan-Meier median as a dashed line. Right: the
    Kaplan-Meier probability of still being undetected with its 95% band, on the same axis.
    About 7 x 4 in at 150 dpi. Dwell times below the axis' lower end (including 0) are drawn in
    the first bin. Works with all-censored, all-detected and single-row input; with no rows it
    draws empty panels.

    Args:
        results: the replication rows.
        horizon_hours: the simulated horizon, in hours (> 0).
        path: the PNG file to write (replaced atomically).
    """
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    horizon = float(horizon_hours)
    dwell = np.array([r.dwell_hours for r in results], dtype=float)
    detected = np.array([r.detected for r in results], dtype=bool)
    n = dwell.size
    det = dwell[detected]
    cen = dwell[~detected]
    km = stats.kaplan_meier(dwell, detected)
    km_med = stats.km_median(km)

    # Axis range: up to the horizon when some replications are censored there (their bar sits
    # just past it), else up to a little past the longest dwell; down to a little below the
    # shortest dwell, at least a factor 20 below the top and no lower than 1 min.
    longest = float(dwell.max()) if n else horizon
    if cen.size or longest <= 0 or longest * 3.0 >= horizon:
        top = max(horizon, longest)
        hi = top * 1.35 * 1.25
    else:
        top = longest * 1.5
        hi = top * 1.15
    censor_bar = (top, top * 1.35)  # the "still undetected" bar
    positive = dwell[dwell > 0]
    shortest = float(positive.min()) if positive.size else top
    lo = max(min(shortest / 1.6, top / 20.0), 1 / 60)
    if top < lo * 20.0:  # every dwell (or the horizon) under ~20 min: keep a 20x wide axis
        top = lo * 20.0
        hi = top * (1.35 * 1.25 if cen.size else 1.15)
        censor_bar = (top, top * 1.35)

    fig = Figure(figsize=(7.2, 4.0), dpi=150, layout="constrained")
    ax_h, ax_k = fig.subplots(1, 2, sharex=True, gridspec_kw={"width_ratios": [1.15, 1.0]})

    # -- histogram
    n_bins = int(np.clip(np.sqrt(max(det.size, 1)) * 2, 12, 40))
    edges = np.geomspace(lo, top, n_bins + 1)
    if det.size:
        counts, _ = np.histogram(np.clip(det, lo, top), bins=edges)
        ax_h.stairs(counts, edges, fill=True, color=_C_DETECTED, alpha=0.85,
                    label=f"detected ({det.size})")
        ax_h.stairs(counts, edges, color="white", linewidth=0.4)
    if cen.size:
        ax_h.bar(censor_bar[0], cen.size, width=censor_bar[1] - censor_bar[0], align="edge",
                 color=_C_CENSORED, alpha=0.35, edgecolor=_C_CENSORED, hatch="////",
                 linewidth=0.8, label=f"undetected at {format_hours(horizon)} ({cen.size})")
    if horizon <= hi:
        ax_h.axvline(horizon, color="0.45", linewidth=0.8, linestyle=":")
    if km_med is not None:
        ax_h.axvline(km_med, color=_C_MEDIAN, linewidth=1.2, linestyle="--",
                     label=f"median {format_hours(km_med)}")
    ax_h.set_ylabel("replications")
    ax_h.set_title("Dwell time (first access to detection)", fontsize=9.5)
    ymax = max(ax_h.get_ylim()[1], 1.0)
    ax_h.set_ylim(0, ymax * 1.22)  # room for the legend
    ax_h.yaxis.get_major_locator().set_params(integer=True)
    if ax_h.get_legend_handles_labels()[0]:
        ax_h.legend(fontsize=7, frameon=False, loc="upper left")

    # -- Kaplan-Meier (the band from km_survival_at, which is not degenerate before the first
    #    event, so an all-censored run still shows how much the data rule out)
    if n:
        end = max(km.max_time, lo)
        xs = np.unique(np.clip(np.concatenate(([lo], km.times, km.censor_times)), lo, end))
        at = [_survival_in_range(km, x) for x in xs]
        xs = np.append(xs, end)
        at.append(at[-1])
        ys, ylo, yhi = (np.array(v) for v in zip(*at, strict=True))
        ax_k.fill_between(xs, ylo, yhi, step="post", color=_C_DETECTED, alpha=0.2, linewidth=0,
                          label="95% band")
        ax_k.step(xs, ys, where="post", color=_C_DETECTED, linewidth=1.6,
                  label="Kaplan-Meier estimate")
        if cen.size:
            cx = np.unique(cen)
            ax_k.plot(np.clip(cx, lo, None), [_survival_in_range(km, c)[0] for c in cx],
                      linestyle="none", marker="|", markersize=8, color=_C_CENSORED,
                      label="censored")
    ax_k.axhline(0.5, color="0.6", linewidth=0.7, linestyle=":")
    if horizon <= hi:
        ax_k.axvline(horizon, color="0.45", linewidth=0.8, linestyle=":")
    if km_med is not None:
        ax_k.axvline(km_med, color=_C_MEDIAN, linewidth=1.2, linestyle="--")
        km_ci = stats.km_median_ci(km)
        if km_ci is not None and km_ci[0] is not None:
            ci_hi = km_ci[1] if km_ci[1] is not None else hi  # open-ended: to the axis end
            ax_k.plot([km_ci[0], ci_hi], [0.5, 0.5], color=_C_MEDIAN, linewidth=3.0,
                      alpha=0.55, solid_capstyle="butt", label="95% CI of the median")
    ax_k.set_ylim(-0.02, 1.04)
    ax_k.set_ylabel("P(still undetected)")
    ax_k.set_title("Probability the insider is still undetected", fontsize=9.5)
    if ax_k.get_legend_handles_labels()[0]:
        ax_k.legend(fontsize=7, frameon=False, loc="lower left")

    # -- shared log time axis in real units
    ax_h.set_xscale("log")
    ax_h.set_xlim(lo, hi)
    ticks = _time_ticks(lo, hi, top)
    for ax in (ax_h, ax_k):
        ax.xaxis.set_major_locator(FixedLocator([v for v, _ in ticks]))
        ax.set_xticks([v for v, _ in ticks], [s for _, s in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(labelsize=8)
        ax.tick_params(axis="x", labelbottom=True)
        ax.set_xlabel("time since first access (log scale)", fontsize=8.5)
        ax.grid(axis="x", color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.suptitle(f"Time to detection: {_plural(n, 'replication')}, "
                 f"{_count_share(int(detected.sum()), n)} detected within {format_hours(horizon)}",
                 fontsize=10.5)

    atomic.save_figure(fig, path, dpi=150)


def _survival_in_range(km: stats.KMResult, t: float) -> tuple[float, float, float]:
    """:func:`stats.km_survival_at` for a ``t`` within the follow-up, where it is never None."""
    at = stats.km_survival_at(km, min(t, km.max_time))
    assert at is not None
    return at


def _time_ticks(lo: float, hi: float, top: float) -> list[tuple[float, str]]:
    """Labelled ticks in real units for a log axis on ``[lo, hi]`` hours, none crowding another.

    First the round units of ``_TICKS`` (1 h, 1 d, 1 w, 1 mo, 6 mo, 1 y, ...) that fall in range,
    longest first, each at least 9% of the axis (in log space) from the ones kept; then the
    in-between ones of ``_MINOR_TICKS`` (10 min, 6 h, 3 mo) where they have 15% of room. With
    fewer than two ticks it labels ``lo`` and ``top`` with :func:`format_hours` instead.
    """
    span = math.log10(hi / lo)
    kept: list[tuple[float, str]] = []

    def room(value: float, share: float) -> bool:
        return all(abs(math.log10(value / k)) >= share * span for k, _ in kept)

    for ticks, share in ((_TICKS, 0.09), (_MINOR_TICKS, 0.15)):
        for value, label in reversed(ticks):
            if lo <= value <= hi and room(value, share):
                kept.append((value, label))
    if len(kept) < 2:
        kept = [(lo * 1.2, format_hours(lo * 1.2)), (top, format_hours(top))]
    return sorted(kept)


def _count_share(k: int, n: int) -> str:
    """``"193 (96.5%)"``: a count with its share of ``n``."""
    return f"{k} ({100.0 * k / n:.1f}%)" if n else f"{k}"


# ----------------------------------------------------------------------------- text


def _records_text(value: float | None) -> str:
    """``512``, ``12.3K``, ``30.1M``, ``1.2B`` records."""
    if value is None:
        return "n/a"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.1f}{suffix}"
    return f"{value:.0f}"


def _pct(p: float | None) -> str:
    return "n/a" if p is None else f"{100.0 * p:.1f}"


def _team_lines(block: Mapping[str, Any] | None) -> list[str]:
    """What the printed summary says of the analyst team (``summary["triage"]``, written by
    :func:`sim.controls.triage.team_summary`): one warning line when it is overloaded, one
    note when the warm-up is too short for its queue; nothing when all is well."""
    if not block:
        return []
    lines = []
    what = "cases" if block.get("discipline") == "risk_based" else "alerts"
    if block.get("overloaded"):
        drop = block.get("dropped_fraction")
        dropped = f", {100 * drop:.0f}% of {what} aged out unreviewed" if drop is not None else ""
        lines.append(f"warning: the analyst team is overloaded (offered load "
                     f"{block['offered_load']:.2f} >= 1: {block['items_per_hour']:.3g} "
                     f"{what}/hour for {block['analysts_on_shift']:.3g} analysts on shift"
                     f"{dropped}); waits are set by triage.max_alert_age, not by the team")
    if block.get("warmup_short"):
        relax = block.get("relaxation_hours")
        relax_text = "never settles" if relax is None else f"relaxes in {format_hours(relax)}"
        lines.append(f"note: triage.warmup ({format_hours(block['warmup_hours'])}) is under three "
                     f"relaxation times of the queue (it {relax_text}): the insider may meet a "
                     f"queue that has not reached its usual state")
    return lines


def format_summary(summary: Mapping[str, Any], *, scenario: str, run_dir: str,
                   seed: int | None = None) -> str:
    """A few lines for the terminal from a :func:`summarize` dict.

    Example::

        coupang_2025: 200 replications (seed 0), horizon 1.0 y
          detected          96.5% [93.0, 98.3]   by external_discovery 150, audit 43
          dwell             median 4.8 mo (95% CI 4.6 mo-5.0 mo), p10 2.6 mo, p90 6.6 mo
          exfiltrated       median 30.1M records (mean 28.4M)
          alerts/replication  true 0.0, false 412.3, dropped 0.0
        outputs in /path/to/run_dir

    The dwell median and its interval are the Kaplan-Meier ones (they account for censoring);
    p10/p90 count censored replications at the horizon, shown as ``>= horizon`` when reached.

    Args:
        summary: the dict returned by :func:`summarize` (or read back from summary.json).
        scenario: the scenario name for the first line.
        run_dir: the run directory, named on the last line.
        seed: the run's root seed, shown when given (default: ``summary["seed"]`` if present).
    """
    n = summary["replications"]
    horizon = float(summary["horizon_hours"])
    if seed is None:
        seed = summary.get("seed")
    seed_text = f" (seed {seed})" if seed is not None else ""
    lines = [f"{scenario}: {_plural(n, 'replication')}{seed_text}, horizon {format_hours(horizon)}"]
    shard = summary.get("shard")
    if isinstance(shard, Mapping):  # one shard of a larger job: say so before any figure
        lines[0] += (f"; shard {shard.get('index')} of {shard.get('of')}: replications "
                     f"{shard.get('first')}-{int(shard.get('stop', 0)) - 1} of "
                     f"{shard.get('replications')} (python -m sim.report --pool joins the "
                     f"shards)")
    if n == 0:
        lines.append("  no replications")
        lines.append(f"outputs in {run_dir}")
        return "\n".join(lines)

    ci = summary.get("detected_fraction_ci95")
    ci_text = f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else ""
    by = ", ".join(f"{name} {count}" for name, count in summary["detected_by"].items())
    lines.append(f"  {'detected':<18}{_pct(summary['detected_fraction'])}%{ci_text}"
                 + (f"   by {by}" if by else ""))

    def dur(h: float | None) -> str:
        if h is None:
            return "n/a"
        if summary["censored"] and h >= horizon:
            return f">= {format_hours(horizon)}"
        return format_hours(h)

    km_med = summary.get("km_median_dwell_hours")
    km_ci = summary.get("km_median_ci95")
    if km_med is None:
        median_text = f"median > {format_hours(horizon)} (not reached)"
    else:
        median_text = f"median {format_hours(km_med)}"
        if km_ci:
            lo = format_hours(km_ci[0]) if km_ci[0] is not None else "?"
            if km_ci[1] is None:
                median_text += f" (95% CI {lo}-not reached)"
            else:
                median_text += f" (95% CI {lo}-{format_hours(km_ci[1])})"
    dwell = summary["dwell_hours"]
    lines.append(f"  {'dwell':<18}{median_text}, p10 {dur(dwell['p10'])}, p90 {dur(dwell['p90'])}")

    rec = summary["records_exfiltrated"]
    lines.append(f"  {'exfiltrated':<18}median {_records_text(rec['median'])} records "
                 f"(mean {_records_text(rec['mean'])})")
    alerts = summary["alerts"]
    lines.append(f"  alerts/replication  true {alerts['true_mean']:.1f}, "
                 f"false {alerts['false_mean']:.1f}, dropped {alerts['dropped_mean']:.1f}")
    crew = summary.get("crew")
    if isinstance(crew, Mapping):
        last = crew["last_stopped_hours"]["median"]
        lines.append(f"  {'crew':<18}{crew['insiders']} insiders: "
                     f"{crew['identified_mean']:.1f} identified, {crew['stopped_mean']:.1f} "
                     f"stopped per replication, all stopped in {_pct(crew['all_stopped'])}%, "
                     f"last access ended at median {dur(last)}")
    lines += [f"  {line}" for line in _team_lines(summary.get("triage"))]
    for note in summary.get("notes", []):
        lines.append(f"  note: {note}")
    lines.append(f"outputs in {run_dir}")
    return "\n".join(lines)
