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
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)

from scaleahead.aws import clients
from scaleahead.domain.target import Target
from scaleahead.service.runtime import Runtime
from scaleahead.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

_runtime: Runtime | None = None
_persistence: dict[str, DynamoDBPersistenceLayer] = {}


def observe_decision(target: Target, record: dict[str, Any]) -> None:
    """One structured log line and one EMF blob per decision, dimensioned by target."""
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
    inputs = record.get("inputs") or {}
    for name, value in (
        ("ForecastLoad", inputs.get("forecast_upper_now")),
        ("ObservedLoad", inputs.get("observed_load")),
        ("PlannedCapacity", inputs.get("plan")),
        ("ActualCapacity", record.get("before")),
    ):
        if isinstance(value, int | float):
            emf.add_metric(name=name, unit=MetricUnit.Count, value=float(value))
    if record.get("executed"):
        emf.add_metric(name="Actions", unit=MetricUnit.Count, value=1)
    else:
        emf.add_metric(name=f"NotScaled_{record.get('reason')}", unit=MetricUnit.Count, value=1)
    emf.flush_metrics()


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime.from_settings(Settings.from_env(), on_decision=observe_decision)
    return _runtime


def persistence(function: str) -> DynamoDBPersistenceLayer:
    """One persistence layer per function: Powertools binds a layer to the first config it is
    used with, and the demo runs every function in one process."""
    if function not in _persistence:
        _persistence[function] = DynamoDBPersistenceLayer(
            table_name=runtime().settings.idempotency_table,
            boto3_client=clients.client("dynamodb"),
        )
    return _persistence[function]


def idempotency_config(key: str) -> IdempotencyConfig:
    return IdempotencyConfig(event_key_jmespath=key, expires_after_seconds=3600)


def reset() -> None:
    """Forget the runtime and clients (tests and the demo start a fresh moto backend)."""
    global _runtime
    _runtime = None
    _persistence.clear()
    clients.reset()
