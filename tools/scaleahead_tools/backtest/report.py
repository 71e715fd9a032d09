"""`scaleahead backtest`: run, then write steps.csv, summary.json, chart.png and a table."""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaleahead.domain.kinds import KINDS
from scaleahead.domain.target import DEFAULT_STABILISATION_SECONDS, Kind
from scaleahead_tools.backtest.metrics import below
from scaleahead_tools.backtest.policies import DEFAULT_KNOB, EXTEND_KNOBS, POLICIES, SWEEP_KNOBS
from scaleahead_tools.backtest.replay import (
    REFINE_POINTS,
    FitCache,
    Progress,
    Run,
    Sweep,
    effective_knob,
    make_setup,
    refined,
    replay,
    series_of,
    sweep,
)
from scaleahead_tools.backtest.sim import Setup
from scaleahead_tools.sim.scoring import units_needed_array
from scaleahead_tools.traces import Trace, load_trace

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

KNOB_NAME = {
    "oracle": None,
    "smooth-oracle": "headroom over the smooth future",
    "target-tracking": "target utilisation",
    "aws-predictive": "target utilisation",
    "scaleahead": "forecast quantile",
}


def add_parser(sub: Any) -> None:
    b = sub.add_parser(
        "backtest",
        help="replay a load trace through scaleahead, target tracking, AWS-style predictive "
        "scaling and the oracle, and score them",
        description="Replay TRACE.csv (header 'timestamp,value') through each policy on a "
        "simulated clock and score under-provisioning against cost.",
    )
    b.add_argument("trace", nargs="?", help="CSV file with the header 'timestamp,value'")
    b.add_argument(
        "--from-target",
        metavar="ID",
        help="replay a defined target's own load from CloudWatch, with its own kind, unit, "
        "warm-up, stabilisation and forecast quantile (instead of TRACE)",
    )
    b.add_argument(
        "--days", type=float, default=14.0, help="with --from-target: how far back (default 14)"
    )
    b.add_argument("--kind", choices=[k.value for k in Kind], default="ecs")
    b.add_argument(
        "--warmup-minutes",
        type=float,
        help="default: " + ", ".join(f"{k} {s.warmup_seconds // 60}" for k, s in KINDS.items()),
    )
    b.add_argument("--per-unit", type=float, help="load one unit serves (default: p99 / 10)")
    b.add_argument(
        "--stabilisation-minutes",
        type=float,
        help="scaleahead's scale-in stabilisation window (default: "
        + ", ".join(f"{k} {s.stabilisation_seconds // 60}" for k, s in KINDS.items())
        + "): the lever between cost and shortfall on spiky loads",
    )
    b.add_argument(
        "--min-capacity",
        type=int,
        help="the fewest units every policy keeps (default: the kind's own floor: "
        + ", ".join(f"{k} {s.min_capacity}" for k, s in KINDS.items())
        + "); a real service keeps at least one task",
    )
    b.add_argument(
        "--policies",
        help=f"comma-separated, from {','.join(POLICIES)} (default: all; the smooth oracle, "
        "a yardstick only a sweep gives meaning to, with --sweep only)",
    )
    b.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="POLICY=VALUE",
        help="a policy's knob, e.g. target-tracking=0.5 or scaleahead=0.95",
    )
    b.add_argument("--sweep", action="store_true", help="run each policy over its knob values")
    b.add_argument("--out", default="out/backtest", help="output folder (default: out/backtest)")
    b.set_defaults(func=cmd_backtest)


def _policies(text: str) -> list[str]:
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in chosen if p not in POLICIES]
    if bad or not chosen:
        raise ValueError(f"--policies: unknown {bad or text!r}; choose from {','.join(POLICIES)}")
    return chosen


def _knobs(items: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in POLICIES or name == "oracle":
            raise ValueError(f"--knob {item!r}: name a policy with a knob, e.g. scaleahead=0.95")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"--knob {item!r}: {value!r} is not a number") from None
    return out


@contextmanager
def _progress(total: int, label: str) -> Iterator[Progress]:
    """A progress bar on a terminal; silence elsewhere (CI logs, pipes: rich's live display
    would still end with an empty line there, one per bar, ahead of the report)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console()
    if not console.is_terminal:
        yield lambda n: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def run_backtest(
    trace: Trace,
    kind: Kind,
    *,
    policies: Sequence[str] = POLICIES,
    knobs: dict[str, float] | None = None,
    warmup_minutes: float | None = None,
    per_unit: float | None = None,
    stabilisation_minutes: float | None = None,
    min_capacity: int | None = None,
    do_sweep: bool = False,
    fit: FitCache | None = None,
    progress: Progress | None = None,
) -> tuple[Setup, dict[str, Run], dict[str, Sweep]]:
    """The default-knob runs (always) and the sweeps (when asked) of one trace and kind."""
    setup = make_setup(
        trace,
        kind,
        warmup_minutes=warmup_minutes,
        per_unit=per_unit,
        stabilisation_minutes=stabilisation_minutes,
        min_capacity=min_capacity,
    )
    series = series_of(trace)
    knobs = knobs or {}
    if fit is None:
        wanted = [knobs.get("scaleahead", DEFAULT_KNOB["scaleahead"] or 0.9)]
        fit = FitCache([*wanted, *(SWEEP_KNOBS["scaleahead"] if do_sweep else ())])
    runs = {p: replay(series, setup, p, knobs.get(p), fit=fit, progress=progress) for p in policies}
    sweeps = (
        sweep(series, setup, policies, fit=fit, progress=progress, done=runs.values())
        if do_sweep
        else {}
    )
    return setup, runs, sweeps


def work_units(
    trace: Trace, policies: Sequence[str], do_sweep: bool, knobs: dict[str, float]
) -> int:
    """Steps to replay: the default-knob runs, and the sweep's other settings (the settings
    beyond the grid and the refinement counted in full; the sweep advances the bar past any it
    does not need)."""
    runs = len(policies)
    if do_sweep:
        for p in policies:
            used = effective_knob(p, knobs.get(p))
            runs += sum(1 for k in SWEEP_KNOBS[p] or (None,) if k != used)
            runs += len(EXTEND_KNOBS.get(p, ()))
            runs += REFINE_POINTS if refined(p) else 0
    return len(trace.values) * runs


def summary(
    trace: Trace, setup: Setup, runs: dict[str, Run], sweeps: dict[str, Sweep]
) -> dict[str, Any]:
    scored = len(trace.values) - setup.scored_from
    out: dict[str, Any] = {
        "trace": trace.name,
        "settings": {
            "kind": setup.kind.value,
            "step_seconds": setup.step,
            "warmup_minutes": setup.warmup_seconds / 60,
            "stabilisation_minutes": (
                setup.stabilisation_seconds
                if setup.stabilisation_seconds is not None
                else DEFAULT_STABILISATION_SECONDS[setup.kind]
            )
            / 60,
            "per_unit": setup.per_unit,
            "min_capacity": setup.min_capacity,
            "max_capacity": setup.max_capacity,
            "history_steps": setup.scored_from,
            "scored_steps": scored,
            "scored_from": _iso(trace.start + setup.scored_from * trace.step),
            "filled_points": trace.filled,
        },
        "policies": {
            name: {
                "knob": r.knob if r.knob is not None else DEFAULT_KNOB[name],
                "knob_name": KNOB_NAME[name],
                **r.score.to_dict(),
                **r.detail,
            }
            for name, r in runs.items()
        },
    }
    if sweeps:
        out["sweeps"] = {
            name: {
                "knob_name": KNOB_NAME[name],
                "points": [_point(p) for p in sw.points],
                "frontier": [_point(p) for p in sw.frontier],
                "cost_at_1pct": sw.cost_at_1pct,
                # what that setting leaves unserved: how deep its short steps are
                "unserved_at_1pct": None if sw.at_1pct is None else sw.at_1pct.unserved,
            }
            for name, sw in sweeps.items()
        }
        if "scaleahead" in sweeps:
            mine = sweeps["scaleahead"].points
            for name, sw in sweeps.items():
                if name not in {"scaleahead", "oracle", "smooth-oracle"}:
                    k, n = below(mine, sw.points)
                    out["sweeps"][name]["scaleahead_below"] = [k, n]
    return out


def _point(p: Any) -> dict[str, Any]:
    return {"knob": p.knob, "cost": p.cost, "under_time": p.under_time, "unserved": p.unserved}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def write_steps(trace: Trace, setup: Setup, runs: dict[str, Run], path: Path) -> None:
    """timestamp,demand,policy,desired,capacity for every policy and scored step."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "demand", "policy", "desired", "capacity"])
        stamps = [_iso(trace.start + i * trace.step) for i in range(len(trace.values))]
        for name, r in runs.items():
            for i in range(setup.scored_from, len(trace.values)):
                w.writerow(
                    [stamps[i], trace.values[i], name, int(r.desired[i]), int(r.capacity[i])]
                )


COLORS = {
    "oracle": "0.3",
    "smooth-oracle": "tab:green",
    "target-tracking": "tab:red",
    "aws-predictive": "tab:orange",
    "scaleahead": "tab:blue",
}


# The zoom panel's width: a week, the span a long trace's full-length panel blurs.
ZOOM_SECONDS = 7 * 86400


def worst_window(short: ArrayLike, need: ArrayLike, width: int) -> tuple[int, int]:
    """The ``width`` consecutive steps with the most short ones (ties: the most need, then the
    earliest), as [lo, hi); all the steps when there are no more than ``width``."""
    import numpy as np

    shorts = np.concatenate([[0], np.cumsum(np.asarray(short, dtype=np.int64))])
    needs = np.concatenate([[0], np.cumsum(np.asarray(need, dtype=np.int64))])
    n = shorts.size - 1
    if n <= width:
        return 0, n
    counts = shorts[width:] - shorts[:-width]
    loads = needs[width:] - needs[:-width]
    candidates = np.flatnonzero(counts == counts.max())
    lo = int(candidates[np.argmax(loads[candidates])])  # argmax: the first of equals
    return lo, lo + width


def _capacity_panel(
    ax: Any, trace: Trace, need: Any, runs: dict[str, Run], lo: int, hi: int
) -> list[datetime]:
    """The trace's steps [lo, hi): need shaded (``need`` holds those steps), every policy's
    serving capacity as steps. Returns the steps' times."""
    ts = [datetime.fromtimestamp(trace.start + i * trace.step, UTC) for i in range(lo, hi)]
    ax.fill_between(ts, need, step="post", color="0.85", lw=0, label="need (demand / unit)")
    for name, r in runs.items():
        if name not in {"oracle", "smooth-oracle"}:
            ax.step(ts, r.capacity[lo:hi], where="post", lw=0.8, color=COLORS[name], label=name)
    return ts


def chart(
    trace: Trace, setup: Setup, runs: dict[str, Run], sweeps: dict[str, Sweep], path: Path
) -> tuple[int, int] | None:
    """The scored steps in full, the worst week of scaleahead's run zoomed in (shaded on the
    full panel), and the sweeps' frontiers. Returns the zoomed steps [lo, hi) of the trace
    (None without a scaleahead run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    s0, n, step = setup.scored_from, len(trace.values), trace.step
    demand = np.asarray(trace.values[s0:], dtype=np.float64)
    need = units_needed_array(demand, setup.per_unit)
    zoom: tuple[int, int] | None = None
    if "scaleahead" in runs:
        short = runs["scaleahead"].capacity[s0:] < need
        lo, hi = worst_window(short, need, max(1, math.ceil(ZOOM_SECONDS / step)))
        zoom = (s0 + lo, s0 + hi)
    heights = [1.6, *([1.3] if zoom else []), *([1.0] if sweeps else [])]
    fig, axes = plt.subplots(
        len(heights), 1, figsize=(13, 3.5 * sum(heights)), squeeze=False, height_ratios=heights
    )
    panels = iter(axes[:, 0])
    ax = next(panels)
    ts = _capacity_panel(ax, trace, need, runs, s0, n)
    ax.set_ylabel(f"{setup.kind.value} units serving")
    ax.set_title(
        f"backtest of {trace.name}: {setup.kind.value}, warm-up {setup.warmup_seconds / 60:g} "
        f"min, one unit serves {setup.per_unit:.4g}"
    )
    if zoom:
        lo, hi = zoom[0] - s0, zoom[1] - s0
        end = ts[hi - 1] + timedelta(seconds=step)
        ax.axvspan(ts[lo], end, color="tab:red", alpha=0.1, lw=0, label="worst week (below)")
        zax = next(panels)
        _capacity_panel(zax, trace, need[lo:hi], runs, *zoom)
        short_steps = int(np.sum(short[lo:hi]))
        zax.set_xlim(ts[lo], end)
        zax.set_ylabel(f"{setup.kind.value} units serving")
        zax.set_title(
            f"worst week of scaleahead: {short_steps} steps short, "
            f"{ts[lo]:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
            fontsize=10,
        )
    ax.legend(loc="upper left", fontsize=8, ncols=5)
    if sweeps:
        ax2 = next(panels)
        # The smooth oracle's fine sweep spans costs no policy runs at: the axis keeps to the
        # policies' own range (and the oracle's 1), the yardstick drawn as a line across it.
        policy_costs = [
            p.cost
            for name, sw in sweeps.items()
            if name != "smooth-oracle"
            for p in sw.points
            if math.isfinite(p.cost)
        ]
        for name, sw in sweeps.items():
            pts = sorted(sw.points, key=lambda p: p.cost)
            yardstick = name == "smooth-oracle"
            ax2.plot(
                [p.cost for p in pts],
                [100 * p.under_time for p in pts],
                "-" if yardstick else "o-",
                color=COLORS[name],
                label=name,
                ms=3,
            )
        if policy_costs:
            ax2.set_xlim(min(1.0, *policy_costs) * 0.95, max(policy_costs) * 1.05)
        ax2.axhline(1.0, color="0.5", ls=":", lw=1)
        ax2.set_xlabel("cost (capacity-steps / need-steps)")
        ax2.set_ylabel("under-provisioned steps (%)")
        ax2.set_yscale("symlog", linthresh=1)
        ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return zoom


def table(data: dict[str, Any]) -> Any:
    from rich import box
    from rich.table import Table

    s = data["settings"]
    t = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
        caption="under: steps short of need · unserved: load above capacity · cost: capacity "
        "over need · short/over: mean units per step",
        title=(
            f"{data['trace']} · {s['kind']} · warm-up {s['warmup_minutes']:g} min · "
            f"{s['scored_steps']} steps scored"
        ),
    )
    t.add_column("policy", no_wrap=True)
    for col in ("knob", "under", "unserved", "cost", "short", "over", "actions"):
        t.add_column(col, justify="right")
    sweeps = data.get("sweeps", {})
    if sweeps:
        t.add_column("cost@1%", justify="right")
    for name, m in data["policies"].items():
        row = [
            name,
            "" if m["knob"] is None else f"{m['knob']:g}",
            f"{100 * m['under_time']:.2f}%",
            f"{100 * m['unserved']:.2f}%",
            _num(m["cost"]),
            f"{m['accuracy_under']:.3f}",
            f"{m['accuracy_over']:.3f}",
            str(m["actions"]),
        ]
        if sweeps:
            c = sweeps.get(name, {}).get("cost_at_1pct")
            row.append("never" if c is None else f"{c:.3f}")
        t.add_row(*row)
    return t


def _num(x: float | None) -> str:
    return "inf" if x is None or not math.isfinite(x) else f"{x:.3f}"


def _target_trace(args: argparse.Namespace, knobs: dict[str, float]) -> tuple[Trace, Kind]:
    """The trace and kind of ``--from-target``; the target's own terms fill the options the
    user did not give (their explicit options still win)."""
    from scaleahead import clock
    from scaleahead_tools.backtest.from_target import terms_of, trace_of
    from scaleahead_tools.cli.common import runtime

    rt = runtime(args)
    target = rt.store.get_target(args.from_target)
    if target is None:
        raise ValueError(f"no target {args.from_target!r}; `scaleahead targets list` shows them")
    terms = terms_of(target)
    if args.warmup_minutes is None:
        args.warmup_minutes = terms.warmup_minutes
    if args.per_unit is None:
        args.per_unit = terms.per_unit
    if args.stabilisation_minutes is None:
        args.stabilisation_minutes = terms.stabilisation_minutes
    if args.min_capacity is None:
        args.min_capacity = terms.min_capacity
    knobs.setdefault("scaleahead", terms.quantile)
    return trace_of(rt.metrics, target, clock.now(), args.days), target.kind


def cmd_backtest(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    try:
        policies = (
            _policies(args.policies)
            if args.policies is not None
            else [p for p in POLICIES if args.sweep or p != "smooth-oracle"]
        )
        knobs = _knobs(args.knob)
        if (args.trace is None) == (args.from_target is None):
            raise ValueError("give a TRACE file or --from-target ID (one of them)")
        if args.from_target is not None:
            trace, kind = _target_trace(args, knobs)
        else:
            trace = load_trace(args.trace)
            kind = Kind(args.kind)
        make_setup(
            trace,
            kind,
            warmup_minutes=args.warmup_minutes,
            per_unit=args.per_unit,
            stabilisation_minutes=args.stabilisation_minutes,
            min_capacity=args.min_capacity,
        )
    except (ValueError, OSError) as err:
        console.print(f"[red]error:[/] {err}", highlight=False)
        return 2
    console.print(
        f"{trace.name}: {len(trace.values)} steps of {trace.step // 60 or trace.step} "
        f"{'min' if trace.step >= 60 else 's'}; {trace.filled} missing points filled by "
        "linear interpolation"
    )
    started = time.perf_counter()
    with _progress(work_units(trace, policies, args.sweep, knobs), "replaying") as progress:
        setup, runs, sweeps = run_backtest(
            trace,
            kind,
            policies=policies,
            knobs=knobs,
            warmup_minutes=args.warmup_minutes,
            per_unit=args.per_unit,
            stabilisation_minutes=args.stabilisation_minutes,
            min_capacity=args.min_capacity,
            do_sweep=args.sweep,
            progress=progress,
        )
    elapsed = time.perf_counter() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = summary(trace, setup, runs, sweeps)
    data["elapsed_seconds"] = round(elapsed, 2)
    (out / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    write_steps(trace, setup, runs, out / "steps.csv")
    chart(trace, setup, runs, sweeps, out / "chart.png")
    console.print(table(data))
    console.print(
        f"{elapsed:.1f} s · {out / 'summary.json'} · {out / 'steps.csv'} · {out / 'chart.png'}"
    )
    return 0
