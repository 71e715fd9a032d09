"""Target definitions: written by the operator's CLI, read by every function.

A definition is stored whole as JSON (read whole, and no Decimal round-trips), beside the few
attributes an operator scanning the table wants to see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from boto3.dynamodb.conditions import Key

from scaleahead.domain.state import TargetEntry
from scaleahead.domain.target import Target, TargetError, parse_target
from scaleahead.store.codec import to_dynamo
from scaleahead.store.keys import TARGETS_PK
from scaleahead.store.table import Table


class Targets(Table):
    def put_target(self, target: Target, now: float) -> None:
        self._table.put_item(
            Item={
                "pk": TARGETS_PK,
                "sk": target.id,
                "definition": target.model_dump_json(by_alias=True, exclude_none=True),
                "kind": target.kind.value,
                "enabled": target.enabled,
                "updated_at": to_dynamo(now),
            }
        )

    def delete_target(self, target_id: str) -> None:
        self._table.delete_item(Key={"pk": TARGETS_PK, "sk": target_id})

    def get_target(self, target_id: str) -> Target | None:
        item = self._get(TARGETS_PK, target_id)
        return parse_target(json.loads(item["definition"])) if item else None

    def iter_target_items(self) -> Iterator[dict[str, Any]]:
        """Raw target items, page by page: a bad definition must not hide the good ones."""
        for page in self._pages(KeyConditionExpression=Key("pk").eq(TARGETS_PK)):
            yield from page.get("Items", [])

    def target_entries(self) -> Iterator[TargetEntry]:
        """Every stored definition, parsed; one that does not parse says why."""
        for item in self.iter_target_items():
            tid = str(item.get("sk"))
            try:
                target = parse_target(json.loads(item["definition"]))
            except (TargetError, KeyError, TypeError, json.JSONDecodeError) as err:
                yield TargetEntry(tid, None, f"stored definition is invalid: {err}", item)
            else:
                yield TargetEntry(tid, target)

    def list_targets(self) -> list[Target]:
        return [parse_target(json.loads(i["definition"])) for i in self.iter_target_items()]
