"""What the three functions share: Powertools' logger, tracer and metrics, and the runtime.

The runtime (clients, store, adapters: ``wiring``) is built on first use and kept for the life
of the execution environment, so warm invocations pay for none of it. ``reset()`` lets the tests and
the demo start over against a fresh moto backend.

The alarm function's cold import is held to 1.2 times ``import boto3`` (issue 15), so nothing
here loads what the first alarm does not need: the Tracer is made on first use
(``lazy_tracer``), the wiring (every kind's adapter module) is imported by ``runtime()``, and
the target model (pydantic) only for type checking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from scaleahead.aws import clients
from scaleahead.domain.record import DecisionRecord, decision_line, metric_names, published
from scaleahead.handlers.lazy_tracer import LazyTracer
from scaleahead.settings import MetricsLevel, Settings

if TYPE_CHECKING:
    from scaleahead.domain.target import Target
    from scaleahead.service.runtime import Runtime
    from scaleahead.store import Store

logger = Logger()
tracer = LazyTracer()
metrics = Metrics()
# Powertools prints its ColdStart metric through single_metric, which does not ask whether
# metrics are disabled: at MetricsLevel none (POWERTOOLS_METRICS_DISABLED) the handlers do not
# ask for it, or "no custom metric" would still be three ($0.90 a month).
COLD_START_METRIC = not is_metrics_disabled()

# The figures a decision reports (``domain.record``): fields of its "decision" log line at
# every MetricsLevel (the dashboard's per-target widgets query them with Logs Insights) and, at
# per-target, EMF metrics too (namespace $POWERTOOLS_METRICS_NAMESPACE, dimensions service and
# Target). tests/test_dashboard.py keeps the dashboard in step with these names.
DECISION_METRICS: dict[str, MetricUnit] = {
    name: MetricUnit(unit) for name, unit in metric_names().items()
}
# Counted per decision: Actions when capacity changed, NotScaled when it did not. At fleet and
# per-target level both are fleet totals (dimension service); per-target adds each with a
# Target dimension (NotScaled also by Reason).
ACTIONS_METRIC = "Actions"
NOT_SCALED_METRIC = "NotScaled"


def observe_decision(
    target: Target, record: DecisionRecord, level: MetricsLevel = MetricsLevel.FLEET
) -> None:
    """One structured log line per decision, and the metrics ``level`` asks for.

    The fleet counts go into the handler's ``metrics`` (one EMF blob per invocation, however
    many decisions it made); the per-target blobs are flushed at once, since their dimensions
    are per target, not per function.
    """
    logger.info(
        "decision",
        extra={"target": target.id, "kind": target.kind.value, **decision_line(record)},
    )
    if level is MetricsLevel.NONE:
        return
    metrics.add_metric(
        name=ACTIONS_METRIC if record.executed else NOT_SCALED_METRIC,
        unit=MetricUnit.Count,
        value=1,
    )
    if level is not MetricsLevel.PER_TARGET:
        return
    emf = AmazonCloudWatchEMFProvider(namespace=metrics.namespace, service=metrics.service)
    emf.add_dimension(name="Target", value=target.id)
    sent = 0
    for name, unit, value in published(record):
        emf.add_metric(name=name, unit=MetricUnit(unit), value=value)
        sent += 1
    if record.executed:
        emf.add_metric(name=ACTIONS_METRIC, unit=MetricUnit.Count, value=1)
        sent += 1
    if sent:  # a decision that failed before reading anything has no figure to send
        emf.flush_metrics()
    if not record.executed:
        why = AmazonCloudWatchEMFProvider(namespace=metrics.namespace, service=metrics.service)
        why.add_dimension(name="Target", value=target.id)
        why.add_dimension(name="Reason", value=record.reason.value)
        why.add_metric(name=NOT_SCALED_METRIC, unit=MetricUnit.Count, value=1)
        why.flush_metrics()


_runtime: Runtime[Store] | None = None


def runtime() -> Runtime[Store]:
    global _runtime
    if _runtime is None:
        from scaleahead.handlers.wiring import build_runtime

        settings = Settings.from_env()
        level = settings.metrics_level
        _runtime = build_runtime(
            settings, on_decision=lambda target, record: observe_decision(target, record, level)
        )
    return _runtime


def reset() -> None:
    """Forget the runtime and clients (tests and the demo start a fresh moto backend)."""
    global _runtime
    _runtime = None
    clients.reset()
