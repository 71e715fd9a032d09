"""The automatic fallback: a forecast whose band has lately missed the load by more than its own
record ever showed raises the band until it holds again, and says so (fit, store, plan, replay).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from scaleahead.domain import forecast as fit_module
from scaleahead.domain.forecast import fit_forecast, held_fallback
from scaleahead.domain.plan import predictive_plan
from scaleahead.domain.series import Forecast
from scaleahead.domain.state import StoredForecast
from scaleahead.domain.target import Kind
from scaleahead_tools.backtest.replay import FitCache
from scaleahead_tools.backtest.report import run_backtest
from scaleahead_tools.cli.explain import forecast_line
from scaleahead_tools.traces import Trace

DAY = 86400
HOUR = 3600
STEP = 300
T0 = 1_700_006_400.0
Arr = npt.NDArray[np.float64]


def _daily(days: int, seed: int, *, burst_from_day: float | None = None) -> tuple[Arr, Arr]:
    """A daily cycle with 10 % lognormal noise; from ``burst_from_day`` on, a fifth of the
    points (random) run at three times the load: a burstier regime the history never showed."""
    rng = np.random.default_rng(seed)
    ts = T0 + STEP * np.arange(days * DAY // STEP, dtype=np.float64)
    v = (200 + 150 * np.sin(np.pi * ts / DAY) ** 2) * rng.lognormal(0, 0.1, ts.size)
    if burst_from_day is not None:
        hit = (ts >= T0 + burst_from_day * DAY) & (rng.random(ts.size) < 0.2)
        v[hit] *= 3
    return ts, v


def _fit(ts: Arr, vs: Arr, now: float, previous: Forecast | None = None) -> Forecast:
    upto = ts < now
    return fit_forecast(
        ts[upto], vs[upto], now=now, horizon_seconds=6 * HOUR, quantile=0.9, previous=previous
    )


@pytest.mark.parametrize("seed", range(4))
def test_a_calm_series_never_falls_back(seed: int) -> None:
    ts, vs = _daily(15, seed)
    for hours in (0, 5, 11, 17):
        f = _fit(ts, vs, float(ts[-1]) + STEP - hours * HOUR)
        assert f.fallback is None and f.widened == 0.0
        assert "band raised" not in f.model


def test_a_band_missed_by_more_than_ever_is_raised_until_it_holds_again() -> None:
    ts, vs = _daily(16, seed=5, burst_from_day=14.5)
    # Half a day into the burstier regime: the misses are beyond anything in the record.
    now = T0 + 14.75 * DAY
    raised = _fit(ts, vs, now)
    assert raised.fallback is not None
    headroom, worst = raised.fallback
    assert 0.0 < worst < 0.05 and 0.5 <= headroom <= 3.0
    # The band is at least the raised headroom over the forecast at every horizon, and far
    # above what the same model draws on the calm history alone.
    for mean, upper in zip(raised.mean, raised.upper, strict=True):
        assert upper >= mean * (1 + headroom) - 1e-6
    calm = _fit(*_daily(16, seed=5), now)
    assert calm.fallback is None
    assert max(raised.upper) > 1.5 * max(calm.upper)
    assert (
        "band raised to at least" in raised.model
        and "more than in any earlier span" in raised.model
    )
    # An hour later the fit is judged against the record before the miss began (``held``),
    # not against a record that by now holds the burst itself: still raised.
    assert held_fallback(raised, 0.9, now + HOUR) == worst
    later = _fit(ts, vs, now + HOUR, previous=raised)
    assert later.fallback is not None and later.fallback[1] == worst
    # Once the load is calm again for longer than the span the band is judged on, it recovers.
    calm_again = vs.copy()
    calm_again[ts >= now + HOUR] = _daily(16, seed=5)[1][ts >= now + HOUR]
    recovered = _fit(ts, calm_again, now + 8 * HOUR, previous=later)
    assert recovered.fallback is None


def test_the_held_bar_belongs_to_its_own_quantile_and_expires() -> None:
    f = Forecast(T0, STEP, (1.0,), (2.0,), 0.9, T0, DAY, "m", fallback=(1.2, 0.01))
    assert held_fallback(f, 0.9, T0 + HOUR) == 0.01
    assert held_fallback(f, 0.8, T0 + HOUR) is None  # another quantile judges afresh
    assert held_fallback(f, 0.9, T0 + 2 * DAY) is None  # an old forecast holds nothing
    assert held_fallback(replace(f, fallback=None), 0.9, T0 + HOUR) is None


def test_the_fallback_is_stored_only_when_set_and_read_back_safely() -> None:
    f = Forecast(T0, STEP, (1.0,), (2.0,), 0.9, T0, DAY, "m")
    assert "fallback" not in f.to_item()  # no bytes on the usual fit
    raised = replace(f, fallback=(1.2345678, 0.0123))
    item = raised.to_item()
    assert item["fallback"] == [1.234568, 0.0123]
    assert Forecast.from_item(item).fallback == (1.234568, 0.0123)
    for bad in ([1.0], [1.0, "x"], [1.0, float("nan")], [-1.0, 0.1], "1,2"):
        assert Forecast.from_item({**item, "fallback": bad}).fallback is None


def test_the_plan_says_when_it_stands_on_a_raised_band() -> None:
    f = Forecast(0.0, STEP, (100.0,) * 6, (250.0,) * 6, 0.9, 0.0, 14 * DAY, "m")
    plain = predictive_plan(f, now=0, warmup_seconds=300, tick_seconds=60, capacity_per_unit=100)
    assert "band raised" not in plain.basis
    raised = replace(f, fallback=(1.5, 0.01))
    p = predictive_plan(raised, now=0, warmup_seconds=300, tick_seconds=60, capacity_per_unit=100)
    assert p.desired == 3 and "band raised to +150% (it missed the load lately)" in p.basis


def test_the_fallback_cuts_the_shortfall_of_a_burstier_regime_in_replay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same planning code the worker runs, over 17 days where the last three turn bursty:
    with the fallback the unserved load and the short steps fall, without it they stay."""
    _, vs = _daily(17, seed=1, burst_from_day=14.0)
    trace = Trace("burstier", T0, STEP, tuple(float(x) for x in vs), 0)

    def run() -> tuple[float, float, int]:
        fits = FitCache([0.9])
        _, runs, _ = run_backtest(trace, Kind.ECS, policies=["scaleahead"], fit=fits)
        raised = sum(
            1 for f in fits._fits.values() if isinstance(f, Forecast) and f.fallback is not None
        )
        score = runs["scaleahead"].score
        return score.unserved, score.under_time, raised

    with_fallback = run()
    monkeypatch.setattr(fit_module._Fit, "_fallback", lambda self, record, q, held=None: None)
    without = run()
    assert with_fallback[2] > 0 and without[2] == 0
    assert with_fallback[0] < 0.5 * without[0]
    assert with_fallback[1] < without[1]


def test_explain_leads_with_the_raised_band() -> None:
    """What the worker stores of a raised fit (its description as the reason) is what
    ``scaleahead explain`` prints first."""
    ts, vs = _daily(16, seed=5, burst_from_day=14.5)
    now = T0 + 14.75 * DAY
    raised = _fit(ts, vs, now)
    line = forecast_line(StoredForecast("ok", now, raised.model, raised.to_item()))
    assert line.startswith("forecast fitted ") and "band raised to at least +" in line
    assert Forecast.from_item(raised.to_item()).fallback == pytest.approx(raised.fallback, abs=1e-6)
