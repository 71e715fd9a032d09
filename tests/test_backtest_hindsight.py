"""The hindsight rule: the bench's causal yardstick (``backtest.hindsight``)."""

from __future__ import annotations

import numpy as np
import pytest

from scaleahead.domain.target import Kind
from scaleahead_testkit.warmup import Fleet, Rules
from scaleahead_tools.backtest.hindsight import (
    MULTIPLIERS,
    WINDOWS_SECONDS,
    best_rule,
    rule_capacity,
    served,
    trailing,
)
from scaleahead_tools.backtest.metrics import ONE_PERCENT, score
from scaleahead_tools.backtest.sim import Setup


def _setup(warmup_seconds: int, scored_from: int = 0, step: int = 300) -> Setup:
    return Setup(Kind.ECS, step, warmup_seconds, 1.0, scored_from, 0, 1000)


def test_trailing_reads_the_last_window_steps_holding_the_first_value_before_the_start() -> None:
    v = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    assert trailing(v, 2, largest=True).tolist() == [3.0, 3.0, 4.0, 4.0, 5.0]
    assert trailing(v, 3, largest=False).tolist() == [3.0, 1.0, 1.0, 1.0, 1.0]
    assert trailing(v, 1, largest=True).tolist() == v.tolist()


@pytest.mark.parametrize("warmup_steps", [0, 1, 3])
def test_served_is_what_the_worlds_fleet_serves(warmup_steps: int) -> None:
    """The closed form (the least asked over the last warm-up + 1 decisions) against the
    world's own law, step by step, on a jumpy sequence of asks."""
    asked = np.random.default_rng(7).integers(0, 12, size=300).astype(np.int64)
    fleet = Fleet(int(asked[0]), warmup_steps, Rules())
    expected = []
    for t, want in enumerate(asked.tolist()):
        expected.append(fleet.running(t))
        fleet.set(t, want)
    assert served(asked, warmup_steps).tolist() == expected


def test_the_rule_misses_a_bursts_first_steps_and_holds_its_capacity_a_step_after() -> None:
    """Worked by hand, one-step warm-up, k 1 over the last datapoint: the jump to 8 at step 3
    is seen at its end and serves from step 5, so steps 3 and 4 are short; the drop at step 6
    is seen at its end, so step 6 still holds 8."""
    demand = np.array([2.0, 2.0, 2.0, 8.0, 8.0, 8.0, 2.0, 2.0])
    cap = rule_capacity(demand, _setup(300), 1.0, 1)
    assert cap.tolist() == [2, 2, 2, 2, 2, 8, 8, 2]
    # twice the largest of the last two datapoints
    assert rule_capacity(demand, _setup(300), 2.0, 2).tolist() == [4, 4, 4, 4, 4, 16, 16, 16]


def test_the_best_rule_is_the_cheapest_setting_of_the_whole_grid_within_one_percent() -> None:
    """Bisection per window finds what scoring every (k, w) of the grid finds."""
    rng = np.random.default_rng(3)
    base = 20 + 10 * np.sin(np.arange(600) * 2 * np.pi / 288)
    bursts = np.where(rng.random(600) < 0.03, rng.uniform(10, 40, 600), 0.0)
    demand = rng.poisson(base).astype(np.float64) + bursts
    setup = _setup(600, scored_from=100)
    best = best_rule(demand, setup)
    assert best is not None
    brute = []
    for seconds in WINDOWS_SECONDS:
        w = max(1, round(seconds / setup.step))
        for k in MULTIPLIERS:
            cap = rule_capacity(demand, setup, k, w)
            s = score(demand[100:], cap[100:], cap[100:], 1.0, before=int(cap[99]))
            if s.under_time <= ONE_PERCENT + 1e-12:
                brute.append((s.cost, k, w * setup.step))
    cost, k, window = min(brute)
    assert (best.cost, best.k, best.window_seconds) == (cost, k, window)
    assert best.under_time <= ONE_PERCENT and 0.0 <= best.unserved < 1.0


def test_no_best_rule_when_no_setting_reaches_one_percent() -> None:
    """A jump from nothing every five hours, longer ago than the longest window: whatever k
    and w, each one's first step is short, one step in sixty."""
    demand = np.where(np.arange(1200) % 60 == 0, 50.0, 0.0)
    assert max(WINDOWS_SECONDS) < 60 * 300
    assert best_rule(demand, _setup(300, scored_from=60)) is None
