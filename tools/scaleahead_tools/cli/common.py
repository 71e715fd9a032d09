"""What every ``scaleahead`` command shares: the runtime its flags point at, the one-line
configuration errors, the "did you mean" for an unknown target, and JSON output.

Its own module so that the commands kept apart from ``cli.main`` (``events``, ``forecast``)
reach these without importing the module that dispatches to them.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from scaleahead.domain.mode import Mode
from scaleahead.domain.target import Target, TargetError
from scaleahead.handlers.wiring import build_runtime
from scaleahead.service.runtime import Runtime
from scaleahead.settings import Settings
from scaleahead.store import Store
from scaleahead_tools.cli import stack as stk
from scaleahead_tools.cli.stack import ConfigError

__all__ = ["ConfigError", "known_target", "print_json", "runtime", "settings_of"]

# The stack's default mode (template.yaml's ``Mode`` parameter). Lambda always gets ``MODE``
# from the template, so the functions never see ``Settings``' own default (ForecastAndScale);
# the CLI run without ``MODE`` and without a stack must show what a default stack runs in.
STACK_DEFAULT_MODE = Mode.FORECAST_ONLY


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings the command runs with: the environment (as the functions read it), then
    the stack's outputs and parameters (``--stack``, ``$SCALEAHEAD_STACK``, or samconfig.toml's
    stack when no table is named otherwise), then ``--table`` and ``--alarm-prefix``."""
    try:
        settings = Settings.from_env()
    except ValueError as err:
        raise ConfigError(
            f"{err}; fix or unset the variable (MODE is ForecastOnly or ForecastAndScale, "
            "TICK_MINUTES a whole number of minutes)"
        ) from None
    name, source = stk.stack_name(args)
    if name:
        settings = stk.settings_from_stack(name, settings, source)
    elif "MODE" not in os.environ:
        settings = replace(settings, mode=STACK_DEFAULT_MODE)
    if getattr(args, "table", None):
        settings = replace(settings, state_table=args.table)
    if getattr(args, "alarm_prefix", None):
        settings = replace(settings, alarm_prefix=args.alarm_prefix)
    return settings


def runtime(args: argparse.Namespace) -> Runtime[Store]:
    """The functions' runtime, wired as theirs is (``handlers.wiring``), with the settings of
    ``settings_of``; the settings are kept on ``args`` for the error messages."""
    settings = settings_of(args)
    args.resolved_settings = settings
    return build_runtime(settings)


def no_such_target(name: str, ids: Sequence[str]) -> TargetError:
    """``no target 'wbe'; did you mean 'web'?``: the error for a target id not among ``ids``."""
    close = difflib.get_close_matches(name, list(ids), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return TargetError(f"no target {name!r}; {hint}`scaleahead targets list` shows them")


def unknown_target(rt: Runtime[Store], name: str) -> TargetError:
    """The error for a target id the stack does not define."""
    return no_such_target(name, [t.id for t in rt.store.list_targets()])


def known_target(rt: Runtime[Store], name: str) -> Target:
    """The target ``name``, or the "did you mean" error (exit 2)."""
    target = rt.store.get_target(name)
    if target is None:
        raise unknown_target(rt, name)
    return target


def iso(t: float) -> str:
    """``2026-12-06T04:40:00Z``: an epoch time in ISO 8601 UTC (fractions of a second kept
    only when there are some)."""
    dt = datetime.fromtimestamp(float(t), UTC)
    text = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


# Keys whose numbers are epoch times in the commands' JSON (and any key ending in ``_at``).
TIME_KEYS = frozenset({"at", "t", "now", "start", "end", "from", "to", "since", "until"})
# Below this a number under a time key is not an epoch time (1973): left as it is.
_EPOCH_FLOOR = 1e8


def _is_time(key: str, value: Any) -> bool:
    return (
        (key in TIME_KEYS or key.endswith("_at"))
        and isinstance(value, int | float | Decimal)
        and not isinstance(value, bool)
        and value >= _EPOCH_FLOOR
    )


def with_iso_times(data: Any) -> Any:
    """``data`` with every epoch time (a number under a time key) as an ISO 8601 UTC string."""
    if isinstance(data, dict):
        return {k: iso(v) if _is_time(str(k), v) else with_iso_times(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [with_iso_times(v) for v in data]
    return data


def print_json(data: Any) -> None:
    """``--output json``: indented, times in ISO 8601 UTC, anything else not JSON by nature
    (enums, decimals) as a string."""
    print(json.dumps(with_iso_times(data), indent=2, default=str))
