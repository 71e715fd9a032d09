"""All state, behind one class: the DynamoDB single table that ``template.yaml`` defines.

Layout (``pk`` / ``sk``):

- ``TARGET`` / ``<id>``: a target definition (JSON), listed by the tick with one Query.
- ``TARGET#<id>`` / ``STATE``: runtime state with a version and a short lease, so the alarm
  path and the worker (and SQS's duplicate deliveries) never actuate one target at once. It
  also holds the alarm episode in force and, between deciding and finishing an action, the
  intent (``pending``): written before AWS is called, so an invocation that dies half-way
  leaves a record the next one completes against the resource's real capacity.
- ``TARGET#<id>`` / ``FORECAST``: the latest forecast, or why there is none.
- ``TARGET#<id>`` / ``DECISION#<time>#<n>``: the decision log, expiring through ``expires_at``.
- ``REJECTED`` / ``<time>#<n>``: input refused before it could name a target.
- ``PAUSE`` / ``<id>`` or ``*``: the kill switch, for one target or for all; read with one
  consistent Query by every decision, so a pause holds from the next decision on.

Definitions and forecasts are stored as JSON strings: they are read whole, and this avoids
DynamoDB's Decimal round-trips on hundreds of floats.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import BotoCoreError, ClientError

from scaleahead.domain.events import EventError, PlannedEvent
from scaleahead.domain.reactive import FloorState
from scaleahead.domain.target import Target, TargetError, parse_target
from scaleahead.domain.warmup import WarmupLog

log = logging.getLogger(__name__)

TARGETS_PK = "TARGET"
PAUSE_PK = "PAUSE"
# Planned events, one partition for all targets (sk "<target>#<event id>"): they are few, and a
# worker batch reads them all in one Query.
EVENTS_PK = "EVENT"
# An event is kept after its end for as long as its window lies in the history a fit reads
# (14 days), so the model keeps leaving it out, plus a day.
EVENT_RETENTION_SECONDS = 15 * 86400
ALL_TARGETS = "*"
# Longer than a function's timeout and botocore's retry budget for one call: a lease that lapsed
# while its holder was still actuating would let a second actuation in.
LEASE_SECONDS = 90
REJECTED_PK = "REJECTED"
# BatchGetItem reads at most 100 keys per call.
_BATCH_GET_KEYS = 100


def _tpk(target_id: str) -> str:
    return f"TARGET#{target_id}"


def _forecast_pk(owner: str | Target) -> str:
    return _tpk(owner) if isinstance(owner, str) else owner.forecast_key


def _sortable_time(t: float) -> str:
    return f"{t:015.3f}"


# DynamoDB numbers: 38 significant digits, magnitudes from 1E-130 to under 1E+126.
_DDB_DIGITS = 38
_DDB_LARGEST = Decimal("1E+126")
_DDB_SMALLEST = Decimal("1E-130")


def _number(value: int | float) -> Any:
    """A number DynamoDB can hold, else its text: a hostile 1e300 in a record's inputs must not
    fail the write that records it (after the action it describes)."""
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return None
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if d and (not _DDB_SMALLEST <= abs(d) < _DDB_LARGEST or len(d.as_tuple().digits) > _DDB_DIGITS):
        return repr(value)
    return d


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float | int):
        return _number(value)
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


# What a REJECTED record keeps of the refused input and of the reason (characters).
MAX_PAYLOAD_CHARS = 4000
MAX_REASON_CHARS = 1000


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


class LeaseHeld(Exception):
    """Another invocation is actuating this target right now."""


class Lease:
    """A held lease and the state read with it; see ``Store.lease``."""

    def __init__(self, store: Store, state: TargetState, owner: str) -> None:
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


@dataclass(frozen=True)
class Pause:
    """Who paused what, when and why: every decision taken while paused quotes it."""

    target: str  # a target id, or ``ALL_TARGETS``
    by: str
    reason: str
    at: float

    def describe(self) -> str:
        scope = "all targets" if self.target == ALL_TARGETS else self.target
        why = f": {self.reason}" if self.reason else ""
        return f"{scope} paused by {self.by}{why}"


@dataclass(frozen=True)
class Intent:
    """A decision about to be carried out, on record before AWS is called.

    ``sk`` is where its decision record goes, so whoever completes it (this invocation, or the
    next after a crash) writes that one record and no other.
    """

    sk: str
    source: str
    action: str
    before: int
    desired: int
    ready: int
    reason: str
    message: str
    at: float
    inputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, raw: str | None) -> Intent | None:
        if not raw:
            return None
        data = json.loads(raw)
        return cls(**data)


def new_decision_sk(now: float) -> str:
    return f"DECISION#{_sortable_time(now)}#{uuid.uuid4().hex[:8]}"


@dataclass
class TargetState:
    """Per-target runtime state; ``version`` grows by one with every committed change."""

    target_id: str
    version: int = 0
    floor: FloorState = field(default_factory=FloorState)
    plans: list[tuple[float, int]] = field(default_factory=list)
    last_action: str | None = None
    last_action_at: float | None = None
    last_desired: int | None = None
    alarm_threshold: float | None = None
    last_tick: int | None = None
    warmups: WarmupLog = field(default_factory=WarmupLog)
    pending: Intent | None = None
    # When the lease read with this state expires (not part of ``fields``: the lease is not state).
    lease_until: float | None = None

    @classmethod
    def from_item(cls, target_id: str, item: dict[str, Any] | None) -> TargetState:
        if not item:
            return cls(target_id)
        it = _from_dynamo(item)
        return cls(
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
            pending=Intent.from_json(it.get("pending")),
            lease_until=it.get("lease_until"),
        )

    def fields(self) -> dict[str, Any]:
        return {
            "floor": self.floor.floor,
            "alarm_state": self.floor.alarm_state,
            "floor_raised_at": self.floor.raised_at,
            "alarm_ok_at": self.floor.ok_at,
            "alarm_changed_at": self.floor.changed_at,
            "alarm_opened_at": self.floor.opened_at,
            "alarm_start": self.floor.start,
            "plans": json.dumps([[round(t, 3), d] for t, d in self.plans]),
            "last_action": self.last_action,
            "last_action_at": self.last_action_at,
            "last_desired": self.last_desired,
            "alarm_threshold": self.alarm_threshold,
            "last_tick": self.last_tick,
            "warmups": self.warmups.to_json(),
            "pending": self.pending.to_json() if self.pending else None,
        }


@dataclass(frozen=True)
class StoredForecast:
    status: str  # "ok" or "reactive-only"
    generated_at: float
    reason: str
    forecast: dict[str, Any] | None


class Store:
    def __init__(self, table: Any, *, decision_ttl_days: int = 30) -> None:
        self._table = table
        self._ttl = decision_ttl_days * 86400
        # Items read ahead by ``shared_reads`` (key -> item, None when absent), else None.
        self._shared: dict[tuple[str, str], dict[str, Any] | None] | None = None
        # Every planned event, read once per ``shared_reads`` block (None: not read yet).
        self._shared_events: list[PlannedEvent] | None = None

    # -- reading ahead ---------------------------------------------------------------------
    @contextmanager
    def shared_reads(self, target_ids: Iterable[str]) -> Iterator[None]:
        """Read the definitions of ``target_ids``, then their forecasts, in one BatchGetItem
        each, and answer ``get_target``/``get_forecast`` from them inside the block.

        A worker batch of ten targets then costs two reads instead of twenty, and the
        targets of one driver share one forecast read. A forecast stored inside the block
        replaces the one read ahead, so a refit is seen by the targets planned after it.
        """
        self._shared = {}
        try:
            try:
                self._read_shared(list(dict.fromkeys(target_ids)))
            except (ClientError, BotoCoreError) as err:
                # Reading ahead saves calls, it is not needed: each target reads its own items
                # instead, so a failure is each work item's, reported (and retried) per item.
                log.warning("reading the batch ahead failed, reading per target: %s", err)
                self._shared = None
            yield
        finally:
            self._shared = None
            self._shared_events = None

    def _read_shared(self, ids: list[str]) -> None:
        """The definitions of ``ids``, then their forecasts, into the shared reads."""
        assert self._shared is not None
        self._read_ahead([(TARGETS_PK, t) for t in ids])
        keys = []
        for t in ids:
            item = self._shared.get((TARGETS_PK, t))
            try:
                target = parse_target(json.loads(item["definition"])) if item else None
            except (TargetError, ValueError, KeyError):
                continue  # get_target reports it when the target is planned
            if target is not None:
                keys.append((target.forecast_key, "FORECAST"))
        self._read_ahead(list(dict.fromkeys(keys)))

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

    @classmethod
    def from_resource(cls, dynamodb: Any, table_name: str, *, decision_ttl_days: int = 30) -> Store:
        return cls(dynamodb.Table(table_name), decision_ttl_days=decision_ttl_days)

    # -- targets ---------------------------------------------------------------------------
    def put_target(self, target: Target, now: float) -> None:
        self._table.put_item(
            Item={
                "pk": TARGETS_PK,
                "sk": target.id,
                "definition": target.model_dump_json(by_alias=True, exclude_none=True),
                "kind": target.kind.value,
                "enabled": target.enabled,
                "updated_at": _to_dynamo(now),
            }
        )

    def delete_target(self, target_id: str) -> None:
        self._table.delete_item(Key={"pk": TARGETS_PK, "sk": target_id})

    def get_target(self, target_id: str) -> Target | None:
        item = self._get(TARGETS_PK, target_id)
        return parse_target(json.loads(item["definition"])) if item else None

    def _pages(self, **query: Any) -> Iterator[dict[str, Any]]:
        """Every page of a Query, following LastEvaluatedKey."""
        while True:
            page: dict[str, Any] = self._table.query(**query)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def iter_target_items(self) -> Iterator[dict[str, Any]]:
        """Raw target items, page by page: a bad definition must not hide the good ones."""
        for page in self._pages(KeyConditionExpression=Key("pk").eq(TARGETS_PK)):
            yield from page.get("Items", [])

    def list_targets(self) -> list[Target]:
        return [parse_target(json.loads(i["definition"])) for i in self.iter_target_items()]

    # -- state and lease -------------------------------------------------------------------
    def get_state(self, target_id: str) -> TargetState:
        item = self._table.get_item(
            Key={"pk": _tpk(target_id), "sk": "STATE"}, ConsistentRead=True
        ).get("Item")
        return TargetState.from_item(target_id, item)

    def acquire_lease(
        self, target_id: str, owner: str, now: float, seconds: int = LEASE_SECONDS
    ) -> TargetState:
        """Take the target's lease with a conditional write, or raise ``LeaseHeld``."""
        try:
            out = self._table.update_item(
                Key={"pk": _tpk(target_id), "sk": "STATE"},
                UpdateExpression="SET lease_owner = :o, lease_until = :u",
                ConditionExpression=(
                    "attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :o"
                ),
                ExpressionAttributeValues={
                    ":o": owner,
                    ":u": _to_dynamo(now + seconds),
                    ":now": _to_dynamo(now),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LeaseHeld(target_id) from None
            raise
        return TargetState.from_item(target_id, out["Attributes"])

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
        item = {k: v for k, v in state.fields().items() if v is not None}
        # A mark of this very write: botocore retries a put whose reply was lost, and the retry
        # of a commit (which dropped the lease) fails its condition; finding the mark means the
        # first attempt went through.
        write_id = uuid.uuid4().hex
        item.update(
            {
                "pk": _tpk(state.target_id),
                "sk": "STATE",
                "version": state.version + 1,
                "write_id": write_id,
            }
        )
        if keep_lease:
            item.update({"lease_owner": owner, "lease_until": state.lease_until})
        try:
            self._table.put_item(
                Item=_to_dynamo(item),
                ConditionExpression="lease_owner = :o",
                ExpressionAttributeValues={":o": owner},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            stored = self._table.get_item(
                Key={"pk": _tpk(state.target_id), "sk": "STATE"}, ConsistentRead=True
            ).get("Item")
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
            Key={"pk": _tpk(target_id), "sk": "STATE"},
            UpdateExpression="REMOVE alarm_threshold",
        )

    def release_lease(self, target_id: str, owner: str) -> None:
        try:
            self._table.update_item(
                Key={"pk": _tpk(target_id), "sk": "STATE"},
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :o",
                ExpressionAttributeValues={":o": owner},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # -- forecast --------------------------------------------------------------------------
    def put_forecast(self, owner: str | Target, stored: StoredForecast) -> None:
        """Store a forecast under its owner: a target (by id) or a target's shared driver."""
        item = {
            "pk": _forecast_pk(owner),
            "sk": "FORECAST",
            "status": stored.status,
            "generated_at": _to_dynamo(stored.generated_at),
            "reason": stored.reason,
            "forecast": json.dumps(stored.forecast) if stored.forecast else "",
        }
        self._table.put_item(Item=item)
        if self._shared is not None:
            self._shared[(item["pk"], "FORECAST")] = item

    def get_forecast(self, owner: str | Target) -> StoredForecast | None:
        item = self._get(_forecast_pk(owner), "FORECAST")
        if not item:
            return None
        return StoredForecast(
            status=str(item["status"]),
            generated_at=float(item["generated_at"]),
            reason=str(item.get("reason", "")),
            forecast=json.loads(item["forecast"]) if item.get("forecast") else None,
        )

    # -- decision log ----------------------------------------------------------------------
    def record_decision(
        self,
        target_id: str,
        now: float,
        record: dict[str, Any],
        *,
        sk: str | None = None,
        if_absent: bool = False,
    ) -> str:
        """Write one decision record; ``sk`` (from ``new_decision_sk``) when its key was fixed
        beforehand by an intent, ``if_absent`` to keep a record already written there."""
        sk = sk or new_decision_sk(now)
        item = {"pk": _tpk(target_id), "sk": sk, "at": now, **record}
        item["expires_at"] = int(now + self._ttl)
        kwargs: dict[str, Any] = {"Item": _to_dynamo(item)}
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
    ) -> list[dict[str, Any]]:
        """The newest decisions first."""
        lo = f"DECISION#{_sortable_time(since)}" if since is not None else "DECISION#"
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(_tpk(target_id))
            & Key("sk").between(lo, "DECISION#~"),
            "ScanIndexForward": False,
        }
        while len(out) < limit:
            page = self._table.query(**kwargs, Limit=limit - len(out))
            out.extend(_from_dynamo(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    def decision_count(self, target_id: str) -> int:
        """How many decisions the log holds for the target (a COUNT query: no items read out)."""
        pages = self._pages(
            KeyConditionExpression=Key("pk").eq(_tpk(target_id))
            & Key("sk").between("DECISION#", "DECISION#~"),
            Select="COUNT",
        )
        return sum(int(page.get("Count", 0)) for page in pages)

    # -- the kill switch ---------------------------------------------------------------------
    def pause(self, target_id: str, by: str, reason: str, now: float) -> None:
        """Pause one target, or all of them with ``ALL_TARGETS``; pausing again updates why."""
        self._table.put_item(
            Item={
                "pk": PAUSE_PK,
                "sk": target_id,
                "by": by,
                "reason": reason,
                "at": _to_dynamo(now),
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

    # -- planned events ----------------------------------------------------------------------
    def put_event(self, event: PlannedEvent) -> None:
        """Add or replace (same target and id) a planned event."""
        self._table.put_item(
            Item={
                "pk": EVENTS_PK,
                "sk": f"{event.target}#{event.id}",
                **_to_dynamo(event.to_item()),
                "expires_at": int(event.end + EVENT_RETENTION_SECONDS),
            }
        )

    def remove_event(self, target_id: str, event_id: str) -> bool:
        out = self._table.delete_item(
            Key={"pk": EVENTS_PK, "sk": f"{target_id}#{event_id}"}, ReturnValues="ALL_OLD"
        )
        return bool(out.get("Attributes"))

    def planned_events(
        self, target_id: str | None = None, now: float | None = None
    ) -> list[PlannedEvent]:
        """The planned events of one target (all with None), by start; inside ``shared_reads``
        one Query serves the whole batch. Items past their TTL are dropped here too: DynamoDB
        deletes expired items lazily."""
        if self._shared is not None and self._shared_events is not None:
            every = self._shared_events
        else:
            every = self._query_events()
            if self._shared is not None:
                self._shared_events = every
        return sorted(
            (
                e
                for e in every
                if (target_id is None or e.target == target_id)
                and (now is None or e.end + EVENT_RETENTION_SECONDS > now)
            ),
            key=lambda e: (e.start, e.target, e.id),
        )

    def _query_events(self) -> list[PlannedEvent]:
        out = []
        pages = self._pages(KeyConditionExpression=Key("pk").eq(EVENTS_PK))
        for i in (i for page in pages for i in page.get("Items", [])):
            try:
                out.append(PlannedEvent.from_item(_from_dynamo(i)))
            except (EventError, KeyError, TypeError, ValueError):
                continue  # only a hand-edited item can be invalid: the CLI validates
        return out

    def record_rejected(self, now: float, reason: str, payload: Any) -> None:
        """Keep refused input on record, whatever it is: a hostile payload (500 KB strings,
        100,000 levels of nesting) is cut to a bounded excerpt, so the record always fits
        DynamoDB's 400 KB item and writing it can never fail the way the input did."""
        self._table.put_item(
            Item={
                "pk": REJECTED_PK,
                "sk": f"{_sortable_time(now)}#{uuid.uuid4().hex[:8]}",
                "at": _to_dynamo(now),
                "reason": excerpt(reason, MAX_REASON_CHARS),
                "payload": excerpt(payload, MAX_PAYLOAD_CHARS),
                "expires_at": int(now + self._ttl),
            }
        )

    def rejected(self, limit: int = 50) -> list[dict[str, Any]]:
        page = self._table.query(
            KeyConditionExpression=Key("pk").eq(REJECTED_PK), ScanIndexForward=False, Limit=limit
        )
        return [_from_dynamo(i) for i in page.get("Items", [])]
