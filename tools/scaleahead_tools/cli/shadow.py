"""`scaleahead report`: what ForecastOnly would have done, set beside what actually ran.

Why it exists: a team starts every target in ForecastOnly and switches to ForecastAndScale
"once the record convinces you" (README). ``explain`` shows the record one decision at a time;
this command sums it up into the figures that decide the switch, both ways: unit-hours paid,
minutes short of the load, and scaling actions, for what actually ran and for what scaleahead
would have provisioned, with a chart (``--png``).

Data source: the decision records alone (no CloudWatch, no ECS/RDS/ElastiCache reads). Each
worker decision carries ``before`` (the capacity the resource really had, so what actually ran),
``desired`` (what scaleahead decided, not executed in ForecastOnly) and its tick's
``observed_load``. The model, in ``shadow_figures`` (pure, tested without AWS):

- each worker decision holds until the next one, at most ``2 x evaluate_every_seconds`` (a gap
  in the record, e.g. the worker not running, is not counted); the newest holds for one
  evaluation interval. Alarm-path decisions are not read.
- unit-hours = sum of capacity x hours over those intervals;
- minutes short = the intervals whose observed load needs more units than the capacity had
  (``domain.plan.units_needed``, the product's one rounding rule); intervals without an
  observed load are counted apart (``load_unknown_minutes``), never as short;
- actions: changes of the capacity series. What ran: ``before`` changing between consecutive
  decisions. What scaleahead would have provisioned: ``desired`` (``before`` where a decision
  has none) changing, its first value counting when it differs from what ran. The number of
  decisions that disagreed with what ran (``desired != before``) is reported too
  (``disagreed``): one persistent disagreement is many ticks but, had scaleahead acted, one
  action.

What it cannot know, and says on every report (``MODEL_NOTE``): what ran is sampled once a
tick, so a change and back between two ticks is not seen; what scaleahead would have
provisioned assumes its capacity would have been there at once (no warm-up, no failed or
throttled call), and ``desired`` was computed from the capacity that really ran (e.g. the
scale-in step and stabilisation start from it).

matplotlib is imported only while drawing: this is an operator tool, never Lambda code.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from scaleahead.domain.mode import Mode
from scaleahead.domain.plan import units_needed
from scaleahead.domain.record import DecisionRecord, Source
from scaleahead.domain.target import Target, TargetError
from scaleahead.service.runtime import Runtime
from scaleahead.store import Store
from scaleahead_tools.cli.common import known_target, print_json, runtime
from scaleahead_tools.cli.explain import parse_since

DEFAULT_SINCE = "7d"
# A gap longer than this many evaluation intervals is not counted as capacity held.
GAP_FACTOR = 2
# The most decisions read per target (a week of one-minute ticks is 10,080).
MAX_DECISIONS = 50_000
MODEL_NOTE = (
    "model: what ran is sampled at each tick (a change between ticks is not seen); what "
    "scaleahead would have provisioned assumes its capacity would have been there at once "
    "(no warm-up, no failed call), and each decision was computed from the capacity that ran"
)
ACTING_NOTE = "acting: compare with `explain`"


@dataclass(frozen=True)
class Side:
    """One way of running: what it paid, how long it was short, how often it changed."""

    unit_hours: float
    short_minutes: float
    actions: int


@dataclass(frozen=True)
class Point:
    """One worker decision as the chart reads it: its time, what ran, what scaleahead would
    have provisioned, and the load it observed (None when it had none)."""

    at: float
    actual: int
    would_have: int
    load: float | None


@dataclass(frozen=True)
class ShadowFigures:
    """The figures of one target over the decisions given; ``start``/``end`` are None when
    there was no worker decision with a capacity to count."""

    decisions: int
    start: float | None
    end: float | None
    counted_minutes: float
    load_unknown_minutes: float
    disagreed: int
    actual: Side
    would_have: Side
    points: list[Point] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decisions": self.decisions,
            "start": self.start,
            "end": self.end,
            "counted_minutes": self.counted_minutes,
            "load_unknown_minutes": self.load_unknown_minutes,
            "disagreed": self.disagreed,
            "actual": _rounded(self.actual),
            "would_have": _rounded(self.would_have),
        }


def _rounded(side: Side) -> dict[str, Any]:
    """A side for JSON: unit-hours and minutes to 4 decimals (no 0.30000000000000004)."""
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(side).items()}


def _usable(records: Iterable[DecisionRecord]) -> list[tuple[float, int, int, float | None]]:
    """(at, before, would-have capacity, observed load) of every worker decision that read the
    capacity, oldest first."""
    rows = []
    for r in records:
        if r.source is not Source.WORKER or r.before is None or r.at is None:
            continue
        tick = r.tick
        load = tick.observed_load if tick is not None else None
        rows.append((r.at, r.before, r.desired if r.desired is not None else r.before, load))
    rows.sort(key=lambda row: row[0])
    return rows


def shadow_figures(
    records: Iterable[DecisionRecord], per_unit: float, every: float
) -> ShadowFigures:
    """What ran and what scaleahead would have provisioned, over ``records`` (any order;
    ``Store.decisions`` gives them newest first), for a target whose unit serves ``per_unit``
    and which is evaluated every ``every`` seconds. The model is the module docstring's."""
    rows = _usable(records)
    cap = GAP_FACTOR * every
    paid = {"actual": 0.0, "would_have": 0.0}
    short = {"actual": 0.0, "would_have": 0.0}
    counted = unknown = 0.0
    for i, (at, actual, would, load) in enumerate(rows):
        dt = min(rows[i + 1][0] - at, cap) if i + 1 < len(rows) else float(every)
        counted += dt
        paid["actual"] += actual * dt / 3600
        paid["would_have"] += would * dt / 3600
        if load is None:
            unknown += dt
            continue
        need = units_needed(load, per_unit)
        if need > actual:
            short["actual"] += dt / 60
        if need > would:
            short["would_have"] += dt / 60
    actual_actions = sum(1 for a, b in pairwise(rows) if b[1] != a[1])
    would_series = [rows[0][1], *(r[2] for r in rows)] if rows else []
    would_actions = sum(1 for a, b in pairwise(would_series) if b != a)
    return ShadowFigures(
        decisions=len(rows),
        start=rows[0][0] if rows else None,
        end=rows[-1][0] + every if rows else None,
        counted_minutes=counted / 60,
        load_unknown_minutes=unknown / 60,
        disagreed=sum(1 for r in rows if r[2] != r[1]),
        actual=Side(paid["actual"], short["actual"], actual_actions),
        would_have=Side(paid["would_have"], short["would_have"], would_actions),
        points=[Point(at, a, w, load) for at, a, w, load in rows],
    )


@dataclass(frozen=True)
class TargetReport:
    """One target in the report: its figures when in ForecastOnly, else the note why not."""

    target: str
    mode: str
    capacity_per_unit: float
    evaluate_every_seconds: int
    figures: ShadowFigures | None
    note: str = ""
    capped: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "mode": self.mode,
            "capacity_per_unit": self.capacity_per_unit,
            "evaluate_every_seconds": self.evaluate_every_seconds,
            "note": self.note or None,
        }
        if self.figures is not None:
            out.update(self.figures.to_dict())
            out["capped"] = self.capped
        return out


def target_report(rt: Runtime[Store], target: Target, since: float) -> TargetReport:
    """Read one target's decisions since ``since`` (one Query) and sum them up."""
    mode = rt.mode(target)
    if mode is not Mode.FORECAST_ONLY:
        return TargetReport(
            target.id,
            mode.value,
            target.capacity_per_unit,
            target.evaluate_every_seconds,
            None,
            note=ACTING_NOTE,
        )
    records = rt.store.decisions(target.id, since=since, limit=MAX_DECISIONS)
    figures = shadow_figures(records, target.capacity_per_unit, target.evaluate_every_seconds)
    note = "" if figures.decisions else "no worker decision with a capacity in the period"
    return TargetReport(
        target.id,
        mode.value,
        target.capacity_per_unit,
        target.evaluate_every_seconds,
        figures,
        note=note,
        capped=len(records) >= MAX_DECISIONS,
    )


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def _signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}f}"


def print_text(reports: Sequence[TargetReport], since: float, now: float) -> None:
    """A small table per target in ForecastOnly, one line for each other target."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    console.print(f"shadow report {_utc(since)}Z -> {_utc(now)}Z (UTC)")
    for rep in reports:
        fig = rep.figures
        if fig is None or not fig.decisions:
            console.print(f"\n[bold]{rep.target}[/bold] ({rep.mode}): {rep.note}")
            continue
        assert fig.start is not None and fig.end is not None
        table = Table(
            title=f"{rep.target} ({rep.mode}) · {fig.decisions} decisions, "
            f"{_utc(fig.start)}Z -> {_utc(fig.end)}Z",
            box=box.SIMPLE,
            title_justify="left",
        )
        table.add_column("")
        table.add_column("what ran", justify="right")
        table.add_column("scaleahead would have", justify="right")
        table.add_column("difference", justify="right")
        a, w = fig.actual, fig.would_have
        table.add_row(
            "unit-hours paid",
            f"{a.unit_hours:.2f}",
            f"{w.unit_hours:.2f}",
            _signed(w.unit_hours - a.unit_hours, 2),
        )
        table.add_row(
            "minutes short",
            f"{a.short_minutes:.0f}",
            f"{w.short_minutes:.0f}",
            _signed(w.short_minutes - a.short_minutes, 0),
        )
        table.add_row("actions", str(a.actions), str(w.actions), _signed(w.actions - a.actions, 0))
        console.print()
        console.print(table)
        extra = (
            f"{fig.counted_minutes:.0f} minutes counted (gaps over {GAP_FACTOR} evaluation "
            f"intervals left out), {fig.load_unknown_minutes:.0f} without an observed load; "
            f"{fig.disagreed} decisions disagreed with what ran"
        )
        console.print(extra)
        if rep.capped:
            console.print(f"note: only the newest {MAX_DECISIONS} decisions read: narrow --since")
    console.print(f"\n{MODEL_NOTE}")


def runs(points: Sequence[Point], every: float) -> list[list[Point]]:
    """``points`` (oldest first) cut where two are more than ``GAP_FACTOR x every`` apart:
    the stretches the record covers, each drawn as one line."""
    out: list[list[Point]] = []
    for p in points:
        if out and p.at - out[-1][-1].at <= GAP_FACTOR * every:
            out[-1].append(p)
        else:
            out.append([p])
    return out


def draw(reports: Sequence[TargetReport], path: Path) -> int:
    """One panel per target with figures: what ran and what scaleahead would have provisioned
    (units, steps), and the units the observed load needed. Returns the panels drawn."""
    shown = [r for r in reports if r.figures is not None and r.figures.points]
    if not shown:
        return 0
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(shown), 1, figsize=(13, 3.2 * len(shown) + 0.6), squeeze=False, sharex=True
    )
    for ax, rep in zip(axes[:, 0], shown, strict=True):
        figures = rep.figures
        assert figures is not None
        # Lines break where the record has a gap, as the figures leave it out.
        for n, run in enumerate(runs(figures.points, rep.evaluate_every_seconds)):
            ends = [*(p.at for p in run), run[-1].at + rep.evaluate_every_seconds]
            edges = [datetime.fromtimestamp(t, UTC) for t in ends]
            series = [
                ("what ran", "0.3", [p.actual for p in run]),
                ("scaleahead would have provisioned", "tab:blue", [p.would_have for p in run]),
            ]
            for label, color, values in series:
                ax.step(
                    edges,
                    [*values, values[-1]],
                    where="post",
                    color=color,
                    lw=1.5,
                    label=label if n == 0 else None,
                )
            need = [
                float("nan") if p.load is None else units_needed(p.load, rep.capacity_per_unit)
                for p in run
            ]
            ax.step(
                edges,
                [*need, need[-1]],
                where="post",
                color="tab:red",
                lw=0.8,
                alpha=0.8,
                label=f"units the load needed (load / {rep.capacity_per_unit:g})"
                if n == 0
                else None,
            )
        a, w = figures.actual, figures.would_have
        ax.set_title(
            f"{rep.target}: unit-hours {a.unit_hours:.2f} ran vs {w.unit_hours:.2f} would have; "
            f"minutes short {a.short_minutes:.0f} vs {w.short_minutes:.0f}; "
            f"actions {a.actions} vs {w.actions}",
            fontsize=10,
            loc="left",
        )
        ax.set_ylabel("units")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", fontsize=8)
    bottom = axes[-1, 0]
    # matplotlib.dates is not annotated; the axis is in UTC whatever the operator's zone.
    bottom.xaxis.set_major_locator(mdates.AutoDateLocator(tz=UTC))  # type: ignore[no-untyped-call]
    formatter = mdates.DateFormatter("%m-%d %H:%M", tz=UTC)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_formatter(formatter)
    bottom.set_xlabel("time (UTC)")
    fig.text(0.01, 0.005, textwrap.fill(MODEL_NOTE, 190), fontsize=7, color="0.35")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return len(shown)


def cmd_report(args: argparse.Namespace) -> int:
    from scaleahead import clock

    now = clock.now()
    try:
        since = parse_since(args.since, now)
    except ValueError as err:
        raise TargetError(str(err)) from None
    rt = runtime(args)
    if args.target:
        targets = [known_target(rt, args.target)]
    else:
        targets = sorted(rt.store.list_targets(), key=lambda t: t.id)
    reports = [target_report(rt, t, since) for t in targets]
    panels = draw(reports, Path(args.png)) if args.png else 0
    if getattr(args, "output", "text") == "json":
        print_json(
            {
                "since": since,
                "until": now,
                "note": MODEL_NOTE,
                "png": args.png if panels else None,
                "targets": [r.to_dict() for r in reports],
            }
        )
        return 0
    if not reports:
        print("no target: `scaleahead targets apply` defines them")
        return 0
    print_text(reports, since, now)
    if args.png:
        print(
            f"wrote {args.png}: {panels} target(s)"
            if panels
            else f"no chart written to {args.png}: no target in ForecastOnly with decisions"
        )
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` on the ``scaleahead`` subcommands, with its own ``func``."""
    text = "ForecastOnly's record summed up: what would have run beside what ran"
    ap = sub.add_parser(
        "report",
        help=text,
        description="For each target in ForecastOnly: unit-hours paid, minutes short of the "
        "load and scaling actions, for what actually ran and for what scaleahead would have "
        "provisioned, from the decision records alone (one DynamoDB Query per target).",
    )
    ap.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        help=f"30m, 2h, 7d, or an ISO time (default {DEFAULT_SINCE})",
    )
    ap.add_argument("--target", help="only this target")
    ap.add_argument("--png", metavar="FILE", help="also write the chart here")
    ap.set_defaults(func=cmd_report)
