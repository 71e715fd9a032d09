"""When a target may skip ticks: its capacity already covers what the forecast says for longer.

Each evaluation reads the load (a ``GetMetricData`` metric, $0.43 a month per target at
one-minute ticks), the forecast and the state, reads the capacity and writes a decision: four
fifths of what a target costs once its custom metrics are gone (issue 15). Most of those reads
change nothing: on a quiet night, or between the steps of a slow day, the plan stays equal to
the capacity for many ticks in a row. A tick that leaves capacity alone may therefore *rest*
the target (``domain.tick.plan_rest`` decides how long): the next ticks skip it, for up to
``MAX_REST_SECONDS``, as long as the plan made now, stretched to cover the whole rest (the
same law the tick plans with, over a window one rest long instead of one interval), asks for
no more than the capacity there is, and no skipped tick could have scaled in: a plan on record
for at least that capacity is still in force over the stabilisation window until the rest
ends. The second half lets a target rest while a scale-in waits on its window (nearly half of
all evaluations on a falling load), without delaying the scale-in when the window allows it.

What could go wrong in between, and who sees it:
- the load rises beyond the forecast's band: the high-load alarm, whose threshold follows the
  capacity, fires and the alarm path raises a floor at once, resting or not (it also ends the
  rest);
- the load falls: the rest ends no later than the window would let a scale-in through, and
  the rest's own plans count in that window (``fill_rest``) as the stretched plan's capacity,
  the most any tick it skipped would have planned.

So nothing rests while anything is in motion or unsure: a change decided or still warming
up, an alarm floor in force, data that is missing or stale, a plan that is not the forecast's
(reactive-only), planned events in sight, or a plan above the capacity. And the rest
is only as long as the stretched plan holds for what the skipped ticks could have seen: the
highest load of the recent window (a tick plans at least for the load it observes), at the
level the tick's correction would reach by the last skipped tick should the load keep its
present ratio to the forecast.

Replayed (the backtest drives this very function; NASA's per-minute trace, the only one at
the default one-minute tick), rests skip a quarter to two fifths of the ticks and leave the
cost/shortfall frontier where it was (within half a percent at equal shortfall); at the
default quantile they trade about 1 % of capacity for 0.1 to 0.2 points more short minutes,
the frontier's own slope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# A rest lasts at most this long: five ticks at the default one-minute tick, none at all at
# five-minute ticks or longer (those already read a fifth as often). Longer would save little
# more (the fifth skipped tick saves a fifth as much as the first) and would leave the plan's
# level correction, a falling load's scale-in, a definition applied or a pause lifted waiting
# longer: replayed on the 30-minute taxi trace, rests of up to 2.5 hours cost 2-3 % more
# capacity for the same shortfall.
MAX_REST_SECONDS = 300


def resting(rest_until: float | None, now: float, tick_seconds: float) -> bool:
    """Whether a tick at ``now`` skips a target resting until ``rest_until``. A rest is counted
    from the evaluation, a little after its tick: the tick within half a tick of its end is
    the one that evaluates (not the one after it)."""
    return rest_until is not None and now + tick_seconds / 2 < rest_until


@dataclass(frozen=True)
class Rest:
    """A rest taken: from the evaluation at ``since`` until ``until``; each tick it skips counts
    as a plan for ``capacity``, the most the plan stretched over the rest asked for."""

    since: float
    until: float
    capacity: int


def describe_rest(rest: Rest, current: int) -> str:
    """The rest, as the decision record says it."""
    minutes = f"next evaluation in {(rest.until - rest.since) / 60:g} min"
    if rest.capacity >= current:
        return (
            f"{minutes}: the forecast holds this capacity until then "
            "(the high-load alarm still reacts at once)"
        )
    return (
        f"{minutes}: the forecast asks for no more than {rest.capacity} and the stabilisation "
        "window holds this capacity until then (the high-load alarm still reacts at once)"
    )


def fill_rest(
    plans: Sequence[tuple[float, int]], rest: Rest | None, every: int, now: float
) -> list[tuple[float, int]]:
    """The recent plans with the ticks a rest skipped filled in with the rest's capacity.

    The stabilisation window lets capacity go only as low as the highest plan of the window,
    and only once plans cover it without a long gap. A rest is not a gap: it was taken because
    the plan, stretched over the whole rest, asked for no more than ``rest.capacity``, so each
    skipped tick counts as a plan for that capacity (no scale-in below it until those ticks
    leave the window, as the promise implies). Only past ticks are filled: a rest ended early
    (an alarm, a new definition) leaves no plan ahead of now.
    """
    if rest is None:
        return list(plans)
    filled = list(plans)
    t = rest.since + every
    while t < min(rest.until, now) - 1e-6:
        filled.append((t, rest.capacity))
        t += every
    return sorted(filled)
