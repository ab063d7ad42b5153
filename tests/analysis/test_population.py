"""A population (sim.analysis.population): replications split by weight and pooled, weights
as parameters, one-line errors for a bad block; the outputs by detection source and the
response (sim.analysis.study.OUTPUTS) on hand-built results; the industry calibration's quick
run.

The population of most tests is the analytic audit scenario (one endless session, a monthly
audit) plus outside discovery at a flat hazard (mean 2 months), in two firms: a keen audit
(recognition 0.9: found internally within a month or two) and a lax one (recognition 0.005:
almost always found from outside).
"""

from __future__ import annotations

import math

import pytest

from sim.analysis.population import Population, parse_population, split
from sim.analysis.study import OUTPUTS, parse_parameters
from sim.core.errors import ConfigError, SimError
from sim.core.timeunits import DAY
from sim.outputs.results import ReplicationResult

EXTERNAL = ["+detector@detectors.external=external_discovery",
            "detectors.external.base_mean_time=2mo", "detectors.external.mean_time_per_million=inf"]
BLOCK = {
    "firm": {
        "lax": {"weight": "rest", "overrides": ["detectors.audit.recognition=0.005"],
                "why": "test"},
        "keen": {"weight": 0.5, "overrides": ["detectors.audit.recognition=0.9"],
                 "why": "test"},
    },
    "attacker": {
        "a": {"weight": 3, "why": "test"},
        "b": {"weight": 1, "why": "test"},
    },
}


def population(parameters=None, block=None, replications=100, seed=5) -> Population:
    params = parse_parameters(parameters) if parameters else []
    return Population("analytic_audit", EXTERNAL, parse_population(block or BLOCK), params,
                      replications, seed, horizon="2y")


@pytest.fixture(scope="module")
def pop() -> Population:
    return population({"population.firm.keen": {"range": [0.0, 1.0], "why": "test"}})


# -- the split -------------------------------------------------------------------------------
def test_split_is_largest_remainder_and_adds_up():
    assert split([0.5, 0.3, 0.2], 10) == [5, 3, 2]
    assert split([1, 1, 1], 10) == [4, 3, 3]           # ties: the earlier component
    assert split([0.0, 2.0, 1.0], 7) == [0, 5, 2]      # 4.67, 2.33: the larger remainder
    assert sum(split([0.13, 0.27, 0.6], 33)) == 33


def test_components_are_the_cross_product_weighted_by_level_shares(pop):
    names = [c.name for c in pop.components]
    assert names == ["firm=lax,attacker=a", "firm=lax,attacker=b",
                     "firm=keen,attacker=a", "firm=keen,attacker=b"]
    # keen 0.5 (lax the rest: 0.5) x attacker a 3/4, b 1/4
    assert pop.shares({}).tolist() == pytest.approx([0.375, 0.125, 0.375, 0.125])
    # 37.5, 12.5, 37.5, 12.5: equal remainders, the two spare replications to the earliest
    assert pop.split({}) == [38, 13, 37, 12]
    assert pop.split({"population.firm.keen": 0.2}) == [60, 20, 15, 5]


def test_pooled_batch_is_the_components_own_runs_in_order_and_repeats_exactly(pop):
    from sim.core.engine import simulate_many

    values = {"population.firm.keen": 0.3}
    rows = pop.simulate(values, seed=7)
    assert len(rows) == 100
    assert rows == pop.simulate(values, seed=7)        # same seed, same rows
    assert rows != pop.simulate(values, seed=8)
    at = 0
    for j, (c, n) in enumerate(zip(pop.components, pop.split(values), strict=True)):
        own = list(simulate_many(pop.model(j, values), c.seed(7), range(n)))
        assert rows[at:at + n] == own, c.name
        at += n
    # raising a weight adds replications to a component and keeps those it had
    more = pop.simulate_components({"population.firm.keen": 0.6}, seed=7)
    fewer = pop.simulate_components(values, seed=7)
    keen_a_more, keen_a_fewer = more[2][1], fewer[2][1]
    assert len(keen_a_more) > len(keen_a_fewer)
    assert keen_a_more[:len(keen_a_fewer)] == keen_a_fewer


def test_the_weight_of_the_keen_audit_raises_the_share_found_internally(pop):
    share = OUTPUTS["share_found_internally"][0]
    low = share(pop.simulate({"population.firm.keen": 0.1}, seed=3), pop.horizon)
    high = share(pop.simulate({"population.firm.keen": 0.9}, seed=3), pop.horizon)
    # expected about 0.1*0.6 + small vs 0.9*0.6: the keen audit (p = 0.9 a month) beats a
    # 2-month outside hazard about 6 times in 10; 100 replications give a share's SD <= 0.05,
    # so a rise of 0.3 is 4 SDs of the difference below the expected ~0.45
    assert high - low > 0.3, (low, high)


def test_a_config_parameter_is_set_in_every_component_that_has_it():
    pop = population({"detectors.external.base_mean_time": {"range": ["1w", "1y"],
                                                             "why": "test"}})
    fast = OUTPUTS["found_externally"][0](
        pop.simulate({"detectors.external.base_mean_time": 7 * DAY}, seed=2), pop.horizon)
    slow = OUTPUTS["found_externally"][0](
        pop.simulate({"detectors.external.base_mean_time": 365 * DAY}, seed=2), pop.horizon)
    assert fast > slow + 0.3, (fast, slow)  # a week vs a year against a monthly audit


def test_a_level_s_scenario_replaces_the_study_s_for_its_components():
    # the "monitored" firm runs analytic_monitoring (a monitor, no audit) instead of the
    # study's analytic_audit: only its component carries the monitor, and only its rows are
    # caught by it; the audited firm's are caught by the audit or from outside
    block = {"firm": {"audited": {"weight": "rest", "why": "test"},
                      "monitored": {"weight": 0.5, "scenario": "analytic_monitoring",
                                    "why": "test"}},
             "attacker": {"a": {"weight": 1, "why": "test"}}}
    pop = population(block=block)
    assert [("monitoring" in c.config["detectors"], "audit" in c.config["detectors"])
            for c in pop.components] == [(False, True), (True, False)]
    by = {name: {r.detected_by for r in rows}
          for name, rows in pop.simulate_components({}, seed=3)}
    assert "monitoring" in by["firm=monitored,attacker=a"]
    assert "monitoring" not in by["firm=audited,attacker=a"]
    assert "audit" in by["firm=audited,attacker=a"]


# -- a bad block: one line naming the key ------------------------------------------------------
@pytest.mark.parametrize(("change", "key", "says"), [
    (lambda b: b["firm"]["keen"].update(weight=-1), "population.firm.keen.weight",
     "positive number or 'rest'"),
    (lambda b: b["firm"]["keen"].update(weight=0), "population.firm.keen.weight",
     "positive number"),
    (lambda b: b["firm"]["keen"].update(weight="rest"), "population.firm.keen.weight",
     "only one level may be 'rest'"),
    (lambda b: b["firm"]["keen"].update(weight=1.5), "population.firm.lax.weight",
     "at most 1"),
    (lambda b: b["firm"]["keen"].update(wieght=1), "population.firm.keen.wieght",
     "unknown key (did you mean weight?)"),
    (lambda b: b["firm"]["keen"].pop("why"), "population.firm.keen.why", "is required"),
    (lambda b: b["firm"].clear(), "population.firm", "must be a mapping of level"),
    (lambda b: b["attacker"]["b"].update(scenario=3), "population.attacker.b.scenario",
     "conf/scenario option"),
])
def test_bad_blocks_are_one_line_errors(change, key, says):
    import copy

    block = copy.deepcopy(BLOCK)
    change(block)
    with pytest.raises(ConfigError) as err:
        parse_population(block)
    assert err.value.key == key and says in err.value.message, str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("block_change", "parameters", "key", "says"), [
    (lambda b: b["firm"]["keen"].update(scenario="no_such_scenario"), None,
     "population.firm.keen.scenario", "unknown scenario 'no_such_scenario'"),
    (lambda b: b["firm"]["keen"].update(overrides=["detectors.audit.nonsense=1"]), None,
     "population.firm.keen.overrides", ""),
    (None, {"population.firm.lax": {"range": [0, 0.5], "why": "t"}},
     "parameters.population.firm.lax", "not a level with a weight"),
    (None, {"population.firm.keen": {"range": [-0.1, 0.5], "why": "t"}},
     "parameters.population.firm.keen.range", "cannot be negative"),
    (None, {"population.firm.keen": {"range": [0.1, 1.5], "why": "t"}},
     "parameters.population.firm", "at the top of the weight ranges"),
    (None, {"detectors.monitoring.dprime": {"range": [1, 2], "why": "t"}},
     "parameters.detectors.monitoring.dprime", "not a key of any component"),
])
def test_bad_components_and_parameters_are_one_line_errors(block_change, parameters, key, says):
    import copy

    block = copy.deepcopy(BLOCK)
    if block_change:
        block_change(block)
    with pytest.raises(ConfigError) as err:
        population(parameters, block, replications=4)
    assert err.value.key == key and says in err.value.message, str(err.value)
    assert "\n" not in str(err.value)


def test_a_study_file_with_a_bad_population_names_the_file(tmp_path):
    from sim.analysis.calibration import parse_study

    path = tmp_path / "bad.yaml"
    path.write_text("""\
scenario: analytic_audit
parameters:
  population.firm.keen: {range: [0, 1], why: t}
population:
  firm:
    lax: {weight: rest, why: t}
    keen: {weight: 0, why: t}
targets:
  x: {output: share_found_internally, value: 0.5, tolerance: 0.1, source: s, measures: m}
""")
    with pytest.raises(SimError, match=r"bad.yaml: population.firm.keen.weight: must be a "
                                       r"positive number or 'rest', got 0$"):
        parse_study(path)


# -- outputs on hand-built results -------------------------------------------------------------
def row(i, dwell_days, by="", ended="containment", contain_days=0.0, horizon_days=100.0):
    detected = bool(by)
    dwell = dwell_days * DAY if detected else horizon_days * DAY
    return ReplicationResult(
        replication=i, seed=0, detected=detected, censored=not detected, detected_by=by,
        dwell_hours=dwell, records_exfiltrated=0, true_alerts=0, false_alerts=0,
        alerts_dropped=0, access_ended_by=ended if detected else "horizon",
        access_hours=dwell + contain_days * DAY, sessions=1, mean_triage_wait_hours=math.nan)


def out(name, results, horizon_days=100.0):
    return OUTPUTS[name][0](results, horizon_days * DAY)


def test_outputs_by_detection_source_and_response_on_hand_built_results():
    results = [row(0, 1, "audit", contain_days=1), row(1, 2, "monitoring", contain_days=3),
               row(2, 3, "audit", ended="exhausted"), row(3, 10, "external", ended="stopped"),
               row(4, 20, "external", ended="exhausted"), row(5, 0), row(6, 0)]
    assert out("median_dwell_internal_days", results) == pytest.approx(2)   # of 1, 2, 3
    assert out("median_dwell_external_days", results) == pytest.approx(10)  # lower median of 10, 20
    assert out("median_dwell_detected_days", results) == pytest.approx(3)   # of 1, 2, 3, 10, 20
    assert out("share_found_internally", results) == pytest.approx(3 / 5)  # of those found
    assert out("share_undetected", results) == pytest.approx(2 / 7)
    # responses observed: 1 and 3 days after identification (the others' access had ended
    # by the detection: nothing of their response is in the results)
    assert out("mean_time_to_contain_days", results) == pytest.approx(2)
    # mean dwell of those found (7.2 d) + mean time to contain (2 d)
    assert out("mean_time_to_identify_contain_days", results) == pytest.approx(9.2)
    # nothing found that way: undefined, not zero
    assert math.isnan(out("median_dwell_external_days", results[:3]))
    assert math.isnan(out("mean_time_to_contain_days", results[2:5]))


def test_time_to_contain_counts_a_response_outlived_by_the_insider_as_censored():
    # contained 1 and 3 days after identification; a third insider emptied the store 2 days
    # after it, before the response came: censored at 2 days. Kaplan-Meier: S = 2/3 after
    # day 1, 0 after day 3; the area is 1 + 2/3 * 2 = 7/3 days (the plain mean of the two
    # contained, 2 days, would drop the response that was still under way)
    results = [row(0, 5, "audit", contain_days=1), row(1, 5, "audit", contain_days=3),
               row(2, 5, "audit", ended="exhausted", contain_days=2)]
    assert out("mean_time_to_contain_days", results) == pytest.approx(7 / 3)
    assert out("mean_time_to_identify_contain_days", results) == pytest.approx(5 + 7 / 3)


def test_the_medians_weight_detections_after_an_early_censoring():
    # detections at 1 and 3 days, one replication censored at 2 days: the Aalen-Johansen
    # incidence gives the detection at 3 days the weight 2/3 (the censored one might have
    # been found later), so half the incidence is reached at 3 days, not at 1 day
    censored_early = ReplicationResult(
        replication=2, seed=0, detected=False, censored=True, detected_by="",
        dwell_hours=2 * DAY, records_exfiltrated=0, true_alerts=0, false_alerts=0,
        alerts_dropped=0, access_ended_by="horizon", access_hours=2 * DAY, sessions=1,
        mean_triage_wait_hours=math.nan)
    results = [row(0, 1, "audit"), censored_early, row(1, 3, "audit")]
    assert out("median_dwell_internal_days", results) == pytest.approx(3)
    assert out("median_dwell_internal_days", [results[0], results[2]]) == pytest.approx(1)


# -- the experiment ----------------------------------------------------------------------------
@pytest.mark.slow
def test_industry_calibration_quick_run_writes_the_fit_checks_and_held_out(tmp_path):
    import json

    pytest.importorskip("pyabc")
    from tests.test_experiments import run_quick

    proc = run_quick("industry_calibration", tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "calibration.json").read_text())
    fitted = {name for name, t in record["targets"].items() if t["fitted"]}
    assert fitted == {"insider_like_median", "share_internal", "ponemon_contain",
                      "ibm_identify_contain"}
    assert set(record["targets"]) - fitted == {"mtrends_internal", "mtrends_external"}
    assert record["held_out"]["left_out"] == "ibm_identify_contain"
    assert "population.firm.monitored" in record["posterior"]
    for name in ("posterior.csv", "pairs.png", "predictive.png", "held_out.png",
                 "components.csv"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_time_to_contain_refuses_a_crew():
    """A crew's access_hours is its last member's end and its dwell the first detection: their
    difference is not one response, so the time to contain refuses it rather than mislead."""
    import dataclasses

    from sim.analysis.study import mean_time_to_contain_days
    from sim.core.errors import ConfigError
    from sim.outputs.results import ReplicationResult

    lone = ReplicationResult(replication=0, seed=0, detected=True, censored=False,
                             detected_by="audit", dwell_hours=24.0, records_exfiltrated=1,
                             true_alerts=0, false_alerts=0, alerts_dropped=0,
                             access_ended_by="containment", access_hours=72.0, sessions=1,
                             mean_triage_wait_hours=float("nan"))
    assert mean_time_to_contain_days([lone], 1000.0) == pytest.approx(2.0)
    with pytest.raises(ConfigError, match="lone insider"):
        mean_time_to_contain_days([dataclasses.replace(lone, insiders=3)], 1000.0)
