"""`scaleahead suggest NAME`: a target's ``capacity_per_unit`` and forecast quantile, advised
from its own history, with the figures behind the advice.

Data source, over the last ``--days`` (CloudWatch keeps 15 days of one-minute data):

- the load: the target's load metric, read as ``scaleahead backtest --from-target`` reads it
  (``backtest.from_target.trace_of``: one paged GetMetricData);
- the running count: for ECS, Container Insights' ``RunningTaskCount`` (``ECS/ContainerInsights``,
  ClusterName and ServiceName; Average over the load's period; one paged GetMetricData, read with
  the worker's own ``load_series``), which exists from before scaleahead was installed; where it
  has no datapoint, the capacity scaleahead's own worker decisions recorded (``before``, the
  resource's real capacity at each tick, ForecastOnly too: ``shadow``'s reading), each holding
  until the next for at most ``GAP_FACTOR`` evaluation intervals (one paged DynamoDB Query).

The model, in small pure functions (tested without AWS):

- ``capacity_per_unit``: the load over the running count, step by step where both are known
  (``carried``), on the *settled* steps (``settled``: no change of the count within a warm-up
  either side, so a late scaler's overload around each change is not taken for capacity), its
  p50, p90 and maximum (``carried_stats``). It measures what one unit *carried*, a lower bound
  on what it can carry: the suggestion is the p90, and a team whose units ran cool (CPU,
  latency well within target) should raise it. With no running count at
  all nothing is suggested and the current value is kept.
- the quantile: the backtest's sweep of the scaleahead policy (``report.run_backtest``) over the
  same load, on the target's own terms and the suggested (else current) ``capacity_per_unit``;
  the advice is the cheapest quantile short of capacity on at most 1 % of the scored steps
  (``metrics.cost_at``, the benchmarks' ``cost_at_1pct``: the grid, then quantiles beyond it
  while none is within 1 %, ``replay.extend``, then four quantiles inside the step where it
  crosses 1 %, ``replay.refine_knobs``), else the least short.
- the scale-in stabilisation window: the same sweep again for each of ``WINDOW_CHOICES_SECONDS``
  and the target's own (the forecast fits are shared, as the stabilisation changes no fit);
  the advice is the window whose quantile is cheapest within 1 %, the longer on a tie, shown
  with how often each changes capacity; the current window when none reaches 1 %.
- whether it pays at all: AWS's own scaling for the kind replayed on the same load and terms,
  against the suggested quantile (``against_aws``), so that a team whose load no forecast
  helps hears it from the tool.
"""

from __future__ import annotations

import argparse
import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scaleahead.domain.kinds import KINDS, Kind
from scaleahead.domain.target import (
    CAPACITY_PER_UNIT_MIN,
    EcsTarget,
    LoadMetric,
    Target,
    TargetError,
)
from scaleahead.service.runtime import Runtime
from scaleahead.store import Store
from scaleahead_tools.backtest.metrics import ONE_PERCENT, Point, cost_at
from scaleahead_tools.backtest.policies import SWEEP_KNOBS
from scaleahead_tools.backtest.replay import FitCache, effective_knob, replay, series_of
from scaleahead_tools.backtest.report import run_backtest, work_units
from scaleahead_tools.cli.against_aws import (
    Comparison,
    compare,
    print_comparison,
    replay_baselines,
)
from scaleahead_tools.cli.common import known_target, print_json, runtime
from scaleahead_tools.cli.shadow import GAP_FACTOR, MAX_DECISIONS, shadow_figures
from scaleahead_tools.sim.scoring import units_needed_array
from scaleahead_tools.traces import Trace

DEFAULT_DAYS = 14.0
# Fewer settled steps than this (an hour of one-minute data) and the figure rests on all steps.
MIN_SETTLED_STEPS = 60
# The share of carried load per unit the suggestion takes: high, not the maximum, so one odd
# minute (a burst queued behind a deploy) does not set it.
SUGGEST_PERCENTILE = 90
# Scale-in stabilisation windows replayed besides the target's own: from five minutes (capacity
# goes soon after a burst) to an hour (held through the next one). Which pays depends on the
# load, and not monotonically: replayed on the shared traces with ECS terms, the cheapest within
# 1 % short is 5 minutes for Twitter_volume_AAPL (3.56 against 3.57 with the default 15) and
# Twitter_volume_GOOG (2.60 against 2.65), 60 for the ELB series (3.15 against 3.17); the
# changes of capacity a day differ far more (AAPL: 76 at 5 minutes, 29 at 60)
# (docs/BACKTEST.md). Only a target's own history can say.
WINDOW_CHOICES_SECONDS = (300, 900, 1800, 3600)
INSIGHTS = "Container Insights"
DECISIONS = "decisions"
RAISE_NOTE = (
    "this is what one {unit} carried, a lower bound on what it can carry: if your {units} ran "
    "cool (CPU, memory, latency well within target), raise it"
)


# --- pure: the running count and the load one unit carried ---------------------------------


def running_at(decisions: Sequence[tuple[float, int]], t: float, hold: float) -> int | None:
    """The capacity recorded by the last decision at or before ``t`` (``decisions`` oldest
    first, as (at, capacity)), if it is at most ``hold`` seconds old; else None."""
    i = bisect.bisect_right(decisions, t, key=lambda d: d[0]) - 1
    if i < 0 or t - decisions[i][0] > hold:
        return None
    return decisions[i][1]


def join_running(
    stamps: Sequence[float],
    step: float,
    insights: Mapping[float, float],
    decisions: Sequence[tuple[float, int]],
    hold: float,
) -> list[tuple[float | None, str | None]]:
    """The running count of each load step (stamped at its start) and where it came from:
    Container Insights' datapoint of that period when there is one, else the decision in force
    at the step's middle, else (None, None)."""
    out: list[tuple[float | None, str | None]] = []
    for t in stamps:
        if t in insights:
            out.append((insights[t], INSIGHTS))
            continue
        n = running_at(decisions, t + step / 2, hold)
        out.append((None, None) if n is None else (float(n), DECISIONS))
    return out


def carried(loads: Sequence[float], running: Sequence[float | None]) -> list[float]:
    """Load over running count, for every step with a running count above zero."""
    return [load / n for load, n in zip(loads, running, strict=True) if n is not None and n > 0]


def settled(running: Sequence[float | None], window: int) -> list[bool]:
    """Steps whose running count is known and the same from ``window`` steps before to
    ``window`` steps after: the scaler that ran then saw no reason to act.

    Load over running count is biased upwards around a scale-out by a scaler that reacts late
    (the units were overloaded until the count caught up) and downwards around a scale-in;
    the p90 over every step takes that overload for capacity. Away from any change, the count
    held while the load varied: there the load per unit is what the team's own scaling was
    content with, a level it would have acted on had it been too high."""
    n = len(running)
    out = []
    for i in range(n):
        lo, hi = max(0, i - window), min(n, i + window + 1)
        here = running[i]
        out.append(here is not None and all(running[j] == here for j in range(lo, hi)))
    return out


@dataclass(frozen=True)
class CarriedStats:
    """What one unit carried, over the steps it rests on."""

    steps: int
    p50: float
    p90: float
    max: float


def carried_stats(values: Sequence[float]) -> CarriedStats | None:
    """p50, p90 and maximum of ``values``; None when there is none."""
    if not values:
        return None
    a = np.asarray(values, dtype=np.float64)
    p50, p90 = np.percentile(a, [50, SUGGEST_PERCENTILE])
    return CarriedStats(len(values), float(p50), float(p90), float(a.max()))


def suggested_per_unit(stats: CarriedStats | None) -> float | None:
    """The p90 of the load carried, to three significant figures (within the bounds a target
    accepts); None without figures or when no unit carried anything."""
    if stats is None or not stats.p90 > 0:
        return None
    return max(float(f"{stats.p90:.3g}"), CAPACITY_PER_UNIT_MIN)


# --- pure: the quantile ---------------------------------------------------------------------


@dataclass(frozen=True)
class QuantileRow:
    """One forecast quantile replayed: what it cost and how long it was short."""

    quantile: float
    cost: float  # capacity-steps over need-steps (the oracle pays 1)
    unit_hours: float
    under_time: float  # share of the scored steps short of need
    under_minutes: float


def quantile_rows(
    points: Sequence[Point], need_steps: int, scored_steps: int, step: int
) -> list[QuantileRow]:
    """The sweep's points as rows, by quantile: unit-hours are the cost times the need-steps
    (``metrics.score``'s definition, turned back), minutes short the share times the steps."""
    rows = [
        QuantileRow(
            quantile=float(p.knob) if p.knob is not None else math.nan,
            cost=p.cost,
            unit_hours=p.cost * need_steps * step / 3600,
            under_time=p.under_time,
            under_minutes=round(p.under_time * scored_steps) * step / 60,
        )
        for p in points
    ]
    return sorted(rows, key=lambda r: r.quantile)


def choose_quantile(rows: Sequence[QuantileRow]) -> tuple[QuantileRow, bool]:
    """The cheapest row short on at most 1 % of the steps (``metrics.cost_at``'s test), and
    True; else the least short one (cheapest among equals), and False."""
    ok = [r for r in rows if cost_at([Point(r.quantile, r.cost, r.under_time)]) is not None]
    if ok:
        return min(ok, key=lambda r: (r.cost, r.quantile)), True
    return min(rows, key=lambda r: (r.under_time, r.cost, r.quantile)), False


def alike(rows: Sequence[QuantileRow]) -> bool:
    """Whether every quantile gave the same figures: then the sweep tells nothing (the forecast
    needs a day of history before it plans; until then the replay is the reactive path)."""
    return len({(r.cost, r.under_time) for r in rows}) <= 1


@dataclass(frozen=True)
class WindowRow:
    """One scale-in stabilisation window replayed: the quantile it would take
    (``choose_quantile`` over its own sweep), what that costs, how long it is short, and how
    often capacity changes with it (a short window scales in sooner after each burst, and out
    again at the next)."""

    window_seconds: int
    quantile: float
    cost: float
    under_time: float
    meets_1pct: bool
    changes_per_day: float


def choose_window(rows: Sequence[WindowRow], current: int) -> WindowRow:
    """The window whose quantile is cheapest while short on at most 1 % of the steps, the
    longer on a tie (fewer changes for the same cost); the current one when none is."""
    ok = [r for r in rows if r.meets_1pct]
    if ok:
        return min(ok, key=lambda r: (r.cost, -r.window_seconds))
    return next(r for r in rows if r.window_seconds == current)


def window_choices(current: int) -> list[int]:
    """The windows replayed: ``WINDOW_CHOICES_SECONDS`` and the target's own."""
    return sorted({*WINDOW_CHOICES_SECONDS, current})


def yaml_lines(
    target_id: str, per_unit: float | None, quantile: float, window: int | None = None
) -> list[str]:
    """The lines to paste into the target's entry of the target file; the window only when
    it differs from the target's own."""
    lines = [f"# target {target_id}: keep the rest of its forecast settings"]
    if window is not None:
        lines.append(f"scale_in_stabilisation_seconds: {window}")
    if per_unit is not None:
        lines.append(f"capacity_per_unit: {per_unit:g}")
    return [*lines, "forecast:", f"  quantile: {quantile:g}"]


# --- reading: the running count --------------------------------------------------------------


def insights_metric(target: EcsTarget) -> LoadMetric:
    """Container Insights' running task count of the target's service, on the load's period.
    A cluster or service given as an ARN is named by its last part, as the dimensions are."""
    cluster = target.resource.cluster.rsplit("/", 1)[-1]
    service = target.resource.service.rsplit("/", 1)[-1]
    return LoadMetric.model_validate(
        {
            "queries": [
                {
                    "Id": "running",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "ECS/ContainerInsights",
                            "MetricName": "RunningTaskCount",
                            "Dimensions": [
                                {"Name": "ClusterName", "Value": cluster},
                                {"Name": "ServiceName", "Value": service},
                            ],
                        },
                        "Stat": "Average",
                    },
                }
            ],
            "period_seconds": target.load_metric.period_seconds,
        }
    )


def read_insights(
    rt: Runtime[Store], target: Target, start: float, end: float
) -> dict[float, float]:
    """(period start -> running tasks) from Container Insights; empty for other kinds. Read
    by the worker's own ``load_series`` on the target with this metric as its load."""
    if not isinstance(target, EcsTarget):
        return {}
    as_load = target.model_copy(update={"load_metric": insights_metric(target)})
    return dict(rt.metrics.load_series(as_load, start, end))


def read_decisions(
    rt: Runtime[Store], target: Target, since: float
) -> tuple[list[tuple[float, int]], int]:
    """(at, capacity the resource had) of the worker's decisions since ``since``, oldest first
    (``shadow``'s reading of the record), and how many records were read."""
    records = rt.store.decisions(target.id, since=since, limit=MAX_DECISIONS)
    points = shadow_figures(records, target.capacity_per_unit, target.evaluate_every_seconds).points
    return [(p.at, p.actual) for p in points], len(records)


# --- the command ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """Every figure the advice rests on: what ``--output json`` prints, what the text shows."""

    target: str
    kind: str
    days: float
    start: float
    end: float
    step_seconds: int
    load_steps: int
    load_filled: int
    decisions_read: int
    running_steps: dict[str, int]
    current_per_unit: float
    carried: CarriedStats | None
    settled_only: bool  # carried over settled steps only (``settled``), else over every step
    settled_window_seconds: int
    suggested_per_unit: float | None
    current_quantile: float
    per_unit_replayed: float
    scored_steps: int
    rows: list[QuantileRow]  # the sweep of the suggested window
    suggested_quantile: float
    meets_1pct: bool
    alike: bool
    current_window_seconds: int
    windows: list[WindowRow]
    suggested_window_seconds: int
    against_aws: Comparison | None  # None when every quantile scored alike (``alike``)

    @property
    def unit(self) -> tuple[str, str]:
        spec = KINDS[Kind(self.kind)]
        return spec.unit, spec.units

    def yaml(self) -> list[str]:
        window = self.suggested_window_seconds
        changed = window if window != self.current_window_seconds else None
        return yaml_lines(self.target, self.suggested_per_unit, self.suggested_quantile, changed)

    def to_dict(self) -> dict[str, Any]:
        unit, units = self.unit
        return {
            "target": self.target,
            "kind": self.kind,
            "days": self.days,
            "start": self.start,
            "end": self.end,
            "load": {
                "steps": self.load_steps,
                "step_seconds": self.step_seconds,
                "filled": self.load_filled,
            },
            "capacity_per_unit": {
                "current": self.current_per_unit,
                "running_steps": self.running_steps,
                "decisions_read": self.decisions_read,
                "carried": None if self.carried is None else asdict(self.carried),
                "settled_only": self.settled_only,
                "settled_window_seconds": self.settled_window_seconds,
                "carried_minutes": None
                if self.carried is None
                else self.carried.steps * self.step_seconds / 60,
                "suggested": self.suggested_per_unit,
                "note": RAISE_NOTE.format(unit=unit, units=units)
                if self.carried is not None
                else NO_RUNNING,
            },
            "quantile": {
                "current": self.current_quantile,
                "per_unit_replayed": self.per_unit_replayed,
                "scored_steps": self.scored_steps,
                # To 6 decimals: no 7.800000000000001 unit-hours.
                "rows": [{k: round(v, 6) for k, v in asdict(r).items()} for r in self.rows],
                "suggested": self.suggested_quantile,
                "meets_1pct": self.meets_1pct,
                "alike": self.alike,
            },
            "stabilisation": {
                "current_seconds": self.current_window_seconds,
                "rows": [{k: round(v, 6) for k, v in asdict(r).items()} for r in self.windows],
                "suggested_seconds": self.suggested_window_seconds,
            },
            "against_aws": None if self.against_aws is None else self.against_aws.to_dict(),
            "yaml": "\n".join(self.yaml()),
        }


NO_RUNNING = (
    "no running count over the load's history: no Container Insights RunningTaskCount (ECS) "
    "and no scaleahead decision recording the capacity; no capacity_per_unit suggested, the "
    "current one is kept"
)


def suggest(
    rt: Runtime[Store], target: Target, now: float, days: float, *, progress: bool = False
) -> Suggestion:
    """Read the history (two paged GetMetricData, one paged Query) and work out the advice."""
    from scaleahead_tools.backtest.from_target import terms_of, trace_of

    trace = trace_of(rt.metrics, target, now, days)
    start = now - days * 86400
    insights = read_insights(rt, target, start, now)
    decisions, read = read_decisions(rt, target, start)
    hold = GAP_FACTOR * target.evaluate_every_seconds
    running = join_running(trace.timestamps, trace.step, insights, decisions, hold)
    counts = {INSIGHTS: 0, DECISIONS: 0}
    for _, source in running:
        if source is not None:
            counts[source] += 1
    counts_per_step = [n for n, _ in running]
    window = max(1, math.ceil(target.effective_warmup_seconds / trace.step))
    calm = settled(counts_per_step, window)
    calm_values = carried(
        [v for v, c in zip(trace.values, calm, strict=True) if c],
        [n for n, c in zip(counts_per_step, calm, strict=True) if c],
    )
    # Too few settled steps to rest a figure on: every step, and the text says so.
    settled_only = len(calm_values) >= MIN_SETTLED_STEPS
    stats = carried_stats(calm_values if settled_only else carried(trace.values, counts_per_step))
    per_unit = suggested_per_unit(stats)
    terms = terms_of(target)
    replayed = per_unit if per_unit is not None else terms.per_unit
    current_window = target.effective_stabilisation_seconds
    fit = FitCache([terms.quantile, *SWEEP_KNOBS["scaleahead"]])
    sweeps: dict[int, tuple[list[QuantileRow], int]] = {}
    windows: list[WindowRow] = []
    for stab in window_choices(current_window):
        rows, scored, changes = _sweep(
            trace, target, replayed, terms.quantile, stab, fit, progress=progress
        )
        chosen, met = choose_quantile(rows)
        sweeps[stab] = rows, scored
        windows.append(
            WindowRow(stab, chosen.quantile, chosen.cost, chosen.under_time, met, changes)
        )
    # Under a day of history no forecast is replayed and every quantile scores the same: too
    # little to choose a window on either, and the current one stays.
    window_row = choose_window(windows, current_window)
    if all(alike(rows) for rows, _ in sweeps.values()):
        window_row = next(w for w in windows if w.window_seconds == current_window)
    rows, scored = sweeps[window_row.window_seconds]
    chosen, met = choose_quantile(rows)
    same = alike(rows)
    against = None
    if not same:
        baselines = replay_baselines(
            trace,
            target.kind,
            warmup_minutes=terms.warmup_minutes,
            per_unit=replayed,
            min_capacity=terms.min_capacity,
        )
        against = compare(baselines, chosen.cost, met, replayed, KINDS[target.kind].unit)
    return Suggestion(
        target=target.id,
        kind=target.kind.value,
        days=days,
        start=trace.start,
        end=trace.start + len(trace.values) * trace.step,
        step_seconds=trace.step,
        load_steps=len(trace.values),
        load_filled=trace.filled,
        decisions_read=read,
        running_steps=counts,
        current_per_unit=target.capacity_per_unit,
        carried=stats,
        settled_only=settled_only,
        settled_window_seconds=window * trace.step,
        suggested_per_unit=per_unit,
        current_quantile=terms.quantile,
        per_unit_replayed=replayed,
        scored_steps=scored,
        rows=rows,
        # Nothing to choose between: the current quantile stays.
        suggested_quantile=terms.quantile if same else chosen.quantile,
        meets_1pct=met,
        alike=same,
        current_window_seconds=current_window,
        windows=windows,
        suggested_window_seconds=window_row.window_seconds,
        against_aws=against,
    )


def _sweep(
    trace: Trace,
    target: Target,
    per_unit: float,
    current: float,
    window: int,
    fit: FitCache,
    *,
    progress: bool,
) -> tuple[list[QuantileRow], int, float]:
    """The scaleahead policy swept over its quantiles (and the current one) on the target's
    terms with the scale-in ``window``, as ``scaleahead backtest --from-target --sweep`` runs
    it; with the changes of capacity a day at the quantile ``choose_quantile`` takes (one
    replay more, unless that is the current quantile)."""
    from scaleahead_tools.backtest.from_target import terms_of
    from scaleahead_tools.backtest.report import _progress

    terms = terms_of(target)
    knobs = {"scaleahead": current}
    kwargs: dict[str, Any] = {
        "policies": ["scaleahead"],
        "knobs": knobs,
        "warmup_minutes": terms.warmup_minutes,
        "per_unit": per_unit,
        "stabilisation_minutes": window / 60,
        "min_capacity": terms.min_capacity,
        "do_sweep": True,
        "fit": fit,
    }
    try:
        if progress:
            total = work_units(trace, ["scaleahead"], True, knobs)
            with _progress(total, f"replaying, {window / 60:g}-min window") as bar:
                setup, runs, sweeps = run_backtest(trace, target.kind, progress=bar, **kwargs)
        else:
            setup, runs, sweeps = run_backtest(trace, target.kind, **kwargs)
    except ValueError as err:
        raise TargetError(f"target {target.id}: the backtest cannot run: {err}") from None
    points = list(sweeps["scaleahead"].points)
    run = runs["scaleahead"]
    knob = effective_knob("scaleahead", run.knob)
    if all(p.knob != knob for p in points):
        points.append(Point(knob, run.score.cost, run.score.under_time))
    demand = np.asarray(trace.values[setup.scored_from :], dtype=np.float64)
    need_steps = int(units_needed_array(demand, setup.per_unit).sum())
    scored = len(trace.values) - setup.scored_from
    rows = quantile_rows(points, need_steps, scored, trace.step)
    chosen, _ = choose_quantile(rows)
    if chosen.quantile != knob:
        run = replay(series_of(trace), setup, "scaleahead", chosen.quantile, fit=fit)
    days = scored * trace.step / 86400
    return rows, scored, run.score.actions / days if days > 0 else 0.0


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def print_text(s: Suggestion) -> None:
    unit, units = s.unit
    minutes = s.step_seconds / 60
    print(
        f"{s.target} ({s.kind}): {s.load_steps} steps of {minutes:g} min of load, "
        f"{(s.end - s.start) / 86400:.1f} days of the last {s.days:g} read; {s.load_filled} "
        "missing points filled by linear interpolation"
    )
    print()
    print(f"capacity_per_unit (now {_fmt(s.current_per_unit)}): the load one {unit} carried")
    if s.carried is None:
        print(f"  {NO_RUNNING}")
    else:
        c = s.carried
        print(
            f"  running count on {sum(s.running_steps.values())} steps: "
            f"{s.running_steps[INSIGHTS]} from {INSIGHTS}, {s.running_steps[DECISIONS]} from "
            f"scaleahead's decisions ({s.decisions_read} read)"
        )
        window = f"{s.settled_window_seconds / 60:g} min"
        if s.settled_only:
            print(
                f"  over the {c.steps} settled steps ({c.steps * minutes:g} min: no change of "
                f"the count within {window} either side, the warm-up; around a change a late "
                "scaler overloads units, which is not capacity)"
            )
        else:
            print(
                f"  over all {c.steps} steps: fewer than {MIN_SETTLED_STEPS} settled ones (no "
                f"change of the count within {window} either side), so ramps are included and "
                "the figure may be high"
            )
        print(f"  p50 {_fmt(c.p50)} · p90 {_fmt(c.p90)} · max {_fmt(c.max)}")
        if s.suggested_per_unit is None:
            print("  no unit carried any load: no capacity_per_unit suggested")
        else:
            print(f"  suggested: {s.suggested_per_unit:g} (the p{SUGGEST_PERCENTILE})")
        print(f"  note: {RAISE_NOTE.format(unit=unit, units=units)}")
    print()
    _print_windows(s)
    print()
    print(
        f"forecast quantile (now {s.current_quantile:g}): scaleahead replayed over the load with "
        f"capacity_per_unit {s.per_unit_replayed:g}, {s.scored_steps} steps scored (scale-in "
        f"window {s.suggested_window_seconds / 60:g} min)"
    )
    print(f"  {'quantile':>8}  {'cost':>6}  {'unit-hours':>10}  {'short':>7}  {'min short':>9}")
    for r in s.rows:
        mark = " <" if r.quantile == s.suggested_quantile else ""
        mark += " (now)" if r.quantile == s.current_quantile else ""
        print(
            f"  {r.quantile:>8g}  {r.cost:>6.3f}  {r.unit_hours:>10.1f}  "
            f"{100 * r.under_time:>6.2f}%  {r.under_minutes:>9g}{mark}"
        )
    print("  cost: capacity-steps over need-steps (capacity equal to need every step pays 1)")
    if s.alike:
        print(
            "  every quantile gave the same figures: the forecast needs a day of history before "
            "it plans (until then the replay is the reactive path alone), or the load is too "
            f"even to tell them apart; keep the current {s.current_quantile:g} and ask again "
            "with more --days"
        )
    elif s.meets_1pct:
        print(
            f"  suggested: {s.suggested_quantile:g}, the cheapest short of capacity on at most "
            f"{100 * ONE_PERCENT:g} % of the steps"
        )
    else:
        print(
            f"  no quantile is short on at most {100 * ONE_PERCENT:g} % of the steps; the least "
            f"short is {s.suggested_quantile:g}"
        )
    print()
    chosen = next(r for r in s.rows if r.quantile == s.suggested_quantile)
    print_comparison(s.against_aws, chosen.quantile, chosen.cost, chosen.under_time)
    print()
    print("paste into the target file:")
    for line in s.yaml():
        print(f"  {line}")


def _print_windows(s: Suggestion) -> None:
    now = s.current_window_seconds
    print(
        f"scale-in stabilisation window (now {now / 60:g} min): the quantile sweep replayed "
        "with each window, at the quantile each would take"
    )
    print(f"  {'window':>8}  {'quantile':>8}  {'cost':>6}  {'short':>7}  {'changes/day':>11}")
    for w in s.windows:
        mark = " <" if w.window_seconds == s.suggested_window_seconds else ""
        mark += " (now)" if w.window_seconds == now else ""
        print(
            f"  {w.window_seconds / 60:>4g} min  {w.quantile:>8g}  {w.cost:>6.3f}  "
            f"{100 * w.under_time:>6.2f}%  {w.changes_per_day:>11.1f}{mark}"
        )
    chosen = next(w for w in s.windows if w.window_seconds == s.suggested_window_seconds)
    if s.suggested_window_seconds == now:
        print(f"  suggested: keep {now / 60:g} min")
        return
    current = next(w for w in s.windows if w.window_seconds == now)
    print(
        f"  suggested: {s.suggested_window_seconds / 60:g} min, the cheapest within "
        f"{100 * ONE_PERCENT:g} % short ({chosen.changes_per_day:.1f} changes of capacity a day, "
        f"{current.changes_per_day:.1f} now); a shorter window gives capacity back sooner after "
        "a burst and adds it again at the next"
    )


def cmd_suggest(args: argparse.Namespace) -> int:
    from scaleahead import clock

    rt = runtime(args)
    target = known_target(rt, args.target)
    as_json = getattr(args, "output", "text") == "json"
    try:
        result = suggest(rt, target, clock.now(), args.days, progress=not as_json)
    except ValueError as err:  # a TargetError too: one line, exit 2
        raise TargetError(str(err)) from None
    if as_json:
        print_json(result.to_dict())
    else:
        print_text(result)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``suggest`` on the ``scaleahead`` subcommands."""
    text = "advise a target's capacity_per_unit and forecast quantile from its own history"
    sp = sub.add_parser(
        "suggest",
        help=text,
        description="capacity_per_unit from the load one unit carried (load over the running "
        "count: Container Insights for ECS, else scaleahead's decisions), the forecast quantile "
        "from the backtest's sweep over the same load: the cheapest short on at most 1 % of "
        "the steps. Prints the YAML to paste into the target file.",
    )
    sp.add_argument("target", help="a target id")
    sp.add_argument(
        "--days",
        type=float,
        default=DEFAULT_DAYS,
        help=f"how far back (default {DEFAULT_DAYS:g}; CloudWatch keeps 15)",
    )
    sp.set_defaults(func=cmd_suggest)
