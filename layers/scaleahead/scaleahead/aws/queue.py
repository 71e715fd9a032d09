"""The SQS work queue between the tick and the workers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


class EnqueueError(Exception):
    pass


class WorkQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        if not queue_url:
            raise EnqueueError("WORK_QUEUE_URL is not set")
        self._sqs = sqs
        self._url = queue_url

    def send(self, messages: Sequence[dict[str, Any]]) -> int:
        """Send in batches of ten (the SQS limit); retry failed entries once, then raise."""
        sent = 0
        for i in range(0, len(messages), 10):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(n), "MessageBody": json.dumps(m, separators=(",", ":"))}
                for n, m in enumerate(messages[i : i + 10])
            ]
            for attempt in range(2):
                out = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
                sent += len(out.get("Successful", []))
                failed = {f["Id"] for f in out.get("Failed", [])}
                if not failed:
                    break
                entries = [e for e in entries if e["Id"] in failed]
                if attempt == 1:
                    raise EnqueueError(f"SQS refused {len(failed)} work messages: {out['Failed']}")
        return sent
