"""The tick's fan-out: due targets only, batches of ten, bad definitions recorded and skipped."""

from __future__ import annotations

import itertools
import json

from scaleahead.service.tick import is_due, run_tick
from scaleahead.store import TARGETS_PK
from tests.conftest import NOW, Aws, make_target


def test_is_due_every_n_minutes_whatever_the_schedule_offset() -> None:
    assert is_due(60, 0, 60) and is_due(60, 61, 60)
    assert is_due(300, 600, 60) and not is_due(300, 660, 60)
    # a 5-minute schedule firing at :02, :07, :12 ... and a 10-minute target
    fired = [120 + 300 * k for k in range(12)]
    due = [t for t in fired if is_due(600, t, 300)]
    assert len(due) == 6 and all(b - a == 600 for a, b in itertools.pairwise(due))


def test_fans_out_many_targets_in_batches_and_skips_a_bad_definition(aws: Aws) -> None:
    store = aws.rt.store
    for i in range(23):
        store.put_target(make_target(id=f"t{i:02d}"), NOW)
    store.put_target(make_target(id="slow", evaluate_every_seconds=3600), NOW)
    aws.rt.store._table.put_item(Item={"pk": TARGETS_PK, "sk": "broken", "definition": "{}"})
    result = run_tick(aws.rt, NOW + 60)  # 12:06: not a whole hour
    assert len(result.enqueued) == 23 and result.not_due == ["slow"]
    assert result.invalid == ["broken"]
    assert "broken" in store.rejected()[0]["reason"]
    got = []
    while True:
        msgs = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)
        if not msgs.get("Messages"):
            break
        for m in msgs["Messages"]:
            got.append(json.loads(m["Body"])["target_id"])
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(got) == sorted(result.enqueued)
