"""The departing employee's thefts cluster within the window around the departure date."""

from __future__ import annotations

import pytest

from sim.core.engine import simulate
from sim.core.errors import ConfigError
from tests.conftest import make_model

DAY = 24.0
NET = {"_target_": "tests.conftest.tiny_network", "records": 10**8}


def starts(model, seed=1, replication=0):
    events: list = []
    res = simulate(model, seed, replication, trace=events)
    return res, [e["t"] for e in events if e["action"] == "session-start"]


def test_thefts_cluster_around_the_departure_and_stop_after():
    leaver = make_model(network=NET, insider={"strategy": {
        "_target_": "sim.agents.departing.DepartingEmployee", "departure": "120d",
        "before": "30d", "after": "30d"}})
    naive = make_model(network=NET)
    for r in range(5):
        res, times = starts(leaver, 1, r)
        assert times and min(times) >= 90 * DAY and max(times) <= 150 * DAY
        assert res.access_ended_by == "stopped" and res.access_hours <= 151 * DAY
        # ~4 sessions a day for 60 days: Poisson count, 5 SD either side of 240
        assert abs(len(times) - 240) < 5 * 240 ** 0.5
        _, spread = starts(naive, 1, r)
        assert min(spread) < 90 * DAY and max(spread) > 150 * DAY  # the renewal insider


def test_a_window_cut_at_time_zero_starts_at_once():
    m = make_model(network=NET, insider={"strategy": {
        "_target_": "sim.agents.departing.DepartingEmployee", "departure": "10d",
        "before": "30d", "after": "5d"}})
    _, times = starts(m)
    assert times[0] == 0.0 and max(times) <= 15 * DAY


def test_a_departure_outside_the_horizon_is_refused():
    with pytest.raises(ConfigError, match=r"^insider\.strategy\.departure: must be within the "
                                          r"horizon \(0 to 8766 h\), got 17532 h$"):
        make_model(insider={"strategy": {"_target_": "sim.agents.departing.DepartingEmployee",
                                         "departure": "2y"}})
