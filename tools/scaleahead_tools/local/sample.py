"""The sample workload ``scaleahead local`` adds: the README's ``web`` service, as a team has it
on day one.

The ECS service ``prod/web`` is the resource ``examples/targets.yaml`` names, so the README's
commands work against it as written. It is left the way it would be found in a real account:
*not* tagged ``scaleahead:managed`` and still driven by an Application Auto Scaling target
tracking policy, so ``targets apply`` meets both refusals and ``--tag`` / ``--take-over`` are
rehearsed. Its load balancer's ``RequestCount`` holds a few days of real traffic (the NASA web
server's per-minute requests, July 1995; ``traces/``), and Container Insights'
``RunningTaskCount`` holds the task count that policy kept (``tracked``), so
``suggest`` and ``backtest --from-target`` have a history to read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

from scaleahead_testkit.local_aws import REPO_ROOT, create_ecs, put_series
from scaleahead_tools.traces import load_trace

TARGET_FILE = REPO_ROOT / "examples" / "targets.yaml"
TRACE = REPO_ROOT / "traces" / "nasa_http_jul95.csv"
CLUSTER, SERVICE = "prod", "web"
# The busiest minutes (p99) ask for this many tasks of the target file's capacity_per_unit.
PEAK_TASKS = 12
# What the sample's target tracking policy keeps one task at: a share of what it serves.
TRACKED_SHARE = 0.75
# Target tracking's alarms: datapoints above the target to scale out, below 90 % to scale in.
SCALE_OUT_POINTS, SCALE_IN_POINTS = 3, 15
MIN_TASKS, MAX_TASKS = 2, 40
POLICY = "web-cpu-target-tracking"


@dataclass(frozen=True)
class Sample:
    target: dict[str, Any]  # the target file's entry for ``web``
    load: list[tuple[float, float]]  # (minute start, requests per minute)
    running: list[tuple[float, float]]  # (minute start, tasks running)


def example_target() -> dict[str, Any]:
    doc = yaml.safe_load(TARGET_FILE.read_text())
    [web] = [t for t in doc["targets"] if t["id"] == "web"]
    return dict(web)


def tracked(load: list[tuple[float, float]], per_unit: float) -> list[int]:
    """The task count an Application Auto Scaling target tracking policy keeps at
    ``TRACKED_SHARE`` of what a task serves, as AWS documents its alarms: scale out after 3
    one-minute datapoints above the target, scale in after 15 below 90 % of it, each time to
    the count that brings the utilisation back to the target."""
    target = per_unit * TRACKED_SHARE
    n, high, low = MIN_TASKS, 0, 0
    out = []
    for _, value in load:
        per_task = value / n
        high = high + 1 if per_task > target else 0
        low = low + 1 if per_task < 0.9 * target else 0
        if high >= SCALE_OUT_POINTS or low >= SCALE_IN_POINTS:
            n = min(MAX_TASKS, max(MIN_TASKS, math.ceil(value / target)))
            high = low = 0
        out.append(n)
    return out


def history(now: float, days: float, per_unit: float) -> Sample:
    """``days`` of the trace ending at the last whole minute before ``now``, scaled so that its
    p99 needs ``PEAK_TASKS`` tasks, and the task count target tracking would have kept."""
    values = load_trace(TRACE).values[: int(days * 1440)]
    scale = PEAK_TASKS * per_unit / sorted(values)[int(0.99 * (len(values) - 1))]
    end = int(now) // 60 * 60
    start = end - len(values) * 60
    load = [(start + 60.0 * i, v * scale) for i, v in enumerate(values)]
    running = [(t, float(n)) for (t, _), n in zip(load, tracked(load, per_unit), strict=True)]
    return Sample(example_target(), load, running)


def create(clients: Any, now: float, days: float) -> Sample:
    """The service, its Application Auto Scaling, and its metrics' history on the server."""
    target = example_target()
    sample = history(now, days, float(target["capacity_per_unit"]))
    create_ecs(clients("ecs"), CLUSTER, {SERVICE: int(sample.running[-1][1])}, tagged=False)
    aas = clients("application-autoscaling")
    resource_id = f"service/{CLUSTER}/{SERVICE}"
    aas.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=MIN_TASKS,
        MaxCapacity=MAX_TASKS,
    )
    aas.put_scaling_policy(
        PolicyName=POLICY,
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 100 * TRACKED_SHARE,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
        },
    )
    cw = clients("cloudwatch")
    metric = target["load_metric"]["queries"][0]["MetricStat"]["Metric"]
    put_series(cw, metric["Namespace"], metric["MetricName"], metric["Dimensions"], sample.load)
    put_series(
        cw,
        "ECS/ContainerInsights",
        "RunningTaskCount",
        [{"Name": "ClusterName", "Value": CLUSTER}, {"Name": "ServiceName", "Value": SERVICE}],
        sample.running,
    )
    return sample
