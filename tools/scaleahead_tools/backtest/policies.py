"""The four policies a backtest compares, each deciding at step t from data up to t only.

``scaleahead`` runs the product's own control law (``domain.controller``) and forecast fit,
the code the Lambda functions run; the others are models of what AWS offers, built from AWS's
documentation; the oracle is the physical limit, and the smooth oracle (``smooth_oracle``) the
yardstick of what a forecaster could reach.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from scaleahead.domain.alarm import Change, admit, alarm_threshold, on_change
from scaleahead.domain.capacity import CapacityReading
from scaleahead.domain.controller import (
    HISTORY_SECONDS,
    evaluation_interval,
    forecast_horizon,
    observe,
    recent_seconds,
)
from scaleahead.domain.forecast import fit_forecast
from scaleahead.domain.kinds import KINDS
from scaleahead.domain.plan import units_needed
from scaleahead.domain.reactive import FloorState
from scaleahead.domain.rest import resting
from scaleahead.domain.series import Forecast, InsufficientHistory
from scaleahead.domain.target import Kind, Target, parse_target
from scaleahead.domain.tick import (
    ForecastView,
    Memory,
    Seen,
    decide_step,
    forecast_unavailable,
    plan_rest,
    plan_step,
    refit_due,
)
from scaleahead.domain.warmup import WarmupLog
from scaleahead_testkit.warmup import Fleet, Rules
from scaleahead_tools.backtest.sim import Setup
from scaleahead_tools.sim.alarms import evaluate
from scaleahead_tools.sim.scoring import IntArray, units_needed_array

FloatArray = npt.NDArray[np.float64]

POLICIES = ("oracle", "smooth-oracle", "target-tracking", "aws-predictive", "scaleahead")

# Knob values a sweep tries, and each policy's default. Target tracking's knob is the target
# utilisation; scaleahead's is its forecast's headroom quantile.
DEFAULT_KNOB: dict[str, float | None] = {
    "oracle": None,
    "smooth-oracle": 1.0,
    "target-tracking": 0.7,
    "aws-predictive": 0.7,
    "scaleahead": 0.9,
}
SWEEP_KNOBS: dict[str, tuple[float, ...]] = {
    "oracle": (),
    # k, the headroom over the smooth future: 1 % apart from 0.5 to 12 (a run is one vectorised
    # pass, so the fine grid costs milliseconds)
    "smooth-oracle": tuple(round(1.01**n, 6) for n in range(-70, 250)),
    "target-tracking": (0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
    "aws-predictive": (0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
    "scaleahead": (0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99),
}
# Settings beyond the grid, with more headroom than any of it, tried in this order only while
# none of a policy's settings is within 1 % short (``replay.sweep``): a policy reported as
# never reaching 1 % because its grid stops short would hide what a user can set (a target of
# 0.1 is ten times the load in reserve; any quantile below 1 is a valid target). Each policy gets
# three more, alike; the grids above are unchanged, so every row that reached 1 % is untouched.
EXTEND_KNOBS: dict[str, tuple[float, ...]] = {
    "target-tracking": (0.15, 0.1, 0.05),
    "aws-predictive": (0.15, 0.1, 0.05),
    "scaleahead": (0.995, 0.998, 0.999),
}

# Application Auto Scaling's target tracking (docs/BASELINES.md): the high alarm wants 3 one-minute
# datapoints above the target, the low alarm 15 below 90 % of it; the default cooldowns of the
# ECS and Aurora scalable targets are 300 s (ElastiCache's are not documented: 300 s assumed).
TT_OUT_SECONDS = 180
TT_IN_SECONDS = 900
TT_IN_RATIO = 0.9
TT_COOLDOWN_SECONDS = 300
# A kind may document its own rules: ElastiCache shards scale in only below 75 % of the target,
# and out by the larger of the variation from the target and 20 % of the current shards
# (rounded up, as target tracking rounds up what it adds). They are the kind's, in its spec:
# ``KINDS[kind].simulation.tt_scale_in_ratio`` (None: ``TT_IN_RATIO``) and
# ``tt_min_out_percent``, read in ``TargetTracking.__init__``.
# Predictive scaling: at least a day of history, up to 14 days, an hourly forecast for the next
# 48 hours refreshed every 6 hours, applied as a minimum from the start of each hour less the
# scheduling buffer. AWS's default buffer is 300 s; the backtest gives it the warm-up when that
# is longer, as a user would, so that a 30-min reshard is not judged by a 5-min head start.
AP_MIN_HISTORY = 86400
AP_REFRESH = 6 * 3600
AP_HORIZON_HOURS = 48
AP_BUFFER_SECONDS = 300


# The smooth oracle's view of the future: the load's mean over an hour centred on each step.
SMOOTH_SECONDS = 3600


def centred_mean(demand: FloatArray, step: int, span_seconds: int = SMOOTH_SECONDS) -> FloatArray:
    """Each step's load averaged over ``span_seconds`` centred on it: an odd number of steps,
    the span rounded up (61 one-minute steps, 13 five-minute ones, 3 half-hours); at the
    trace's ends, over the steps there are."""
    half = max(1, round(span_seconds / step)) // 2
    n = demand.size
    sums = np.concatenate([[0.0], np.cumsum(demand, dtype=np.float64)])
    idx = np.arange(n)
    lo = np.maximum(idx - half, 0)
    hi = np.minimum(idx + half + 1, n)
    out: FloatArray = (sums[hi] - sums[lo]) / (hi - lo)
    return out


def smooth_oracle(
    demand: FloatArray, setup: Setup, k: float, smooth: FloatArray | None = None
) -> IntArray:
    """The smooth-future oracle: it knows the load's centred one-hour mean ahead (the part of
    the load a forecaster can hope to predict) but not the noise around it, and holds
    ``ceil(k x mean / unit)`` units, in place on time whatever the warm-up. Its cost at 1 %
    short is a soft floor: a causal policy beats it only by predicting the noise."""
    if not (k > 0 and math.isfinite(k)):
        raise ValueError(f"the smooth oracle's k must be a positive number, got {k}")
    mean = centred_mean(demand, setup.step) if smooth is None else smooth
    units = units_needed_array(k * mean, setup.per_unit)
    out: IntArray = np.clip(units, setup.min_capacity, setup.max_capacity)
    return out


@dataclass(frozen=True)
class Series:
    """The trace as the policies see it: step ``t``'s datapoint covers [ts[t], ts[t] + step)."""

    ts: FloatArray
    demand: FloatArray
    # What depends on the trace alone, computed once for every replay of it: predictive
    # scaling's hourly forecasts by the step that made them (``AwsPredictive._loads``), which
    # every knob and kind of a sweep would otherwise recompute, 48 hours x 9 lookups each.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def ts_list(self) -> list[float]:
        """The times as Python floats: a policy reads a few points every step, and indexing a
        list is several times cheaper than indexing an array and converting the result."""
        out: list[float] = self.ts.tolist()
        return out

    @cached_property
    def demand_list(self) -> list[float]:
        out: list[float] = self.demand.tolist()
        return out


class Policy(Protocol):
    name: str

    def step(self, t: int, fleet: Fleet) -> None:
        """Decide at the end of step ``t`` (reading ``demand[: t + 1]`` only) and act on
        ``fleet``."""


class TargetTracking:
    """Scale on utilisation = load / (serving units x unit): out after 3 min above the target,
    to ceil(load / (unit x target)); in after 15 min below 90 % of it, outside both cooldowns.
    ElastiCache shards: in below 75 %, and out by at least 20 % of the shards (``TT_*_BY_KIND``).

    Utilisation is measured on the units serving, as ECS's per-task metrics are; the desired
    count is computed from it, so units still warming up do not trigger a second scale-out
    (AWS's rule that capacity added in the cooldown counts toward the next scale-out).
    """

    name = "target-tracking"

    def __init__(self, series: Series, setup: Setup, target: float) -> None:
        if not 0.0 < target <= 1.0:
            raise ValueError(f"target utilisation must lie in (0, 1], got {target}")
        self.series, self.setup, self.target = series, setup, target
        self.out_n = max(1, math.ceil(TT_OUT_SECONDS / setup.step))
        self.in_n = max(1, math.ceil(TT_IN_SECONDS / setup.step))
        self.in_ratio = KINDS[setup.kind].simulation.tt_scale_in_ratio or TT_IN_RATIO
        self.min_out_percent = KINDS[setup.kind].simulation.tt_min_out_percent
        self.high = 0
        self.low = 0
        self.last_out = -math.inf
        self.last_in = -math.inf

    def step(self, t: int, fleet: Fleet, minimum: int = 0) -> None:
        s = self.setup
        load = self.series.demand_list[t]
        serving = fleet.running(t)
        util = load / (serving * s.per_unit) if serving else (math.inf if load > 0 else 0.0)
        self.high = self.high + 1 if util > self.target else 0
        self.low = self.low + 1 if util < self.in_ratio * self.target else 0
        now = self.series.ts_list[t] + s.step
        want = _clamp(max(units_needed(load, s.per_unit * self.target), minimum), s)
        if self.high >= self.out_n and want > fleet.desired:
            least = fleet.desired + -(-fleet.desired * self.min_out_percent // 100)
            fleet.set(t, _clamp(max(want, least), s))
            self.last_out = now
        elif (
            self.low >= self.in_n
            and want < fleet.desired
            and now - self.last_in >= TT_COOLDOWN_SECONDS
            and now - self.last_out >= TT_COOLDOWN_SECONDS
        ):
            fleet.set(t, want)
            self.last_in = now
        elif minimum > fleet.desired:
            fleet.set(t, _clamp(minimum, s))


class AwsPredictive:
    """AWS predictive scaling combined with target tracking, as an honest approximation.

    AWS's model is not public; this one forecasts each hour's mean load as the mean of the same
    hour on the previous days (up to 7) blended half and half with the same hour of the previous
    weeks (up to 2) once a week of history exists. The forecast capacity, load / (unit x
    target), is a minimum from the start of its hour less the buffer; it never scales in, and
    target tracking works above it.
    """

    name = "aws-predictive"

    def __init__(
        self, series: Series, setup: Setup, target: float, buffer_seconds: int = AP_BUFFER_SECONDS
    ) -> None:
        self.series, self.setup, self.target = series, setup, target
        self.tt = TargetTracking(series, setup, target)
        self.buffer = buffer_seconds
        self.next_refresh = -math.inf
        self.first_hour = 0
        self.capacity: list[int] = []

    def _refit(self, t: int, now: float) -> None:
        per = self.setup.per_unit * self.target
        self.first_hour = math.floor(now / 3600)
        self.capacity = [
            0 if load is None else units_needed(load, per) for load in self._loads(t, now)
        ]
        self.next_refresh = (math.floor(now / AP_REFRESH) + 1) * AP_REFRESH

    def _loads(self, t: int, now: float) -> list[float | None]:
        """The hourly mean loads forecast at step ``t`` for the next ``AP_HORIZON_HOURS`` (None:
        no history for that hour). They depend on the trace alone, so every replay of it
        shares them (``Series.memo``); the knob only turns them into capacity."""
        key = ("aws-predictive", t, now)
        memo = self.series.memo
        if key not in memo:
            memo[key] = self._forecast(t, now)
        out: list[float | None] = memo[key]
        return out

    def _forecast(self, t: int, now: float) -> list[float | None]:
        """The model of the class docstring, for the 48 hours from the one holding ``now``,
        from the complete hours of the last 14 days: all 48 hours at once (numpy), each
        hour's lags added one by one."""
        ts, demand = self.series.ts, self.series.demand
        lo = int(np.searchsorted(ts, now - 14 * 86400))
        hours = np.floor(ts[lo : t + 1] / 3600).astype(np.int64)
        last_complete = math.floor(now / 3600) - 1
        keep = hours <= last_complete
        hours, vals = hours[keep], demand[lo : t + 1][keep]
        first = int(hours[0])
        sums = np.bincount(hours - first, weights=vals)
        counts = np.bincount(hours - first)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

        hours_ahead = math.floor(now / 3600) + np.arange(AP_HORIZON_HOURS)

        def same_hour(lags: range) -> tuple[FloatArray, FloatArray]:
            """Sum and count, per hour ahead, of the known means ``lags`` hours earlier, added
            in the lags' order as the plain sum of a list would (bit for bit)."""
            total = np.zeros(AP_HORIZON_HOURS)
            count = np.zeros(AP_HORIZON_HOURS)
            for lag in lags:
                i = hours_ahead - lag - first
                ok = (hours_ahead - lag <= last_complete) & (i >= 0) & (i < mean.size)
                val = np.where(ok, mean[np.clip(i, 0, mean.size - 1)], np.nan)
                known = np.isfinite(val)
                total = total + np.where(known, val, 0.0)
                count = count + known
            return total, count

        d_sum, d_n = same_hour(range(24, 8 * 24, 24))
        w_sum, w_n = same_hour(range(168, 3 * 168, 168))
        with np.errstate(invalid="ignore", divide="ignore"):
            load = np.where(d_n > 0, d_sum / d_n, w_sum / w_n)
            if (now - float(ts[lo])) >= 7 * 86400:
                blend = (d_n > 0) & (w_n > 0)
                load = np.where(blend, 0.5 * load + 0.5 * w_sum / w_n, load)
        loads: list[float | None] = [
            x if n else None for x, n in zip(load.tolist(), (d_n + w_n).tolist(), strict=True)
        ]
        return loads

    def step(self, t: int, fleet: Fleet) -> None:
        now = self.series.ts_list[t] + self.setup.step
        if now >= self.next_refresh and now - float(self.series.ts[0]) >= AP_MIN_HISTORY:
            self._refit(t, now)
        minimum = 0
        if self.capacity:
            i = math.floor((now + self.buffer) / 3600) - self.first_hour
            if 0 <= i < len(self.capacity):
                minimum = self.capacity[i]
        self.tt.step(t, fleet, minimum)


def backtest_target(setup: Setup, quantile: float) -> Target:
    """The target definition the product would hold for this trace and kind."""
    resource: dict[str, Any] = {f: "backtest" for f in KINDS[setup.kind].resource_fields}
    return parse_target(
        {
            "id": "backtest",
            "kind": setup.kind.value,
            "resource": resource,
            "min_capacity": setup.min_capacity,
            "max_capacity": setup.max_capacity,
            "capacity_per_unit": setup.per_unit,
            "warmup_seconds": setup.warmup_seconds,
            "scale_in_stabilisation_seconds": setup.stabilisation_seconds,
            "evaluate_every_seconds": min(max(setup.step, 60), 3600),
            "load_metric": {
                "queries": [
                    {
                        "Id": "load",
                        "MetricStat": {
                            "Metric": {"Namespace": "Backtest", "MetricName": "Load"},
                            "Stat": "Sum",
                        },
                    }
                ],
                "period_seconds": min(max(setup.step, 60), 3600),
            },
            "forecast": {"quantile": quantile},
        }
    )


FitFn = Callable[[FloatArray, FloatArray, float, int, float, Forecast | None], Forecast]


def fit_forecast_for_backtest(
    ts: FloatArray,
    v: FloatArray,
    now: float,
    horizon: int,
    quantile: float,
    previous: Forecast | None = None,
) -> Forecast:
    """The worker's fit, with the worker's history limit and its previous forecast."""
    return fit_forecast(
        ts,
        v,
        now=now,
        horizon_seconds=horizon,
        quantile=quantile,
        max_history_seconds=HISTORY_SECONDS,
        previous=previous,
    )


class Scaleahead:
    """The product, replayed: the forecast refitted when the worker refits it, the worker's tick
    (``domain.tick``: the same plan, stabilisation, floor, two-step read and decision) every
    evaluation interval the target is not resting (``domain.rest``), and the high-load alarm
    evaluated as CloudWatch evaluates it and handled by the alarm function's own law
    (``domain.alarm``). What the replay cannot have is stated, not modelled: no resource guards
    (a trace has no memory metric, so the guarded read returns what the plain one does), no
    planned events, and no learned warm-up (the target's warm-up is configured, which the
    worker also plans with whatever it learns)."""

    name = "scaleahead"

    def __init__(
        self,
        series: Series,
        setup: Setup,
        quantile: float,
        fit: FitFn = fit_forecast_for_backtest,
        rests: bool = True,
    ) -> None:
        self.series, self.setup = series, setup
        # The trace as Python floats: a tick reads a few recent points, and slicing a list is
        # several times cheaper than slicing an array and converting it, every step.
        self._ts = series.ts_list
        self._demand = series.demand_list
        self.target = backtest_target(setup, quantile)
        self.quantile = quantile
        self.fit = fit
        self.every = evaluation_interval(self.target, setup.step)
        self.horizon = forecast_horizon(self.target, setup.step)
        self.period = self.target.load_metric.period_seconds
        self.recent = recent_seconds(self.period)
        self.forecast: Forecast | None = None
        self.unavailable = ""
        self.fitted_at: float | None = None
        self.last_tick = -math.inf
        self.memory = Memory([], FloorState(), WarmupLog())
        # Evaluations made (each a load read, a capacity read and a decision written in the
        # Lambda); ``rests`` False replays the product as it was before rests (issue 15).
        self.evaluations = 0
        self.rests = rests
        self.alarm_state = "OK"
        a = self.target.alarm
        self.alarm_spec = {
            "EvaluationPeriods": a.evaluation_periods,
            "DatapointsToAlarm": a.datapoints_to_alarm,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        }
        self.alarm_actions = 0

    def fit_schedule(self, first: int) -> list[tuple[float, int, int]]:
        """(time, first index, last index) of every fit a replay from step ``first`` makes,
        so that they can be computed ahead, in parallel, while the replay runs
        (``FitCache.prefetching``)."""
        ts = self.series.ts
        out = []
        fitted_at: float | None = None
        for t in range(first, ts.size):
            now = float(ts[t]) + self.setup.step
            if refit_due(self.target, fitted_at, now):
                fitted_at = now
                out.append((now, int(np.searchsorted(ts, now - HISTORY_SECONDS)), t))
        return out

    def _refit(self, t: int, now: float) -> None:
        ts, demand = self.series.ts, self.series.demand
        self.fitted_at = now
        lo = int(np.searchsorted(ts, now - HISTORY_SECONDS))
        try:
            self.forecast = self.fit(
                ts[lo : t + 1], demand[lo : t + 1], now, self.horizon, self.quantile, self.forecast
            )
            self.unavailable = ""
        except InsufficientHistory as err:
            self.forecast, self.unavailable = None, str(err)

    def _alarm(self, t: int, now: float, fleet: Fleet) -> None:
        """The high-load alarm: its threshold follows the capacity asked for, as the functions
        move it after every decision."""
        target = self.target
        n = target.alarm.evaluation_periods
        window = self._demand[max(0, t - n + 1) : t + 1]
        threshold = alarm_threshold(target, fleet.desired)
        if self.alarm_state == "OK" and max(window) <= threshold:
            return  # no datapoint breaches: CloudWatch's evaluation would say OK again
        state = evaluate({**self.alarm_spec, "Threshold": threshold}, [*window]).state
        if state == self.alarm_state:
            return
        self.alarm_state = state
        change = Change("backtest-high-load", state, now, observed=max(window))
        admission = admit(self.memory.floor, change, interrupted=False)
        if not admission.act:
            return
        rest = self.memory.rest
        if rest is not None and rest.until > now:  # as the alarm path ends a rest
            self.memory = replace(self.memory, rest=replace(rest, until=now))
        out = on_change(
            target,
            self.memory.floor,
            change,
            admission,
            fleet.desired,
            now,
            stored_threshold=threshold,
        )
        self.memory = replace(self.memory, floor=out.floor)
        if out.decision.execute:
            before = fleet.desired
            if fleet.set(t, out.decision.desired) != before:
                self.alarm_actions += 1

    def step(self, t: int, fleet: Fleet) -> None:
        target = self.target
        now = self._ts[t] + self.setup.step
        if refit_due(target, self.fitted_at, now):
            self._refit(t, now)
        self._alarm(t, now, fleet)

        if now - self.last_tick < self.every - 1e-6:
            return
        resting_now = self.memory.rest
        if resting(resting_now.until if resting_now else None, now, self.setup.step):
            return
        self.last_tick = now
        lo = bisect_left(self._ts, now - self.recent)
        points = list(zip(self._ts[lo : t + 1], self._demand[lo : t + 1], strict=True))
        why = forecast_unavailable(
            target,
            now,
            fitted_at=self.fitted_at,
            usable=self.forecast is not None,
            reason=self.unavailable,
        )
        view = ForecastView(None if why else self.forecast, why, self.fitted_at, "backtest")
        seen = Seen(view, observe(points, now, self.period), (), self.every)
        reading = CapacityReading(fleet.desired, fleet.running(t))
        planned = plan_step(target, seen, self.memory, now)
        out = decide_step(target, seen, planned, now, lambda guarded: reading)
        self.evaluations += 1
        # The worker's rest (``domain.rest``): the next ticks skip the target while it holds.
        rest = (
            plan_rest(target, seen, planned, out.decision, out.reading, now) if self.rests else None
        )
        self.memory = replace(self.memory, plans=out.plans, floor=out.floor, rest=rest)
        if out.decision.execute:
            fleet.set(t, out.decision.desired)


def _clamp(value: int, setup: Setup) -> int:
    return max(setup.min_capacity, min(setup.max_capacity, value))


def rules_for(policy: str, kind: Kind) -> Rules:
    """The kind's simulation rules (``KindSpec.simulation``): ElastiCache accepts one resharding
    at a time, whoever asks; scaleahead's own adapters also add Aurora readers one change at a
    time, at most ``max_shards_per_action`` (default 2) shards per change, and remove one
    Memcached node per change."""
    spec = KINDS[kind]
    if policy == "scaleahead":
        return Rules(
            serial=spec.simulation.serial_for_scaleahead,
            max_out=spec.max_units_per_change,
            max_in=spec.max_units_removed_per_change,
        )
    return Rules(serial=spec.simulation.serial)
