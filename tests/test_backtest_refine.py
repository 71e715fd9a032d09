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
from scaleahead_tools.backtest.policies import (
    EXTEND_KNOBS,
    SWEEP_KNOBS,
    Series,
    fit_forecast_for_backtest,
)
from scaleahead_tools.backtest.replay import (
    REFINE_POINTS,
    FitCache,
    extend,
    refine_knobs,
    replay,
    sweep,
)
from scaleahead_tools.backtest.report import _progress, work_units
from scaleahead_tools.backtest.sim import Setup
from scaleahead_tools.traces import Trace

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


def test_settings_beyond_the_grid_are_tried_in_order_only_while_none_is_within_one_percent() -> (
    None
):
    asked: list[float] = []
    short = {0.15: 0.012, 0.1: 0.009, 0.05: 0.004}

    def point(k: float) -> Point:
        asked.append(k)
        return Point(k, 1 / k, short[k])

    within = [Point(0.2, 5.0, 0.01), Point(0.25, 4.0, 0.02)]
    assert extend("target-tracking", within, point) == [] and asked == []  # 0.2 reaches 1 %
    beyond = extend("target-tracking", [Point(0.2, 5.0, 0.015)], point)
    assert asked == [0.15, 0.1] and [p.knob for p in beyond] == [0.15, 0.1]  # not 0.05
    asked.clear()
    short[0.05] = 0.02
    short[0.1] = 0.03
    assert len(extend("aws-predictive", [Point(0.2, 5.0, 0.04)], point)) == 3
    assert asked == list(EXTEND_KNOBS["aws-predictive"])  # none reaches: all three, in order
    assert extend("smooth-oracle", [Point(1.0, 1.0, 0.5)], point) == []  # no settings beyond
    # scaleahead's three are fitted together, in one pass, while the sweep replays them
    cache = FitCache(SWEEP_KNOBS["scaleahead"])
    seen: list[tuple[float, ...]] = []

    def fitted(k: float) -> Point:
        seen.append(cache.quantiles)
        return Point(k, 1 / (1 - k), 0.02)

    assert len(extend("scaleahead", [Point(0.99, 4.0, 0.02)], fitted, cache)) == 3
    assert seen == [EXTEND_KNOBS["scaleahead"]] * 3
    assert cache.quantiles == SWEEP_KNOBS["scaleahead"]


def test_a_sweep_whose_grid_never_reaches_one_percent_reads_it_beyond_the_grid() -> None:
    """Bursts of five to six and a half times the load on 3 % of the steps: target tracking at
    0.2 (five times the load in reserve) is short on 1.7 % of the steps, at 0.15 on 0.35 %. The
    sweep goes on to 0.15, stops there, and refines between 0.2 and 0.15; the progress it
    reports adds up to what ``work_units`` counted, the settings it skipped included."""
    step = 300
    rng = np.random.default_rng(0)
    t = np.arange(3 * DAY // step) * step
    base = 100 + 80 * np.sin(2 * np.pi * t / DAY) ** 2
    burst = np.where(rng.random(t.size) < 0.03, rng.uniform(5, 6.5, t.size), 1.0)
    values = base * rng.lognormal(0, 0.1, t.size) * burst
    series = Series(1_400_000_000.0 + t.astype(np.float64), values)
    setup = Setup(Kind.ECS, step, 300, 20.0, DAY // step, 0, 1000)
    done: list[int] = []
    policy = "target-tracking"
    default = replay(series, setup, policy, None, progress=done.append)
    sw = sweep(series, setup, [policy], progress=done.append, done=[default])[policy]
    grid = [p for p in sw.points if p.knob in SWEEP_KNOBS[policy]]
    assert all(p.under_time > 0.01 for p in grid)
    beyond = [p for p in sw.points if p.knob in EXTEND_KNOBS[policy]]
    assert [p.knob for p in beyond] == [0.15] and beyond[0].under_time <= 0.01
    refined = [p for p in sw.points if p not in grid and p not in beyond]
    assert len(refined) == REFINE_POINTS and all(
        p.knob is not None and 0.15 < p.knob < 0.2 for p in refined
    )
    assert sw.cost_at_1pct is not None and sw.cost_at_1pct < beyond[0].cost
    trace = Trace("bursts", float(series.ts[0]), step, tuple(values.tolist()), 0)
    assert sum(done) == work_units(trace, [policy], True, {})


def test_the_progress_bar_is_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    # Under pytest stdout is no terminal: nothing, not even the empty line a live display
    # leaves behind, may precede the report (suggest drew five bars: five empty lines).
    with _progress(10, "replaying") as advance:
        advance(5)
    assert capsys.readouterr().out == ""
