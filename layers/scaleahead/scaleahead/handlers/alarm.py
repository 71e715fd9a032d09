"""AlarmFunction: CloudWatch alarm state changes from EventBridge, a Lambda action or SNS.

A payload that is no alarm, or an alarm from another account or region, is refused, recorded
and answered with the reason; it is never retried, since retrying cannot make it valid. Each
state change in a batch is judged on its own. Repeated deliveries of one change (three channels,
Lambda's retries) are recognised against the alarm episode on record (``service.alarm``), so no
idempotency table is needed: its records expired after an hour, and its keys could not see that
two channels stamp one change a few hundred milliseconds apart.

This is the latency-critical function, so its cold import is held to 1.2 times ``import boto3``
(issue 15; ``python -m scaleahead_tools.perf.imports`` measures it): no pydantic (the target is
read from its compact record, ``domain.target_record``), no numpy, and the X-Ray SDK loaded by
the first event (``handlers.lazy_tracer``). ``tests/test_alarm_import.py`` keeps it that way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from scaleahead import clock
from scaleahead.domain.alarm_events import AlarmEventError, AlarmSignal, parse_deliveries
from scaleahead.handlers.common import COLD_START_METRIC, logger, metrics, runtime, tracer
from scaleahead.service.alarm import AlarmOutcome, handle_signal
from scaleahead.store.records import record_to_dict

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def stack_origin(context: LambdaContext) -> tuple[str | None, str | None]:
    """(account, region) of this function, from its own ARN: what every alarm must match."""
    arn = str(getattr(context, "invoked_function_arn", "") or "")
    parts = arn.split(":")
    if len(parts) >= 5 and parts[0] == "arn" and parts[2] == "lambda":
        return parts[4] or None, parts[3] or None
    return None, None


def alarm_response(outcome: AlarmOutcome) -> dict[str, Any]:
    """The answer for one state change: its status and why, with the decision record in the
    form the store keeps it (what ``scaleahead explain`` shows)."""
    out: dict[str, Any] = {"status": outcome.status}
    if outcome.reason:
        out["reason"] = outcome.reason
    if outcome.target_id is not None:
        out["target_id"] = outcome.target_id
    if outcome.record is not None:
        out.update(record_to_dict(outcome.record))
    return out


@tracer.capture_method(capture_response=False)
def _handle(signal: AlarmSignal, account: str | None, region: str | None) -> dict[str, Any]:
    """One alarm state change: its own X-Ray subsegment, annotated with the alarm."""
    tracer.put_annotation(key="alarm", value=signal.alarm_name[:250])
    out = handle_signal(runtime(), signal, clock.now(), account=account, region=region)
    return alarm_response(out)


def _reject(now: float, reason: str, payload: Any) -> dict[str, Any]:
    logger.error("rejected event", extra={"reason": reason[:1000]})
    runtime().store.record_rejected(now, f"alarm function: {reason}", payload)
    metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
    return {"status": "rejected", "reason": reason}


@logger.inject_lambda_context(
    correlation_id_path="id || Records[0].Sns.MessageId || alarmArn", clear_state=True
)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=COLD_START_METRIC)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = clock.now()
    try:
        deliveries = parse_deliveries(event)
    except AlarmEventError as err:
        return _reject(now, str(err), event)
    account, region = stack_origin(context)
    metrics.add_metric(name="AlarmSignals", unit=MetricUnit.Count, value=len(deliveries))
    results = []
    for item in deliveries:
        if isinstance(item, AlarmEventError):
            results.append(_reject(now, str(item), event))
        else:
            results.append(_handle(item, account, region))
    return {"status": "ok", "results": results}
