"""What the three functions share: Powertools' logger, tracer and metrics, and the runtime.

The runtime (clients, store, adapters) is built on first use and kept for the life of the
execution environment, so warm invocations pay for none of it. ``reset()`` lets the tests and
the demo start over against a fresh moto backend.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from scaleahead.aws import clients
from scaleahead.domain.target import Target
from scaleahead.service.runtime import Runtime
from scaleahead.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

_runtime: Runtime | None = None


# The per-target EMF metrics each decision publishes (namespace $POWERTOOLS_METRICS_NAMESPACE,
# dimensions service and Target) and the decision field each is read from. The dashboard in
# template.yaml plots these names; tests/test_dashboard.py keeps the two in step.
DECISION_METRICS: dict[str, tuple[str, MetricUnit]] = {
    "ForecastLoad": ("inputs.forecast_now", MetricUnit.Count),
    "ForecastUpperLoad": ("inputs.forecast_upper_now", MetricUnit.Count),
    "ObservedLoad": ("inputs.observed_load", MetricUnit.Count),
    "PlannedCapacity": ("inputs.plan", MetricUnit.Count),
    "ActualCapacity": ("before", MetricUnit.Count),
    "DesiredCapacity": ("after", MetricUnit.Count),
    "ForecastErrorPercent": ("inputs.forecast_error", MetricUnit.Percent),
}
# Counted per decision: Actions when capacity changed, NotScaled (also dimensioned by Reason)
# when it did not.
ACTIONS_METRIC = "Actions"
NOT_SCALED_METRIC = "NotScaled"


def _field(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def observe_decision(target: Target, record: dict[str, Any]) -> None:
    """One structured log line and EMF blobs per decision, dimensioned by target.

    Each blob is flushed at once (not batched into the handler's ``metrics``) because the
    handler's dimensions are per function, these per target.
    """
    logger.info(
        "decision",
        extra={
            "target": target.id,
            "kind": target.kind.value,
            "before": record.get("before"),
            "after": record.get("after"),
            "action": record.get("action"),
            "executed": record.get("executed"),
            "reason": record.get("reason"),
            "why": record.get("message"),
        },
    )
    emf = AmazonCloudWatchEMFProvider(namespace=metrics.namespace, service=metrics.service)
    emf.add_dimension(name="Target", value=target.id)
    sent = 0
    for name, (path, unit) in DECISION_METRICS.items():
        value = _field(record, path)
        if unit is MetricUnit.Percent and isinstance(value, int | float):
            value = 100 * value
        if isinstance(value, int | float) and not isinstance(value, bool):
            emf.add_metric(name=name, unit=unit, value=float(value))
            sent += 1
    if record.get("executed"):
        emf.add_metric(name=ACTIONS_METRIC, unit=MetricUnit.Count, value=1)
        sent += 1
    if sent:  # a decision that failed before reading anything has no figure to send
        emf.flush_metrics()
    if not record.get("executed"):
        why = AmazonCloudWatchEMFProvider(namespace=metrics.namespace, service=metrics.service)
        why.add_dimension(name="Target", value=target.id)
        why.add_dimension(name="Reason", value=str(record.get("reason")))
        why.add_metric(name=NOT_SCALED_METRIC, unit=MetricUnit.Count, value=1)
        why.flush_metrics()


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime.from_settings(Settings.from_env(), on_decision=observe_decision)
    return _runtime


def reset() -> None:
    """Forget the runtime and clients (tests and the demo start a fresh moto backend)."""
    global _runtime
    _runtime = None
    clients.reset()
