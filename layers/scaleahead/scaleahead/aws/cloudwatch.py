"""CloudWatch: the load history the forecast learns from, and the managed high-load alarms."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from scaleahead.domain.alarm_events import alarm_name
from scaleahead.domain.target import Target

# GetMetricData returns at most 100,800 datapoints per call; 14 days at one minute is 20,160,
# so one page usually suffices, but the loop follows NextToken whatever the size.
MAX_DATAPOINTS = 100_800


class MetricsAdapter:
    def __init__(self, cloudwatch: Any) -> None:
        self._cw = cloudwatch

    def load_series(self, target: Target, start: float, end: float) -> list[tuple[float, float]]:
        """(timestamp, value) of the target's load, oldest first; non-finite values dropped."""
        queries = target.load_metric.to_api()
        want = target.load_metric.returned_id
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": datetime.fromtimestamp(start, UTC),
            "EndTime": datetime.fromtimestamp(end, UTC),
            "ScanBy": "TimestampAscending",
            "MaxDatapoints": MAX_DATAPOINTS,
        }
        points: dict[float, float] = {}
        while True:
            page = self._cw.get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                if result.get("Id") != want:
                    continue
                for ts, v in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    if v is not None and math.isfinite(v):
                        points[ts.timestamp()] = float(v)
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        return sorted(points.items())

    def put_high_load_alarm(self, target: Target, prefix: str, threshold: float) -> str:
        """Create or move the alarm that fires when load exceeds what the plan provides."""
        name = alarm_name(prefix, target.id)
        a = target.alarm
        self._cw.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=(
                f"scaleahead: load on target {target.id} above what its planned capacity "
                "serves; drives the reactive scale-out"
            ),
            ActionsEnabled=True,
            Metrics=target.load_metric.to_api(),
            Threshold=round(threshold, 6),
            ComparisonOperator="GreaterThanThreshold",
            EvaluationPeriods=a.evaluation_periods,
            DatapointsToAlarm=a.datapoints_to_alarm,
            TreatMissingData="notBreaching",
            Tags=[{"Key": "scaleahead:target", "Value": target.id}],
        )
        return name

    def delete_alarms(self, target_id: str, prefix: str) -> None:
        self._cw.delete_alarms(AlarmNames=[alarm_name(prefix, target_id)])

    def managed_alarms(self, prefix: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        paginator = self._cw.get_paginator("describe_alarms")
        for page in paginator.paginate(AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"]):
            out.extend(page.get("MetricAlarms", []))
        return out


def alarm_threshold(target: Target, desired: int) -> float:
    """Load above which the planned capacity falls short: the alarm's moving threshold."""
    return max(desired, 1) * target.capacity_per_unit * target.alarm.threshold_ratio
