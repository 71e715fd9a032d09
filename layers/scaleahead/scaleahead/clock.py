"""The one source of "now" for every function.

The demo and the tests replay days of load in seconds, so the handlers must not read the wall
clock directly: they ask this module, which a simulation can point at its own clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_now: Callable[[], float] = time.time


def now() -> float:
    """Current time as epoch seconds (UTC)."""
    return _now()


def set_clock(fn: Callable[[], float] | None) -> None:
    """Replace the clock (a simulation's) or restore the wall clock with ``None``."""
    global _now
    _now = fn if fn is not None else time.time
