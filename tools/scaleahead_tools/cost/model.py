"""A measured run's use, priced by the month: pure arithmetic over ``prices``.

A ``Profile`` is what one replay measured (``cost.run``): each function's invocations, billed
seconds, AWS calls and DynamoDB units, the bytes logged, the custom metrics published and the
alarms kept, over ``minutes`` of simulated time for ``targets`` targets. ``bill`` scales it to a
month; ``project`` carries a profile to another number of targets by what scales with what: the
worker is invoked once per batch of ten work items, the tick once per tick whatever the number
of targets, each target's own reads, writes, logs and alarm scale with the targets, and the
fleet-level metrics do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from scaleahead_tools.cost import prices
from scaleahead_tools.cost.meter import FunctionUse

WORKER_BATCH = 10  # the event source mapping's BatchSize (template.yaml)


@dataclass(frozen=True)
class Profile:
    """What one replay measured."""

    name: str
    targets: int
    drivers: int
    minutes: float
    use: dict[str, FunctionUse]
    log_bytes: int
    target_metrics: int  # custom metrics with a Target dimension
    fleet_metrics: int  # custom metrics without one
    alarms: int  # managed high-load alarms
    memory_mb: dict[str, int] = field(default_factory=dict)
    traced: frozenset[str] = frozenset()
    metrics_level: str = ""
    tick_minutes: int = 1

    @property
    def ticks(self) -> float:
        return self.minutes / self.tick_minutes


@dataclass(frozen=True)
class Line:
    item: str
    monthly: float
    basis: str


def _function_lines(p: Profile, scale: float) -> list[Line]:
    out: list[Line] = []
    requests = sum(u.invocations for u in p.use.values()) * scale
    out.append(Line("Lambda requests", requests * prices.LAMBDA_REQUEST, f"{requests:,.0f}/month"))
    gb_s = (
        sum(u.billed_seconds * p.memory_mb.get(name, 512) / 1024 for name, u in p.use.items())
        * scale
    )
    out.append(Line("Lambda duration", gb_s * prices.LAMBDA_GB_SECOND, f"{gb_s:,.0f} GB-s"))
    traces = sum(u.invocations for name, u in p.use.items() if name in p.traced) * scale
    out.append(
        Line(
            "X-Ray traces",
            traces * prices.XRAY_TRACE_RECORDED,
            f"{traces:,.0f} traced ({', '.join(sorted(p.traced)) or 'none'})",
        )
    )
    queries = sum(u.metric_queries for u in p.use.values()) * scale
    out.append(
        Line(
            "CloudWatch GetMetricData",
            queries * prices.GET_METRIC_DATA_PER_METRIC,
            f"{queries:,.0f} metrics requested",
        )
    )
    cw_other = (
        sum(
            n
            for u in p.use.values()
            for call, n in u.calls.items()
            if call.startswith("cloudwatch.") and call != "cloudwatch.GetMetricData"
        )
        * scale
    )
    out.append(Line("CloudWatch other API", cw_other * prices.API_REQUEST, f"{cw_other:,.0f}"))
    rru = sum(u.read_units for u in p.use.values()) * scale
    wru = sum(u.write_units for u in p.use.values()) * scale
    out.append(
        Line(
            "DynamoDB",
            rru * prices.READ_REQUEST_UNIT + wru * prices.WRITE_REQUEST_UNIT,
            f"{rru:,.0f} RRU + {wru:,.0f} WRU",
        )
    )
    worker = p.use.get("worker", FunctionUse())
    sqs = (
        sum(n for u in p.use.values() for call, n in u.calls.items() if call.startswith("sqs."))
        # the event source's receive and delete for each batch it hands the worker
        + 2 * worker.invocations
    ) * scale
    out.append(Line("SQS", sqs * prices.SQS_REQUEST, f"{sqs:,.0f} requests"))
    logged = (
        p.log_bytes + prices.LAMBDA_REPORT_LOG_BYTES * sum(u.invocations for u in p.use.values())
    ) * scale
    gb = logged / 1e9
    out.append(
        Line(
            "CloudWatch Logs",
            gb * (prices.LOGS_INGESTED_GB + prices.LOGS_STORED_GB_MONTH * prices.LOGS_COMPRESSION),
            f"{gb * 1000:,.1f} MB",
        )
    )
    return out


def bill(p: Profile) -> list[Line]:
    """The profile's monthly cost, line by line (the stack's fixed costs apart: ``fixed``)."""
    scale = prices.MINUTES_PER_MONTH / p.minutes
    return [
        *_function_lines(p, scale),
        Line(
            "Custom metrics",
            p.target_metrics * prices.CUSTOM_METRIC_MONTH,
            f"{p.target_metrics} per-target ({p.metrics_level}; the fleet's are fixed)",
        ),
        Line("Alarms", p.alarms * prices.ALARM_MONTH, f"{p.alarms} high-load"),
    ]


def fixed(fleet_metrics: int = 0) -> list[Line]:
    """What the stack costs whatever its targets: ``fleet_metrics`` is the number of custom
    metrics without a Target dimension (counts for the whole stack) a replay saw published."""
    idle = prices.SQS_IDLE_RECEIVES_PER_MINUTE * prices.MINUTES_PER_MONTH
    return [
        Line(
            "Fleet metrics",
            fleet_metrics * prices.CUSTOM_METRIC_MONTH,
            f"{fleet_metrics} without a Target dimension",
        ),
        Line("Dashboard", prices.DASHBOARD_MONTH, "one (the first three per account are free)"),
        Line("DLQ alarms", 2 * prices.ALARM_MONTH, "two"),
        Line("SQS idle polling", idle * prices.SQS_REQUEST, f"{idle:,.0f} receives"),
    ]


def total(lines: list[Line]) -> float:
    return sum(line.monthly for line in lines)


def project(p: Profile, targets: int) -> Profile:
    """``p`` carried to ``targets`` targets with the same mix (targets per driver)."""
    k = targets / p.targets
    use: dict[str, FunctionUse] = {}
    for name, u in p.use.items():
        if name == "worker":
            # one invocation per full batch: invocations scale with the batches, the work with
            # the targets
            batches = math.ceil(targets / WORKER_BATCH) / math.ceil(p.targets / WORKER_BATCH)
            inv = u.invocations * batches
        elif name == "tick":
            inv = u.invocations  # one per tick, whatever the targets
        else:
            inv = u.invocations * k
        calls = u.calls.copy()
        for call in calls:
            if call == "sqs.SendMessageBatch":
                calls[call] = round(
                    calls[call] * math.ceil(targets / 10) / math.ceil(p.targets / 10)
                )
            elif name != "tick" or call.startswith("dynamodb."):
                calls[call] = round(calls[call] * k)
        use[name] = FunctionUse(
            invocations=round(inv),
            billed_seconds=u.billed_seconds * k,
            calls=calls,
            metric_queries=round(u.metric_queries * k),
            read_units=u.read_units * k,
            write_units=u.write_units * k,
        )
    return replace(
        p,
        name=f"{targets:,} targets",
        targets=targets,
        drivers=round(p.drivers * k),
        use=use,
        log_bytes=round(p.log_bytes * k),
        target_metrics=round(p.target_metrics * k),
        alarms=round(p.alarms * k),
    )
