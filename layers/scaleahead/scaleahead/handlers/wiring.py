"""Where the ports meet their adapters: the AWS clients, the DynamoDB store and each kind's
capacity adapter, with AWS errors mapped into the ports' vocabulary (``aws.errors``).

The handlers build their runtime here, once per execution environment; so do the operator's
tools (the CLI, the demo), so that they drive exactly what the functions run.
"""

from __future__ import annotations

from scaleahead.aws import clients
from scaleahead.aws.aurora import AuroraAdapter
from scaleahead.aws.cloudwatch import MetricsAdapter
from scaleahead.aws.ecs import EcsAdapter
from scaleahead.aws.elasticache import ElastiCacheAdapter
from scaleahead.aws.errors import MappedAdapter, MappedMetrics
from scaleahead.aws.queue import WorkQueue
from scaleahead.domain.target import Kind
from scaleahead.service.runtime import DecisionHook, Runtime, _ignore
from scaleahead.settings import Settings
from scaleahead.store import Store


def build_runtime(settings: Settings, on_decision: DecisionHook = _ignore) -> Runtime[Store]:
    cloudwatch = clients.client("cloudwatch")
    return Runtime(
        settings=settings,
        store=Store.from_resource(
            clients.resource("dynamodb"),
            settings.state_table,
            decision_ttl_days=settings.decision_ttl_days,
        ),
        metrics=MappedMetrics(MetricsAdapter(cloudwatch)),
        adapters={
            Kind.ECS: MappedAdapter(EcsAdapter(clients.client("ecs"))),
            Kind.AURORA: MappedAdapter(AuroraAdapter(clients.client("rds"))),
            Kind.ELASTICACHE: MappedAdapter(
                ElastiCacheAdapter(clients.client("elasticache"), cloudwatch)
            ),
        },
        queue_factory=lambda: WorkQueue(clients.client("sqs"), settings.work_queue_url),
        on_decision=on_decision,
    )
