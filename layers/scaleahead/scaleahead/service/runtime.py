"""Everything a use case needs, built once per execution environment from the settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scaleahead.aws import clients
from scaleahead.aws.aurora import AuroraAdapter
from scaleahead.aws.capacity import CapacityAdapter
from scaleahead.aws.cloudwatch import MetricsAdapter
from scaleahead.aws.ecs import EcsAdapter
from scaleahead.aws.elasticache import ElastiCacheAdapter
from scaleahead.aws.errors import MappedAdapter
from scaleahead.aws.queue import WorkQueue
from scaleahead.domain.target import Kind, Target
from scaleahead.settings import Mode, Settings
from scaleahead.store import Store

DecisionHook = Callable[[Target, dict[str, Any]], None]


def _ignore(target: Target, record: dict[str, Any]) -> None:
    return None


@dataclass
class Runtime:
    settings: Settings
    store: Store
    metrics: MetricsAdapter
    adapters: dict[Kind, CapacityAdapter]
    queue_factory: Callable[[], WorkQueue]
    on_decision: DecisionHook = _ignore
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def from_settings(cls, settings: Settings, on_decision: DecisionHook = _ignore) -> Runtime:
        return cls(
            settings=settings,
            store=Store.from_resource(
                clients.resource("dynamodb"),
                settings.state_table,
                decision_ttl_days=settings.decision_ttl_days,
            ),
            metrics=MetricsAdapter(clients.client("cloudwatch")),
            adapters={
                Kind.ECS: EcsAdapter(clients.client("ecs")),
                Kind.AURORA: AuroraAdapter(clients.client("rds")),
                Kind.ELASTICACHE: ElastiCacheAdapter(
                    clients.client("elasticache"), clients.client("cloudwatch")
                ),
            },
            queue_factory=lambda: WorkQueue(clients.client("sqs"), settings.work_queue_url),
            on_decision=on_decision,
        )

    def adapter(self, target: Target) -> CapacityAdapter:
        """The target's tier adapter, its AWS errors mapped once (``aws.errors``)."""
        return MappedAdapter(self.adapters[target.kind])

    def acts(self, target: Target) -> bool:
        """Whether the target may change capacity: its own mode overrides the stack's."""
        return (target.mode or self.settings.mode) is Mode.FORECAST_AND_SCALE

    def paused(self, target: Target) -> str:
        """Why the target is paused (the kill switch, read strongly consistent), or ""."""
        pause = self.store.pause_of(target.id)
        return pause.describe() if pause else ""

    def mode(self, target: Target) -> Mode:
        return target.mode or self.settings.mode
