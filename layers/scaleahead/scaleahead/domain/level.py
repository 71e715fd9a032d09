"""Rescale the stored forecast to what the load is doing now, between hourly refits.

The worker calls this every minute with the last 15-30 minutes of observed points. A refit costs
a 14-day CloudWatch query and numpy; this costs a few comparisons, so it runs on every tick and
imports nothing heavier than ``math`` (the worker's hot path and the alarm path share this
package and must not pay numpy's import time).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scaleahead.domain.series import Forecast

# Bounds on the correction. Why these:
# - 0.5: half an hour below forecast is weak evidence for shedding capacity. A dip is as often a
#   hiccup upstream, or a CloudWatch period read before it is complete (a Sum reads low until
#   it closes), as a real drop, and the load comes back before capacity does. Halving is as far
#   as a few noisy minutes may pull the plan; a lasting drop reaches the next hourly refit.
# - 3: a real surge must be followed. On the morning of the July 13 shuttle launch the NASA
#   trace ran at about three times its usual weekday load, and up to 1.5x a forecast refitted
#   within the hour. Beyond 3x the ratio usually comes from a forecast near zero (a quiet night,
#   a tiny denominator), and multiplying the whole horizon by it would provision for a spike
#   that is not coming. Load far beyond forecast is the reactive path's job: the high-load
#   alarm acts on the observed value itself.
# The range is wider upward than downward because running short costs more than running long.
MIN_LEVEL = 0.5
MAX_LEVEL = 3.0

# Points older than this are not "recent": the caller passes 15-30 min, this guards the rest.
LOOKBACK_SECONDS = 30 * 60


def level_correction(
    forecast: Forecast, observed: Sequence[tuple[float, float]], now: float
) -> float:
    """How much to scale the stored forecast by: ``observed_ratio``, trusted in proportion to
    the time since the fit.

    The fit already corrected its forecast to the load's level over a window it chose itself
    (``Forecast.level_window_seconds``: half an hour on a smooth series, two hours on a noisy
    one). The minutes since then are new evidence, worth as much as that window once they are
    as long: ``1 + w (ratio - 1)`` with ``w = elapsed / (elapsed + window)``. Taking the ratio
    at face value instead made the plan follow the noise of the first one or two datapoints
    after every refit; on the NAB ELB trace that cost a third more capacity for the same
    shortfall in the backtest (cost at 1 % under-provisioning 3.28 against none reached).
    """
    return level_for(forecast, observed_ratio(forecast, observed, now), now)


def level_for(forecast: Forecast, ratio: float, at: float) -> float:
    """The correction a tick at ``at`` applies for an observed ``ratio`` (``observed_ratio``):
    the ratio trusted in proportion to the time since the fit. Apart from the ratio so that a
    caller can project the ratio it has now to later ticks (``domain.tick.plan_rest``: a target
    rests only while its plan holds at the level the correction would reach by the last
    skipped tick, should the load keep that ratio) without reading the points again."""
    elapsed = at - forecast.generated_at if math.isfinite(at) else 0.0
    if ratio == 1.0 or not elapsed > 0.0:
        return 1.0
    w = elapsed / (elapsed + max(forecast.level_window_seconds, 1.0))
    return min(max(1.0 + w * (ratio - 1.0), MIN_LEVEL), MAX_LEVEL)


def observed_ratio(
    forecast: Forecast, observed: Sequence[tuple[float, float]], now: float
) -> float:
    """Recent observed load over forecast ``mean``.

    Each observed point is paired with the forecast mean of the slot holding it. The points
    whose ratio is most extreme (a tenth at each end, or one each when there are five to nine)
    are dropped, so that one stray minute (a retry storm, a partial period) does not move the
    plan; the rest give sum(observed) / sum(forecast). Not a median of ratios: load noise is
    skewed, so that median reads low (typically 0.87 on the ELB trace, where the sum ratio
    reads 1.01), and reading low means running short of capacity.

    The result is clipped to ``[MIN_LEVEL, MAX_LEVEL]`` and is 1.0 (no correction) when nothing
    usable overlaps: no points, non-finite values, points outside the forecast, or a forecast
    of zero (a ratio to zero says nothing about scale).
    """
    if not math.isfinite(now):
        return 1.0
    pairs: list[tuple[float, float, float]] = []  # (ratio, observed, expected)
    # Forecast.at inlined: the backtest runs this on every evaluation of every sweep setting.
    start, step, mean = forecast.start, forecast.step, forecast.mean
    slots, oldest = len(mean), now - LOOKBACK_SECONDS
    for t, v in observed:
        # a NaN or infinite time fails the range test; a value must be finite
        if not oldest <= t <= now or not math.isfinite(v):
            continue
        i = math.floor((t - start) / step)
        if i < 0 or i >= slots:
            continue
        expected = mean[i]
        if not expected > 0.0:
            continue
        load = v if v > 0.0 else 0.0
        pairs.append((load / expected, load, expected))
    if not pairs:
        return 1.0
    pairs.sort()
    n = len(pairs)
    trim = n // 10 if n >= 10 else (1 if n >= 5 else 0)
    kept = pairs[trim : n - trim]
    level = sum(p[1] for p in kept) / sum(p[2] for p in kept)
    return min(max(level, MIN_LEVEL), MAX_LEVEL)
