"""The tick: one message per due target on the work queue, nothing else.

The tick reads definitions and enqueues; all the work happens in the workers, so 10 targets or
10,000 cost the same tick. A definition that no longer validates is recorded and skipped: one
bad target must not stop the others from being scaled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scaleahead.domain.rest import resting
from scaleahead.service.runtime import AnyRuntime


@dataclass
class TickResult:
    tick: int
    enqueued: list[str] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)
    resting: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def is_due(every_seconds: int, now: float, tick_seconds: int) -> bool:
    """Due when a multiple of ``every_seconds`` passed since the previous tick.

    A ``rate(N minutes)`` schedule fires at an offset fixed when the rule was created, not on
    the clock's minutes, so "minute divisible by N" could be missed for ever; a crossed
    boundary is seen by exactly one tick whatever the offset.
    """
    if every_seconds <= tick_seconds:
        return True
    return now // every_seconds != (now - tick_seconds) // every_seconds


def run_tick(rt: AnyRuntime, now: float) -> TickResult:
    tick = int(now // 60 * 60)
    result = TickResult(tick=tick)
    messages = []
    for entry in rt.store.target_entries():
        target = entry.target
        if target is None:
            result.invalid.append(entry.target_id)
            rt.store.record_rejected(now, f"target {entry.target_id}: {entry.problem}", entry.raw)
            continue
        if not target.enabled:
            result.disabled.append(target.id)
        elif resting(entry.rest_until, now, rt.settings.tick_seconds):
            result.resting.append(target.id)
        elif is_due(target.evaluate_every_seconds, now, rt.settings.tick_seconds):
            messages.append({"target_id": target.id, "tick": tick})
            result.enqueued.append(target.id)
        else:
            result.not_due.append(target.id)
    if messages:
        rt.queue_factory().send(messages)
    return result
