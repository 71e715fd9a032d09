"""What ``scaleahead targets apply --take-over`` suspended, so that ``targets remove`` can put
it back: one item per target in the ``TAKEOVER`` partition, written and read only by the
operator's CLI (no function's IAM policy names the partition).
"""

from __future__ import annotations

import json
from typing import Any

from scaleahead.store.keys import TAKEOVERS_PK
from scaleahead.store.table import Table


class Takeovers(Table):
    def put_takeover(self, target_id: str, data: dict[str, Any]) -> None:
        """Record what was taken over for ``target_id`` (JSON: no Decimal round-trips)."""
        self._table.put_item(
            Item={"pk": TAKEOVERS_PK, "sk": target_id, "data": json.dumps(data, sort_keys=True)}
        )

    def get_takeover(self, target_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": TAKEOVERS_PK, "sk": target_id}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        data = json.loads(str(item["data"]))
        return data if isinstance(data, dict) else None

    def delete_takeover(self, target_id: str) -> None:
        self._table.delete_item(Key={"pk": TAKEOVERS_PK, "sk": target_id})
