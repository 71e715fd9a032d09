"""CloudWatch: the load history the forecast learns from, the managed high-load alarms, and the
recent maxima of the metrics an adapter's guards read (ElastiCache's node memory and CPU)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from scaleahead.aws import clients
from scaleahead.domain.alarm_events import alarm_name

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

    from scaleahead.domain.target import Target

# GetMetricData returns at most 100,800 datapoints per call; 14 days at one minute is 20,160,
# so one page usually suffices, but the paginator follows NextToken whatever the size.
MAX_DATAPOINTS = 100_800
# GetMetricData's limit of MetricDataQueries per call.
MAX_QUERIES = 500

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricRef:
    """One CloudWatch metric: its namespace, name and dimensions ((name, value) pairs)."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...] = ()


class MetricsAdapter:
    """``cloudwatch`` is the functions' own region's client; a load metric published in another
    region (``LoadMetric.region``: CloudFront's, in us-east-1) is read with that region's
    client, made once (``clients.regional``)."""

    def __init__(self, cloudwatch: CloudWatchClient) -> None:
        self._cw = cloudwatch
        self._shared: dict[tuple[str, float], tuple[float, list[tuple[float, float]]]] | None = None

    @property
    def home_region(self) -> str:
        """The functions' region, where the managed alarms live."""
        return str(self._cw.meta.region_name)

    def _cw_for(self, region: str | None) -> CloudWatchClient:
        if region is None or region == self.home_region:
            return self._cw
        return cast("CloudWatchClient", clients.regional("cloudwatch", region))

    @staticmethod
    def _key(target: Target, queries: list[dict[str, Any]]) -> str:
        """What makes two targets' load one read: the queries and the region."""
        return json.dumps([queries, target.load_metric.region], sort_keys=True)

    @contextmanager
    def shared_reads(self) -> Iterator[None]:
        """Within the block, a load read already covered by an earlier one (same queries,
        same end, a start no earlier) is answered from it. The targets of one driver, planned
        in one batch, then read their common load once: a third of the GetMetricData calls,
        and of their cost, for a three-tier stack."""
        self._shared = {}
        try:
            yield
        finally:
            self._shared = None

    def read_ahead(self, reads: Sequence[tuple[Target, float]], end: float) -> None:
        """Within ``shared_reads``, read the load windows ``[start, end]`` of ``reads`` ahead, in
        as few GetMetricData calls as the API allows: one per load-metric period (CloudWatch
        aligns every period of a call on its StartTime), up to 500 metrics each. A worker batch
        of ten targets then makes one call where it made ten, which keeps 10,000 targets a
        minute under GetMetricData's default quota of 50 calls a second (CloudWatch bills per
        metric, so the bill is the same). Only a load metric that is one plain metric (no
        metric math, whose ids would have to be renamed inside its expressions) is read
        ahead (one call per region, too); the others, and any window not read ahead, are read
        by ``load_series`` as before. Reading ahead is an economy: a failure is logged, and
        each target reads its own."""
        if self._shared is None:
            return
        by_call: dict[tuple[int, str | None], dict[str, tuple[float, dict[str, Any]]]] = {}
        for target, start in reads:
            queries = target.load_metric.to_api()
            if len(queries) != 1 or "MetricStat" not in queries[0]:
                continue
            key = self._key(target, queries)
            if (key, end) in self._shared:
                continue
            lm = target.load_metric
            group = by_call.setdefault((lm.period_seconds, lm.region), {})
            known = group.get(key)
            if known is None or start < known[0]:
                group[key] = (start, queries[0])
        for (period, region), group in by_call.items():
            items = list(group.items())
            for first in range(0, len(items), MAX_QUERIES):
                chunk = items[first : first + MAX_QUERIES]
                since = min(start for _, (start, _) in chunk)
                queries = [
                    {**query, "Id": f"load{i}", "ReturnData": True}
                    for i, (_, (_, query)) in enumerate(chunk)
                ]
                try:
                    found = self._read_all(queries, since - since % period, end, region)
                except (ClientError, BotoCoreError) as err:
                    log.warning(
                        "reading the batch's load ahead failed, reading per target: %s", err
                    )
                    return
                for i, (key, (start, _)) in enumerate(chunk):
                    points = [
                        p
                        for p in found.get(f"load{i}", [])
                        if p[0] >= start and p[0] + period <= end
                    ]
                    self._shared[(key, end)] = (start, points)

    def load_series(self, target: Target, start: float, end: float) -> list[tuple[float, float]]:
        """(timestamp, value) of the target's load, oldest first; non-finite values dropped.

        CloudWatch starts its periods at StartTime (rounded only to the minute), so an
        unaligned start would stamp each five-minute datapoint up to four minutes early and
        every forecast built on it would be shifted by as much: the read starts at the period
        boundary (as AWS recommends, for speed too) and keeps the datapoints from ``start``.
        A period still open at ``end`` is left out: its Sum reads low until it closes (two
        minutes into a five-minute period, 40 %), which would pass for a drop in load."""
        period = target.load_metric.period_seconds
        queries = target.load_metric.to_api()
        key = (self._key(target, queries), end)
        if self._shared is not None and key in self._shared:
            since, cached = self._shared[key]
            if since <= start:
                return [p for p in cached if p[0] >= start]
        aligned = start - start % period
        found = self._read_all(queries, aligned, end, target.load_metric.region)
        points = found.get(target.load_metric.returned_id, [])
        points = [p for p in points if p[0] >= start and p[0] + period <= end]
        if self._shared is not None:
            self._shared[key] = (start, points)
        return points

    def _read_all(
        self, queries: list[dict[str, Any]], start: float, end: float, region: str | None = None
    ) -> dict[str, list[tuple[float, float]]]:
        """Each returned query's (timestamp, value) points, by Id, oldest first; non-finite
        values dropped. ``region``: where the metrics live (None: the functions' region)."""
        pages = (
            self._cw_for(region)
            .get_paginator("get_metric_data")
            .paginate(
                MetricDataQueries=cast("list[MetricDataQueryTypeDef]", queries),
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(end, UTC),
                ScanBy="TimestampAscending",
                PaginationConfig={"PageSize": MAX_DATAPOINTS},  # sent as MaxDatapoints
            )
        )
        points: dict[str, dict[float, float]] = {}
        for page in pages:
            for result in page.get("MetricDataResults", []):
                into = points.setdefault(str(result.get("Id")), {})
                for ts, v in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    if v is not None and math.isfinite(v):
                        into[ts.timestamp()] = float(v)
        return {qid: sorted(found.items()) for qid, found in points.items()}

    def maxima(
        self, metrics: Sequence[MetricRef], *, period: int, start: float, end: float
    ) -> list[float | None]:
        """The highest finite ``Maximum`` of each metric over [start, end], in the order given;
        None for a metric without a datapoint. One GetMetricData call per 500 metrics (its
        limit), each followed through its pages."""
        queries: list[dict[str, Any]] = [
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": m.namespace,
                        "MetricName": m.name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions],
                    },
                    "Period": period,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
            for i, m in enumerate(metrics)
        ]
        index = {q["Id"]: i for i, q in enumerate(queries)}
        peaks: list[float | None] = [None] * len(queries)
        paginator = self._cw.get_paginator("get_metric_data")
        for i in range(0, len(queries), MAX_QUERIES):
            chunk = queries[i : i + MAX_QUERIES]
            pages = paginator.paginate(
                MetricDataQueries=cast("list[MetricDataQueryTypeDef]", chunk),
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(end, UTC),
            )
            for page in pages:
                for result in page.get("MetricDataResults", []):
                    n = index.get(result.get("Id", ""))
                    values = [v for v in result.get("Values", []) if math.isfinite(v)]
                    if n is None or not values:
                        continue
                    known = peaks[n]
                    peaks[n] = max(values) if known is None else max(known, *values)
        return peaks

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
            Metrics=cast("list[MetricDataQueryTypeDef]", target.load_metric.to_api()),
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
            out.extend(cast("list[dict[str, Any]]", page.get("MetricAlarms", [])))
        return out
