"""The saboteur waits, destroys its target in one burst, and is gone."""

from __future__ import annotations

from sim.core.engine import simulate
from tests.conftest import make_model


def test_one_burst_at_the_chosen_time_takes_the_whole_store():
    m = make_model(insider={"strategy": {"_target_": "sim.agents.sabotage.Sabotage",
                                         "at": "40d"}})
    for r in range(5):
        events: list = []
        res = simulate(m, 1, r, trace=events)
        starts = [e["t"] for e in events if e["action"] == "session-start"]
        # the first start of a 4-a-day Poisson rhythm from day 40: later than 2 days with
        # probability e^-8 (3e-4)
        assert len(starts) == 1 and 40 * 24 <= starts[0] < 42 * 24
        assert res.records_exfiltrated == 10_000 and res.access_ended_by == "stopped"
        kinds = [e["decision"] for e in events if e["action"] == "decision"]
        assert kinds == ["wait", "destroy"]
