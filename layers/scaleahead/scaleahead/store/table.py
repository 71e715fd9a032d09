"""The table access every record family shares.

One read path (``_get``) that a batch's read-ahead can answer, so a family reads the same way
inside ``Store.shared_reads`` and outside it, and one way to follow a Query's pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scaleahead.domain.events import PlannedEvent

# BatchGetItem reads at most 100 keys per call.
_BATCH_GET_KEYS = 100


class Table:
    """The DynamoDB table, with what ``Store.shared_reads`` read ahead."""

    def __init__(self, table: Any, *, decision_ttl_days: int = 30) -> None:
        self._table = table
        self._ttl = decision_ttl_days * 86400
        # Items read ahead by ``shared_reads`` (key -> item, None when absent), else None.
        self._shared: dict[tuple[str, str], dict[str, Any] | None] | None = None
        # Every planned event, read once per ``shared_reads`` block (None: not read yet).
        self._shared_events: list[PlannedEvent] | None = None

    def _read_ahead(self, keys: list[tuple[str, str]]) -> None:
        assert self._shared is not None
        # The table resource's client: it converts keys and items to and from Python types.
        client = self._table.meta.client
        name = self._table.name
        for i in range(0, len(keys), _BATCH_GET_KEYS):
            chunk = keys[i : i + _BATCH_GET_KEYS]
            for key in chunk:
                self._shared[key] = None
            request: dict[str, Any] = {name: {"Keys": [{"pk": pk, "sk": sk} for pk, sk in chunk]}}
            while request:
                out = client.batch_get_item(RequestItems=request)
                for item in out.get("Responses", {}).get(name, []):
                    self._shared[(str(item["pk"]), str(item["sk"]))] = item
                request = out.get("UnprocessedKeys") or {}

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        if self._shared is not None and (pk, sk) in self._shared:
            return self._shared[(pk, sk)]
        item: dict[str, Any] | None = self._table.get_item(Key={"pk": pk, "sk": sk}).get("Item")
        return item

    def _pages(self, **query: Any) -> Iterator[dict[str, Any]]:
        """Every page of a Query, following LastEvaluatedKey."""
        while True:
            page: dict[str, Any] = self._table.query(**query)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
