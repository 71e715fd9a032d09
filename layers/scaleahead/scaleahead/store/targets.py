"""Target definitions: written by the operator's CLI, read by every function.

A definition is stored whole as JSON (read whole, and no Decimal round-trips), beside the few
attributes an operator scanning the table wants to see, and beside its compact record
(``domain.target_record``): the same target, validated when written, which the alarm path
reads without pydantic (``alarm_target``). Every writer goes through ``put_target``, so every
definition written has its record; one without (an older writer), of another schema version,
stale or malformed is never used: the definition is validated instead, and a log line says so.

The pydantic model (``domain.target``) is imported on first use, not with this module: the
alarm function imports the store, and must not pay for pydantic on its cold start.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from scaleahead.domain.state import TargetEntry
from scaleahead.domain.target_record import CompactError, TargetError, read_compact
from scaleahead.store.codec import to_dynamo
from scaleahead.store.keys import TARGETS_PK
from scaleahead.store.table import Table

if TYPE_CHECKING:
    from scaleahead.domain.target import Target

log = logging.getLogger(__name__)


def _parse(item: dict[str, Any]) -> Target:
    """The item's definition, validated by the model (``TargetError`` if it does not pass)."""
    from scaleahead.domain.target import parse_target

    return parse_target(json.loads(item["definition"]))


class Targets(Table):
    def put_target(self, target: Target, now: float) -> None:
        from scaleahead.domain.target import compact_record, stored_definition

        definition = stored_definition(target)
        self._table.put_item(
            Item={
                "pk": TARGETS_PK,
                "sk": target.id,
                "definition": definition,
                "compact": compact_record(target, definition),
                "kind": target.kind.value,
                "enabled": target.enabled,
                "updated_at": to_dynamo(now),
            }
        )

    def rest_target(self, target: Target, until: float) -> bool:
        """Mark ``target`` resting until ``until`` (``domain.rest``) on its own item, which the
        tick reads anyway. Only the definition the rest was planned from takes it (one applied
        since is evaluated at the next tick), and a deleted target is not written back. The rest
        is an economy, not a duty: when the mark cannot be written the target is simply
        evaluated at the next tick, so a failure is logged and returns False."""
        from scaleahead.domain.target import stored_definition

        return self._rest_mark(
            "mark %s resting",
            target.id,
            UpdateExpression="SET rest_until = :u",
            ConditionExpression="#d = :d",  # DEFINITION is a reserved word
            ExpressionAttributeNames={"#d": "definition"},
            ExpressionAttributeValues={":u": to_dynamo(until), ":d": stored_definition(target)},
        )

    def end_rest(self, target_id: str) -> None:
        """The tick evaluates ``target_id`` again from its next run (the alarm path, when the
        load beat the forecast the rest was taken on, after it has acted). Only an existing
        item is touched. A failure is logged, not raised: the action is done and recorded, and
        a retried event would be a duplicate; the rest then simply runs out (five minutes at
        most), the alarm's floor holding the capacity meanwhile."""
        self._rest_mark(
            "end the rest of %s",
            target_id,
            UpdateExpression="REMOVE rest_until",
            ConditionExpression="attribute_exists(rest_until)",
        )

    def _rest_mark(self, what: str, target_id: str, **update: Any) -> bool:
        """One conditional update of the rest mark on ``target_id``'s item: True when written;
        a failed condition (the item changed or is gone) is quietly False, any other failure
        logged ("could not " + ``what``) and False."""
        try:
            self._table.update_item(Key={"pk": TARGETS_PK, "sk": target_id}, **update)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                log.warning("could not " + what + ": %s", target_id, err)
            return False
        except BotoCoreError as err:
            log.warning("could not " + what + ": %s", target_id, err)
            return False
        return True

    def delete_target(self, target_id: str) -> None:
        self._table.delete_item(Key={"pk": TARGETS_PK, "sk": target_id})

    def get_target(self, target_id: str) -> Target | None:
        item = self._get(TARGETS_PK, target_id)
        return _parse(item) if item else None

    def alarm_target(self, target_id: str) -> Target | None:
        """The target as the alarm path needs it, fast: from its compact record when that is
        there, of this schema version, made from the definition stored with it and well
        formed; else from the definition validated by the model, as ``get_target`` does (slow,
        and said in a warning, but never a stale or unvalidated target)."""
        item = self._get(TARGETS_PK, target_id)
        if not item:
            return None
        try:
            # The record mirrors the model attribute for attribute (tests/test_alarm_import.py).
            return cast("Target", read_compact(item.get("compact"), item.get("definition")))
        except CompactError as why:
            log.warning(
                "target %s: compact record not used (%s); validating the full definition",
                target_id,
                why,
            )
        return _parse(item)

    def iter_target_items(self) -> Iterator[dict[str, Any]]:
        """Raw target items, page by page: a bad definition must not hide the good ones."""
        for page in self._pages(KeyConditionExpression=Key("pk").eq(TARGETS_PK)):
            yield from page.get("Items", [])

    def target_entries(self) -> Iterator[TargetEntry]:
        """Every stored definition, parsed; one that does not parse says why."""
        for item in self.iter_target_items():
            tid = str(item.get("sk"))
            try:
                target = _parse(item)
            except (TargetError, KeyError, TypeError, json.JSONDecodeError) as err:
                yield TargetEntry(tid, None, f"stored definition is invalid: {err}", item)
            else:
                rest = item.get("rest_until")
                yield TargetEntry(tid, target, rest_until=None if rest is None else float(rest))

    def list_targets(self) -> list[Target]:
        return [_parse(i) for i in self.iter_target_items()]
