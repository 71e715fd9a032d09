"""The tick: one message per due target on the work queue, nothing else.

The tick reads definitions and enqueues; all the work happens in the workers, so 10 targets or
10,000 cost the same tick. A definition that no longer validates is recorded and skipped: one
bad target must not stop the others from being scaled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from scaleahead.domain.target import TargetError, parse_target
from scaleahead.service.runtime import Runtime


@dataclass
class TickResult:
    tick: int
    enqueued: list[str] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


def is_due(every_seconds: int, tick: int) -> bool:
    """A target evaluated every N minutes is due on the minutes divisible by N (stateless)."""
    every_min = max(1, every_seconds // 60)
    return (tick // 60) % every_min == 0


def run_tick(rt: Runtime, now: float) -> TickResult:
    tick = int(now // 60 * 60)
    result = TickResult(tick=tick)
    messages = []
    for item in rt.store.iter_target_items():
        tid = str(item.get("sk"))
        try:
            target = parse_target(json.loads(item["definition"]))
        except (TargetError, KeyError, json.JSONDecodeError) as err:
            result.invalid.append(tid)
            rt.store.record_rejected(
                now, f"target {tid}: stored definition is invalid: {err}", item
            )
            continue
        if not target.enabled:
            result.disabled.append(tid)
        elif is_due(target.evaluate_every_seconds, tick):
            messages.append({"target_id": target.id, "tick": tick})
            result.enqueued.append(target.id)
        else:
            result.not_due.append(target.id)
    if messages:
        rt.queue_factory().send(messages)
    return result
