"""The simulated world a backtest replays a trace in: steps, warm-up, and the resource's rules.

Time runs in trace steps. The datapoint of step t covers [T_t, T_t + step) and is known at its
end, so a policy decides at T_t + step from data up to and including t. What it removes is gone
from step t + 1; what it adds serves from the first step that starts after one warm-up has
passed, ``t + 1 + ceil(warm-up / step)``: capacity half warmed up serves nothing.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from scaleahead.domain.target import Kind

# The traces' history before scoring: a week, or a third of a shorter trace.
HISTORY_DAYS = 7
# Bounds of each kind's capacity: Aurora holds at most 15 readers; the others are bounded here
# only so that a runaway policy cannot allocate for ever.
KIND_BOUNDS: dict[Kind, tuple[int, int]] = {
    Kind.ECS: (0, 1000),
    Kind.AURORA: (0, 15),
    Kind.ELASTICACHE: (1, 500),
}


@dataclass(frozen=True)
class Setup:
    """One backtest's fixed terms: the trace's step, the warm-up, the unit, what is scored."""

    kind: Kind
    step: int
    warmup_seconds: int
    per_unit: float
    scored_from: int
    min_capacity: int
    max_capacity: int
    # scaleahead's scale-in stabilisation window; None: the kind's default.
    stabilisation_seconds: int | None = None

    @property
    def warmup_steps(self) -> int:
        return math.ceil(self.warmup_seconds / self.step - 1e-9)


@dataclass(frozen=True)
class Rules:
    """What the resource lets a policy do, beyond warm-up.

    ``serial``: no change while a previous one is still warming up (an ElastiCache group being
    resharded accepts no second change; scaleahead's Aurora adapter adds readers one change at a
    time). ``max_out``: most units added per action (scaleahead's shard limit per resharding).
    """

    serial: bool = False
    max_out: int | None = None


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
            del self._ready[desired:]
        self.actions += 1
        return len(self._ready)
