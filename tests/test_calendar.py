import numpy as np
import pytest

from sim.calendar import Calendar, Rhythm
from sim.errors import ConfigError


def test_calendar_anchors_time_zero():
    cal = Calendar.parse("2025-06-24T09:00:00+09:00")  # Tuesday 00:00 UTC
    assert cal.week_offset == 24.0
    assert cal.at(1.5).isoformat() == "2025-06-24T01:30:00+00:00"
    with pytest.raises(ConfigError, match="start: must be an ISO 8601"):
        Calendar.parse("next tuesday")


def test_rhythm_points_fall_only_in_active_local_hours():
    cal = Calendar.parse("2025-06-23T00:00:00+00:00")  # Monday 00:00 UTC
    weights = [0.0] * 24
    weights[20] = 1.0  # only 20:00-21:00 local
    rhythm = Rhythm(cal, weights, utc_offset_hours=8)
    rng = np.random.default_rng(0)
    t, hours = 0.0, []
    for _ in range(500):
        t = rhythm.next_point(t, mean_rate=1 / 24, rng=rng)
        hours.append((t + 8) % 24)
    assert all(20 <= h < 21 for h in hours)
    # mean rate 1/24 per hour: 500 points over about 500 days (+-4 SE of a Poisson count)
    assert t / 24 == pytest.approx(500, abs=4 * np.sqrt(500))


def test_rhythm_mean_rate_over_a_week_is_the_given_rate():
    cal = Calendar.parse("2025-06-23T00:00:00+09:00")
    rhythm = Rhythm(cal, "office", 9, weekend_factor=0.2)
    assert rhythm.intensity.mean() == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    t, n = 0.0, 0
    while t < 52 * 168:
        t = rhythm.next_point(t, 2.0, rng)
        n += 1
    expected = 2.0 * 52 * 168
    assert abs(n - expected) < 4 * np.sqrt(expected)  # Poisson count, 4 SD


@pytest.mark.parametrize("profile, msg", [("lunar", "one of flat"), ([1, 2], "24 non-negative"),
                                          ([0] * 24, "no active hour")])
def test_bad_profiles(profile, msg):
    with pytest.raises(ConfigError, match=msg):
        Rhythm(Calendar.parse("2025-01-01"), profile, 0)
