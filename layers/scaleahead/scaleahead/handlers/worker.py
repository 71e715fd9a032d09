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
from dataclasses import asdict
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
from scaleahead.domain.work_item import MalformedWork, parse_work_item
from scaleahead.handlers.common import (
    COLD_START_METRIC,
    logger,
    metrics,
    runtime,
    tracer,
)
from scaleahead.service.worker import Outcome, Skipped, process_target, read_ahead
from scaleahead.store.records import record_to_dict

# A batch whose every item failed is reported like any other (each item listed as failed), not
# raised: SQS redelivers the same items either way, and FailedWorkItems counts them, where a raise
# would count a batch of one transient failure as a function error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def parse_work(body: Any, now: float | None = None) -> dict[str, Any]:
    """The work item in ``body`` as the tick wrote it (``{"target_id", "tick"}``), or
    ``MalformedWork`` with the reason (``domain.work_item``)."""
    return parse_work_item(body, now).model_dump()


def worker_response(outcome: Outcome) -> dict[str, Any]:
    """One item's answer: why it was skipped, or its decision record as the store keeps it."""
    if isinstance(outcome, Skipped):
        return {k: v for k, v in asdict(outcome).items() if v is not None}
    return record_to_dict(outcome)


@tracer.capture_method(capture_response=False)
def record_handler(record: SQSRecord, now: float | None = None) -> dict[str, Any]:
    """One work item, planned as of ``now`` (the batch's start; the clock when not given).

    One X-Ray subsegment per item, annotated with the target (searchable in X-Ray); the AWS
    calls inside it are subsegments of their own (Powertools patches botocore)."""
    now = clock.now() if now is None else now
    try:
        body = record.raw_event.get("body")  # absent in a hand-made event: refused below
        work = parse_work_item(body, now)
    except MalformedWork as err:
        # Retrying cannot make it valid: recorded, and acknowledged so it fails alone.
        logger.error("rejected work item", extra={"reason": str(err)[:1000]})
        runtime().store.record_rejected(now, f"worker: {err}", body)
        return {"status": "rejected", "reason": str(err)}
    tracer.put_annotation(key="target", value=work.target_id)
    return worker_response(process_target(runtime(), work.target_id, now, tick=work.tick))


def _target_ids(records: list[Any], now: float) -> list[str]:
    """The targets the batch names; items that do not parse are left to ``record_handler``,
    which records them, so they never reach the batch's shared reads."""
    ids = []
    for r in records:
        try:
            body = r.get("body") if isinstance(r, dict) else None
            ids.append(parse_work_item(body, now).target_id)
        except MalformedWork:
            continue
    return ids


@logger.inject_lambda_context(correlation_id_path="Records[0].messageId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=COLD_START_METRIC)
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
    ids = _target_ids(usable, now)
    with rt.metrics.shared_reads(), rt.store.shared_reads(ids):
        read_ahead(rt, ids, now)
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
