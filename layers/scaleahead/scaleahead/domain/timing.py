"""Whether a time that came with an input can be trusted: nothing from the future is.

An alarm change or a tick stamped in 2099 would otherwise be stored as "the latest", and every
genuine one after it would look older and be dropped for ever. Lambda's and CloudWatch's clocks
are NTP-synchronised, so a small skew covers every honest stamp.

The age bound is the longest an honest delivery can take: EventBridge and Lambda's asynchronous
retries give up after 15 minutes (``MaximumEventAgeInSeconds: 900`` in template.yaml), and a work
item is redelivered at most ``maxReceiveCount`` times one visibility timeout apart (3 x 370 s)
before it is dead-lettered. An hour covers both with room; tests/test_template.py holds the
template to it, so a failing work item always reaches the dead-letter queue before it could be
refused as too old.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

MAX_FUTURE_SKEW_SECONDS = 120
MAX_AGE_SECONDS = 3600


def _iso(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{t:.6g} (epoch seconds)"


def untrusted_time(at: float | None, now: float, what: str) -> str:
    """Why ``at`` cannot be trusted as the time of ``what``, or "" when it can."""
    if at is None:
        return f"{what} carries no usable timestamp"
    if math.isnan(at):
        return f"{what} has a timestamp that is not a number"
    if at > now + MAX_FUTURE_SKEW_SECONDS:
        return (
            f"{what} is stamped {_iso(at)}, more than {MAX_FUTURE_SKEW_SECONDS} s in the future "
            f"(now {_iso(now)})"
        )
    if at < now - MAX_AGE_SECONDS:
        return (
            f"{what} is stamped {_iso(at)}, more than {MAX_AGE_SECONDS // 60} min old "
            f"(now {_iso(now)}); the tick has planned from fresher data since"
        )
    return ""


def from_the_future(at: float | None, now: float) -> bool:
    """A stored time past now plus the skew: written by a fault, not to be relied on."""
    return at is not None and (not math.isfinite(at) or at > now + MAX_FUTURE_SKEW_SECONDS)
