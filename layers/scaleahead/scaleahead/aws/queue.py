"""The SQS work queue between the tick and the workers.

The tick sends one message per due target, ten to a SendMessageBatch (the SQS limit). One
batch after another, 10,000 targets are 1,000 round trips: at SQS's "tens to low hundreds of
milliseconds" a call, longer than the tick's 30 s timeout (``python -m
scaleahead_tools.perf.scale``). So batches are sent ``SEND_CONCURRENCY`` at a time, from
threads: the calls wait on the network, not on the interpreter, and a botocore client is safe
to share between threads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

# SendMessageBatch takes at most ten entries.
BATCH = 10
# Batches in flight at once: botocore's connection pool (max_pool_connections) holds ten
# connections per client by default, so an eleventh call would only wait for one of them.
SEND_CONCURRENCY = 10


class EnqueueError(Exception):
    pass


class WorkQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        if not queue_url:
            raise EnqueueError("WORK_QUEUE_URL is not set")
        self._sqs = sqs
        self._url = queue_url

    def send(self, messages: Sequence[dict[str, Any]]) -> int:
        """Send in batches of ten, up to ``SEND_CONCURRENCY`` batches at once; each batch
        retries its failed entries once. Returns the messages sent; raises ``EnqueueError``
        (after every batch was tried) when SQS refused some, or the first batch's error when
        a call failed outright."""
        batches = [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]
        if len(batches) <= 1:
            refused = [self._send_batch(b) for b in batches]
        else:
            with ThreadPoolExecutor(max_workers=min(SEND_CONCURRENCY, len(batches))) as pool:
                # map: every batch is tried; the first failure is raised once all are done.
                refused = list(pool.map(self._send_batch, batches))
        failed = [f for r in refused for f in r]
        if failed:
            raise EnqueueError(f"SQS refused {len(failed)} work messages: {failed[:10]}")
        return len(messages)

    def _send_batch(self, batch: Sequence[dict[str, Any]]) -> list[Any]:
        """One SendMessageBatch, its failed entries retried once; the entries still refused."""
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(n), "MessageBody": json.dumps(m, separators=(",", ":"))}
            for n, m in enumerate(batch)
        ]
        failures: list[Any] = []
        for _ in range(2):
            out = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            failures = list(out.get("Failed", []))
            failed = {f["Id"] for f in failures}
            if not failed:
                return []
            entries = [e for e in entries if e["Id"] in failed]
        return failures
