"""TickFunction: fan the due targets out onto the work queue, one message each."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from scaleahead import clock
from scaleahead.handlers.common import COLD_START_METRIC, logger, metrics, runtime, tracer
from scaleahead.service.tick import run_tick


def _scheduled(event: EventBridgeEvent) -> bool:
    """Whether ``event`` is the schedule's. The data class reads a key only when asked (and
    checks nothing), so a payload that is no object, or has no detail-type, is refused here."""
    if not isinstance(event.raw_event, dict):
        return False
    try:
        return event.detail_type == "Scheduled Event"
    except KeyError:
        return False


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=COLD_START_METRIC)
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    now = clock.now()
    if not _scheduled(event):
        reason = "tick function: expected an EventBridge 'Scheduled Event'"
        logger.error("rejected event", extra={"reason": reason})
        runtime().store.record_rejected(now, reason, event.raw_event)
        return {"status": "rejected", "reason": reason}
    result = run_tick(runtime(), now)
    metrics.add_metric(name="TargetsEnqueued", unit=MetricUnit.Count, value=len(result.enqueued))
    if result.invalid:
        metrics.add_metric(name="InvalidTargets", unit=MetricUnit.Count, value=len(result.invalid))
    logger.info("tick", extra=tick_summary(result.__dict__))
    return {"status": "ok", **result.__dict__}


# Ids named in the tick's log line at most; past it, the count says the rest.
LOGGED_IDS = 20


def tick_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The tick's log line: counts, and the ids only of what needs a look (invalid, disabled),
    a few at most. Every due target's id in one line was 130 KB at 10,000 targets: paid for
    each minute, and past CloudWatch Logs' 256 KB event limit near 20,000."""
    out: dict[str, Any] = {"tick": result["tick"]}
    for name in ("enqueued", "resting", "not_due", "disabled", "invalid"):
        ids = result[name]
        out[name] = len(ids)
        if name in ("disabled", "invalid") and ids:
            out[f"{name}_ids"] = ids[:LOGGED_IDS]
    return out
