"""The per-minute level correction: a robust ratio of observed to forecast, clipped, numpy-free."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from scaleahead.domain.forecast import fit_forecast
from scaleahead.domain.level import (
    LOOKBACK_SECONDS,
    MAX_LEVEL,
    MIN_LEVEL,
    level_correction,
    observed_ratio,
)
from scaleahead.domain.series import Forecast
from scaleahead_tools.traces import load_trace

NOW = 1_700_000_000.0 - (1_700_000_000 % 300) + 1500  # 25 min into a run of 5-min slots


def flat(mean: float, start: float = NOW - 3600, slots: int = 24, step: int = 300) -> Forecast:
    return Forecast(
        start=start,
        step=step,
        mean=(mean,) * slots,
        upper=(mean * 1.5,) * slots,
        quantile=0.9,
        generated_at=start,
        history_seconds=14 * 86400.0,
        model="test",
    )


def minutes(values: list[float], end: float = NOW) -> list[tuple[float, float]]:
    """One point a minute, the last at ``end``."""
    n = len(values)
    return [(end - 60 * (n - 1 - i), v) for i, v in enumerate(values)]


def test_forecast_30_percent_low_gives_1_3() -> None:
    assert observed_ratio(flat(100.0), minutes([130.0] * 20), NOW) == pytest.approx(1.3)
    # The ratio is per slot: a forecast that ramps is compared slot by slot, not on average.
    ramp = Forecast(
        start=NOW - 1800,
        step=300,
        mean=tuple(100.0 + 20 * i for i in range(12)),
        upper=tuple(200.0 + 20 * i for i in range(12)),
        quantile=0.9,
        generated_at=NOW - 1800,
        history_seconds=86400.0,
        model="test",
    )
    observed = [(t, 1.3 * (ramp.at(t) or 0.0)) for t, _ in minutes([0.0] * 25)]
    assert observed_ratio(ramp, observed, NOW) == pytest.approx(1.3)


def test_nothing_usable_gives_1() -> None:
    f = flat(100.0)
    assert observed_ratio(f, [], NOW) == 1.0
    assert observed_ratio(f, minutes([math.nan] * 10), NOW) == 1.0
    assert observed_ratio(f, minutes([math.inf, -math.inf]), NOW) == 1.0
    assert observed_ratio(f, [(math.nan, 150.0)], NOW) == 1.0
    assert observed_ratio(f, minutes([150.0] * 10), math.nan) == 1.0
    # No overlap: the forecast ends before the points, or starts after them.
    assert observed_ratio(flat(100.0, start=NOW - 10 * 3600), minutes([150.0] * 10), NOW) == 1.0
    assert observed_ratio(flat(100.0, start=NOW + 60), minutes([150.0] * 10), NOW) == 1.0
    # A zero forecast says nothing about scale.
    assert observed_ratio(flat(0.0), minutes([150.0] * 10), NOW) == 1.0


def test_points_outside_the_recent_window_are_ignored() -> None:
    f = flat(100.0, start=NOW - 3 * 3600, slots=60)
    recent = minutes([120.0] * 10)
    stale = minutes([500.0] * 30, end=NOW - LOOKBACK_SECONDS - 60)
    future = [(NOW + 60 * i, 500.0) for i in range(1, 30)]
    assert observed_ratio(f, stale + recent + future, NOW) == pytest.approx(1.2)
    assert observed_ratio(f, stale, NOW) == 1.0


def test_non_finite_points_are_skipped_not_fatal() -> None:
    values = [110.0] * 15 + [math.nan, math.inf, -math.inf] * 3
    assert observed_ratio(flat(100.0), minutes(values), NOW) == pytest.approx(1.1)


def test_stray_minutes_do_not_move_it() -> None:
    values = [100.0] * 27 + [5000.0] * 3
    assert observed_ratio(flat(100.0), minutes(values), NOW) == pytest.approx(1.0)
    values = [150.0] * 20 + [0.0] * 2
    assert observed_ratio(flat(100.0), minutes(values), NOW) == pytest.approx(1.5)
    # Five-minute data gives six points in half an hour: one spike among them is dropped too.
    five = [(NOW - 300 * i, 100.0) for i in range(6)]
    five[2] = (five[2][0], 900.0)
    assert observed_ratio(flat(100.0), five, NOW) == pytest.approx(1.0)


def test_skewed_noise_does_not_read_low() -> None:
    """Mostly-quiet minutes with bursts average 100: a median of ratios would say 0.5."""
    values = [50.0, 50.0, 50.0, 250.0] * 5
    assert observed_ratio(flat(100.0), minutes(values), NOW) == pytest.approx(1.0, rel=0.15)


def test_clipped_to_the_documented_range() -> None:
    f = flat(100.0)
    assert (MIN_LEVEL, MAX_LEVEL) == (0.5, 3.0)
    assert observed_ratio(f, minutes([1000.0] * 10), NOW) == MAX_LEVEL
    assert observed_ratio(f, minutes([10.0] * 10), NOW) == MIN_LEVEL
    assert observed_ratio(f, minutes([0.0] * 10), NOW) == MIN_LEVEL
    # Negative load (a metric-math artefact) counts as none.
    assert observed_ratio(f, minutes([-50.0] * 10), NOW) == MIN_LEVEL
    assert observed_ratio(f, minutes([299.0] * 10), NOW) == pytest.approx(2.99)


def test_on_real_data_it_helps_and_tracks_a_surge() -> None:
    """NASA per-minute load: ticks 15-60 min after hourly refits, scored on the next 15 min.

    The correction should be about 1 on the whole (the refit already levels the forecast), cut
    the error of the next quarter hour, and follow a surge: doubling the observed load doubles
    it, up to the clip.
    """
    tr = load_trace("nasa_http_jul95.csv")
    ts = np.array(tr.timestamps)
    vs = np.array(tr.values, dtype=np.float64)
    levels: list[float] = []
    err_plain: list[float] = []
    err_level: list[float] = []
    for refit in np.arange(ts[0] + 8 * 86400, ts[-1] - 7200, 5.3 * 3600)[:40]:
        lo, hi = np.searchsorted(ts, [refit - 14 * 86400, refit], side="right")
        f = fit_forecast(ts[lo:hi], vs[lo:hi], now=float(refit), horizon_seconds=6 * 3600)
        for tick in (15, 30, 45, 60):
            now = float(refit) + tick * 60
            a, b, c = np.searchsorted(ts, [now - 1800, now, now + 900], side="right")
            recent = list(zip(ts[a:b].tolist(), vs[a:b].tolist(), strict=True))
            level = level_correction(f, recent, now)
            ratio = observed_ratio(f, recent, now)
            surge = observed_ratio(f, [(t, 2 * v) for t, v in recent], now)
            if MIN_LEVEL < ratio < MAX_LEVEL / 2:  # neither reading clipped
                assert surge == pytest.approx(2 * ratio)
            assert level_correction(f, [(t, 2 * v) for t, v in recent], now) >= level
            mean = np.array([f.at(t) for t in ts[b:c]], dtype=np.float64)
            err_plain.extend(np.abs(vs[b:c] - mean))
            err_level.extend(np.abs(vs[b:c] - mean * level))
            levels.append(level)
    lo5, med, hi95 = np.percentile(levels, [5, 50, 95])
    print(
        f"\nnasa: {len(levels)} ticks, level median {med:.3f} (5-95%: {lo5:.2f}-{hi95:.2f}); "
        f"MAE next 15 min {np.mean(err_plain):.2f} without, {np.mean(err_level):.2f} with"
    )
    assert 0.9 < med < 1.1
    assert np.mean(err_level) < 0.95 * np.mean(err_plain)


def test_trusted_in_proportion_to_the_time_since_the_fit() -> None:
    """The fit levelled its forecast over its own window; new minutes weigh as much once they
    are as long."""
    f = replace(flat(100.0, start=NOW - 1800), choice=(0.0, 1.0, 1800.0, 0.0, 14400.0))
    recent = minutes([130.0] * 20)
    assert observed_ratio(f, recent, NOW) == pytest.approx(1.3)
    assert level_correction(f, recent, NOW) == pytest.approx(1.15)  # 30 min since a 30 min fit
    long = replace(f, choice=(0.0, 1.0, 7200.0, 0.0, 14400.0))  # noisy: a 2 h level window
    assert level_correction(long, recent, NOW) == pytest.approx(1.06)
    assert level_correction(replace(f, generated_at=NOW), recent, NOW) == 1.0  # just fitted
    assert level_correction(replace(f, generated_at=NOW - 100 * 3600), recent, NOW) == (
        pytest.approx(1.3, abs=0.01)
    )


def test_the_fit_records_its_level_window_and_the_store_keeps_it() -> None:
    tr = load_trace("elb_request_count_8c0756.csv")
    ts = np.array(tr.timestamps)
    vs = np.array(tr.values, dtype=np.float64)
    now = float(ts[0]) + 10 * 86400
    hi = int(np.searchsorted(ts, now, side="right"))
    f = fit_forecast(ts[:hi], vs[:hi], now=now, horizon_seconds=6 * 3600)
    assert f.level_window_seconds in {300.0, 1800.0, 3600.0, 7200.0}
    assert f"({f.level_window_seconds / 60:.0f} min window" in f.model
    assert Forecast.from_item(f.to_item()).level_window_seconds == f.level_window_seconds
    old = {k: v for k, v in f.to_item().items() if k not in {"choice", "chosen_at"}}
    assert Forecast.from_item(old).level_window_seconds == 1800.0  # stored before it existed


def test_importing_level_does_not_import_numpy() -> None:
    code = "import sys, scaleahead.domain.level; assert 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
