"""TickFunction: fan the due targets out onto the work queue, one message each."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from scaleahead import clock
from scaleahead.handlers.common import logger, metrics, runtime, tracer
from scaleahead.service.tick import run_tick


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = clock.now()
    if not isinstance(event, dict) or event.get("detail-type") != "Scheduled Event":
        reason = "tick function: expected an EventBridge 'Scheduled Event'"
        logger.error("rejected event", extra={"reason": reason})
        runtime().store.record_rejected(now, reason, event)
        return {"status": "rejected", "reason": reason}
    result = run_tick(runtime(), now)
    metrics.add_metric(name="TargetsEnqueued", unit=MetricUnit.Count, value=len(result.enqueued))
    if result.invalid:
        metrics.add_metric(name="InvalidTargets", unit=MetricUnit.Count, value=len(result.invalid))
    logger.info("tick", extra=result.__dict__)
    return {"status": "ok", **result.__dict__}
