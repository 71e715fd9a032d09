"""A work item that keeps failing reaches WorkDLQ, where the DLQ alarm sees it.

Seen (issue 12): the worker skipped items older than 600 s as "stale", but SQS needs two
visibility timeouts (2 x 370 s) to deliver an item a third time, so a persistently failing item
was acknowledged as stale on its third delivery and never reached the dead-letter queue: its
alarm never fired. Here the queues are made as template.yaml makes them (redrive policy,
visibility timeout), the item is delivered by SQS (moto) as often as SQS would, each delivery
one visibility timeout after the last on the functions' clock, and the real handler reports
the failure every time.
"""

from __future__ import annotations

import json
from typing import Any

from scaleahead_testkit.lambda_context import LocalContext
from scaleahead_testkit.local_aws import load_template
from tests.conftest import NOW, Aws, make_target
from tests.events_kit import work
from tests.faults import Faults
from tests.test_handlers import resolve_handler

RESOURCES = load_template()["Resources"]


def _queues(aws: Aws) -> tuple[str, str, int, int]:
    """WorkDLQ and a work queue redriving to it as the template says: (work url, dlq url,
    maxReceiveCount, VisibilityTimeout)."""
    props = RESOURCES["WorkQueue"]["Properties"]
    max_receives = int(props["RedrivePolicy"]["maxReceiveCount"])
    visibility = int(props["VisibilityTimeout"])
    dlq = aws.sqs.create_queue(QueueName="scaleahead-work-dlq")["QueueUrl"]
    dlq_arn = aws.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}
    url = aws.sqs.create_queue(
        QueueName="scaleahead-work-redriven",
        Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": str(visibility)},
    )["QueueUrl"]
    return url, dlq, max_receives, visibility


def _event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:scaleahead-work-redriven",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def test_a_persistently_failing_item_reaches_the_dead_letter_queue(
    aws: Aws, faults: Faults
) -> None:
    aws.apply(make_target())
    url, dlq, max_receives, visibility = _queues(aws)
    # The target's ECS API answers 503 on every attempt: a transient fault that never passes.
    faults.add("ecs", "DescribeServices", "5xx", times=0)
    aws.sqs.send_message(QueueUrl=url, MessageBody=work("web", int(NOW // 60 * 60)))
    handler = resolve_handler("WorkerFunction")
    deliveries = 0
    while True:
        got = aws.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            break
        deliveries += 1
        out = handler(_event(got), LocalContext())
        # reported failed, so not deleted: SQS redelivers it one visibility timeout later
        assert [f["itemIdentifier"] for f in out["batchItemFailures"]] == [got[0]["MessageId"]]
        aws.clock.advance(visibility)
        assert deliveries <= max_receives, "SQS should have dead-lettered it by now"
    assert deliveries == max_receives
    # never refused as too old on the way: it failed, and was reported failed, every time
    assert aws.rt.store.rejected() == []
    parked = aws.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["target_id"] for m in parked] == ["web"]
    # WorkDLQAlarm watches this queue's ApproximateNumberOfMessagesVisible (> 0)
    alarm = RESOURCES["WorkDLQAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["WorkDLQ", "QueueName"]}
    aws.sqs.change_message_visibility(
        QueueUrl=dlq, ReceiptHandle=parked[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert int(attrs["Attributes"]["ApproximateNumberOfMessages"]) == 1
