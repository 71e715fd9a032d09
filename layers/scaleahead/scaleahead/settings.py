"""Deployment settings, read from the environment that ``template.yaml`` declares.

Every function reads the same variables, so one dataclass describes them; the template is the
only place that sets them in AWS, and tests or the demo set them for a local run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    """Whether the control plane acts or only records what it would do."""

    FORECAST_ONLY = "ForecastOnly"
    FORECAST_AND_SCALE = "ForecastAndScale"


@dataclass(frozen=True)
class Settings:
    state_table: str
    work_queue_url: str
    alarm_prefix: str
    mode: Mode
    tick_seconds: int
    decision_ttl_days: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        mode_raw = e.get("MODE", Mode.FORECAST_AND_SCALE.value)
        try:
            mode = Mode(mode_raw)
        except ValueError:
            raise ValueError(
                f"MODE must be one of {[m.value for m in Mode]}, got {mode_raw!r}"
            ) from None
        return cls(
            state_table=e.get("STATE_TABLE", "scaleahead-state"),
            work_queue_url=e.get("WORK_QUEUE_URL", ""),
            alarm_prefix=e.get("ALARM_PREFIX", "scaleahead-"),
            mode=mode,
            tick_seconds=60 * int(e.get("TICK_MINUTES", "1")),
            decision_ttl_days=int(e.get("DECISION_TTL_DAYS", "30")),
        )
