"""`scaleahead forecast TARGET`: one chart of a target's load, forecast and planned capacity.

The operator's question is "what will it do next, and why": the load the forecast learned from,
the headroom band the planner reads, and the capacity that band asks for one warm-up ahead, on
one time axis with the plans and decisions already made. ``--output json`` gives scripts the
same series. A target without a usable forecast still gets its history, and the reason.

matplotlib is imported only while drawing: this is an operator tool, never Lambda code.
"""

from __future__ import annotations

import argparse
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaleahead.domain.controller import (
    STALE_AFTER_REFRESHES,
    evaluation_interval,
    forecast_plan,
    planning_warmup,
)
from scaleahead.domain.events import PlannedEvent
from scaleahead.domain.kinds import KINDS
from scaleahead.domain.series import Forecast
from scaleahead.domain.state import StoredForecast
from scaleahead.domain.target import Target, TargetError
from scaleahead.domain.tick import FORECAST_DISABLED, FORECAST_TOO_OLD, forecast_view
from scaleahead.service.runtime import Runtime
from scaleahead.store import Store
from scaleahead_tools.cli.common import known_target, print_json, runtime

HOUR = 3600
DEFAULT_HOURS_BACK = 24.0
# Ahead when there is no forecast to take the horizon from.
DEFAULT_HOURS_AHEAD = 6.0
# What the capacity of each kind is counted in: the kind's own word (``domain.kinds``).
UNIT_WORD = {k.value: spec.units for k, spec in KINDS.items()}


@dataclass(frozen=True)
class ForecastChart:
    """Every series of the chart, in epoch seconds, oldest first: what ``--output json`` prints
    and what ``draw`` plots, so the picture and the numbers cannot disagree."""

    target: str
    kind: str
    now: float
    start: float
    end: float
    min_capacity: int
    max_capacity: int
    capacity_per_unit: float
    warmup_seconds: int
    warmup_source: str
    # "ok", "reactive-only" (too little history), "missing" (never fitted) or "disabled".
    forecast_status: str
    # Why there is no forecast band, or why it is not planned on; "" when all is well.
    why: str
    generated_at: float | None = None
    quantile: float | None = None
    model: str | None = None
    step: int | None = None
    history: list[tuple[float, float]] = field(default_factory=list)
    # (slot start, mean, upper) of every forecast slot overlapping the chart.
    forecast: list[tuple[float, float, float]] = field(default_factory=list)
    # (time, units) the worker planned: its state's stabilisation window and its decision log.
    plans: list[tuple[float, int]] = field(default_factory=list)
    # (time, units, peak upper load) the forecast implies from now on, within min/max.
    planned: list[tuple[float, int, float]] = field(default_factory=list)
    # (time, before, after) of each decision that read the capacity.
    capacity: list[tuple[float, int, int]] = field(default_factory=list)
    # The target's planned events overlapping the chart (shaded on both panels).
    events: list[PlannedEvent] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        band = None
        if self.forecast:
            band = {
                "status": self.forecast_status,
                "generated_at": self.generated_at,
                "model": self.model,
                "quantile": self.quantile,
                "step": self.step,
                "points": [{"t": t, "mean": m, "upper": u} for t, m, u in self.forecast],
            }
        return {
            "target": self.target,
            "kind": self.kind,
            "now": self.now,
            "start": self.start,
            "end": self.end,
            "min_capacity": self.min_capacity,
            "max_capacity": self.max_capacity,
            "capacity_per_unit": self.capacity_per_unit,
            "warmup_seconds": self.warmup_seconds,
            "warmup_source": self.warmup_source,
            "forecast_status": self.forecast_status,
            "why": self.why or None,
            "history": [{"t": t, "load": v} for t, v in self.history],
            "forecast": band,
            "plans": [{"t": t, "units": u} for t, u in self.plans],
            "planned": [{"t": t, "units": u, "load": load} for t, u, load in self.planned],
            "capacity": [{"t": t, "before": b, "after": a} for t, b, a in self.capacity],
            "events": [e.to_item() for e in self.events],
        }

    def title(self) -> str:
        head = f"{self.target} ({self.kind})"
        if self.forecast_status == "ok" and self.generated_at is not None:
            head += (
                f" · forecast ok, generated {_utc(self.generated_at)}Z"
                f" · headroom quantile {self.quantile:g}\nmodel: {self.model}"
            )
        else:
            head += f" · forecast {self.forecast_status}"
        if self.why:
            head += f"\n{'no forecast band' if not self.forecast else 'note'}: {self.why}"
        return "\n".join(textwrap.fill(line, 110) for line in head.splitlines())


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def _forecast_of(
    target: Target, stored: StoredForecast | None, now: float
) -> tuple[Forecast | None, str, str]:
    """The stored forecast, its status, and why it will not be planned on ("" if it will).

    Whether it will is the worker's own rule (``domain.tick.forecast_view``); this only says
    why at more length, and still draws a forecast too old to plan from."""
    view = forecast_view(target, stored, now)
    if view.forecast is not None:
        if view.forecast.end <= now:
            return view.forecast, "ok", f"the stored forecast ended at {_utc(view.forecast.end)}Z"
        return view.forecast, "ok", ""
    if view.unavailable == FORECAST_DISABLED:
        return None, "disabled", view.unavailable
    if stored is None:
        return (
            None,
            "missing",
            "no forecast stored yet: the worker has not run for this target since it was "
            "applied (it fits one on its next tick)",
        )
    if view.unavailable == FORECAST_TOO_OLD and stored.forecast:
        age = now - stored.generated_at
        limit = STALE_AFTER_REFRESHES * target.forecast.refresh_seconds
        return (
            Forecast.from_item(stored.forecast),
            "ok",
            f"the stored forecast is {age / HOUR:.1f} h old; the worker plans reactive-only "
            f"once it is over {limit / HOUR:g} h old, so no plan is drawn from it",
        )
    return None, str(stored.status), view.unavailable or f"forecast status {stored.status}"


def implied_plan(
    target: Target,
    forecast: Forecast,
    warmup: int,
    now: float,
    end: float,
    every: int,
    events: Sequence[PlannedEvent] = (),
) -> list[tuple[float, int, float]]:
    """From now to ``end``, slot by slot: (time, units, load planned for) as the tick at that
    time will plan them from this forecast (``forecast_plan``: the worker's own law and planned
    events, less the observed load and the level correction only that tick will know). It
    stops where the forecast no longer covers the window; the planner then goes reactive."""
    times = [now]
    first = max(0, int((now - forecast.start) // forecast.step) + 1)
    times += [forecast.start + i * forecast.step for i in range(first, len(forecast.mean))]
    out: list[tuple[float, int, float]] = []
    for t in times:
        if t < forecast.start:
            continue  # fitted a moment after now: its first slot opens the plan
        if t > end:
            break
        plan = forecast_plan(target, forecast, t, every, warmup, events)
        if plan is None or plan.desired is None:
            break
        out.append((t, plan.desired, plan.planned_load or 0.0))
    return out


def collect(
    rt: Runtime[Store],
    target: Target,
    now: float,
    *,
    hours_back: float = DEFAULT_HOURS_BACK,
    hours_ahead: float | None = None,
) -> ForecastChart:
    """Read everything the chart shows; ``hours_ahead`` None means the forecast's horizon."""
    start = now - hours_back * HOUR
    state = rt.store.get_state(target.id)
    warmup, source = planning_warmup(target, state.warmups)
    stored = rt.store.get_forecast(target) if target.forecast.enabled else None
    forecast, status, why = _forecast_of(target, stored, now)
    if hours_ahead is not None:
        end = now + hours_ahead * HOUR
    elif forecast is not None and forecast.end > now:
        end = forecast.end
    else:
        end = now + DEFAULT_HOURS_AHEAD * HOUR

    history = rt.metrics.load_series(target, start, now)

    events = [e for e in rt.store.planned_events(target.id, now) if e.overlaps(start, end)]
    band: list[tuple[float, float, float]] = []
    planned: list[tuple[float, int, float]] = []
    if forecast is not None:
        for i, (m, u) in enumerate(zip(forecast.mean, forecast.upper, strict=True)):
            t = forecast.start + i * forecast.step
            if t + forecast.step > start and t <= end:
                band.append((t, m, u))
        if not why:
            every = evaluation_interval(target, rt.settings.tick_seconds)
            planned = implied_plan(target, forecast, warmup, now, end, every, events)

    # A decision per tick over a day: read them all (each worker row carries its plan).
    rows = rt.store.decisions(target.id, since=start, limit=max(500, int(3 * hours_back * 60)))
    plans: dict[float, int] = {t: u for t, u in state.plans if start <= t <= now}
    capacity: list[tuple[float, int, int]] = []
    for row in reversed(rows):
        at = row.at or 0.0
        tick = row.tick
        if tick is not None and tick.plan is not None:
            plans.setdefault(at, tick.plan)
        if row.before is not None and row.after is not None:
            capacity.append((at, row.before, row.after))

    return ForecastChart(
        target=target.id,
        kind=target.kind.value,
        now=now,
        start=start,
        end=end,
        min_capacity=target.min_capacity,
        max_capacity=target.max_capacity,
        capacity_per_unit=target.capacity_per_unit,
        warmup_seconds=warmup,
        warmup_source=source,
        forecast_status=status,
        why=why,
        generated_at=stored.generated_at if stored is not None else None,
        quantile=forecast.quantile if forecast is not None else None,
        model=forecast.model if forecast is not None else None,
        step=forecast.step if forecast is not None else None,
        history=list(history),
        forecast=band,
        plans=sorted(plans.items()),
        planned=planned,
        events=events,
        capacity=capacity,
    )


def draw(chart: ForecastChart, path: Path) -> None:
    """Two panels on one UTC time axis: load above, capacity below, "now" across both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    def ts(times: list[float]) -> list[datetime]:
        return [datetime.fromtimestamp(t, UTC) for t in times]

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(13, 8), sharex=True, height_ratios=[1.4, 1], squeeze=True
    )
    top.plot(
        ts([t for t, _ in chart.history]),
        [v for _, v in chart.history],
        color="0.2",
        lw=1,
        label="load (CloudWatch)",
    )
    if chart.forecast:
        ft = [t for t, _, _ in chart.forecast]
        # The slot holding the last value ends one step later: close the steps there.
        edges = ts([*ft, ft[-1] + (chart.step or 0)])
        mean = [m for _, m, _ in chart.forecast]
        upper = [u for _, _, u in chart.forecast]
        top.fill_between(
            edges,
            [*mean, mean[-1]],
            [*upper, upper[-1]],
            step="post",
            color="tab:blue",
            alpha=0.2,
            lw=0,
            label=f"headroom band (to q{chart.quantile:g})",
        )
        top.step(edges, [*mean, mean[-1]], where="post", color="tab:blue", lw=1.2, label="mean")
        top.step(edges, [*upper, upper[-1]], where="post", color="tab:blue", lw=0.6, ls="--")
    for i, e in enumerate(chart.events):
        for ax in (top, bottom):
            ax.axvspan(
                *ts([e.start, e.end]),
                color="tab:orange",
                alpha=0.12,
                lw=0,
                label=f"planned event {e.id} ({e.effect()})" if ax is top else None,
            )
        top.annotate(
            e.id,
            (ts([e.start])[0], 0),
            xytext=(2, 2 + 10 * i),
            textcoords="offset points",
            fontsize=7,
        )
    top.set_ylabel("load")
    top.set_ylim(bottom=0)
    top.legend(loc="upper left", fontsize=8)
    top.set_title(chart.title(), fontsize=10, loc="left")

    unit = UNIT_WORD.get(chart.kind, "units")
    # A capacity, or a plan, holds until the next decision: draw the last one on to now.
    if chart.capacity:
        bottom.step(
            ts([*(t for t, _, _ in chart.capacity), chart.now]),
            [*(a for _, _, a in chart.capacity), chart.capacity[-1][2]],
            where="post",
            color="0.3",
            lw=1.5,
            label=f"{unit} asked for (decisions)",
        )
    if chart.plans:
        bottom.step(
            ts([*(t for t, _ in chart.plans), chart.now]),
            [*(u for _, u in chart.plans), chart.plans[-1][1]],
            where="post",
            color="tab:orange",
            lw=1,
            label="plans the worker made",
        )
    if chart.planned:
        bottom.step(
            ts([t for t, _, _ in chart.planned]),
            [u for _, u, _ in chart.planned],
            where="post",
            color="tab:green",
            lw=1.2,
            ls="--",
            label=f"plan the forecast implies (warm-up {chart.warmup_seconds // 60} min)",
        )
    for bound, word in ((chart.min_capacity, "min"), (chart.max_capacity, "max")):
        bottom.axhline(bound, color="0.6", ls=":", lw=0.8)
        bottom.annotate(
            word,
            (1.0, bound),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            color="0.5",
            ha="right",
            va="bottom",
        )
    bottom.set_ylabel(f"{chart.kind} {unit}")
    bottom.set_ylim(0, chart.max_capacity * 1.08 + 0.5)
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    if bottom.get_legend_handles_labels()[0]:
        bottom.legend(loc="upper left", fontsize=8)

    now = datetime.fromtimestamp(chart.now, UTC)
    for ax in (top, bottom):
        ax.axvline(now, color="tab:red", lw=1)
        ax.grid(alpha=0.3)
    top.annotate(
        "now",
        (now, 1.0),
        xycoords=("data", "axes fraction"),
        color="tab:red",
        fontsize=8,
        ha="left",
        va="top",
    )
    bottom.set_xlim(
        datetime.fromtimestamp(chart.start, UTC), datetime.fromtimestamp(chart.end, UTC)
    )
    # matplotlib.dates is not annotated; the axis is in UTC whatever the operator's zone.
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    formatter = mdates.DateFormatter("%m-%d %H:%M", tz=UTC)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_formatter(formatter)
    bottom.set_xlabel("time (UTC)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def cmd_forecast(args: argparse.Namespace) -> int:
    from scaleahead import clock

    as_json = args.output == "json"
    if not args.png and not as_json:
        raise TargetError("forecast: give --png FILE for the chart, or --output json for the data")
    for flag, value in (("--hours-back", args.hours_back), ("--hours-ahead", args.hours_ahead)):
        if value is not None and not value > 0:
            raise TargetError(f"forecast: {flag} must be a positive number of hours, not {value}")
    rt = runtime(args)
    target = known_target(rt, args.target)
    chart = collect(
        rt,
        target,
        clock.now(),
        hours_back=args.hours_back if args.hours_back is not None else DEFAULT_HOURS_BACK,
        hours_ahead=args.hours_ahead,
    )
    if args.png:
        draw(chart, Path(args.png))
    if as_json:
        print_json({**chart.to_dict(), "png": args.png})
        return 0
    print(
        f"wrote {args.png}: {len(chart.history)} load points, {len(chart.forecast)} forecast "
        f"slots, {len(chart.planned)} planned steps"
    )
    if not chart.history:
        print(f"warning: CloudWatch returned no load for {target.id} since {_utc(chart.start)}Z")
    if chart.why:
        print(f"{'no forecast band' if not chart.forecast else 'note'}: {chart.why}")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    f = sub.add_parser(
        "forecast",
        help="chart a target's load, forecast band and planned capacity (PNG, or --output json)",
        description="One chart of TARGET: its load history and stored forecast (mean and "
        "headroom band) above, the plans made and the capacity the forecast implies ahead "
        "below, on one UTC time axis. With --output json, the same series as JSON.",
    )
    f.add_argument("target", help="a target id")
    f.add_argument("--png", metavar="FILE", help="write the chart here (required without json)")
    f.add_argument(
        "--hours-back", type=float, help=f"load history shown (default {DEFAULT_HOURS_BACK:g})"
    )
    f.add_argument(
        "--hours-ahead",
        type=float,
        help="time ahead shown (default: the forecast's horizon, or "
        f"{DEFAULT_HOURS_AHEAD:g} without one)",
    )
    f.set_defaults(func=cmd_forecast)
