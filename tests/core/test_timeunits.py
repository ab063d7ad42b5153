import math

import pytest

from sim.core.errors import ConfigError
from sim.core.timeunits import DAY, MONTH, YEAR, format_hours, parse_duration


@pytest.mark.parametrize("text, hours", [
    ("90m", 1.5), ("4h", 4.0), ("30d", 720.0), ("2w", 336.0), ("5mo", 5 * 730.5),
    ("1y", 8766.0), (3, 3.0), (2.5, 2.5), ("1.5d", 36.0), ("45min", 0.75), ("3600s", 1.0),
    (" 7 d ", 168.0), ("12", 12.0),
])
def test_parse_duration_units(text, hours):
    assert parse_duration(text) == pytest.approx(hours)


def test_a_month_is_a_twelfth_of_a_year():
    assert 12 * MONTH == pytest.approx(YEAR)
    assert MONTH == pytest.approx(30.4375 * DAY)


@pytest.mark.parametrize("bad", ["5 fortnights", "abc", "-3h", "", "h", True, None, [1], "1e"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ConfigError, match="horizon"):
        parse_duration(bad, "horizon")


def test_infinity_only_where_allowed():
    assert math.isinf(parse_duration("inf", "x", allow_inf=True))
    assert math.isinf(parse_duration("never", "x", allow_inf=True))
    with pytest.raises(ConfigError, match="finite"):
        parse_duration("inf", "x")


def test_format_hours_picks_a_readable_unit():
    assert format_hours(0.5) == "30 min"
    # a sub-minute dwell (a monitor on the first session) reads in seconds, never "0 min"
    assert format_hours(20 / 3600) == "20 s"
    assert format_hours(59.4 / 3600) == "59 s" and format_hours(59.6 / 3600) == "1 min"
    assert format_hours(5) == "5.0 h"
    assert format_hours(10 * DAY) == "10.0 d"
    assert format_hours(5 * MONTH) == "5.0 mo"
    assert format_hours(3 * YEAR) == "3.0 y"
