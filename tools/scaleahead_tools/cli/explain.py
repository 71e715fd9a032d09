"""`scaleahead explain`: a target's decision log told in plain words, runs of holds collapsed.

A worker decides every minute, so a quiet hour is sixty "already at 5" lines; the operator
asking "why did it (not) scale?" wants the changes, and one line per stretch of the same
reason for not changing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scaleahead.domain.record import DecisionRecord
from scaleahead.domain.state import StoredForecast

# What each reason means to someone reading the log (the message then says the details).
REASON_WORDS: dict[str, str] = {
    "plan": "the forecast plan",
    "reactive_floor": "the high-load alarm",
    "below_min": "below its minimum",
    "above_max": "above its maximum",
    "at_desired": "already where the plan wants it",
    "at_max": "held at its maximum",
    "at_min": "held at its minimum",
    "stabilising": "waiting for the plan to stay lower before scaling in",
    "data_missing": "not scaling in on missing load data",
    "no_plan": "no plan to act on",
    "forecast_only": "forecast-only mode: recorded, not acted on",
    "paused": "paused: recorded, not acted on",
    "busy": "the resource was busy with an earlier change",
    "lease_held": "another invocation was acting on it",
    "failed": "the change failed",
    "guarded": "a resource guard blocked the scale-in",
    "alarm_cleared": "the alarm cleared",
}

_SINCE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """``90m``, ``2h``, ``1d`` ago, or an ISO 8601 time (naive means UTC)."""
    now = time.time() if now is None else now
    m = _SINCE.match(text.strip())
    if m:
        return now - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give a duration (30m, 2h, 1d) or a time (2026-11-28T09:00)"
        ) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


@dataclass
class Entry:
    """One change, or one stretch of the same reason for not changing."""

    first: float
    last: float
    source: str
    reason: str
    changed: bool
    before: int | None
    after: int | None
    message: str
    count: int = 1
    sources: set[str] = field(default_factory=set)
    # The adapter's account of a change it carried out short of the decision (a group's
    # MaxSize, one Memcached node per action, shards per reshard): why ``after`` is not what
    # the plan asked.
    held: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.first,
            "to": self.last,
            "changed": self.changed,
            "reason": self.reason,
            "sources": sorted(self.sources or {self.source}),
            "count": self.count,
            "before": self.before,
            "after": self.after,
            "message": self.message,
            "held": self.held,
        }


def entries(rows: list[DecisionRecord]) -> list[Entry]:
    """Oldest first; consecutive holds with the same reason become one entry."""
    out: list[Entry] = []
    for r in sorted(rows, key=lambda r: r.at or 0.0):
        at = r.at or 0.0
        changed = r.executed
        reason, source = r.reason.value, r.source.value
        prev = out[-1] if out else None
        if prev and not changed and not prev.changed and prev.reason == reason:
            prev.last, prev.count, prev.message = at, prev.count + 1, r.message
            prev.after = r.after if r.after is not None else prev.after
            prev.sources.add(source)
            continue
        held = r.detail if changed and r.desired is not None and r.desired != r.after else None
        out.append(
            Entry(
                at,
                at,
                source,
                reason,
                changed,
                r.before,
                r.after,
                r.message,
                sources={source},
                held=held or None,
            )
        )
    return out


def _hm(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M")


def render(e: Entry) -> str:
    words = REASON_WORDS.get(e.reason, e.reason)
    who = "/".join(sorted(e.sources))
    if e.changed:
        verb = "scaled out" if (e.after or 0) > (e.before or 0) else "scaled in"
        why = _PREFIX.sub("", e.message, count=1)
        line = f"{_hm(e.first)}  [{who}] {verb} {e.before} -> {e.after} ({words}): {why}"
        return f"{line}; held at {e.after} by the resource's rules: {e.held}" if e.held else line
    if e.count == 1:
        return f"{_hm(e.first)}  [{who}] no change at {e.after}: {words} ({e.message})"
    span = f"{_hm(e.first)} to {_hm(e.last)[6:]}"
    return (
        f"{span}  [{who}] no change at {e.after} ({e.count} decisions): {words}. Last: {e.message}"
    )


def forecast_line(stored: StoredForecast) -> str:
    """The forecast the decisions were planned on, first: what the fit chose and how well its
    band covered the last hours, or why the target runs reactive-only."""
    if stored.status == "ok":
        return f"forecast fitted {_hm(stored.generated_at)}: {stored.reason}"
    return f"{stored.status} since {_hm(stored.generated_at)}: {stored.reason}"


# The decision message starts by restating the change, which the line has already said.
_PREFIX = re.compile(r"^scale (out|in) \d+ -> \d+: ")
