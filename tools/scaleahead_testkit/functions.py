"""The real handlers called in-process as Lambda calls them: what the demo and ``scaleahead
local`` run in place of the Lambda service, the EventBridge schedule and the SQS event source
mapping (none of which moto can run without Docker)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, TextIO

Handler = Callable[[Any, Any], Any]


def invoke(handler: Handler, event: Any, ctx: Any, log: TextIO) -> Any:
    """Call a handler as Lambda would, its stdout (JSON logs, EMF metrics) going to ``log``."""
    with contextlib.redirect_stdout(log):
        return handler(event, ctx)


def adopt_environment() -> None:
    """Lambda sets a function's environment before its module is imported, and Powertools'
    module-level Metrics reads its namespace and service then. A process that imported the
    handlers earlier (the CLI, a test) hands them the environment now set."""
    import os

    from scaleahead.handlers import common

    common.metrics.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
    common.metrics.service = os.environ.get("POWERTOOLS_SERVICE_NAME")
    common.logger.append_keys(service=os.environ.get("POWERTOOLS_SERVICE_NAME"))


def scheduled_event(now: float, region: str = "us-east-1") -> dict[str, Any]:
    """The EventBridge schedule's event for a tick at ``now``."""
    return {
        "version": "0",
        "id": f"tick-{int(now)}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/scaleahead-tick"],
        "detail": {},
    }


def _queue_arn(url: str, region: str) -> str:
    account, name = url.rstrip("/").rsplit("/", 2)[-2:]
    return f"arn:aws:sqs:{region}:{account}:{name}"


def sqs_event(
    msgs: list[dict[str, Any]], url: str, now: float, region: str = "us-east-1"
) -> dict[str, Any]:
    """The event the SQS event source mapping hands the worker for ``msgs`` (as
    ReceiveMessage returned them from the queue at ``url``), first delivery, sent at ``now``."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(now * 1000)),
                    "SenderId": "scaleahead",
                    "ApproximateFirstReceiveTimestamp": str(int(now * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": _queue_arn(url, region),
                "awsRegion": region,
            }
            for m in msgs
        ]
    }


def schedule_tick(
    tick: Handler,
    worker: Handler,
    sqs: Any,
    url: str,
    ctx: Any,
    now: float,
    log: TextIO,
    region: str = "us-east-1",
) -> int:
    """One schedule tick: the tick function, then the worker on what it enqueued, in batches
    of ten as the event source mapping delivers them. Returns the work items handled; raises
    RuntimeError when a function fails (the caller decides whether that ends the run)."""
    out = invoke(tick, scheduled_event(now, region), ctx, log)
    if out.get("status") != "ok":
        raise RuntimeError(f"tick handler failed: {out}")
    handled = 0
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return handled
        resp = invoke(worker, sqs_event(msgs, url, now, region), ctx, log)
        failed = {f["itemIdentifier"] for f in resp.get("batchItemFailures", [])}
        if failed:
            raise RuntimeError(f"worker failed on {failed}")
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)
            ],
        )
        handled += len(msgs)
        if len(msgs) < 10:
            return handled  # all that the tick enqueued has been handled
