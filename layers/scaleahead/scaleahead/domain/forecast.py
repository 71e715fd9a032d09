"""Fit the load forecast a target's capacity is planned against, from its CloudWatch history.

The model is deliberately small: a robust seasonal profile (median over recent days, blended with
the same time in past weeks once there are two weeks to trust), rescaled by how the last hour
compares with that profile, plus a headroom band read off the model's own out-of-sample errors.
A learned model would need more history than a new target has and would be harder to trust at
three in the morning; this one can be explained in the one-line ``Forecast.model`` string.

Every choice that depends on the series (how much to trust the weekly cycle, how long the
level correction lasts, whether load moves by ratio or by offset) is made by replaying the model
over the series' own past at many pseudo-origins, each seeing only data before it. The same replay
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

DAY = 86400
WEEK = 7 * DAY

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Divisors of a day: the daily and weekly profiles index slots by position in the day, so the
# model step must tile a day exactly. Never finer than 5 min: finer steps cost time (1-min data
# has five times the slots) and add no forecast skill, because minute-to-minute noise is not
# predictable; the band still covers that noise (see ``_band``).
_MODEL_STEPS = (300, 600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 43200, DAY)

# Days in the daily median: a week, so every weekday gets one vote and one odd day (a launch, a
# holiday, an outage) cannot move the median.
_DAILY_DAYS = 7
# Weeks in the weekly median: all that 14 days of history can hold.
_WEEKLY_WEEKS = 2
# Profiles are smoothed over +/- this many seconds: with 5-min slots a single day's jitter
# otherwise shows up as a jagged profile, which costs accuracy and widens the band.
_SMOOTH_SECONDS = 600
# Weekly weights tried; how much is allowed grows from 0 at 7 days of history to 1 at 14 days,
# because one past week is a single noisy sample of each weekday.
_WEEKLY_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Level windows tried: one slot reacts fastest, two hours averages away the noise of small counts.
_LEVEL_WINDOWS = (300, 1800, 3600, 7200)
# How fast the level correction fades back to the profile (e-folding time); inf keeps it.
_LEVEL_FADES = (3600.0, 4 * 3600.0, 12 * 3600.0, math.inf)
# Seasonal strength: 1 keeps the profile's shape, 0 flattens it so that a series without a
# daily cycle (a CPU level that steps up and stays) is forecast as its recent level.
_SHAPE_STRENGTHS = (1.0, 0.5, 0.0)
# A ratio outside this range is a regime change, not a level drift; clip rather than extrapolate.
_RATIO_CLIP = (0.25, 4.0)
# The band is relative to the forecast plus this share of the mean load, so that a forecast of
# zero (an idle night) still gets a finite, non-zero band.
_BAND_FLOOR = 0.05
# Sizes of the replay: enough pseudo-origins for stable choices and quantiles, few enough to
# keep a 14-day fit of 1-minute data in tens of milliseconds.
_SELECT_POINTS = 4000
_BAND_POINTS = 24000
_LEVEL_GROUPS = 3
_MIN_CELL = 50


@dataclass(frozen=True)
class _Choice:
    error: float
    weekly: float
    strength: float
    window: int
    additive: bool
    fade: float


def fit_forecast(
    timestamps: Sequence[float] | npt.ArrayLike,
    values: Sequence[float] | npt.ArrayLike,
    *,
    now: float,
    horizon_seconds: int,
    quantile: float = 0.9,
    max_history_seconds: int = 14 * DAY,
    min_history_seconds: int = DAY,
) -> Forecast:
    """Forecast load from ``now`` for ``horizon_seconds``, in the input's own units.

    The input is what GetMetricData returns: points in any order, gaps, duplicates, NaN or inf
    (ignored). Only points at or before ``now`` and within ``max_history_seconds`` of it count,
    so a replay cannot peek at the future. Raises ``InsufficientHistory`` when those points span
    less than ``min_history_seconds``: with less than a day there is no daily cycle to learn and
    the target should stay reactive.

    The forecast starts at the model-step slot holding ``now`` (slots aligned to epoch time) and
    runs past ``now + horizon_seconds``. ``upper`` is the ``quantile`` of the load at the data's
    own resolution, because capacity is planned against it and a five-minute mean hides the
    minute that overloads a task.
    """
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
    if covered < min_history_seconds or t.size < 2:
        raise InsufficientHistory(covered, float(min_history_seconds))
    return _Fit(t, v, now, horizon_seconds, quantile, covered).forecast()


def _model_step(data_step: float) -> int:
    want = max(data_step, 300.0) * 0.999
    return next((s for s in _MODEL_STEPS if s >= want), DAY)


def _nanmedian(a: FloatArray) -> FloatArray:
    """Median over the last axis ignoring NaN, vectorised (np.nanmedian loops in Python)."""
    srt = np.sort(a, axis=-1)  # NaN sorts last
    n = np.count_nonzero(~np.isnan(a), axis=-1)
    lo = np.take_along_axis(srt, np.maximum((n - 1) // 2, 0)[..., None], -1)[..., 0]
    hi = np.take_along_axis(srt, np.minimum(n // 2, a.shape[-1] - 1)[..., None], -1)[..., 0]
    out: FloatArray = 0.5 * (lo + hi)
    out[n == 0] = np.nan
    return out


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
    n = flat.size
    i = np.arange(n)
    lo = np.maximum(i - half, 0)
    hi = np.minimum(i + half + 1, n)
    c = cnt[hi] - cnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(c > 0, (val[hi] - val[lo]) / c, np.nan)
    return out.reshape(profile.shape)


def _window_sums(x: FloatArray, window: int) -> FloatArray:
    """Sum of ``x`` over the ``window`` slots ending at each slot (inclusive)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, x.size + 1)
    out: FloatArray = c[i] - c[np.maximum(i - window, 0)]
    return out


def _segment_quantiles(
    keys: IntArray, vals: FloatArray, n_keys: int, q: float
) -> tuple[FloatArray, IntArray]:
    """The ``q`` quantile of ``vals`` for each key (NaN where empty), and the counts; one sort."""
    order = np.lexsort((vals, keys))
    srt = vals[order]
    counts = np.bincount(keys, minlength=n_keys)[:n_keys]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = q * np.maximum(counts - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    frac = pos - lo
    if srt.size == 0:
        return np.full(n_keys, np.nan), counts
    i_lo = np.minimum(starts + lo, srt.size - 1)
    i_hi = np.minimum(starts + np.minimum(lo + 1, np.maximum(counts - 1, 0)), srt.size - 1)
    out = srt[i_lo] * (1.0 - frac) + srt[i_hi] * frac
    return np.where(counts > 0, out, np.nan), counts


class _Fit:
    """One fit: the binned history, the profiles, the replay, and the resulting forecast."""

    def __init__(
        self, t: FloatArray, v: FloatArray, now: float, horizon: int, quantile: float, covered: float
    ) -> None:
        self.now = now
        self.quantile = quantile
        self.covered = covered
        diffs = np.diff(t)
        diffs = diffs[diffs > 0]
        self.data_step = float(np.median(diffs)) if diffs.size else 300.0
        s = self.step = _model_step(self.data_step)
        self.per_day = DAY // s
        slot = np.floor(t / s).astype(np.int64)
        self.now_slot = math.floor(now / s)
        self.n_out = math.floor((now + horizon - self.now_slot * s) / s) + 1
        # The grid starts at midnight (epoch time) so that it reshapes into whole day rows, and
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
        self.last = int(idx[-1])  # last slot with data; horizons count from here
        # The raw points per slot, so that the band is measured against them, not the mean.
        per_slot = int(min(max(1, round(s / self.data_step)), 60))
        sub = np.floor((t - slot * s) * per_slot / s).astype(np.int64)
        self.raw = np.full((n, per_slot), np.nan)
        self.raw[idx, np.clip(sub, 0, per_slot - 1)] = v
        self.mean_load = float(np.mean(v))

    # --- the seasonal profiles ---------------------------------------------------------------

    def _profiles(self) -> tuple[FloatArray, FloatArray]:
        """Daily and weekly baselines for every slot, each from day rows strictly before it.

        Using only earlier rows makes the same arrays serve both the replay (where later data
        would be a peek at the answer) and the forecast itself.
        """
        grid = self.y.reshape(self.rows, self.per_day)
        half = _SMOOTH_SECONDS // self.step
        daily = _nanmedian(_lagged_rows(grid, range(1, _DAILY_DAYS + 1)))
        weekly = _nanmedian(_lagged_rows(grid, [7 * k for k in range(1, _WEEKLY_WEEKS + 1)]))
        daily = _smooth(daily, half)
        weekly = _smooth(weekly, half)
        # Fallbacks for slots no earlier row covers (gaps, or a horizon beyond the history):
        # the slot's median over all rows, then the overall median.
        if np.isnan(daily).any():
            by_slot = _nanmedian(grid.T)
            overall = float(np.nanmedian(self.y)) if np.isfinite(self.y).any() else 0.0
            by_slot = np.where(np.isnan(by_slot), overall, by_slot)
            daily = np.where(np.isnan(daily), by_slot[None, :], daily)
        return daily.ravel(), weekly.ravel()

    # --- the replay ---------------------------------------------------------------------------

    def forecast(self) -> Forecast:
        daily, weekly = self._profiles()
        s = self.step
        y = self.y
        last = self.last
        n_slots = y.size
        days = self.covered / DAY
        has_weekly = bool(np.isfinite(weekly[: last + 1]).any())
        w_max = min(1.0, max(0.0, (days - 7.0) / 7.0)) if has_weekly else 0.0
        weights = [w for w in _WEEKLY_WEIGHTS if w <= w_max + 1e-9]

        # Pseudo-origins: every slot with a full day of data behind it; horizons up to the
        # forecast's own (capped below a day, beyond which the profile would use the target).
        first_slot = int(np.flatnonzero(np.isfinite(y))[0])
        horizon = max(1, min(self.now_slot + self.n_out - 1 - last, self.per_day - 1))
        hs = np.arange(1, horizon + 1)
        lo = first_slot + self.per_day
        hi = last - 1
        if hi < lo:  # barely a day: replay over what there is
            lo = max(first_slot + 1, hi - self.per_day)
        hi = max(hi, lo)
        n_orig = hi - lo + 1
        self.replay_days = n_orig / self.per_day

        # The selection replay: origins and horizons thinned to a fixed budget.
        h_stride = max(1, horizon // 24)
        hs_sel = hs[::h_stride]
        o_stride = max(1, math.ceil(n_orig * hs_sel.size / _SELECT_POINTS))
        orig_sel = np.arange(hi, lo - 1, -o_stride)
        tgt = orig_sel[:, None] + hs_sel[None, :]
        ok = (tgt <= last) & np.isfinite(y[np.minimum(tgt, n_slots - 1)])
        tgt_ok = tgt[ok]
        y_ok = y[tgt_ok]
        org_ok = np.broadcast_to(orig_sel[:, None], tgt.shape)[ok]
        h_ok = np.broadcast_to(np.arange(hs_sel.size)[None, :], tgt.shape)[ok]
        fade_ok = np.stack(
            [
                np.exp(-hs_sel[h_ok] * s / f) if math.isfinite(f) else np.ones(h_ok.size)
                for f in _LEVEL_FADES
            ]
        )
        y_obs = np.isfinite(y)
        y0 = np.where(y_obs, y, 0.0)
        sums_y: dict[int, FloatArray] = {}
        counts: dict[int, FloatArray] = {}

        def level(b: FloatArray, window: int, additive: bool) -> FloatArray:
            """The level correction at every slot: observed vs baseline over the window."""
            if window not in sums_y:
                sums_y[window] = _window_sums(y0, window)
                counts[window] = _window_sums(y_obs.astype(np.float64), window)
            sy = sums_y[window]
            sb = _window_sums(np.where(y_obs, b, 0.0), window)
            k = counts[window]
            with np.errstate(invalid="ignore", divide="ignore"):
                if additive:
                    return np.where(k > 0, (sy - sb) / k, 0.0)
                r = np.where(sb > 0, sy / sb, 1.0)
            return np.clip(r, *_RATIO_CLIP) - 1.0

        best: _Choice | None = None
        cache: dict[tuple[float, float], FloatArray] = {}

        def baseline(w: float, strength: float) -> FloatArray:
            key = (w, strength)
            if key not in cache:
                b = daily if w == 0.0 else np.where(np.isnan(weekly), daily, w * weekly + (1 - w) * daily)
                if strength < 1.0:
                    centre = float(np.mean(b[: last + 1]))
                    b = strength * b + (1.0 - strength) * centre
                cache[key] = b
            return cache[key]

        def consider(w: float, strength: float, window: int, additive: bool) -> None:
            nonlocal best
            b = baseline(w, strength)
            corr = level(b, window, additive)[org_ok]
            b_t = b[tgt_ok]
            scale = 1.0 if additive else b_t
            pred = np.maximum(b_t + scale * corr * fade_ok, 0.0)
            errs = np.mean(np.abs(y_ok - pred), axis=1) if y_ok.size else np.zeros(len(_LEVEL_FADES))
            k = int(np.argmin(errs))
            if best is None or errs[k] < best.error * (1 - 1e-9):
                best = _Choice(float(errs[k]), w, strength, window, additive, _LEVEL_FADES[k])

        windows = sorted({max(1, round(x / s)) for x in _LEVEL_WINDOWS})
        w0 = max(1, round(1800 / s))
        for w in weights:
            consider(w, 1.0, w0, False)
        assert best is not None
        w_best = best.weekly
        for window in windows:
            for strength in _SHAPE_STRENGTHS:
                for additive in (False, True):
                    if (window, strength, additive) != (w0, 1.0, False):
                        consider(w_best, strength, window, additive)
        assert best is not None
        choice = best

        b = baseline(choice.weekly, choice.strength)
        corr = level(b, choice.window, choice.additive)

        def predict(origins: IntArray, targets: IntArray) -> FloatArray:
            """Forecast for ``targets`` from data up to ``origins`` (the replay's rule, reused)."""
            h = np.maximum(targets - origins, 1)
            fade = np.exp(-h * s / choice.fade) if math.isfinite(choice.fade) else np.ones(h.shape)
            bt = b[np.minimum(targets, n_slots - 1)]
            out: FloatArray = bt + (1.0 if choice.additive else bt) * corr[origins] * fade
            return np.maximum(out, 0.0)

        # --- the band: out-of-sample residuals of the chosen model ---------------------------
        per_slot = self.raw.shape[1]
        o_stride = max(1, math.ceil(n_orig * horizon * per_slot / _BAND_POINTS))
        orig_b = np.arange(hi, lo - 1, -o_stride)
        hb = np.broadcast_to(hs[None, :], (orig_b.size, hs.size))
        ob = np.broadcast_to(orig_b[:, None], hb.shape)
        tgt_b = ob + hb
        pred_b = predict(ob, tgt_b)
        valid = tgt_b <= last
        floor = _BAND_FLOOR * max(self.mean_load, 1e-9)
        actual = self.raw[np.minimum(tgt_b, n_slots - 1)]
        resid = (actual - pred_b[..., None]) / (pred_b[..., None] + floor)
        resid[~valid] = np.nan
        band = _Band.fit(resid, pred_b, valid, hb, self._band_quantile(), horizon)

        # --- the forecast --------------------------------------------------------------------
        out_slots = np.arange(self.now_slot, self.now_slot + self.n_out, dtype=np.int64) - self.base
        h_out = np.maximum(out_slots - last, 1)
        origin = np.full(out_slots.shape, last, dtype=np.int64)
        mean = predict(origin, out_slots)
        upper = mean + band.headroom(mean, h_out) * (mean + floor)
        return Forecast(
            start=float(self.now_slot * s),
            step=s,
            mean=tuple(float(x) for x in mean),
            upper=tuple(float(x) for x in upper),
            quantile=self.quantile,
            generated_at=self.now,
            history_seconds=self.covered,
            model=self._describe(choice, float(corr[last]), mean, upper),
        )

    def _band_quantile(self) -> float:
        """The quantile to read off the replay, raised when the replay is short.

        Residuals within a day are strongly correlated, so the effective sample is about one per
        day; with n days the plain empirical quantile under-covers, roughly like a conformal
        bound with n samples. ``1 - (1 - q) n / (n + 1)`` is 0.95 for one day and 0.91 for
        thirteen when q is 0.9.
        """
        n = max(self.replay_days, 0.25)
        return 1.0 - (1.0 - self.quantile) * n / (n + 1.0)

    def _describe(self, c: _Choice, corr: float, mean: FloatArray, upper: FloatArray) -> str:
        if c.strength == 0.0:
            shape = "flat (no usable cycle)"
        else:
            shape = "seasonal daily" + (f"+weekly (w{c.weekly:.2f})" if c.weekly > 0 else "")
            if c.strength < 1.0:
                shape += f" at {c.strength:.0%} strength"
        win = f"{c.window * self.step / 60:.0f} min"
        fade = "held" if not math.isfinite(c.fade) else f"fading over {c.fade / 3600:.0f} h"
        lvl = f"level {corr:+.3g}" if c.additive else f"level x{1.0 + corr:.2f}"
        total = float(np.sum(mean))
        head = float(np.sum(upper - mean)) / total if total > 0 else 0.0
        return (
            f"{shape}, {lvl} ({win} window, {fade}), "
            f"q{self.quantile:g} headroom +{head:.0%}, step {self.step // 60} min"
        )


@dataclass(frozen=True)
class _Band:
    """Relative headroom per (load level, horizon bucket), from replay residuals.

    Horizon buckets double in length (1, 2-3, 4-7, ... slots) so that short horizons, where the
    level correction is fresh, get their own quantile while long ones pool enough samples.
    Level groups (terciles of the forecast) keep a noisy night from widening the day's band and
    a calm day from narrowing the night's.
    """

    edges: FloatArray
    table: FloatArray

    @staticmethod
    def fit(
        resid: FloatArray,
        pred: FloatArray,
        valid: npt.NDArray[np.bool_],
        h: IntArray,
        q: float,
        horizon: int,
    ) -> _Band:
        n_buckets = int(math.log2(horizon)) + 1
        bucket = np.minimum(np.floor(np.log2(h)).astype(np.int64), n_buckets - 1)
        p_ok = pred[valid]
        groups = _LEVEL_GROUPS
        edges = (
            np.quantile(p_ok, np.arange(1, groups) / groups) if p_ok.size else np.zeros(groups - 1)
        )
        group = np.searchsorted(edges, pred)
        per_slot = resid.shape[-1]
        vals = resid.ravel()
        finite = np.isfinite(vals)
        vals = vals[finite]
        b_key = np.repeat(bucket.ravel(), per_slot)[finite]
        g_key = np.repeat(group.ravel(), per_slot)[finite]
        pooled, _ = _segment_quantiles(b_key, vals, n_buckets, q)
        cells, n_cell = _segment_quantiles(b_key * groups + g_key, vals, n_buckets * groups, q)
        cells = cells.reshape(n_buckets, groups).T
        n_cell = n_cell.reshape(n_buckets, groups).T
        table = np.where(n_cell >= _MIN_CELL, cells, pooled[None, :])
        # A bucket with no replay at all borrows the nearest shorter one; errors never shrink
        # with the horizon, so the band is made non-decreasing along it.
        table = np.where(np.isnan(table), 0.0, table)
        table = np.maximum.accumulate(np.maximum(table, 0.0), axis=1)
        return _Band(edges=edges, table=table)

    def headroom(self, pred: FloatArray, h: IntArray) -> FloatArray:
        n_buckets = self.table.shape[1]
        bucket = np.minimum(np.floor(np.log2(np.maximum(h, 1))).astype(np.int64), n_buckets - 1)
        out: FloatArray = self.table[np.searchsorted(self.edges, pred), bucket]
        return out
