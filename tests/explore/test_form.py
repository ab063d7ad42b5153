"""The explorer's form: read from conf/ and the parameter dataclasses, turned into the exact
overrides of ``python -m sim``, validated along the command line's path."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from sim.controls.detectors import AuditParams
from sim.controls.triage import TriageParams
from sim.core.errors import ConfigError
from sim.core.limits import MAX_EXPLORER_REPLICATION_YEARS, MAX_EXPLORER_REPLICATIONS
from sim.explore import form as F

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"


@pytest.fixture(scope="module")
def coupang() -> F.Form:
    return F.build_form(["scenario=coupang_2025"])


def test_every_group_and_option_on_disk_is_offered(coupang):
    on_disk = {p.relative_to(CONF).as_posix(): tuple(sorted(q.stem for q in p.glob("*.yaml")))
               for p in CONF.rglob("*") if p.is_dir() and p.glob("*.yaml")
               and not p.relative_to(CONF).as_posix().startswith("hydra")}
    on_disk = {k: v for k, v in on_disk.items() if v}
    assert F.config_groups() == on_disk
    for g in coupang.groups:  # every group the config uses, with every option in its dir
        assert g.options == on_disk[g.group]
    keys = {g.key for g in coupang.groups}
    assert {"scenario", "network", "insider", "triage", "regime", "firm"} <= keys
    assert {k for k in keys if k.startswith("detector@")} == {
        "detector@detectors.audit", "detector@detectors.threshold_rules",
        "detector@detectors.external"}
    assert coupang.groups[0].key == "scenario"
    assert coupang.addable == {"detector": on_disk["detector"]}


def test_fields_carry_the_dataclass_metadata(coupang):
    f = coupang.fields
    cov = f["detectors.audit.coverage"]
    meta = AuditParams.__dataclass_fields__["coverage"].metadata
    assert (cov.kind, cov.lo, cov.hi, cov.doc) == ("float", 0, 1, meta["doc"])
    assert cov.default == "0.01"  # the scenario's value, not the option's 0.1
    assert f["detectors.audit.interval"].kind == "duration"
    assert f["detectors.audit.interval"].default == "1mo"
    shift = f["triage.shift"]
    assert shift.kind == "choice"
    assert shift.choices == TriageParams.__dataclass_fields__["shift"].metadata["choices"]
    assert f["triage.analysts"].kind == "int" and f["triage.analysts"].hi == 100_000
    assert f["insider.first_session_at_start"].kind == "bool"
    assert f["insider.fields"].kind == "list"
    # a key the dataclass declares and no YAML sets is offered, marked absent (set with +KEY)
    assert f["insider.route"].present is False and f["insider.route"].default == "shortest"
    # networks are built by @makes functions: their signature types the fields
    assert f["network.hosts"].kind == "int" and f["network.hosts"].default == "300"
    # the explorer's own keys are never offered, nor _target_
    assert not any(k.split(".")[0] in F.MANAGED_KEYS for k in f)
    assert "shards" not in f and "shard" not in f  # an arm is one whole job (#16's sharding)
    assert not any(k.endswith("_target_") for k in f)
    assert f["detectors.audit.coverage"].allowed() == "number; in [0, 1]"


def test_the_form_follows_the_chosen_options():
    monitored = F.build_form(["scenario=coupang_2025_monitored"])
    assert "detectors.monitoring.threshold" in monitored.fields
    assert monitored.fields["triage.analysts"].default == "5"
    # a nested group (insider/strategy): its option's Params give the fields
    from sim.agents.cautious import CautiousParams

    cautious = F.build_form(["scenario=coupang_2025", "insider/strategy=cautious"])
    assert any(g.key == "insider/strategy" for g in cautious.groups)
    quiet = cautious.fields["insider.strategy.quiet"]
    assert (quiet.kind, quiet.default) == ("duration", "30d")
    assert quiet.hi == CautiousParams.__dataclass_fields__["quiet"].metadata["hi"]
    small = F.build_form(["scenario=default", "network=coupang_like"])
    assert "network.customers" in small.fields and "network.segmentation" not in small.fields


def test_a_new_option_or_key_appears_without_editing_the_explorer(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    # a new detector option (any class with a Params) and a new scenario that uses it
    (conf / "detector" / "weekly_review.yaml").write_text(
        "_target_: sim.controls.detectors.PeriodicAudit\ninterval: 1w\n")
    (conf / "scenario" / "classroom.yaml").write_text(
        "# @package _global_\ndefaults:\n  - /detector@detectors.review: weekly_review\n"
        "  - override /network: generated\nreplications: 50\n")
    # a new key in an existing option, unknown to any dataclass: typed from its YAML value
    text = (conf / "triage" / "soc_24x7.yaml").read_text()
    (conf / "triage" / "soc_24x7.yaml").write_text(text + "new_knob: 7\n")
    form = F.build_form(["scenario=classroom"], conf)
    scenario = next(g for g in form.groups if g.key == "scenario")
    assert "classroom" in scenario.options
    assert "weekly_review" in form.addable["detector"]
    review = form.fields["detectors.review.interval"]
    assert (review.kind, review.default) == ("duration", "1w")
    assert form.fields["detectors.review.coverage"].hi == 1  # AuditParams' metadata
    assert form.fields["triage.new_knob"].kind == "int"
    assert form.fields["replications"].default == "50"


def test_untouched_form_gives_only_the_chosen_options(coupang):
    values = {k: f.default for k, f in coupang.fields.items()}
    sel = F.Selection(groups={g.key: g.default for g in coupang.groups}, values=values)
    overrides, _ = F.to_overrides(F.Selection(groups={"scenario": "coupang_2025"}))
    assert overrides == ["scenario=coupang_2025"]
    # choosing every option it already has adds nothing either
    sel.groups["scenario"] = "coupang_2025"
    assert F.to_overrides(sel)[0] == ["scenario=coupang_2025"]


def test_selection_becomes_overrides_that_compose_to_it():
    sel = F.Selection(
        groups={"scenario": "coupang_2025", "triage": "office_hours", "firm": F.NONE_OPTION},
        values={"detectors.audit.interval": "1w", "triage.analysts": "2",
                "insider.route": "least_watched", "replications": "200",
                "detectors.external.mean_time_per_million": "5y"},
        removed=["detectors.threshold_rules"],
        added={"detectors.rotation": ("detector", "credential_hygiene")})
    overrides, form = F.to_overrides(sel)
    assert overrides == ["scenario=coupang_2025", "triage=office_hours",
                         "~detectors.threshold_rules",
                         "+detector@detectors.rotation=credential_hygiene",
                         "detectors.audit.interval=1w",
                         "detectors.external.mean_time_per_million=5y",
                         "+insider.route=least_watched", "triage.analysts=2"]
    cfg, choices = F.compose(overrides)
    assert cfg["triage"]["analysts"] == 2 and cfg["triage"]["shift"] == "office_hours"
    assert cfg["detectors"]["audit"]["interval"] == "1w"
    assert cfg["insider"]["route"] == "least_watched"
    assert "threshold_rules" not in cfg["detectors"]
    assert choices["detector@detectors.rotation"] == "credential_hygiene"
    assert "detectors.rotation.max_credential_age" in form.fields
    assert F.validate(overrides, form) is None


@pytest.mark.parametrize("override, field, says", [
    ("triage.analysts=-1", "triage.analysts", "triage.analysts: must be in [0, 100000], got -1"),
    ("detectors.audit.interval=soon", "detectors.audit.interval", "detectors.audit.interval:"),
    ("insider.ip_addresses=0", "insider.ip_addresses", "insider.ip_addresses: must be >= 1"),
    ("triage.shift=weekends", "triage.shift", "triage.shift: must be one of 24x7, office_hours"),
])
def test_bad_values_are_attached_to_their_field(coupang, override, field, says):
    problem = F.validate(["scenario=coupang_2025", override], coupang)
    assert problem is not None
    assert problem.field == field
    assert problem.message.startswith(says)
    assert "\n" not in problem.message


@pytest.mark.slow
def test_the_error_is_the_command_lines_own_line(coupang, tmp_path):
    """The same overrides at the terminal print the same line (plus ``error: ``), exit 2."""
    overrides = ["scenario=coupang_2025", "detectors.audit.coverage=1.5"]
    problem = F.validate(overrides, coupang)
    assert problem is not None
    out = subprocess.run([sys.executable, "-m", "sim", *overrides,
                          f"hydra.run.dir={tmp_path}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {problem.message}"


@pytest.mark.parametrize("override, says", [
    ("start='${oc.env:HOME}'", "interpolations"),
    ("+detectors.audit._target_=os.system", "_target_"),
    ("triage.analysts=1,2", "one value only"),
    ("hydra.run.dir=/etc", "set by the explorer"),
    ("trace=true", "set by the explorer"),
    ("workers=8", "set by the explorer"),
    ("shards=4", "set by the explorer"),
    ("triage.analysts=[1", "cannot parse"),
])
def test_what_a_browser_may_not_ask_is_refused(coupang, override, says):
    with pytest.raises(ConfigError, match=says):
        F.check_safe(override)
    problem = F.validate(["scenario=coupang_2025", override], coupang)
    assert problem is not None and says in problem.message


def test_a_typed_interpolation_never_reaches_hydra(coupang):
    sel = F.Selection(groups={"scenario": "coupang_2025"},
                      values={"start": "${oc.env:HOME}"})
    with pytest.raises(ConfigError, match="start: interpolations"):
        F.to_overrides(sel)


def test_replications_times_horizon_is_bounded(coupang):
    too_many = F.validate(["scenario=coupang_2025",
                           f"replications={MAX_EXPLORER_REPLICATIONS + 1}"], coupang)
    assert too_many is not None and too_many.field == "replications"
    years = MAX_EXPLORER_REPLICATION_YEARS / 1000 * 2  # 1000 replications of twice that / 1000
    too_long = F.validate(["scenario=coupang_2025", "replications=1000", f"horizon={years}y"],
                          coupang)
    assert too_long is not None and too_long.field == "horizon"
    assert "replications x horizon" in too_long.message
    ok = F.validate(["scenario=coupang_2025", "replications=1000",
                     f"horizon={years / 2 * 0.99}y"], coupang)
    assert ok is None


def test_an_unknown_option_is_the_groups_problem(coupang):
    problem = F.validate(["scenario=coupang_2025", "triage=night_shift"], coupang)
    assert problem is not None and problem.field == "triage"
    assert "choose one of office_hours, soc_24x7" in problem.message
    with pytest.raises(ConfigError, match="detectors.Rot"):
        F.to_overrides(F.Selection(added={"detectors.Rot": ("detector", "none")}))


@pytest.mark.parametrize("value", [
    "it's a \\ test", "end\\", "a\\'b", "with space", "2025-06-24T00:00:00+09:00", "1mo", "123",
    "true", "a,b", 3, 2.5, 1e-06, float("inf"), True, None, ["name", "email"], [1.5, 2], "",
])
def test_rendered_values_parse_back_to_themselves(value):
    parsed = OverridesParser.create().parse_overrides([f"k={F.render(value)}"])[0]
    assert not parsed.is_sweep_override()
    assert parsed.value() == value


def test_the_command_is_shell_quoted():
    overrides = ["scenario=coupang_2025", "~detectors.external", "start='a b'"]
    cmd = F.command(overrides, "/tmp/run dir")
    assert shlex.split(cmd) == ["python", "-m", "sim", *overrides, "hydra.run.dir=/tmp/run dir"]
