"""The decision record: what was decided, from what, and why; one type for every reader.

Every decision, taken or refused, is kept, and the operator reads it back (``scaleahead
explain``, the dashboard's metrics, the demo's report). Built by the worker and the alarm path,
written and read back only by the store (``scaleahead.store``), it is typed so that a reader
cannot ask for a field no writer sets: the inputs of a tick and of an alarm differ, and say so.

``metric`` marks the figures each decision reports: under those names they are fields of the
structured "decision" log line (``decision_line``), which the dashboard's per-target widgets
query with Logs Insights, and, at MetricsLevel per-target, also CloudWatch metrics (EMF,
``published``). Both are derived from these marks, not from lists kept apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal

from scaleahead.domain.decision import Action, Reason


class Source(StrEnum):
    WORKER = "worker"
    ALARM = "alarm"


Unit = Literal["Count", "Percent"]


def metric(name: str, unit: Unit = "Count", **kw: Any) -> Any:
    """A record field published as the EMF metric ``name`` (Percent: the value x 100)."""
    return field(metadata={"metric": (name, unit)}, **kw)


@dataclass(frozen=True)
class TickInputs:
    """What the worker's tick planned from."""

    plan: int | None = metric("PlannedCapacity", default=None)
    plan_basis: str = ""
    planned_load: float | None = None
    observed_load: float | None = metric("ObservedLoad", default=None)
    data_problem: str | None = None
    level: float | None = None
    floor: int | None = None
    stable_plan: int | None = None
    min: int | None = None
    max: int | None = None
    mode: str = ""
    paused: str | None = None
    warmup_seconds: int | None = None
    warmup_source: str = ""
    forecast_at: float | None = None
    forecast_status: str = ""
    forecast_now: float | None = metric("ForecastLoad", default=None)
    forecast_upper_now: float | None = metric("ForecastUpperLoad", default=None)
    # The planned events whose windows the plan overlaps, described.
    events: list[str] | None = None
    # How far the forecast was off over the recent window: the dashboard's accuracy line.
    forecast_error: float | None = metric("ForecastErrorPercent", "Percent", default=None)
    distrusted: list[str] | None = None
    # Until when the target rests, skipped by the tick (``domain.rest``).
    rest_until: float | None = None


@dataclass(frozen=True)
class AlarmInputs:
    """What the alarm path acted on: the state change and the threshold it judged it by."""

    alarm: str = ""
    alarm_state: str = ""
    alarm_source: str = ""
    alarm_changed_at: float | None = None
    observed_load: float | None = metric("ObservedLoad", default=None)
    alarm_threshold_seen: float | None = None
    alarm_threshold_used: float | None = None
    episode_start: int | None = None
    floor: int | None = None
    min: int | None = None
    max: int | None = None
    mode: str = ""
    paused: str | None = None
    distrusted: list[str] | None = None


Inputs = TickInputs | AlarmInputs


@dataclass(frozen=True)
class DecisionRecord:
    """One decision. ``before``/``after`` are the capacity found and left; ``desired`` what
    was decided; ``executed`` whether AWS was asked and did it. A decision refused before
    capacity was read (lease held, capacity unreadable) has no figures."""

    source: Source
    action: Action
    executed: bool
    reason: Reason
    message: str
    kind: str | None = None
    before: int | None = metric("ActualCapacity", default=None)
    after: int | None = metric("DesiredCapacity", default=None)
    desired: int | None = None
    ready: int | None = None
    detail: str = ""
    alarm_threshold: float | None = None
    inputs: Inputs | None = None
    # Completed by a later invocation after the one that recorded the intent was interrupted.
    reconciled: bool = False
    # Set when read back from the store.
    target_id: str = ""
    at: float | None = None

    @property
    def tick(self) -> TickInputs | None:
        """The tick's inputs, when the worker decided."""
        return self.inputs if isinstance(self.inputs, TickInputs) else None

    @property
    def alarm(self) -> AlarmInputs | None:
        """The alarm's inputs, when the alarm path decided."""
        return self.inputs if isinstance(self.inputs, AlarmInputs) else None


def published(record: DecisionRecord) -> list[tuple[str, Unit, float]]:
    """The (metric, unit, value) a decision publishes: every marked field that holds a number,
    on the record and on its inputs. Percent fields are stored as fractions, sent x 100."""
    out: list[tuple[str, Unit, float]] = []
    for obj in (record, record.inputs):
        if obj is None:
            continue
        for f in fields(obj):
            mark = f.metadata.get("metric")
            value = getattr(obj, f.name)
            if mark is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            name, unit = mark
            out.append((name, unit, 100 * value if unit == "Percent" else float(value)))
    return out


def decision_line(record: DecisionRecord) -> dict[str, object]:
    """The fields of the decision's structured log line, besides the target's id and kind.

    The line is the per-target record the dashboard reads at every MetricsLevel, so it carries
    every figure ``published`` would send, under the same names (a percent as a percent, loads
    to three decimals: a log line is paid for by the byte).
    """
    line: dict[str, object] = {
        "source": record.source.value,
        "action": record.action.value,
        "executed": record.executed,
        "reason": record.reason.value,
        "why": record.message,
    }
    for name, _, value in published(record):
        line[name] = int(value) if value.is_integer() else round(value, 3)
    return line


def metric_names() -> dict[str, Unit]:
    """Every metric a decision may publish, with its unit (the dashboard plots these)."""
    names: dict[str, Unit] = {}
    for cls in (DecisionRecord, TickInputs, AlarmInputs):
        for f in fields(cls):
            if "metric" in f.metadata:
                name, unit = f.metadata["metric"]
                names[name] = unit
    return names
