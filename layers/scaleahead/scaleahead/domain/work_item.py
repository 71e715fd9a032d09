"""A work item: one target to plan at one tick, as the tick enqueues it and the worker takes it.

The body comes off a queue anyone with send rights can write to, so it is bounded and checked
on its own before anything is shared with the rest of its batch: its size, its nesting (a deep
body fails ``json.loads`` with RecursionError), its target id (DynamoDB refuses keys over 1,024
bytes, which would fail the batch's one BatchGetItem) and, given the present, its tick's time.
Each refusal says why, in words an operator reads in the REJECTED records.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from scaleahead.domain.target import TARGET_ID
from scaleahead.domain.timing import untrusted_time

# A work item is ``{"target_id": ..., "tick": ...}``: some 60 bytes. Anything far larger is not
# one of ours, and is refused before it is parsed (SQS accepts 256 KB).
MAX_WORK_BYTES = 1024

# The error type of this module's own refusals: their message is the reason as it stands.
_REFUSED = "work_item"
# The reason for a field pydantic itself refuses (missing, or of the wrong type).
_FIELD_REASONS = {
    "target_id": "work message needs a string target_id",
    "tick": "work message needs an integer tick (epoch seconds)",
}


class MalformedWork(ValueError):
    """The work message is not a work item; retrying cannot make it one."""


def _known_id(value: str) -> str:
    # Checked here rather than with Field(min_length=1), which would refuse a lone surrogate
    # as "not a string" before the id could be quoted back.
    if not value:
        raise PydanticCustomError(_REFUSED, _FIELD_REASONS["target_id"])
    if not TARGET_ID.fullmatch(value):
        # The id goes in as context, never into the template: braces in it stay text.
        raise PydanticCustomError(
            _REFUSED, "work message names no valid target id: {shown}", {"shown": repr(value[:80])}
        )
    return value


class WorkItem(BaseModel):
    """Plan ``target_id`` as of ``tick`` (epoch seconds, a multiple of the tick interval).

    Strict: a tick of ``"1795781100"``, ``1795781100.0`` or ``true`` is refused, not coerced.
    Keys beyond these two are ignored. Validated with ``context={"now": <epoch seconds>}``, a
    tick from the future or too old to be an honest redelivery (``domain.timing``) is refused.
    """

    model_config = ConfigDict(strict=True, frozen=True)

    target_id: Annotated[str, AfterValidator(_known_id)]
    tick: int

    @model_validator(mode="after")
    def _trusted_tick(self, info: ValidationInfo) -> Self:
        now = info.context.get("now") if isinstance(info.context, dict) else None
        if now is None:
            return self
        try:
            at = float(self.tick)
        except OverflowError:  # an int past 1e308 (copysign would overflow on it too)
            at = math.inf if self.tick > 0 else -math.inf
        untrusted = untrusted_time(at, now, "tick")
        if untrusted:
            raise PydanticCustomError(
                _REFUSED,
                "work item for {target_id}: {untrusted}",
                {"target_id": self.target_id, "untrusted": untrusted},
            )
        return self


def _reason(err: ValidationError) -> str:
    """The first refusal, in the order the fields are checked (target_id, tick, the time)."""
    first = err.errors()[0]
    if first["type"] == _REFUSED:
        return first["msg"]
    if not first["loc"]:
        return "work message must be a JSON object"
    return _FIELD_REASONS[str(first["loc"][0])]


def parse_work_item(body: Any, now: float | None = None) -> WorkItem:
    """The work item in an SQS message ``body``, or ``MalformedWork`` with the reason.

    Parsed with the standard library's ``json`` (the body is at most 1 KB, so at most some 500
    levels deep, which it parses): pydantic's own JSON parser stops at 200 levels and would call
    a nested list "not JSON" where it is a JSON value that is no object."""
    if not isinstance(body, str):
        raise MalformedWork("work message has no text body")
    if len(body.encode("utf-8", "surrogatepass")) > MAX_WORK_BYTES:
        raise MalformedWork(
            f"work message of {len(body)} characters; a work item is under {MAX_WORK_BYTES} bytes"
        )
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        raise MalformedWork("work message is not JSON") from None
    try:
        return WorkItem.model_validate(raw, context={"now": now})
    except ValidationError as err:
        raise MalformedWork(_reason(err)) from None
