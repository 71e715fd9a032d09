"""Capacity against load, measured the same way by the demo and the backtest.

"Units needed" is the product's own rule, ``scaleahead.domain.plan.units_needed``: the tools
never round a load to units any other way. ``units_needed_array`` is that rule over a whole
trace at once, for the backtest's sweeps: the same IEEE operations in the same order, hence the
same integers for every value (``tests/test_sim.py`` checks it on awkward ones). A step is short
when the capacity serving is below what its load needs; the load left unserved is what exceeds
what that capacity serves.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# ``units_needed``'s tolerance: a hair, so that 300.0000001 / 100 does not buy a fourth unit.
_TOLERANCE = 1e-9
_INT64_LIMIT = 2.0**63


def units_needed_array(load: FloatArray, per_unit: float) -> IntArray:
    """``units_needed(load[i], per_unit)`` for every ``i``: ``max(0, ceil(load / unit - 1e-9))``.

    Where ``units_needed`` raises (a load or unit that is not finite, a count beyond int64)
    this raises too, rather than return an integer that differs.
    """
    units = np.ceil(np.asarray(load, dtype=np.float64) / per_unit - _TOLERANCE)
    if not np.all(np.isfinite(units)):
        raise ValueError("units needed: the load and the unit must be finite numbers")
    if units.size and float(np.max(units)) >= _INT64_LIMIT:
        raise OverflowError("units needed: more units than an int64 holds")
    out: IntArray = np.maximum(units, 0).astype(np.int64)
    return out


def unserved_share(load: FloatArray, capacity: IntArray, per_unit: float) -> float:
    """The load above what ``capacity`` serves at each step, over all the load (0 without load)."""
    total = float(np.sum(load))
    if not total > 0:
        return 0.0
    served = np.minimum(load, capacity * per_unit)
    return float(np.sum(np.maximum(load - served, 0.0))) / total
