"""Fit the load forecast a target's capacity is planned against, from its CloudWatch history.

The model is deliberately small: a robust seasonal profile (median over recent days, blended with
the same time in past weeks once there are two weeks to trust), rescaled by how the last minutes
compare with that profile, plus a headroom band read off the model's own out-of-sample errors.
A learned model would need more history than a new target has and would be harder to trust at
three in the morning; this one can be explained in the one-line ``Forecast.model`` string.

Every choice that depends on the series (how much to trust the weekly cycle, how long the level
correction lasts, whether load moves by ratio or by offset) is made by replaying the model over
the series' own past at many pseudo-origins, each seeing only data before it. The same replay
yields the residuals behind ``upper``, so the band is honest about the horizon: an error two hours
ahead is measured two hours ahead, never in-sample.

Runs in the refresh path only: the alarm path and the per-minute rescaling (``domain.level``)
must not import numpy, so nothing else in ``domain`` imports this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scaleahead.domain.series import Forecast, InsufficientHistory

HOUR = 3600
DAY = 86400

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Divisors of a day: the profiles index slots by position in the day, so the model step must tile
# a day exactly. Never finer than 5 min: finer steps cost time (1-min data has five times the
# slots) and add no skill, because minute-to-minute noise is not predictable. The band still
# covers that noise, being measured against the raw points.
_MODEL_STEPS = (300, 600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 43200, DAY)

# Days in the daily median: a week, so every weekday gets a vote and one odd day (a launch, a
# holiday, an outage) cannot move the median.
_DAILY_DAYS = 7
# Weeks in the weekly median: all that 14 days of history can hold.
_WEEKLY_WEEKS = 2
# Profiles are averaged over +/- this many seconds: with 5-min slots one day's jitter otherwise
# shows up as a jagged profile, which costs accuracy and widens the band.
_SMOOTH_SECONDS = 600
# Weekly weights tried. The most allowed grows from 0 at 7 days of history to 1 at 14, because
# one past week is a single noisy sample of each weekday and two are barely a median.
_WEEKLY_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Level windows tried: one slot reacts fastest; two hours averages away the noise of small counts.
_LEVEL_WINDOWS = (300, 1800, 3600, 7200)
# How fast the level correction fades back to the profile (e-folding time); inf holds it.
_LEVEL_FADES = (3600.0, 4 * 3600.0, 12 * 3600.0, math.inf)
# Seasonal strength: 1 keeps the profile's shape, 0 flattens it, so that a series with no daily
# cycle (a CPU level that steps and stays) is forecast as its recent level, not as noise.
_SHAPE_STRENGTHS = (1.0, 0.5, 0.0)
# A ratio beyond this is a regime change, not drift: clip rather than extrapolate it for hours.
_RATIO_CLIP = (0.25, 4.0)
# Hours this far above or below the usual load for the time of day (over the whole history) are
# left out of the profiles and the replay. NYC's weekend nights reach 5x a weekday night and the
# NASA launch morning 3.5x, so those are kept; a tenfold event or an outage is not.
_ODD_HIGH = 6.0
_ODD_LOW = 1 / 8
# Replay errors are capped at this many times the median error when models are compared, so
# that one odd day the filter above lets through cannot choose the model for two weeks (a
# tenfold Sunday injected into the NASA trace made it pick an offset that halved the forecast).
_ERROR_CAP = 3.0
# The band is relative to the forecast plus this share of the mean load, so that a forecast of
# zero (an idle night) still gets a finite, non-zero band.
_BAND_FLOOR = 0.05
# How long a chosen model is kept by the refits that follow (see ``fit_forecasts``).
RESELECT_SECONDS = DAY
# Replay sizes: enough pseudo-forecasts for stable choices and quantiles, few enough to keep a
# 14-day fit of 1-minute data within tens of milliseconds.
_SELECT_POINTS = 4000
_BAND_POINTS = 12000
# Fewer replayed points than this and the choices fall back to defaults.
_MIN_SELECT = 200
# The band is read per tercile of forecast load and per horizon bucket, from at least this many
# residuals per cell (else the bucket's pooled value).
_LEVEL_GROUPS = 3
_MIN_CELL = 50
# How far back the fit reports its band's recent coverage (``_Fit._coverage``), and the fewest
# points it reports it on.
RECENT_COVERAGE_SECONDS = 6 * HOUR
_MIN_COVERAGE_POINTS = 12
# The automatic fallback (``_Fit._fallback``) needs at least a day of earlier spans to say what
# the band's misses usually are.
_MIN_USUAL_SPANS_DAYS = 1.0


def fit_forecast(
    timestamps: Sequence[float] | npt.ArrayLike,
    values: Sequence[float] | npt.ArrayLike,
    *,
    now: float,
    horizon_seconds: int,
    quantile: float = 0.9,
    max_history_seconds: int = 14 * DAY,
    min_history_seconds: int = DAY,
    previous: Forecast | None = None,
) -> Forecast:
    """The forecast of ``fit_forecasts`` for one quantile; see there."""
    return fit_forecasts(
        timestamps,
        values,
        now=now,
        horizon_seconds=horizon_seconds,
        quantiles=(quantile,),
        max_history_seconds=max_history_seconds,
        min_history_seconds=min_history_seconds,
        previous=previous,
    )[0]


def fit_forecasts(
    timestamps: Sequence[float] | npt.ArrayLike,
    values: Sequence[float] | npt.ArrayLike,
    *,
    now: float,
    horizon_seconds: int,
    quantiles: Sequence[float],
    max_history_seconds: int = 14 * DAY,
    min_history_seconds: int = DAY,
    previous: Forecast | None = None,
) -> list[Forecast]:
    """Forecast load from ``now`` for ``horizon_seconds``, in the input's own units.

    The input is what GetMetricData returns: points in any order, with gaps, duplicates, NaN or
    inf (ignored). Only points at or before ``now`` and within ``max_history_seconds`` of it
    count, so a replay of the past cannot peek at the future. Raises ``InsufficientHistory`` when
    those points span less than ``min_history_seconds``: under a day there is no daily cycle to
    learn and the target should stay reactive.

    The forecast starts at the model-step slot holding ``now`` (slots aligned to epoch time) and
    runs past ``now + horizon_seconds``. ``upper`` is the ``quantile`` of the load at the data's
    own resolution, because capacity is planned against it and a five-minute mean hides the
    minute that overloads a task.

    One forecast per quantile, sharing one fit: only the band depends on the quantile, so a
    sweep over it (the backtest's) costs one fit, and each forecast is exactly what a fit for
    its quantile alone returns.

    ``previous`` is the last forecast of this load: the model it chose (weekly weight, level
    window, fade) is kept for ``RESELECT_SECONDS`` from when it was chosen, and only the
    profiles, the level and the band are refitted. The choice moves slowly, and choosing costs
    over half a fit, so hourly refits choose once a day.
    """
    if not quantiles:
        raise ValueError("give at least one quantile")
    for quantile in quantiles:
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
    if horizon_seconds <= 0:
        raise ValueError(f"horizon_seconds must be positive, got {horizon_seconds}")
    if not math.isfinite(now):
        raise ValueError("now must be finite")
    t_all = np.asarray(timestamps, dtype=np.float64).ravel()
    v_all = np.asarray(values, dtype=np.float64).ravel()
    if t_all.shape != v_all.shape:
        raise ValueError(f"{t_all.size} timestamps but {v_all.size} values")
    keep = np.isfinite(t_all) & np.isfinite(v_all)
    keep &= (t_all <= now) & (t_all >= now - max_history_seconds)
    order = np.argsort(t_all[keep], kind="stable")
    t = t_all[keep][order]
    # Load is never negative; a negative sample is a metric-math artefact.
    v = np.maximum(v_all[keep][order], 0.0)
    covered = float(t[-1] - t[0]) if t.size else 0.0
    if t.size < 2 or covered < min_history_seconds:
        raise InsufficientHistory(covered, float(min_history_seconds))
    reuse, chosen_at = None, now
    if (
        previous is not None
        and previous.choice is not None
        and previous.chosen_at is not None
        and 0.0 <= now - previous.chosen_at < RESELECT_SECONDS
    ):
        reuse, chosen_at = _Choice.from_tuple(previous.choice), previous.chosen_at
    fit = _Fit(t, v, now, horizon_seconds, covered)
    if reuse is not None and previous is not None and previous.step != fit.step:
        reuse, chosen_at = None, now  # the data's resolution changed: choose again
    held = {q: held_fallback(previous, q, now) for q in quantiles}
    return fit.forecasts(quantiles, reuse, chosen_at, held)


def held_fallback(previous: Forecast | None, quantile: float, now: float) -> float | None:
    """The worst earlier excess a fallback in force at the previous fit (of this quantile,
    within ``RESELECT_SECONDS``) was judged against: the fit keeps judging against it, so that
    the fallback lasts until the band holds as it did before the miss began, not until the
    miss has been in the record long enough to look usual. A cache of fits keys on it."""
    if previous is None or previous.fallback is None or previous.quantile != quantile:
        return None
    if not 0.0 <= now - previous.generated_at < RESELECT_SECONDS:
        return None
    return previous.fallback[1]


# --- array helpers --------------------------------------------------------------------------


def _model_step(data_step: float) -> int:
    want = max(data_step, 300.0) * 0.999
    return next((s for s in _MODEL_STEPS if s >= want), DAY)


def _nanmedian(a: FloatArray) -> FloatArray:
    """Median over the last axis ignoring NaN (np.nanmedian is far slower on small axes, and
    on a whole series too). The rows are flattened and indexed directly, which costs a fit
    less than ``take_along_axis``; 0.5 (lo + hi) equals np.median's mean of the two, bit for
    bit (a halving is exact), and the counts are whole numbers, exact in a float."""
    k = a.shape[-1]
    srt = np.sort(a, axis=-1).reshape(-1, k)  # NaN sorts last
    # NaNs per row as a product with ones: a fraction of count_nonzero's time on short rows
    n = k - (np.isnan(srt).astype(np.float64) @ np.ones(k)).astype(np.int64)
    rows = np.arange(srt.shape[0])
    lo = srt[rows, np.maximum((n - 1) // 2, 0)]
    hi = srt[rows, np.minimum(n // 2, k - 1)]
    out: FloatArray = 0.5 * (lo + hi)
    out[n == 0] = np.nan
    return out.reshape(a.shape[:-1])


def _linear_quantiles(srt: FloatArray, qs: Sequence[float]) -> FloatArray:
    """``np.quantile(x, qs)`` (its default, linear method) of ``srt``, x sorted and finite,
    bit for bit: the same index, weight and interpolation (numpy's ``_lerp``), without the
    partition and overhead that made it a tenth of a refit."""
    n = srt.size
    out = []
    for q in qs:
        at = (n - 1) * q
        i = math.floor(at)
        if at >= n - 1:
            out.append(float(srt[-1]))
            continue
        a, b = float(srt[i]), float(srt[i + 1])
        t = at - i
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)
    return np.array(out, dtype=np.float64)


def _lagged_rows(grid: FloatArray, lags: Sequence[int]) -> FloatArray:
    """For each day row, the same slots ``lag`` rows earlier, stacked on a new last axis."""
    rows = grid.shape[0]
    out = np.full((*grid.shape, len(lags)), np.nan)
    for k, lag in enumerate(lags):
        if lag < rows:
            out[lag:, :, k] = grid[: rows - lag]
    return out


def _smooth(profile: FloatArray, half: int) -> FloatArray:
    """Mean over +/- ``half`` slots along the flattened time axis, ignoring NaN."""
    if half <= 0:
        return profile
    flat = profile.ravel()
    ok = ~np.isnan(flat)
    val = np.concatenate([[0.0], np.cumsum(np.where(ok, flat, 0.0))])
    cnt = np.concatenate([[0], np.cumsum(ok)])
    i = np.arange(flat.size)
    lo = np.maximum(i - half, 0)
    hi = np.minimum(i + half + 1, flat.size)
    c = cnt[hi] - cnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(c > 0, (val[hi] - val[lo]) / c, np.nan)
    return out.reshape(profile.shape)


def _cumsum0(x: FloatArray) -> FloatArray:
    """Cumulative sum with a leading zero, so that a window sum is one subtraction."""
    out: FloatArray = np.concatenate([[0.0], np.cumsum(x)])
    return out


def _window_sums(x: FloatArray, window: int) -> FloatArray:
    """Sum of ``x`` over the ``window`` slots ending at each slot (inclusive)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, x.size + 1)
    out: FloatArray = c[i] - c[np.maximum(i - window, 0)]
    return out


def _corrected(b: FloatArray, corr: FloatArray, additive: bool) -> FloatArray:
    """The baseline with the (faded) level correction applied, within ``_RATIO_CLIP`` of it.

    The bound matters for offsets: an offset learnt at the day's peak, carried into the night,
    would otherwise push the forecast to zero (or far above) for hours.
    """
    if not additive:  # the ratio is clipped already, and fading keeps it inside the clip
        out: FloatArray = b * (1.0 + corr)
        return out
    lo, hi = _RATIO_CLIP
    out = np.clip(b + corr, lo * b, hi * b)
    return np.maximum(out, 0.0)


def _odd_stretches(grid: FloatArray, half: int, typical: FloatArray) -> BoolArray:
    """Slots inside hours whose load is far outside the usual (an outage, a tenfold event).

    The level of each slot is its log ratio to the median load at that time of day
    (``typical``, which the caller has for the profile's gaps too), averaged
    over +/- ``half`` slots so that one noisy slot is not an event. Such hours would otherwise
    sit in a profile for two weeks: the daily median shrugs them off, but the weekly profile has
    only two samples per slot, and their replay errors would set the band.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(typical[None, :] > 0, grid / typical[None, :], np.nan)
    level = np.log(np.clip(ratio, 0.05, 20.0))
    finite = np.isfinite(level)
    if not finite.any():
        return np.zeros(grid.shape, dtype=bool)
    ref = float(np.median(level[finite]))
    local = _smooth(level, half)
    high, low = ref + math.log(_ODD_HIGH), ref + math.log(_ODD_LOW)
    out: BoolArray = finite & ((local > high) | (local < low))
    return out


def _replay_pairs(lo: int, hi: int, h_lo: int, h_hi: int, budget: int) -> tuple[IntArray, IntArray]:
    """(origin, target) pairs: origins spread over [lo, hi], horizons cycling over [h_lo, h_hi).

    Spreading one horizon per origin (rather than every horizon at a few origins) gives each
    horizon many independent origins for the same budget.
    """
    n = hi - lo + 1
    width = h_hi - h_lo
    total = max(1, min(budget, n * width))
    i = np.arange(total, dtype=np.int64)
    origins = hi - (i * n) // total
    return origins, origins + h_lo + i % width


@dataclass(frozen=True)
class _Segments:
    """Values grouped by key, each group still sorted: what every quantile of a band reads."""

    vals: FloatArray
    counts: IntArray
    starts: IntArray


def _segments(keys: IntArray, srt: FloatArray, n_keys: int) -> _Segments:
    """Group ``srt`` (sorted) by ``keys``: a stable sort by key leaves each key's values
    contiguous and still sorted, far cheaper than one quantile call per key, and done once for
    all the quantiles a fit asks for."""
    vals = srt[np.argsort(keys.astype(np.int16), kind="stable")]
    counts = np.bincount(keys, minlength=n_keys)[:n_keys]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return _Segments(vals, counts, starts)


def _quantile_of(seg: _Segments, q: float) -> FloatArray:
    """The ``q`` quantile (linear, as np.quantile) of each group; NaN where a group is empty."""
    counts, vals = seg.counts, seg.vals
    if vals.size == 0:
        return np.full(counts.size, np.nan)
    pos = q * np.maximum(counts - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    frac = pos - lo
    i_lo = np.minimum(seg.starts + lo, vals.size - 1)
    i_hi = np.minimum(seg.starts + np.minimum(lo + 1, np.maximum(counts - 1, 0)), vals.size - 1)
    out = vals[i_lo] * (1.0 - frac) + vals[i_hi] * frac
    result: FloatArray = np.where(counts > 0, out, np.nan)
    return result


# --- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    weekly: float = 0.0
    strength: float = 1.0
    window_seconds: int = 1800
    additive: bool = False
    fade: float = 4 * 3600.0

    def to_tuple(self) -> tuple[float, ...]:
        """For ``Forecast.choice``: plain finite numbers (DynamoDB stores no infinity)."""
        fade = self.fade if math.isfinite(self.fade) else -1.0
        return (self.weekly, self.strength, float(self.window_seconds), float(self.additive), fade)

    @staticmethod
    def from_tuple(t: Sequence[float]) -> _Choice:
        weekly, strength, window, additive, fade = (float(x) for x in t)
        return _Choice(
            weekly, strength, int(window), bool(additive), fade if fade > 0 else math.inf
        )


@dataclass(frozen=True)
class _Model:
    """A baseline for every slot plus the level correction known at every slot."""

    step: int
    baseline: FloatArray
    correction: FloatArray
    choice: _Choice

    def predict(self, origins: IntArray, targets: IntArray) -> FloatArray:
        """The forecast for ``targets`` made with data up to ``origins``."""
        h = np.maximum(targets - origins, 1)
        fade = self.choice.fade
        decay = np.exp(-h * self.step / fade) if math.isfinite(fade) else np.ones(h.shape)
        b = self.baseline[np.minimum(targets, self.baseline.size - 1)]
        return _corrected(b, self.correction[origins] * decay, self.choice.additive)


class _Fit:
    """One fit: the binned history, the profiles, the replay, and the resulting forecast."""

    def __init__(
        self,
        t: FloatArray,
        v: FloatArray,
        now: float,
        horizon: int,
        covered: float,
    ) -> None:
        self.now = now
        self.covered = covered
        diffs = np.diff(t)
        diffs = diffs[diffs > 0]
        if not diffs.size:
            data_step = 300.0
        elif diffs[0] == diffs[-1] and bool(np.all(diffs == diffs[0])):
            data_step = float(diffs[0])  # regular data, the usual case: its median, at once
        else:
            data_step = float(np.median(diffs))
        s = self.step = _model_step(data_step)
        self.per_day = DAY // s
        slot = np.floor(t / s).astype(np.int64)
        self.now_slot = math.floor(now / s)
        self.n_out = math.floor((now + horizon - self.now_slot * s) / s) + 1
        # The grid starts at a midnight (epoch time) so that it folds into whole day rows, and
        # runs to the end of the forecast so the profile code serves history and future alike.
        self.base = (int(slot[0]) // self.per_day) * self.per_day
        end = self.now_slot + self.n_out
        self.rows = -(-(end - self.base) // self.per_day)
        n = self.rows * self.per_day
        idx = slot - self.base
        count = np.bincount(idx, minlength=n).astype(np.float64)
        total = np.bincount(idx, weights=v, minlength=n)
        y = np.full(n, np.nan)
        has = count > 0
        y[has] = total[has] / count[has]
        self.y = y
        self.first = int(idx[0])
        self.last = int(idx[-1])  # the last slot with data: horizons count from here
        # The raw points of each slot, so that the band is measured against them, not the mean.
        per_slot = int(min(max(1, round(s / data_step)), 60))
        sub = np.floor((t - slot * s) * per_slot / s).astype(np.int64)
        self.raw = np.full((n, per_slot), np.nan)
        self.raw[idx, np.clip(sub, 0, per_slot - 1)] = v
        self.floor = _BAND_FLOOR * max(float(np.mean(v)), 1e-9)

    def _profiles(self) -> tuple[FloatArray, FloatArray, BoolArray]:
        """Daily and weekly baselines for every slot, each from day rows strictly before it.

        Using only earlier rows lets the same arrays serve the replay (where later data would be
        a peek at the answer) and the forecast itself. Slots no earlier row covers get the slot's
        median over all rows; those are flagged, as the replay must not score them, and so are
        odd hours (see ``_odd_stretches``), which no profile learns from.
        """
        grid: FloatArray = self.y.reshape(self.rows, self.per_day)
        typical = _nanmedian(grid.T)  # each slot's median over every row
        odd = _odd_stretches(grid, max(1, HOUR // self.step), typical)
        if odd.any():
            grid = np.where(odd, np.nan, grid)
        half = _SMOOTH_SECONDS // self.step
        daily = _nanmedian(_lagged_rows(grid, range(1, _DAILY_DAYS + 1)))
        weeks = _lagged_rows(grid, [7 * k for k in range(1, _WEEKLY_WEEKS + 1)])
        # Two weeks cannot outvote each other, so the daily median casts the deciding vote: one
        # odd week (a holiday, a launch) then pulls the weekly profile only as far as the day.
        has_week = ~np.isnan(weeks).all(axis=-1)
        weekly = np.where(
            has_week, _nanmedian(np.concatenate([weeks, daily[..., None]], -1)), np.nan
        )
        daily = _smooth(daily, half)
        weekly = _smooth(weekly, half)
        honest = ~np.isnan(daily) & ~odd
        if np.isnan(daily).any():
            by_slot = _nanmedian(grid.T) if odd.any() else typical
            overall = float(_nanmedian(self.y))
            by_slot = np.where(np.isnan(by_slot), overall, by_slot)
            daily = np.where(np.isnan(daily), by_slot[None, :], daily)
        return daily.ravel(), weekly.ravel(), honest.ravel()

    def forecasts(
        self,
        quantiles: Sequence[float],
        reuse: _Choice | None,
        chosen_at: float,
        held: dict[float, float | None],
    ) -> list[Forecast]:
        daily, weekly, honest = self._profiles()
        # Replay origins run from a day after the first point (the profile needs a day behind
        # it) to the last; horizons up to the forecast's own, capped below a day, beyond which a
        # target's profile would include the origin's own day.
        out_end = self.now_slot - self.base + self.n_out - 1
        self.horizon = max(1, min(out_end - self.last, self.per_day - 1))
        self.hi = max(self.last - 1, self.first + 1)
        self.lo = max(min(self.first + self.per_day, self.hi), self.first + 1)
        self.band_lo = self.lo
        # Replay targets must have data and a profile built from earlier days only.
        self.honest = honest & np.isfinite(self.y)
        self.honest[self.last + 1 :] = False

        model = self._select(daily, weekly, reuse)
        bands = self._bands(model, quantiles)
        out = np.arange(self.now_slot, self.now_slot + self.n_out, dtype=np.int64) - self.base
        origin = np.full(out.shape, self.last, dtype=np.int64)
        mean = model.predict(origin, out)
        h = np.maximum(out - self.last, 1)
        mean_t = tuple(mean.tolist())
        result = []
        one_step = self._one_step(model)
        for q, band in zip(quantiles, bands, strict=True):
            record = self._coverage(band, one_step)
            fallback = self._fallback(record, q, held.get(q))
            head = band.headroom(mean, h)
            if fallback is not None:
                head = np.maximum(head, fallback.headroom)
            upper = mean + head * (mean + self.floor)
            result.append(
                Forecast(
                    start=float(self.now_slot * self.step),
                    step=self.step,
                    mean=mean_t,
                    upper=tuple(upper.tolist()),
                    quantile=q,
                    generated_at=self.now,
                    history_seconds=self.covered,
                    model=self._describe(model, mean, upper, q, record, fallback),
                    choice=model.choice.to_tuple(),
                    chosen_at=chosen_at,
                    fallback=None if fallback is None else (fallback.headroom, fallback.worst),
                )
            )
        return result

    # --- choosing the model by replay --------------------------------------------------------

    def _select(self, daily: FloatArray, weekly: FloatArray, reuse: _Choice | None) -> _Model:
        s = self.step
        y = self.y
        last = self.last
        days = self.covered / DAY
        has_weekly = bool(np.isfinite(weekly[: last + 1]).any())
        w_max = min(1.0, max(0.0, (days - 7.0) / 7.0)) if has_weekly else 0.0

        # The replay that chooses the model, only when there is a choice to make: a refit
        # keeping the day's model (most fits) skips it.
        orig: IntArray = np.zeros(0, dtype=np.int64)
        tgt: IntArray = orig
        actual: FloatArray = np.zeros(0)
        decay: FloatArray = np.zeros((len(_LEVEL_FADES), 0))
        if reuse is None:
            orig, tgt = _replay_pairs(self.lo, self.hi, 1, self.horizon + 1, _SELECT_POINTS)
            keep = tgt <= last
            keep[keep] = self.honest[tgt[keep]]
            orig, tgt = orig[keep], tgt[keep]
            actual = y[tgt]
            decay = np.stack(
                [
                    np.exp(-(tgt - orig) * s / f) if math.isfinite(f) else np.ones(tgt.size)
                    for f in _LEVEL_FADES
                ]
            )
        observed = np.isfinite(y)
        cum_y = _cumsum0(np.where(observed, y, 0.0))
        cum_n = _cumsum0(observed.astype(np.float64))
        baselines: dict[tuple[float, float], tuple[FloatArray, FloatArray]] = {}

        def baseline(w: float, strength: float) -> tuple[FloatArray, FloatArray]:
            """The baseline, and its cumulative sum over observed slots (for the level)."""
            if (w, strength) not in baselines:
                b = daily
                if w > 0.0:
                    b = np.where(np.isnan(weekly), daily, w * weekly + (1.0 - w) * daily)
                if strength < 1.0:
                    b = strength * b + (1.0 - strength) * float(np.mean(b[: last + 1]))
                baselines[(w, strength)] = (b, _cumsum0(np.where(observed, b, 0.0)))
            return baselines[(w, strength)]

        windows: dict[tuple[int, bool], tuple[IntArray, IntArray, FloatArray, FloatArray]] = {}
        every = np.arange(y.size, dtype=np.int64)

        def correction(cum_b: FloatArray, window: int, additive: bool, replay: bool) -> FloatArray:
            """Observed vs baseline over the ``window`` slots ending at each origin.

            The origins are the replay's, or every slot for the final model; cumulative sums
            make each window one subtraction, and the parts not involving ``b`` are kept.
            """
            key = (window, replay)
            if key not in windows:
                at = orig if replay else every
                a1 = at + 1
                a0 = np.maximum(a1 - window, 0)
                windows[key] = (a1, a0, cum_y[a1] - cum_y[a0], cum_n[a1] - cum_n[a0])
            a1, a0, sy, n = windows[key]
            sb = cum_b[a1] - cum_b[a0]
            with np.errstate(invalid="ignore", divide="ignore"):
                if additive:
                    out: FloatArray = np.where(n > 0, (sy - sb) / n, 0.0)
                    return out
                r = np.where(sb > 0, sy / sb, 1.0)
            return np.clip(r, *_RATIO_CLIP) - 1.0

        def window_slots(seconds: int) -> int:
            return max(1, round(seconds / s))

        best = (math.inf, _Choice())
        cap = math.inf

        def consider(w: float, strength: float, window: int, additive: bool) -> None:
            nonlocal best, cap
            b, cum_b = baseline(w, strength)
            corr = correction(cum_b, window_slots(window), additive, replay=True)
            bt = b[tgt]
            err = np.abs(actual - _corrected(bt, corr * decay, additive))
            if math.isinf(cap):
                cap = _ERROR_CAP * float(np.median(err))
            errs = np.mean(np.minimum(err, cap), axis=1)
            k = int(np.argmin(errs))
            if errs[k] < best[0] * (1 - 1e-9):
                best = (float(errs[k]), _Choice(w, strength, window, additive, _LEVEL_FADES[k]))

        if reuse is None and tgt.size >= _MIN_SELECT:
            # Coordinate search: the weekly weight under a default correction, then the
            # correction's form under that weight. A full grid costs 5x more for no gain seen.
            for w in _WEEKLY_WEIGHTS:
                if w <= w_max + 1e-9:
                    consider(w, 1.0, 1800, False)
            w_best = best[1].weekly
            seen = {window_slots(1800)}
            for window in _LEVEL_WINDOWS:
                if window_slots(window) in seen and window != 1800:
                    continue
                seen.add(window_slots(window))
                for strength in _SHAPE_STRENGTHS:
                    # On a flat baseline a ratio and an offset are the same correction.
                    for additive in (False, True) if strength > 0.0 else (False,):
                        if (window, strength, additive) != (1800, 1.0, False):
                            consider(w_best, strength, window, additive)
        choice = reuse or best[1]
        b, cum_b = baseline(choice.weekly, choice.strength)
        corr = correction(cum_b, window_slots(choice.window_seconds), choice.additive, replay=False)
        return _Model(s, b, corr, choice)

    # --- the band ----------------------------------------------------------------------------

    def _bands(self, model: _Model, quantiles: Sequence[float]) -> list[_Band]:
        """Headroom from the replay residuals of ``model`` against the raw points.

        If the replay is too short (barely a day of history), the residuals of a flat model (the
        recent mean held) stand in: wider than the seasonal model's, but measured, not assumed.
        """
        n_buckets = int(math.log2(self.horizon)) + 1
        per_slot = self.raw.shape[1]
        budget = max(1, _BAND_POINTS // (n_buckets * per_slot))
        lo = self.lo
        if model.choice.weekly > 0.0:
            # Origins with no week behind them forecast without the weekly profile, so their
            # errors overstate the chosen model's (on nyc_taxi, coverage 0.96 for a 0.9 band);
            # skip them, but keep five days of origins for the quantiles' sake.
            lo = max(lo, min(self.first + 7 * self.per_day, self.hi - 5 * self.per_day))
        self.band_lo = lo
        parts = [
            _replay_pairs(lo, self.hi, 2**k, min(2 ** (k + 1), self.horizon + 1), budget)
            for k in range(n_buckets)
        ]
        orig = np.concatenate([p[0] for p in parts])
        tgt = np.concatenate([p[1] for p in parts])
        keep = tgt <= self.last
        honest = np.zeros(keep.shape, dtype=bool)
        honest[keep] = self.honest[tgt[keep]]
        if np.count_nonzero(honest) >= _MIN_SELECT:
            keep = honest
        else:
            flat = np.full(self.y.size, max(float(np.nanmean(self.y)), 1e-9))
            observed = np.isfinite(self.y)
            window = max(1, round(1800 / self.step))
            sy = _window_sums(np.where(observed, self.y, 0.0), window)
            n = _window_sums(observed * 1.0, window)
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = np.where(n > 0, sy / (n * flat) - 1.0, 0.0)
            model = _Model(self.step, flat, corr, _Choice(strength=0.0, fade=math.inf))
        orig, tgt = orig[keep], tgt[keep]
        pred = model.predict(orig, tgt)
        resid = (self.raw[tgt] - pred[:, None]) / (pred[:, None] + self.floor)
        return _Band.fit_all(
            resid, pred, tgt - orig, [self._band_quantile(q) for q in quantiles], n_buckets
        )

    def _band_quantile(self, quantile: float) -> float:
        """The quantile to read off the replay, raised a little when the replay is short.

        Residuals within a day are strongly correlated, so the effective sample is nearer one per
        day than one per point; with n days the plain empirical quantile under-covers, much as a
        conformal bound with n samples would. ``1 - (1 - q) n / (n + 1)`` is 0.95 for one day
        and 0.907 for thirteen when q is 0.9.
        """
        n = max((self.hi - self.band_lo + 1) / self.per_day, 0.25)
        return 1.0 - (1.0 - quantile) * n / (n + 1.0)

    def _one_step(self, model: _Model) -> _OneStep | None:
        """The fitted model's forecasts one slot ahead over the band's whole replay span (the
        band's record as the tick reads the forecast, fresh), and what every quantile's record
        (``_coverage``) shares; None with fewer than ``_MIN_COVERAGE_POINTS`` points in the
        last ``RECENT_COVERAGE_SECONDS``."""
        tgt = np.arange(self.band_lo + 1, self.last + 1, dtype=np.int64)
        tgt = tgt[self.honest[tgt]] if tgt.size else tgt
        if tgt.size == 0:
            return None
        pred = model.predict(tgt - 1, tgt)
        raw = self.raw[tgt]
        seen = np.isfinite(raw)
        span = max(1, RECENT_COVERAGE_SECONDS // self.step)
        recent = tgt > self.last - span
        n = int(np.count_nonzero(seen[recent]))
        if n < _MIN_COVERAGE_POINTS:
            return None
        # Unseen points get a residual of -pred/scale <= 0: never over a band, never counted.
        rel = (np.where(seen, raw, 0.0) - pred[:, None]) / (pred + self.floor)[:, None]
        size = self.last + 1
        counts = np.bincount(tgt, weights=np.count_nonzero(seen, axis=1), minlength=size)
        span_counts = _window_sums(counts.astype(np.float64), span)
        # Earlier spans as long as the recent one, ending before it starts, nearly as full.
        ends = np.arange(size) <= self.last - span
        ends &= span_counts >= max(_MIN_COVERAGE_POINTS, n / 2)
        return _OneStep(
            tgt,
            pred,
            rel,
            seen,
            recent,
            n,
            span,
            span_counts[ends],
            ends,
            rel[recent][seen[recent]],
        )

    def _coverage(self, band: _Band, one: _OneStep | None) -> _Coverage | None:
        """How the recent raw points stood against the band the fitted model would have drawn
        one slot ahead of each; None with too few of them (``_one_step``).

        The share under the band is what an operator reads: near the quantile, the band holds.
        How far the misses went beyond it (the mean excess, relative to the forecast) is what
        the fallback acts on, over the recent span and over every earlier span as long: a share
        cannot tell a band missed by a hair from one missed threefold, and only the second
        leaves capacity short, as a burst regime does (a fifth of the points at 3x moved the
        share of a 0.9 band from about 0.88 to 0.78, and the steps short from 1 % to 13 %)."""
        if one is None:
            return None
        head = band.headroom(one.pred, np.ones(one.pred.shape, dtype=np.int64))[:, None]
        over = np.maximum(one.rel - head, 0.0).sum(axis=1)
        inside = np.count_nonzero(one.seen & (one.rel <= head), axis=1)
        share = float(np.sum(inside[one.recent])) / one.points
        excess = float(np.sum(over[one.recent])) / one.points
        over_by_slot = np.bincount(one.slots, weights=over, minlength=one.ends.size)
        earlier = _window_sums(over_by_slot.astype(np.float64), one.span)[one.ends]
        return _Coverage(share, one.points, excess, earlier / one.span_counts, one.recent_rel)

    def _fallback(
        self, record: _Coverage | None, q: float, held: float | None = None
    ) -> _Fallback | None:
        """The automatic fallback: when the band's recent misses went further beyond it than in
        any earlier span as long (``held``: than before a fallback in force began), the forecast
        is wrong in a way its own history did not show (a new pattern, a burstier load). The
        band is then raised, at every horizon, to at least the headroom that would have covered
        the quantile's share of the recent points one slot ahead (within ``_RATIO_CLIP``): the
        band's own definition, applied to the load as it now is. The fallback stays in force
        until a refit finds the misses within the bar again: the record is measured against the
        band the model itself draws, never the raised one, so recovery shows at the next refit.

        Triggered by how far the misses went, not by how often: a share cannot tell a band
        missed by a hair from one missed threefold, and only the second leaves capacity short.
        Against the worst earlier span, not a typical one: a bursty series' band misses by much
        in some spans and little in others, and raising it on every such span would buy
        capacity for noise the band already prices. Raised to the quantile, not until the
        misses are back within the bar: on a series that steps to a new level a few points miss
        hugely before the level correction catches up, and covering those for six hours (+184 %
        on ``ec2_cpu_utilization``) cost 4 % more capacity at equal shortfall. Raised, not
        dropped for reactive-only: the seasonal shape is still the best guess of when the load
        comes, and the plan keeps its observed-load floor either way."""
        if record is None:
            return None
        if held is not None:
            worst = held  # a fallback in force: judged against the record before the miss
        elif record.earlier.size < _MIN_USUAL_SPANS_DAYS * self.per_day:
            return None  # too short a record to say what is usual
        else:
            worst = float(np.max(record.earlier))
        if record.excess <= worst or record.rel.size == 0:
            return None
        headroom = min(float(np.quantile(record.rel, q)), _RATIO_CLIP[1] - 1.0)
        # In force (its bar held for the next fits) even when the quantile needs no raise now.
        return _Fallback(max(headroom, 0.0), worst, record.excess)

    def _describe(
        self,
        model: _Model,
        mean: FloatArray,
        upper: FloatArray,
        q: float,
        covered: _Coverage | None = None,
        fallback: _Fallback | None = None,
    ) -> str:
        c = model.choice
        if c.strength == 0.0:
            shape = "flat (no usable daily cycle)"
        else:
            shape = "seasonal daily" + (f"+weekly (w{c.weekly:.2f})" if c.weekly > 0 else "")
            if c.strength < 1.0:
                shape += f" at {c.strength:.0%} strength"
        corr = float(model.correction[self.last])
        level = f"level {corr:+.3g}" if c.additive else f"level x{1.0 + corr:.2f}"
        fade = "held" if not math.isfinite(c.fade) else f"fading over {c.fade / 3600:.0f} h"
        total = float(np.sum(mean))
        head = float(np.sum(upper - mean)) / total if total > 0 else 0.0
        recent = (
            ""
            if covered is None
            else f", band covered {covered.share:.0%} of the last "
            f"{RECENT_COVERAGE_SECONDS // HOUR} h ({covered.points} points)"
        )
        if fallback is not None:
            recent += (
                f"; it missed by {fallback.excess:.1%} of the forecast on average, more than "
                f"in any earlier span (at most {fallback.worst:.1%}): "
                + (
                    f"band raised to at least +{fallback.headroom:.0%} until it holds again"
                    if fallback.headroom > 0.0
                    else "fallback in force until it holds again (no raise needed now)"
                )
            )
        return (
            f"{shape}, {level} ({c.window_seconds // 60} min window, {fade}), "
            f"q{q:g} headroom +{head:.0%}{recent}, step {self.step // 60} min"
        )


@dataclass(frozen=True)
class _OneStep:
    """The fitted model's one-slot-ahead record (``_Fit._one_step``): the target slots, the
    forecast for each, each raw point's residual relative to it (plus floor) and whether it was
    seen, which slots are recent and how many points they hold, the span in slots, and the
    point counts of the earlier spans (``ends`` marks the slots they end at)."""

    slots: IntArray
    pred: FloatArray
    rel: FloatArray
    seen: BoolArray
    recent: BoolArray
    points: int
    span: int
    span_counts: FloatArray
    ends: BoolArray
    recent_rel: FloatArray


@dataclass(frozen=True)
class _Coverage:
    """The band's one-slot-ahead record (``_Fit._coverage``): the share of the last
    ``RECENT_COVERAGE_SECONDS``' raw points at or under it, how many points that is, their mean
    excess over it, the mean excess of each earlier span as long, and each recent point's
    residual (relative to the forecast plus floor)."""

    share: float
    points: int
    excess: float
    earlier: FloatArray
    rel: FloatArray


@dataclass(frozen=True)
class _Fallback:
    """The band raised because it has lately missed by more than ever (``_Fit._fallback``):
    the headroom it is raised to, the worst mean excess of the earlier record, and the recent
    one."""

    headroom: float
    worst: float
    excess: float


@dataclass(frozen=True)
class _Band:
    """Relative headroom per (load tercile, horizon bucket), from replay residuals.

    Horizon buckets double in length (1, 2-3, 4-7, ... slots) so that short horizons, where the
    level correction is fresh, get their own quantile while long ones pool enough samples. Load
    terciles keep a noisy night from widening the day's band and a calm day from narrowing the
    night's.
    """

    edges: FloatArray
    table: FloatArray

    @staticmethod
    def fit_all(
        resid: FloatArray, pred: FloatArray, h: IntArray, qs: Sequence[float], n_buckets: int
    ) -> list[_Band]:
        """One band per quantile of ``qs``, from one grouping of the residuals: only the
        quantile read off each group differs (a sweep asks for ten)."""
        groups = _LEVEL_GROUPS
        if pred.size:
            srt = np.sort(pred)
            qs_edges = [k / groups for k in range(1, groups)]
            edges = (
                _linear_quantiles(srt, qs_edges)
                if math.isfinite(srt[0]) and math.isfinite(srt[-1])
                else np.quantile(pred, qs_edges).astype(np.float64)
            )
        else:
            edges = np.zeros(groups - 1)
        bucket = np.minimum(np.floor(np.log2(h)).astype(np.int64), n_buckets - 1)
        group = np.searchsorted(edges, pred).astype(np.int64)
        per_slot = resid.shape[1]
        vals = resid.ravel()
        finite = np.isfinite(vals)
        by_value = np.argsort(vals[finite])
        vals = vals[finite][by_value]
        b_key = np.repeat(bucket, per_slot)[finite][by_value]
        g_key = np.repeat(group, per_slot)[finite][by_value]
        by_bucket = _segments(b_key, vals, n_buckets)
        by_cell = _segments(b_key * groups + g_key, vals, n_buckets * groups)
        n_cell = by_cell.counts.reshape(n_buckets, groups).T
        enough = n_cell >= _MIN_CELL
        weight = np.where(
            enough,
            n_cell,
            np.bincount(bucket, minlength=n_buckets)[None, :n_buckets] * per_slot,
        )
        out = []
        for q in qs:
            pooled = _quantile_of(by_bucket, q)
            cells = _quantile_of(by_cell, q)
            table = np.where(enough, cells.reshape(n_buckets, groups).T, pooled[None, :])
            table = np.where(np.isnan(table), 0.0, np.maximum(table, 0.0))
            # Errors do not shrink with the horizon, but per-bucket quantiles are noisy: fit the
            # closest non-decreasing sequence rather than a running maximum, which would let
            # one noisy bucket raise every later one (it over-covered by 2-3 points on elb and
            # nasa).
            table = np.array([_increasing(row, wt) for row, wt in zip(table, weight, strict=True)])
            out.append(_Band(edges=edges, table=table))
        return out

    def headroom(self, pred: FloatArray, h: IntArray) -> FloatArray:
        n_buckets = self.table.shape[1]
        bucket = np.minimum(np.floor(np.log2(np.maximum(h, 1))).astype(np.int64), n_buckets - 1)
        out: FloatArray = self.table[np.searchsorted(self.edges, pred), bucket]
        return out


def _increasing(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [value, weight, length]
    for v, w in zip(values.tolist(), np.maximum(weights, 1).tolist(), strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out = [b[0] for b in blocks for _ in range(int(b[2]))]
    return np.array(out, dtype=np.float64)
