"""CloudWatch alarm evaluation for the demo and the backtest: moto stores alarms but never
evaluates them, and a backtest replays a trace with no CloudWatch at all.

Evaluation follows CloudWatch's documented rules for a metric alarm: look at the last
``EvaluationPeriods`` periods, go to ALARM when at least ``DatapointsToAlarm`` of them breach,
to OK when fewer do, with missing datapoints treated as the alarm's ``TreatMissingData`` says
(the managed alarms use notBreaching). A state change produces the same EventBridge event that
CloudWatch sends, which the demo hands to the alarm function.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


@dataclass(frozen=True)
class Evaluation:
    state: str
    breaching: int
    datapoints: list[float | None]


def evaluate(alarm: dict[str, Any], datapoints: list[float | None]) -> Evaluation:
    """New state from the newest ``EvaluationPeriods`` datapoints (oldest first, None=missing)."""
    n = int(alarm["EvaluationPeriods"])
    m = int(alarm.get("DatapointsToAlarm") or n)
    window = datapoints[-n:]
    compare = _COMPARE[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    missing = alarm.get("TreatMissingData", "missing")
    breaching = 0
    for v in window:
        if v is None:
            breaching += missing == "breaching"
        elif compare(v, threshold):
            breaching += 1
    present = [v for v in window if v is not None]
    if not present and missing == "missing":
        return Evaluation("INSUFFICIENT_DATA", 0, window)
    return Evaluation("ALARM" if breaching >= m else "OK", breaching, window)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def state_change_event(
    alarm: dict[str, Any],
    new: Evaluation,
    previous_state: str,
    at: float,
    *,
    account: str = "123456789012",
    region: str = "us-east-1",
    period: int = 60,
) -> dict[str, Any]:
    """The EventBridge "CloudWatch Alarm State Change" event CloudWatch would emit."""
    points = [v for v in new.datapoints if v is not None]
    reason_data = {
        "version": "1.0",
        "queryDate": _iso(at),
        "startDate": _iso(at - period * len(new.datapoints)),
        "period": period,
        "recentDatapoints": points,
        "threshold": float(alarm["Threshold"]),
        "evaluatedDatapoints": [
            {"timestamp": _iso(at - period * (len(new.datapoints) - i)), "value": v}
            for i, v in enumerate(new.datapoints)
            if v is not None
        ],
    }
    word = "greater than" if new.state == "ALARM" else "not greater than"
    reason = (
        f"Threshold Crossed: {new.breaching} out of the last {len(new.datapoints)} datapoints "
        f"[{', '.join(f'{v:g}' for v in points)}] was {word} the threshold "
        f"({float(alarm['Threshold']):g})."
    )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": _iso(at).replace(".000+0000", "Z"),
        "region": region,
        "resources": [alarm.get("AlarmArn", "")],
        "detail": {
            "alarmName": alarm["AlarmName"],
            "state": {
                "value": new.state,
                "reason": reason,
                "reasonData": json.dumps(reason_data),
                "timestamp": _iso(at),
            },
            "previousState": {"value": previous_state, "timestamp": _iso(at - period)},
            "configuration": {
                "description": alarm.get("AlarmDescription", ""),
                "metrics": alarm.get("Metrics", []),
            },
        },
    }
