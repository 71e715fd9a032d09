"""WorkerFunction: one SQS batch of work items, partial failures reported per record.

Duplicate deliveries are dropped by the target's state (its last handled tick, checked under
the lease) rather than by the idempotency table: the check is free where the table would cost
two writes per target per minute, which at 10,000 targets is most of the bill.

A malformed message is recorded and dropped (a retry cannot fix it); a failure while working
on a valid one fails that record alone, so SQS redelivers it and, after three tries, parks it
in the dead-letter queue.
"""

from __future__ import annotations

import functools
import json
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
from scaleahead.handlers.common import (
    logger,
    metrics,
    runtime,
    tracer,
)
from scaleahead.service.worker import process_target

processor = BatchProcessor(event_type=EventType.SQS)

# A work item older than this is left to the next tick: acting on a stale tick after a
# backlog would only repeat work that a fresher message already asks for.
STALE_AFTER_SECONDS = 600


class MalformedWork(ValueError):
    pass


def parse_work(body: str) -> dict[str, Any]:
    try:
        work = json.loads(body)
    except json.JSONDecodeError:
        raise MalformedWork("work message is not JSON") from None
    if not isinstance(work, dict):
        raise MalformedWork("work message must be a JSON object")
    tid, tick = work.get("target_id"), work.get("tick")
    if not isinstance(tid, str) or not tid:
        raise MalformedWork("work message needs a string target_id")
    if not isinstance(tick, int) or isinstance(tick, bool):
        raise MalformedWork("work message needs an integer tick (epoch seconds)")
    return {"target_id": tid, "tick": tick}


@tracer.capture_method(capture_response=False)
def record_handler(record: SQSRecord, now: float | None = None) -> dict[str, Any]:
    """One work item, planned as of ``now`` (the batch's start; the clock when not given).

    One X-Ray subsegment per item, annotated with the target (searchable in X-Ray); the AWS
    calls inside it are subsegments of their own (Powertools patches botocore)."""
    now = clock.now() if now is None else now
    try:
        work = parse_work(record.body)
    except MalformedWork as err:
        logger.error("rejected work item", extra={"reason": str(err)})
        runtime().store.record_rejected(now, f"worker: {err}", record.body)
        return {"status": "rejected", "reason": str(err)}
    tracer.put_annotation(key="target", value=work["target_id"])
    if now - work["tick"] > STALE_AFTER_SECONDS:
        logger.warning("stale work item skipped", extra=work)
        return {"status": "stale", **work}
    return process_target(runtime(), work["target_id"], now, tick=work["tick"])


def _target_ids(records: list[Any]) -> list[str]:
    """The targets the batch names (malformed items are left to ``record_handler``)."""
    ids = []
    for r in records:
        try:
            ids.append(parse_work(str(r.get("body", "")))["target_id"])
        except (MalformedWork, AttributeError):
            continue
    return ids


@logger.inject_lambda_context(correlation_id_path="Records[0].messageId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    metrics.add_metric(
        name="WorkItems", unit=MetricUnit.Count, value=len(records) if records else 0
    )
    # One "now" for the whole batch, so the targets of one driver read its load once; their
    # definitions and forecasts are read ahead in one BatchGetItem each.
    now = clock.now()
    rt = runtime()
    with rt.metrics.shared_reads(), rt.store.shared_reads(_target_ids(records or [])):
        response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
            event=event,
            record_handler=functools.partial(record_handler, now=now),
            processor=processor,
            context=context,
        )
    # A failed item fails the item, not the invocation, so AWS/Lambda's Errors never sees it.
    failed = len(response.get("batchItemFailures", []))
    if failed:
        metrics.add_metric(name="FailedWorkItems", unit=MetricUnit.Count, value=failed)
    return response
