"""The latest forecast of a target, or of the driver that targets share.

A forecast is stored as JSON (hundreds of floats: read whole, and no Decimal round-trips), and
one stored inside ``Store.shared_reads`` replaces the one read ahead, so a refit is seen by the
targets planned after it in the same batch.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from scaleahead.domain.state import StoredForecast
from scaleahead.store.codec import to_dynamo
from scaleahead.store.keys import FORECAST_SK, forecast_pk
from scaleahead.store.table import Table

if TYPE_CHECKING:
    from scaleahead.domain.target import Target


class Forecasts(Table):
    def put_forecast(self, owner: str | Target, stored: StoredForecast) -> None:
        """Store a forecast under its owner: a target (by id) or a target's shared driver."""
        item = {
            "pk": forecast_pk(owner),
            "sk": FORECAST_SK,
            "status": stored.status,
            "generated_at": to_dynamo(stored.generated_at),
            "reason": stored.reason,
            "forecast": json.dumps(stored.forecast) if stored.forecast else "",
        }
        self._table.put_item(Item=item)
        if self._shared is not None:
            self._shared[(item["pk"], FORECAST_SK)] = item

    def get_forecast(self, owner: str | Target) -> StoredForecast | None:
        item = self._get(forecast_pk(owner), FORECAST_SK)
        if not item:
            return None
        return StoredForecast(
            status=str(item["status"]),
            generated_at=float(item["generated_at"]),
            reason=str(item.get("reason", "")),
            forecast=json.loads(item["forecast"]) if item.get("forecast") else None,
        )
