"""`make bench`: forecast quality against the alternatives on every trace, and the speed figures.

For every trace in the repo's ``traces/`` and every kind's warm-up, each policy is swept over
its knob and its ``cost_at_1pct`` reported (the cheapest setting that is short of capacity on
at most 1 % of the steps), with scaleahead's saving over target tracking. Then the two speed
figures the issue sets: the whole nyc_taxi backtest at default knobs, and one forecast fit on
14 days of 5-minute data. Figures are printed, and written to ``out/bench/bench.json``; nothing
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
from scaleahead_tools.backtest.policies import SWEEP_KNOBS
from scaleahead_tools.backtest.replay import FitCache
from scaleahead_tools.backtest.report import run_backtest, summary
from scaleahead_tools.traces import TRACES_DIR, load_trace

SPEED_TRACE = "nyc_taxi"
FIT_TRACE = "elb_request_count_8c0756"


def _one_trace(path: str) -> list[dict[str, Any]]:
    """Every kind of one trace, in one process so that the kinds share the forecast fits."""
    trace = load_trace(path)
    fit = FitCache([0.9, *SWEEP_KNOBS["scaleahead"]])
    out = []
    for kind in Kind:
        started = time.perf_counter()
        setup, runs, sweeps = run_backtest(trace, kind, do_sweep=True, fit=fit)
        data = summary(trace, setup, runs, sweeps)
        data["elapsed_seconds"] = round(time.perf_counter() - started, 2)
        out.append(data)
    return out


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


def render(results: list[dict[str, Any]]) -> Any:
    from rich import box
    from rich.table import Table

    t = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        title="cost at 1 % under-provisioning (capacity-steps / need-steps; oracle = 1)",
        caption="TT: target tracking · AP: AWS-style predictive + TT · SA: scaleahead · "
        "vs TT: SA's saving at 1 % · never: no setting reaches 1 % · <TT, <AP: of TT's "
        "(AP's) frontier settings short on 0.5-5 % of steps, how many a scaleahead setting "
        "beats (cheaper, no more short)",
    )
    t.add_column("trace", no_wrap=True)
    for col in ("kind", "TT", "AP", "SA", "vs TT", "<TT", "<AP"):
        t.add_column(col, justify="right", no_wrap=True)
    for d in results:
        sw = d["sweeps"]
        tt = sw["target-tracking"]["cost_at_1pct"]
        ap = sw["aws-predictive"]["cost_at_1pct"]
        sa = sw["scaleahead"]["cost_at_1pct"]
        saving = "" if tt is None or sa is None else f"{100 * (1 - sa / tt):+.0f}%"
        if sa is not None and tt is None:
            saving = "TT never"
        bt = "{}/{}".format(*sw["target-tracking"]["scaleahead_below"])
        ba = "{}/{}".format(*sw["aws-predictive"]["scaleahead_below"])
        kind = d["settings"]["kind"].replace("elasticache", "cache")
        t.add_row(d["trace"][:22], kind, _fmt(tt), _fmt(ap), _fmt(sa), saving, bt, ba)
    return t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    p.add_argument("--traces", help="comma-separated trace names (default: all in traces/)")
    p.add_argument("--out", default="out/bench")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-speed", action="store_true")
    args = p.parse_args(argv)
    from rich.console import Console

    console = Console()
    paths = sorted(TRACES_DIR.glob("*.csv"))
    if args.traces:
        names = set(args.traces.split(","))
        paths = [p for p in paths if p.stem in names]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        per_trace = list(pool.map(_one_trace, [str(p) for p in paths]))
    results = [d for group in per_trace for d in group]
    quality_s = time.perf_counter() - started
    console.print(render(results))
    ecs = [
        d["sweeps"]["scaleahead"]["cost_at_1pct"] for d in results if d["settings"]["kind"] == "ecs"
    ]
    finite = [c for c in ecs if c is not None]
    if ecs:
        # A trace scaleahead never brings to 1 % counts as infinitely expensive in the median.
        med = statistics.median([c if c is not None else float("inf") for c in ecs])
        console.print(
            f"median scaleahead cost_at_1pct, ecs warm-up: {med:.2f} "
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
