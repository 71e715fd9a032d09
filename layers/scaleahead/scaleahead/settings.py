"""Deployment settings, read from the environment that ``template.yaml`` declares.

Every function reads the same variables; the template is the only place that sets them in AWS,
and tests or the demo set them for a local run. Each variable is read and checked here by hand
(``_VARIABLES``: its name, default and parser), not by pydantic-settings: importing pydantic
cost the alarm function about a fifth of its cold start for six strings (issue 15). ``Settings``
is what the code uses, a frozen dataclass (the CLI derives variants of it with
``dataclasses.replace``) with the tick in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from scaleahead.domain.mode import Mode

__all__ = ["VARIABLES", "MetricsLevel", "Mode", "Settings"]


class MetricsLevel(StrEnum):
    """Which custom metrics the decisions publish (template.yaml's MetricsLevel).

    A custom metric costs $0.30 a month however rarely it is sent, so a metric per target per
    figure was four fifths of the bill (issue 15). ``fleet`` (the default) sends two counts for
    the whole stack (Actions, NotScaled); the dashboard draws each target's lines from the
    structured decision log line instead (Logs Insights). ``per-target`` adds each decision's
    figures as metrics dimensioned by Target, for teams that alarm on them; ``none`` sends no
    custom metric at all (the template also turns Powertools' metrics off).
    """

    NONE = "none"
    FLEET = "fleet"
    PER_TARGET = "per-target"


_Choice = TypeVar("_Choice", bound=StrEnum)


def _text(raw: str) -> str:
    return raw


def _one_of(choices: type[_Choice]) -> Callable[[str], _Choice]:
    """A parser of one of ``choices``' values, whose error lists them all."""

    def parse(raw: str) -> _Choice:
        try:
            return choices(raw)
        except ValueError:
            allowed = " or ".join(repr(m.value) for m in choices)
            raise ValueError(f"Input should be {allowed}") from None

    return parse


def _at_least_one(raw: str) -> int:
    """A whole number >= 1 (template.yaml's MinValue for both; a tick of 0 minutes has no
    meaning). Surrounding blanks are allowed, a sign, a point or an empty string are not."""
    text = raw.strip()
    if not text.isdigit():
        raise ValueError("Input should be a valid integer, unable to parse string as an integer")
    value = int(text)
    if value < 1:
        raise ValueError("Input should be greater than or equal to 1")
    return value


# name -> (default, parser): the variables the functions read, named exactly as Lambda passes
# them (case-sensitive). A default is what an unset variable reads as.
_VARIABLES: dict[str, tuple[str, Callable[[str], object]]] = {
    "STATE_TABLE": ("scaleahead-state", _text),
    "WORK_QUEUE_URL": ("", _text),
    "ALARM_PREFIX": ("scaleahead-", _text),
    "MODE": (Mode.FORECAST_AND_SCALE.value, _one_of(Mode)),
    "TICK_MINUTES": ("1", _at_least_one),
    "DECISION_TTL_DAYS": ("30", _at_least_one),
    "METRICS_LEVEL": (MetricsLevel.FLEET.value, _one_of(MetricsLevel)),
}

# The variables the functions read (template.yaml sets each; tests/test_template.py checks).
VARIABLES = frozenset(_VARIABLES)


@dataclass(frozen=True)
class Settings:
    """The environment's variables read and checked once, as typed values: the code never
    reads ``os.environ`` itself, and tests, the demo and the CLI pass or derive their own."""

    state_table: str
    work_queue_url: str
    alarm_prefix: str
    mode: Mode
    tick_seconds: int
    decision_ttl_days: int
    metrics_level: MetricsLevel = MetricsLevel.FLEET

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``env`` (the process environment when not given: nothing else is
        read, no ``.env`` file or secrets directory); a variable left unset takes its
        default. ``ValueError`` names each variable that is wrong, and what it may be."""
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        wrong = []
        for name, (default, parse) in _VARIABLES.items():
            raw = source.get(name, default)
            try:
                values[name] = parse(raw)
            except ValueError as err:
                wrong.append(f"{name}={raw!r}: {err}")
        if wrong:
            raise ValueError(f"invalid environment: {'; '.join(wrong)}")
        mode = values["MODE"]
        tick = values["TICK_MINUTES"]
        ttl = values["DECISION_TTL_DAYS"]
        level = values["METRICS_LEVEL"]
        assert isinstance(mode, Mode) and isinstance(tick, int) and isinstance(ttl, int)
        assert isinstance(level, MetricsLevel)
        return cls(
            state_table=str(values["STATE_TABLE"]),
            work_queue_url=str(values["WORK_QUEUE_URL"]),
            alarm_prefix=str(values["ALARM_PREFIX"]),
            mode=mode,
            tick_seconds=60 * tick,
            decision_ttl_days=ttl,
            metrics_level=level,
        )
