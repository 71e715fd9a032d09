"""The sample workload ``scaleahead local`` adds: the README's ``web`` service, as a team has it
on day one.

The ECS service ``prod/web`` is the resource ``examples/targets.yaml`` names, so the README's
commands work against it as written. It is left the way it would be found in a real account:
*not* tagged ``scaleahead:managed`` and still driven by an Application Auto Scaling target
tracking policy, so ``targets apply`` meets both refusals and ``--tag`` / ``--take-over`` are
rehearsed. Its load balancer's ``RequestCount`` holds a few days of real traffic (the NASA web
server's per-minute requests, July 1995; ``traces/``), and Container Insights'
``RunningTaskCount`` holds the task count that policy kept, a few minutes behind the load, so
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
# How far the tracked task count trails the load: target tracking's reaction time.
LAG_MINUTES = 4
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


def history(now: float, days: float, per_unit: float) -> Sample:
    """``days`` of the trace ending at the last whole minute before ``now``, scaled so that its
    p99 needs ``PEAK_TASKS`` tasks, and the task count target tracking would have kept."""
    values = load_trace(TRACE).values[: int(days * 1440)]
    scale = PEAK_TASKS * per_unit / sorted(values)[int(0.99 * (len(values) - 1))]
    end = int(now) // 60 * 60
    start = end - len(values) * 60
    load = [(start + 60.0 * i, v * scale) for i, v in enumerate(values)]
    tracked = per_unit * TRACKED_SHARE
    running = []
    for i in range(len(load)):
        seen = load[max(0, i - LAG_MINUTES)][1]
        running.append(
            (load[i][0], float(min(MAX_TASKS, max(MIN_TASKS, math.ceil(seen / tracked)))))
        )
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
