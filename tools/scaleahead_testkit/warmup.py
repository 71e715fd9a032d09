"""Capacity that warms up: the one law the backtest's units and the demo's ECS tasks obey.

Time runs in steps. A unit asked for at the end of step ``t`` serves from step
``t + 1 + warm-up steps``; capacity half warmed up serves nothing. A unit removed is gone at
once, and a scale-in cancels what is still warming up before it stops what serves, newest first.
``Rules`` adds what a resource itself refuses: a second change while one is warming up, or more
units per change than it takes.

The demo's ECS tasks are a ``Fleet`` whose step is one second (``world.ServiceModel``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    """What the resource lets a policy do, beyond warm-up.

    ``serial``: no change while a previous one is still warming up (an ElastiCache group being
    resharded accepts no second change; scaleahead's Aurora adapter adds readers one change at a
    time). ``max_out``: most units added per action (scaleahead's shard limit per resharding);
    ``max_in``: most removed per action (scaleahead removes one Memcached node at a time).
    """

    serial: bool = False
    max_out: int | None = None
    max_in: int | None = None


class Fleet:
    """Units and the step from which each serves; the newest go first on scale-in."""

    def __init__(self, initial: int, warmup_steps: int, rules: Rules, start: int = 0) -> None:
        self._ready: list[int] = [start] * initial  # sorted step from which each unit serves
        self._lag = warmup_steps
        self._rules = rules
        self.actions = 0

    @property
    def desired(self) -> int:
        return len(self._ready)

    def running(self, t: int) -> int:
        return bisect.bisect_right(self._ready, t)

    def busy(self, t: int) -> bool:
        """A change is still warming up at decision step ``t`` (it serves after ``t``)."""
        return bool(self._ready) and self._ready[-1] > t + 1

    def set(self, t: int, desired: int) -> int:
        """Ask for ``desired`` at the end of step ``t``; returns the desired count now in force."""
        cur = len(self._ready)
        if desired == cur:
            return cur
        if self._rules.serial and self.busy(t):
            return cur
        if desired > cur:
            add = desired - cur
            if self._rules.max_out is not None:
                add = min(add, self._rules.max_out)
            self._ready.extend([t + 1 + self._lag] * add)
        else:
            if self._rules.max_in is not None:
                desired = max(desired, cur - self._rules.max_in)
            del self._ready[desired:]
        self.actions += 1
        return len(self._ready)
