"""The policy layer: regulatory regimes, the firm, and what a breach and its controls cost.

The layer sits outside the model. It works on the *plain config* before
:func:`sim.core.engine.build_model` and on each :class:`~sim.outputs.results.ReplicationResult`
after :func:`sim.core.engine.simulate`; the engine never sees it::

    layer = PolicyLayer.from_config(cfg)          # pops cfg["regime"], cfg["firm"]
    if layer is not None:
        cfg, changes = layer.apply_mandates(cfg)  # detectors raised to the regime's mandate
    model = build_model(cfg)
    with ResultWriter(run_dir, extra_columns=layer.columns) as w:
        for result in results:
            w.write(result, extra=layer.price(result, model))
    summary["policy"] = layer.summarize(extra_columns, rows)

A **regime** (config group ``regime``, ``conf/regime/``) does two things.

*It mandates controls* (:class:`MandateParams`): a maximum access-log review interval, a minimum
log retention, required automated monitoring, a minimum number of analysts and 24x7 triage, a
maximum credential age. :meth:`PolicyLayer.apply_mandates` raises a weaker control to the mandate
(an audit every month under a weekly mandate becomes weekly; a missing monitor is added from the
regime's defaults), leaves a stronger one alone, and lists every change in words.

*It prices the outcome* of each replication:

* **Notification deadlines** (:class:`DeadlineParams`), counted from *awareness* = detection
  (the replication's ``dwell_hours``), from a *materiality determination* some time after it
  (SEC 8-K), or from the first *notification* (NIS2's final report). A deadline in business days
  ends at midnight, local time of the deadline's calendar, of the N-th weekday after the day the
  clock starts; weekends are skipped, public holidays are out of scope. The firm files
  ``notify_delay`` after its clock starts, a lognormal draw per replication (firm parameters,
  :class:`FirmParams`), plus the deadline's own ``preparation`` time. A deadline applies when at
  least ``min_people`` people are affected (one record = one person).
* **The fine** (:class:`FineParams`, :func:`fine`): a cap from revenue under the regime's law
  (with an aggravated tier where the law has one), times a *severity* in [0, 1] that is this
  model's rule, not law: ``scale x conduct``, where ``scale = min(1, people/people_full) **
  people_elasticity`` and ``conduct = min(1, base + w_dwell * min(1, dwell/dwell_full) +
  w_controls * missing + w_late * late)``; ``missing`` is the share of the controls a regulator
  expects (``expected_*``) that the (raised) config lacks, ``late`` is 1 when an applicable
  deadline was missed.

**The investigation** after detection reconstructs the breach from the access logs still kept
(:func:`traced_people`): with logs kept ``log_retention`` (the firm's, raised to the regime's
``min_log_retention``), what was taken more than that before awareness cannot be attributed. The
people it names (``people_traced``) are the ones notified (notification cost) and the scale of
the fine (a regulator fines the breach it can establish); the others are never told. So log
retention changes a result only for a breach that lasts longer than the retention: under a
one-year horizon a retention of a year or more changes nothing, by construction.

**Undiscovered breaches** (censored replications: nothing detected the insider by the horizon,
e.g. a key rotation ended the access without anyone noticing) are reported apart, in the
``undiscovered`` column and ``summary["policy"]["undiscovered"]``. Nobody knows of them, so no
notification clock starts: their deadlines are *not applicable* (NaN), not missed; no fine is
imposed within the horizon (``fine_usd`` 0, the cap, tier and severity NaN); nobody is notified
(notification cost 0). The breach cost is still priced, with the records taken by the horizon (the
data is gone; a lower bound). A deadline's ``p_met`` is therefore among discovered breaches.

A **firm** (config group ``firm``, ``conf/firm/``) is revenue, records held, staff, how fast it
notifies, and unit costs (:class:`CostParams`): breach cost as a power law of records taken
(anchored on IBM's malicious-insider average), notification per person, and the yearly cost of
the controls in the config (:func:`control_costs`: analyst FTEs by shift pattern, monitoring and
rule tooling, audit hours, key reviews and rotations). Money columns are in USD; revenue is in the
firm's currency and converted with ``per_usd`` (units of the currency per USD).

Randomness: replication ``r`` of seed ``s`` draws its notification and determination delays from
``SeedSequence(s, spawn_key=(r, crc32(b"policy")))``, a stream of its own, so pricing never changes
a model draw, and the same replication gets the same delays under every regime (common random
numbers across arms).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.errors import ConfigError
from sim.core.params import build, spec
from sim.core.timeunits import DAY, MONTH, WEEK, YEAR, format_hours, parse_duration
from sim.outputs import stats

if TYPE_CHECKING:
    from sim.core.engine import Model
    from sim.outputs.results import ReplicationResult

#: Stream key of the policy layer's draws (``spawn_key=(replication, POLICY_STREAM)``).
POLICY_STREAM = zlib.crc32(b"policy")

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


# ============================================================================ parameters
@dataclass(frozen=True)
class DeadlineParams:
    """One notification deadline of a regime (``regime.deadlines.NAME``).

    Exactly one of ``within`` (calendar time) and ``business_days`` is set.
    """

    label: str = spec("", doc="how the report names it (authority, time, law)")
    within: float | None = spec(None, duration=True, doc="calendar time allowed")
    business_days: int | None = spec(None, lo=1, doc="business days allowed (weekends skipped)")
    after: str = spec("awareness", choices=("awareness", "determination", "notification"),
                      doc="what starts the clock")
    utc_offset_hours: float = spec(9.0, lo=-12, hi=14,
                                   doc="time zone of the business-day calendar")
    preparation: float = spec(0.0, duration=True,
                              doc="time this filing takes on top of the firm's notify delay")
    min_people: int = spec(1, lo=1, doc="applies when at least this many people are affected")

    def check(self) -> None:
        if (self.within is None) == (self.business_days is None):
            raise ConfigError("within", "set exactly one of within (a duration) and "
                                        "business_days (a count)")


@dataclass(frozen=True)
class FineParams:
    """A regime's fine rule (``regime.fine``): the legal cap and this model's severity rule."""

    applies: bool = spec(False, doc="the regime fines breaches at all")
    cap_share: float = spec(0.0, lo=0, hi=1, doc="cap as a share of (related) annual revenue")
    cap_fixed: float = spec(0.0, lo=0, doc="fixed cap in cap_currency (GDPR EUR 10M/20M)")
    cap_currency: str = spec("USD", doc="currency of cap_fixed")
    cap_fixed_per_usd: float = spec(1.0, lo=0, lo_open=True,
                                    doc="units of cap_currency per USD")
    cap_rule: str = spec("revenue", choices=("revenue", "higher"),
                         doc="revenue: share x revenue; higher: the higher of that and cap_fixed")
    related_revenue_only: bool = spec(False,
                                      doc="the cap counts only revenue related to the breach")
    turnover: str = spec("preceding_year", choices=("preceding_year", "mean_3y"),
                         doc="revenue the cap is a share of: the preceding financial year's "
                             "(GDPR Art. 83, NIS2 Art. 34) or the mean of the three years "
                             "before the breach (PIPA Enforcement Decree Art. 60-2)")
    aggravated_cap_share: float | None = spec(None, lo=0, hi=1,
                                              doc="cap share of the aggravated tier (none: no "
                                                  "tier)")
    aggravated_cap_fixed: float | None = spec(None, lo=0, doc="fixed cap of the aggravated tier")
    aggravated_min_people: int | None = spec(None, lo=1,
                                             doc="aggravated from this many people affected")
    aggravated_if_repeat: bool = spec(False, doc="aggravated for a repeat offender")
    aggravated_if_negligent: bool = spec(False, doc="aggravated for gross negligence")
    negligence_missing_share: float = spec(1.0, lo=0, hi=1, lo_open=True,
                                           doc="gross negligence presumed when at least this "
                                               "share of expected controls is missing")
    base: float = spec(0.25, lo=0, hi=1, doc="conduct score of any breach")
    w_dwell: float = spec(0.25, lo=0, hi=1, doc="weight of dwell in the conduct score")
    dwell_full: float = spec(YEAR, duration=True, lo=0, lo_open=True,
                             doc="dwell at which the dwell term is full")
    w_controls: float = spec(0.25, lo=0, hi=1, doc="weight of missing expected controls")
    w_late: float = spec(0.25, lo=0, hi=1, doc="weight of a missed deadline")
    people_full: int = spec(10_000_000, lo=1, doc="people affected at which scale reaches 1")
    people_elasticity: float = spec(0.5, lo=0, doc="exponent of the scale term")
    expected_audit_interval: float | None = spec(MONTH, duration=True, allow_inf=True,
                                                 doc="log review expected at least this often")
    expected_monitoring: bool = spec(True, doc="automated monitoring expected")
    expected_credential_age: float | None = spec(YEAR, duration=True, allow_inf=True,
                                                 doc="keys expected rotated within this age")

    def check(self) -> None:
        if self.aggravated_cap_fixed is not None and self.aggravated_cap_share is None:
            raise ConfigError("aggravated_cap_fixed", "needs aggravated_cap_share (the tier)")

    @property
    def has_aggravated_tier(self) -> bool:
        return self.aggravated_cap_share is not None

    @property
    def expected_count(self) -> int:
        """How many controls the rule expects (the denominator of ``missing``)."""
        return (int(self.expected_audit_interval is not None) + int(self.expected_monitoring)
                + int(self.expected_credential_age is not None))


@dataclass(frozen=True)
class MandateParams:
    """Controls a regime requires (``regime.mandates``); ``None``/false/0 = no requirement."""

    max_audit_interval: float | None = spec(None, duration=True, lo=0, lo_open=True,
                                            doc="access logs reviewed at least this often")
    min_log_retention: float | None = spec(None, duration=True, allow_inf=True,
                                           doc="access logs kept at least this long")
    min_log_retention_large: float | None = spec(None, duration=True, allow_inf=True,
                                                 doc="... for a firm holding large_subjects+")
    large_subjects: int = spec(50_000, lo=0, doc="records held from which a firm is large")
    require_monitoring: bool = spec(False, doc="automated log review required")
    min_analysts: int = spec(0, lo=0, doc="analysts on shift at once, at least")
    require_24x7: bool = spec(False, doc="alerts triaged around the clock")
    max_credential_age: float | None = spec(None, duration=True, lo=0, lo_open=True,
                                            doc="credentials rotated once older than this")
    credential_review_interval: float = spec(MONTH, duration=True, lo=0, lo_open=True,
                                             doc="how often a mandated key review runs")
    audit: dict = spec({}, doc="PeriodicAudit parameters of an added audit")
    monitoring: dict = spec({}, doc="ContinuousMonitoring parameters of an added monitor")
    why: dict = spec({}, doc="kind -> the rule and its source, quoted in the change list")

    def check(self) -> None:
        kinds = {"audit", "retention", "monitoring", "analysts", "credentials"}
        unknown = sorted(set(self.why) - kinds)
        if unknown:
            raise ConfigError(f"why.{unknown[0]}", f"unknown kind; kinds are "
                                                   f"{', '.join(sorted(kinds))}")


@dataclass(frozen=True)
class RegimeParams:
    """A regulatory regime (config group ``regime``); see the module docstring."""

    name: str = spec("none", doc="the option's name, e.g. kr_pipa_2023")
    title: str = spec("", doc="one line for reports")
    scope_fields: list[str] = spec([], doc="the regime applies only when the breached data "
                                           "holds one of these fields (empty: always)")
    mandates: dict = spec({}, doc="see MandateParams")
    deadlines: dict = spec({}, doc="name -> DeadlineParams")
    determination_delay_median: float = spec(3 * DAY, duration=True,
                                             doc="detection to materiality determination")
    determination_delay_sigma: float = spec(0.75, lo=0, doc="its lognormal sigma")
    fine: dict = spec({}, doc="see FineParams")


@dataclass(frozen=True)
class CostParams:
    """Unit costs of a firm (``firm.costs``), all in USD."""

    breach_reference_cost_usd: float = spec(4.99e6, lo=0,
                                            doc="cost of a breach of breach_reference_people")
    breach_reference_people: float = spec(25_000.0, lo=0, lo_open=True,
                                          doc="size of the reference breach")
    breach_cost_elasticity: float = spec(0.42, lo=0, hi=1.5,
                                         doc="% more cost per % more records taken")
    notification_cost_per_person_usd: float = spec(0.25, lo=0,
                                                   doc="telling one affected person")
    analyst_cost_usd: float = spec(100_000.0, lo=0, doc="one analyst FTE a year, loaded")
    fte_hours_per_week: float = spec(33.8, lo=0, lo_open=True,
                                     doc="hours an FTE covers a week after leave and training")
    monitoring_platform_usd: float = spec(250_000.0, lo=0, doc="monitoring platform a year")
    monitoring_per_employee_usd: float = spec(50.0, lo=0,
                                              doc="monitoring licence per monitored employee")
    rules_platform_usd: float = spec(20_000.0, lo=0, doc="volume-rule upkeep a year")
    audit_rate_usd: float = spec(75.0, lo=0, doc="an auditor's hour")
    audit_overhead_hours: float = spec(4.0, lo=0, doc="fixed hours per audit")
    audit_hours_per_log_hour: float = spec(0.2, lo=0,
                                           doc="hours to review one hour of logs in full")
    engineer_rate_usd: float = spec(75.0, lo=0, doc="an engineer's hour (key reviews)")
    credential_review_hours: float = spec(8.0, lo=0, doc="hours per key review")
    credential_rotation_hours: float = spec(40.0, lo=0, doc="hours per rotation of all keys")


@dataclass(frozen=True)
class FirmParams:
    """The firm whose breach is priced (config group ``firm``)."""

    name: str = spec("generic", doc="the option's name")
    title: str = spec("a generic mid-size firm", doc="one line for reports")
    currency: str = spec("USD", doc="currency of revenue and the known fine")
    per_usd: float = spec(1.0, lo=0, lo_open=True, doc="units of the currency per USD")
    revenue: float = spec(5e8, lo=0, doc="total (worldwide) revenue of the preceding "
                                         "financial year, in currency")
    revenue_mean_3y: float | None = spec(None, lo=0,
                                         doc="mean total revenue of the three financial years "
                                             "before the breach; unset = revenue")
    related_revenue_share: float = spec(1.0, lo=0, hi=1,
                                        doc="share of revenue related to the breached service")
    records_held: int = spec(1_000_000, lo=0, doc="personal records the firm holds")
    employees: int = spec(500, lo=0, doc="staff whose activity a monitor scores")
    log_retention: float = spec(YEAR, duration=True, lo=0, lo_open=True, allow_inf=True,
                                doc="how long the firm keeps access logs (a regime's "
                                    "min_log_retention raises it)")
    repeat_offender: bool = spec(False, doc="fined for a breach within the last 3 years")
    notify_delay_median: float = spec(48.0, duration=True, lo=0, lo_open=True,
                                      doc="median time from the clock's start to filing")
    notify_delay_sigma: float = spec(0.8, lo=0, doc="its lognormal sigma")
    costs: dict = spec({}, doc="see CostParams")
    known_outcome: dict = spec({}, doc="the real outcome, to set the model beside")


@dataclass(frozen=True)
class KnownOutcome:
    """What really happened to the firm (``firm.known_outcome``), shown beside the model."""

    regime: str = spec("", doc="the regime the real fine was imposed under")
    fine: float | None = spec(None, lo=0, doc="the real fine, in the firm's currency")
    label: str = spec("", doc="what and who, with the source")
    dwell: float | None = spec(None, duration=True, doc="the real dwell")
    people: int | None = spec(None, lo=0, doc="people affected in reality")


# ============================================================================ built objects
@dataclass(frozen=True)
class Regime:
    """A validated regime: its parameters and built parts."""

    name: str
    title: str
    mandates: MandateParams
    deadlines: dict[str, DeadlineParams]
    fine: FineParams
    determination_delay_median: float
    determination_delay_sigma: float
    scope_fields: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, path: str = "regime") -> Regime:
        """Validate ``mapping`` (a ``regime`` config node).

        Raises:
            ConfigError: a bad key or value, named by its dotted key.
        """
        p = build(RegimeParams, _mapping(mapping, path), path)
        if not _KEY.match(p.name):
            raise ConfigError(f"{path}.name", f"must be lower-case letters, digits and _, "
                                              f"got {p.name!r}")
        mandates = build(MandateParams, p.mandates, f"{path}.mandates")
        deadlines = {}
        for key, node in p.deadlines.items():
            if not _KEY.match(str(key)):
                raise ConfigError(f"{path}.deadlines.{key}", "deadline names must be lower-case "
                                                             "letters, digits and _")
            deadlines[str(key)] = build(DeadlineParams, _mapping(node, f"{path}.deadlines.{key}"),
                                        f"{path}.deadlines.{key}")
        fine_params = build(FineParams, p.fine, f"{path}.fine")
        return cls(p.name, p.title or p.name, mandates, deadlines, fine_params,
                   p.determination_delay_median, p.determination_delay_sigma,
                   tuple(p.scope_fields))


@dataclass(frozen=True)
class Firm:
    """A validated firm profile with its unit costs and known outcome."""

    params: FirmParams
    costs: CostParams
    known: KnownOutcome | None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, path: str = "firm") -> Firm:
        """Validate ``mapping`` (a ``firm`` config node; ``None`` = the generic defaults).

        Raises:
            ConfigError: a bad key or value, named by its dotted key.
        """
        p = build(FirmParams, _mapping(mapping, path), path)
        costs = build(CostParams, p.costs, f"{path}.costs")
        known = build(KnownOutcome, p.known_outcome, f"{path}.known_outcome") \
            if p.known_outcome else None
        return cls(p, costs, known)

    def log_retention(self, regime: Regime, applies: bool = True) -> float:
        """How long access logs are kept under ``regime``: the firm's own retention, raised to
        the regime's minimum (the large-firm minimum from ``large_subjects`` records held)."""
        own = self.params.log_retention
        m = regime.mandates
        if not applies:
            return own
        large = self.params.records_held >= m.large_subjects
        need = m.min_log_retention_large if (large and m.min_log_retention_large is not None) \
            else m.min_log_retention
        return own if need is None else max(own, need)

    @property
    def revenue_usd(self) -> float:
        """The preceding financial year's total revenue, in USD."""
        return self.params.revenue / self.params.per_usd

    def turnover_usd(self, basis: str) -> float:
        """The revenue a fine cap is a share of, in USD: ``preceding_year`` or ``mean_3y``
        (the three-year mean, the preceding year's revenue when the firm gives none)."""
        if basis == "mean_3y" and self.params.revenue_mean_3y is not None:
            return self.params.revenue_mean_3y / self.params.per_usd
        return self.revenue_usd


def _mapping(node: Any, path: str) -> Mapping[str, Any]:
    if node is None:
        return {}
    if not isinstance(node, Mapping):
        raise ConfigError(path, f"must be a mapping of keys, got {node!r}")
    return node


# ============================================================================ pure rules
@dataclass(frozen=True)
class FineResult:
    """The fine of one breach under a rule (all USD)."""

    cap_usd: float
    aggravated: bool
    severity: float
    fine_usd: float


def fine(rule: FineParams, firm: Firm, people: int, dwell_hours: float, missing: float,
         late: bool) -> FineResult:
    """The expected fine of a breach under ``rule`` (see the module docstring for the formula).

    Args:
        rule: the regime's fine rule (``rule.applies`` must be true).
        firm: the firm fined (revenue, currency, repeat offender).
        people: people affected (records taken).
        dwell_hours: how long the breach went undetected (the horizon when censored).
        missing: the share of the rule's expected controls the firm lacked, in [0, 1].
        late: an applicable notification deadline was missed.

    Returns:
        The cap (aggravated tier when a condition holds), the severity in [0, 1] and the fine
        ``cap * severity``, in USD.
    """
    revenue = firm.turnover_usd(rule.turnover)
    if rule.related_revenue_only:
        revenue *= firm.params.related_revenue_share
    negligent = rule.aggravated_if_negligent and missing > 0 and \
        missing >= rule.negligence_missing_share - 1e-12
    aggravated = rule.has_aggravated_tier and (
        (rule.aggravated_min_people is not None and people >= rule.aggravated_min_people)
        or (rule.aggravated_if_repeat and firm.params.repeat_offender) or negligent)
    if aggravated:
        share = rule.aggravated_cap_share
        fixed = rule.aggravated_cap_fixed if rule.aggravated_cap_fixed is not None \
            else rule.cap_fixed
    else:
        share, fixed = rule.cap_share, rule.cap_fixed
    assert share is not None
    cap = share * revenue
    if rule.cap_rule == "higher":
        cap = max(cap, fixed / rule.cap_fixed_per_usd)
    if people <= 0:
        return FineResult(cap, bool(aggravated), 0.0, 0.0)
    scale = min(1.0, people / rule.people_full) ** rule.people_elasticity
    conduct = min(1.0, rule.base + rule.w_dwell * min(1.0, dwell_hours / rule.dwell_full)
                  + rule.w_controls * missing + rule.w_late * float(late))
    severity = scale * conduct
    return FineResult(cap, bool(aggravated), severity, cap * severity)


def traced_people(people: int, dwell_hours: float, access_hours: float,
                  retention_hours: float) -> int:
    """People the investigation can name from the access logs still kept at awareness.

    Awareness comes at ``dwell_hours``; logs older than ``retention_hours`` are gone by then,
    so only what was taken from ``dwell - retention`` on can be reconstructed. Records are taken
    at an even rate over the access period ``[0, access_hours]`` (the model keeps no per-session
    log in the result; sessions are many and spread, so this is the expected share). Access that
    continued after awareness (until containment) is logged and traced in full.
    """
    if people <= 0:
        return 0
    gone_before = max(0.0, dwell_hours - retention_hours)
    if gone_before <= 0.0 or access_hours <= 0.0:
        return people
    if gone_before >= access_hours:
        return 0
    return int(round(people * (access_hours - gone_before) / access_hours))


def breach_cost_usd(costs: CostParams, people: int) -> float:
    """Cost of a breach of ``people`` records, fines excluded:
    ``reference_cost * (people / reference_people) ** elasticity``; 0 for no records."""
    if people <= 0:
        return 0.0
    return costs.breach_reference_cost_usd * (
        people / costs.breach_reference_people) ** costs.breach_cost_elasticity


def business_day_deadline(start: datetime, days: int, utc_offset_hours: float) -> datetime:
    """The end (midnight, local time) of the ``days``-th business day after ``start``'s day.

    The day the clock starts does not count; Saturdays and Sundays are skipped; public holidays
    are not modelled. A clock that starts on Friday with 4 business days ends at the end of the
    next Thursday; one that starts on Saturday, at the end of Thursday too.

    Args:
        start: when the clock starts (an aware datetime).
        days: business days allowed (>= 1).
        utc_offset_hours: the calendar's fixed offset from UTC (no daylight saving).
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    zone = timezone(timedelta(hours=utc_offset_hours))
    day = start.astimezone(zone).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def deadline_hours(deadline: DeadlineParams, clock_start: float, calendar_start: datetime
                   ) -> float:
    """The deadline in simulation hours for a clock that starts at ``clock_start`` hours.

    Args:
        deadline: the deadline rule.
        clock_start: simulation time (hours since first access) at which the clock starts.
        calendar_start: the wall-clock instant of simulation time 0 (``model.calendar.start``).
    """
    if deadline.within is not None:
        return clock_start + deadline.within
    assert deadline.business_days is not None
    start = calendar_start + timedelta(hours=clock_start)
    end = business_day_deadline(start, deadline.business_days, deadline.utc_offset_hours)
    return (end - calendar_start).total_seconds() / 3600.0


# ============================================================================ controls
@dataclass(frozen=True)
class ControlsInPlace:
    """The controls a model has, as the fine rule and the cost model see them."""

    audit_interval: float       # shortest audit interval (inf: no audit)
    monitoring: bool            # continuous monitoring with at least one analyst
    credential_age: float       # tightest max credential age of a key review (inf: none)
    revoke_leavers: bool        # a key review revokes former employees' credentials

    def missing_share(self, rule: FineParams) -> float:
        """Share of the controls ``rule`` expects that are missing (0 when it expects none)."""
        if rule.expected_count == 0:
            return 0.0
        missing = 0
        if rule.expected_audit_interval is not None and \
                self.audit_interval > rule.expected_audit_interval + 1e-9:
            missing += 1
        if rule.expected_monitoring and not self.monitoring:
            missing += 1
        if rule.expected_credential_age is not None and not self.revoke_leavers and \
                self.credential_age > rule.expected_credential_age + 1e-9:
            missing += 1
        return missing / rule.expected_count


#: Control kinds a detector may declare (``Detector.control_kind``), and the parameters the
#: policy layer reads from a detector of that kind (None: an optional one, with its default).
CONTROL_KINDS: dict[str, dict[str, Any]] = {
    "audit": {"interval": None, "coverage": 1.0, "lookback": math.nan, "retention": math.inf},
    "monitoring": {},
    "rules": {},
    "hygiene": {"interval": None, "max_credential_age": math.inf,
                "revoke_former_employees": False},
}


def control_kind(detector: Any) -> str | None:
    """The control kind ``detector`` (an instance or a class) declares, checked.

    Raises:
        ConfigError: an unknown kind, or a detector of a kind without a parameter the policy
            layer must read (``interval`` of an audit or a credential review).
    """
    cls = detector if isinstance(detector, type) else type(detector)
    kind = getattr(cls, "control_kind", None)
    name = f"detectors.{getattr(detector, 'name', '') or cls.__name__}"
    if kind is None:
        return None
    if kind not in CONTROL_KINDS:
        raise ConfigError(name, f"{cls.__name__}.control_kind must be one of "
                                f"{', '.join(CONTROL_KINDS)} or None, got {kind!r}")
    if not isinstance(detector, type):
        for param, default in CONTROL_KINDS[kind].items():
            if default is None and not hasattr(getattr(detector, "params", None), param):
                raise ConfigError(name, f"a control of kind {kind!r} needs a parameter "
                                        f"{param!r} for the policy layer to price it")
    return kind


def _param(detector: Any, kind: str, name: str) -> Any:
    return getattr(detector.params, name, CONTROL_KINDS[kind][name])


def controls_in_place(model: Model) -> ControlsInPlace:
    """Read the controls of a built model, by the kind each detector declares
    (``Detector.control_kind``, see :data:`CONTROL_KINDS`), built in or not."""
    kinds = [(d, control_kind(d)) for d in model.detectors]
    audit = min((float(d.params.interval) for d, k in kinds if k == "audit"), default=math.inf)
    monitoring = model.triage.analysts > 0 and any(k == "monitoring" for _, k in kinds)
    hygiene = [d for d, k in kinds if k == "hygiene"]
    age = min((float(_param(d, "hygiene", "max_credential_age")) for d in hygiene),
              default=math.inf)
    leavers = any(bool(_param(d, "hygiene", "revoke_former_employees")) for d in hygiene)
    return ControlsInPlace(audit, monitoring, age, leavers)


@dataclass(frozen=True)
class ControlCosts:
    """What the controls of a model cost a year (USD), with the quantities behind it."""

    analyst_fte: float
    analysts_usd: float
    monitoring_usd: float
    rules_usd: float
    audit_hours: float
    audits_usd: float
    credential_hours: float
    credentials_usd: float

    @property
    def total_usd(self) -> float:
        return (self.analysts_usd + self.monitoring_usd + self.rules_usd + self.audits_usd
                + self.credentials_usd)

    def as_dict(self) -> dict[str, float]:
        return {**dataclasses.asdict(self), "total_usd": self.total_usd}


def fte_per_seat(shift: str, shift_hours: float, fte_hours_per_week: float) -> float:
    """FTEs that keep one analyst seat filled: covered hours a week / an FTE's hours a week.

    ``24x7`` covers 168 h a week (about 5 FTE per seat at 33.8 h); ``office_hours`` covers
    ``shift_hours`` on 5 weekdays.
    """
    covered = 168.0 if shift == "24x7" else 5.0 * shift_hours
    return covered / fte_hours_per_week


def control_costs(model: Model, firm: Firm) -> ControlCosts:
    """The yearly cost of the controls in ``model`` for ``firm``.

    * Analysts, only if an alerting detector (continuous monitoring or volume rules) feeds the
      triage queue: ``analysts x fte_per_seat x analyst_cost``.
    * Monitoring tooling per ContinuousMonitoring: platform + licence per monitored employee.
    * Volume rules: ``rules_platform_usd`` per VolumeThreshold.
    * Audits: ``YEAR / interval`` audits of ``overhead + hours_per_log_hour x coverage x
      window`` hours each (window = lookback, at most the retention), so reviewing the same share
      of logs costs about the same whatever the cadence, plus a fixed cost per audit.
    * Key reviews: ``YEAR / interval`` reviews, and ``YEAR / max_credential_age`` rotations of
      every key, at the engineer rate.
    * Outside discovery, the null detector and any detector declaring no ``control_kind``
      cost nothing.

    Each detector is priced by the kind it declares (``Detector.control_kind``), so a
    detector written outside ``sim/`` costs what its kind costs.
    """
    c = firm.costs
    kinds = [(d, control_kind(d)) for d in model.detectors]
    alerting = any(k in ("monitoring", "rules") for _, k in kinds)
    fte = 0.0
    if alerting:
        t = model.triage
        fte = t.analysts * fte_per_seat(t.shift, t.shift_hours, c.fte_hours_per_week)
    monitors = sum(k == "monitoring" for _, k in kinds)
    rules = sum(k == "rules" for _, k in kinds)
    audit_hours = 0.0
    for d, k in kinds:
        if k == "audit":
            interval = float(d.params.interval)
            lookback = float(_param(d, "audit", "lookback"))
            lookback = interval if math.isnan(lookback) else lookback
            window = min(lookback, float(_param(d, "audit", "retention")))
            per_audit = (c.audit_overhead_hours + c.audit_hours_per_log_hour
                         * float(_param(d, "audit", "coverage")) * window)
            audit_hours += YEAR / interval * per_audit
    cred_hours = 0.0
    for d, k in kinds:
        if k == "hygiene":
            cred_hours += YEAR / float(d.params.interval) * c.credential_review_hours
            age = float(_param(d, "hygiene", "max_credential_age"))
            if math.isfinite(age) and age > 0:
                cred_hours += YEAR / age * c.credential_rotation_hours
    return ControlCosts(
        analyst_fte=fte, analysts_usd=fte * c.analyst_cost_usd,
        monitoring_usd=monitors * (c.monitoring_platform_usd
                                   + c.monitoring_per_employee_usd * firm.params.employees),
        rules_usd=rules * c.rules_platform_usd, audit_hours=audit_hours,
        audits_usd=audit_hours * c.audit_rate_usd, credential_hours=cred_hours,
        credentials_usd=cred_hours * c.engineer_rate_usd)


# ============================================================================ mandates
def _short(hours: float) -> str:
    """A duration as a config would write it: ``1mo``, ``1w``, ``24h``, else format_hours."""
    if math.isinf(hours):
        return "inf"
    for unit, size in (("y", YEAR), ("mo", MONTH), ("w", WEEK), ("d", DAY)):
        n = hours / size
        if n >= 1 and abs(n - round(n)) < 1e-9:
            return f"{round(n)}{unit}"
    if abs(hours - round(hours)) < 1e-9:
        return f"{round(hours)}h"
    return format_hours(hours)


def _shown(value: Any) -> str:
    """A config value as the change list shows it (the string as written, else a duration)."""
    if isinstance(value, str):
        return value
    return _short(float(value))


def _field_default(cls: type, name: str) -> Any:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.default
    raise KeyError(name)


def _kind(node: Any) -> str | None:
    """``audit``, ``monitoring``, ``hygiene``, ``rules`` or None for a detector config node."""
    if not isinstance(node, Mapping) or "_target_" not in node:
        return None
    from hydra.utils import get_object

    try:
        cls = get_object(str(node["_target_"]))
    except Exception:  # noqa: BLE001 - build_model reports a bad target with its key
        return None
    if not isinstance(cls, type):
        return None
    kind = getattr(cls, "control_kind", None)
    return kind if kind in CONTROL_KINDS else None


def _free_name(detectors: Mapping[str, Any], name: str) -> str:
    if detectors.get(name) is None:
        return name
    n = 2
    while detectors.get(f"{name}{n}") is not None:
        n += 1
    return f"{name}{n}"


# ============================================================================ the layer
#: Money columns, after the deadline columns (see :attr:`PolicyLayer.columns`).
MONEY_COLUMNS: tuple[str, ...] = (
    "fine_cap_usd", "fine_aggravated", "fine_severity", "fine_usd", "breach_cost_usd",
    "notification_cost_usd", "control_cost_usd", "social_cost_usd", "firm_cost_usd",
)


@dataclass
class PolicyLayer:
    """A regime and a firm, applied to one job (see the module docstring).

    Attributes:
        regime: the validated regime.
        firm: the validated firm.
        changes: what :meth:`apply_mandates` changed, in words (empty before it runs).
    """

    regime: Regime
    firm: Firm
    changes: list[str] = field(default_factory=list)
    #: False when the regime's scope (``scope_fields``) excludes the breached data: then it
    #: mandates nothing, sets no deadline and imposes no fine (see :meth:`build`).
    applies: bool = True
    scope_note: str = ""
    _costs: ControlCosts | None = field(default=None, repr=False)
    _controls: ControlsInPlace | None = field(default=None, repr=False)
    _model_id: int | None = field(default=None, repr=False)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> PolicyLayer | None:
        """Pop ``cfg["regime"]`` and ``cfg["firm"]`` (in place) and build the layer.

        Returns:
            None when there is no policy: no regime (absent, null, or ``name: none``) and no
            firm; the job's outputs are then exactly as without the layer. A firm without a
            regime prices under ``none`` (costs, no deadlines or fines); a regime without a firm
            prices the generic firm of :class:`FirmParams` (``conf/firm/generic.yaml``).

        Raises:
            ConfigError: a bad regime or firm value, named by its dotted key.
        """
        regime_node = cfg.pop("regime", None)
        firm_node = cfg.pop("firm", None)
        regime = Regime.from_mapping(regime_node)
        if regime.name == "none" and firm_node is None:
            return None
        return cls(regime, Firm.from_mapping(firm_node))

    # -- scope and building ----------------------------------------------------------------------
    @staticmethod
    def breached_fields(model: Model) -> list[str]:
        """The fields of every datastore the insider's credential reaches (what a stolen record
        holds), sorted."""
        fields: set[str] = set()
        for store in model.plan.targets:
            fields.update(str(f) for f in model.network.node(store).get("fields") or ())
        return sorted(fields)

    def check_scope(self, model: Model) -> bool:
        """Set :attr:`applies` from the regime's ``scope_fields`` and the breached data of
        ``model``; a regime without ``scope_fields`` always applies."""
        scope = self.regime.scope_fields
        if not scope:
            self.applies, self.scope_note = True, ""
            return True
        fields = self.breached_fields(model)
        hit = sorted(set(scope) & set(fields))
        self.applies = bool(hit)
        self.scope_note = (
            f"{self.regime.name} applies: the breached data holds {', '.join(hit)}" if hit else
            f"{self.regime.name} does not apply: the breached data ({', '.join(fields)}) holds "
            f"none of {', '.join(scope)}; no mandate, deadline or fine")
        return self.applies

    def build(self, cfg: Mapping[str, Any]) -> tuple[dict[str, Any], Model]:
        """The config to simulate and its model: the regime's mandates applied if it applies.

        A regime with ``scope_fields`` applies only when the breached data (the fields of the
        datastores the insider reaches, :meth:`breached_fields`) holds one of them: PCI DSS
        covers cardholder data, not a store of names and addresses. The model is built from
        ``cfg`` first to read that; if the regime applies and its mandates change the config,
        the model is built again from the raised config.

        Returns:
            ``(cfg, model)``: pass both on (``cfg`` is what worker processes rebuild from).
        """
        from sim.core.engine import build_model

        out = dict(cfg)
        if self.regime.scope_fields:
            model = build_model(out)
            if not self.check_scope(model):
                self.changes = []
                return out, model
        raised, changes = self.apply_mandates(out)
        if self.regime.scope_fields and not changes:
            return raised, model
        return raised, build_model(raised)

    # -- mandates ------------------------------------------------------------------------------
    def apply_mandates(self, cfg: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """A copy of ``cfg`` with its controls raised to the regime's mandates.

        A weaker control is raised (an audit interval longer than the mandate is shortened, a
        shorter log retention lengthened, fewer analysts than required raised, office-hours
        triage made 24x7, a credential review's max age or interval tightened); a missing
        control is added (``detectors.audit``, ``detectors.monitoring``,
        ``detectors.hygiene``, or ``NAME2``... if the name is taken) from the regime's
        defaults; a stronger control is left alone. ``cfg`` itself is not modified.

        Returns:
            ``(new_cfg, changes)``: changes read ``detectors.audit.interval: 1mo -> 1d
            (pci_dss_4: daily log review, PCI DSS 4.0.1 10.4.1)``; also kept in
            :attr:`changes`.

        Raises:
            ConfigError: a control the mandate must read has a malformed value.
        """
        from sim.controls.detectors import AuditParams, HygieneParams
        from sim.controls.triage import TriageParams

        out = copy.deepcopy(dict(cfg))
        m = self.regime.mandates
        name = self.regime.name
        changes: list[str] = []

        def note(kind: str, what: str) -> None:
            why = m.why.get(kind, "")
            changes.append(f"{what} ({name}{': ' + why if why else ''})")

        detectors = dict(out.get("detectors") or {})
        kinds = {k: _kind(v) for k, v in detectors.items()}

        # access-log review cadence
        if m.max_audit_interval is not None:
            audits = [k for k, kind in kinds.items() if kind == "audit"]
            if not audits:
                key = _free_name(detectors, "audit")
                detectors[key] = {"_target_": "sim.controls.detectors.PeriodicAudit", **m.audit,
                                  "interval": m.max_audit_interval}
                kinds[key] = "audit"
                note("audit", f"detectors.{key}: added a PeriodicAudit every "
                              f"{_short(m.max_audit_interval)}")
            else:
                for key in audits:
                    node = dict(detectors[key])
                    raw = node.get("interval", _field_default(AuditParams, "interval"))
                    hours = parse_duration(raw, f"detectors.{key}.interval")
                    if hours > m.max_audit_interval + 1e-9:
                        node["interval"] = m.max_audit_interval
                        detectors[key] = node
                        note("audit", f"detectors.{key}.interval: {_shown(raw)} -> "
                                      f"{_short(m.max_audit_interval)}")

        # log retention
        large = self.firm.params.records_held >= m.large_subjects
        retention = m.min_log_retention_large if (large and m.min_log_retention_large
                                                  is not None) else m.min_log_retention
        if retention is not None:
            for key in [k for k, kind in kinds.items() if kind == "audit"]:
                node = dict(detectors[key])
                raw = node.get("retention", _field_default(AuditParams, "retention"))
                hours = parse_duration(raw, f"detectors.{key}.retention", allow_inf=True)
                if hours < retention - 1e-9:
                    node["retention"] = retention
                    detectors[key] = node
                    note("retention", f"detectors.{key}.retention: {_shown(raw)} -> "
                                      f"{_short(retention)}")
            own = self.firm.params.log_retention
            if own < retention - 1e-9:  # what the investigation can read (traced_people)
                note("retention", f"firm.log_retention: {_short(own)} -> {_short(retention)}")

        # automated monitoring
        if m.require_monitoring and "monitoring" not in kinds.values():
            key = _free_name(detectors, "monitoring")
            detectors[key] = {"_target_": "sim.controls.detectors.ContinuousMonitoring",
                              **m.monitoring}
            kinds[key] = "monitoring"
            note("monitoring", f"detectors.{key}: added ContinuousMonitoring")

        # the analyst team
        triage = dict(out.get("triage") or {})
        if m.min_analysts:
            raw = triage.get("analysts", _field_default(TriageParams, "analysts"))
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise ConfigError("triage.analysts", f"must be an integer, got {raw!r}")
            if raw < m.min_analysts:
                triage["analysts"] = m.min_analysts
                note("analysts", f"triage.analysts: {raw} -> {m.min_analysts}")
        if m.require_24x7:
            shift = triage.get("shift", _field_default(TriageParams, "shift"))
            if shift != "24x7":
                triage["shift"] = "24x7"
                note("analysts", f"triage.shift: {shift} -> 24x7")
        if triage != dict(out.get("triage") or {}):
            out["triage"] = triage

        # credential lifetime
        if m.max_credential_age is not None:
            reviews = [k for k, kind in kinds.items() if kind == "hygiene"]
            if not reviews:
                key = _free_name(detectors, "hygiene")
                detectors[key] = {"_target_": "sim.controls.detectors.CredentialHygiene",
                                  "interval": m.credential_review_interval,
                                  "max_credential_age": m.max_credential_age, "coverage": 1.0}
                note("credentials", f"detectors.{key}: added CredentialHygiene rotating keys "
                                    f"older than {_short(m.max_credential_age)}, reviewed every "
                                    f"{_short(m.credential_review_interval)}")
            for key in reviews:
                node = dict(detectors[key])
                raw = node.get("max_credential_age",
                               _field_default(HygieneParams, "max_credential_age"))
                hours = parse_duration(raw, f"detectors.{key}.max_credential_age",
                                       allow_inf=True)
                if hours > m.max_credential_age + 1e-9:
                    node["max_credential_age"] = m.max_credential_age
                    note("credentials", f"detectors.{key}.max_credential_age: {_shown(raw)} "
                                        f"-> {_short(m.max_credential_age)}")
                raw = node.get("interval", _field_default(HygieneParams, "interval"))
                hours = parse_duration(raw, f"detectors.{key}.interval")
                if hours > m.credential_review_interval + 1e-9:
                    node["interval"] = m.credential_review_interval
                    note("credentials", f"detectors.{key}.interval: {_shown(raw)} -> "
                                        f"{_short(m.credential_review_interval)}")
                detectors[key] = node

        if detectors != dict(out.get("detectors") or {}):
            out["detectors"] = detectors
        self.changes = changes
        return out, list(changes)

    # -- pricing -------------------------------------------------------------------------------
    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the extra columns of ``replications.csv``, in :meth:`price` order.

        ``notify_delay_hours`` (clock start to filing), ``notified_at_hours`` (first access to
        the first filing), ``deadline_<name>_met`` for each deadline and ``deadlines_all_met``
        (1/0; NaN where no deadline applies, and for an undiscovered breach), ``undiscovered``
        (1: nothing detected the breach by the horizon), ``people_traced`` (people the
        investigation names from the retained logs, :func:`traced_people`; NaN when
        undiscovered), then :data:`MONEY_COLUMNS`: the fine's
        cap, tier (1 aggravated), severity and amount (NaN when the regime has no fine; an
        undiscovered breach has a fine of 0 and NaN cap, tier and severity), breach and
        notification costs, controls a year, ``social_cost_usd`` = controls + breach +
        notification (a fine is a transfer, not a social cost), ``firm_cost_usd`` = social +
        fine.
        """
        return ("notify_delay_hours", "notified_at_hours",
                *(f"deadline_{k}_met" for k in self.regime.deadlines), "deadlines_all_met",
                "undiscovered", "people_traced", *MONEY_COLUMNS)

    def _prepare(self, model: Model) -> tuple[ControlCosts, ControlsInPlace]:
        if self._model_id != id(model) or self._costs is None or self._controls is None:
            self._costs = control_costs(model, self.firm)
            self._controls = controls_in_place(model)
            self._model_id = id(model)
        return self._costs, self._controls

    def delays(self, seed: int, replication: int) -> tuple[float, float]:
        """``(notify_delay, determination_delay)`` in hours for one replication.

        Both are drawn, in this order, from the policy stream of the replication (two standard
        normals), whatever the regime, so each replication has the same delays in every arm.
        """
        rng = np.random.default_rng(np.random.SeedSequence(
            seed, spawn_key=(replication, POLICY_STREAM)))
        z = rng.standard_normal(2)
        f = self.firm.params
        notify = f.notify_delay_median * math.exp(f.notify_delay_sigma * float(z[0]))
        r = self.regime
        determination = r.determination_delay_median * math.exp(
            r.determination_delay_sigma * float(z[1]))
        return notify, determination

    def price(self, result: ReplicationResult, model: Model) -> tuple[float, ...]:
        """The extra column values of one replication, in :attr:`columns` order.

        Booleans are 1.0/0.0; NaN where a value does not apply (see :attr:`columns`).

        Args:
            result: the replication's result.
            model: the model it was simulated from (the calendar and the controls).
        """
        costs, controls = self._prepare(model)
        people = int(result.records_exfiltrated)
        notify, determination = self.delays(result.seed, result.replication)
        detected = result.detected
        aware = result.dwell_hours
        notified = aware + notify if detected and people > 0 else math.nan
        met: list[float] = []
        for d in self.regime.deadlines.values():
            # an undiscovered breach starts no clock; an out-of-scope regime sets none
            if people < d.min_people or not detected or not self.applies:
                met.append(math.nan)
                continue
            if d.after == "awareness":
                start, filed = aware, aware + notify + d.preparation
            elif d.after == "determination":
                start = aware + determination
                filed = start + notify + d.preparation
            else:  # notification: the clock starts when the first filing is made
                start = aware + notify
                filed = start + d.preparation
            due = deadline_hours(d, start, model.calendar.start)
            met.append(1.0 if filed <= due + 1e-9 else 0.0)
        applicable = [v for v in met if not math.isnan(v)]
        all_met = min(applicable) if applicable else math.nan
        late = bool(applicable) and all_met < 1.0
        traced = traced_people(people, result.dwell_hours, result.access_hours,
                               self.firm.log_retention(self.regime, self.applies)) \
            if detected else 0
        rule = self.regime.fine
        fined = rule.applies and self.applies
        if fined and detected:
            fr = fine(rule, self.firm, traced, result.dwell_hours,
                      controls.missing_share(rule), late)
            cap, aggravated, severity, fine_usd = (fr.cap_usd, float(fr.aggravated),
                                                   fr.severity, fr.fine_usd)
        elif fined:  # nobody knows of the breach: no fine within the horizon
            cap = aggravated = severity = math.nan
            fine_usd = 0.0
        else:
            cap = aggravated = severity = fine_usd = math.nan
        breach = breach_cost_usd(self.firm.costs, people)
        notification = traced * self.firm.costs.notification_cost_per_person_usd
        control = costs.total_usd
        social = control + breach + notification
        total = social + (0.0 if math.isnan(fine_usd) else fine_usd)
        return (notify if detected and people > 0 else math.nan, notified, *met, all_met,
                0.0 if detected else 1.0, float(traced) if detected else math.nan,
                cap, aggravated, severity, fine_usd, breach, notification, control, social, total)

    # -- summary -------------------------------------------------------------------------------
    def summarize(self, extra: Mapping[str, Sequence[float] | np.ndarray],
                  rows: Sequence[ReplicationResult], model: Model | None = None
                  ) -> dict[str, Any]:
        """The ``policy`` entry of ``summary.json`` (plain JSON types; NaN written as None).

        Args:
            extra: the extra columns by name (as :func:`sim.outputs.results.read_table` returns
            them). rows: the replication rows, in the same order.
            model: the job's model; default the one :meth:`price` last saw (for the yearly
                control costs; None without either).

        Returns:
            ``regime``, ``regime_title``, ``firm``, ``firm_title``, ``currency``, ``per_usd``,
            ``changes``; ``deadlines``: per name ``label``, ``applicable`` (replications where
            it applied: discovered breaches only), ``met``, ``p_met`` with Wilson ``ci95``,
            ``detected`` and ``p_met_given_detected`` with its CI (the same numbers now that an
            undiscovered breach has no deadline); ``undiscovered``: ``n``, ``fraction`` with
            Wilson ``ci95``, ``records_mean`` (breaches nobody knows of at the horizon);
            ``all_deadlines_met`` likewise; ``notify_delay_hours``, ``notified_at_hours`` and
            ``people_traced``,
            ``fine_usd``, ``fine_cap_usd``, ``fine_severity``, ``breach_cost_usd``,
            ``notification_cost_usd``, ``social_cost_usd``, ``firm_cost_usd``: ``n`` (finite
            values), ``mean`` with t ``ci95``, ``median`` with order-statistic ``median_ci95``,
            ``p10``, ``p90`` (``None`` where nothing applies); ``fine_aggravated_fraction``;
            ``controls``: the yearly control costs and quantities; ``controls_missing_share``;
            ``known_outcome`` (the firm's real outcome, with the fine in USD); ``notes``.

        Raises:
            ValueError: a column of :attr:`columns` is missing or of the wrong length.
        """
        from sim.outputs.results import _jsonable

        n = len(rows)
        cols: dict[str, np.ndarray] = {}
        for name in self.columns:
            if name not in extra:
                raise ValueError(f"policy column {name!r} missing from the table")
            col = np.asarray(extra[name], dtype=float)
            if col.shape != (n,):
                raise ValueError(f"policy column {name!r} has {col.size} values for {n} rows")
            cols[name] = col
        detected = np.array([r.detected for r in rows], dtype=bool)
        notes: list[str] = [self.scope_note] if self.scope_note else []

        def proportion(values: np.ndarray, mask: np.ndarray | None = None) -> dict[str, Any]:
            v = values if mask is None else values[mask]
            v = v[np.isfinite(v)]
            k, m = int(v.sum()), int(v.size)
            ci = stats.binomial_ci(k, m)
            return {"applicable": m, "met": k, "p_met": k / m if m else None,
                    "ci95": list(ci) if ci else None}

        def deadline_entry(values: np.ndarray, label: str) -> dict[str, Any]:
            overall = proportion(values)
            given = proportion(values, detected)
            return {"label": label, **overall, "detected": given["applicable"],
                    "p_met_given_detected": given["p_met"],
                    "ci95_given_detected": given["ci95"]}

        deadlines = {k: deadline_entry(cols[f"deadline_{k}_met"], d.label or k)
                     for k, d in self.regime.deadlines.items()}
        censored = int((~detected).sum())
        ci = stats.binomial_ci(censored, n) if n else None
        undiscovered = {"n": censored, "fraction": censored / n if n else None,
                        "ci95": list(ci) if ci else None,
                        "records_mean": float(np.mean([r.records_exfiltrated for r in rows
                                                       if not r.detected]))
                        if censored else None}
        if censored:
            notes.append(f"{censored} of {n} breaches undiscovered at the horizon: no deadline "
                         f"applies and no fine is imposed (nobody knows of them); their breach "
                         f"costs, with the records taken by the horizon, are lower bounds")
        costs = self._costs if model is None else control_costs(model, self.firm)
        controls = self._controls if model is None else controls_in_place(model)
        fine_rule = self.regime.fine
        f = self.firm.params
        known = None
        if self.firm.known is not None:
            k = self.firm.known
            known = {"regime": k.regime, "label": k.label, "fine_local": k.fine,
                     "fine_usd": None if k.fine is None else k.fine / f.per_usd,
                     "dwell_hours": k.dwell, "people": k.people,
                     "applies_here": k.regime == self.regime.name}
        aggr = cols["fine_aggravated"]
        summary = {
            "regime": self.regime.name, "regime_title": self.regime.title,
            "firm": f.name, "firm_title": f.title, "currency": f.currency,
            "per_usd": f.per_usd, "changes": list(self.changes),
            "deadlines": deadlines,
            "undiscovered": undiscovered,
            "all_deadlines_met": deadline_entry(cols["deadlines_all_met"], "all deadlines")
            if deadlines else None,
            **{name: describe(cols[name]) for name in (
                "notify_delay_hours", "notified_at_hours", "people_traced", "fine_usd",
                "fine_cap_usd",
                "fine_severity", "breach_cost_usd", "notification_cost_usd",
                "social_cost_usd", "firm_cost_usd")},
            "fine_aggravated_fraction": float(np.nanmean(aggr)) if np.isfinite(aggr).any()
            else None,
            "applies": self.applies,
            "fine_applies": fine_rule.applies and self.applies,
            "controls": costs.as_dict() if costs is not None else None,
            "controls_missing_share": controls.missing_share(fine_rule)
            if controls is not None and fine_rule.applies and self.applies else None,
            "known_outcome": known,
            "notes": notes,
        }
        return _jsonable(summary)


def describe(values: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """``n`` finite values, ``mean`` + t ``ci95``, ``median`` + ``median_ci95``, ``p10``,
    ``p90`` of the finite values (NaN = not applicable is left out); ``None`` entries when
    there are none."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"n": 0, "mean": None, "ci95": None, "median": None, "median_ci95": None,
                "p10": None, "p90": None}
    mci = stats.mean_ci(x)
    medci = stats.median_ci(x)
    return {"n": int(x.size), "mean": float(x.mean()), "ci95": list(mci) if mci else None,
            "median": stats.quantile(x, 0.5), "median_ci95": list(medci) if medci else None,
            "p10": stats.quantile(x, 0.1), "p90": stats.quantile(x, 0.9)}


def _money(usd: float | None) -> str:
    if usd is None or not math.isfinite(usd):
        return "n/a"
    for size, unit in ((1e9, "bn"), (1e6, "M"), (1e3, "K")):
        if abs(usd) >= size:
            return f"{usd / size:.3g}{unit}"
    return f"{usd:.0f}"


def format_summary(policy: Mapping[str, Any]) -> list[str]:
    """Lines for the printed run summary from ``summary["policy"]`` (indented like
    :func:`sim.outputs.results.format_summary`)."""
    lines = [f"  {'policy':<18}{policy['regime']} / {policy['firm']}"]
    if policy.get("applies") is False:
        lines.append(f"  {'  out of scope':<18}{(policy.get('notes') or [''])[0]}")
    for change in policy.get("changes") or []:
        lines.append(f"  {'  raised':<18}{change}")
    parts = []
    for key, d in (policy.get("deadlines") or {}).items():
        if d["p_met"] is not None:
            parts.append(f"{key} {100 * d['p_met']:.0f}%")
    if parts:
        lines.append(f"  {'deadlines met':<18}{', '.join(parts)}")
    fine_usd = policy.get("fine_usd") or {}
    controls = policy.get("controls") or {}
    social = policy.get("social_cost_usd") or {}
    lines.append(f"  {'costs (USD)':<18}fine mean {_money(fine_usd.get('mean'))}, breach mean "
                 f"{_money((policy.get('breach_cost_usd') or {}).get('mean'))}, controls "
                 f"{_money(controls.get('total_usd'))}/y, social mean "
                 f"{_money(social.get('mean'))}")
    return lines
