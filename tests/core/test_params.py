from dataclasses import dataclass

import pytest

from sim.core.errors import ConfigError
from sim.core.params import build, spec


@dataclass(frozen=True)
class P:
    share: float = spec(0.5, lo=0, hi=1)
    every: float = spec(24.0, duration=True, lo=0, lo_open=True)
    count: int = spec(3, lo=1)
    mode: str = spec("a", choices=("a", "b"))
    names: tuple[str, ...] = spec(("x",))
    first: float | None = spec(None, duration=True)


def test_build_converts_and_keeps_defaults():
    p = build(P, {"every": "2d", "count": 4.0, "names": ["p", "q"]})
    assert p == P(share=0.5, every=48.0, count=4, mode="a", names=("p", "q"), first=None)
    assert build(P, {"first": "1h"}).first == 1.0


@pytest.mark.parametrize("values, message", [
    ({"share": 1.5}, r"det\.share: must be in \[0, 1\], got 1.5"),
    ({"every": 0}, r"det\.every: must be > 0"),
    ({"every": "soon"}, r"det\.every: must be a duration"),
    ({"count": 2.5}, r"det\.count: must be an integer"),
    ({"count": "many"}, r"det\.count: must be an integer"),
    ({"mode": "c"}, r"det\.mode: must be one of a, b"),
    ({"names": "p"}, r"det\.names: must be a list"),
    ({"colour": 1}, r"det\.colour: unknown key; allowed keys are count, every"),
    ({"share": True}, r"det\.share: must be a number"),
])
def test_build_names_the_bad_key(values, message):
    with pytest.raises(ConfigError, match=message):
        build(P, values, "det")


def test_required_key():
    @dataclass(frozen=True)
    class R:
        path: str = spec()

    with pytest.raises(ConfigError, match="net.path: is required"):
        build(R, {}, "net")
