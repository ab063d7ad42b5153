"""The strategy interface: chosen by config, validated like detectors, and - for the renewal
default - exactly the insider it replaced."""

from __future__ import annotations

import sys
import textwrap

import pytest

from sim.agents.renewal import Renewal
from sim.agents.strategy import Move, Strategy, Tactics
from sim.cli.app import CONF_DIR
from sim.core.engine import build_model, simulate
from sim.core.errors import ConfigError
from tests.conftest import BASE, make_model, merge

# Controls that send the insider every signal it can see: a volume rule it trips (refusals),
# a visible audit (notices), outside discovery (whose clock reads the insider's plans).
NOISY = {
    "insider": {"request_rate_per_ip": 2000},
    "detectors": {
        "rule": {"_target_": "sim.controls.detectors.VolumeThreshold",
                 "max_requests_per_ip_hour": 1000, "watch": "all"},
        "audit": {"_target_": "sim.controls.detectors.PeriodicAudit", "interval": "1w",
                  "coverage": 0.05, "recognition": 0.5, "visible": True},
        "external": {"_target_": "sim.controls.detectors.ExternalDiscovery",
                     "base_mean_time": "60d"},
    },
    "triage": {"confirm_probability": 0.05},
}


class EveryHook(Strategy):
    """Overrides every hook of Tactics, each doing what the default does."""

    from sim.agents.strategy import NoParams as Params

    def start(self, insider):
        return _EveryHook(insider)


class _EveryHook(Tactics):
    heard = 0

    def next_start(self, now, proposed):
        return super().next_start(now, proposed)

    def choose_target(self, targets):
        return super().choose_target(targets)

    def shape(self, target, move):
        return Move(*super().shape(target, move))

    def on_refused(self, session, control):
        type(self).heard += 1

    def on_notice(self, control):
        type(self).heard += 1
        self.insider.reschedule()  # asks next_start again: the default keeps the plan

    def on_session_end(self, session, taken):
        pass

    def on_access_lost(self, reason):
        pass


def test_a_strategy_that_overrides_every_hook_with_the_default_is_the_renewal_insider():
    """The hook path (called only when overridden) changes no draw: same rows, seed for seed."""
    renewal = make_model(**NOISY)
    hooked = build_model(merge(BASE, {**NOISY, "insider": {
        **NOISY["insider"], "strategy": {"_target_": "tests.agents.test_strategy.EveryHook"}}}))
    _EveryHook.heard = 0
    for r in range(6):
        assert simulate(renewal, 3, r) == simulate(hooked, 3, r)
    assert _EveryHook.heard > 0  # the hooks were called: the signals reached the insider


def test_renewal_is_the_default_and_the_preset():
    assert isinstance(make_model().strategy, Renewal)
    explicit = make_model(insider={"strategy": {"_target_": "sim.agents.renewal.Renewal"}})
    assert [simulate(explicit, 1, r) for r in range(3)] == [simulate(make_model(), 1, r)
                                                            for r in range(3)]


def test_every_strategy_option_composes_runs_and_traces_valid_events():
    from sim.outputs.trace import to_ecs, validate_line
    from tests.test_configs import compose_plain

    options = sorted(p.stem for p in (CONF_DIR / "insider" / "strategy").glob("*.yaml"))
    assert {"renewal", "threshold_prober", "cautious", "departing_employee",
            "smash_and_grab", "fraud", "sabotage"} <= set(options)
    for option in options:
        model = build_model(compose_plain([f"insider/strategy={option}", "replications=1",
                                           "detectors.audit.visible=true"]))
        assert type(model.strategy).__module__.startswith("sim.agents.")
        events: list = []
        simulate(model, 0, 0, trace=events)
        for i, event in enumerate(events):  # decisions included: the schema knows them
            validate_line(to_ecs(event, model.calendar, sequence=i))


@pytest.mark.parametrize(("node", "key", "what"), [
    ({"_target_": "sim.agents.nope.Nope"}, "insider.strategy._target_", "cannot import"),
    ({"_target_": "os.system"}, "insider.strategy._target_", "is not a Strategy subclass"),
    ({"_target_": "sim.controls.detectors.NullDetector"}, "insider.strategy._target_",
     "is not a Strategy subclass"),
    ({"_target_": "sim.agents.cautious.Cautious", "quiet": -24}, "insider.strategy.quiet",
     "non-negative"),
    ({"_target_": "sim.agents.cautious.Cautious", "quite": "1d"}, "insider.strategy.quite",
     "unknown key"),
    ({"_target_": "sim.agents.smash_and_grab.SmashAndGrab", "pause": -2},
     "insider.strategy.pause", "non-negative"),
    ({"_target_": "sim.agents.departing.DepartingEmployee", "departure": "2y"},
     "insider.strategy.departure", "within the horizon"),
    ({"_target_": "sim.agents.sabotage.Sabotage", "at": "400d"}, "insider.strategy.at",
     "within the horizon"),
])
def test_bad_strategies_are_one_line_config_errors(node, key, what):
    with pytest.raises(ConfigError) as err:
        make_model(insider={"strategy": node})
    assert err.value.key == key and what in err.value.message, str(err.value)
    assert "\n" not in str(err.value)


def test_a_strategy_in_the_users_own_file(tmp_path, monkeypatch):
    """As the README shows: a module outside sim/ on sys.path, named by _target_."""
    (tmp_path / "my_insider.py").write_text(textwrap.dedent('''
        from dataclasses import dataclass
        from sim.agents.strategy import Strategy, Tactics
        from sim.core.params import spec

        @dataclass(frozen=True)
        class WeekendParams:
            sessions: int = spec(3, lo=1, doc="sessions before going quiet for good")

        class FewSessions(Strategy):
            """Takes a few batches, then stops on its own."""
            Params = WeekendParams

            def start(self, insider):
                return _Few(insider, self.params.sessions)

        class _Few(Tactics):
            def __init__(self, insider, n):
                super().__init__(insider)
                self.n = n

            def next_start(self, now, proposed):
                return proposed if self.insider.sessions < self.n else float("inf")
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    model = make_model(insider={"strategy": {"_target_": "my_insider.FewSessions",
                                             "sessions": 4}})
    res = simulate(model, 1, 0)
    assert res.sessions == 4 and res.access_ended_by == "stopped"
    assert res.records_exfiltrated == 400  # four batches of 100 (batch_cv 0)
    with pytest.raises(ConfigError, match="insider.strategy.sessions: must be >= 1"):
        make_model(insider={"strategy": {"_target_": "my_insider.FewSessions", "sessions": 0}})
    sys.modules.pop("my_insider", None)


def test_strategy_decisions_are_traced_with_attack_techniques():
    model = make_model(insider={"strategy": {"_target_": "sim.agents.cautious.Cautious",
                                             "quiet": "3d"}},
                       detectors={"audit": {"_target_": "sim.controls.detectors.PeriodicAudit",
                                            "interval": "1w", "coverage": 0.0,
                                            "visible": True}})
    events: list = []
    simulate(model, 1, 0, trace=events)
    decisions = [e for e in events if e["action"] == "decision"]
    assert decisions and all(e["decision"] == "lie-low" and e["technique"] == ["T1029"]
                             for e in decisions)
    assert all(e["signal"] == "notice" and e["control"] == "audit" for e in decisions)
