"""Count every AWS call the code makes, by service and operation, through botocore's own
event hooks: what a bill or a rate limit sees, not what the code intends.

``counting()`` registers a ``before-call`` handler on every client created while it is open
(each botocore client copies its session's event emitter when it is made, so the hook is put on
each one as it is created); it resets ``scaleahead.aws.clients`` on entry and exit, so the
functions' cached clients are made again under it and none outlives it. A call is counted once,
as the code makes it; botocore's retries of a throttled call are not (moto throttles nothing).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import botocore.session

from scaleahead.aws import clients


@dataclass
class Calls:
    """Calls (``service.Operation`` -> count) and, for ``GetMetricData``, the metric queries
    that return data (CloudWatch bills per metric requested)."""

    calls: Counter[str] = field(default_factory=Counter)
    metric_queries: int = 0
    # Wall time spent inside the calls (moto's work, in-process): what a cost model subtracts
    # from a handler's time before adding AWS's own latency per call.
    seconds: float = 0.0
    # DynamoDB request units, estimated from the bytes of each request and response (what
    # on-demand capacity bills): see ``_request_units``.
    read_units: float = 0.0
    write_units: float = 0.0

    def total(self, prefix: str = "") -> int:
        return sum(n for k, n in self.calls.items() if k.startswith(prefix))

    def clear(self) -> None:
        self.calls.clear()
        self.metric_queries = 0
        self.seconds = 0.0
        self.read_units = 0.0
        self.write_units = 0.0


def _service(model: Any) -> str:
    return str(model.service_model.service_name)


WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def _request_units(op: str, sent: int, received: int, consistent: bool) -> tuple[float, float]:
    """(read, write) request units of one DynamoDB call, from its bytes: a write costs one unit
    per KB written (the request's JSON stands for the item, a slight overestimate), a
    transaction twice; a read one unit per 4 KB returned, half for an eventually consistent
    read. DynamoDB rounds each item up, so a batch of small items costs more than this says:
    the estimate counts at least one unit per call."""
    if op in WRITES:
        units = max(1.0, math.ceil(sent / 1024))
        return 0.0, units * (2 if op.startswith("Transact") else 1)
    if op in READS:
        units = max(1.0, math.ceil(received / 4096))
        if op.startswith("Transact"):
            return units * 2, 0.0
        return (units if consistent else units / 2), 0.0
    return 0.0, 0.0


@contextmanager
def counting() -> Iterator[Calls]:
    """Count the calls of every client made inside the block."""
    seen = Calls()
    original = botocore.session.Session.create_client

    started: list[tuple[float, int, bool]] = []

    def on_call(model: Any, params: dict[str, Any], **_: Any) -> None:
        seen.calls[f"{_service(model)}.{model.name}"] += 1
        body = params.get("body", b"")
        raw = body if isinstance(body, bytes) else str(body).encode()
        started.append((time.perf_counter(), len(raw), b'"ConsistentRead": true' in raw))

    def on_done(model: Any, http_response: Any = None, **_: Any) -> None:
        if not started:
            return
        at, sent, consistent = started.pop()
        seen.seconds += time.perf_counter() - at
        if _service(model) == "dynamodb":
            received = len(getattr(http_response, "content", b"") or b"")
            r, w = _request_units(model.name, sent, received, consistent)
            seen.read_units += r
            seen.write_units += w

    def on_params(params: dict[str, Any], **_: Any) -> None:
        # before-parameter-build.cloudwatch.GetMetricData: the API's own parameters
        seen.metric_queries += sum(
            1 for q in params.get("MetricDataQueries", []) if q.get("ReturnData", True)
        )

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        made.meta.events.register("before-call", on_call, unique_id="scaleahead-count-call")
        made.meta.events.register("after-call", on_done, unique_id="scaleahead-count-done")
        made.meta.events.register("after-call-error", on_done, unique_id="scaleahead-count-error")
        made.meta.events.register(
            "before-parameter-build.cloudwatch.GetMetricData",
            on_params,
            unique_id="scaleahead-count-metrics",
        )
        return made

    clients.reset()
    with mock.patch.object(botocore.session.Session, "create_client", create_client):
        try:
            yield seen
        finally:
            clients.reset()
