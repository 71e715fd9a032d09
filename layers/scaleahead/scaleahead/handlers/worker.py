"""WorkerFunction: one SQS batch of work items, partial failures reported per record.

Duplicate deliveries are dropped by the target's state (its last handled tick, checked under
the lease) rather than by the idempotency table: the check is free where the table would cost
two writes per target per minute, which at 10,000 targets is most of the bill.

A malformed message (or one stamped in the future, or too old to be an honest redelivery) is
recorded and dropped: a retry cannot fix it. A failure while working on a valid one fails that
record alone, so SQS redelivers it and, after three tries, parks it in the dead-letter queue;
the age bound (``domain.timing``) is longer than those three tries take, so a failing item
always gets there rather than being dropped as old.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from scaleahead import clock
from scaleahead.domain.target import TARGET_ID
from scaleahead.domain.timing import untrusted_time
from scaleahead.handlers.common import (
    logger,
    metrics,
    runtime,
    tracer,
)
from scaleahead.service.worker import process_target

# A batch whose every item failed is reported like any other (each item listed as failed), not
# raised: SQS redelivers the same items either way, and FailedWorkItems counts them, where a raise
# would count a batch of one transient failure as a function error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# A work item is ``{"target_id": ..., "tick": ...}``: some 60 bytes. Anything far larger is not
# one of ours, and is refused before it is parsed (SQS accepts 256 KB).
MAX_WORK_BYTES = 1024


class MalformedWork(ValueError):
    pass


def parse_work(body: Any, now: float | None = None) -> dict[str, Any]:
    """One work item, bounded and checked on its own, or ``MalformedWork`` with the reason.

    Everything a poison message could break is checked here, before any read shared with the
    rest of the batch: the size, the nesting (a deep body fails ``json.loads`` with
    RecursionError), the target id (DynamoDB refuses keys over 1,024 bytes, and would fail the
    batch's one BatchGetItem), and, given ``now``, the tick's time.
    """
    if not isinstance(body, str):
        raise MalformedWork("work message has no text body")
    if len(body.encode("utf-8", "surrogatepass")) > MAX_WORK_BYTES:
        raise MalformedWork(
            f"work message of {len(body)} characters; a work item is under {MAX_WORK_BYTES} bytes"
        )
    try:
        work = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        raise MalformedWork("work message is not JSON") from None
    if not isinstance(work, dict):
        raise MalformedWork("work message must be a JSON object")
    tid, tick = work.get("target_id"), work.get("tick")
    if not isinstance(tid, str) or not tid:
        raise MalformedWork("work message needs a string target_id")
    if not TARGET_ID.fullmatch(tid):
        raise MalformedWork(f"work message names no valid target id: {tid[:80]!r}")
    if not isinstance(tick, int) or isinstance(tick, bool):
        raise MalformedWork("work message needs an integer tick (epoch seconds)")
    if now is not None:
        try:
            at = float(tick)
        except OverflowError:  # an int past 1e308
            at = math.copysign(math.inf, tick)
        untrusted = untrusted_time(at, now, "tick")
        if untrusted:
            raise MalformedWork(f"work item for {tid}: {untrusted}")
    return {"target_id": tid, "tick": tick}


@tracer.capture_method(capture_response=False)
def record_handler(record: SQSRecord, now: float | None = None) -> dict[str, Any]:
    """One work item, planned as of ``now`` (the batch's start; the clock when not given).

    One X-Ray subsegment per item, annotated with the target (searchable in X-Ray); the AWS
    calls inside it are subsegments of their own (Powertools patches botocore)."""
    now = clock.now() if now is None else now
    try:
        body = record.raw_event.get("body")  # absent in a hand-made event: refused below
        work = parse_work(body, now)
    except MalformedWork as err:
        # Retrying cannot make it valid: recorded, and acknowledged so it fails alone.
        logger.error("rejected work item", extra={"reason": str(err)[:1000]})
        runtime().store.record_rejected(now, f"worker: {err}", body)
        return {"status": "rejected", "reason": str(err)}
    tracer.put_annotation(key="target", value=work["target_id"])
    return process_target(runtime(), work["target_id"], now, tick=work["tick"])


def _target_ids(records: list[Any], now: float) -> list[str]:
    """The targets the batch names; items that do not parse are left to ``record_handler``,
    which records them, so they never reach the batch's shared reads."""
    ids = []
    for r in records:
        try:
            ids.append(parse_work(r.get("body") if isinstance(r, dict) else None, now)["target_id"])
        except MalformedWork:
            continue
    return ids


@logger.inject_lambda_context(correlation_id_path="Records[0].messageId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # One "now" for the whole batch, so the targets of one driver read its load once; their
    # definitions and forecasts are read ahead in one BatchGetItem each.
    now = clock.now()
    rt = runtime()
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        reason = "worker: expected an SQS event with a non-empty list of Records"
        logger.error("rejected event", extra={"reason": reason})
        rt.store.record_rejected(now, reason, event)
        return {"batchItemFailures": []}
    # A record that is not an object has no messageId to report it by: refused on its own, so
    # the others are processed.
    usable = []
    for r in records:
        if isinstance(r, dict) and isinstance(r.get("messageId"), str):
            usable.append(r)
        else:
            reason = "worker: an SQS record that is not an object with a messageId"
            rt.store.record_rejected(now, reason, r)
    metrics.add_metric(name="WorkItems", unit=MetricUnit.Count, value=len(records))
    if not usable:
        return {"batchItemFailures": []}
    with rt.metrics.shared_reads(), rt.store.shared_reads(_target_ids(usable, now)):
        response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
            event={**event, "Records": usable},
            record_handler=functools.partial(record_handler, now=now),
            processor=processor,
            context=context,
        )
    # A failed item fails the item, not the invocation, so AWS/Lambda's Errors never sees it.
    failed = len(response.get("batchItemFailures", []))
    if failed:
        metrics.add_metric(name="FailedWorkItems", unit=MetricUnit.Count, value=failed)
    return response
