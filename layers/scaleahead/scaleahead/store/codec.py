"""Python values to what DynamoDB stores and back, for every record family.

DynamoDB numbers are Decimals with limits of their own, and a write that carries a number it
cannot hold fails whole: one conversion, shared, keeps every family's writes safe from hostile
values and its reads free of Decimals.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

# DynamoDB numbers: 38 significant digits, magnitudes from 1E-130 to under 1E+126.
_DDB_DIGITS = 38
_DDB_LARGEST = Decimal("1E+126")
_DDB_SMALLEST = Decimal("1E-130")

# What a REJECTED record keeps of the refused input and of the reason (characters).
MAX_PAYLOAD_CHARS = 4000
MAX_REASON_CHARS = 1000


def _number(value: int | float) -> Any:
    """A number DynamoDB can hold, else its text: a hostile 1e300 in a record's inputs must not
    fail the write that records it (after the action it describes)."""
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return None
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if d and (not _DDB_SMALLEST <= abs(d) < _DDB_LARGEST or len(d.as_tuple().digits) > _DDB_DIGITS):
        return repr(value)
    return d


def to_dynamo(value: Any) -> Any:
    """``value`` with every number one DynamoDB holds and every None left out of mappings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float | int):
        return _number(value)
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    """``value`` as read, with its Decimals back to ints (whole) or floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


def excerpt(value: Any, limit: int) -> str:
    """At most ``limit`` characters of ``value`` as JSON (or text), never raising: a payload
    nested too deep to serialise is described instead of rendered."""
    if isinstance(value, str | bytes):
        text = value if isinstance(value, str) else value[: limit * 4].decode("utf-8", "replace")
    else:
        try:
            text = json.dumps(value, default=str)
        except (RecursionError, ValueError, TypeError) as err:
            text = f"<{type(value).__name__} not serialisable: {type(err).__name__}>"
    if len(text) <= limit:
        return text
    return f"{text[: limit - 40]}... [{len(text) - limit + 40} more characters]"
