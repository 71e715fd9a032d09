"""Deployment settings, read from the environment that ``template.yaml`` declares.

Every function reads the same variables; the template is the only place that sets them in AWS,
and tests or the demo set them for a local run. pydantic-settings reads and checks them
(``_Environment``, one field per variable); ``Settings`` is what the code uses, a frozen
dataclass (the CLI derives variants of it with ``dataclasses.replace``) with the tick in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from scaleahead.domain.mode import Mode

__all__ = ["VARIABLES", "Mode", "Settings"]


class _Environment(BaseSettings):
    """The variables, named exactly as Lambda passes them, from the process environment (no
    ``.env`` file or secrets directory is configured, so none is read)."""

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, extra="ignore")

    state_table: str = Field(default="scaleahead-state", validation_alias="STATE_TABLE")
    work_queue_url: str = Field(default="", validation_alias="WORK_QUEUE_URL")
    alarm_prefix: str = Field(default="scaleahead-", validation_alias="ALARM_PREFIX")
    mode: Mode = Field(default=Mode.FORECAST_AND_SCALE, validation_alias="MODE")
    # template.yaml's MinValue for both; a tick of 0 minutes has no meaning.
    tick_minutes: int = Field(default=1, ge=1, validation_alias="TICK_MINUTES")
    decision_ttl_days: int = Field(default=30, ge=1, validation_alias="DECISION_TTL_DAYS")


class _GivenEnvironment(_Environment):
    """The same variables, from a mapping handed in (tests, the demo) in place of the process
    environment: nothing is read from the process's."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


# The variables the functions read (template.yaml sets each; tests/test_template.py checks).
VARIABLES = frozenset(str(f.validation_alias) for f in _Environment.model_fields.values())


@dataclass(frozen=True)
class Settings:
    state_table: str
    work_queue_url: str
    alarm_prefix: str
    mode: Mode
    tick_seconds: int
    decision_ttl_days: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``env`` (the process environment when not given); a variable
        left unset takes its default. ``ValueError`` names each variable that is wrong."""
        try:
            if env is None:
                e = _Environment()
            else:
                # Only the declared variables: another key could name an init option.
                given: dict[str, Any] = {k: v for k, v in env.items() if k in VARIABLES}
                e = _GivenEnvironment(**given)
        except ValidationError as err:
            wrong = "; ".join(
                f"{'.'.join(map(str, x['loc']))}={x['input']!r}: {x['msg']}" for x in err.errors()
            )
            raise ValueError(f"invalid environment: {wrong}") from None
        return cls(
            state_table=e.state_table,
            work_queue_url=e.work_queue_url,
            alarm_prefix=e.alarm_prefix,
            mode=e.mode,
            tick_seconds=60 * e.tick_minutes,
            decision_ttl_days=e.decision_ttl_days,
        )
