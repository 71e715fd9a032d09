"""All state, behind one class: the DynamoDB single table that ``template.yaml`` defines.

``Store`` is the one object the functions and tools are given; each record family (``keys``
has the layout) is a module of its own, so that a family's item format is read in one place,
and the keys of all of them in another (``keys``) that the IAM policies are checked against.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from scaleahead.domain.state import ALL_TARGETS, Intent, Pause, StoredForecast, TargetState
from scaleahead.domain.target_record import TargetError
from scaleahead.service.ports import LeaseHeld
from scaleahead.store.codec import MAX_PAYLOAD_CHARS, MAX_REASON_CHARS, excerpt
from scaleahead.store.decisions import Decisions
from scaleahead.store.events import EVENT_RETENTION_SECONDS, Events
from scaleahead.store.forecasts import Forecasts
from scaleahead.store.keys import (
    EVENTS_PK,
    FORECAST_SK,
    PAUSE_PK,
    REJECTED_PK,
    TARGETS_PK,
    forecast_pk,
    new_decision_sk,
)
from scaleahead.store.leases import LEASE_SECONDS, Lease, TargetStates
from scaleahead.store.pauses import Pauses
from scaleahead.store.takeovers import Takeovers
from scaleahead.store.targets import Targets

__all__ = [
    "ALL_TARGETS",
    "EVENTS_PK",
    "EVENT_RETENTION_SECONDS",
    "LEASE_SECONDS",
    "MAX_PAYLOAD_CHARS",
    "MAX_REASON_CHARS",
    "PAUSE_PK",
    "REJECTED_PK",
    "TARGETS_PK",
    "Intent",
    "Lease",
    "LeaseHeld",
    "Pause",
    "Store",
    "StoredForecast",
    "TargetState",
    "excerpt",
    "new_decision_sk",
]

log = logging.getLogger(__name__)


class Store(Targets, TargetStates, Forecasts, Decisions, Pauses, Events, Takeovers):
    """Every record family on one table, and the batch read that spans them."""

    @classmethod
    def from_resource(cls, dynamodb: Any, table_name: str, *, decision_ttl_days: int = 30) -> Store:
        return cls(dynamodb.Table(table_name), decision_ttl_days=decision_ttl_days)

    @contextmanager
    def shared_reads(self, target_ids: Iterable[str]) -> Iterator[None]:
        """Read the definitions of ``target_ids``, then their forecasts, in one BatchGetItem
        each, and answer ``get_target``/``get_forecast`` from them inside the block.

        A worker batch of ten targets then costs two reads instead of twenty, and the
        targets of one driver share one forecast read. A forecast stored inside the block
        replaces the one read ahead, so a refit is seen by the targets planned after it.
        """
        self._shared = {}
        try:
            try:
                self._read_shared(list(dict.fromkeys(target_ids)))
            except (ClientError, BotoCoreError) as err:
                # Reading ahead saves calls, it is not needed: each target reads its own items
                # instead, so a failure is each work item's, reported (and retried) per item.
                log.warning("reading the batch ahead failed, reading per target: %s", err)
                self._shared = None
            yield
        finally:
            self._shared = None
            self._shared_events = None

    def _read_shared(self, ids: list[str]) -> None:
        """The definitions of ``ids``, then their forecasts, into the shared reads."""
        assert self._shared is not None
        from scaleahead.domain.target import parse_target  # the worker's; pydantic on first use

        self._read_ahead([(TARGETS_PK, t) for t in ids])
        keys = []
        for t in ids:
            item = self._shared.get((TARGETS_PK, t))
            try:
                target = parse_target(json.loads(item["definition"])) if item else None
            except (TargetError, ValueError, KeyError):
                continue  # get_target reports it when the target is planned
            if target is not None:
                keys.append((forecast_pk(target), FORECAST_SK))
        self._read_ahead(list(dict.fromkeys(keys)))
