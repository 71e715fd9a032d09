"""The kill switch: an operator's pause of one target, or of all of them.

Every decision reads the pauses with one strongly consistent Query, so a pause holds from the
next decision on, and the decision quotes who paused and why.
"""

from __future__ import annotations

from collections.abc import Iterable

from boto3.dynamodb.conditions import Key

from scaleahead.domain.state import ALL_TARGETS, Pause
from scaleahead.store.codec import to_dynamo
from scaleahead.store.keys import PAUSE_PK
from scaleahead.store.table import Table


class Pauses(Table):
    def pause(self, target_id: str, by: str, reason: str, now: float) -> None:
        """Pause one target, or all of them with ``ALL_TARGETS``; pausing again updates why."""
        self._table.put_item(
            Item={
                "pk": PAUSE_PK,
                "sk": target_id,
                "by": by,
                "reason": reason,
                "at": to_dynamo(now),
            }
        )

    def resume(self, target_id: str) -> bool:
        """Lift one pause; False when there was none."""
        out = self._table.delete_item(Key={"pk": PAUSE_PK, "sk": target_id}, ReturnValues="ALL_OLD")
        return bool(out.get("Attributes"))

    def pauses(self) -> list[Pause]:
        """Every pause in force, strongly consistent: a pause must hold from the next decision."""
        pages = self._pages(KeyConditionExpression=Key("pk").eq(PAUSE_PK), ConsistentRead=True)
        items = [i for page in pages for i in page.get("Items", [])]
        return [
            Pause(str(i["sk"]), str(i.get("by", "")), str(i.get("reason", "")), float(i["at"]))
            for i in items
        ]

    def pause_of(self, target_id: str, pauses: Iterable[Pause] | None = None) -> Pause | None:
        """The pause that holds this target: all targets' first, else its own. ``pauses``, when
        given, is a reading of ``pauses()`` already made (one Query for many targets)."""
        found = {p.target: p for p in (self.pauses() if pauses is None else pauses)}
        return found.get(ALL_TARGETS) or found.get(target_id)
