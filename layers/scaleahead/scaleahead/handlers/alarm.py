"""AlarmFunction: CloudWatch alarm state changes from EventBridge, a Lambda action or SNS.

A payload that is no alarm is refused, recorded and answered with the reason; it is never
retried, since retrying cannot make it valid.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from scaleahead import clock
from scaleahead.domain.alarm_events import AlarmEventError, AlarmSignal, parse_alarm_event
from scaleahead.handlers.common import (
    idempotency_config,
    logger,
    metrics,
    persistence,
    runtime,
    tracer,
)
from scaleahead.service.alarm import handle_signal

_CONFIG = idempotency_config("event_id")


@tracer.capture_method(capture_response=False)
def _handle(signal: dict[str, Any]) -> dict[str, Any]:
    """One alarm state change: its own X-Ray subsegment, annotated with the alarm."""
    tracer.put_annotation(key="alarm", value=str(signal.get("alarm_name")))
    return handle_signal(runtime(), AlarmSignal(**signal), clock.now())


def _idempotent_handle(signal: dict[str, Any]) -> dict[str, Any]:
    fn = idempotent_function(
        data_keyword_argument="signal", config=_CONFIG, persistence_store=persistence("alarm")
    )(_handle)
    result: dict[str, Any] = fn(signal=signal)
    return result


@logger.inject_lambda_context(
    correlation_id_path="id || Records[0].Sns.MessageId || alarmArn", clear_state=True
)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = clock.now()
    try:
        signals = parse_alarm_event(event)
    except AlarmEventError as err:
        logger.error("rejected event", extra={"reason": str(err)})
        runtime().store.record_rejected(now, f"alarm function: {err}", event)
        metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
        return {"status": "rejected", "reason": str(err)}
    _CONFIG.register_lambda_context(context)
    metrics.add_metric(name="AlarmSignals", unit=MetricUnit.Count, value=len(signals))
    results = []
    for signal in signals:
        if not signal.event_id:
            results.append(_handle(signal.__dict__))
        else:
            results.append(_idempotent_handle(signal.__dict__))
    return {"status": "ok", "results": results}
