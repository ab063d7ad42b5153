"""The policy layer: fine rules and caps, deadlines and business days, mandates, costs."""

from __future__ import annotations

import copy
import dataclasses
import math
import zlib
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from sim.cli.app import CONF_DIR, plain_config, split_app_options
from sim.controls.detectors import Detector, Watch
from sim.core.engine import build_model, simulate
from sim.core.errors import ConfigError
from sim.core.params import makes
from sim.outputs import stats
from sim.outputs.results import ReplicationResult, ResultWriter, read_table
from sim.policy.model import (
    Firm,
    PolicyLayer,
    Regime,
    breach_cost_usd,
    business_day_deadline,
    control_costs,
    controls_in_place,
    deadline_hours,
    fine,
    traced_people,
)
from sim.world.network import Network
from tests.conftest import BASE, merge, tiny_graph

REGIMES = ("none", "kr_pipa_2023", "kr_pipa_2026", "gdpr", "nis2", "sec_8k", "pci_dss_4")
ET = timezone(timedelta(hours=-5))


@dataclasses.dataclass(frozen=True)
class _EmptyParams:
    pass


def group(name: str, option: str) -> str:
    """``name=option``, or ``+name=option`` while conf/config.yaml lists no default for it."""
    defaults = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "config.yaml"))["defaults"]
    listed = any(isinstance(d, dict) and name in d for d in defaults)
    return f"{name}={option}" if listed else f"+{name}={option}"


def composed(*overrides: str) -> dict:
    """The plain config with ``regime``/``firm`` kept (whether or not the app splits them)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    plain = plain_config(cfg)
    policy_keys = {k: plain.pop(k) for k in ("regime", "firm") if k in plain}
    split_app_options(plain)
    return {**plain, **policy_keys}


def regime(name: str) -> Regime:
    return Regime.from_mapping(composed(group("regime", name))["regime"])


def firm(**over) -> Firm:
    """KRW 1tn revenue at 1,000 per USD = USD 1bn, half of it related to the breach."""
    base = {"name": "test", "currency": "KRW", "per_usd": 1000.0, "revenue": 1e12,
            "related_revenue_share": 0.5, "records_held": 1_000_000, "employees": 100,
            "notify_delay_median": "30h", "notify_delay_sigma": 0.0}
    return Firm.from_mapping({**base, **over})


def result(dwell: float, records: int, detected: bool = True, replication: int = 0,
           seed: int = 1) -> ReplicationResult:
    return ReplicationResult(replication, seed, detected, not detected,
                             "audit" if detected else "", dwell, records, 0, 0, 0,
                             "containment" if detected else "horizon", dwell, 1, math.nan)


# ----------------------------------------------------------------------------- fine rules
def test_kr_pipa_2023_fine_is_three_percent_of_related_revenue_times_severity():
    rule = regime("kr_pipa_2023").fine
    # cap = 3% x USD 1bn x 0.5 related = USD 15M. 2.5M people: scale = (0.25)^0.5 = 0.5;
    # conduct = 0.25 + 0.25 x 0.5 (half a year) + 0.25 x 2/3 missing + 0.25 (late) = 0.791667
    out = fine(rule, firm(), 2_500_000, 4383.0, 2 / 3, True)
    assert out.cap_usd == pytest.approx(15e6)
    assert not out.aggravated
    assert out.severity == pytest.approx(0.5 * 0.7916667, rel=1e-6)
    assert out.fine_usd == pytest.approx(5_937_500.0, rel=1e-6)


def test_kr_pipa_2023_has_no_aggravated_tier_even_for_ten_million_people():
    out = fine(regime("kr_pipa_2023").fine, firm(repeat_offender=True), 12_000_000, 0.0, 1.0,
               False)
    assert out.cap_usd == pytest.approx(15e6) and not out.aggravated
    assert out.fine_usd == pytest.approx(15e6 * 0.5)  # scale 1, conduct 0.25 + 0.25 missing


def test_kr_pipa_2026_aggravates_to_ten_percent_for_10m_people_repeat_or_negligence():
    rule = regime("kr_pipa_2026").fine
    plain = fine(rule, firm(), 2_500_000, 0.0, 0.0, False)
    assert plain.cap_usd == pytest.approx(15e6) and not plain.aggravated
    # 12M people >= 10M: cap 10% x USD 0.5bn = USD 50M; scale 1; conduct 0.25 -> USD 12.5M
    big = fine(rule, firm(), 12_000_000, 0.0, 0.0, False)
    assert big.aggravated and big.cap_usd == pytest.approx(50e6)
    assert big.fine_usd == pytest.approx(12.5e6)
    assert fine(rule, firm(repeat_offender=True), 2_500_000, 0.0, 0.0, False).cap_usd \
        == pytest.approx(50e6)
    # gross negligence = every expected control missing (negligence_missing_share 1.0)
    assert fine(rule, firm(), 2_500_000, 0.0, 1.0, False).aggravated
    assert not fine(rule, firm(), 2_500_000, 0.0, 2 / 3, False).aggravated


def test_gdpr_cap_is_the_higher_of_two_percent_and_eur_10m_four_percent_when_aggravated():
    rule = regime("gdpr").fine
    # worldwide turnover (not just related): 2% x USD 1bn = 20M > EUR 10M / 0.9 = USD 11.1M
    assert fine(rule, firm(), 1000, 0.0, 0.0, False).cap_usd == pytest.approx(20e6)
    small = firm(revenue=1e11)  # USD 100M: 2% = 2M < 11.11M
    assert fine(rule, small, 1000, 0.0, 0.0, False).cap_usd == pytest.approx(10e6 / 0.9)
    # aggravated (all expected controls missing): max(4% x 100M, EUR 20M / 0.9) = USD 22.2M
    agg = fine(rule, small, 1000, 0.0, 1.0, False)
    assert agg.aggravated and agg.cap_usd == pytest.approx(20e6 / 0.9)


def test_nis2_online_marketplace_is_important_entity_1_4_percent_or_eur_7m():
    """Annex II digital providers (online marketplaces) are important entities by default
    (NIS2 Art. 3(2)): the cap is the higher of 1.4% and EUR 7M (Art. 34(5)), no higher tier."""
    rule = regime("nis2").fine
    assert fine(rule, firm(), 10, 0.0, 1.0, True).cap_usd == pytest.approx(0.014 * 1e9)
    out = fine(rule, firm(revenue=1e11), 10, 0.0, 1.0, True)
    assert out.cap_usd == pytest.approx(7e6 / 0.9) and not out.aggravated
    # 10 people: scale (1e-6)^0.5 = 0.001; conduct min(1, 0.25 + 0.25 + 0.25) = 0.75
    assert out.fine_usd == pytest.approx(7e6 / 0.9 * 0.001 * 0.75)


@pytest.mark.parametrize("name, basis", [("gdpr", "preceding_year"), ("nis2", "preceding_year"),
                                         ("kr_pipa_2023", "mean_3y"),
                                         ("kr_pipa_2026", "mean_3y")])
def test_turnover_is_the_preceding_year_for_gdpr_nis2_and_the_3_year_mean_for_pipa(name, basis):
    """GDPR Art. 83 and NIS2 Art. 34 take the preceding financial year's worldwide turnover;
    PIPA (Enforcement Decree Art. 60-2) the mean of the three years before the violation."""
    rule = regime(name).fine
    assert rule.turnover == basis
    growing = firm(revenue=1.2e12, revenue_mean_3y=0.9e12)     # USD 1.2bn last year, 0.9bn mean
    related = 0.5 if rule.related_revenue_only else 1.0
    expected = (1.2e9 if basis == "preceding_year" else 0.9e9) * related * rule.cap_share
    assert fine(rule, growing, 10, 0.0, 0.0, False).cap_usd == pytest.approx(expected)
    # without a 3-year mean the preceding year's revenue stands in for it
    assert firm(revenue=1.2e12).turnover_usd("mean_3y") == pytest.approx(1.2e9)


@pytest.mark.parametrize("name", ["none", "sec_8k", "pci_dss_4"])
def test_regimes_without_a_fine_rule_price_no_fine(name, tiny_model):
    layer = PolicyLayer(regime(name), firm())
    row = dict(zip(layer.columns, layer.price(result(100.0, 5000), tiny_model), strict=True))
    for col in ("fine_cap_usd", "fine_aggravated", "fine_severity", "fine_usd"):
        assert math.isnan(row[col])
    assert row["firm_cost_usd"] == pytest.approx(row["social_cost_usd"])


def test_a_breach_with_no_records_is_not_fined():
    out = fine(regime("kr_pipa_2023").fine, firm(), 0, 1000.0, 1.0, True)
    assert out.fine_usd == 0.0 and out.severity == 0.0 and out.cap_usd == pytest.approx(15e6)


def test_breach_cost_is_the_ibm_anchor_scaled_by_the_dbir_elasticity():
    costs = firm().costs
    assert breach_cost_usd(costs, 25_000) == pytest.approx(4.99e6)
    # 4 x the reference size: 4.99M x 4^0.42 = 4.99M x 1.790050 = USD 8.932M
    assert breach_cost_usd(costs, 100_000) == pytest.approx(8_932_350.2, rel=1e-6)
    assert breach_cost_usd(costs, 0) == 0.0


# ----------------------------------------------------------------------------- business days
@pytest.mark.parametrize("start, expected", [
    (datetime(2025, 6, 23, 10, 0, tzinfo=ET), datetime(2025, 6, 28, 0, 0, tzinfo=ET)),  # Mon->Fri
    (datetime(2025, 6, 27, 15, 0, tzinfo=ET), datetime(2025, 7, 4, 0, 0, tzinfo=ET)),  # Fri->Thu
    (datetime(2025, 6, 28, 9, 0, tzinfo=ET), datetime(2025, 7, 4, 0, 0, tzinfo=ET)),  # Sat->Thu
    (datetime(2025, 6, 29, 23, 0, tzinfo=ET), datetime(2025, 7, 4, 0, 0, tzinfo=ET)),  # Sun->Thu
    # Saturday 02:00 UTC is still Friday 21:00 in New York: Friday's clock, Thursday's end
    (datetime(2025, 6, 28, 2, 0, tzinfo=UTC), datetime(2025, 7, 4, 0, 0, tzinfo=ET)),
])
def test_four_business_days_end_at_midnight_of_the_fourth_weekday_after(start, expected):
    assert business_day_deadline(start, 4, -5) == expected


def test_one_business_day_after_friday_is_monday():
    friday = datetime(2025, 6, 27, 12, 0, tzinfo=ET)
    assert business_day_deadline(friday, 1, -5) == datetime(2025, 7, 1, 0, 0, tzinfo=ET)


def test_deadline_hours_in_business_days_counts_from_the_calendar():
    start = datetime(2025, 6, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 ET = simulation time 0
    d = regime("sec_8k").deadlines["form_8k_4bd"]
    # end of Friday 27 June ET = Saturday 05:00 UTC = 4 d 14 h after the start
    assert deadline_hours(d, 0.0, start) == pytest.approx(110.0)
    # a clock starting Friday 16:00 ET (t = 4 d 6 h) ends Thursday 3 July 24:00 ET = t 254 h
    assert deadline_hours(d, 102.0, start) == pytest.approx(254.0)
    assert deadline_hours(regime("gdpr").deadlines["dpa_72h"], 10.0, start) == 82.0


# ----------------------------------------------------------------------------- deadlines
@pytest.fixture
def tiny_model():
    return build_model(copy.deepcopy(BASE))  # start 2025-06-24T00:00+09:00 = Mon 10:00 ET


def priced(layer: PolicyLayer, res: ReplicationResult, model) -> dict[str, float]:
    return dict(zip(layer.columns, layer.price(res, model), strict=True))


def test_pipa_deadlines_met_depend_on_the_firms_delay_after_detection(tiny_model):
    layer = PolicyLayer(regime("kr_pipa_2023"), firm())  # files 30 h after awareness
    row = priced(layer, result(2000.0, 5000), tiny_model)
    assert row["notify_delay_hours"] == pytest.approx(30.0)
    assert row["notified_at_hours"] == pytest.approx(2030.0)
    assert row["deadline_kisa_24h_met"] == 0.0 and row["deadline_pipc_72h_met"] == 1.0
    assert row["deadlines_all_met"] == 0.0
    fast = PolicyLayer(regime("kr_pipa_2023"), firm(notify_delay_median="20h"))
    assert priced(fast, result(2000.0, 5000), tiny_model)["deadlines_all_met"] == 1.0


def test_an_undiscovered_breach_starts_no_deadline_and_is_not_fined(tiny_model):
    """Nobody knows of it at the horizon (e.g. a key rotation ended the access unseen): no
    notification clock, no missed deadline, no fine; reported as undiscovered."""
    layer = PolicyLayer(regime("nis2"), firm())
    row = priced(layer, result(8766.0, 5000, detected=False), tiny_model)
    assert math.isnan(row["notify_delay_hours"]) and math.isnan(row["notified_at_hours"])
    for key in ("early_warning_24h", "notification_72h", "final_report_1mo"):
        assert math.isnan(row[f"deadline_{key}_met"])
    assert math.isnan(row["deadlines_all_met"]) and row["undiscovered"] == 1.0
    assert row["fine_usd"] == 0.0 and math.isnan(row["fine_cap_usd"])
    assert math.isnan(row["fine_severity"]) and row["notification_cost_usd"] == 0.0
    assert row["breach_cost_usd"] == pytest.approx(breach_cost_usd(firm().costs, 5000))
    assert row["firm_cost_usd"] == pytest.approx(row["social_cost_usd"])
    found = priced(layer, result(8766.0, 5000, detected=True), tiny_model)
    assert found["undiscovered"] == 0.0 and found["fine_usd"] > 0
    # the same breach discovered at the horizon: a year's dwell, every expected control
    # missing (no detector at all): conduct 1 (0.25 x 3 + a missed final report? no: filed)
    assert found["fine_severity"] >= (5000 / 1e7) ** 0.5 * 0.75


def test_key_rotation_is_not_fined_for_breaches_nobody_discovered():
    """A credential review that ends the access unseen leaves an undiscovered breach: under a
    regime with a fine and deadlines it adds no fine and no missed deadline."""
    cfg = merge(BASE, {"replications": 30, "horizon": "60d", "detectors": {
        "hygiene": {"_target_": "sim.controls.detectors.CredentialHygiene", "interval": "1w",
                    "max_credential_age": "1d", "coverage": 1.0}}})
    model = build_model(cfg)
    layer = PolicyLayer(regime("gdpr"), firm())
    rows = [simulate(model, 3, r) for r in range(30)]
    assert all(not r.detected and r.access_ended_by == "hygiene" for r in rows)
    values = [layer.price(r, model) for r in rows]
    extra = {c: np.array([v[i] for v in values]) for i, c in enumerate(layer.columns)}
    s = layer.summarize(extra, rows, model)
    assert s["undiscovered"]["n"] == 30 and s["undiscovered"]["fraction"] == 1.0
    assert s["deadlines"]["dpa_72h"]["applicable"] == 0
    assert s["fine_usd"]["mean"] == 0.0


def test_deadlines_do_not_apply_without_records_or_below_min_people(tiny_model):
    reg = Regime.from_mapping({"name": "custom", "deadlines": {
        "big_72h": {"within": "72h", "min_people": 1000}, "any_24h": {"within": "24h"}}})
    layer = PolicyLayer(reg, firm(notify_delay_median="10h"))
    small = priced(layer, result(50.0, 500), tiny_model)
    assert math.isnan(small["deadline_big_72h_met"]) and small["deadline_any_24h_met"] == 1.0
    assert small["deadlines_all_met"] == 1.0
    none = priced(layer, result(50.0, 0), tiny_model)
    assert math.isnan(none["deadlines_all_met"]) and math.isnan(none["notified_at_hours"])
    assert none["breach_cost_usd"] == 0.0 and none["notification_cost_usd"] == 0.0


def test_sec_deadline_counts_four_business_days_from_the_determination(tiny_model):
    # detection at t = 0 (Monday 10:00 ET), determination at once: due end of Friday = 110 h
    def layer(delay: str) -> PolicyLayer:
        reg = Regime.from_mapping({**composed(group("regime", "sec_8k"))["regime"],
                                   "determination_delay_median": 0,
                                   "determination_delay_sigma": 0.0})
        return PolicyLayer(reg, firm(notify_delay_median=delay))

    assert priced(layer("109h"), result(0.0, 10), tiny_model)["deadline_form_8k_4bd_met"] == 1
    assert priced(layer("111h"), result(0.0, 10), tiny_model)["deadline_form_8k_4bd_met"] == 0
    # detected Friday 16:00 ET (t = 102 h): due Thursday 24:00 ET (t = 254 h), 152 h later
    assert priced(layer("151h"), result(102.0, 10), tiny_model)["deadline_form_8k_4bd_met"] == 1
    assert priced(layer("153h"), result(102.0, 10), tiny_model)["deadline_form_8k_4bd_met"] == 0


def test_nis2_final_report_runs_a_month_from_the_first_notification(tiny_model):
    reg = Regime.from_mapping({"name": "x", "deadlines": {"final": {
        "within": "1mo", "after": "notification", "preparation": "5w"}}})
    assert priced(PolicyLayer(reg, firm()), result(10.0, 10), tiny_model)[
        "deadline_final_met"] == 0.0  # 5 weeks of preparation > 1 month


def test_policy_delays_come_from_their_own_stream_the_same_in_every_regime():
    f = firm(notify_delay_median="36h", notify_delay_sigma=0.5)
    a = PolicyLayer(regime("kr_pipa_2023"), f).delays(7, 3)
    b = PolicyLayer(regime("sec_8k"), f).delays(7, 3)
    z = np.random.default_rng(np.random.SeedSequence(
        7, spawn_key=(3, zlib.crc32(b"policy")))).standard_normal(2)
    assert a[0] == b[0] == pytest.approx(36.0 * math.exp(0.5 * z[0]))
    assert b[1] == pytest.approx(72.0 * math.exp(0.75 * z[1]))  # SEC: median 3 d
    assert PolicyLayer(regime("kr_pipa_2023"), f).delays(7, 4)[0] != a[0]


def test_pricing_changes_no_model_draw(tiny_model):
    before = [simulate(tiny_model, 3, r) for r in range(3)]
    layer = PolicyLayer(regime("gdpr"), firm())
    for res in before:
        layer.price(res, tiny_model)
    assert [simulate(tiny_model, 3, r) for r in range(3)] == before


# ----------------------------------------------------------------------------- mandates
AUDIT = {"_target_": "sim.controls.detectors.PeriodicAudit", "interval": "1mo", "coverage": 0.1,
         "recognition": 0.5}
MONITOR = {"_target_": "sim.controls.detectors.ContinuousMonitoring", "threshold": 3.5,
           "dprime": 2.0}
HYGIENE = {"_target_": "sim.controls.detectors.CredentialHygiene", "interval": "3mo",
           "max_credential_age": "1y"}


def cfg_with(**detectors) -> dict:
    return merge(BASE, {"detectors": detectors})


def test_pci_raises_a_monthly_audit_to_daily_and_adds_monitoring():
    layer = PolicyLayer(regime("pci_dss_4"), firm())
    original = cfg_with(audit=dict(AUDIT))
    frozen = copy.deepcopy(original)
    cfg, changes = layer.apply_mandates(original)
    assert original == frozen  # the input is not touched
    assert cfg["detectors"]["audit"]["interval"] == 24.0
    # the regime's monitor (conf/regime/none.yaml), placed at the entry points as a firm deploys it
    assert cfg["detectors"]["monitoring"] == {
        "_target_": "sim.controls.detectors.ContinuousMonitoring",
        "watch": "internet_facing:true", "features": ["records_per_ip", "rate_per_ip", "ip_count"],
        "threshold": 5.0, "dprime": 0.0, "latency": "15m"}
    assert changes == [
        "detectors.audit.interval: 1mo -> 1d (pci_dss_4: daily log review, PCI DSS 4.0.1 "
        "Req. 10.4.1)",
        "detectors.monitoring: added ContinuousMonitoring (pci_dss_4: automated log review, "
        "PCI DSS 4.0.1 Req. 10.4.1.1)"]
    assert layer.changes == changes
    model = build_model(cfg)
    assert sorted(d.name for d in model.detectors) == ["audit", "monitoring"]


def test_stronger_controls_are_left_alone():
    cfg = cfg_with(audit={**AUDIT, "interval": "6h", "retention": "3y"}, watch=dict(MONITOR))
    new, changes = PolicyLayer(regime("pci_dss_4"), firm()).apply_mandates(cfg)
    assert changes == [] and new == cfg
    new, changes = PolicyLayer(regime("kr_pipa_2023"), firm(log_retention="3y")).apply_mandates(
        cfg)
    assert changes == [] and new == cfg


def test_pipa_adds_a_missing_monthly_audit_and_raises_retention_for_a_large_firm():
    cfg, changes = PolicyLayer(regime("kr_pipa_2023"), firm()).apply_mandates(cfg_with())
    audit = cfg["detectors"]["audit"]
    assert audit["interval"] == pytest.approx(730.5) and audit["retention"] == 17532.0
    assert audit["coverage"] == 0.1 and audit["recognition"] == 0.5
    assert changes[0].startswith("detectors.audit: added a PeriodicAudit every 1mo")
    assert changes[1].startswith("detectors.audit.retention: 1y -> 2y")
    assert changes[2].startswith("firm.log_retention: 1y -> 2y")
    # under 50,000 subjects one year of logs is enough: nothing raised
    _, small = PolicyLayer(regime("kr_pipa_2023"), firm(records_held=40_000)).apply_mandates(
        cfg_with(audit=dict(AUDIT)))
    assert small == []


def test_a_credential_lifetime_mandate_tightens_a_weak_review_and_adds_a_missing_one():
    reg = Regime.from_mapping({"name": "keys", "mandates": {
        "max_credential_age": "90d", "credential_review_interval": "1mo"}})
    cfg, changes = PolicyLayer(reg, firm()).apply_mandates(cfg_with(keys=dict(HYGIENE)))
    assert cfg["detectors"]["keys"]["max_credential_age"] == 2160.0
    assert cfg["detectors"]["keys"]["interval"] == pytest.approx(730.5)
    assert changes == ["detectors.keys.max_credential_age: 1y -> 90d (keys)",
                       "detectors.keys.interval: 3mo -> 1mo (keys)"]
    strong = cfg_with(keys={**HYGIENE, "interval": "1w", "max_credential_age": "30d"})
    assert PolicyLayer(reg, firm()).apply_mandates(strong) == (strong, [])
    cfg, changes = PolicyLayer(reg, firm()).apply_mandates(cfg_with())
    assert cfg["detectors"]["hygiene"] == {
        "_target_": "sim.controls.detectors.CredentialHygiene", "interval": pytest.approx(730.5),
        "max_credential_age": 2160.0, "coverage": 1.0}
    assert [d.name for d in build_model(cfg).detectors] == ["hygiene"]


def test_analyst_mandates_raise_the_team_and_make_it_24x7():
    reg = Regime.from_mapping({"name": "soc", "mandates": {
        "min_analysts": 3, "require_24x7": True, "why": {"analysts": "a 24x7 team"}}})
    cfg = merge(BASE, {"triage": {"analysts": 1, "shift": "office_hours"}})
    new, changes = PolicyLayer(reg, firm()).apply_mandates(cfg)
    assert new["triage"]["analysts"] == 3 and new["triage"]["shift"] == "24x7"
    assert changes == ["triage.analysts: 1 -> 3 (soc: a 24x7 team)",
                       "triage.shift: office_hours -> 24x7 (soc: a 24x7 team)"]
    big = merge(BASE, {"triage": {"analysts": 5}})
    assert PolicyLayer(reg, firm()).apply_mandates(big) == (big, [])


def test_an_added_detector_takes_a_free_name():
    cfg = cfg_with(monitoring={"_target_": "sim.controls.detectors.ExternalDiscovery"})
    reg = Regime.from_mapping({"name": "m", "mandates": {"require_monitoring": True}})
    new, changes = PolicyLayer(reg, firm()).apply_mandates(cfg)
    target = new["detectors"]["monitoring2"]["_target_"]
    assert target == "sim.controls.detectors.ContinuousMonitoring"
    assert changes == ["detectors.monitoring2: added ContinuousMonitoring (m)"]


# ----------------------------------------------------------------------------- config
def test_no_regime_and_no_firm_is_no_policy():
    cfg = {**copy.deepcopy(BASE), "regime": None}
    assert PolicyLayer.from_config(cfg) is None and "regime" not in cfg
    cfg = {**copy.deepcopy(BASE), "regime": composed(group("regime", "none"))["regime"]}
    assert PolicyLayer.from_config(cfg) is None


def test_from_config_pops_regime_and_firm_and_defaults_the_other():
    cfg = {**copy.deepcopy(BASE), "regime": {"name": "gdpr_like"}}
    layer = PolicyLayer.from_config(cfg)
    assert layer is not None and layer.firm.params.name == "generic"
    assert "regime" not in cfg and "firm" not in cfg
    layer = PolicyLayer.from_config({**copy.deepcopy(BASE), "firm": {"name": "acme"}})
    assert layer is not None and layer.regime.name == "none"


@pytest.mark.parametrize("node, key", [
    ({"regime": {"name": "x", "fine": {"cap_share": 1.5}}}, "regime.fine.cap_share"),
    ({"regime": {"name": "x", "deadlines": {"d": {"within": "24h", "business_days": 2}}}},
     "regime.deadlines.d.within"),
    ({"regime": {"name": "x", "mandates": {"max_audit_interval": "fortnight"}}},
     "regime.mandates.max_audit_interval"),
    ({"firm": {"revenue": -1}}, "firm.revenue"),
    ({"firm": {"costs": {"analyst_salary": 1}}}, "firm.costs.analyst_salary"),
    ({"regime": "gdpr"}, "regime"),
])
def test_bad_policy_config_is_one_line_naming_the_key(node, key):
    with pytest.raises(ConfigError) as err:
        PolicyLayer.from_config({**copy.deepcopy(BASE), **node})
    assert err.value.key == key and "\n" not in str(err.value)


def test_every_firm_option_builds():
    for path in sorted((CONF_DIR / "firm").glob("*.yaml")):
        f = Firm.from_mapping(composed(group("firm", path.stem))["firm"])
        assert f.params.name == path.stem and f.revenue_usd > 0


def test_the_generic_firm_file_is_the_default_firm():
    from_file = Firm.from_mapping(composed(group("firm", "generic"))["firm"])
    default = Firm.from_mapping(None)
    assert from_file.costs == default.costs and from_file.known is default.known is None
    assert dataclasses.replace(from_file.params, costs={}) == default.params


@pytest.mark.parametrize("name", REGIMES)
def test_every_regime_composes_with_a_scenario_and_prices_a_replication(name):
    cfg = composed(group("regime", name), group("firm", "coupang_2025"), "scenario=default")
    layer = PolicyLayer.from_config(cfg)
    assert layer is not None and layer.regime.name == name
    cfg, _ = layer.apply_mandates(cfg)
    model = build_model(cfg)
    values = layer.price(simulate(model, 0, 0), model)
    assert len(values) == len(layer.columns)
    assert values[layer.columns.index("control_cost_usd")] > 0


@pytest.mark.parametrize("scenario", sorted(p.stem for p in (CONF_DIR / "scenario").glob(
    "*.yaml")))
def test_the_strictest_mandate_builds_with_every_scenario(scenario):
    cfg = composed(group("regime", "pci_dss_4"), f"scenario={scenario}")
    layer = PolicyLayer.from_config(cfg)
    cfg, _ = layer.apply_mandates(cfg)
    kinds = {type(d).__name__ for d in build_model(cfg).detectors}
    assert {"PeriodicAudit", "ContinuousMonitoring"} <= kinds


# ----------------------------------------------------------------------------- costs
def test_control_costs_hand_computed():
    cfg = merge(BASE, {"triage": {"analysts": 2, "shift": "24x7"}, "detectors": {
        "audit": {**AUDIT, "interval": "1w", "coverage": 0.5},
        "monitoring": dict(MONITOR),
        "rules": {"_target_": "sim.controls.detectors.VolumeThreshold"},
        "keys": {**HYGIENE, "interval": "1mo", "max_credential_age": "6mo"}}})
    f = firm(employees=1000)
    c = control_costs(build_model(cfg), f)
    fte = 2 * 168 / 33.8                                   # two 24x7 seats = 9.94 FTE
    assert c.analyst_fte == pytest.approx(fte)
    assert c.analysts_usd == pytest.approx(fte * 100_000)
    assert c.monitoring_usd == pytest.approx(250_000 + 50 * 1000)
    assert c.rules_usd == pytest.approx(20_000)
    # 52.18 weekly audits of 4 h + 0.2 x 0.5 x 168 h of logs = 20.8 h each
    assert c.audit_hours == pytest.approx(8766 / 168 * 20.8)
    assert c.audits_usd == pytest.approx(8766 / 168 * 20.8 * 75)
    # 12 reviews x 8 h + 2 rotations a year x 40 h = 176 h
    assert c.credential_hours == pytest.approx(176.0)
    assert c.total_usd == pytest.approx(fte * 1e5 + 300_000 + 20_000 + 8766 / 168 * 20.8 * 75
                                        + 176 * 75)


def test_office_hours_seats_cost_shift_hours_and_no_analysts_without_alerts():
    cfg = merge(BASE, {"triage": {"analysts": 3, "shift": "office_hours", "shift_hours": 9},
                       "detectors": {"monitoring": dict(MONITOR)}})
    assert control_costs(build_model(cfg), firm()).analyst_fte == pytest.approx(3 * 45 / 33.8)
    only_audit = control_costs(build_model(cfg_with(audit=dict(AUDIT))), firm())
    assert only_audit.analyst_fte == 0.0 and only_audit.analysts_usd == 0.0


# ----------------------------------------------------------------------------- summary
def test_summary_reports_undiscovered_breaches_apart_from_deadlines(tiny_model):
    layer = PolicyLayer(regime("gdpr"), firm())  # 72 h, filed 30 h after awareness: met
    rows = [result(100.0, 5000, replication=0), result(200.0, 8000, replication=1),
            result(8766.0, 9000, detected=False, replication=2),
            result(300.0, 0, replication=3)]  # no records: does not apply
    values = [layer.price(r, tiny_model) for r in rows]
    extra = {c: np.array([v[i] for v in values]) for i, c in enumerate(layer.columns)}
    s = layer.summarize(extra, rows)
    d = s["deadlines"]["dpa_72h"]
    assert (d["applicable"], d["met"], d["p_met"]) == (2, 2, 1.0)
    assert d["ci95"] == pytest.approx(list(stats.binomial_ci(2, 2)))
    assert d["detected"] == 2 and d["p_met_given_detected"] == 1.0
    u = s["undiscovered"]
    assert (u["n"], u["fraction"], u["records_mean"]) == (1, 0.25, 9000.0)
    assert u["ci95"] == pytest.approx(list(stats.binomial_ci(1, 4)))
    assert s["regime"] == "gdpr" and s["firm"] == "test" and s["currency"] == "KRW"
    assert s["fine_usd"]["n"] == 4 and s["breach_cost_usd"]["mean"] == pytest.approx(
        np.mean(extra["breach_cost_usd"]))
    assert s["controls"]["total_usd"] == pytest.approx(values[0][layer.columns.index(
        "control_cost_usd")])
    assert any("undiscovered" in note for note in s["notes"])


def test_columns_round_trip_through_the_result_writer(tmp_path, tiny_model):
    layer = PolicyLayer(regime("kr_pipa_2023"), firm())
    results = [simulate(tiny_model, 1, r) for r in range(5)]
    with ResultWriter(tmp_path, extra_columns=layer.columns) as w:
        for res in results:
            w.write(res, extra=layer.price(res, tiny_model))
    rows, extra = read_table(tmp_path / "replications.csv")
    assert rows == results and list(extra) == list(layer.columns)
    s = layer.summarize(extra, rows)
    found = sum(r.detected and r.records_exfiltrated > 0 for r in rows)
    assert s["deadlines"]["kisa_24h"]["applicable"] == found
    assert s["undiscovered"]["n"] == sum(not r.detected for r in rows)
    with pytest.raises(ValueError, match="missing"):
        layer.summarize({}, rows)


# ----------------------------------------------------------------------------- control kinds
class HomeMadeMonitor(Detector):
    """A monitor written outside sim/: never alerts, but declares itself a monitoring control."""

    Params = _EmptyParams
    control_kind = "monitoring"

    def start(self, run):
        return Watch()


class TipOff(Detector):
    """A control the firm does not pay for (declares no kind)."""

    Params = _EmptyParams

    def start(self, run):
        return Watch()


class BadAudit(Detector):
    """Declares itself an audit but has no interval to price."""

    Params = _EmptyParams
    control_kind = "audit"

    def start(self, run):
        return Watch()


def test_a_detector_written_outside_sim_is_priced_and_counted_by_its_control_kind():
    gen = firm()
    plain = build_model(copy.deepcopy(BASE))
    home = build_model(merge(BASE, {"detectors": {
        "home": {"_target_": "tests.policy.test_model.HomeMadeMonitor"}}}))
    tip = build_model(merge(BASE, {"detectors": {
        "tip": {"_target_": "tests.policy.test_model.TipOff"}}}))
    assert not controls_in_place(plain).monitoring
    assert controls_in_place(home).monitoring                   # counts as monitoring
    costs = control_costs(home, gen)
    assert costs.monitoring_usd == pytest.approx(250_000 + 50 * 100)  # platform + licences
    assert costs.analyst_fte > 0                                # it feeds the analysts' queue
    assert control_costs(tip, gen).total_usd == 0.0 == control_costs(plain, gen).total_usd
    assert not controls_in_place(tip).monitoring
    # a mandate sees it too: no ContinuousMonitoring is added beside a declared monitor
    layer = PolicyLayer(Regime.from_mapping({"name": "test", "mandates": {
        "require_monitoring": True, "max_audit_interval": "1d"}}), gen)
    cfg, _ = layer.apply_mandates(merge(BASE, {"detectors": {
        "home": {"_target_": "tests.policy.test_model.HomeMadeMonitor"}}}))
    assert set(cfg["detectors"]) == {"home", "audit"}
    bad = build_model(merge(BASE, {"detectors": {
        "bad": {"_target_": "tests.policy.test_model.BadAudit"}}}))
    with pytest.raises(ConfigError, match="detectors.bad: .*kind 'audit' needs a parameter "
                                          "'interval'"):
        control_costs(bad, gen)


# ----------------------------------------------------------------------------- scope
@makes(Network)
def card_network(records: int = 10_000) -> Network:
    """The tiny network whose store holds card tokens beside the customer fields."""
    g = tiny_graph(records)
    g.nodes["store"]["fields"] = ["name", "card_token"]
    return Network(g, source="tiny-card")


def test_pci_dss_applies_only_when_the_breached_data_holds_card_data():
    """The tiny store holds name, phone, address: PCI DSS does not apply (no mandated daily
    review or monitoring, rows as without a regime); with card tokens in the store it does."""
    cfg = merge(BASE, {"replications": 20, "horizon": "30d"})
    layer = PolicyLayer(regime("pci_dss_4"), firm())
    out_cfg, model = layer.build(cfg)
    assert not layer.applies and layer.changes == [] and out_cfg["detectors"] == {}
    assert "does not apply" in layer.scope_note and "name, phone, shipping_address" in \
        layer.scope_note
    rows = [simulate(model, 2, r) for r in range(20)]
    values = [layer.price(r, model) for r in rows]
    extra = {c: np.array([v[i] for v in values]) for i, c in enumerate(layer.columns)}
    s = layer.summarize(extra, rows, model)
    assert s["applies"] is False and s["notes"][0] == layer.scope_note
    assert s["controls"]["total_usd"] == 0.0                  # nothing was added

    card = merge(cfg, {"network": {"_target_": "tests.policy.test_model.card_network"}})
    layer = PolicyLayer(regime("pci_dss_4"), firm())
    in_cfg, in_model = layer.build(card)
    assert layer.applies and "card_token" in layer.scope_note
    assert {"audit", "monitoring"} <= set(in_cfg["detectors"])
    assert len(in_model.detectors) == 2 and len(layer.changes) == 2
    # a regime without scope_fields applies to any breach
    assert PolicyLayer(regime("kr_pipa_2023"), firm()).build(cfg)[0]["detectors"]


# ----------------------------------------------------------------------------- log retention
def test_traced_people_are_those_taken_within_the_retained_logs():
    # 2 years of even exfiltration, found at 2 y: 1 y of logs names half, 2 y all of them
    assert traced_people(1000, 17532.0, 17532.0, 8766.0) == 500
    assert traced_people(1000, 17532.0, 17532.0, 17532.0) == 1000
    assert traced_people(1000, 17532.0, 17532.0, math.inf) == 1000
    # found within the retention: everything is still logged
    assert traced_people(1000, 4000.0, 4000.0, 8766.0) == 1000
    # access ended (a key rotation) long before detection: nothing left to trace
    assert traced_people(1000, 20000.0, 5000.0, 8766.0) == 0
    # access continued after awareness until containment: the whole tail is logged
    assert traced_people(1000, 17532.0, 17600.0, 8766.0) == round(1000 * (8834 / 17600))
    assert traced_people(0, 17532.0, 17532.0, 8766.0) == 0


def test_log_retention_mandate_changes_who_is_notified_and_fined_for_a_long_breach(tiny_model):
    """PIPA's 2-year retention (50,000+ subjects) against the firm's own 1 year: a breach found
    after 2 years is traced in full only with 2 years of logs - more people are notified and the
    fine is scaled on more people. A breach found within a year is the same either way."""
    long_breach = result(17532.0, 2_000_000)          # found after 2 y, access throughout
    short_breach = result(4000.0, 2_000_000)
    pipa = PolicyLayer(regime("kr_pipa_2023"), firm())           # 1M records held: large
    one_year = PolicyLayer(Regime.from_mapping(
        {**composed(group("regime", "kr_pipa_2023"))["regime"],
         "mandates": {**composed(group("regime", "kr_pipa_2023"))["regime"]["mandates"],
                      "min_log_retention_large": "1y"}}), firm())
    assert pipa.firm.log_retention(pipa.regime) == 17532.0
    assert one_year.firm.log_retention(one_year.regime) == 8766.0
    a, b = priced(pipa, long_breach, tiny_model), priced(one_year, long_breach, tiny_model)
    assert (a["people_traced"], b["people_traced"]) == (2_000_000, 1_000_000)
    assert a["notification_cost_usd"] == pytest.approx(2 * b["notification_cost_usd"])
    assert a["fine_usd"] == pytest.approx(b["fine_usd"] * 2 ** 0.5)  # scale ~ people^0.5
    assert priced(pipa, short_breach, tiny_model) == priced(one_year, short_breach, tiny_model)
    # undiscovered: nothing traced, nobody notified
    assert math.isnan(priced(pipa, result(17532.0, 9, detected=False), tiny_model)[
        "people_traced"])


def test_log_retention_changes_rows_of_a_simulated_breach_longer_than_a_year():
    """End to end on simulated replications: slow outside discovery (mean 2 years), a 3-year
    horizon; the rows of the breaches found after more than a year differ between 1 and 2
    years of retention, the others are identical."""
    cfg = merge(BASE, {"horizon": "3y", "insider": {"records_per_session": 5}, "detectors": {
        "external": {"_target_": "sim.controls.detectors.ExternalDiscovery", "base_mean_time": "2y",
                     "mean_time_per_million": "inf"}}})
    model = build_model(cfg)
    rows = [simulate(model, 4, r) for r in range(40)]
    long = [r for r in rows if r.detected and r.dwell_hours > 8766.0]
    assert long, "needs breaches found after a year"
    two = PolicyLayer(regime("kr_pipa_2023"), firm())
    one = PolicyLayer(regime("kr_pipa_2023"), firm(records_held=40_000))  # small: 1 y of logs
    for r in rows:
        x, y = priced(two, r, model), priced(one, r, model)
        if r in long:
            assert x["people_traced"] > y["people_traced"]
        elif r.detected:
            assert x["people_traced"] == y["people_traced"] == r.records_exfiltrated
