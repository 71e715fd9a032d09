"""Learned warm-up: how long this target's new capacity really takes to serve.

Every scale-out that is carried out is remembered with the time it was asked for; the first
reading that finds that much capacity ready (ECS tasks running, the reader ``available``, the
resharded group serving) closes it and its time becomes an observation. Once there are enough,
the plan uses a high percentile of them instead of the kind's default, so a service whose tasks
take 9 minutes to pass their health checks is planned 9 minutes ahead, not 5.

Pure Python, and a few comparisons per decision: the alarm path records scale-outs too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

# Observations needed before the learned value replaces the default: fewer is one slow deploy.
MIN_OBSERVATIONS = 5
# The most recent observations kept: the warm-up changes with images and instance types.
KEEP = 20
# Plan with this share of warm-ups covered: capacity late once in ten scale-outs, not once in two.
PERCENTILE = 0.9
# A scale-out never seen ready in this long did not complete (scaled back in, failed): dropped,
# not counted, or one stuck deployment would teach a warm-up of hours.
GIVE_UP_SECONDS = 2 * 3600


@dataclass(frozen=True)
class WarmupLog:
    """Scale-outs still warming up, ``(asked_at, capacity asked)``, and observed warm-ups (s)."""

    pending: tuple[tuple[float, int], ...] = ()
    observed: tuple[float, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"pending": [list(p) for p in self.pending], "observed": self.observed})

    @classmethod
    def from_json(cls, raw: str | None) -> WarmupLog:
        """The stored log; anything unreadable reads as empty (it is a cache of observations)."""
        try:
            data = json.loads(raw) if raw else {}
            pending = tuple((float(t), int(d)) for t, d in data.get("pending", []))
            observed = tuple(float(x) for x in data.get("observed", []))
        except (ValueError, TypeError, AttributeError):
            return cls()
        return cls(pending, observed)


def asked(log: WarmupLog, now: float, desired: int) -> WarmupLog:
    """A scale-out to ``desired`` was carried out at ``now``."""
    return WarmupLog((*log.pending, (now, desired)), log.observed)


def scaled_in(log: WarmupLog, desired: int) -> WarmupLog:
    """Capacity went down to ``desired``: scale-outs above it will never be ready as asked."""
    return WarmupLog(tuple(p for p in log.pending if p[1] <= desired), log.observed)


def observe_ready(log: WarmupLog, now: float, ready: int) -> WarmupLog:
    """Close every scale-out that ``ready`` capacity now satisfies.

    The time is measured at the reading that first sees it, so it errs long by at most one
    evaluation interval: the safe side for planning.
    """
    if not log.pending:
        return log
    observed = list(log.observed)
    pending = []
    for at, want in log.pending:
        if ready >= want:
            observed.append(max(now - at, 0.0))
        elif now - at <= GIVE_UP_SECONDS:
            pending.append((at, want))
    return WarmupLog(tuple(pending), tuple(observed[-KEEP:]))


def learned_seconds(log: WarmupLog) -> int | None:
    """The ``PERCENTILE`` of the observations (nearest rank), rounded up to a whole minute;
    None until there are ``MIN_OBSERVATIONS``."""
    if len(log.observed) < MIN_OBSERVATIONS:
        return None
    ordered = sorted(log.observed)
    rank = max(math.ceil(PERCENTILE * len(ordered)) - 1, 0)
    return max(60, math.ceil(ordered[rank] / 60) * 60)
