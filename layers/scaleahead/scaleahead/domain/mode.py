"""Whether the control plane acts or only records what it would do: a stack-wide setting
(``MODE``) that each target may override, so it belongs to the domain, not to the environment
parsing."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    FORECAST_ONLY = "ForecastOnly"
    FORECAST_AND_SCALE = "ForecastAndScale"
