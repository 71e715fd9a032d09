"""Replay a trace through the policies and score them; the sweep over each policy's knob."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaleahead.backtest.metrics import IntArray, Point, Score, cost_at, frontier, needs, score
from scaleahead.backtest.policies import (
    DEFAULT_KNOB,
    POLICIES,
    SWEEP_KNOBS,
    AwsPredictive,
    FitFn,
    Policy,
    Scaleahead,
    Series,
    TargetTracking,
    fit_forecast_for_backtest,
    rules_for,
)
from scaleahead.backtest.sim import HISTORY_DAYS, KIND_BOUNDS, Fleet, Setup
from scaleahead.domain.controller import HISTORY_SECONDS
from scaleahead.domain.forecast import fit_forecasts
from scaleahead.domain.series import Forecast, InsufficientHistory
from scaleahead.domain.target import DEFAULT_WARMUP_SECONDS, Kind
from scaleahead.traces import Trace

Progress = Callable[[int], None]

SETTLE_SECONDS = 86400


def make_setup(
    trace: Trace,
    kind: Kind,
    *,
    warmup_minutes: float | None = None,
    per_unit: float | None = None,
) -> Setup:
    """Defaults: the kind's warm-up; a unit of p99 / 10, so peaks need about ten units; a week
    (or a third of a shorter trace) of history before scoring."""
    values = np.asarray(trace.values, dtype=np.float64)
    if per_unit is None:
        p99 = float(np.percentile(values, 99))
        per_unit = p99 / 10 if p99 > 0 else 1.0
    if not (per_unit > 0 and math.isfinite(per_unit)):
        raise ValueError(f"--per-unit must be a positive number, got {per_unit}")
    warmup = DEFAULT_WARMUP_SECONDS[kind] if warmup_minutes is None else round(warmup_minutes * 60)
    if not 0 <= warmup <= 7200:
        raise ValueError(f"--warmup-minutes must lie in [0, 120], got {warmup_minutes}")
    history = min(round(HISTORY_DAYS * 86400 / trace.step), len(values) // 3)
    lo, hi = KIND_BOUNDS[kind]
    return Setup(kind, trace.step, warmup, per_unit, history, lo, hi)


@dataclass
class Run:
    """One policy at one knob: what it asked for and what served, over the whole trace."""

    policy: str
    knob: float | None
    desired: IntArray
    capacity: IntArray
    score: Score
    detail: dict[str, Any] = field(default_factory=dict)


class FitCache:
    """Forecasts already fitted for this trace, by (time, horizon, quantile).

    A fit sees only the data before its time, and the trace is the same for every kind, knob
    and policy run of one backtest, so the sweep and the three kinds refit nothing twice; and
    one fit yields the forecasts of every quantile a sweep will ask for (``fit_forecasts``).
    """

    def __init__(self, quantiles: Iterable[float] = ()) -> None:
        self.quantiles = tuple(sorted(set(quantiles)))
        self._fits: dict[tuple[float, int, float], Forecast | Exception] = {}

    def __call__(self, ts: Any, v: Any, now: float, horizon: int, quantile: float) -> Forecast:
        key = (now, horizon, quantile)
        if key not in self._fits:
            qs = tuple(sorted({*self.quantiles, quantile}))
            try:
                fits: list[Forecast | Exception] = list(
                    fit_forecasts(
                        ts,
                        v,
                        now=now,
                        horizon_seconds=horizon,
                        quantiles=qs,
                        max_history_seconds=HISTORY_SECONDS,
                    )
                )
            except InsufficientHistory as err:  # re-raised to each caller
                fits = [err] * len(qs)
            for q, f in zip(qs, fits, strict=True):
                self._fits[(now, horizon, q)] = f
        hit = self._fits[key]
        if isinstance(hit, Exception):
            raise hit
        return hit


def replay(
    series: Series,
    setup: Setup,
    policy: str,
    knob: float | None,
    *,
    fit: FitFn | None = None,
    progress: Progress | None = None,
) -> Run:
    """Run one policy over the whole trace; the score covers the steps after the history."""
    demand = series.demand
    n = demand.size
    lo, hi = setup.min_capacity, setup.max_capacity
    need = needs(demand, setup.per_unit)
    detail: dict[str, Any] = {}
    if policy == "oracle":
        desired = np.clip(need, lo, hi)
        capacity = desired.copy()
        if progress:
            progress(n)
    else:
        p: Policy
        if policy == "target-tracking":
            p = TargetTracking(series, setup, _knob(policy, knob))
        elif policy == "aws-predictive":
            p = AwsPredictive(series, setup, _knob(policy, knob), setup.warmup_seconds)
        elif policy == "scaleahead":
            p = Scaleahead(series, setup, _knob(policy, knob), fit or fit_forecast_for_backtest)
        else:
            raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
        # Every policy settles within hours (cooldowns, stabilisation windows, the first fit
        # reads all history before it), so the replay starts a day before scoring, from the
        # capacity needed then; the steps before it are neither simulated nor scored.
        first = max(0, setup.scored_from - math.ceil(SETTLE_SECONDS / setup.step))
        start = int(min(max(need[first], lo), hi))
        fleet = Fleet(start, setup.warmup_steps, rules_for(policy, setup.kind), first)
        desired = np.clip(need, lo, hi)
        capacity = desired.copy()
        chunk = 500
        if progress:
            progress(first)
        for t in range(first, n):
            capacity[t] = fleet.running(t)
            p.step(t, fleet)
            desired[t] = fleet.desired
            if progress and (t + 1 - first) % chunk == 0:
                progress(chunk)
        if progress:
            progress((n - first) % chunk)
        if isinstance(p, Scaleahead):
            detail["alarm_actions"] = p.alarm_actions
    s0 = setup.scored_from
    before = int(desired[s0 - 1]) if s0 > 0 else int(desired[0])
    sc = score(demand[s0:], capacity[s0:], desired[s0:], setup.per_unit, before=before)
    return Run(policy, knob, desired, capacity, sc, detail)


def _knob(policy: str, knob: float | None) -> float:
    k = DEFAULT_KNOB[policy] if knob is None else knob
    assert k is not None
    return k


@dataclass
class Sweep:
    policy: str
    points: list[Point]

    @property
    def frontier(self) -> list[Point]:
        return frontier(self.points)

    @property
    def cost_at_1pct(self) -> float | None:
        return cost_at(self.points)


def sweep(
    series: Series,
    setup: Setup,
    policies: Iterable[str],
    *,
    fit: FitFn | None = None,
    progress: Progress | None = None,
) -> dict[str, Sweep]:
    """Each policy over its knob values (the oracle is one point: cost 1, never short)."""
    out: dict[str, Sweep] = {}
    for policy in policies:
        knobs: Sequence[float | None] = SWEEP_KNOBS[policy] or (None,)
        points = []
        for k in knobs:
            r = replay(series, setup, policy, k, fit=fit, progress=progress)
            points.append(Point(k, r.score.cost, r.score.under_time))
        out[policy] = Sweep(policy, points)
    return out


def series_of(trace: Trace) -> Series:
    ts = trace.start + trace.step * np.arange(len(trace.values), dtype=np.float64)
    return Series(ts, np.asarray(trace.values, dtype=np.float64))
