"""Every key of the single table, in one place: the partitions are what the IAM policies in
``template.yaml`` scope each function to (``tests/test_template.py`` reads them from here), so a
key built anywhere else could drift from what a function is allowed to touch.

Layout (``pk`` / ``sk``):

- ``TARGET`` / ``<id>``: a target definition (JSON), listed by the tick with one Query.
- ``TARGET#<id>`` / ``STATE``: runtime state with a version and a short lease, so the alarm
  path and the worker (and SQS's duplicate deliveries) never actuate one target at once. It
  also holds the alarm episode in force and, between deciding and finishing an action, the
  intent (``pending``): written before AWS is called, so an invocation that dies half-way
  leaves a record the next one completes against the resource's real capacity.
- ``TARGET#<id>`` or ``DRIVER#<name>`` / ``FORECAST``: the latest forecast, or why there is
  none; targets that share a driver share one (``Target.forecast_key``).
- ``TARGET#<id>`` / ``DECISION#<time>#<n>``: the decision log, expiring through ``expires_at``.
- ``REJECTED`` / ``<time>#<n>``: input refused before it could name a target.
- ``PAUSE`` / ``<id>`` or ``*`` (``ALL_TARGETS``): the kill switch, for one target or for all;
  read with one consistent Query by every decision, so a pause holds from the next decision on.
- ``EVENT`` / ``<target>#<event id>``: planned events, one partition for all targets: they are
  few, and a worker batch reads them all in one Query.
- ``TAKEOVER`` / ``<id>``: what ``targets apply --take-over`` suspended of Application Auto
  Scaling, restored by ``targets remove``; the operator's CLI's alone.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from scaleahead.domain.state import ALL_TARGETS

if TYPE_CHECKING:
    from scaleahead.domain.target import Target

__all__ = [
    "ALL_TARGETS",
    "DECISIONS_END",
    "DECISION_PREFIX",
    "EVENTS_PK",
    "FORECAST_SK",
    "PAUSE_PK",
    "REJECTED_PK",
    "STATE_SK",
    "TAKEOVERS_PK",
    "TARGETS_PK",
    "decisions_since",
    "event_sk",
    "forecast_pk",
    "new_decision_sk",
    "new_rejected_sk",
    "sortable_time",
    "target_pk",
]

TARGETS_PK = "TARGET"
PAUSE_PK = "PAUSE"
EVENTS_PK = "EVENT"
REJECTED_PK = "REJECTED"
TAKEOVERS_PK = "TAKEOVER"
STATE_SK = "STATE"
FORECAST_SK = "FORECAST"
DECISION_PREFIX = "DECISION#"
# Sorts after every decision key ("~" follows the digits): the top of a range over the log.
DECISIONS_END = "DECISION#~"


def target_pk(target_id: str) -> str:
    """The partition of one target's state, forecast and decision log."""
    return f"TARGET#{target_id}"


def target_id_of(pk: str) -> str:
    """The target a ``target_pk`` partition belongs to."""
    return pk.removeprefix("TARGET#")


def forecast_pk(owner: str | Target) -> str:
    """Where a forecast lives: a target id's own partition, or the one a target's definition
    names (its shared driver's, else its own)."""
    return target_pk(owner) if isinstance(owner, str) else owner.forecast_key


def sortable_time(t: float) -> str:
    """A time that sorts as text in time order (fixed width, milliseconds)."""
    return f"{t:015.3f}"


def new_decision_sk(now: float) -> str:
    """A fresh key in the decision log, in time order; the suffix keeps two decisions of the
    same millisecond apart."""
    return f"{DECISION_PREFIX}{sortable_time(now)}#{uuid.uuid4().hex[:8]}"


def decisions_since(since: float | None) -> str:
    """The lowest decision key at or after ``since`` (the whole log with None)."""
    return DECISION_PREFIX if since is None else f"{DECISION_PREFIX}{sortable_time(since)}"


def new_rejected_sk(now: float) -> str:
    """A fresh key among the rejected inputs, in time order like the decision log's."""
    return f"{sortable_time(now)}#{uuid.uuid4().hex[:8]}"


def event_sk(target_id: str, event_id: str) -> str:
    """One planned event: a target's events sort together, and an id is unique per target."""
    return f"{target_id}#{event_id}"
