import math

import numpy as np
import pytest

from sim.core.errors import ConfigError
from sim.world.calendar import Calendar, PointStream, Rhythm


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
        Rhythm(Calendar.parse("2025-01-01T00:00:00Z"), profile, 0)


def test_point_stream_reads_the_same_points_however_it_is_consumed():
    """take_before / first_from / next() hand out one sequence, across block boundaries and
    empty blocks, and draw a block only when a point beyond those drawn is needed."""
    blocks = [[1.0, 2.0, 3.0], [], [4.0, 5.0], [6.0, 7.5, 9.0, 11.0]]
    drawn = []

    def source():
        for b in blocks:
            drawn.append(b)
            yield list(b)

    s = PointStream(source())
    assert s.peek() == 1.0 and len(drawn) == 1
    assert s.take_before(1.0) == []
    assert s.take_before(2.5) == [1.0, 2.0]
    assert len(drawn) == 1  # 3.0 >= 2.5 was already drawn: no new block
    assert s.take_before(5.0) == [3.0, 4.0]  # across an empty block
    assert s.first_from(7.0) == 7.5  # 5.0 and 6.0 skipped
    assert next(s) == 9.0
    assert s.first_from(9.5) == 11.0
    assert s.first_from(0.0) == math.inf and s.peek() == math.inf
    assert s.take_before(math.inf) == [] and list(s) == []


def test_rhythm_points_are_the_same_sequence_read_in_chunks():
    cal = Calendar.parse("2025-06-23T00:00:00+09:00")
    rhythm = Rhythm(cal, "office", 9, weekend_factor=0.2)
    one = rhythm.points(3.0, np.random.default_rng(8), start=-50.0)
    whole = [next(one) for _ in range(3000)]
    other = rhythm.points(3.0, np.random.default_rng(8), start=-50.0)
    pieces, t = [], -50.0
    while len(pieces) < 3000:
        t += 7.3
        pieces += other.take_before(t)
        if len(pieces) % 3 == 0:
            pieces.append(other.first_from(t))
    assert pieces[:3000] == whole
    assert all(b > a for a, b in zip(whole, whole[1:], strict=False))
