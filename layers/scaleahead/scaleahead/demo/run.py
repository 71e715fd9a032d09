"""``make demo``: the real handlers on moto, two simulated days of a real trace, one chart.

What runs is what Lambda runs: the tick handler enqueues on SQS, the worker handler consumes
the batch, the alarm handler receives the EventBridge events that this simulation's alarm
evaluator emits, and every decision lands in DynamoDB. Only time is simulated, through
``scaleahead.clock``.

Two ECS services share one load (requests to the NASA web server, July 1995): one target
forecasts and scales ahead, the other is the same product with forecasting switched off, so
it only reacts (tracks observed load, plus the alarm floor). The difference between the two is
what scaling ahead buys.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

DEFAULT_TRACE = "nasa_http_jul95"
NAMESPACE = "Demo/ALB"
METRIC = "RequestCount"
DIMENSIONS = [{"Name": "LoadBalancer", "Value": "app/demo-web/0123456789abcdef"}]
CLUSTER = "demo"


@dataclass
class ServiceModel:
    """Tasks asked for become ready one warm-up later; tasks removed go at once."""

    warmup: int
    ready: int
    pending: list[tuple[float, int]] = field(default_factory=list)

    def step(self, now: float, desired: int) -> int:
        self.pending = [(t, n) for t, n in self.pending if n > 0]
        ready_now = self.ready + sum(n for t, n in self.pending if t <= now)
        self.pending = [(t, n) for t, n in self.pending if t > now]
        in_flight = sum(n for _, n in self.pending)
        if desired > ready_now + in_flight:
            self.pending.append((now + self.warmup, desired - ready_now - in_flight))
        elif desired < ready_now + in_flight:
            excess = ready_now + in_flight - desired
            # Cancel pending tasks first, then stop running ones.
            while excess and self.pending:
                t, n = self.pending.pop()
                cut = min(n, excess)
                excess -= cut
                if n - cut:
                    self.pending.append((t, n - cut))
            ready_now -= excess
        self.ready = ready_now
        return self.ready


def _targets_yaml(per_unit: float, warmup: int) -> dict[str, Any]:
    def target(tid: str, service: str, forecast: bool) -> dict[str, Any]:
        return {
            "id": tid,
            "kind": "ecs",
            "resource": {"cluster": CLUSTER, "service": service},
            "min_capacity": 1,
            "max_capacity": 40,
            "capacity_per_unit": per_unit,
            "warmup_seconds": warmup,
            "scale_in_stabilisation_seconds": 900,
            "load_metric": {
                "period_seconds": 60,
                "queries": [
                    {
                        "Id": "load",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": NAMESPACE,
                                "MetricName": METRIC,
                                "Dimensions": DIMENSIONS,
                            },
                            "Stat": "Sum",
                        },
                    }
                ],
            },
            # Refit every three hours (the product's default is one): each refit reads 14 days of
            # one-minute history, which moto serves a hundred times slower than CloudWatch; the
            # per-tick level correction keeps the forecast on the observed load in between.
            "forecast": {"enabled": forecast, "quantile": 0.9, "refresh_seconds": 10800},
            "alarm": {"evaluation_periods": 3, "datapoints_to_alarm": 2, "step": 1},
        }

    return {
        "targets": [
            target("web-ahead", "web-ahead", True),
            target("web-reactive", "web-reactive", False),
        ]
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scaleahead demo", description=__doc__.splitlines()[0])
    p.add_argument("--trace", default=DEFAULT_TRACE, help="trace name in traces/ or a CSV path")
    p.add_argument("--history-days", type=float, default=14.0)
    p.add_argument("--days", type=float, default=2.0, help="simulated days to replay live")
    p.add_argument("--tick-minutes", type=int, default=5)
    p.add_argument("--warmup-minutes", type=int, default=5)
    p.add_argument("--per-unit", type=float, default=0.0, help="load one task serves (0: p99/10)")
    p.add_argument("--out", default="out/demo")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from scaleahead.demo.local_aws import local_env

    extra = {"TICK_MINUTES": str(args.tick_minutes), "POWERTOOLS_LOG_LEVEL": "INFO"}
    with local_env(extra):
        result = simulate(args)
    report(result, args)
    return 0


@dataclass
class Result:
    trace: str
    per_unit: float
    minutes: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    ready: dict[str, list[int]] = field(default_factory=dict)
    desired: dict[str, list[int]] = field(default_factory=dict)
    forecast_t: list[float] = field(default_factory=list)
    forecast_upper: list[float] = field(default_factory=list)
    forecast_mean: list[float] = field(default_factory=list)
    decisions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    alarm_events: int = 0
    wall_seconds: float = 0.0


def simulate(args: argparse.Namespace) -> Result:
    import boto3
    from moto import mock_aws

    from scaleahead import clock
    from scaleahead.cli import targets as tg
    from scaleahead.demo import moto_extensions
    from scaleahead.demo.alarms import evaluate, state_change_event
    from scaleahead.demo.lambda_context import LocalContext
    from scaleahead.demo.local_aws import create_tables, put_series
    from scaleahead.domain.target import EcsTarget, parse_targets
    from scaleahead.handlers import alarm as alarm_fn
    from scaleahead.handlers import common
    from scaleahead.handlers import tick as tick_fn
    from scaleahead.handlers import worker as worker_fn
    from scaleahead.settings import Settings
    from scaleahead.traces import load_trace

    started = time.monotonic()
    trace = load_trace(args.trace if args.trace.endswith(".csv") else f"{args.trace}.csv")
    step = trace.step
    if step > 60 * args.tick_minutes:
        raise SystemExit(f"trace step {step}s is coarser than the tick; pick a finer trace")
    values = list(trace.values)
    per_unit = args.per_unit or round(sorted(values)[int(0.99 * (len(values) - 1))] / 10, 1)
    hist_n = int(args.history_days * 86400 / step)
    live_n = int(args.days * 86400 / step)
    if hist_n + live_n > len(values):
        raise SystemExit(
            f"trace {trace.name} is too short for {args.history_days}+{args.days} days"
        )
    t0 = trace.start + hist_n * step  # the first live minute
    result = Result(trace=trace.name, per_unit=per_unit)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    moto_extensions.install()
    with mock_aws(), (out_dir / "functions.log").open("w") as log:
        common.reset()
        # The functions' structured logs go where their EMF metrics go: to functions.log.
        log_handler = common.logger.registered_handler
        console_stream = log_handler.setStream(log)  # type: ignore[attr-defined]
        settings = Settings.from_env()
        ddb = boto3.client("dynamodb")
        create_tables(ddb, settings)
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="scaleahead-work")["QueueUrl"]
        import os

        os.environ["WORK_QUEUE_URL"] = url
        settings = Settings.from_env()
        ecs = boto3.client("ecs")
        ecs.create_cluster(clusterName=CLUSTER)
        ecs.register_task_definition(
            family="web",
            containerDefinitions=[{"name": "web", "image": "nginx", "memory": 512}],
        )
        cw = boto3.client("cloudwatch")
        put_series(
            cw,
            NAMESPACE,
            METRIC,
            DIMENSIONS,
            [(trace.start + i * step, values[i]) for i in range(hist_n)],
        )
        targets = [
            t
            for t in parse_targets(_targets_yaml(per_unit, args.warmup_minutes * 60))
            if isinstance(t, EcsTarget)
        ]
        first_need = max(1, math.ceil(values[hist_n] / per_unit))
        for t in targets:
            ecs.create_service(
                cluster=CLUSTER,
                serviceName=t.resource.service,
                taskDefinition="web",
                desiredCount=first_need,
                tags=[{"key": "scaleahead:managed", "value": "true"}],
            )
        clock.set_clock(lambda: now)
        now = t0
        rt = common.runtime()
        tg.apply(rt, targets, tg.diff(rt, targets, prune=False), now)

        models = {t.id: ServiceModel(args.warmup_minutes * 60, first_need) for t in targets}
        for t in targets:
            result.ready[t.id] = []
            result.desired[t.id] = []
        alarms = rt.metrics.managed_alarms(settings.alarm_prefix)
        alarm_states = {a["AlarmName"]: "OK" for a in alarms}
        services = [t.resource.service for t in targets]

        def read_desired() -> dict[str, int]:
            out = ecs.describe_services(cluster=CLUSTER, services=services)["services"]
            return {s["serviceName"]: int(s["desiredCount"]) for s in out}

        desired = read_desired()
        minute_loads: list[float | None] = []
        ctx = LocalContext()
        tick_every = args.tick_minutes * 60 // step
        batch = max(1, 3600 // step)
        try:
            for k in range(live_n):
                minute_start = t0 + k * step
                now = minute_start + step  # the datapoint for [start, start+step) is published
                v = values[hist_n + k]
                if k % batch == 0:
                    # An hour of datapoints per PutMetricData (moto is slow per call). Nothing
                    # reads a datapoint before its minute has passed: GetMetricData stops at
                    # EndTime=now, and alarms are evaluated here, minute by minute.
                    chunk = range(k, min(k + batch, live_n))
                    points = [(t0 + i * step, values[hist_n + i]) for i in chunk]
                    put_series(cw, NAMESPACE, METRIC, DIMENSIONS, points)
                minute_loads.append(v)
                # CloudWatch evaluates every alarm each period.
                changed = False
                for a in alarms:
                    ev = evaluate(a, minute_loads)
                    prev = alarm_states.get(a["AlarmName"], "OK")
                    if ev.state != prev and ev.state in ("ALARM", "OK"):
                        alarm_states[a["AlarmName"]] = ev.state
                        event = state_change_event(a, ev, prev, now)
                        out = _invoke(alarm_fn.handler, event, ctx, log)
                        if out.get("status") != "ok":
                            raise RuntimeError(f"alarm handler refused the event: {out}")
                        result.alarm_events += 1
                        changed = True
                if (k + 1) % tick_every == 0:
                    _tick(tick_fn, worker_fn, sqs, url, ctx, now, log)
                    changed = True
                if changed:
                    # capacity moves only when a function ran, thresholds only with capacity
                    before, desired = desired, read_desired()
                    if desired != before:
                        alarms = rt.metrics.managed_alarms(settings.alarm_prefix)
                result.minutes.append(minute_start)
                result.load.append(v)
                for t in targets:
                    d = desired[t.resource.service]
                    result.desired[t.id].append(d)
                    result.ready[t.id].append(models[t.id].step(now, d))
                if not args.quiet and k % (live_n // 10 or 1) == 0:
                    print(f"  simulated {k * step / 3600:5.1f} h of {live_n * step / 3600:.0f} h")
            for t in targets:
                result.decisions[t.id] = rt.store.decisions(t.id, limit=100_000)
            # The forecast each worker decision used, as recorded in its inputs.
            for d in reversed(result.decisions["web-ahead"]):
                inputs = d.get("inputs") or {}
                if d.get("source") == "worker" and inputs.get("forecast_now") is not None:
                    result.forecast_t.append(float(d["at"]))
                    result.forecast_mean.append(float(inputs["forecast_now"]))
                    result.forecast_upper.append(float(inputs["forecast_upper_now"]))
        finally:
            clock.set_clock(None)
            log_handler.setStream(console_stream)  # type: ignore[attr-defined]
            common.reset()
    moto_extensions.uninstall()
    result.wall_seconds = time.monotonic() - started
    return result


def _invoke(handler: Any, event: Any, ctx: Any, log: TextIO) -> Any:
    """Call a handler as Lambda would, its stdout (JSON logs, EMF metrics) going to ``log``."""
    with contextlib.redirect_stdout(log):
        return handler(event, ctx)


def _tick(
    tick_fn: Any, worker_fn: Any, sqs: Any, url: str, ctx: Any, now: float, log: TextIO
) -> None:
    """One schedule tick: the tick function, then the worker on what it enqueued."""
    out = _invoke(
        tick_fn.handler,
        {
            "version": "0",
            "id": f"tick-{int(now)}",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/scaleahead-tick"],
            "detail": {},
        },
        ctx,
        log,
    )
    if out.get("status") != "ok":
        raise RuntimeError(f"tick handler failed: {out}")
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": str(int(now * 1000)),
                        "SenderId": "scaleahead",
                        "ApproximateFirstReceiveTimestamp": str(int(now * 1000)),
                    },
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:scaleahead-work",
                    "awsRegion": "us-east-1",
                }
                for m in msgs
            ]
        }
        resp = _invoke(worker_fn.handler, event, ctx, log)
        failed = {f["itemIdentifier"] for f in resp.get("batchItemFailures", [])}
        if failed:
            raise RuntimeError(f"worker failed on {failed}")
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)
            ],
        )
        if len(msgs) < 10:
            return  # all that the tick enqueued has been handled


@dataclass
class Score:
    under_minutes: int
    unserved_share: float
    capacity_hours: float
    actions: int
    alarm_actions: int


def score(result: Result, target_id: str) -> Score:
    step_h = (result.minutes[1] - result.minutes[0]) / 3600 if len(result.minutes) > 1 else 1 / 60
    ready = result.ready[target_id]
    under = sum(1 for v, r in zip(result.load, ready, strict=True) if v > r * result.per_unit)
    unserved = sum(
        max(0.0, v - r * result.per_unit) for v, r in zip(result.load, ready, strict=True)
    )
    decisions = result.decisions.get(target_id, [])
    return Score(
        under_minutes=int(under * step_h * 60),
        unserved_share=unserved / max(sum(result.load), 1e-9),
        capacity_hours=sum(ready) * step_h,
        actions=sum(1 for d in decisions if d.get("executed")),
        alarm_actions=sum(1 for d in decisions if d.get("executed") and d.get("source") == "alarm"),
    )


def report(result: Result, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    console = Console()
    scores = {tid: score(result, tid) for tid in result.ready}
    table = Table(
        title=f"scaleahead demo: {result.trace}, {args.days:g} simulated days",
        caption="min short: minutes with load above the ready capacity",
    )
    table.add_column("target", no_wrap=True)
    for col in ("min short", "unserved", "task-hours", "actions", "by alarm"):
        table.add_column(col, justify="right", no_wrap=True)
    for tid, s in scores.items():
        table.add_row(
            tid,
            str(s.under_minutes),
            f"{s.unserved_share:.2%}",
            f"{s.capacity_hours:.1f}",
            str(s.actions),
            str(s.alarm_actions),
        )
    console.print(table)
    a, r = scores["web-ahead"], scores["web-reactive"]
    console.print(
        f"Scaling ahead: {a.under_minutes} under-provisioned minutes against {r.under_minutes} "
        f"reactive-only, for {a.capacity_hours:.1f} task-hours against {r.capacity_hours:.1f} "
        f"({(a.capacity_hours / max(r.capacity_hours, 1e-9) - 1):+.1%})."
    )
    console.print(
        f"{sum(len(d) for d in result.decisions.values())} decisions recorded, "
        f"{result.alarm_events} alarm state changes delivered; per unit {result.per_unit:g} "
        f"req/min per task; ran in {result.wall_seconds:.1f} s."
    )
    examples = [d for d in result.decisions["web-ahead"] if d.get("executed")][:3]
    for d in examples:
        console.print(escape(f"  e.g. [{d.get('source')}] {d.get('message')}"))
    summary = {
        "trace": result.trace,
        "per_unit": result.per_unit,
        "scores": {k: v.__dict__ for k, v in scores.items()},
        "alarm_events": result.alarm_events,
        "wall_seconds": round(result.wall_seconds, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    chart = out / "demo.png"
    _chart(result, chart)
    console.print(f"chart: {chart}   summary: {out / 'summary.json'}")


def _chart(result: Result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from datetime import UTC, datetime

    import matplotlib.pyplot as plt

    ts = [datetime.fromtimestamp(t, UTC) for t in result.minutes]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(13, 8), sharex=True, height_ratios=[3, 1])
    ax.plot(ts, result.load, color="0.6", lw=0.6, label="load (requests/min)")
    if result.forecast_t:
        ft = [datetime.fromtimestamp(t, UTC) for t in result.forecast_t]
        ax.plot(ft, result.forecast_mean, color="tab:purple", lw=1, label="forecast (mean)")
        ax.plot(
            ft, result.forecast_upper, color="tab:purple", lw=1, ls="--", label="forecast (q0.9)"
        )
    colors = {"web-ahead": "tab:blue", "web-reactive": "tab:red"}
    for tid, ready in result.ready.items():
        ax.step(
            ts,
            [r * result.per_unit for r in ready],
            where="post",
            color=colors.get(tid),
            lw=1.3,
            label=f"{tid}: capacity ready (load it serves)",
        )
        under = [
            v if v > r * result.per_unit else math.nan
            for v, r in zip(result.load, ready, strict=True)
        ]
        ahead = tid == "web-ahead"
        ax2.plot(
            ts,
            under,
            "o" if ahead else ".",
            ms=3.5 if ahead else 2,
            zorder=3 if ahead else 2,
            color=colors.get(tid),
            label=f"{tid}: under-provisioned",
        )
    ax.set_ylabel("requests / min")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"scaleahead demo on {result.trace}: scaling ahead vs reacting")
    ax2.set_ylabel("load when short")
    ax2.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
