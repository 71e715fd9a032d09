"""What the demo prints and draws: each tier's capacity against its need, and the order in
which the tiers moved.

``Result`` is what a run records, minute by minute; ``demo.run`` fills it and imports this
module, never the reverse. Pure functions over the recorded minutes (``score``, ``crossings``,
``ahead``, ``gave_back``) so that the figures in the README can be checked by tests on
hand-made series; a load's units are counted as the planner counts them (``sim.scoring``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from scaleahead.domain.record import DecisionRecord
from scaleahead_tools.demo.stack import Tier, need
from scaleahead_tools.sim.scoring import units_needed_array, unserved_share


@dataclass
class Result:
    """What a replay recorded, minute by minute: what the report reads."""

    trace: str
    tiers: list[Tier]
    minutes: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    ready: dict[str, list[int]] = field(default_factory=dict)
    asked: dict[str, list[int]] = field(default_factory=dict)
    forecast_t: list[float] = field(default_factory=list)
    forecast_upper: list[float] = field(default_factory=list)
    forecast_mean: list[float] = field(default_factory=list)
    decisions: dict[str, list[DecisionRecord]] = field(default_factory=dict)
    alarm_events: int = 0
    wall_seconds: float = 0.0

    def merge(self, other: Result) -> Result:
        """This run and another on the same trace and minutes (another stack's targets)."""
        if (self.trace, self.minutes) != (other.trace, other.minutes):
            raise ValueError("only runs over the same trace and minutes can be merged")
        self.tiers = [*self.tiers, *other.tiers]
        self.ready.update(other.ready)
        self.asked.update(other.asked)
        self.decisions.update(other.decisions)
        self.alarm_events += other.alarm_events
        return self


@dataclass(frozen=True)
class Score:
    under_minutes: int
    unserved_share: float
    unit_hours: float
    actions: int
    alarm_actions: int


def sustained_loads(load: Sequence[float], window: int = 15) -> list[float]:
    """The load's centred ``window``-step mean: what a tier must follow, without the
    minute-to-minute noise that no capacity with a warm-up can (or should) chase. Used only to
    time the tiers' moves against each other, never to score them."""
    half = window // 2
    prefix = [0.0]
    for v in load:
        prefix.append(prefix[-1] + v)
    out = []
    for i in range(len(load)):
        lo, hi = max(0, i - half), min(len(load), i + half + 1)
        out.append((prefix[hi] - prefix[lo]) / (hi - lo))
    return out


def score(
    load: Sequence[float],
    ready: Sequence[int],
    per_unit: float,
    step_seconds: float,
    decisions: Sequence[DecisionRecord],
) -> Score:
    """Minutes with load above what the ready capacity serves, the load it left unserved, the
    capacity paid for, and the changes made."""
    if len(load) != len(ready):
        raise ValueError(f"{len(load)} minutes of load against {len(ready)} of capacity")
    step_min = step_seconds / 60
    demand = np.asarray(load, dtype=np.float64)
    serving = np.asarray(ready, dtype=np.int64)
    under = int(np.count_nonzero(units_needed_array(demand, per_unit) > serving))
    executed = [d for d in decisions if d.executed]
    return Score(
        under_minutes=int(under * step_min),
        unserved_share=unserved_share(demand, serving, per_unit),
        unit_hours=sum(ready) * step_min / 60,
        actions=len(executed),
        alarm_actions=sum(1 for d in executed if d.source == "alarm"),
    )


@dataclass(frozen=True)
class Crossing:
    """The sustained load crossing ``level`` on a day's ramp: up at step ``up``, back down
    at step ``down`` (None when it stays up to the end), after the day's peak at ``peak``."""

    level: float
    start: int
    up: int
    peak: int
    down: int | None


def crossings(sustained: Sequence[float], levels: Sequence[float], day: int) -> list[Crossing]:
    """Each day (``day`` steps long): from the lowest sustained load of its first half to its
    highest, every level of ``levels`` the load rose through, and when it fell back."""
    out = []
    for d0 in range(0, len(sustained) - day + 1, day):
        first_half = range(d0, d0 + day // 2)
        lo = min(first_half, key=lambda i: sustained[i])
        hi = max(range(d0, d0 + day), key=lambda i: sustained[i])
        if hi <= lo:
            continue
        for level in levels:
            if not sustained[lo] < level < sustained[hi]:
                continue
            up = next(i for i in range(lo, hi + 1) if sustained[i] > level)
            down = next((i for i in range(hi, len(sustained)) if sustained[i] <= level), None)
            out.append(Crossing(level, lo, up, hi, down))
    return out


def ahead(capacity: Sequence[int], units: int, c: Crossing) -> int | None:
    """Steps by which ``capacity`` reached ``units`` before the load crossed up (negative:
    after); None when it had them already at the ramp's start (not a move for this ramp)."""
    if capacity[c.start] >= units:
        return None
    if capacity[c.up] >= units:
        i = c.up
        while i > c.start and capacity[i - 1] >= units:
            i -= 1
        return c.up - i
    j = next((j for j in range(c.up, len(capacity)) if capacity[j] >= units), None)
    return None if j is None else c.up - j


def gave_back(capacity: Sequence[int], units: int, c: Crossing) -> int | None:
    """Steps from the load falling back through the level to ``capacity`` dropping below
    ``units`` (negative: before); None when either did not happen in the replay."""
    if c.down is None:
        return None
    j = next((j for j in range(c.peak, len(capacity)) if capacity[j] < units), None)
    return None if j is None else j - c.down


def _median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def summarise(result: Result) -> dict[str, Any]:
    step = result.minutes[1] - result.minutes[0] if len(result.minutes) > 1 else 60.0
    minutes = step / 60
    ahead_tiers = [t for t in result.tiers if t.forecast]
    # The coarsest unit's boundaries are every tier's boundaries (see stack.tiers).
    unit = max((t.per_unit for t in ahead_tiers), default=0.0)
    top = max(result.load, default=0.0)
    levels = [unit * k for k in range(1, int(top / unit) + 1)] if unit else []
    sustained = sustained_loads(result.load)
    ramps = crossings(sustained, levels, int(86400 / step))
    tiers: dict[str, Any] = {}
    for t in result.tiers:
        needed = [need(v, t.per_unit) for v in result.load]
        s = score(result.load, result.ready[t.id], t.per_unit, step, result.decisions.get(t.id, []))
        asked: list[float] = []
        serving: list[float] = []
        back: list[float] = []
        for c in ramps:
            units = round(c.level / t.per_unit) + 1
            for xs, out in ((result.asked[t.id], asked), (result.ready[t.id], serving)):
                a = ahead(xs, units, c)
                if a is not None:
                    out.append(a * minutes)
            g = gave_back(result.asked[t.id], units, c)
            if g is not None:
                back.append(g * minutes)
        tiers[t.id] = {
            "kind": t.kind,
            "unit": t.unit,
            "per_unit": t.per_unit,
            "warmup_minutes": t.warmup // 60,
            "forecast": t.forecast,
            **asdict(s),
            "need_unit_hours": sum(needed) * step / 3600,
            "asked_ahead_minutes": _median(asked),
            "serving_ahead_minutes": _median(serving),
            "gave_back_after_minutes": _median(back),
        }
    return {
        "trace": result.trace,
        "minutes": len(result.minutes),
        "ramp_levels": [round(c.level, 1) for c in ramps],
        "tiers": tiers,
        "alarm_events": result.alarm_events,
        "decisions": sum(len(d) for d in result.decisions.values()),
        "wall_seconds": round(result.wall_seconds, 1),
    }


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def report(result: Result, args: argparse.Namespace) -> dict[str, Any]:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    console = Console()
    summary = summarise(result)
    tiers = summary["tiers"]
    table = Table(
        title=f"scaleahead demo: {result.trace}, {args.days:g} simulated days, one driver",
        caption=(
            "short: minutes the load exceeded what the serving capacity serves; unit-h: "
            "capacity paid for / what the load needed; acts: changes / of them by alarm; "
            "ahead / back: minutes by which a tier asked for a unit before the load needed it, "
            "and gave it back after the load left (medians over the ramps)"
        ),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("target", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    for col in ("short", "unserved", "unit-h", "acts", "ahead", "back"):
        table.add_column(col, justify="right", no_wrap=True)
    for tid, s in tiers.items():
        table.add_row(
            tid,
            f"{s['unit']} {s['warmup_minutes']}m",
            str(s["under_minutes"]),
            f"{s['unserved_share']:.2%}",
            f"{s['unit_hours']:.0f}/{s['need_unit_hours']:.0f}",
            f"{s['actions']}/{s['alarm_actions']}",
            _fmt(s["asked_ahead_minutes"]),
            _fmt(s["gave_back_after_minutes"]),
        )
    console.print(table)
    a, r = tiers["web"], tiers["web-reactive"]
    console.print(
        f"Scaling ahead: web was short {a['under_minutes']} min against {r['under_minutes']} "
        f"reactive-only, for {a['unit_hours']:.1f} task-hours against {r['unit_hours']:.1f} "
        f"({(a['unit_hours'] / max(r['unit_hours'], 1e-9) - 1):+.1%})."
    )
    ahead_tiers = [t.id for t in result.tiers if t.forecast]

    def order(key: str, reverse: bool) -> str:
        known = [t for t in ahead_tiers if tiers[t][key] is not None]
        ranked = sorted(known, key=lambda t: tiers[t][key], reverse=reverse)
        return ", ".join(f"{t} ({_fmt(tiers[t][key])} min)" for t in ranked)

    console.print(
        f"On the way up, first to ask: {order('asked_ahead_minutes', True)}. "
        f"On the way down, first to shrink: {order('gave_back_after_minutes', False)}."
    )
    console.print(
        f"{summary['decisions']} decisions recorded, {result.alarm_events} alarm state changes "
        f"delivered; ran in {result.wall_seconds:.1f} s."
    )
    for tid in ahead_tiers:
        decisions = result.decisions.get(tid, [])
        shown = [d for d in decisions if d.executed and d.source == "worker"][:1]
        shown += [d for d in decisions if d.reason in ("guarded", "busy")][:1]
        for d in shown:
            console.print(escape(f"  {tid} [{d.source}] {d.message}"))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    write_steps(result, out / "steps.csv")
    chart = out / "demo.png"
    _chart(result, chart)
    dashboard = _dashboard(result, out / "dashboard.png")
    console.print(
        f"chart: {chart}  dashboard: {dashboard}  summary: {out / 'summary.json'}  "
        f"minutes: {out / 'steps.csv'}"
    )
    return summary


def write_steps(result: Result, path: Path) -> None:
    """Every replayed minute: the load and, per target, the capacity asked for and serving."""
    ids = [t.id for t in result.tiers]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["timestamp", "load", *(f"{i}_asked" for i in ids), *(f"{i}_serving" for i in ids)]
        )
        for k, t in enumerate(result.minutes):
            w.writerow(
                [
                    datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    result.load[k],
                    *(result.asked[i][k] for i in ids),
                    *(result.ready[i][k] for i in ids),
                ]
            )


def _dashboard(result: Result, path: Path, target: str = "web") -> Path:
    """The stack's CloudWatch dashboard for the scaling-ahead stack's targets (the reactive
    control is a stack of its own), its drop-down on ``target``."""
    from scaleahead_tools.demo.dashboard import render_dashboard, template_dashboard

    dashboard = template_dashboard()
    step = result.minutes[1] - result.minutes[0] if len(result.minutes) > 1 else 60.0
    return render_dashboard(
        {t.id: result.decisions.get(t.id, []) for t in result.tiers if t.forecast},
        dashboard.body,
        target,
        path,
        namespace=dashboard.namespace,
        service=dashboard.service,
        start=result.minutes[0] if result.minutes else None,
        end=result.minutes[-1] + step if result.minutes else None,
    )


def _chart(result: Result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = [datetime.fromtimestamp(t, UTC) for t in result.minutes]
    by_id = {t.id: t for t in result.tiers}
    panels = ["web", "db", "cache"]
    fig, axes = plt.subplots(
        1 + len(panels), 1, figsize=(13, 11), sharex=True, height_ratios=[2, 1.3, 1, 1]
    )
    ax = axes[0]
    ax.plot(ts, result.load, color="0.6", lw=0.6, label="load (requests/min)")
    if result.forecast_t:
        ft = [datetime.fromtimestamp(t, UTC) for t in result.forecast_t]
        ax.plot(ft, result.forecast_mean, color="tab:purple", lw=1, label="forecast (mean)")
        ax.plot(
            ft, result.forecast_upper, color="tab:purple", lw=1, ls="--", label="forecast (q0.9)"
        )
    ax.set_ylabel("requests / min")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(
        f"scaleahead demo on {result.trace}: one forecast scales three tiers, each one "
        "warm-up ahead"
    )
    colors = {"web": "tab:blue", "db": "tab:green", "cache": "tab:orange"}
    for axis, tid in zip(axes[1:], panels, strict=True):
        t = by_id[tid]
        needed = [need(v, t.per_unit) for v in result.load]
        axis.fill_between(
            ts, needed, step="post", color="0.8", lw=0, label=f"{t.unit} the load needs"
        )
        axis.step(
            ts,
            result.asked[tid],
            where="post",
            color=colors[tid],
            lw=0.9,
            ls=":",
            label=f"{t.unit} asked for",
        )
        axis.step(
            ts,
            result.ready[tid],
            where="post",
            color=colors[tid],
            lw=1.5,
            label=f"{t.unit} serving ({t.warmup // 60} min warm-up)",
        )
        short = [n if r < n else math.nan for n, r in zip(needed, result.ready[tid], strict=True)]
        axis.plot(ts, short, "v", ms=3, color="tab:red", label="short")
        if tid == "web":
            axis.step(
                ts,
                result.ready["web-reactive"],
                where="post",
                color="tab:red",
                lw=0.9,
                alpha=0.7,
                label="tasks serving, reactive-only",
            )
        axis.set_ylabel(f"{tid}: {t.unit}")
        axis.legend(loc="upper left", fontsize=7, ncols=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
