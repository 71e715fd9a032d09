"""The predictive plan: capacity in place one warm-up before the load it must serve.

Pure Python: the stored forecast is read without numpy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from scaleahead.domain.series import Forecast


@dataclass(frozen=True)
class Plan:
    """What the forecast asks for now; ``desired`` is None when there is nothing to plan on."""

    desired: int | None
    planned_load: float | None
    window_start: float
    window_end: float
    basis: str


def units_needed(load: float, per_unit: float) -> int:
    """Units that serve ``load``: the one rounding rule of the planner, the backtest, the CLI."""
    # A hair of tolerance so that 300.0000001 / 100 does not buy a fourth unit.
    return max(0, math.ceil(load / per_unit - 1e-9))


def predictive_plan(
    forecast: Forecast | None,
    *,
    now: float,
    warmup_seconds: int,
    tick_seconds: int,
    capacity_per_unit: float,
    level: float = 1.0,
    observed_load: float | None = None,
    unavailable_reason: str | None = None,
) -> Plan:
    """ceil(max forecast load at the headroom quantile over [now, now + warm-up + tick] / unit).

    The window reaches one warm-up plus one tick ahead because capacity asked for now is useful
    only after its warm-up, and the next chance to ask comes one tick later. The load observed
    now is a floor on the window: a plan below what is being served this minute is wrong
    whatever the model says. Without a forecast the plan tracks the observed load alone
    (reactive-only), and says so.
    """
    start = now
    end = now + warmup_seconds + tick_seconds
    observed_ok = observed_load is not None and math.isfinite(observed_load) and observed_load >= 0
    usable = forecast is not None and forecast.covers(start, end)
    if forecast is not None and usable:
        values = [v * level for v in forecast.window(start, end, upper=True)]
        peak = max(values)
        basis = f"forecast q{forecast.quantile:g} peak over the next {(end - start) / 60:.0f} min"
        if level != 1.0:
            basis += f", level x{level:.2f}"
        if forecast.widened > 0.0:
            basis += f", band raised to +{forecast.widened:.0%} (it missed the load lately)"
        if observed_ok and observed_load is not None and observed_load > peak:
            peak = observed_load
            basis = "observed load above the forecast"
        return Plan(units_needed(peak, capacity_per_unit), peak, start, end, basis)
    why = unavailable_reason or (
        "no forecast" if forecast is None else "the stored forecast does not cover the window"
    )
    if observed_ok and observed_load is not None:
        return Plan(
            units_needed(observed_load, capacity_per_unit),
            observed_load,
            start,
            end,
            f"reactive-only ({why}): tracking the observed load",
        )
    return Plan(None, None, start, end, f"no plan: {why} and no observed load")


def stabilised(
    recent: Sequence[tuple[float, int]], now: float, window_seconds: int, max_gap_seconds: float
) -> tuple[int | None, bool]:
    """The highest plan in force over the stabilisation window, and whether plans cover it.

    Scale-in goes only as low as the highest plan of the whole window, and only once plans
    have been recorded across the whole window with no gap longer than ``max_gap_seconds``
    (missed ticks, an outage, a re-enabled target): a plan that dipped for one tick must not
    shed capacity that the next tick wants back. The plan made before the window started was
    still in force at its start, so it counts too.
    """
    ordered = sorted((t, d) for t, d in recent if t <= now)
    if window_seconds <= 0:
        # No window: the plan made now is the whole story (a plan at exactly `now` would
        # otherwise fall outside the half-open window and scale-in would never come).
        current = [d for t, d in ordered if t == now]
        return (current[-1], True) if current else (None, False)
    start = now - window_seconds
    before = [(t, d) for t, d in ordered if t <= start]
    inside = [(t, d) for t, d in ordered if t > start]
    if not inside:
        return None, False
    span = ([before[-1]] if before else []) + inside
    highest = max(d for _, d in span)
    if not before:
        return highest, window_seconds == 0 and len(inside) > 0
    times = [t for t, _ in span] + [now]
    gaps_ok = all(b - a <= max_gap_seconds for a, b in itertools.pairwise(times))
    return highest, gaps_ok


def trim_plans(
    recent: Sequence[tuple[float, int]], now: float, window_seconds: int
) -> list[tuple[float, int]]:
    """Keep the plans the next stabilisation check needs: the window plus the one before it."""
    inside = sorted((t, d) for t, d in recent if t > now - window_seconds)
    before = [(t, d) for t, d in recent if t <= now - window_seconds]
    if before:
        inside.insert(0, max(before))
    return inside
