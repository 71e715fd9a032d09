"""Where the ports meet their adapters: the AWS clients, the DynamoDB store and each kind's
capacity adapter, with AWS errors mapped into the ports' vocabulary (``aws.errors``).

The handlers build their runtime here, once per execution environment; so do the operator's
tools (the CLI, the demo), so that they drive exactly what the functions run. Every kind's
adapter comes from the kind registry (``domain.kinds``): its spec names the module whose
``make_adapter`` builds it, so a new kind is wired by its spec alone.
"""

from __future__ import annotations

from scaleahead.aws import clients
from scaleahead.aws.cloudwatch import MetricsAdapter
from scaleahead.aws.errors import MappedAdapter, MappedMetrics
from scaleahead.aws.kind_adapter import AdapterFactory, adapter_factory
from scaleahead.aws.queue import WorkQueue
from scaleahead.domain.kinds import KINDS, Kind
from scaleahead.service.runtime import DecisionHook, Runtime, _ignore
from scaleahead.settings import Settings
from scaleahead.store import Store

# Resolved on import, as the adapter modules always were: a cold start loads them in its init.
FACTORIES: dict[Kind, AdapterFactory] = {kind: adapter_factory(kind) for kind in KINDS}


def build_runtime(settings: Settings, on_decision: DecisionHook = _ignore) -> Runtime[Store]:
    # One CloudWatch adapter: the load and the alarms, and the guards' metrics of the adapters
    # that read them (ElastiCache's node memory and CPU).
    metrics = MetricsAdapter(clients.client("cloudwatch"))
    return Runtime(
        settings=settings,
        store=Store.from_resource(
            clients.resource("dynamodb"),
            settings.state_table,
            decision_ttl_days=settings.decision_ttl_days,
        ),
        metrics=MappedMetrics(metrics),
        adapters={kind: MappedAdapter(make(metrics)) for kind, make in FACTORIES.items()},
        queue_factory=lambda: WorkQueue(clients.client("sqs"), settings.work_queue_url),
        on_decision=on_decision,
    )
