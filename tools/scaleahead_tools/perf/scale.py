"""``python -m scaleahead_tools.perf.scale``: the tick's fan-out and the worker's per-target path
at 10,000 targets, the real handlers on in-process moto.

What it does:

1. Stands up the stack's table and work queue (``scaleahead_testkit.stack_tables``) and writes N
   ECS target definitions the way ``scaleahead targets apply`` writes one (``Store.put_target``):
   most with a load metric of their own, the rest in groups of three tiers planned from one
   shared driver, a fifth of the solo ones evaluated every five minutes. The tick runs on the
   hour, so every target is due: the worst minute.
2. Invokes the real tick handler once and measures its wall time, its AWS calls (counted at
   botocore's hooks, ``scaleahead_testkit.calls.counting``), the items and bytes its DynamoDB
   Query pages returned and the read capacity they cost, and the messages it left on the queue.
   Read capacity is *computed* from the items' sizes by DynamoDB's rules (a page's sizes summed,
   rounded up to 4 KB, half a unit per 4 KB eventually consistent): the store does not ask for
   ConsumedCapacity, and moto's answer to it is a constant.
3. Estimates the tick on real AWS, apart from moto's time: the tick's own work (its wall time
   less the time spent inside moto's backends, measured between botocore's ``before-send`` and
   ``before-parse`` events) scaled to the Lambda's CPU share (``MemorySize``/1,769 MB of a vCPU,
   AWS Lambda developer guide, "Configure Lambda function memory"), plus each call on its
   critical path at a per-call latency: DynamoDB 10 ms ("single-digit millisecond", rounded up),
   SQS 100 ms (the top of the SQS FAQ's "tens or low hundreds of milliseconds" is a few hundred;
   100 is its typical upper figure), other APIs 50 ms (no documented figure: an assumption).
   Each is an option; the estimate is compared with ``template.yaml``'s Timeout.
4. Drains the queue in batches of ten, as the event source mapping delivers them (BatchSize 10),
   and runs the real worker handler on ``--worker-sample`` targets' batches, spread evenly over
   the queue. Only those targets get an ECS service and a load history in CloudWatch, and only
   ``HISTORY_HOURS`` of it: moto's CloudWatch is slow, and only the per-target path is timed.
   With so little history every fit ends "reactive-only" at once (a fit needs a day), so the
   worker figures are the path's calls and bookkeeping; what a refit on 14 days of history
   costs is measured apart, in-process without moto (``fit`` in the report).

Figures are printed as a table, or as JSON with ``--json``. Timings are of this machine and of
moto; the call and item counts are what AWS would see.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

# 2026-11-27 12:00:00 UTC: on the hour, so every target (every minute, every five) is due.
NOW = 1795780800.0
CLUSTER = "scale-bench"
NAMESPACE = "AWS/ApplicationELB"
METRIC = "RequestCount"
# Three of every ten targets are tiers planned from a shared driver, in groups of three.
GROUPED_SHARE = 0.3
TIERS = (("web", 100.0, 300), ("api", 250.0, 300), ("jobs", 500.0, 900))
HISTORY_HOURS = 3
WORKER_BATCH = 10  # template.yaml: the work queue's event source, BatchSize
# DynamoDB stops a Query page at 1 MB and rounds a page's read up to 4 KB units.
PAGE_BYTES = 1024 * 1024
RCU_BYTES = 4096
# AWS Lambda: at 1,769 MB a function has the equivalent of one vCPU.
ONE_VCPU_MB = 1769
# A refit reads 14 days of one-minute load (``controller.HISTORY_SECONDS``).
FIT_DAYS = 14


# -- the targets ---------------------------------------------------------------------------


def _load_metric(balancer: str) -> dict[str, Any]:
    return {
        "period_seconds": 60,
        "queries": [
            {
                "Id": "load",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": METRIC,
                        "Dimensions": [
                            {"Name": "LoadBalancer", "Value": f"app/{balancer}/0123456789abcdef"}
                        ],
                    },
                    "Stat": "Sum",
                },
            }
        ],
    }


def target_file(n: int) -> dict[str, Any]:
    """A target file of ``n`` ECS targets as a large user's would look: most services scaled on
    a load of their own, some products of three tiers (web, api, jobs) sharing one driver."""
    groups = int(n * GROUPED_SHARE) // len(TIERS)
    solo = n - groups * len(TIERS)
    drivers: dict[str, Any] = {}
    targets: list[dict[str, Any]] = []
    for i in range(solo):
        name = f"svc-{i:05d}"
        targets.append(
            {
                "id": name,
                "kind": "ecs",
                "resource": {"cluster": CLUSTER, "service": name},
                "min_capacity": 1 + i % 3,
                "max_capacity": 20 + i % 60,
                "capacity_per_unit": float(50 + (i * 37) % 450),
                "evaluate_every_seconds": 300 if i % 5 == 4 else 60,
                "load_metric": _load_metric(name),
            }
        )
    for g in range(groups):
        driver = f"grp-{g:04d}"
        drivers[driver] = {"load_metric": _load_metric(driver), "forecast": {"quantile": 0.9}}
        for tier, per_unit, warmup in TIERS:
            name = f"{driver}-{tier}"
            targets.append(
                {
                    "id": name,
                    "kind": "ecs",
                    "driver": driver,
                    "resource": {"cluster": CLUSTER, "service": name},
                    "min_capacity": 2,
                    "max_capacity": 50,
                    "capacity_per_unit": per_unit,
                    "warmup_seconds": warmup,
                }
            )
    return {"drivers": drivers, "targets": targets}


# -- instruments -----------------------------------------------------------------------------


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules, from its wire form ({"S": ...}, {"N": ...}): each
    attribute's name in UTF-8 bytes plus its value's size."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(str(v).encode())
    if kind == "N":
        digits = len(str(v).lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_bytes(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(_value_bytes(x) + 1 for x in v)
    return sum(len(str(x).encode()) for x in v)  # SS, NS, BS


def read_units(page_bytes: int, consistent: bool) -> float:
    """Read capacity of one Query page: its bytes rounded up to 4 KB, half a unit each when
    eventually consistent."""
    units = math.ceil(max(page_bytes, 1) / RCU_BYTES)
    return float(units) if consistent else units / 2


@dataclass
class Probe:
    """What botocore's hooks saw besides the call counts: the intervals spent inside moto's
    backends, and the items each Query page returned."""

    moto: list[tuple[float, float]] = field(default_factory=list)
    pages: list[tuple[int, int, bool]] = field(default_factory=list)  # items, bytes, consistent
    _local: threading.local = field(default_factory=threading.local)

    def attach(self, client: Any) -> None:
        """Hook ``client``: first in line at ``before-send`` (moto answers there), and at
        ``after-call`` of Query before boto3's resource turns the items into Python values."""
        events = client.meta.events
        events.register_first("before-send", self._sent, unique_id="scale-bench-sent")
        events.register("before-parse", self._answered, unique_id="scale-bench-answered")
        events.register_first(
            "before-call.dynamodb.Query", self._query_params, unique_id="scale-bench-qp"
        )
        events.register_first(
            "after-call.dynamodb.Query", self._query_page, unique_id="scale-bench-page"
        )

    def _sent(self, **_: Any) -> None:
        self._local.sent = time.perf_counter()

    def _answered(self, **_: Any) -> None:
        sent = getattr(self._local, "sent", None)
        if sent is not None:
            self.moto.append((sent, time.perf_counter()))
            self._local.sent = None

    def _query_params(self, params: dict[str, Any], **_: Any) -> None:
        self._local.consistent = bool(params.get("ConsistentRead"))

    def _query_page(self, parsed: dict[str, Any], **_: Any) -> None:
        items = parsed.get("Items", [])
        consistent = bool(getattr(self._local, "consistent", False))
        self.pages.append((len(items), sum(item_bytes(i) for i in items), consistent))

    def moto_seconds(self, start: float = -math.inf, end: float = math.inf) -> float:
        """Time inside moto between ``start`` and ``end``: the union of the calls' intervals
        (calls made from several threads overlap)."""
        spans = sorted((max(a, start), min(b, end)) for a, b in self.moto if b > start and a < end)
        total, reach = 0.0, -math.inf
        for a, b in spans:
            if b <= reach:
                continue
            total += b - max(a, reach)
            reach = b
        return total


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Per-call latencies the real-AWS estimates use (milliseconds)."""

    dynamodb_ms: float = 10.0
    sqs_ms: float = 100.0
    other_ms: float = 50.0

    def of(self, call: str) -> float:
        service = call.split(".", 1)[0]
        ms = {"dynamodb": self.dynamodb_ms, "sqs": self.sqs_ms}.get(service, self.other_ms)
        return ms / 1000


@dataclass
class TickFigures:
    targets: int
    enqueued: int
    invalid: int
    wall_seconds: float
    moto_seconds: float
    local_seconds: float
    calls: dict[str, int]
    dynamodb_calls: int
    query_pages: int
    items_read: int
    bytes_read: int
    read_units: float
    send_batch_calls: int
    messages_on_queue: int
    send_concurrency: int
    log_line_bytes: int
    estimate_seconds: float
    timeout_seconds: int
    memory_mb: int


@dataclass
class WorkerRound:
    """The sampled batches handled at one tick: ``first`` (the targets' first decision: no
    state, no forecast, every alarm threshold new) or ``steady`` (the next minute's)."""

    label: str
    failed_items: int
    median_ms: float
    p90_ms: float
    estimate_median_ms: float
    estimate_p90_ms: float
    calls_per_target: dict[str, float]
    decisions: dict[str, int]


@dataclass
class WorkerFigures:
    batches: int
    batch_sizes: dict[str, int]
    enqueued_once: bool
    sampled_batches: int
    sampled_targets: int
    rounds: list[WorkerRound]
    memory_mb: int
    timeout_seconds: int
    max_concurrency: int

    @property
    def steady(self) -> WorkerRound:
        return self.rounds[-1]


@dataclass
class FitFigures:
    days: int
    samples: int
    median_ms: float


@dataclass
class Envelope:
    """What the figures mean against the stack's limits, per tick (one minute)."""

    tick_interval_seconds: int
    tick_headroom: float  # estimated tick duration / its timeout
    worker_seconds_per_tick: float  # every due target's per-target estimate, summed
    worker_concurrency_needed: int  # to get through them within one tick interval
    worker_targets_per_tick_at_default: int
    get_metric_data_tps: float
    get_metric_data_quota_tps: int
    refit_datapoints_per_tick: int


@dataclass
class Report:
    targets: int
    drivers: int
    solo: int
    setup_seconds: float
    latency: Latency
    tick: TickFigures
    worker: WorkerFigures
    fit: FitFigures | None
    envelope: Envelope


# -- the run ---------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _function_setting(template: dict[str, Any], function: str, key: str) -> int:
    """A function's setting in ``template.yaml``, else the Globals' (Timeout, MemorySize)."""
    props = template["Resources"][function]["Properties"]
    return int(props.get(key, template["Globals"]["Function"][key]))


def _critical_path(calls: Counter[str], latency: Latency, parallel: dict[str, int]) -> float:
    """Seconds the calls wait on AWS: sequential, except where ``parallel`` says how many of one
    operation are in flight together."""
    return sum(math.ceil(n / parallel.get(call, 1)) * latency.of(call) for call, n in calls.items())


@contextmanager
def _logs_to(stream: Any) -> Iterator[None]:
    """The functions' structured log lines to ``stream`` (their EMF metrics go to stdout,
    which ``functions.invoke`` redirects)."""
    from scaleahead.handlers import common

    handler = common.logger.registered_handler
    old = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        handler.setStream(old)  # type: ignore[attr-defined]


def _history(target: Any, desired: int, seed: int) -> list[tuple[float, float]]:
    """``HISTORY_HOURS`` of one-minute load around what ``desired`` units serve, some targets
    above it (a scale-out), some well below (a scale-in on the table)."""
    level = target.capacity_per_unit * desired * (0.5 + (seed % 7) / 6)
    start = NOW - HISTORY_HOURS * 3600
    return [
        (start + 60 * k, round(level * (1 + 0.2 * math.sin(k / 17 + seed)), 2))
        for k in range(HISTORY_HOURS * 60)
    ]


def fit_cost(samples: int) -> FitFigures:
    """The median time of one refit on 14 days of one-minute load, in-process (no moto): what
    each forecast owner costs a worker once per ``forecast.refresh_seconds``."""
    from scaleahead.domain.forecast import fit_forecast

    n = FIT_DAYS * 1440
    t0 = NOW - n * 60
    times = [t0 + 60 * k for k in range(n)]
    values = [
        1000 + 600 * math.sin(2 * math.pi * k / 1440) + 150 * math.sin(2 * math.pi * k / 10080)
        for k in range(n)
    ]
    took = []
    for _ in range(samples):
        started = time.perf_counter()
        fit_forecast(times, values, now=NOW, horizon_seconds=6 * 3600, quantile=0.9)
        took.append(time.perf_counter() - started)
    return FitFigures(FIT_DAYS, samples, round(statistics.median(took) * 1000, 1))


def _retick(batches: list[list[dict[str, Any]]], tick: float) -> list[list[dict[str, Any]]]:
    """The drained batches as the tick at ``tick`` would have enqueued them: the same work
    items (as the tick wrote them), naming that tick."""
    return [
        [{**m, "Body": json.dumps({**json.loads(m["Body"]), "tick": int(tick)})} for m in b]
        for b in batches
    ]


def _worker_round(
    label: str,
    batches: list[list[dict[str, Any]]],
    url: str,
    now: float,
    latency: Latency,
    ctx: Any,
) -> WorkerRound:
    """The real worker handler on each batch, as the event source invokes it: the time per
    target (a batch's wall time shared by its targets, its read-ahead included), the same
    estimated on AWS, and the calls per target."""
    from scaleahead.aws import clients
    from scaleahead.handlers import common
    from scaleahead.handlers import worker as worker_fn
    from scaleahead_testkit.calls import counting
    from scaleahead_testkit.functions import invoke, sqs_event
    from scaleahead_testkit.local_aws import load_template

    memory = _function_setting(load_template(), "WorkerFunction", "MemorySize")
    per_target: list[float] = []
    estimates: list[float] = []
    failed = 0
    actions: Counter[str] = Counter()
    with counting() as calls, _logs_to(io.StringIO()):
        common.reset()  # the runtime's clients made again, under the counter; state is kept
        probe = Probe()
        rt = common.runtime()
        observe = rt.on_decision

        def collect(target: Any, record: Any) -> None:
            actions[record.action.value if record.executed else "none"] += 1
            observe(target, record)

        rt.on_decision = collect
        for service in ("cloudwatch", "ecs", "sqs"):
            probe.attach(clients.client(service))
        probe.attach(clients.resource("dynamodb").meta.client)
        for batch in batches:
            before = Counter(calls.calls)
            started = time.perf_counter()
            resp = invoke(worker_fn.handler, sqs_event(batch, url, now), ctx, io.StringIO())
            ended = time.perf_counter()
            failed += len(resp.get("batchItemFailures", []))
            made = Counter(calls.calls)
            made.subtract(before)
            own = (ended - started) - probe.moto_seconds(started, ended)
            est = own * ONE_VCPU_MB / memory + _critical_path(made, latency, {})
            per_target += [(ended - started) / len(batch)] * len(batch)
            estimates += [est / len(batch)] * len(batch)
        made = Counter(calls.calls)
    n = max(1, len(per_target))
    return WorkerRound(
        label=label,
        failed_items=failed,
        median_ms=round(statistics.median(per_target) * 1000, 1) if per_target else 0.0,
        p90_ms=round(_percentile(per_target, 0.9) * 1000, 1),
        estimate_median_ms=round(statistics.median(estimates) * 1000, 1) if estimates else 0.0,
        estimate_p90_ms=round(_percentile(estimates, 0.9) * 1000, 1),
        calls_per_target={c: round(v / n, 2) for c, v in sorted(made.items())},
        decisions=dict(sorted(actions.items())),
    )


def run(
    n: int, worker_sample: int, *, latency: Latency | None = None, fit_samples: int = 3
) -> Report:
    """Stand the stack up on moto, write ``n`` targets, tick once, drain, sample the worker."""
    import boto3
    from moto import mock_aws

    from scaleahead import clock
    from scaleahead.aws import clients
    from scaleahead.aws import queue as work_queue
    from scaleahead.domain.controller import HISTORY_SECONDS
    from scaleahead.domain.target import parse_targets
    from scaleahead.handlers import common
    from scaleahead.handlers import tick as tick_fn
    from scaleahead_testkit import moto_extensions
    from scaleahead_testkit.calls import counting
    from scaleahead_testkit.functions import adopt_environment, invoke, scheduled_event
    from scaleahead_testkit.lambda_context import LocalContext
    from scaleahead_testkit.local_aws import create_ecs, load_template, local_env, put_series
    from scaleahead_testkit.stack_tables import large_queues, stand_up

    latency = latency or Latency()
    template = load_template()
    tick_timeout = _function_setting(template, "TickFunction", "Timeout")
    tick_memory = _function_setting(template, "TickFunction", "MemorySize")
    worker_timeout = _function_setting(template, "WorkerFunction", "Timeout")
    worker_memory = _function_setting(template, "WorkerFunction", "MemorySize")
    max_concurrency = int(template["Parameters"]["WorkerMaxConcurrency"]["Default"])

    spec = target_file(n)
    targets = {t.id: t for t in parse_targets(spec)}
    ctx = LocalContext()
    moto_extensions.install()
    saved_metrics = (common.metrics.namespace, common.metrics.service)
    with local_env(), mock_aws(), large_queues():
        adopt_environment()
        common.reset()
        moment = [NOW]
        clock.set_clock(lambda: moment[0])
        try:
            started = time.perf_counter()
            stack = stand_up(boto3.client("dynamodb"), boto3.client("sqs"))
            store = common.runtime().store
            for t in targets.values():
                store.put_target(t, NOW - 86400)
            setup = time.perf_counter() - started

            # -- the tick
            tick_log = io.StringIO()
            with counting() as calls, _logs_to(tick_log):
                common.reset()  # the runtime's clients made again, under the counter
                probe = Probe()
                common.runtime()
                probe.attach(clients.resource("dynamodb").meta.client)
                probe.attach(clients.client("sqs"))
                started = time.perf_counter()
                out = invoke(tick_fn.handler, scheduled_event(NOW), ctx, io.StringIO())
                wall = time.perf_counter() - started
                tick_calls = Counter(calls.calls)
            if out.get("status") != "ok":
                raise RuntimeError(f"the tick failed: {out}")
            sqs = boto3.client("sqs")
            on_queue = int(
                sqs.get_queue_attributes(
                    QueueUrl=stack.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )
            moto_s = probe.moto_seconds()
            local = max(0.0, wall - moto_s)
            concurrency = work_queue.SEND_CONCURRENCY
            estimate = local * ONE_VCPU_MB / tick_memory + _critical_path(
                tick_calls, latency, {"sqs.SendMessageBatch": concurrency}
            )
            tick = TickFigures(
                targets=n,
                enqueued=len(out["enqueued"]),
                invalid=len(out["invalid"]),
                wall_seconds=round(wall, 3),
                moto_seconds=round(moto_s, 3),
                local_seconds=round(local, 3),
                calls=dict(sorted(tick_calls.items())),
                dynamodb_calls=sum(v for k, v in tick_calls.items() if k.startswith("dynamodb.")),
                query_pages=len(probe.pages),
                items_read=sum(p[0] for p in probe.pages),
                bytes_read=sum(p[1] for p in probe.pages),
                read_units=sum(read_units(b, c) for _, b, c in probe.pages),
                send_batch_calls=tick_calls.get("sqs.SendMessageBatch", 0),
                messages_on_queue=on_queue,
                send_concurrency=concurrency,
                log_line_bytes=max((len(x) for x in tick_log.getvalue().splitlines()), default=0),
                estimate_seconds=round(estimate, 2),
                timeout_seconds=tick_timeout,
                memory_mb=tick_memory,
            )

            # -- the queue, drained as the event source mapping would
            batches: list[list[dict[str, Any]]] = []
            while True:
                got = sqs.receive_message(
                    QueueUrl=stack.queue_url, MaxNumberOfMessages=WORKER_BATCH
                ).get("Messages", [])
                if not got:
                    break
                batches.append([dict(m) for m in got])
                sqs.delete_message_batch(
                    QueueUrl=stack.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(got)
                    ],
                )
            delivered = Counter(json.loads(m["Body"])["target_id"] for b in batches for m in b)
            enqueued_once = set(delivered) == set(out["enqueued"]) and all(
                c == 1 for c in delivered.values()
            )

            # -- the worker, on a sample of the batches spread over the queue
            k = min(len(batches), max(1, math.ceil(worker_sample / WORKER_BATCH)))
            picked = sorted({round(j * (len(batches) - 1) / max(1, k - 1)) for j in range(k)})
            sample = [batches[i] for i in picked]
            ids = [json.loads(m["Body"])["target_id"] for b in sample for m in b]
            desired = {tid: 2 + i % 4 for i, tid in enumerate(ids)}
            create_ecs(
                boto3.client("ecs"),
                CLUSTER,
                desired,  # every target scales the service named as it
            )
            cloudwatch = boto3.client("cloudwatch")
            written: set[str] = set()
            for i, tid in enumerate(ids):
                t = targets[tid]
                if t.forecast_key in written:
                    continue
                written.add(t.forecast_key)
                metric = t.load_metric.to_api()[0]["MetricStat"]["Metric"]
                put_series(
                    cloudwatch,
                    metric["Namespace"],
                    metric["MetricName"],
                    metric["Dimensions"],
                    _history(t, desired[tid], i),
                )
            rounds = []
            for label, at in (("first", NOW), ("steady", NOW + stack.settings.tick_seconds)):
                moment[0] = at
                rounds.append(
                    _worker_round(label, _retick(sample, at), stack.queue_url, at, latency, ctx)
                )
            worker = WorkerFigures(
                batches=len(batches),
                batch_sizes={str(s): c for s, c in sorted(Counter(map(len, batches)).items())},
                enqueued_once=enqueued_once,
                sampled_batches=len(sample),
                sampled_targets=len(ids),
                rounds=rounds,
                memory_mb=worker_memory,
                timeout_seconds=worker_timeout,
                max_concurrency=max_concurrency,
            )
        finally:
            clock.set_clock(None)
            common.reset()
            common.metrics.namespace, common.metrics.service = saved_metrics
            os.environ.pop("WORK_QUEUE_URL", None)

    fit = fit_cost(fit_samples) if fit_samples > 0 else None
    interval = stack.settings.tick_seconds
    per_target_s = worker.steady.estimate_median_ms / 1000
    due = tick.enqueued
    metric_calls = worker.steady.calls_per_target.get("cloudwatch.GetMetricData", 0.0) * due
    envelope = Envelope(
        tick_interval_seconds=interval,
        tick_headroom=round(tick.estimate_seconds / tick.timeout_seconds, 2),
        worker_seconds_per_tick=round(per_target_s * due, 1),
        worker_concurrency_needed=math.ceil(per_target_s * due / interval),
        worker_targets_per_tick_at_default=int(max_concurrency * interval / per_target_s)
        if per_target_s
        else 0,
        get_metric_data_tps=round(metric_calls / interval, 1),
        get_metric_data_quota_tps=50,
        refit_datapoints_per_tick=len({t.forecast_key for t in targets.values()})
        * HISTORY_SECONDS
        // 60,
    )
    return Report(
        targets=n,
        drivers=len(spec["drivers"]),
        solo=n - len(spec["drivers"]) * len(TIERS),
        setup_seconds=round(setup, 1),
        latency=latency,
        tick=tick,
        worker=worker,
        fit=fit,
        envelope=envelope,
    )


# -- output ----------------------------------------------------------------------------------


def render(r: Report) -> str:
    """The report as a compact two-column table."""
    t, w, e, lat = r.tick, r.worker, r.envelope, r.latency
    calls = ", ".join(f"{k} {v}" for k, v in t.calls.items())
    rows: list[tuple[str, str]] = [
        ("targets", f"{r.targets:,} ECS ({r.solo:,} solo, {r.drivers:,} drivers x 3 tiers)"),
        ("set-up (moto)", f"{r.setup_seconds} s"),
        ("", ""),
        ("TICK", ""),
        ("enqueued / invalid", f"{t.enqueued:,} / {t.invalid}"),
        ("wall time (moto)", f"{t.wall_seconds} s ({t.moto_seconds} s inside moto)"),
        ("own work", f"{t.local_seconds} s on this machine"),
        ("AWS calls", calls),
        ("DynamoDB calls", f"{t.dynamodb_calls} ({t.query_pages} Query pages)"),
        ("items / bytes read", f"{t.items_read:,} / {t.bytes_read:,}"),
        ("read capacity", f"{t.read_units:g} RCU (computed from item sizes)"),
        ("SendMessageBatch", f"{t.send_batch_calls:,} calls, {t.send_concurrency} in flight"),
        ("messages on queue", f"{t.messages_on_queue:,}"),
        ("longest log line", f"{t.log_line_bytes:,} bytes"),
        (
            "est. on AWS",
            f"{t.estimate_seconds} s of a {t.timeout_seconds} s timeout "
            f"({t.memory_mb} MB; DynamoDB {lat.dynamodb_ms:g} ms, SQS {lat.sqs_ms:g} ms a call)",
        ),
        ("", ""),
        ("WORKER", ""),
        ("batches", f"{w.batches:,} (sizes {w.batch_sizes}); each target once: {w.enqueued_once}"),
        ("sampled", f"{w.sampled_targets} targets in {w.sampled_batches} batches"),
    ]
    for rd in w.rounds:
        per_target = ", ".join(f"{k} {v:g}" for k, v in rd.calls_per_target.items())
        rows += [
            (
                f"{rd.label} tick",
                f"{rd.failed_items} failed; "
                + ", ".join(f"{k} {v}" for k, v in rd.decisions.items()),
            ),
            ("  per target (moto)", f"median {rd.median_ms} ms, p90 {rd.p90_ms} ms"),
            ("  est. on AWS", f"median {rd.estimate_median_ms} ms, p90 {rd.estimate_p90_ms} ms"),
            ("  calls per target", per_target),
        ]
    if r.fit:
        rows.append(
            ("refit, 14 days", f"median {r.fit.median_ms} ms ({r.fit.samples} fits, no moto)")
        )
    rows += [
        ("", ""),
        ("ENVELOPE (per tick)", f"{e.tick_interval_seconds} s"),
        ("tick / timeout", f"{e.tick_headroom:g}"),
        ("worker time", f"{e.worker_seconds_per_tick:g} s for {t.enqueued:,} due targets"),
        (
            "worker concurrency",
            f"{e.worker_concurrency_needed} needed; default {w.max_concurrency} serves "
            f"{e.worker_targets_per_tick_at_default:,} targets a minute",
        ),
        (
            "GetMetricData",
            f"{e.get_metric_data_tps:g} TPS vs the {e.get_metric_data_quota_tps} TPS quota",
        ),
        ("refit datapoints", f"{e.refit_datapoints_per_tick:,} if every owner refits at once"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}".rstrip() for k, v in rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scale", description=__doc__.splitlines()[0])
    p.add_argument("--targets", type=int, default=10_000)
    p.add_argument("--worker-sample", type=int, default=200, help="targets the worker runs")
    p.add_argument("--fit-samples", type=int, default=3, help="14-day refits timed (0: none)")
    p.add_argument("--ddb-latency-ms", type=float, default=Latency.dynamodb_ms)
    p.add_argument("--sqs-latency-ms", type=float, default=Latency.sqs_ms)
    p.add_argument("--other-latency-ms", type=float, default=Latency.other_ms)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    latency = Latency(args.ddb_latency_ms, args.sqs_latency_ms, args.other_latency_ms)
    report = run(args.targets, args.worker_sample, latency=latency, fit_samples=args.fit_samples)
    print(json.dumps(asdict(report), indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
