"""The stack's state table and work queue on moto, as the functions expect to find them.

The tests' ``aws`` fixture and the scale bench (``scaleahead_tools.perf.scale``) stand up the
same two pieces the same way: the table from ``template.yaml`` (``local_aws.create_tables``),
the work queue, and ``WORK_QUEUE_URL`` pointing at it, since that is how the functions learn
the queue (``Settings.from_env``). One function, so that a change to either (a second table,
a queue attribute) reaches both.

``large_queues`` lets moto's SQS hold the bench's 10,000 messages: moto's cost per message sent
grows with the queue (quadratic in all), AWS's does not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scaleahead.settings import Settings
from scaleahead_testkit.local_aws import create_tables

WORK_QUEUE_NAME = "scaleahead-work"


@dataclass(frozen=True)
class Stack:
    """What was stood up: the settings the functions will read, and the work queue's URL."""

    settings: Settings
    queue_url: str


def stand_up(dynamodb: Any, sqs: Any) -> Stack:
    """Create the template's tables and the work queue on the clients' (moto) backend, and
    set ``WORK_QUEUE_URL`` in the process environment; the caller removes it when done."""
    create_tables(dynamodb, Settings.from_env())
    url = sqs.create_queue(QueueName=WORK_QUEUE_NAME)["QueueUrl"]
    os.environ["WORK_QUEUE_URL"] = url
    return Stack(Settings.from_env(), url)


class _QueueAttributes(Mapping[str, Any]):
    """``moto.sqs.models.Queue.attributes`` computed per attribute when read, with moto's own
    rules (the same names, values and "true"/"false" for booleans).

    moto builds every attribute on every read, the approximate message counts included (each a
    scan of the queue), and reads one attribute per message sent: sending N messages costs
    O(N²), hours at 10,000. Computed when read, a send reads only the one it needs."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        if queue.policy:
            names.append("Policy")
        if queue.redrive_policy:
            names.append("RedrivePolicy")
        self._names = names

    def __getitem__(self, name: str) -> Any:
        from moto.core.utils import camelcase_to_underscores

        if name not in self._names:
            raise KeyError(name)
        q = self._queue
        if name == "Policy":
            value = q.policy
        elif name == "RedrivePolicy":
            value = json.dumps(q.redrive_policy)
        else:
            value = getattr(q, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@contextmanager
def large_queues() -> Iterator[None]:
    """moto's SQS at tens of thousands of messages: what it answers unchanged, the work it does
    per call no longer growing with the queue where AWS's does not.

    1. ``Queue.attributes`` is computed per attribute read (``_QueueAttributes``).
    2. ``ReceiveMessage`` checks each message against the queue's retention period by reading
       every queue attribute (two scans of the queue per message); this reads the one it needs.

    ReceiveMessage and DeleteMessage still scan the queue once per call (linear, not
    quadratic per call): a 10,000-message drain takes about a minute."""
    from moto.core.utils import unix_time
    from moto.sqs.models import Queue, SQSBackend

    def attributes(self: Any) -> Mapping[str, Any]:
        return _QueueAttributes(self)

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > unix_time())

    saved = (Queue.attributes, SQSBackend.is_message_valid_based_on_retention_period)
    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]
    try:
        yield
    finally:
        Queue.attributes, SQSBackend.is_message_valid_based_on_retention_period = saved  # type: ignore[method-assign]
