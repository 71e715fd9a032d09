"""The sweep reads ``cost_at_1pct`` where a policy crosses 1 % short, not at the nearest grid
setting: ``refine_knobs`` picks settings inside the grid gap that brackets 1 %, and the sweep
replays them as it replays the grid (for scaleahead, with the fits the replay would make)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import scaleahead_tools.backtest.replay as rp
from scaleahead.domain.target import Kind
from scaleahead_tools.backtest.metrics import Point, cost_at
from scaleahead_tools.backtest.policies import SWEEP_KNOBS, Series, fit_forecast_for_backtest
from scaleahead_tools.backtest.replay import (
    REFINE_POINTS,
    FitCache,
    refine_knobs,
    replay,
    sweep,
)
from scaleahead_tools.backtest.sim import Setup

DAY = 86400


def test_scaleaheads_quantile_is_refined_evenly_in_log_one_minus_q() -> None:
    # Cheapest within 1 %: 0.99; its cheaper neighbour 0.98 is short on 1.1 %.
    pts = [Point(0.95, 1.9, 0.019), Point(0.98, 3.0, 0.011), Point(0.99, 4.6, 0.008)]
    knobs = refine_knobs("scaleahead", pts)
    assert len(knobs) == REFINE_POINTS
    assert all(0.98 < k < 0.99 for k in knobs)
    # Even steps of log(1 - q), up to the rounding to four decimals a user would type.
    gaps = np.diff([math.log(1 - k) for k in [0.99, *sorted(knobs, reverse=True), 0.98]])
    assert gaps == pytest.approx([math.log(2) / (REFINE_POINTS + 1)] * (REFINE_POINTS + 1), 0.05)
    assert all(k == round(k, 4) for k in knobs)


def test_a_trackers_target_is_refined_between_the_bracketing_targets() -> None:
    # A lower target holds more capacity: 0.25 is within 1 %, 0.3 (cheaper) is not.
    pts = [Point(0.2, 4.1, 0.008), Point(0.25, 3.6, 0.0095), Point(0.3, 3.1, 0.0114)]
    for policy in ("target-tracking", "aws-predictive"):
        knobs = refine_knobs(policy, pts)
        assert len(knobs) == REFINE_POINTS and all(0.25 < k < 0.3 for k in knobs)


def test_nothing_to_refine_at_the_grids_end_without_a_setting_within_one_percent_or_a_scale() -> (
    None
):
    # The cheapest setting of the grid already meets 1 %: nothing cheaper lies in the grid.
    assert refine_knobs("scaleahead", [Point(0.6, 1.2, 0.004), Point(0.7, 1.4, 0.002)]) == []
    # No setting reaches 1 %: there is no bracket.
    assert refine_knobs("scaleahead", [Point(0.98, 3.0, 0.02), Point(0.99, 4.0, 0.015)]) == []
    # The cheapest setting within 1 % is not next to one above 1 % (a noisy sweep): its cheaper
    # neighbour also meets 1 %, so the grid has already said all the bracket could.
    assert refine_knobs("scaleahead", [Point(0.9, 2.0, 0.009), Point(0.95, 1.9, 0.008)]) == []
    # The smooth oracle's grid is 1 % fine already; the oracle has no knob.
    pts = [Point(1.0, 1.0, 0.02), Point(1.01, 1.01, 0.005)]
    assert refine_knobs("smooth-oracle", pts) == [] and refine_knobs("oracle", pts) == []


def _bursty(days: int, step: int, seed: int) -> Series:
    """A daily cycle with bursts: where the trackers' grid crosses 1 % in one coarse step."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY // step) * step
    base = 100 + 80 * np.sin(2 * np.pi * t / DAY) ** 2
    burst = np.where(rng.random(t.size) < 0.04, rng.uniform(1.5, 3.0, t.size), 1.0)
    ts = 1_400_000_000.0 + t.astype(np.float64)
    return Series(ts, base * rng.lognormal(0, 0.1, t.size) * burst)


def test_the_sweep_replays_the_refined_targets_and_reads_one_percent_between_grid_settings() -> (
    None
):
    step = 300
    series = _bursty(3, step, seed=8)
    setup = Setup(Kind.ECS, step, 300, 20.0, DAY // step, 0, 1000)
    sw = sweep(series, setup, ["target-tracking"])["target-tracking"]
    grid = [p for p in sw.points if p.knob in SWEEP_KNOBS["target-tracking"]]
    extra = [p for p in sw.points if p not in grid]
    assert len(grid) == 10 and len(extra) == REFINE_POINTS
    knobs = [p.knob for p in sw.points]
    assert knobs == sorted(k for k in knobs if k is not None)  # listed by knob, among the grid's
    # Each refined point is that setting's own replay.
    for p in extra:
        r = replay(series, setup, "target-tracking", p.knob)
        assert (r.score.cost, r.score.under_time) == (p.cost, p.under_time)
    on_grid = cost_at(grid)
    assert on_grid is not None and sw.cost_at_1pct is not None
    assert sw.cost_at_1pct < on_grid  # a setting between the grid's is cheaper within 1 %
    best = min((p for p in sw.points if p.under_time <= 0.01), key=lambda p: p.cost)
    assert best in extra


def test_scaleaheads_refined_quantiles_fitted_together_are_the_fits_each_replay_would_make(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    step = 1800
    series = _bursty(5, step, seed=1)
    setup = Setup(Kind.ECS, step, 900, 20.0, len(series.ts) // 3, 0, 1000)
    cache = FitCache(SWEEP_KNOBS["scaleahead"])
    fitted: list[tuple[float, ...]] = []  # the quantiles of every fit the sweep made
    real = rp._fit_all

    def recording(*args: Any) -> Any:
        fitted.append(args[4])
        return real(*args)

    monkeypatch.setattr(rp, "_fit_all", recording)
    sw = sweep(series, setup, ["scaleahead"], fit=cache)["scaleahead"]
    monkeypatch.undo()
    grid = [p for p in sw.points if p.knob in SWEEP_KNOBS["scaleahead"]]
    extra = [p for p in sw.points if p not in grid]
    assert len(extra) == REFINE_POINTS  # this trace crosses 1 % between q0.97 and q0.98
    assert all(p.knob is not None and 0.97 < p.knob < 0.98 for p in extra)
    # The four were fitted together: every fit that made one of them made all four and no
    # grid quantile (a fallback in force is fitted for its own quantile alone).
    refined = {p.knob for p in extra}
    with_refined = [set(qs) for qs in fitted if set(qs) & refined]
    assert with_refined and all(qs == refined or len(qs) == 1 for qs in with_refined)
    assert sum(qs == refined for qs in with_refined) > len(with_refined) // 2
    on_grid = cost_at(grid)
    assert on_grid is not None and sw.cost_at_1pct is not None and sw.cost_at_1pct < on_grid
    assert cache.quantiles == SWEEP_KNOBS["scaleahead"]  # the grid's set is restored after
    for p in extra:
        assert p.knob is not None
        plain = replay(series, setup, "scaleahead", p.knob, fit=fit_forecast_for_backtest)
        assert (plain.score.cost, plain.score.under_time) == (p.cost, p.under_time)
