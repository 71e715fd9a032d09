"""A backtest of the user's own target: its load as CloudWatch holds it, its own terms.

A CSV trace says how scaleahead does on somebody's traffic; a team deciding whether to trust it
wants its own. This reads the target's load metric over the last ``days`` (one paged
GetMetricData per call, the worker's own read: ``MetricsAdapter.load_series``) and the terms
the target already declares (kind, capacity per unit, warm-up, stabilisation, forecast
quantile), so the replay plans exactly as the worker would for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaleahead.domain.target import Target
from scaleahead.service.ports import MetricsPort
from scaleahead_tools.traces import Trace, regularise

# CloudWatch keeps 1-minute datapoints for 15 days: a longer look back would read nothing.
MAX_DAYS = 15


@dataclass(frozen=True)
class TargetTerms:
    """What the replay takes from the target definition."""

    warmup_minutes: float
    per_unit: float
    stabilisation_minutes: float
    quantile: float
    min_capacity: int


def terms_of(target: Target) -> TargetTerms:
    return TargetTerms(
        warmup_minutes=target.effective_warmup_seconds / 60,
        per_unit=target.capacity_per_unit,
        stabilisation_minutes=target.effective_stabilisation_seconds / 60,
        quantile=target.forecast.quantile,
        min_capacity=target.min_capacity,
    )


def trace_of(metrics: MetricsPort, target: Target, now: float, days: float) -> Trace:
    """The target's load over the last ``days``, regularised as a CSV trace is."""
    if not 0 < days <= MAX_DAYS:
        raise ValueError(f"--days must lie in (0, {MAX_DAYS}]: CloudWatch keeps 15 days")
    points = metrics.load_series(target, now - days * 86400, now)
    if len(points) < 2:
        raise ValueError(
            f"target {target.id}: its load metric returned {len(points)} datapoint(s) over the "
            f"last {days:g} days; check load_metric (namespace, dimensions) and the region"
        )
    return regularise(f"{target.id} (last {days:g} days)", points)
