"""The record: every decision, taken or refused, under its target, and the input refused
before it could name one. Both expire (``expires_at``), so the record never needs pruning.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from scaleahead.domain.record import DecisionRecord
from scaleahead.store.codec import (
    MAX_PAYLOAD_CHARS,
    MAX_REASON_CHARS,
    excerpt,
    from_dynamo,
    to_dynamo,
)
from scaleahead.store.keys import (
    DECISION_PREFIX,
    DECISIONS_END,
    REJECTED_PK,
    decisions_since,
    new_decision_sk,
    new_rejected_sk,
    target_id_of,
    target_pk,
)
from scaleahead.store.records import record_from_dict, record_to_dict
from scaleahead.store.table import Table


def _record(item: dict[str, Any]) -> DecisionRecord:
    """A stored record, with the target it belongs to (from its key)."""
    return record_from_dict({**item, "target_id": target_id_of(str(item["pk"]))})


class Decisions(Table):
    def new_decision_sk(self, now: float) -> str:
        """The key of a decision record not yet written (an intent carries it)."""
        return new_decision_sk(now)

    def record_decision(
        self,
        target_id: str,
        now: float,
        record: DecisionRecord,
        *,
        sk: str | None = None,
        if_absent: bool = False,
    ) -> str:
        """Write one decision record; ``sk`` (from ``new_decision_sk``) when its key was fixed
        beforehand by an intent, ``if_absent`` to keep a record already written there."""
        sk = sk or new_decision_sk(now)
        item = {"pk": target_pk(target_id), "sk": sk, "at": now, **record_to_dict(record)}
        item["expires_at"] = int(now + self._ttl)
        kwargs: dict[str, Any] = {"Item": to_dynamo(item)}
        if if_absent:
            kwargs["ConditionExpression"] = "attribute_not_exists(sk)"
        try:
            self._table.put_item(**kwargs)
        except ClientError as err:
            if not (
                if_absent and err.response["Error"]["Code"] == "ConditionalCheckFailedException"
            ):
                raise
        return sk

    def decisions(
        self, target_id: str, *, since: float | None = None, limit: int = 100
    ) -> list[DecisionRecord]:
        """The newest decisions first."""
        out: list[DecisionRecord] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(target_pk(target_id))
            & Key("sk").between(decisions_since(since), DECISIONS_END),
            "ScanIndexForward": False,
        }
        while len(out) < limit:
            page = self._table.query(**kwargs, Limit=limit - len(out))
            out.extend(_record(from_dynamo(i)) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    def decision_count(self, target_id: str) -> int:
        """How many decisions the log holds for the target (a COUNT query: no items read out)."""
        pages = self._pages(
            KeyConditionExpression=Key("pk").eq(target_pk(target_id))
            & Key("sk").between(DECISION_PREFIX, DECISIONS_END),
            Select="COUNT",
        )
        return sum(int(page.get("Count", 0)) for page in pages)

    def record_rejected(self, now: float, reason: str, payload: Any) -> None:
        """Keep refused input on record, whatever it is: a hostile payload (500 KB strings,
        100,000 levels of nesting) is cut to a bounded excerpt, so the record always fits
        DynamoDB's 400 KB item and writing it can never fail the way the input did."""
        self._table.put_item(
            Item={
                "pk": REJECTED_PK,
                "sk": new_rejected_sk(now),
                "at": to_dynamo(now),
                "reason": excerpt(reason, MAX_REASON_CHARS),
                "payload": excerpt(payload, MAX_PAYLOAD_CHARS),
                "expires_at": int(now + self._ttl),
            }
        )

    def rejected(self, limit: int = 50) -> list[dict[str, Any]]:
        page = self._table.query(
            KeyConditionExpression=Key("pk").eq(REJECTED_PK), ScanIndexForward=False, Limit=limit
        )
        return [from_dynamo(i) for i in page.get("Items", [])]
