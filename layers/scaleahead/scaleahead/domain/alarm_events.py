"""The three shapes in which a CloudWatch alarm reaches Lambda, reduced to one signal.

EventBridge delivers "CloudWatch Alarm State Change"; an alarm's Lambda action delivers an
``alarmData`` payload; an alarm's SNS action delivers a JSON message inside SNS records. All
three carry the same facts in different places, as AWS documents them:

- EventBridge's event, whose ``detail`` is the same object as the Lambda action's ``alarmData``:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
- the Lambda action's payload:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html
- SNS records: https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html, whose message is
  CloudWatch's JSON notification, with the datapoints only in prose.

They are read as plain dicts (``_get`` gives ``None`` for a missing key, or where a list, a
string or null stands in place of an object), and every value is checked here before it is
used. Powertools' event source data classes would say no more than where the keys live (they
check nothing), and importing any one of them loads the whole ``utilities.data_classes``
package, every event source Powertools knows: some 10 ms of a cold start on the alarm path,
whose import issue 15 holds to 1.2 times ``import boto3``. Ours too is the identity of a change
(account, region, event id) that deduplication relies on. A payload that fits none of the three
is refused with a message saying what was expected, never guessed at.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

HIGH_LOAD_SUFFIX = "-high-load"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
# CloudWatch alarm names are at most 255 characters; anything longer is not an alarm's.
MAX_ALARM_NAME = 255
# A CloudWatch alarm notification is a few kilobytes; SNS allows 256 KB. A message far beyond
# what CloudWatch writes is refused before it is parsed.
MAX_SNS_MESSAGE = 64 * 1024
_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:([a-z0-9-]+):([0-9]{12}):alarm:")


class AlarmEventError(ValueError):
    """The payload is not an alarm state change this function understands."""


@dataclass(frozen=True)
class AlarmSignal:
    """One alarm state change, whichever of the three shapes delivered it.

    (Written out: a dataclass without a docstring builds one from ``inspect.signature`` on
    import, time the alarm path's cold start does not need to spend.)"""

    alarm_name: str
    state: str
    previous_state: str | None
    timestamp: float | None
    observed: float | None
    threshold: float | None
    source: str
    event_id: str
    account: str | None = None
    region: str | None = None

    def foreign(self, account: str | None, region: str | None) -> str:
        """Why this change does not come from the stack's own account and region, or "".

        The stack's EventBridge rule already filters on both, but the Lambda action and SNS
        reach the function by other doors; a change from elsewhere must never act here.
        """
        if account is not None and self.account != account:
            return f"comes from account {self.account!r}, not this stack's ({account})"
        if region is not None and self.region != region:
            return f"comes from region {self.region!r}, not this stack's ({region})"
        return ""


def alarm_name(prefix: str, target_id: str) -> str:
    return f"{prefix}{target_id}{HIGH_LOAD_SUFFIX}"


def target_id_from_alarm(prefix: str, name: str) -> str | None:
    """The target an alarm belongs to, or None when the alarm is not one this stack manages."""
    if not name.startswith(prefix) or not name.endswith(HIGH_LOAD_SUFFIX):
        return None
    tid = name[len(prefix) : -len(HIGH_LOAD_SUFFIX)]
    return tid or None


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` of an untrusted payload, or ``default`` where the key is absent or ``obj``
    is not an object (a list, a string, null). What AWS documents is not what arrived, so the
    value comes back as ``Any``, to be checked. A key present with ``null`` gives ``None``."""
    return obj.get(key, default) if isinstance(obj, dict) else default


def _ts(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    v = value.strip().replace("Z", "+00:00")
    # CloudWatch writes "+0000" without a colon in some payloads.
    v = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", v)
    try:
        return datetime.fromisoformat(v).timestamp()
    except ValueError:
        return None


def _finite(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _from_reason_data(state: dict[str, Any]) -> tuple[float | None, float | None]:
    """Observed (the largest recent datapoint) and threshold from ``reasonData``: JSON text
    as CloudWatch writes it, or (in a hand-made event) the object itself."""
    raw = state.get("reasonData")
    if not raw:
        return None, None
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except (json.JSONDecodeError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    points = [p for p in (_finite(v) for v in data.get("recentDatapoints") or []) if p is not None]
    if not points:
        points = [
            p
            for p in (
                _finite(e.get("value"))
                for e in data.get("evaluatedDatapoints") or []
                if isinstance(e, dict)
            )
            if p is not None
        ]
    return (max(points) if points else None), _finite(data.get("threshold"))


_REASON_POINTS = re.compile(r"\[([^\]]*)\]")
_REASON_VALUE = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?) \(")


def _from_reason_text(text: Any) -> float | None:
    """SNS messages carry datapoints only in prose: "[130.0 (27/11/26 21:00:00), ...]"."""
    if not isinstance(text, str):
        return None
    m = _REASON_POINTS.search(text)
    if not m:
        return None
    values = [float(v) for v in _REASON_VALUE.findall(m.group(1))]
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None


def _short(value: Any, limit: int = 80) -> str:
    """A hostile value quoted in an error message, cut to a readable length."""
    text = (
        repr(value) if isinstance(value, str | int | float | bool | None) else type(value).__name__
    )
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _state(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in STATES:
        raise AlarmEventError(f"{where}: state {_short(value)} is not one of {list(STATES)}")
    return value


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise AlarmEventError(f"{where}: missing alarmName")
    if len(value) > MAX_ALARM_NAME:
        raise AlarmEventError(
            f"{where}: alarm name of {len(value)} characters; CloudWatch allows {MAX_ALARM_NAME}"
        )
    return value


def _from_arn(arn: Any) -> tuple[str | None, str | None]:
    """(account, region) of a CloudWatch alarm ARN, or Nones."""
    m = _ARN.match(arn) if isinstance(arn, str) else None
    return (m.group(2), m.group(1)) if m else (None, None)


def _origin(
    where: str,
    arn_field: str,
    arn: Any,
    account: tuple[str, Any],
    region: tuple[str, Any] = ("region", None),
) -> tuple[str | None, str | None]:
    """(account, region) a change comes from: its alarm ARN's, and the ``(field, value)``
    claims beside it, which must agree with the ARN (a contradiction is a forgery)."""
    found = _from_arn(arn)
    out: list[str | None] = []
    for (field, raw), in_arn, kind in zip(
        (account, region), found, ("account", "region"), strict=True
    ):
        claimed = _text(raw)
        if claimed is not None and in_arn is not None and claimed != in_arn:
            raise AlarmEventError(
                f"{where}: {field} {claimed!r} does not match the {arn_field}'s {kind} {in_arn!r}"
            )
        out.append(claimed or in_arn)
    return out[0], out[1]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= 64 else None


def _from_alarm_data(
    data: Any, source: str, event_id: str, account: str | None, region: str | None
) -> AlarmSignal:
    """The change an EventBridge ``detail`` or a Lambda action's ``alarmData`` describes (the
    same object in both)."""
    if not isinstance(data, dict):
        raise AlarmEventError(f"{source}: missing alarmName")
    name = _name(data.get("alarmName"), source)
    state = data.get("state")
    if not isinstance(state, dict):
        raise AlarmEventError(f"{source}: missing state")
    observed, threshold = _from_reason_data(state)
    return AlarmSignal(
        alarm_name=name,
        state=_state(state.get("value"), source),
        previous_state=_text(_get(data.get("previousState"), "value")),
        timestamp=_ts(state.get("timestamp")),
        observed=observed,
        threshold=threshold,
        source=source,
        event_id=event_id[:512],
        account=account,
        region=region,
    )


def parse_alarm_event(event: Any) -> list[AlarmSignal]:
    """Every alarm state change in ``event``, or ``AlarmEventError`` for the first bad one."""
    out = []
    for item in parse_deliveries(event):
        if isinstance(item, AlarmEventError):
            raise item
        out.append(item)
    return out


def parse_deliveries(event: Any) -> list[AlarmSignal | AlarmEventError]:
    """Each state change in ``event`` (SNS may batch several), or why that one is refused.

    ``AlarmEventError`` is raised when the payload as a whole has no recognisable shape; an
    SNS batch is judged record by record, so one poison record never hides a good one.
    """
    if not isinstance(event, dict):
        raise AlarmEventError("expected a JSON object")
    if event.get("detail-type") == ALARM_STATE_CHANGE:
        source = event.get("source")
        if source != "aws.cloudwatch":
            raise AlarmEventError(f"EventBridge event from unexpected source {_short(source)}")
        return [
            _from_alarm_data(
                event.get("detail"),
                "eventbridge",
                str(event.get("id", "")),
                _text(event.get("account")),
                _text(event.get("region")),
            )
        ]
    if "alarmData" in event:
        data = event["alarmData"]
        stamp = _get(_get(data, "state"), "timestamp", "")
        eid = f"{event.get('alarmArn', '')}#{stamp}"
        account, region = _origin(
            "lambda-action",
            "alarmArn",
            event.get("alarmArn"),
            ("accountId", event.get("accountId")),
            ("region", event.get("region")),
        )
        return [_from_alarm_data(data, "lambda-action", eid, account, region)]
    records = event.get("Records")
    if isinstance(records, list) and records:
        out: list[AlarmSignal | AlarmEventError] = []
        for record in records:
            try:
                out.append(_from_sns_record(record))
            except AlarmEventError as err:
                out.append(err)
        return out
    raise AlarmEventError(
        "not an alarm event: expected an EventBridge 'CloudWatch Alarm State Change', "
        "a CloudWatch alarm Lambda action (alarmData) or an SNS notification"
    )


def _from_sns_record(record: Any) -> AlarmSignal:
    if _get(record, "EventSource") != "aws:sns":
        raise AlarmEventError("Records: only SNS records are accepted")
    sns = record.get("Sns")
    raw = _get(sns, "Message")
    if not isinstance(raw, str):
        raise AlarmEventError("SNS message is not a CloudWatch alarm notification (no text)")
    if len(raw) > MAX_SNS_MESSAGE:
        raise AlarmEventError(
            f"SNS message of {len(raw)} characters; an alarm notification is a few kilobytes"
        )
    # The message is CloudWatch's notification, JSON text inside the SNS record.
    try:
        msg = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        raise AlarmEventError(
            "SNS message is not a CloudWatch alarm notification (not JSON, or nested too deep)"
        ) from None
    if not isinstance(msg, dict) or not isinstance(msg.get("AlarmName"), str):
        raise AlarmEventError("SNS message is not a CloudWatch alarm notification (no AlarmName)")
    raw_trigger = msg.get("Trigger")
    trigger: dict[str, Any] = raw_trigger if isinstance(raw_trigger, dict) else {}
    account, region = _origin(
        "sns", "AlarmArn", msg.get("AlarmArn"), ("AWSAccountId", msg.get("AWSAccountId"))
    )
    return AlarmSignal(
        alarm_name=_name(msg["AlarmName"], "sns"),
        state=_state(msg.get("NewStateValue"), "sns"),
        previous_state=_text(msg.get("OldStateValue")),
        timestamp=_ts(msg.get("StateChangeTime")),
        observed=_from_reason_text(msg.get("NewStateReason")),
        threshold=_finite(trigger.get("Threshold")),
        source="sns",
        event_id=str(_get(sns, "MessageId", ""))[:512],
        account=account,
        region=region,
    )
