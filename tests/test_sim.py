"""What the demo and the backtest share (``scaleahead_tools.sim``) is the product's own rule:
units needed counted exactly as ``domain.plan.units_needed`` counts them, on every value, and
the backtest's warm-up law the same as the demo's ECS tasks'."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaleahead.domain.plan import units_needed
from scaleahead_tools.demo.stack import MIN_CAPACITY, need
from scaleahead_tools.sim.scoring import units_needed_array, unserved_share

RUNS = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PER_UNITS = (1.0, 0.1, 0.3, 1 / 3, 9.0, 9.3, 36.0, 7e-7, 1e6)


def _awkward(per_unit: float) -> list[float]:
    """0, exact multiples, the neighbours of a multiple on both sides of units_needed's
    tolerance (1e-9 of a unit) from 1e-15 to 1e-3 of a unit, the float next to a multiple,
    tiny loads, and huge ones up to 9e18 units."""
    out = [0.0, -0.0, -1.0, 5e-324, 1e-300, per_unit / 2]
    for k in (1, 2, 3, 7, 10, 100, 12345, 2**40):
        exact = k * per_unit
        out += [exact, math.nextafter(exact, math.inf), math.nextafter(exact, -math.inf)]
        for d in (1e-15, 1e-12, 1e-10, 5e-10, 9.9e-10, 1e-9, 1.01e-9, 2e-9, 1e-8, 1e-6, 1e-3):
            out += [(k + d) * per_unit, (k - d) * per_unit, exact + d, exact + d * per_unit]
    out += [1e15, 2.0**53, 2.0**53 + 2, 2.0**53 * per_unit, 1e17 * per_unit, 9e18 * per_unit]
    # As many units as an int64 holds (beyond it: test_where_units_needed_raises...).
    return [v for v in out if units_needed(v, per_unit) < 2**63]


@pytest.mark.parametrize("per_unit", PER_UNITS)
def test_the_array_rule_is_units_needed_on_awkward_values(per_unit: float) -> None:
    loads = _awkward(per_unit)
    got = units_needed_array(np.array(loads, dtype=np.float64), per_unit)
    assert got.dtype == np.int64
    assert got.tolist() == [units_needed(v, per_unit) for v in loads]


def test_where_units_needed_raises_the_array_rule_raises() -> None:
    with pytest.raises(ValueError):
        units_needed(math.nan, 1.0)
    with pytest.raises(ValueError):
        units_needed_array(np.array([1.0, math.nan]), 1.0)
    with pytest.raises(OverflowError):
        units_needed(math.inf, 1.0)
    with pytest.raises(ValueError):
        units_needed_array(np.array([math.inf]), 1.0)
    # Beyond int64: units_needed returns a Python int that no int64 array holds.
    assert units_needed(1e19, 1.0) == 10**19
    with pytest.raises(OverflowError):
        units_needed_array(np.array([1e19]), 1.0)
    assert units_needed_array(np.array([], dtype=np.float64), 1.0).tolist() == []


@RUNS
@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e15, allow_nan=False), max_size=50),
    st.floats(min_value=1e-6, max_value=1e6),
)
def test_the_array_rule_is_units_needed_on_any_value(loads: list[float], per_unit: float) -> None:
    want = [units_needed(v, per_unit) for v in loads]
    if max(want, default=0) >= 2**63:
        with pytest.raises(OverflowError):
            units_needed_array(np.array(loads, dtype=np.float64), per_unit)
        return
    assert units_needed_array(np.array(loads, dtype=np.float64), per_unit).tolist() == want


def test_the_demo_needs_what_the_planner_counts_never_below_the_tiers_minimum() -> None:
    assert MIN_CAPACITY == 1
    assert need(0.0, 9.0) == 1  # a quiet minute still needs the tier's minimum
    assert need(27.0, 9.0) == units_needed(27.0, 9.0) == 3
    assert need(27.0 + 1e-9, 9.0) == 3  # the planner's tolerance, not a fourth task
    assert need(28.0, 9.0) == 4


def test_unserved_share_is_the_load_above_what_serves_over_all_load() -> None:
    load = np.array([100.0, 250.0, 300.0, 50.0])
    assert unserved_share(load, np.array([1, 2, 2, 1]), 100.0) == (50 + 100) / 700
    assert unserved_share(np.zeros(3), np.zeros(3, dtype=np.int64), 5.0) == 0.0
