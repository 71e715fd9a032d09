"""`make bench`: forecast quality against the alternatives on every trace, and the speed figures.

For every trace in the repo's ``traces/``, every kind's warm-up and every policy floor
(``MIN_CAPACITIES``), each policy is swept over its knob and its ``cost_at_1pct`` reported (the
cheapest setting that is short of capacity on at most 1 % of the steps), with scaleahead's
saving over the better of target tracking and predictive scaling, and its cost over the smooth
oracle's, the soft floor of what a forecaster could reach (``policies.smooth_oracle``), beside
the cost of a simple causal rule tuned in hindsight (``hindsight``, the causal yardstick). Then the
speed figures: the whole nyc_taxi backtest at default knobs, and one forecast fit on 14 days of
5-minute data. Figures are printed, and written to ``out/bench/bench.json``; nothing
here asserts: the tests do that on small traces.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from scaleahead.domain.forecast import fit_forecast
from scaleahead.domain.target import Kind
from scaleahead_tools.backtest.hindsight import best_rule
from scaleahead_tools.backtest.policies import SWEEP_KNOBS
from scaleahead_tools.backtest.replay import FitCache
from scaleahead_tools.backtest.report import run_backtest, summary
from scaleahead_tools.backtest.sim import KIND_BOUNDS, Setup
from scaleahead_tools.traces import TRACES_DIR, Trace, load_trace

SPEED_TRACE = "nyc_taxi"
FIT_TRACE = "elb_request_count_8c0756"


# The bench runs every trace at each of these floors (``--min-capacity``), for every policy
# alike: 0, the kinds' own floor, and 1, what a real service keeps (a baseline idling at zero
# units on a quiet night and missing the first requests is a weaker opponent than users run).
MIN_CAPACITIES = (0, 1)


Job = tuple[str, tuple[Kind, ...], tuple[int, ...]]


def _one_trace(job: Job) -> list[dict[str, Any]]:
    """Every kind and floor asked of one trace, in one process so that they share the forecast
    fits (the floor changes no fit). A kind whose own floor is already 1 (ElastiCache) is run
    once and reported at both floors."""
    path, kinds, floors = job
    trace = load_trace(path)
    fit = FitCache([0.9, *SWEEP_KNOBS["scaleahead"]])
    out = []
    for kind in kinds:
        done: dict[int, dict[str, Any]] = {}
        for floor in floors:
            lo = max(KIND_BOUNDS[kind][0], floor)
            if lo in done:
                out.append({**done[lo], "min_capacity_asked": floor})
                continue
            started = time.perf_counter()
            setup, runs, sweeps = run_backtest(
                trace, kind, min_capacity=floor, do_sweep=True, fit=fit
            )
            data = summary(trace, setup, runs, sweeps)
            data["hindsight_rule"] = _hindsight(trace, setup)
            data["elapsed_seconds"] = round(time.perf_counter() - started, 2)
            data["min_capacity_asked"] = floor
            done[lo] = data
            out.append(data)
    return out


def _hindsight(trace: Trace, setup: Setup) -> dict[str, Any]:
    """The causal yardstick's best setting (``backtest.hindsight``), as the bench records it."""
    best = best_rule(np.asarray(trace.values, dtype=np.float64), setup)
    if best is None:
        return {"cost_at_1pct": None}
    return {
        "cost_at_1pct": best.cost,
        "k": best.k,
        "window_minutes": best.window_seconds / 60,
        "under_time": best.under_time,
        "unserved": best.unserved,
    }


def speed() -> dict[str, float]:
    """Wall time of the nyc_taxi backtest (4 policies, default knobs, nothing cached) and the
    median time of a 14-day fit on 5-minute data, choosing its model and keeping it."""
    trace = load_trace(TRACES_DIR / f"{SPEED_TRACE}.csv")
    started = time.perf_counter()
    run_backtest(trace, Kind.ECS)
    backtest_s = time.perf_counter() - started
    fit_trace = load_trace(TRACES_DIR / f"{FIT_TRACE}.csv")
    ts = fit_trace.start + fit_trace.step * np.arange(len(fit_trace.values), dtype=np.float64)
    v = np.asarray(fit_trace.values, dtype=np.float64)
    times: list[float] = []
    kept: list[float] = []
    for k in range(30):
        now = float(ts[-1]) + fit_trace.step + k  # the full 14 days behind every fit
        t0 = time.perf_counter()
        first = fit_forecast(ts, v, now=now, horizon_seconds=6 * 3600, quantile=0.9)
        t1 = time.perf_counter()
        fit_forecast(ts, v, now=now + 1, horizon_seconds=6 * 3600, quantile=0.9, previous=first)
        kept.append(time.perf_counter() - t1)
        times.append(t1 - t0)
    return {
        "nyc_taxi_backtest_seconds": round(backtest_s, 2),
        "nyc_taxi_steps": len(trace.values),
        "fit_14d_5min_ms": round(1000 * statistics.median(times[5:]), 2),
        "refit_14d_5min_ms": round(1000 * statistics.median(kept[5:]), 2),
    }


def _fmt(x: float | None) -> str:
    return "never" if x is None else f"{x:.2f}"


def ratio_to_floor(d: dict[str, Any]) -> float | None:
    """scaleahead's cost at 1 % over the smooth oracle's (the soft floor); inf when scaleahead
    never reaches 1 %, None when the floor itself does not."""
    sa = d["sweeps"]["scaleahead"]["cost_at_1pct"]
    return ratio_to(d, float("inf") if sa is None else sa)


BASELINES = ("target-tracking", "aws-predictive")


def _better_baseline(sw: dict[str, Any]) -> str | None:
    """The baseline cheaper at 1 % (the first on a tie); None when neither reaches 1 %."""
    reach = [p for p in BASELINES if sw[p]["cost_at_1pct"] is not None]
    return min(reach, key=lambda p: sw[p]["cost_at_1pct"]) if reach else None


def saving_over_best(d: dict[str, Any]) -> float | None:
    """scaleahead's saving at 1 % over the better of target tracking and predictive scaling
    (the issue's target: at least 10 %); None when neither reaches 1 %, -inf when scaleahead
    does not while one of them does."""
    sw = d["sweeps"]
    best = _better_baseline(sw)
    if best is None:
        return None
    sa = sw["scaleahead"]["cost_at_1pct"]
    return float("-inf") if sa is None else 1 - sa / sw[best]["cost_at_1pct"]


def unserved_vs_best(d: dict[str, Any]) -> tuple[float, float] | None:
    """The share of the load scaleahead leaves unserved at the setting its cost at 1 % is read
    from, and the same for the cheaper of target tracking and predictive scaling at theirs:
    a short step can be one request short or a burst short, and users count requests too.
    None where scaleahead or both baselines never reach 1 %."""
    sw = d["sweeps"]
    best = _better_baseline(sw)
    if best is None or sw["scaleahead"]["cost_at_1pct"] is None:
        return None
    return float(sw["scaleahead"]["unserved_at_1pct"]), float(sw[best]["unserved_at_1pct"])


def _share(x: float | None) -> str:
    if x is None:
        return "-"
    pct = 100 * x
    return f"{pct:.2f}" if pct < 1 else f"{pct:.1f}"


def render(results: list[dict[str, Any]], floor: int) -> Any:
    from rich import box
    from rich.table import Table

    t = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        title=f"cost at 1 % under-provisioning, every policy at min {floor} "
        "(capacity-steps / need-steps; oracle = 1)",
        caption="TT: target tracking · AP: AWS-style predictive + TT · SA: scaleahead · SO: "
        "smooth oracle (knows the future's centred one-hour mean: the soft floor) · HR: k x the "
        "largest load of the last w minutes, k and w tuned in hindsight (a causal yardstick) · "
        "SA/SO: scaleahead over the floor · vs best: SA's saving over the better of TT and AP · "
        "never: no setting reaches 1 % · <TT, <AP: of TT's (AP's) frontier settings short on "
        "0.5-5 % of steps, how many a scaleahead setting beats (cheaper, no more short) · "
        "unserved: % of the load TT, AP and SA leave unserved at the setting each is read at",
    )
    t.add_column("trace", no_wrap=True)
    for col in ("kind", "TT", "AP", "SA", "SO", "HR", "SA/SO", "vs best", "<TT", "<AP", "unserved"):
        t.add_column(col, justify="right", no_wrap=True)
    for d in results:
        sw = d["sweeps"]
        tt = sw["target-tracking"]["cost_at_1pct"]
        ap = sw["aws-predictive"]["cost_at_1pct"]
        sa = sw["scaleahead"]["cost_at_1pct"]
        so = sw["smooth-oracle"]["cost_at_1pct"]
        r = ratio_to_floor(d)
        ratio = "" if r is None else ("never" if r == float("inf") else f"{r:.2f}")
        gain = saving_over_best(d)
        vs = (
            "none reach"
            if gain is None
            else ("SA never" if gain == float("-inf") else f"{100 * gain:+.0f}%")
        )
        bt = "{}/{}".format(*sw["target-tracking"]["scaleahead_below"])
        ba = "{}/{}".format(*sw["aws-predictive"]["scaleahead_below"])
        kind = d["settings"]["kind"].replace("elasticache", "cache")
        unserved = "/".join(_share(sw[p]["unserved_at_1pct"]) for p in (*BASELINES, "scaleahead"))
        t.add_row(
            d["trace"][:22],
            kind,
            _fmt(tt),
            _fmt(ap),
            _fmt(sa),
            _fmt(so),
            _fmt(d["hindsight_rule"]["cost_at_1pct"]),
            ratio,
            vs,
            bt,
            ba,
            unserved,
        )
    return t


def verdict(results: list[dict[str, Any]]) -> str:
    """The issue-16 targets over ``results`` (one floor), as one line of figures."""
    ratios = [r for r in (ratio_to_floor(d) for d in results) if r is not None]
    judged = [(saving_over_best(d), ratio_to_floor(d)) for d in results]
    gains = [(g, r) for g, r in judged if g is not None]
    if not ratios:
        return "no trace lets the smooth oracle reach 1 %"
    worst = max(ratios)
    cheaper = sum(g >= 0.10 for g, _ in gains)
    # Where the better baseline is already within 10 % of the floor, 10 % cheaper than it
    # means beating the oracle; within 5 % of the floor is the most a forecaster can do there.
    near = sum(g >= 0.10 or (r is not None and r <= 1.05) for g, r in gains)
    depth = [u for u in (unserved_vs_best(d) for d in results) if u is not None]
    shallower = sum(mine <= theirs for mine, theirs in depth)
    # The causal yardstick: where scaleahead is no dearer than a rule tuned in hindsight, and
    # how far that rule itself stays above the smooth oracle (what a causal policy can reach).
    hr = [(d, d["hindsight_rule"]["cost_at_1pct"]) for d in results]
    hr = [(d, h) for d, h in hr if h is not None]
    at_most = sum(
        (sa := d["sweeps"]["scaleahead"]["cost_at_1pct"]) is not None and sa <= h for d, h in hr
    )
    hr_so = [r for r in (ratio_to(d, h) for d, h in hr) if r is not None]
    return (
        f"SA/SO median {statistics.median(ratios):.2f} (target <= 1.05), worst "
        f"{'never' if worst == float('inf') else f'{worst:.2f}'} (target <= 1.3) · "
        f"SA >= 10 % cheaper than the better baseline on {cheaper} of {len(gains)} rows where "
        f"one reaches 1 % ({near} of {len(gains)} counting those within 5 % of SO) · at 1 %, "
        f"SA leaves no more load unserved than the cheaper baseline on {shallower} of "
        f"{len(depth)} · SA no dearer than HR on {at_most} of {len(hr)} rows where HR reaches "
        f"1 %" + (f"; HR/SO up to {max(hr_so):.2f}" if hr_so else "")
    )


def ratio_to(d: dict[str, Any], cost: float) -> float | None:
    """``cost`` over the smooth oracle's cost at 1 % in row ``d``; None when it never reaches
    1 %."""
    so = d["sweeps"]["smooth-oracle"]["cost_at_1pct"]
    return None if so is None else cost / so


def _scope(
    p: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[list[Path], tuple[Kind, ...], tuple[int, ...]]:
    """The traces (the longest first, so that the pool's workers finish together), kinds and
    floors the run covers; a name or floor that cannot be run is an error before anything
    runs, not a traceback from a worker."""
    paths = sorted(TRACES_DIR.glob("*.csv"), key=lambda p: (-p.stat().st_size, p.name))
    if args.traces:
        names = list(dict.fromkeys(args.traces.split(",")))
        missing = [n for n in names if n not in {p.stem for p in paths}]
        if missing:
            p.error(f"no trace {', '.join(missing)} in {TRACES_DIR}")
        paths = [p for p in paths if p.stem in names]
    kinds = tuple(Kind)
    if args.kinds:
        known = {k.value: k for k in Kind}
        asked = list(dict.fromkeys(args.kinds.split(",")))
        unknown = [k for k in asked if k not in known]
        if unknown:
            p.error(f"unknown kind {', '.join(unknown)}; choose from {', '.join(known)}")
        kinds = tuple(known[k] for k in asked)
    floors: tuple[int, ...] = MIN_CAPACITIES
    if args.floors:
        try:
            floors = tuple(dict.fromkeys(int(f) for f in args.floors.split(",")))
        except ValueError:
            p.error(f"--floors takes whole numbers, got {args.floors!r}")
        top = min(KIND_BOUNDS[k][1] for k in kinds)
        if any(not 0 <= f <= top for f in floors):
            p.error(f"--floors must lie in [0, {top}] for these kinds, got {args.floors!r}")
    return paths, kinds, floors


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    p.add_argument("--traces", help="comma-separated trace names (default: all in traces/)")
    p.add_argument("--out", default="out/bench")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-speed", action="store_true")
    p.add_argument(
        "--kinds",
        help="comma-separated kinds (default: all): a quicker loop while working on one warm-up",
    )
    p.add_argument(
        "--floors",
        help="comma-separated --min-capacity floors (default: "
        f"{','.join(map(str, MIN_CAPACITIES))})",
    )
    args = p.parse_args(argv)
    paths, kinds, floors = _scope(p, args)
    from rich.console import Console

    console = Console(width=132)  # the table is wider than a pipe's default 80 columns
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        per_trace = list(pool.map(_one_trace, [(str(p), kinds, floors) for p in paths]))
    results = [d for group in per_trace for d in group]
    quality_s = time.perf_counter() - started
    for floor in floors:
        at = [d for d in results if d["min_capacity_asked"] == floor]
        console.print(render(at, floor))
        console.print(f"min {floor}: {verdict(at)}")
        ecs = [
            d["sweeps"]["scaleahead"]["cost_at_1pct"] for d in at if d["settings"]["kind"] == "ecs"
        ]
        finite = [c for c in ecs if c is not None]
        if ecs:
            # A trace scaleahead never brings to 1 % counts as infinitely expensive.
            med = statistics.median([c if c is not None else float("inf") for c in ecs])
            console.print(
                f"min {floor}: median scaleahead cost_at_1pct, ecs warm-up: {med:.2f} "
                f"({len(finite)} of {len(ecs)} traces reach 1 %)"
            )
    meta: dict[str, Any] = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "quality_seconds": round(quality_s, 1),
    }
    if not args.no_speed:
        meta["speed"] = speed()
        sp = meta["speed"]
        console.print(
            f"speed: nyc_taxi backtest ({sp['nyc_taxi_steps']} steps, 4 policies, default "
            f"knobs) {sp['nyc_taxi_backtest_seconds']:.1f} s · forecast fit on 14 days of "
            f"5-min data {sp['fit_14d_5min_ms']:.1f} ms (median of 25), an hourly refit "
            f"keeping the day's model {sp['refit_14d_5min_ms']:.1f} ms"
        )
    console.print(f"{meta['machine']} · quality sweep {quality_s:.0f} s · {meta['measured_at']}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
