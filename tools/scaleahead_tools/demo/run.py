"""``make demo``: the real handlers on moto, two simulated days of a real trace, three tiers.

What runs is what Lambda runs: the tick handler enqueues on SQS, the worker handler consumes
the batch, the alarm handler receives the EventBridge events that this simulation's alarm
evaluator emits, and every decision lands in DynamoDB. Only time is simulated, through
``scaleahead.clock``, and the world (``scaleahead_testkit.world``) gives each tier its real
warm-up.

One load (requests to the NASA web server, July 1995) drives ECS tasks, Aurora readers and
ElastiCache shards through one forecast (``demo.stack``); a fourth target is the ECS service
with forecasting switched off, so it only reacts. The report shows what scaling ahead buys,
and in which order the tiers move: on the way up the slowest tier starts first, on the way
down the front tier shrinks first.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from scaleahead_testkit.functions import Handler, invoke, schedule_tick
from scaleahead_tools.demo.report import Result, report

DEFAULT_TRACE = "nasa_http_jul95"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scaleahead demo", description=__doc__.splitlines()[0])
    p.add_argument("--trace", default=DEFAULT_TRACE, help="trace name in traces/ or a CSV path")
    p.add_argument(
        "--history-days",
        type=float,
        default=16.0,
        help="days of the trace loaded as history before the replay (the forecast reads 14); "
        "16 makes the NASA replay a Monday and a Tuesday",
    )
    p.add_argument("--days", type=float, default=2.0, help="simulated days to replay live")
    p.add_argument("--tick-minutes", type=int, default=5)
    p.add_argument("--out", default="out/demo")
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--serial", action="store_true", help="run the reactive control after, not beside"
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from scaleahead_testkit.local_aws import local_env

    extra = {
        "TICK_MINUTES": str(args.tick_minutes),
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # The DB subnet group needs EC2 subnets, not EC2's default AMI catalogue.
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }
    started = time.monotonic()
    with local_env(extra):
        result = run_stacks(args)
    result.wall_seconds = time.monotonic() - started
    report(result, args)
    return 0


def run_stacks(args: argparse.Namespace) -> Result:
    """The three-tier stack and its reactive-only control, as two independent deployments
    (two moto backends, as two AWS accounts would be) on the same load and the same clock.

    With two cores or more the control runs in a forked process beside the main stack: the
    demo then takes as long as its larger half.
    """
    if args.serial or (os.cpu_count() or 1) < 2 or "fork" not in mp.get_all_start_methods():
        return simulate(args, "ahead").merge(simulate(args, "reactive"))
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork")) as pool:
        control = pool.submit(simulate, args, "reactive")
        ahead = simulate(args, "ahead")
        return ahead.merge(control.result())


def simulate(
    args: argparse.Namespace,
    stack_name: str,
    wrap: Callable[[str, Handler], Handler] | None = None,
) -> Result:
    """Replay the trace through one stack: ``ahead`` (web, db and cache on one driver),
    ``reactive`` (the web tier with forecasting off) or ``lone`` (the web tier alone, with its
    forecast). ``wrap`` may wrap each handler (``tick``, ``worker``, ``alarm``) as it is called:
    the cost model meters them so."""
    import boto3
    from moto import mock_aws

    from scaleahead import clock
    from scaleahead.domain.record import DecisionRecord
    from scaleahead.domain.target import Target, parse_targets
    from scaleahead.handlers import alarm as alarm_fn
    from scaleahead.handlers import common
    from scaleahead.handlers import tick as tick_fn
    from scaleahead.handlers import worker as worker_fn
    from scaleahead.settings import Settings
    from scaleahead_testkit import moto_elasticache, moto_extensions, moto_rds
    from scaleahead_testkit.lambda_context import LocalContext
    from scaleahead_testkit.local_aws import create_tables
    from scaleahead_testkit.world import AuroraWorld, EcsWorld, ElastiCacheWorld, publish
    from scaleahead_tools.cli import targets as tg
    from scaleahead_tools.demo import stack
    from scaleahead_tools.sim.alarms import evaluate, state_change_event
    from scaleahead_tools.traces import load_trace

    trace = load_trace(args.trace if args.trace.endswith(".csv") else f"{args.trace}.csv")
    step = trace.step
    if step > 60 * args.tick_minutes:
        raise SystemExit(f"trace step {step}s is coarser than the tick; pick a finer trace")
    values = list(trace.values)
    p99 = sorted(values)[int(0.99 * (len(values) - 1))]
    if stack_name == "lone":
        tier_list = [t for t in stack.tiers(p99) if t.id == "web"]
    else:
        tier_list = [t for t in stack.tiers(p99) if t.forecast == (stack_name == "ahead")]

    def as_called(name: str, handler: Handler) -> Handler:
        return wrap(name, handler) if wrap is not None else handler

    tick_handler = as_called("tick", tick_fn.handler)
    worker_handler = as_called("worker", worker_fn.handler)
    alarm_handler = as_called("alarm", alarm_fn.handler)
    hist_n = int(args.history_days * 86400 / step)
    live_n = int(args.days * 86400 / step)
    if hist_n + live_n > len(values):
        raise SystemExit(
            f"trace {trace.name} is too short for {args.history_days}+{args.days} days"
        )
    t0 = trace.start + hist_n * step  # the first live minute
    result = Result(trace=trace.name, tiers=tier_list)
    first = {t.id: stack.need(values[hist_n], t.per_unit) for t in tier_list}

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    moto_extensions.install()
    log_name = "functions.log" if stack_name == "ahead" else f"functions-{stack_name}.log"
    with mock_aws(), (out_dir / log_name).open("w") as log:
        common.reset()
        # The functions' structured logs go where their EMF metrics go: to functions.log.
        log_handler = common.logger.registered_handler
        console_stream = log_handler.setStream(log)  # type: ignore[attr-defined]
        now = t0
        clock.set_clock(lambda: now)
        try:
            settings = Settings.from_env()
            create_tables(boto3.client("dynamodb"), settings)
            sqs = boto3.client("sqs")
            url = sqs.create_queue(QueueName="scaleahead-work")["QueueUrl"]
            os.environ["WORK_QUEUE_URL"] = url
            settings = Settings.from_env()
            # The history, published as the load balancer would have published it.
            publish(
                stack.NAMESPACE,
                stack.METRIC,
                stack.DIMENSIONS,
                [(trace.start + i * step, values[i]) for i in range(hist_n)],
            )
            kinds = {t.kind for t in tier_list}
            stack.create_ecs(
                boto3.client("ecs"), {t.id: first[t.id] for t in tier_list if t.kind == "ecs"}
            )
            if "aurora" in kinds:
                stack.create_aurora(boto3.client("rds"), boto3.client("ec2"))
            if "elasticache" in kinds:
                stack.create_cache(boto3.client("elasticache"), max(2, first["cache"]))
            targets = parse_targets(stack.targets_file(tier_list))
            rt = common.runtime()
            tg.apply(rt, targets, tg.diff(rt, targets, prune=False), now)
            worlds: dict[str, Any] = {}
            for t in tier_list:
                if t.kind == "ecs":
                    worlds[t.id] = EcsWorld(stack.ECS_CLUSTER, t.id, t.warmup, first[t.id])
                elif t.kind == "aurora":
                    # The readers the first hour needs, as a previous run would have left them.
                    db = next(x for x in targets if x.id == t.id)
                    adapter = rt.adapter(db)
                    adapter.set_capacity(db, first[t.id], adapter.read(db))
                    moto_rds.complete_pending()
                    worlds[t.id] = AuroraWorld(stack.DB_CLUSTER, t.warmup)
                else:
                    worlds[t.id] = ElastiCacheWorld(
                        stack.CACHE_GROUP, t.warmup, t.per_unit, stack.cache_dataset_bytes()
                    )
            for t in tier_list:
                result.ready[t.id] = []
                result.asked[t.id] = []
                result.decisions[t.id] = []
            # Every decision as the functions hand it to their observers (the log line and the
            # metrics): reading thousands back from moto's DynamoDB would cost the demo a
            # quarter of its time, so the log is only counted against them at the end.
            observe = rt.on_decision

            def collect(target: Target, record: DecisionRecord) -> None:
                result.decisions[target.id].append(replace(record, at=clock.now()))
                observe(target, record)

            rt.on_decision = collect
            alarms = rt.metrics.managed_alarms(settings.alarm_prefix)
            alarm_states = {a["AlarmName"]: "OK" for a in alarms}
            minute_loads: list[float | None] = []
            ctx = LocalContext()
            tick_every = args.tick_minutes * 60 // step
            cache_world = worlds.get("cache")
            for k in range(live_n):
                minute_start = t0 + k * step
                now = minute_start + step  # the datapoint for [start, start+step) is published
                v = values[hist_n + k]
                # The minute's datapoint is published once the minute has passed; nothing
                # reads ahead of it: GetMetricData stops at EndTime=now and alarms are
                # evaluated here, minute by minute.
                publish(stack.NAMESPACE, stack.METRIC, stack.DIMENSIONS, [(minute_start, v)])
                minute_loads.append(v)
                for world in worlds.values():
                    world.step(now)  # what finished warming up is there before anyone looks
                if isinstance(cache_world, ElastiCacheWorld):
                    cache_world.publish(now, v)
                # CloudWatch evaluates every alarm each period.
                changed = False
                for a in alarms:
                    ev = evaluate(a, minute_loads)
                    prev = alarm_states.get(a["AlarmName"], "OK")
                    if ev.state != prev and ev.state in ("ALARM", "OK"):
                        alarm_states[a["AlarmName"]] = ev.state
                        event = state_change_event(a, ev, prev, now)
                        out = invoke(alarm_handler, event, ctx, log)
                        if out.get("status") != "ok":
                            raise RuntimeError(f"alarm handler refused the event: {out}")
                        result.alarm_events += 1
                        changed = True
                if (k + 1) % tick_every == 0:
                    schedule_tick(tick_handler, worker_handler, sqs, url, ctx, now, log)
                    changed = True
                result.minutes.append(minute_start)
                result.load.append(v)
                moved = False
                for tid, world in worlds.items():
                    asked, ready = world.step(now)
                    moved = moved or (asked != (result.asked[tid] or [asked])[-1])
                    result.asked[tid].append(asked)
                    result.ready[tid].append(ready)
                if changed and moved:
                    # thresholds follow the capacity asked for, which moves only when a
                    # function ran
                    alarms = rt.metrics.managed_alarms(settings.alarm_prefix)
                if not args.quiet and stack_name == "ahead" and k % (live_n // 10 or 1) == 0:
                    print(f"  simulated {k * step / 3600:5.1f} h of {live_n * step / 3600:.0f} h")
            for t in tier_list:
                stored = rt.store.decision_count(t.id)
                if stored != len(result.decisions[t.id]):
                    raise RuntimeError(
                        f"{t.id}: {len(result.decisions[t.id])} decisions taken, {stored} in "
                        "the decision log"
                    )
            # The forecast each worker decision used, as recorded in its inputs.
            for d in result.decisions.get("web", []):
                tick = d.tick
                if tick is not None and tick.forecast_now is not None:
                    result.forecast_t.append(d.at or 0.0)
                    result.forecast_mean.append(tick.forecast_now)
                    result.forecast_upper.append(tick.forecast_upper_now or tick.forecast_now)
        finally:
            clock.set_clock(None)
            log_handler.setStream(console_stream)  # type: ignore[attr-defined]
            common.reset()
            moto_rds.uninstall()
            moto_elasticache.uninstall()
    moto_extensions.uninstall()
    return result


if __name__ == "__main__":
    raise SystemExit(main())
