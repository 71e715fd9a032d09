"""Planned events, all targets' in one partition: they are few, and a worker batch reads them
all with one Query (once per ``Store.shared_reads`` block).

An event is kept after its end for as long as its window lies in the history a fit reads, so
the model keeps leaving it out; DynamoDB's TTL then deletes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import Key

from scaleahead.store.codec import from_dynamo, to_dynamo
from scaleahead.store.keys import EVENTS_PK, event_sk
from scaleahead.store.table import Table

if TYPE_CHECKING:
    from scaleahead.domain.events import PlannedEvent

# The 14 days of history a fit reads, plus a day.
EVENT_RETENTION_SECONDS = 15 * 86400


class Events(Table):
    def put_event(self, event: PlannedEvent) -> None:
        """Add or replace (same target and id) a planned event."""
        self._table.put_item(
            Item={
                "pk": EVENTS_PK,
                "sk": event_sk(event.target, event.id),
                **to_dynamo(event.to_item()),
                "expires_at": int(event.end + EVENT_RETENTION_SECONDS),
            }
        )

    def remove_event(self, target_id: str, event_id: str) -> bool:
        out = self._table.delete_item(
            Key={"pk": EVENTS_PK, "sk": event_sk(target_id, event_id)}, ReturnValues="ALL_OLD"
        )
        return bool(out.get("Attributes"))

    def planned_events(
        self, target_id: str | None = None, now: float | None = None
    ) -> list[PlannedEvent]:
        """The planned events of one target (all with None), by start; inside ``shared_reads``
        one Query serves the whole batch. Items past their TTL are dropped here too: DynamoDB
        deletes expired items lazily."""
        if self._shared is not None and self._shared_events is not None:
            every = self._shared_events
        else:
            every = self._query_events()
            if self._shared is not None:
                self._shared_events = every
        return sorted(
            (
                e
                for e in every
                if (target_id is None or e.target == target_id)
                and (now is None or e.end + EVENT_RETENTION_SECONDS > now)
            ),
            key=lambda e: (e.start, e.target, e.id),
        )

    def _query_events(self) -> list[PlannedEvent]:
        # Imported here: planned events are the worker's and the CLI's, and the alarm path,
        # which shares this store, is spared importing them (and the forecast series) cold.
        from scaleahead.domain.events import EventError, PlannedEvent

        out = []
        pages = self._pages(KeyConditionExpression=Key("pk").eq(EVENTS_PK))
        for i in (i for page in pages for i in page.get("Items", [])):
            try:
                out.append(PlannedEvent.from_item(from_dynamo(i)))
            except (EventError, KeyError, TypeError, ValueError):
                continue  # only a hand-edited item can be invalid: the CLI validates
        return out
