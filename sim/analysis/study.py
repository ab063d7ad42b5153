"""A study file: a scenario, its assumption parameters with ranges, and what is measured.

A study (``conf/sensitivity/*.yaml``, ``conf/calibration/*.yaml``) names a scenario of conf/
and the dotted config keys it varies, each over a stated range with the reason for it::

    scenario: coupang_2025          # a conf/scenario option
    overrides: []                   # more Hydra overrides, as on the command line
    replications: 100               # per parameter set
    seed: 2025
    horizon: 1y                     # optional: the scenario's own otherwise
    population: {...}               # optional: a mixture of firms and attackers
                                    # (sim.analysis.population)
    parameters:
      detectors.audit.recognition:
        range: [0.01, 0.2]          # numbers, or durations ('5y', '90m') for duration keys
        scale: log                  # linear (default) or log: uniform in log(value)
        why: "assumption: ..."      # where the range comes from (required)

:class:`Scenario` composes the scenario once, then for each parameter set copies the plain
config, sets the keys and builds a model (~15 ms); :data:`OUTPUTS` turns a batch of
replications into the measured numbers. Every mistake in a file is a one-line
:class:`~sim.core.errors.ConfigError` naming the file's key.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sim.core.errors import ConfigError, SimError
from sim.core.timeunits import DAY, YEAR, parse_duration
from sim.outputs.results import ReplicationResult
from sim.outputs.stats import kaplan_meier, km_median, km_survival_at

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


# -- outputs ------------------------------------------------------------------------------------
def _km(results: Sequence[ReplicationResult]) -> Any:
    return kaplan_meier([r.dwell_hours for r in results], [r.detected for r in results])


def median_dwell_days(results: Sequence[ReplicationResult], horizon: float) -> float:
    """Kaplan-Meier median dwell in days; the horizon when more than half are undetected
    (a lower bound then: the study's horizon should be long enough that this is rare)."""
    med = km_median(_km(results))
    return (horizon if med is None else med) / DAY


def p_dwell_over(days: float) -> Callable[[Sequence[ReplicationResult], float], float]:
    """``P(dwell > days)``: the Kaplan-Meier survival at that time."""
    def out(results: Sequence[ReplicationResult], horizon: float) -> float:
        at = km_survival_at(_km(results), days * DAY)
        return 1.0 if at is None else at[0]  # beyond follow-up with S > 0: nobody found yet
    return out


def mean_records(results: Sequence[ReplicationResult], horizon: float) -> float:
    """Mean records taken per replication (the expected loss)."""
    return float(np.mean([r.records_exfiltrated for r in results]))


def median_records(results: Sequence[ReplicationResult], horizon: float) -> float:
    """Median records taken per replication."""
    return float(np.median([r.records_exfiltrated for r in results]))


def found_by(detector: str) -> Callable[[Sequence[ReplicationResult], float], float]:
    """Share of replications that ``detector`` confirmed (e.g. outside discovery)."""
    def out(results: Sequence[ReplicationResult], horizon: float) -> float:
        return sum(r.detected_by == detector for r in results) / len(results)
    return out


# -- by detection source, and the response (the industry figures, issue #15) ------------------
#: the detector name of outside discovery (customers, press, extortion: conf/detector/
#: external_discovery.yaml is placed as ``detectors.external`` in every scenario); every other
#: detector is a control of the firm's own ("found internally", in Mandiant's sense)
EXTERNAL = "external"


def _internal(r: ReplicationResult) -> bool:
    return r.detected and r.detected_by != EXTERNAL


def _external(r: ReplicationResult) -> bool:
    return r.detected and r.detected_by == EXTERNAL


def cumulative_incidence(results: Sequence[ReplicationResult],
                         cause: Callable[[ReplicationResult], bool]
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The Aalen-Johansen cumulative incidence of detections for which ``cause(r)`` holds:
    ``F(t) = sum over detection times t_i <= t of S(t_i-) d_i / n_i``, with ``S`` the
    Kaplan-Meier survival of any detection, ``n_i`` at risk and ``d_i`` the detections of
    that cause at ``t_i``; censored replications (undetected at the end of observation) count
    as at risk until then. Returns the distinct detection times of the cause and ``F`` at each.
    With every censoring at the common horizon (a study's batches) ``F(t)`` is the share of
    replications detected by the cause by ``t``."""
    order = sorted(results, key=lambda r: (r.dwell_hours, not r.detected))
    n = len(order)
    surv = 1.0
    times, cif = [], []
    total = 0.0
    i = 0
    while i < n:
        t = order[i].dwell_hours
        j = i
        while j < n and order[j].dwell_hours == t:
            j += 1
        group = order[i:j]
        d_all = sum(r.detected for r in group)
        d_cause = sum(bool(cause(r)) for r in group)
        at_risk = n - i
        if d_cause:
            total += surv * d_cause / at_risk
            times.append(t)
            cif.append(total)
        if d_all:
            surv *= 1.0 - d_all / at_risk
        i = j
    return np.array(times), np.array(cif)


def median_dwell_found(cause: Callable[[ReplicationResult], bool]
                       ) -> Callable[[Sequence[ReplicationResult], float], float]:
    """The median dwell, in days, of replications detected by ``cause`` *among those detected
    by the end of observation*: the first time the cause's cumulative incidence
    (:func:`cumulative_incidence`) reaches half its value at the horizon. Conditioning on
    detection is what Mandiant's medians do (an intrusion nobody found is in no report); a
    replication still undetected at the horizon would have been found later, so the median is
    of breaches found within the horizon (keep the horizon long against it; ``share_undetected``
    says how many were not). NaN when no replication was detected that way."""
    def out(results: Sequence[ReplicationResult], horizon: float) -> float:
        times, cif = cumulative_incidence(results, cause)
        if not len(cif):
            return math.nan
        return float(times[np.searchsorted(cif, 0.5 * cif[-1] - 1e-12)]) / DAY
    return out


def share_found_internally(results: Sequence[ReplicationResult], horizon: float) -> float:
    """Of the replications detected by the horizon, the share a control of the firm detected
    (any detector but outside discovery): Mandiant's "found internally", whose denominator is
    likewise the intrusions found. NaN when none was detected."""
    detected = sum(r.detected for r in results)
    return math.nan if not detected else sum(map(_internal, results)) / detected


def share_undetected(results: Sequence[ReplicationResult], horizon: float) -> float:
    """Share of replications not detected by the horizon (censored)."""
    return sum(not r.detected for r in results) / len(results)


def response_times(results: Sequence[ReplicationResult]) -> tuple[list[float], list[bool]]:
    """The time from identification to containment of each detected replication, as a
    right-censored sample: an event where a containment ended the access
    (``access_ended_by == "containment"``: ``access_hours - dwell_hours``); censored at
    ``access_hours - dwell_hours`` where the access ended after the detection for another
    reason (the store emptied, the insider stopped) before the response cut it, so the
    containment came later; left out where the access had ended before the detection (the
    results hold nothing of that response).

    Raises:
        ConfigError: a crew's replication, whose ``access_hours`` is the *last* member's end
            while ``dwell_hours`` is the *first* detection: their difference would run through
            the other members' own detections, not one response.
    """
    times, events = [], []
    for r in results:
        if r.insiders > 1:
            raise ConfigError("insider.crew", "the time to contain is defined for a lone "
                                              "insider (a crew's access_hours is its last "
                                              "member's end); leave the crew out")
        if not r.detected:
            continue
        contained = r.access_ended_by == "containment"
        if contained or r.access_hours > r.dwell_hours:
            times.append(r.access_hours - r.dwell_hours)
            events.append(contained)
    return times, events


def mean_time_to_contain_days(results: Sequence[ReplicationResult], horizon: float) -> float:
    """Mean time from identification (the detection that ends the dwell) to containment (the
    response cutting access), in days: the area under the Kaplan-Meier curve of
    :func:`response_times`, up to its largest time. Counted from identification, as IBM's mean
    time to contain is (and as we read Ponemon's). Kaplan-Meier, not the plain mean of the
    contained ones: an insider who empties the store while the response is under way ends
    its own access, and leaving those out would drop the long responses (the response delay
    is drawn independently of the insider, so this censoring is independent). When the
    largest time is censored the area is a lower bound (a restricted mean). NaN when no
    response was observed."""
    times, events = response_times(results)
    if not any(events):
        return math.nan
    km = kaplan_meier(times, events)
    edges = np.concatenate([[0.0], km.times, [km.max_time]])
    heights = np.concatenate([[1.0], km.survival])
    return float(np.sum(heights * np.diff(edges))) / DAY


def mean_time_to_identify_contain_days(results: Sequence[ReplicationResult],
                                       horizon: float) -> float:
    """IBM's breach lifecycle: mean time to identify (first access to detection, over the
    replications detected by the horizon) plus :func:`mean_time_to_contain_days`, in days. The
    response delay is drawn independently of the dwell, so the sum of the two means is the
    mean of the sums, also over detections whose own containment is not in the results. Means
    over detected breaches only, as IBM's sample holds only breaches that were found; the
    horizon cuts the long tail a mean is sensitive to, so this is a lower bound on the mean
    over every breach eventually found (``share_undetected`` says how much is cut). NaN when
    nothing was detected or contained."""
    dwell = [r.dwell_hours for r in results if r.detected]
    if not dwell:
        return math.nan
    return float(np.mean(dwell)) / DAY + mean_time_to_contain_days(results, horizon)


#: name -> (function of (results, horizon hours), what it measures, unit).
OUTPUTS: dict[str, tuple[Callable[[Sequence[ReplicationResult], float], float], str, str]] = {
    "median_dwell_days": (median_dwell_days, "median dwell (Kaplan-Meier)", "days"),
    "p_dwell_over_7d": (p_dwell_over(7), "P(dwell > 7 days)", "probability"),
    "p_dwell_over_30d": (p_dwell_over(30), "P(dwell > 30 days)", "probability"),
    "mean_records": (mean_records, "mean records taken", "records"),
    "median_records": (median_records, "median records taken", "records"),
    "found_externally": (found_by("external"), "share found by outside discovery", "share"),
    "median_dwell_detected_days": (median_dwell_found(lambda r: r.detected),
                                   "median dwell of breaches found by the horizon", "days"),
    "median_dwell_internal_days": (median_dwell_found(_internal),
                                   "median dwell of breaches found internally", "days"),
    "median_dwell_external_days": (median_dwell_found(_external),
                                   "median dwell of breaches found by outside discovery",
                                   "days"),
    "share_found_internally": (share_found_internally, "share of found breaches found "
                                                       "internally", "share"),
    "share_undetected": (share_undetected, "share not found by the horizon", "share"),
    "mean_time_to_contain_days": (mean_time_to_contain_days,
                                  "mean time from identification to containment", "days"),
    "mean_time_to_identify_contain_days": (mean_time_to_identify_contain_days,
                                           "mean time to identify + contain", "days"),
}


def check_outputs(names: Any, key: str) -> list[str]:
    """``names`` as a non-empty list of known output names."""
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise ConfigError(key, f"must be a list of outputs from {', '.join(OUTPUTS)}")
    for i, name in enumerate(names):
        if name not in OUTPUTS:
            raise ConfigError(f"{key}[{i}]", f"unknown output {name!r}{_hint(name, OUTPUTS)}; "
                                             f"allowed: {', '.join(OUTPUTS)}")
    return [str(n) for n in names]


# -- parameters ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    """One varied config key and its range.

    Attributes:
        key: the dotted config key (``detectors.audit.recognition``).
        lo, hi: the range (hours for durations), ``lo < hi``.
        scale: ``linear`` (uniform) or ``log`` (uniform in the logarithm; needs ``lo > 0``).
        integer: round to the nearest integer (a count, e.g. analysts).
        why: where the range comes from.
        duration: the range was given as durations (values are hours).
    """

    key: str
    lo: float
    hi: float
    scale: str = "linear"
    integer: bool = False
    why: str = ""
    duration: bool = False

    def display(self) -> tuple[float, str]:
        """(divisor, unit) to show a value of this parameter: years, days or hours for a
        duration, the number itself otherwise."""
        if not self.duration:
            return 1.0, ""
        for div, unit in ((YEAR, "y"), (DAY, "d")):
            if self.hi >= 2 * div:
                return div, unit
        return 1.0, "h"

    def value(self, u: float) -> float | int:
        """The value at ``u`` in [0, 1] of the range (on the parameter's scale)."""
        if self.scale == "log":
            v = math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        else:
            v = self.lo + u * (self.hi - self.lo)
        v = min(max(v, self.lo), self.hi)
        return int(round(v)) if self.integer else float(v)

    def unit(self, value: float) -> float:
        """The inverse of :meth:`value`: where ``value`` sits in [0, 1] of the range."""
        if self.scale == "log":
            return (math.log(value) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        return (value - self.lo) / (self.hi - self.lo)


PARAMETER_KEYS = ("range", "scale", "integer", "why")


def _hint(name: Any, choices: Any) -> str:
    near = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" (did you mean {near[0]}?)" if near else ""


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(key, f"must be a number or a duration, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    return parse_duration(value, key)


def parse_parameters(node: Any, key: str = "parameters") -> list[Parameter]:
    """The ``parameters`` mapping of a study file as :class:`Parameter` objects, in file order.

    Raises:
        ConfigError: not a mapping, an unknown key, a bad range or scale, or no ``why``.
    """
    if not isinstance(node, Mapping) or not node:
        raise ConfigError(key, "must be a mapping of config key -> {range: [lo, hi], why: ...}")
    params = []
    for name, spec in node.items():
        at = f"{key}.{name}"
        if not isinstance(spec, Mapping):
            raise ConfigError(at, "must be a mapping with range: [lo, hi] and why: '...'")
        for k in spec:
            if k not in PARAMETER_KEYS:
                raise ConfigError(f"{at}.{k}", f"unknown key{_hint(k, PARAMETER_KEYS)}; allowed: "
                                               f"{', '.join(PARAMETER_KEYS)}")
        rng = spec.get("range")
        if isinstance(rng, str) or not isinstance(rng, Sequence) or len(rng) != 2:
            raise ConfigError(f"{at}.range", f"must be [lo, hi], got {rng!r}")
        lo, hi = _number(rng[0], f"{at}.range"), _number(rng[1], f"{at}.range")
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ConfigError(f"{at}.range", f"must be finite with lo < hi, got {list(rng)!r}")
        scale = spec.get("scale", "linear")
        if scale not in ("linear", "log"):
            raise ConfigError(f"{at}.scale", f"must be linear or log, got {scale!r}")
        if scale == "log" and lo <= 0:
            raise ConfigError(f"{at}.range", f"a log scale needs lo > 0, got {lo:g}")
        integer = spec.get("integer", False)
        if not isinstance(integer, bool):
            raise ConfigError(f"{at}.integer", f"must be true or false, got {integer!r}")
        why = spec.get("why")
        if not isinstance(why, str) or not why.strip():
            raise ConfigError(f"{at}.why", "is required: say where the range comes from "
                                           "(a measured fact with its source, or an assumption)")
        duration = isinstance(rng[0], str) or isinstance(rng[1], str)
        params.append(Parameter(str(name), lo, hi, scale, integer, why.strip(), duration))
    return params


def shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (records stay portable)."""
    try:
        return str(Path(path).resolve().relative_to(CONF_DIR.parent))
    except ValueError:
        return str(path)


# -- the file -----------------------------------------------------------------------------------
def load_study(path: str | Path, kind: str) -> tuple[Path, dict[str, Any]]:
    """Read a study file: a path, or the name of one in ``conf/<kind>/``.

    Raises:
        SimError: the file is missing, unreadable, not YAML or not a mapping (one line).
    """
    import yaml

    p = Path(path)
    if not p.exists() and not p.suffix and (CONF_DIR / kind / f"{p}.yaml").exists():
        p = CONF_DIR / kind / f"{p}.yaml"
    if not p.is_file():
        known = ", ".join(sorted(q.stem for q in (CONF_DIR / kind).glob("*.yaml")))
        raise SimError(f"{path}: no such file (or a name in conf/{kind}/: {known})")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SimError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SimError(f"{p}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SimError(f"{p}: must be a mapping of keys (scenario, parameters, ...)")
    return p, data


def check_keys(data: Mapping[str, Any], allowed: Sequence[str], required: Sequence[str]) -> None:
    """Reject unknown and missing top-level keys of a study file."""
    for k in data:
        if k not in allowed:
            raise ConfigError(str(k), f"unknown key{_hint(k, allowed)}; allowed: "
                                      f"{', '.join(allowed)}")
    for k in required:
        if k not in data:
            raise ConfigError(k, "is required")


def positive_int(data: Mapping[str, Any], key: str, default: int | None = None,
                 lo: int = 1, hi: int = 10**7) -> int:
    """``data[key]`` as an integer in [lo, hi]."""
    value = data.get(key.rsplit(".", 1)[-1], default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(key, f"must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def section(data: Mapping[str, Any], key: str, allowed: Sequence[str],
            at: str | None = None) -> Mapping[str, Any]:
    """The mapping ``data[key]`` (empty when absent), with no key outside ``allowed``; errors
    name it ``at`` (default ``key``)."""
    at = at or key
    node = data.get(key) or {}
    if not isinstance(node, Mapping):
        raise ConfigError(at, f"must be a mapping with keys {', '.join(allowed)}")
    for k in node:
        if k not in allowed:
            raise ConfigError(f"{at}.{k}", f"unknown key{_hint(k, allowed)}; allowed: "
                                           f"{', '.join(allowed)}")
    return node


#: The top-level keys every study file has (a kind of study adds its own).
STUDY_KEYS = ("scenario", "overrides", "replications", "seed", "horizon", "parameters",
              "population")


@dataclass(frozen=True, kw_only=True)
class Study:
    """What every study file holds (see the module docstring); sensitivity and calibration
    studies add their own keys.

    Attributes:
        path: the file.
        scenario, overrides: the scenario as on the command line.
        parameters: the varied keys and their ranges.
        replications, seed, horizon: of every batch (horizon None: the scenario's own).
        raw: the file's content, as read.
        factors: the file's ``population`` block, its factors
            (:mod:`sim.analysis.population`); empty: the scenario alone.
    """

    path: Path
    scenario: str
    parameters: tuple[Parameter, ...]
    replications: int = 100
    seed: int = 0
    horizon: Any = None
    overrides: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    factors: tuple[Any, ...] = ()

    #: the sizes a quick run caps (each study kind names its own)
    QUICK: ClassVar[Mapping[str, int]] = {}

    def quick(self) -> Any:
        """The same study at a few runs (a smoke test of the pipeline, not a result): each
        size in :attr:`QUICK` capped at its quick value."""
        return replace(self, **{k: min(getattr(self, k), v) for k, v in self.QUICK.items()})

    def build_scenario(self) -> Any:
        """Compose the scenario (a :class:`Scenario`, or a
        :class:`~sim.analysis.population.Population` when the file has a ``population``) and
        check every parameter against it.

        Raises:
            SimError: a bad scenario, override, key or range, as one line naming the file.
        """
        try:
            if self.factors:
                from sim.analysis.population import Population

                return Population(self.scenario, self.overrides, self.factors,
                                  self.parameters, self.replications, self.seed, self.horizon)
            return Scenario(self.scenario, self.overrides, self.parameters, self.replications,
                            self.seed, self.horizon)
        except ConfigError as err:
            raise SimError(f"{self.path}: {err}") from None


def study_fields(path: Path, data: Mapping[str, Any], replications: int) -> dict[str, Any]:
    """The :class:`Study` fields of a study file's ``data`` (``replications``: the default).

    Raises:
        ConfigError: a bad parameter, override list, replication count or seed.
    """
    overrides = data.get("overrides") or []
    if isinstance(overrides, str) or not isinstance(overrides, Sequence):
        raise ConfigError("overrides", "must be a list of KEY=VALUE strings")
    factors: tuple[Any, ...] = ()
    if data.get("population") is not None:
        from sim.analysis.population import parse_population

        factors = parse_population(data["population"])
    return {"factors": factors, "path": path, "scenario": data["scenario"],
            "parameters": tuple(parse_parameters(data["parameters"])),
            "replications": positive_int(data, "replications", replications, 2, 10**6),
            "seed": positive_int(data, "seed", 0, 0, 2**63), "horizon": data.get("horizon"),
            "overrides": tuple(map(str, overrides)), "raw": data}


def add_study_arguments(parser: Any, kind: str, quick: str) -> None:
    """The arguments every study command takes: CONFIG, ``--out``, ``--quick``, ``--workers``
    (``kind``: the conf/ folder of its files; ``quick``: what ``--quick`` runs)."""
    parser.add_argument("config", help=f"a {kind} file, or a name in conf/{kind}/")
    parser.add_argument("--out", type=Path, help=f"output dir (default outputs/{kind}/NAME...)")
    parser.add_argument("--quick", action="store_true", help=f"a smoke test: {quick}")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")


# -- the scenario -------------------------------------------------------------------------------
def compose_scenario(scenario: str, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The plain config of ``scenario=NAME`` plus ``overrides``, without the app's own keys."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from sim.cli.app import plain_config, split_app_options

    if not isinstance(scenario, str) or not (CONF_DIR / "scenario" / f"{scenario}.yaml").exists():
        known = sorted(p.stem for p in (CONF_DIR / "scenario").glob("*.yaml"))
        raise ConfigError("scenario", f"unknown scenario {scenario!r}{_hint(scenario, known)}; "
                                      f"allowed: {', '.join(known)}")
    if isinstance(overrides, str) or not isinstance(overrides, Sequence):
        raise ConfigError("overrides", f"must be a list of KEY=VALUE strings, got {overrides!r}")
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=[f"scenario={scenario}", *map(str, overrides)])
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError("overrides", str(exc).splitlines()[0]) from None
    plain = plain_config(cfg)
    split_app_options(plain)
    return plain


def _keys(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _keys(v, f"{prefix}{k}.")
    elif prefix:
        yield prefix[:-1]


def set_key(cfg: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` of ``cfg`` (in place); it must already be a leaf of ``cfg``."""
    node: Any = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or parts[-1] not in node or isinstance(node[parts[-1]], dict):
        raise KeyError(key)
    node[parts[-1]] = value


class Scenario:
    """A composed scenario whose named keys a study sets before each batch of replications.

    Args:
        scenario, overrides: as on the command line (``scenario=NAME KEY=VALUE ...``).
        parameters: the keys that will be set; each must be a leaf of the composed config, and
            the model must build at both ends of each range (checked here, once).
        replications, seed, horizon: of every batch (horizon: a duration, or None for the
            scenario's own).
        key: the study file's key of the parameters, for error messages.
    """

    def __init__(self, scenario: str, overrides: Sequence[str], parameters: Sequence[Parameter],
                 replications: int, seed: int, horizon: Any = None,
                 key: str = "parameters") -> None:
        from sim.core.engine import build_model

        self.name = scenario
        self.base = compose_scenario(scenario, overrides)
        self.base["replications"] = replications
        self.base["seed"] = seed
        if horizon is not None:
            self.base["horizon"] = horizon
        self.parameters = tuple(parameters)
        self.seed = seed
        keys = list(_keys(self.base))
        for p in self.parameters:
            try:
                set_key(copy.deepcopy(self.base), p.key, p.lo)
            except KeyError:
                raise ConfigError(f"{key}.{p.key}", f"not a key of scenario {scenario}"
                                  f"{_hint(p.key, keys)}") from None
        model = build_model(self.base)
        self.horizon = model.run.horizon
        for p in self.parameters:
            for end in (p.lo, p.hi):
                try:
                    build_model(self.config({p.key: p.value(0.0 if end == p.lo else 1.0)}))
                except ConfigError as err:
                    raise ConfigError(f"{key}.{p.key}.range", f"the model refuses {end:g}: "
                                      f"{err}") from None

    def config(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the scenario's config with ``values`` (key -> value) set."""
        cfg = copy.deepcopy(self.base)
        for k, v in values.items():
            set_key(cfg, k, v)
        return cfg

    def values(self, units: Sequence[float]) -> dict[str, float | int]:
        """The parameters' values at ``units`` (one number in [0, 1] per parameter)."""
        return {p.key: p.value(float(u)) for p, u in zip(self.parameters, units, strict=True)}

    def simulate(self, values: Mapping[str, Any], seed: int | None = None,
                 replications: int | None = None) -> list[ReplicationResult]:
        """Run the replications of the scenario with ``values`` set (seed: the study's)."""
        from sim.core.engine import build_model, simulate_many

        cfg = self.config(values)
        if replications is not None:
            cfg["replications"] = replications
        model = build_model(cfg)
        s = self.seed if seed is None else seed
        return list(simulate_many(model, s, range(model.run.replications)))

    def measure(self, values: Mapping[str, Any], outputs: Sequence[str],
                seed: int | None = None) -> list[float]:
        """The named :data:`OUTPUTS` of one batch of replications with ``values`` set."""
        results = self.simulate(values, seed)
        return [OUTPUTS[name][0](results, self.horizon) for name in outputs]


_POOL_SCENARIO: Scenario | None = None


def _init_pool(scenario: Scenario) -> None:
    global _POOL_SCENARIO
    _POOL_SCENARIO = scenario


def _measure_one(args: tuple[dict[str, Any], tuple[str, ...]]) -> list[float]:
    assert _POOL_SCENARIO is not None
    return _POOL_SCENARIO.measure(*args)


def measure_many(scenario: Scenario, rows: Sequence[Mapping[str, Any]], outputs: Sequence[str],
                 workers: int = 1, progress: Any = None) -> np.ndarray:
    """The outputs of every parameter set in ``rows`` (same seed for each: common random
    numbers), in order, on ``workers`` processes; ``progress.step()`` after each.

    Returns:
        An array of shape ``(len(rows), len(outputs))``.
    """
    out = np.empty((len(rows), len(outputs)))
    if workers <= 1:
        for i, values in enumerate(rows):
            out[i] = scenario.measure(values, outputs)
            if progress is not None:
                progress.step()
        return out
    tasks = [(dict(v), tuple(outputs)) for v in rows]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_pool,
                             initargs=(scenario,)) as pool:
        for i, y in enumerate(pool.map(_measure_one, tasks, chunksize=4)):
            out[i] = y
            if progress is not None:
                progress.step()
    return out
