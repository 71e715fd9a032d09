"""Alarm events and work batches built from the sample files in events/, with the facts a test
wants changed (state, time, channel, account, region, datapoints), so each test says only what
differs from a genuine delivery."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"
CHANNELS = ("eventbridge", "lambda", "sns")
_FILES = {
    "eventbridge": "alarm-eventbridge-alarm.json",
    "lambda": "alarm-lambda-action.json",
    "sns": "alarm-sns.json",
}
ALARM = "scaleahead-web-high-load"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def iso(t: float) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}+0000"


def _reason_data(observed: float, threshold: float, at: float) -> str:
    return json.dumps(
        {
            "version": "1.0",
            "queryDate": iso(at),
            "period": 60,
            "recentDatapoints": [observed],
            "threshold": threshold,
        }
    )


def alarm_event(
    channel: str,
    state: str = "ALARM",
    at: float | None = None,
    *,
    observed: float | None = None,
    threshold: float | None = None,
    account: str = ACCOUNT,
    region: str = REGION,
    name: str = ALARM,
) -> dict[str, Any]:
    """One delivery of one state change of ``name`` through ``channel``.

    ``at=None`` leaves the change without a timestamp; ``observed``/``threshold`` replace the
    sample's datapoints (520 over 400)."""
    event: dict[str, Any] = json.loads((EVENTS / _FILES[channel]).read_text())
    stamp = iso(at) if at is not None else None
    arn = f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
    if channel == "sns":
        record = event["Records"][0]
        msg = json.loads(record["Sns"]["Message"])
        msg.update(AlarmName=name, NewStateValue=state, AWSAccountId=account, AlarmArn=arn)
        msg["OldStateValue"] = "OK" if state == "ALARM" else "ALARM"
        if stamp is None:
            msg.pop("StateChangeTime", None)
        else:
            msg["StateChangeTime"] = stamp
        if observed is not None:
            msg["NewStateReason"] = f"Threshold Crossed: 1 datapoint [{observed!r} (x)]"
        if threshold is not None:
            msg["Trigger"]["Threshold"] = threshold
        record["Sns"]["Message"] = json.dumps(msg)
        return event
    data = event["detail"] if channel == "eventbridge" else event["alarmData"]
    data["alarmName"] = name
    data["state"]["value"] = state
    data["previousState"]["value"] = "OK" if state == "ALARM" else "ALARM"
    if stamp is None:
        data["state"].pop("timestamp", None)
    else:
        data["state"]["timestamp"] = stamp
    if observed is not None or threshold is not None:
        data["state"]["reasonData"] = _reason_data(
            520.0 if observed is None else observed,
            400.0 if threshold is None else threshold,
            at or 0.0,
        )
    if channel == "eventbridge":
        event.update(account=account, region=region, resources=[arn])
    else:
        event.update(alarmArn=arn, accountId=account, region=region)
    return event


def work_batch(*bodies: str) -> dict[str, Any]:
    """An SQS batch for the worker, one record per body, message ids m0, m1..."""
    sample = json.loads((EVENTS / "worker-sqs-batch.json").read_text())
    template = sample["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        r = copy.deepcopy(template)
        r["messageId"] = f"m{i}"
        r["body"] = body
        records.append(r)
    return {"Records": records}


def work(target_id: str, tick: int | float) -> str:
    return json.dumps({"target_id": target_id, "tick": tick})
