"""A target's runtime state and the lease it is written under.

The alarm path, the worker and SQS's duplicate deliveries may all reach one target at once;
only the holder of its lease (a conditional write on the state item) may actuate it, and the
state is written back in the same conditional write, so no two invocations ever act on one
target or overwrite each other's state.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from scaleahead.domain.reactive import FloorState
from scaleahead.domain.rest import Rest
from scaleahead.domain.state import Intent, TargetState
from scaleahead.domain.warmup import WarmupLog
from scaleahead.service.ports import LeaseHeld
from scaleahead.store.codec import from_dynamo, to_dynamo
from scaleahead.store.keys import STATE_SK, target_pk
from scaleahead.store.records import inputs_from_dict, inputs_to_dict
from scaleahead.store.table import Table

log = logging.getLogger(__name__)

# Longer than a function's timeout and botocore's retry budget for one call: a lease that lapsed
# while its holder was still actuating would let a second actuation in.
LEASE_SECONDS = 90


class Lease:
    """A held lease and the state read with it; see ``Store.lease``."""

    def __init__(self, store: TargetStates, state: TargetState, owner: str) -> None:
        self.store = store
        self.state = state
        self.owner = owner
        self.released = False
        # The state read was changed and must be kept even if the block decides nothing
        # (an interrupted intent completed, a future time forgotten).
        self.dirty = False

    def save(self, state: TargetState) -> None:
        """Write the state and keep holding the lease: the intent goes on record this way."""
        self.store._put_state(state, self.owner, keep_lease=True)

    def commit(self, state: TargetState) -> None:
        """Write the state and release the lease in the same write."""
        self.store.commit_state(state, self.owner)
        self.released = True


def _intent_json(intent: Intent) -> str:
    data = {**vars(intent), "inputs": inputs_to_dict(intent.inputs)}
    return json.dumps(data, separators=(",", ":"), default=str)


def _intent_from_json(raw: str | None) -> Intent | None:
    if not raw:
        return None
    data = json.loads(raw)
    data["inputs"] = inputs_from_dict(data.get("inputs"), str(data.get("source", "")))
    return Intent(**data)


def _state_from_item(target_id: str, item: dict[str, Any] | None) -> TargetState:
    if not item:
        return TargetState(target_id)
    it = from_dynamo(item)
    return TargetState(
        target_id=target_id,
        version=int(it.get("version", 0)),
        floor=FloorState(
            floor=it.get("floor"),
            alarm_state=it.get("alarm_state"),
            raised_at=it.get("floor_raised_at"),
            ok_at=it.get("alarm_ok_at"),
            changed_at=it.get("alarm_changed_at"),
            opened_at=it.get("alarm_opened_at"),
            start=it.get("alarm_start"),
        ),
        plans=[(float(t), int(d)) for t, d in json.loads(it.get("plans", "[]"))],
        last_action=it.get("last_action"),
        last_action_at=it.get("last_action_at"),
        last_desired=it.get("last_desired"),
        alarm_threshold=it.get("alarm_threshold"),
        last_tick=it.get("last_tick"),
        warmups=WarmupLog.from_json(it.get("warmups")),
        pending=_intent_from_json(it.get("pending")),
        rest=_rest_from_json(it.get("rest")),
        lease_until=it.get("lease_until"),
    )


def _rest_from_json(raw: str | None) -> Rest | None:
    """The rest on record; one that does not parse is no rest (the target is evaluated)."""
    if not raw:
        return None
    try:
        since, until, capacity = json.loads(raw)
        return Rest(float(since), float(until), int(capacity))
    except (TypeError, ValueError):
        return None


def _state_attributes(state: TargetState) -> dict[str, Any]:
    """The state's own attributes (None where unset): not its key, version or lease."""
    return {
        "floor": state.floor.floor,
        "alarm_state": state.floor.alarm_state,
        "floor_raised_at": state.floor.raised_at,
        "alarm_ok_at": state.floor.ok_at,
        "alarm_changed_at": state.floor.changed_at,
        "alarm_opened_at": state.floor.opened_at,
        "alarm_start": state.floor.start,
        "plans": json.dumps([[round(t, 3), d] for t, d in state.plans]),
        "last_action": state.last_action,
        "last_action_at": state.last_action_at,
        "last_desired": state.last_desired,
        "alarm_threshold": state.alarm_threshold,
        "last_tick": state.last_tick,
        "warmups": state.warmups.to_json(),
        "pending": _intent_json(state.pending) if state.pending else None,
        "rest": (
            json.dumps(
                [round(state.rest.since, 3), round(state.rest.until, 3), state.rest.capacity]
            )
            if state.rest
            else None
        ),
    }


def _state_key(target_id: str) -> dict[str, str]:
    return {"pk": target_pk(target_id), "sk": STATE_SK}


class TargetStates(Table):
    def get_state(self, target_id: str) -> TargetState:
        item = self._table.get_item(Key=_state_key(target_id), ConsistentRead=True).get("Item")
        return _state_from_item(target_id, item)

    def acquire_lease(
        self, target_id: str, owner: str, now: float, seconds: int = LEASE_SECONDS
    ) -> TargetState:
        """Take the target's lease with a conditional write, or raise ``LeaseHeld``."""
        try:
            out = self._table.update_item(
                Key=_state_key(target_id),
                UpdateExpression="SET lease_owner = :o, lease_until = :u",
                ConditionExpression=(
                    "attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :o"
                ),
                ExpressionAttributeValues={
                    ":o": owner,
                    ":u": to_dynamo(now + seconds),
                    ":now": to_dynamo(now),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LeaseHeld(target_id) from None
            raise
        return _state_from_item(target_id, out["Attributes"])

    @contextmanager
    def lease(
        self, target_id: str, owner: str, now: float, *, tries: int = 1, wait: float = 0.2
    ) -> Iterator[Lease]:
        """Hold the target's lease for the block: ``LeaseHeld`` if another invocation keeps it
        through ``tries`` attempts (``wait`` x attempt seconds apart).

        Leaving the block releases it however the block ends, unless ``Lease.commit`` already
        did (in the same write as the state); a block that ends normally with the state marked
        ``dirty`` commits it. No path can forget to release it, nor to keep a change to the
        state; a process that dies inside the block leaves it to expire after ``LEASE_SECONDS``.
        """
        for attempt in range(1, tries + 1):
            try:
                state = self.acquire_lease(target_id, owner, now)
                break
            except LeaseHeld:
                if attempt == tries:
                    raise
                time.sleep(wait * attempt)
        held = Lease(self, state, owner)
        try:
            yield held
            if held.dirty and not held.released:
                held.commit(held.state)
        finally:
            if not held.released:
                try:
                    self.release_lease(target_id, owner)
                except (ClientError, BotoCoreError) as err:
                    # The lease expires by itself; the error that got us here matters more.
                    log.warning("could not release the lease of %s: %s", target_id, err)

    def _put_state(self, state: TargetState, owner: str, *, keep_lease: bool) -> None:
        """Write the whole state, only if this owner still holds the lease.

        A conditional put, not an update: the holder of the lease has read the whole state.
        Without ``keep_lease`` the lease attributes are dropped in the same atomic write.
        """
        item = {k: v for k, v in _state_attributes(state).items() if v is not None}
        # A mark of this very write: botocore retries a put whose reply was lost, and the retry
        # of a commit (which dropped the lease) fails its condition; finding the mark means the
        # first attempt went through.
        write_id = uuid.uuid4().hex
        item.update(
            {
                **_state_key(state.target_id),
                "version": state.version + 1,
                "write_id": write_id,
            }
        )
        if keep_lease:
            item.update({"lease_owner": owner, "lease_until": state.lease_until})
        try:
            self._table.put_item(
                Item=to_dynamo(item),
                ConditionExpression="lease_owner = :o",
                ExpressionAttributeValues={":o": owner},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            stored = self._table.get_item(Key=_state_key(state.target_id), ConsistentRead=True).get(
                "Item"
            )
            if not stored or stored.get("write_id") != write_id:
                raise LeaseHeld(state.target_id) from None
        state.version += 1

    def commit_state(self, state: TargetState, owner: str) -> TargetState:
        """Write the whole state and release the lease, only if this owner still holds it."""
        self._put_state(state, owner, keep_lease=False)
        return state

    def forget_alarm_threshold(self, target_id: str) -> None:
        """Make the next decision re-put the alarm (the CLI has just rewritten it)."""
        self._table.update_item(
            Key=_state_key(target_id),
            UpdateExpression="REMOVE alarm_threshold",
        )

    def release_lease(self, target_id: str, owner: str) -> None:
        try:
            self._table.update_item(
                Key=_state_key(target_id),
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :o",
                ExpressionAttributeValues={":o": owner},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
