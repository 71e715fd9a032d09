"""What every ``scaleahead`` command shares: the runtime its flags point at, and JSON output.

Its own module so that the commands kept apart from ``cli.main`` (``events``, ``forecast``)
reach these without importing the module that dispatches to them.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

from scaleahead.handlers.wiring import build_runtime
from scaleahead.service.runtime import Runtime
from scaleahead.settings import Settings
from scaleahead.store import Store


def runtime(args: argparse.Namespace) -> Runtime[Store]:
    """The functions' runtime, wired as theirs is (``handlers.wiring``), from their
    environment variables, with ``--table`` and ``--alarm-prefix`` applied."""
    settings = Settings.from_env()
    if args.table:
        settings = replace(settings, state_table=args.table)
    if args.alarm_prefix:
        settings = replace(settings, alarm_prefix=args.alarm_prefix)
    return build_runtime(settings)


def print_json(data: Any) -> None:
    """``--output json``: indented, anything not JSON by nature (times, enums) as a string."""
    print(json.dumps(data, indent=2, default=str))
