"""The terms a backtest replays a trace on: its steps, the warm-up, the unit, the bounds.

Time runs in trace steps. The datapoint of step t covers [T_t, T_t + step) and is known at its
end, so a policy decides at T_t + step from data up to and including t. What it removes is gone
from step t + 1; what it adds serves from the first step that starts after one warm-up has
passed, ``t + 1 + ceil(warm-up / step)`` (``scaleahead_testkit.warmup.Fleet``, which the
demo's tasks obey too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scaleahead.domain.kinds import KINDS, Kind

# The traces' history before scoring: a week, or a third of a shorter trace.
HISTORY_DAYS = 7
# Bounds of each kind's capacity in a backtest (the kind's ``Simulation.bounds``): Aurora holds
# at most 15 readers; the others are bounded only so that a runaway policy cannot allocate for
# ever.
KIND_BOUNDS: dict[Kind, tuple[int, int]] = {k: s.simulation.bounds for k, s in KINDS.items()}


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
