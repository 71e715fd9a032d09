"""How a backtest scores a policy over a trace, and compares policies over their knob sweeps.

With need_t = ``units_needed(demand_t, unit)`` (``sim.scoring``, the product's rule):
``under_time`` is the share of steps with capacity below need (SPEC's under-provisioning time
share), ``unserved`` the load above capacity over all load, ``cost`` capacity-steps over
need-steps (the oracle pays 1), ``accuracy_under``/``_over`` the mean units short and in excess
per step (SPEC's accuracy metrics), ``actions`` the changes of the desired count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scaleahead_tools.sim.scoring import (
    FloatArray,
    IntArray,
    units_needed_array,
    unserved_share,
)

ONE_PERCENT = 0.01


@dataclass(frozen=True)
class Score:
    under_time: float
    unserved: float
    cost: float
    accuracy_under: float
    accuracy_over: float
    actions: int
    steps: int

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def score(
    demand: FloatArray, capacity: IntArray, desired: IntArray, per_unit: float, *, before: int
) -> Score:
    """Score the steps given; ``before`` is the desired count just before the first of them,
    so that a change on the first scored step counts as an action."""
    if demand.size == 0:
        raise ValueError("no steps to score")
    need = units_needed_array(demand, per_unit)
    cap = capacity.astype(np.int64)
    short = np.maximum(need - cap, 0)
    excess = np.maximum(cap - need, 0)
    unserved = unserved_share(demand, cap, per_unit)
    need_sum = int(np.sum(need))
    cost = float(np.sum(cap)) / need_sum if need_sum else (math.inf if np.any(cap) else 1.0)
    changes = int(np.count_nonzero(np.diff(np.concatenate([[before], desired]))))
    return Score(
        under_time=float(np.mean(short > 0)),
        unserved=unserved,
        cost=cost,
        accuracy_under=float(np.mean(short)),
        accuracy_over=float(np.mean(excess)),
        actions=changes,
        steps=int(demand.size),
    )


@dataclass(frozen=True)
class Point:
    knob: float | None
    cost: float
    under_time: float
    # The share of the demand left unserved (None where it was not measured): how deep the
    # short steps are, which a count of them does not say.
    unserved: float | None = None


def frontier(points: Sequence[Point]) -> list[Point]:
    """The settings no other beats on both cost and under_time, cheapest first."""
    out: list[Point] = []
    for p in sorted(points, key=lambda p: (p.cost, p.under_time)):
        if not out or p.under_time < out[-1].under_time:
            out.append(p)
    return out


def cost_at(points: Sequence[Point], under_time: float = ONE_PERCENT) -> float | None:
    """The lowest cost among settings with under_time at or below the level; None if none."""
    p = point_at(points, under_time)
    return None if p is None else p.cost


def within(under_time: float, level: float = ONE_PERCENT) -> bool:
    """Short on at most ``level`` of the steps, up to float noise: what "reaches 1 %" reads
    everywhere (the sweep, its refinement and extension, the hindsight rule)."""
    return under_time <= level + 1e-12


def point_at(points: Sequence[Point], under_time: float = ONE_PERCENT) -> Point | None:
    """The setting ``cost_at`` reads: the cheapest at or below the level (of equals, the one
    least short); None if none is."""
    ok = [p for p in points if within(p.under_time, under_time)]
    return min(ok, key=lambda p: (p.cost, p.under_time)) if ok else None


# The shortfall range over which frontiers are compared: what a user would run at. Below it the
# knobs run out (no setting of a forecast is never short on a noisy trace); above it, capacity
# is short on more than one step in twenty and nobody wants the saving.
COMPARE_RANGE = (0.005, 0.05)


def below(
    mine: Sequence[Point], theirs: Sequence[Point], span: tuple[float, float] = COMPARE_RANGE
) -> tuple[int, int]:
    """How many of ``theirs``' frontier settings with under_time in ``span`` ``mine`` beats:
    a setting of mine at most as short of capacity and strictly cheaper. Returns (k, n)."""
    lo, hi = span
    front = [p for p in frontier(theirs) if lo <= p.under_time <= hi]
    wins = 0
    for p in front:
        c = cost_at(mine, p.under_time)
        wins += c is not None and c < p.cost
    return wins, len(front)
