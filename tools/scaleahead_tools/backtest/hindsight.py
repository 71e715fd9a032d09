"""A second yardstick for the bench: the best simple causal rule, its two settings tuned in
hindsight.

The smooth oracle (``policies.smooth_oracle``) is a floor no causal policy is bound to reach:
it knows the coming hour's mean, and on a bursty series that mean already holds the burst. The
issue-16 target of 1.3 times that floor is worth little unless something causal gets near it.
This rule is causal in what it reads and optimistic only in how it is tuned: at the end of
every step it asks for ``k`` times the largest load of the last ``w`` datapoints, with ``k`` and
``w`` picked after seeing the whole trace (the cheapest pair at 1 % short), which no deployed
policy can do. Where scaleahead costs more than it, this rule tuned in hindsight does better
on that trace (how much of that survives tuning in advance is measured in docs/BACKTEST.md);
where the rule itself is far above the smooth oracle, so is anything this simple.

Capacity obeys the world's law (``scaleahead_testkit.warmup.Fleet``): what is asked at the end
of step t serves from t + 1 + warm-up steps, what is removed is gone from t + 1. Like the smooth
oracle, the rule ignores the resource's own limits on changes (one ElastiCache resharding at a
time, Aurora readers one change at a time); it is a yardstick, not a baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scaleahead_tools.backtest.metrics import Score, score, within
from scaleahead_tools.backtest.policies import SWEEP_KNOBS
from scaleahead_tools.backtest.sim import Setup
from scaleahead_tools.sim.scoring import FloatArray, IntArray, units_needed_array

# The windows tried: from one five-minute datapoint to four hours (each at least one step of
# the trace; windows that round to the same number of steps are tried once).
WINDOWS_SECONDS = (300, 600, 900, 1800, 3600, 7200, 14400)
# The multipliers tried: the smooth oracle's grid, 1 % apart from 0.5 to 12.
MULTIPLIERS = SWEEP_KNOBS["smooth-oracle"]


@dataclass(frozen=True)
class Best:
    """The cheapest setting of the rule at most 1 % short, and its score."""

    k: float
    window_seconds: int
    cost: float
    under_time: float
    unserved: float


def trailing(values: FloatArray, window: int, largest: bool) -> FloatArray:
    """Each step's largest (or smallest) value over the ``window`` steps ending at it; before
    the first step the series is held at its first value."""
    padded = np.concatenate([np.full(window - 1, values[0]), values])
    view = sliding_window_view(padded, window)
    out: FloatArray = view.max(axis=1) if largest else view.min(axis=1)
    return out


def served(asked: IntArray, warmup_steps: int) -> IntArray:
    """The capacity serving each step when ``asked[t]`` is asked for at the end of step t.

    A unit serves at step u only if it was asked for by the end of u - 1 - warm-up and never
    removed since (removals take the newest first), so it serves the smallest count asked over
    the last ``warm-up + 1`` decisions. Step 0 serves what the first decision asks.
    """
    out = np.empty_like(asked)
    out[0] = asked[0]
    if asked.size > 1:
        held = trailing(asked.astype(np.float64), warmup_steps + 1, largest=False)
        out[1:] = held[:-1].astype(np.int64)
    return out


def rule_capacity(
    demand: FloatArray, setup: Setup, k: float, window: int, peak: FloatArray | None = None
) -> IntArray:
    """What the rule serves at every step: ``k`` times the largest load of the last
    ``window`` datapoints, in units, within the bounds, asked for at the end of each step.
    ``peak`` is ``trailing(demand, window, largest=True)`` when the caller has it."""
    top = trailing(demand, window, largest=True) if peak is None else peak
    asked = np.clip(
        units_needed_array(k * top, setup.per_unit), setup.min_capacity, setup.max_capacity
    )
    return served(asked, setup.warmup_steps)


def best_rule(demand: FloatArray, setup: Setup) -> Best | None:
    """The cheapest (k, w) at most 1 % short over the scored steps; None if none is."""
    best: Best | None = None
    tried: set[int] = set()
    for seconds in WINDOWS_SECONDS:
        window = max(1, round(seconds / setup.step))
        if window in tried:
            continue
        tried.add(window)
        found = _cheapest_k(demand, setup, window)
        if found is not None and (best is None or found[1].cost < best.cost):
            k, s = found
            best = Best(k, window * setup.step, s.cost, s.under_time, s.unserved)
    return best


def _cheapest_k(demand: FloatArray, setup: Setup, window: int) -> tuple[float, Score] | None:
    """The smallest k of the grid whose rule over ``window`` is at most 1 % short, and its
    score; None if not even the largest is.

    Capacity never falls as k grows (every step of ``rule_capacity`` is monotone), so the
    share of short steps never rises and the cost never falls: bisection on the grid finds it
    in a dozen scorings instead of 320.
    """
    peak = trailing(demand, window, largest=True)
    s0 = setup.scored_from

    def scored(i: int) -> Score:
        cap = rule_capacity(demand, setup, MULTIPLIERS[i], window, peak)
        before = int(cap[s0 - 1]) if s0 > 0 else int(cap[0])
        return score(demand[s0:], cap[s0:], cap[s0:], setup.per_unit, before=before)

    lo, hi = 0, len(MULTIPLIERS) - 1
    found = (hi, scored(hi))
    if not within(found[1].under_time):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        s = scored(mid)
        if within(s.under_time):
            hi, found = mid, (mid, s)
        else:
            lo = mid + 1
    return MULTIPLIERS[found[0]], found[1]
