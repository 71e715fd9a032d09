"""Two documented extensions of moto's CloudWatch ``GetMetricData``, installed by ``install()``.

1. Speed. moto scans every stored datapoint for every period of every query
   (O(periods x datapoints)); a 14-day history at one-minute resolution takes minutes per call,
   where AWS answers in milliseconds. This indexes each metric's datapoints by time and
   aggregates each period from a bisected slice. The statistics are computed by moto's own
   ``Statistics`` class, so values are the same as moto's; one moto quirk is not copied: moto
   ignores the namespace when a query has dimensions, AWS (and this) does not.
2. Paging. moto ignores ``MaxDatapoints`` and never returns ``NextToken``; AWS pages long
   results. This honours both, so the product's paging loop runs against a real page break.

Requests still travel through moto's request dispatch (botocore serialises and validates them
and parses the responses), only the backend method behind ``GetMetricData`` changes. Metric
math expressions fall back to moto's own implementation unchanged.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, Statistics
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

_original_backend_call = CloudWatchBackend.get_metric_data
_original_response = CloudWatchResponse.get_metric_data
_INSTALLED = False


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
            ts = md.timestamp.timestamp()
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


def _fast_get_metric_data(
    self: CloudWatchBackend,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    if any("Expression" in q for q in queries) or self.aws_metric_data:
        return _original_backend_call(self, queries, start_time, end_time, scan_by)
    start_time = start_time.replace(microsecond=0)
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
            if k[0] == metric["Namespace"]
            and k[1] == metric["MetricName"]
            and (not dims or k[2] == dims)
        ]
        values: list[Any] = []
        stamps: list[datetime] = []
        t = start_time
        step = timedelta(seconds=delta)
        while t <= end_time:
            lo, hi = t.timestamp(), (t + step).timestamp()
            bucket: list[Any] = []
            for k in keys:
                times, items = idx.series[k]
                bucket.extend(items[bisect.bisect_left(times, lo) : bisect.bisect_left(times, hi)])
            if unit:
                bucket = [md for md in bucket if md.unit == unit]
            if bucket:
                stats = Statistics([stat], t)
                stats.metric_data = bucket
                values.append(stats.get_statistics_for_type(stat))
                stamps.append(stats.timestamp)
            t += step
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


def install() -> None:
    """Patch moto's CloudWatch (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    CloudWatchBackend.get_metric_data = _fast_get_metric_data  # type: ignore[method-assign]
    CloudWatchResponse.get_metric_data = _paged_response  # type: ignore[method-assign]
    _INSTALLED = True


def uninstall() -> None:
    global _INSTALLED
    CloudWatchBackend.get_metric_data = _original_backend_call  # type: ignore[method-assign]
    CloudWatchResponse.get_metric_data = _original_response  # type: ignore[method-assign]
    _INSTALLED = False
