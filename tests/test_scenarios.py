"""Calibration: the canonical scenarios land where the 2025 Coupang case says they should.

``coupang_2025``: median dwell within 90-220 days (actual: about 147 days from 24 Jun 2025).
``coupang_2025_monitored``: median dwell under 24 hours. Both at 200 replications, as the
issue's acceptance command runs them, for several seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.engine import build_model, simulate
from sim.core.timeunits import DAY
from tests.test_configs import compose_plain


def medians(scenario: str, seed: int, n: int = 200) -> tuple[float, np.ndarray]:
    model = build_model(compose_plain([f"scenario={scenario}", f"seed={seed}"]))
    res = [simulate(model, seed, r) for r in range(n)]
    return float(np.median([r.dwell_hours for r in res])), np.array(
        [r.records_exfiltrated for r in res])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coupang_2025_median_dwell_near_147_days(seed):
    med, records = medians("coupang_2025", seed)
    assert 90 * DAY <= med <= 220 * DAY, med / DAY
    assert np.median(records) > 10_000_000  # tens of millions leave before anyone notices


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coupang_2025_monitored_median_dwell_under_a_day(seed):
    med, records = medians("coupang_2025_monitored", seed)
    assert med < 24.0, med
    assert np.median(records) < 1_000_000
