"""Replay a trace through the policies and score them; the sweep over each policy's knob."""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaleahead.domain.controller import HISTORY_SECONDS
from scaleahead.domain.forecast import RESELECT_SECONDS, fit_forecasts, held_fallback
from scaleahead.domain.series import Forecast, InsufficientHistory
from scaleahead.domain.target import DEFAULT_WARMUP_SECONDS, Kind
from scaleahead_testkit.warmup import Fleet
from scaleahead_tools.backtest.metrics import (
    Point,
    Score,
    frontier,
    point_at,
    score,
    within,
)
from scaleahead_tools.backtest.policies import (
    AP_BUFFER_SECONDS,
    DEFAULT_KNOB,
    EXTEND_KNOBS,
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
    smooth_oracle,
)
from scaleahead_tools.backtest.sim import HISTORY_DAYS, KIND_BOUNDS, Setup
from scaleahead_tools.sim.scoring import IntArray, units_needed_array
from scaleahead_tools.traces import Trace

Progress = Callable[[int], None]

SETTLE_SECONDS = 86400


def make_setup(
    trace: Trace,
    kind: Kind,
    *,
    warmup_minutes: float | None = None,
    per_unit: float | None = None,
    stabilisation_minutes: float | None = None,
    min_capacity: int | None = None,
) -> Setup:
    """Defaults: the kind's warm-up; a unit of p99 / 10, so peaks need about ten units; a week
    (or a third of a shorter trace) of history before scoring; the kind's own bounds.
    ``min_capacity`` holds for every policy alike, never below the kind's own floor (an
    ElastiCache cluster keeps a shard)."""
    values = np.asarray(trace.values, dtype=np.float64)
    if per_unit is None:
        p99 = float(np.percentile(values, 99))
        per_unit = p99 / 10 if p99 > 0 else 1.0
    if not (per_unit > 0 and math.isfinite(per_unit)):
        raise ValueError(f"--per-unit must be a positive number, got {per_unit}")
    warmup = DEFAULT_WARMUP_SECONDS[kind] if warmup_minutes is None else round(warmup_minutes * 60)
    if not 0 <= warmup <= 7200:
        raise ValueError(f"--warmup-minutes must lie in [0, 120], got {warmup_minutes}")
    stab = None
    if stabilisation_minutes is not None:
        stab = round(stabilisation_minutes * 60)
        if not 0 <= stab <= 86400:
            raise ValueError(
                f"--stabilisation-minutes must lie in [0, 1440], got {stabilisation_minutes}"
            )
    history = min(round(HISTORY_DAYS * 86400 / trace.step), len(values) // 3)
    lo, hi = KIND_BOUNDS[kind]
    if min_capacity is not None:
        if not 0 <= min_capacity <= hi:
            raise ValueError(f"--min-capacity must lie in [0, {hi}], got {min_capacity}")
        lo = max(lo, min_capacity)
    return Setup(kind, trace.step, warmup, per_unit, history, lo, hi, stab)


@dataclass
class Run:
    """One policy at one knob: what it asked for and what served, over the whole trace."""

    policy: str
    knob: float | None
    desired: IntArray
    capacity: IntArray
    score: Score
    detail: dict[str, Any] = field(default_factory=dict)


Reuse = tuple[tuple[float, ...], float] | None
FitKey = tuple[float, int, float, Reuse, float | None]
# A fit of the schedule: (time, first index, last index) of the history it reads
# (``Scaleahead.fit_schedule``), and a job for the pool: a fit and the forecast it follows.
Fit = tuple[float, int, int]
Job = tuple[Fit, Forecast | None]


class FitCache:
    """Forecasts already fitted for this trace, by (time, horizon, quantile, model reused).

    A fit sees only the data before its time, and the trace is the same for every kind, knob
    and policy run of one backtest, so the sweep and the three kinds refit nothing twice; and
    one fit yields the forecasts of every quantile a sweep will ask for (``fit_forecasts``).
    The model choice a refit keeps from the previous forecast is part of the key: it is the
    same for every quantile, so the runs of a sweep share their fits.
    """

    def __init__(self, quantiles: Iterable[float] = ()) -> None:
        self.quantiles = tuple(sorted(set(quantiles)))
        self._fits: dict[FitKey, Forecast | Exception] = {}
        # Fits under way in a pool (``prefetching``): the key the replay will ask for, and the
        # chunk that makes it.
        self._pending: dict[FitKey, _Chunk] = {}

    def __call__(
        self,
        ts: Any,
        v: Any,
        now: float,
        horizon: int,
        quantile: float,
        previous: Forecast | None = None,
    ) -> Forecast:
        key = _key(now, horizon, quantile, previous)
        if key not in self._fits and key in self._pending:
            self._collect(self._pending[key])  # under way: wait for it, not fit it twice
        if key not in self._fits:
            # A fallback in force (``key[4]``) is this quantile's alone: the other quantiles
            # would refit exactly what they have (or will have) without it.
            qs = (quantile,) if key[4] is not None else tuple(sorted({*self.quantiles, quantile}))
            self._store(now, horizon, qs, previous, _fit_all(ts, v, now, horizon, qs, previous))
        hit = self._fits[key]
        if isinstance(hit, Exception):
            raise hit
        return hit

    def _store(
        self,
        now: float,
        horizon: int,
        qs: tuple[float, ...],
        previous: Forecast | None,
        fits: list[Forecast | Exception],
    ) -> None:
        for q, f in zip(qs, fits, strict=True):
            self._fits[_key(now, horizon, q, previous)] = f

    @contextmanager
    def fitting_together(self, quantiles: Sequence[float]) -> Iterator[None]:
        """While it holds, a fit computes ``quantiles`` together (one fit serves the replay of
        each, as the sweep's refined settings need), not this cache's set again; the set is
        restored after."""
        kept = self.quantiles
        if quantiles:
            self.quantiles = tuple(sorted(set(quantiles)))
        try:
            yield
        finally:
            self.quantiles = kept

    def _collect(self, chunk: _Chunk) -> None:
        """Store what a chunk under way made (waiting for it if need be)."""
        for ((now, _, _), prev), fits in zip(chunk.items, chunk.future.result(), strict=True):
            self._store(now, chunk.horizon, chunk.qs, prev, fits)
        for key in chunk.keys:
            self._pending.pop(key, None)

    @contextmanager
    def prefetching(
        self,
        series: Series,
        schedule: Sequence[Fit],
        horizon: int,
        quantile: float,
    ) -> Iterator[None]:
        """Fit ahead, on every core, the fits a replay is about to ask for, while it runs.

        Each fit sees only the data before its time, so the fits parallelise: first those that
        choose a model (one a day), then the refits that keep each day's choice, a day to a
        chunk, in time order, the order the replay asks for them. The replay runs alongside
        and waits only for a fit still under way (``__call__``); any it finds neither made nor
        under way (after a fit that failed, or where a fallback in force changes the key) it
        fits itself. Before, the replay began only once every fit was made, one core idle for
        the whole replay. Few fits are not worth a process pool, nor is a replay whose fits
        are all made (every replay of a sweep after the first: forking a pool for each cost a
        fifth of a second). On leaving, whatever is still under way is kept for the next
        replay, or cancelled when the replay failed.
        """
        jobs = os.cpu_count() or 1
        if jobs < 2 or len(schedule) < PARALLEL_FITS_FROM:
            yield
            return
        qs = tuple(sorted({*self.quantiles, quantile}))
        with ExitStack() as stack:
            pool: ProcessPoolExecutor | None = None

            def submit(items: list[Job]) -> _Chunk:
                nonlocal pool
                if pool is None:
                    ctx = multiprocessing.get_context("fork")
                    pool = stack.enter_context(
                        ProcessPoolExecutor(
                            max_workers=jobs,
                            mp_context=ctx,
                            initializer=_init_worker,
                            initargs=(series,),
                        )
                    )
                keys = [_key(i[0], horizon, quantile, prev) for i, prev in items]
                chunk = _Chunk(
                    items, horizon, qs, keys, pool.submit(_fit_chunk, (items, horizon, qs))
                )
                for key in keys:
                    self._pending[key] = chunk
                return chunk

            chunks: list[_Chunk] = []
            done = False
            try:
                days = _days(schedule)
                fresh = [
                    c for c, _ in days if _key(c[0], horizon, quantile, None) not in self._fits
                ]
                size = max(1, -(-len(fresh) // (jobs * 4)))
                for k in range(0, len(fresh), size):
                    chunks.append(submit([(c, None) for c in fresh[k : k + size]]))
                for choosing, keeping in days:
                    chose = _key(choosing[0], horizon, quantile, None)
                    if chose in self._pending:
                        self._collect(self._pending[chose])
                    first = self._fits.get(chose)
                    if not isinstance(first, Forecast):
                        continue  # no choice made that day: the replay fits its refits itself
                    todo: list[Job] = [
                        (fit, first)
                        for fit in keeping
                        if _key(fit[0], horizon, quantile, first) not in self._fits
                    ]
                    if todo:
                        chunks.append(submit(todo))
                yield
                done = True
            finally:
                for chunk in chunks:
                    if not done:
                        chunk.future.cancel()
                        for key in chunk.keys:
                            self._pending.pop(key, None)
                    elif chunk.keys[0] in self._pending:
                        self._collect(chunk)  # not asked for: kept for the next replay


@dataclass(frozen=True)
class _Chunk:
    """Fits under way in a pool: the fits (each with the forecast it follows), what they are
    fitted for, the cache keys the replay will ask for, and the result to come."""

    items: list[Job]
    horizon: int
    qs: tuple[float, ...]
    keys: list[FitKey]
    future: Future[list[list[Forecast | Exception]]]


def _days(schedule: Sequence[Fit]) -> list[tuple[Fit, list[Fit]]]:
    """The schedule by day of model choice: each fit that chooses a model (``fit_forecasts``
    chooses again once the choice is ``RESELECT_SECONDS`` old), and the refits that keep it."""
    days: list[tuple[Fit, list[Fit]]] = []
    for fit in schedule:
        if not days or fit[0] - days[-1][0][0] >= RESELECT_SECONDS:
            days.append((fit, []))
        else:
            days[-1][1].append(fit)
    return days


def _key(now: float, horizon: int, quantile: float, previous: Forecast | None) -> FitKey:
    """The cache key of the fit of ``quantile`` at ``now`` after ``previous``: what the fit
    keeps of ``previous``, its model choice and (for its own quantile) a fallback in force."""
    return (now, horizon, quantile, _reuse(previous, now), held_fallback(previous, quantile, now))


def _reuse(previous: Forecast | None, now: float) -> Reuse:
    """What a fit at ``now`` keeps of ``previous`` (``fit_forecasts``' rule), as a cache key."""
    if (
        previous is None
        or previous.choice is None
        or previous.chosen_at is None
        or not 0.0 <= now - previous.chosen_at < RESELECT_SECONDS
    ):
        return None
    return previous.choice, previous.chosen_at


# Below this many fits a process pool costs more than it saves.
PARALLEL_FITS_FROM = 400

_WORKER_SERIES: Series | None = None


def _init_worker(series: Series) -> None:
    global _WORKER_SERIES
    _WORKER_SERIES = series


def _fit_chunk(
    job: tuple[list[Job], int, tuple[float, ...]],
) -> list[list[Forecast | Exception]]:
    chunk, horizon, qs = job
    s = _WORKER_SERIES
    assert s is not None
    return [
        _fit_all(s.ts[lo : hi + 1], s.demand[lo : hi + 1], now, horizon, qs, prev)
        for (now, lo, hi), prev in chunk
    ]


def _fit_all(
    ts: Any,
    v: Any,
    now: float,
    horizon: int,
    qs: tuple[float, ...],
    previous: Forecast | None = None,
) -> list[Forecast | Exception]:
    try:
        return list(
            fit_forecasts(
                ts,
                v,
                now=now,
                horizon_seconds=horizon,
                quantiles=qs,
                max_history_seconds=HISTORY_SECONDS,
                previous=previous,
            )
        )
    except InsufficientHistory as err:  # re-raised to each caller
        return [err] * len(qs)


def replay(
    series: Series,
    setup: Setup,
    policy: str,
    knob: float | None,
    *,
    fit: FitFn | None = None,
    progress: Progress | None = None,
    rests: bool = True,
) -> Run:
    """Run one policy over the whole trace; the score covers the steps after the history."""
    demand = series.demand
    n = demand.size
    lo, hi = setup.min_capacity, setup.max_capacity
    need = units_needed_array(demand, setup.per_unit)
    detail: dict[str, Any] = {}
    if policy == "oracle":
        desired = np.clip(need, lo, hi)
        capacity = desired.copy()
        if progress:
            progress(n)
    elif policy == "smooth-oracle":
        desired = smooth_oracle(demand, setup, _knob(policy, knob))
        capacity = desired.copy()
        if progress:
            progress(n)
    else:
        # the fits made ahead while the replay runs (``FitCache.prefetching``) end with it
        with ExitStack() as stack:
            p: Policy
            if policy == "target-tracking":
                p = TargetTracking(series, setup, _knob(policy, knob))
            elif policy == "aws-predictive":
                # A user sets the scheduling buffer to the warm-up, or capacity would arrive late.
                buffer = max(AP_BUFFER_SECONDS, setup.warmup_seconds)
                p = AwsPredictive(series, setup, _knob(policy, knob), buffer)
            elif policy == "scaleahead":
                sa = Scaleahead(
                    series,
                    setup,
                    _knob(policy, knob),
                    fit or fit_forecast_for_backtest,
                    rests=rests,
                )
                if isinstance(fit, FitCache):
                    schedule = sa.fit_schedule(_first_step(setup))
                    stack.enter_context(fit.prefetching(series, schedule, sa.horizon, sa.quantile))
                p = sa
            else:
                raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
            desired, capacity = _step_through(p, policy, setup, need, progress)
        if isinstance(p, Scaleahead):
            detail["alarm_actions"] = p.alarm_actions
            # evaluations per step replayed: the share of ticks that read the load (rests skip)
            detail["evaluated"] = p.evaluations / max(1, n - _first_step(setup))
    s0 = setup.scored_from
    before = int(desired[s0 - 1]) if s0 > 0 else int(desired[0])
    sc = score(demand[s0:], capacity[s0:], desired[s0:], setup.per_unit, before=before)
    return Run(policy, knob, desired, capacity, sc, detail)


def _step_through(
    p: Policy, policy: str, setup: Setup, need: IntArray, progress: Progress | None
) -> tuple[IntArray, IntArray]:
    """What ``p`` asked for and what served, step by step.

    Every policy settles within hours (cooldowns, stabilisation windows, the first fit reads
    all history before it), so the replay starts a day before scoring, from the capacity
    needed then; the steps before it are neither simulated nor scored (they hold the need).
    """
    lo, hi = setup.min_capacity, setup.max_capacity
    n = need.size
    first = _first_step(setup)
    fleet = Fleet(
        int(min(max(need[first], lo), hi)), setup.warmup_steps, rules_for(policy, setup.kind), first
    )
    desired = np.clip(need, lo, hi)
    capacity = desired.copy()
    chunk = 500
    if progress:
        progress(first)
    serving: list[int] = []  # filled into the arrays at the end: cheaper than per step
    asked: list[int] = []
    for t in range(first, n):
        serving.append(fleet.running(t))
        p.step(t, fleet)
        asked.append(fleet.desired)
        if progress and (t + 1 - first) % chunk == 0:
            progress(chunk)
    capacity[first:] = serving
    desired[first:] = asked
    if progress:
        progress((n - first) % chunk)
    return desired, capacity


def _first_step(setup: Setup) -> int:
    return max(0, setup.scored_from - math.ceil(SETTLE_SECONDS / setup.step))


def effective_knob(policy: str, knob: float | None) -> float | None:
    """The knob a run used: the one given, else the policy's default (None for the oracle)."""
    return DEFAULT_KNOB[policy] if knob is None else knob


def _knob(policy: str, knob: float | None) -> float:
    k = effective_knob(policy, knob)
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
        return None if self.at_1pct is None else self.at_1pct.cost

    @property
    def at_1pct(self) -> Point | None:
        """The setting ``cost_at_1pct`` is read from."""
        return point_at(self.points)


# Settings tried inside the gap of a policy's grid where it crosses 1 % short, evenly spread on
# the policy's ``_REFINE_SCALE``. The grid alone reads ``cost_at_1pct`` at whichever grid
# setting happens to lie below 1 %, and near the top of scaleahead's quantiles one grid step can
# be half the cost (Twitter_volume_AAPL, ECS terms: q0.98 3.02 at 1.12 % short, q0.99 4.59 at
# 0.84 %; q0.984 reaches 0.99 % at 3.46). Every policy with a knob gets the same refinement.
REFINE_POINTS = 4

# Each knob on a scale that grows as the policy holds less capacity and on which its grid is
# roughly even: scaleahead's quantile by log(1 - q) (0.98 to 0.99 is as large a step as 0.9 to
# 0.95), the trackers' utilisation target by log(target) (headroom is 1 / target). The smooth
# oracle's grid is already 1 % fine.
_REFINE_SCALE: dict[str, tuple[Callable[[float], float], Callable[[float], float]]] = {
    "scaleahead": (lambda q: math.log(1.0 - q), lambda x: 1.0 - math.exp(x)),
    "target-tracking": (math.log, math.exp),
    "aws-predictive": (math.log, math.exp),
}


def refined(policy: str) -> bool:
    """Whether the sweep refines this policy's grid where it crosses 1 %."""
    return policy in _REFINE_SCALE


def refine_knobs(policy: str, points: Sequence[Point], n: int = REFINE_POINTS) -> list[float]:
    """The settings to try between the cheapest grid setting at most 1 % short and its cheaper
    neighbour on the grid (short on more than 1 %), where ``cost_at_1pct`` lies; none when the
    policy has no scale, no setting reaches 1 %, the cheapest that does ends the grid, or its
    cheaper neighbour is within 1 % too (a sweep that is not monotone: no bracket there)."""
    scale = _REFINE_SCALE.get(policy)
    ok = [p for p in points if p.knob is not None and within(p.under_time)]
    if scale is None or not ok:
        return []
    to_x, from_x = scale
    best = min(ok, key=lambda p: (p.cost, p.under_time))
    assert best.knob is not None
    x0 = to_x(best.knob)
    cheaper = sorted(
        (to_x(p.knob), p) for p in points if p.knob is not None and to_x(p.knob) > x0 + 1e-12
    )
    if not cheaper or within(cheaper[0][1].under_time):
        return []
    x1 = cheaper[0][0]
    have = {p.knob for p in points}
    knobs = [round(from_x(x0 + (x1 - x0) * i / (n + 1)), 4) for i in range(1, n + 1)]
    return [k for k in dict.fromkeys(knobs) if k not in have]


def extend(
    policy: str,
    points: Sequence[Point],
    point: Callable[[float], Point],
    fit: FitFn | None = None,
) -> list[Point]:
    """The settings beyond the grid (``EXTEND_KNOBS``), each with more headroom than the last,
    tried only while no setting is within 1 % short, up to the first that is; none when one
    already is. Their forecasts are fitted together, in one pass."""
    if any(within(p.under_time) for p in points):
        return []
    more = EXTEND_KNOBS.get(policy, ())
    out: list[Point] = []
    with _together(fit, more):
        for k in more:
            out.append(point(k))
            if within(out[-1].under_time):
                break
    return out


def _together(fit: FitFn | None, quantiles: Sequence[float]) -> AbstractContextManager[None]:
    """While it holds, ``fit`` (a ``FitCache``) fits ``quantiles`` together; nothing to do
    for a plain fit function."""
    return fit.fitting_together(quantiles) if isinstance(fit, FitCache) else nullcontext()


def sweep(
    series: Series,
    setup: Setup,
    policies: Iterable[str],
    *,
    fit: FitFn | None = None,
    progress: Progress | None = None,
    done: Iterable[Run] = (),
) -> dict[str, Sweep]:
    """Each policy over its knob values (the oracle is one point: cost 1, never short), then
    over ``refine_knobs`` where it crosses 1 %; the runs in ``done`` (the default-knob ones) are
    reused, not replayed again."""
    have = {(r.policy, effective_knob(r.policy, r.knob)): r for r in done}
    out: dict[str, Sweep] = {}
    for policy in policies:

        def point(k: float | None, policy: str = policy) -> Point:
            """The setting's point: the run ``done`` holds, else a replay."""
            r = have.get((policy, k)) or replay(
                series, setup, policy, k, fit=fit, progress=progress
            )
            return Point(k, r.score.cost, r.score.under_time, r.score.unserved)

        knobs: Sequence[float | None] = SWEEP_KNOBS[policy] or (None,)
        points = [point(k) for k in knobs]
        points += extend(policy, points, point, fit)
        if progress and policy in EXTEND_KNOBS:  # the settings the bar counted, not replayed
            tried = len(points) - len(knobs)
            progress(series.demand.size * (len(EXTEND_KNOBS[policy]) - tried))
        extra = refine_knobs(policy, points)
        with _together(fit, extra):
            points += [point(k) for k in extra]
        if progress and refined(policy):  # the settings the bar counted, not replayed
            replayed = sum((policy, k) not in have for k in extra)
            progress(series.demand.size * (REFINE_POINTS - replayed))
        # by knob, the refined settings among the grid's (summary.json lists them so)
        points.sort(key=lambda p: (p.knob is None, p.knob or 0.0))
        out[policy] = Sweep(policy, points)
    return out


def series_of(trace: Trace) -> Series:
    ts = trace.start + trace.step * np.arange(len(trace.values), dtype=np.float64)
    return Series(ts, np.asarray(trace.values, dtype=np.float64))
