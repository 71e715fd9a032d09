"""The three shapes in which a CloudWatch alarm reaches Lambda, reduced to one signal.

EventBridge delivers "CloudWatch Alarm State Change"; an alarm's Lambda action delivers an
``alarmData`` payload; an alarm's SNS action delivers a JSON message inside SNS records. All
three carry the same facts in different places. A payload that fits none is refused with a
message saying what was expected, never guessed at.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

HIGH_LOAD_SUFFIX = "-high-load"
STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")


class AlarmEventError(ValueError):
    """The payload is not an alarm state change this function understands."""


@dataclass(frozen=True)
class AlarmSignal:
    alarm_name: str
    state: str
    previous_state: str | None
    timestamp: float | None
    observed: float | None
    threshold: float | None
    source: str
    event_id: str


def alarm_name(prefix: str, target_id: str) -> str:
    return f"{prefix}{target_id}{HIGH_LOAD_SUFFIX}"


def target_id_from_alarm(prefix: str, name: str) -> str | None:
    """The target an alarm belongs to, or None when the alarm is not one this stack manages."""
    if not name.startswith(prefix) or not name.endswith(HIGH_LOAD_SUFFIX):
        return None
    tid = name[len(prefix) : -len(HIGH_LOAD_SUFFIX)]
    return tid or None


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


def _from_reason_data(raw: Any) -> tuple[float | None, float | None]:
    """Observed (the largest recent datapoint) and threshold from ``reasonData``."""
    if not raw:
        return None, None
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
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


def _state(value: Any, where: str) -> str:
    if value not in STATES:
        raise AlarmEventError(f"{where}: state {value!r} is not one of {list(STATES)}")
    return str(value)


def _from_alarm_data(data: Any, source: str, event_id: str) -> AlarmSignal:
    if not isinstance(data, dict) or not isinstance(data.get("alarmName"), str):
        raise AlarmEventError(f"{source}: missing alarmName")
    state = data.get("state")
    if not isinstance(state, dict):
        raise AlarmEventError(f"{source}: missing state")
    observed, threshold = _from_reason_data(state.get("reasonData"))
    prev = data.get("previousState")
    return AlarmSignal(
        alarm_name=data["alarmName"],
        state=_state(state.get("value"), source),
        previous_state=prev.get("value") if isinstance(prev, dict) else None,
        timestamp=_ts(state.get("timestamp")),
        observed=observed,
        threshold=threshold,
        source=source,
        event_id=event_id,
    )


def parse_alarm_event(event: Any) -> list[AlarmSignal]:
    """Every alarm state change in ``event`` (SNS may batch several), or ``AlarmEventError``.

    The signal's ``event_id`` is the alarm, its new state and the time of the change, not the
    delivery's id: one alarm wired to EventBridge, SNS and the Lambda action at once arrives
    three times with three delivery ids, and must act once.
    """
    return [_dedupe_key(s) for s in _parse(event)]


def _dedupe_key(s: AlarmSignal) -> AlarmSignal:
    if s.timestamp is None:
        return s
    return replace(s, event_id=f"{s.alarm_name}#{s.state}#{s.timestamp:.3f}")


def _parse(event: Any) -> list[AlarmSignal]:
    if not isinstance(event, dict):
        raise AlarmEventError("expected a JSON object")
    if event.get("detail-type") == "CloudWatch Alarm State Change":
        if event.get("source") != "aws.cloudwatch":
            raise AlarmEventError(
                f"EventBridge event from unexpected source {event.get('source')!r}"
            )
        return [_from_alarm_data(event.get("detail"), "eventbridge", str(event.get("id", "")))]
    if "alarmData" in event:
        data = event["alarmData"]
        state = data.get("state") if isinstance(data, dict) else None
        stamp = state.get("timestamp", "") if isinstance(state, dict) else ""
        eid = f"{event.get('alarmArn', '')}#{stamp}"
        return [_from_alarm_data(data, "lambda-action", eid)]
    records = event.get("Records")
    if isinstance(records, list) and records:
        return [_from_sns_record(r) for r in records]
    raise AlarmEventError(
        "not an alarm event: expected an EventBridge 'CloudWatch Alarm State Change', "
        "a CloudWatch alarm Lambda action (alarmData) or an SNS notification"
    )


def _from_sns_record(record: Any) -> AlarmSignal:
    if not isinstance(record, dict) or record.get("EventSource") != "aws:sns":
        raise AlarmEventError("Records: only SNS records are accepted")
    sns = record.get("Sns") or {}
    try:
        msg = json.loads(sns.get("Message") or "")
    except json.JSONDecodeError:
        raise AlarmEventError(
            "SNS message is not a CloudWatch alarm notification (not JSON)"
        ) from None
    if not isinstance(msg, dict) or not isinstance(msg.get("AlarmName"), str):
        raise AlarmEventError("SNS message is not a CloudWatch alarm notification (no AlarmName)")
    raw_trigger = msg.get("Trigger")
    trigger: dict[str, Any] = raw_trigger if isinstance(raw_trigger, dict) else {}
    return AlarmSignal(
        alarm_name=msg["AlarmName"],
        state=_state(msg.get("NewStateValue"), "sns"),
        previous_state=msg.get("OldStateValue"),
        timestamp=_ts(msg.get("StateChangeTime")),
        observed=_from_reason_text(msg.get("NewStateReason")),
        threshold=_finite(trigger.get("Threshold")),
        source="sns",
        event_id=str(sns.get("MessageId", "")),
    )
