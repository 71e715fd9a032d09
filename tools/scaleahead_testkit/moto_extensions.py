"""Documented extensions of moto, installed by ``install()``; none changes what AWS would answer.

1. Speed. moto scans every stored datapoint for every period of every query
   (O(periods x datapoints)); a 14-day history at one-minute resolution takes minutes per call,
   where AWS answers in milliseconds. This indexes each metric's datapoints by time and
   aggregates each period from a bisected slice. The statistics are computed by moto's own
   ``Statistics`` class, so values are the same as moto's; one moto quirk is not copied: moto
   ignores the namespace when a query has dimensions, sums every dimension set when a query
   has none, returns a period that starts at ``EndTime`` (data from after ``EndTime``) and
   does not round ``StartTime``; this does as AWS does on each point.
2. Paging. moto ignores ``MaxDatapoints`` and never returns ``NextToken``; AWS pages long
   results. This honours both, so the product's paging loop runs against a real page break.

3. DynamoDB ``Query`` speed. moto sorts every item of the table on every Query and then filters
   by partition key; the decision log makes that table grow by thousands of items over a demo.
   DynamoDB reads only the queried partition, and so does this: moto's own query code runs on
   the partition's items alone (results, order, paging and filters unchanged).

Requests still travel through moto's request dispatch (botocore serialises and validates them
and parses the responses), only the backend method behind ``GetMetricData`` changes. Metric
math expressions fall back to moto's own implementation unchanged.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import CloudWatchBackend, MetricDatum, Statistics
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult
from moto.dynamodb.models.table import Table

from scaleahead import clock

_original_backend_call = CloudWatchBackend.get_metric_data
_original_response = CloudWatchResponse.get_metric_data
_original_query = Table.query
_INSTALLED = False


def _epoch(dt: datetime) -> float:
    """Seconds since the epoch; moto keeps datapoint times and request times naive UTC."""
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


class _Index:
    """Datapoints per (namespace, name, dimensions), each kept sorted by timestamp."""

    def __init__(self) -> None:
        self.seen = 0
        self.source_id = 0
        self.series: dict[
            tuple[str, str, tuple[tuple[str, str], ...]], tuple[list[float], list[Any]]
        ] = {}

    def refresh(self, data: list[Any]) -> None:
        if id(data) != self.source_id or len(data) < self.seen:
            self.series.clear()
            self.seen = 0
            self.source_id = id(data)
        for md in data[self.seen :]:
            key = (md.namespace, md.name, tuple(sorted((d.name, d.value) for d in md.dimensions)))
            times, items = self.series.setdefault(key, ([], []))
            ts = _epoch(md.timestamp)
            i = bisect.bisect_right(times, ts)
            times.insert(i, ts)
            items.insert(i, md)
        self.seen = len(data)


def _index(backend: CloudWatchBackend) -> _Index:
    idx: _Index | None = getattr(backend, "_scaleahead_index", None)
    if idx is None:
        idx = _Index()
        backend._scaleahead_index = idx  # type: ignore[attr-defined]
    idx.refresh(backend.metric_data)
    return idx


_SIMPLE: dict[str, Callable[[list[float]], float]] = {
    "Sum": sum,
    "Minimum": min,
    "Maximum": max,
    "SampleCount": len,
    "Average": lambda v: sum(v) / len(v),
}


def _statistic(stat: str, bucket: list[Any], stamp: datetime) -> Any:
    """moto's own Statistics, short-cut for plain datapoints (what PutMetricData Value gives)."""
    if stat in _SIMPLE and all(type(md) is MetricDatum for md in bucket):
        return float(_SIMPLE[stat]([md.value for md in bucket]))
    stats = Statistics([stat], stamp)
    stats.metric_data = bucket
    return stats.get_statistics_for_type(stat)


def _round_start(start: datetime) -> datetime:
    """StartTime as CloudWatch rounds it: down to the minute when under 15 days old, to five
    minutes up to 63 days, to the hour beyond (GetMetricData API reference). Old by the world's
    clock (``scaleahead.clock``: a test's or the demo's simulated now, the wall clock otherwise),
    so what a read returns does not depend on the day the tests run."""
    t = _epoch(start)
    age = clock.now() - t
    unit = 60 if age < 15 * 86400 else 300 if age < 63 * 86400 else 3600
    return datetime.fromtimestamp(t - t % unit, start.tzinfo)


def _fast_get_metric_data(
    self: CloudWatchBackend,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    if any("Expression" in q for q in queries) or self.aws_metric_data:
        return _original_backend_call(self, queries, start_time, end_time, scan_by)
    start_time = _round_start(start_time.replace(microsecond=0))
    end_time = end_time.replace(microsecond=0)
    if start_time >= end_time:
        return _original_backend_call(self, queries, start_time, end_time, scan_by)
    idx = _index(self)
    results = []
    for query in queries:
        ms = query["MetricStat"]
        metric = ms["Metric"]
        dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
        stat = ms["Stat"]
        unit = ms.get("Unit")
        delta = int(ms["Period"])
        keys = [
            k
            for k in idx.series
            if k[0] == metric["Namespace"] and k[1] == metric["MetricName"] and k[2] == dims
        ]
        values: list[Any] = []
        stamps: list[datetime] = []
        t0, t_end = _epoch(start_time), _epoch(end_time)
        merged_t: list[float] = []
        merged: list[Any] = []
        for k in keys:
            times, items = idx.series[k]
            i0, i1 = bisect.bisect_left(times, t0), bisect.bisect_left(times, t_end)
            merged_t.extend(times[i0:i1])
            merged.extend(items[i0:i1])
        if len(keys) > 1:
            order = sorted(range(len(merged_t)), key=merged_t.__getitem__)
            merged_t = [merged_t[i] for i in order]
            merged = [merged[i] for i in order]
        # Walk the non-empty periods only (same buckets as moto: [t0 + n*delta, +delta)).
        i = 0
        while i < len(merged):
            n = int((merged_t[i] - t0) // delta)
            lo = t0 + n * delta
            if lo >= t_end:
                break
            j = bisect.bisect_left(merged_t, lo + delta, i)
            bucket = merged[i:j]
            i = j
            if unit:
                bucket = [md for md in bucket if md.unit == unit]
            if not bucket:
                continue
            stamp = start_time + timedelta(seconds=n * delta)
            values.append(_statistic(stat, bucket, stamp))
            stamps.append(stamp)
        if scan_by == "TimestampDescending":
            values.reverse()
            stamps.reverse()
        if query.get("ReturnData", True):
            results.append(
                {
                    "id": query["Id"],
                    "label": query.get("Label") or f"{metric['MetricName']} {stat}",
                    "values": values,
                    "timestamps": stamps,
                    "status_code": "Complete",
                }
            )
    return results


def _paged_response(self: CloudWatchResponse) -> ActionResult:
    params = self._get_params()
    scan_by = params.get("ScanBy") or "TimestampDescending"
    queries = params.get("MetricDataQueries", [])
    for n, query in enumerate(queries, start=1):
        if "MetricStat" not in query and "Expression" not in query:
            raise ValidationError(
                f"The parameter MetricDataQueries.member.{n}.MetricStat is required.\n"
            )
    results = self.cloudwatch_backend.get_metric_data(
        start_time=params["StartTime"], end_time=params["EndTime"], queries=queries, scan_by=scan_by
    )
    limit = int(params.get("MaxDatapoints") or 100_800)
    offset = int(params.get("NextToken") or 0)
    page, pos = [], 0
    for r in results:
        n = len(r["values"])
        lo = min(max(offset - pos, 0), n)
        hi = min(max(offset + limit - pos, 0), n)
        page.append({**r, "values": r["values"][lo:hi], "timestamps": r["timestamps"][lo:hi]})
        pos += n
    body: dict[str, Any] = {"MetricDataResults": page}
    if offset + limit < pos:
        body["NextToken"] = str(offset + limit)
    return ActionResult(body)


def _partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    # Table.query(hash_key, range_comparison, range_objs, limit, exclusive_start_key,
    #             scan_index_forward, projection_expressions, index_name, ...)
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name or hash_key is None or not self.range_key_attr:
        return _original_query(self, hash_key, *args, **kwargs)
    partition = list(self.items[hash_key].values()) if hash_key in self.items else []
    self.all_items = lambda: partition  # type: ignore[method-assign]
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


def install() -> None:
    """Patch moto (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    CloudWatchBackend.get_metric_data = _fast_get_metric_data  # type: ignore[method-assign]
    CloudWatchResponse.get_metric_data = _paged_response  # type: ignore[method-assign]
    Table.query = _partition_query  # type: ignore[method-assign]
    _INSTALLED = True


def uninstall() -> None:
    global _INSTALLED
    CloudWatchBackend.get_metric_data = _original_backend_call  # type: ignore[method-assign]
    CloudWatchResponse.get_metric_data = _original_response  # type: ignore[method-assign]
    Table.query = _original_query  # type: ignore[method-assign]
    _INSTALLED = False
