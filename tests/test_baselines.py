"""The two AWS baselines against AWS's documentation (docs/BASELINES.md), on tiny hand-made
traces whose every expected number is worked out by hand in the comments.

Conventions (``backtest.sim``): step t's datapoint covers [T_t, T_t + step) and is known at its
end, T_t + step, when the policy decides; what it adds then serves from step
t + 1 + ceil(warm-up / step); what it removes is gone from step t + 1. With ``scored_from`` 0 the
replay starts at step 0 from the units the first datapoint needs at 100 %,
ceil(load[0] / unit).
"""

from __future__ import annotations

import numpy as np
import pytest

from scaleahead.domain.target import Kind
from scaleahead_testkit.warmup import Fleet, Rules
from scaleahead_tools.backtest import policies
from scaleahead_tools.backtest.policies import AwsPredictive, Series
from scaleahead_tools.backtest.replay import replay
from scaleahead_tools.backtest.sim import Setup

MINUTE = 60
HOUR = 3600
DAY = 86400
# 2014-05-14 00:00 UTC: a midnight, so that hours and the 6-hour refreshes fall on whole steps.
MIDNIGHT = 16204 * DAY


def _series(values: list[float], step: int, start: float = float(MIDNIGHT)) -> Series:
    ts = start + step * np.arange(len(values), dtype=np.float64)
    return Series(ts, np.asarray(values, dtype=np.float64))


def _setup(step: int, warmup: int, per_unit: float, kind: Kind = Kind.ECS) -> Setup:
    lo = 1 if kind is Kind.ELASTICACHE else 0
    return Setup(kind, step, warmup, per_unit, 0, lo, 500)


# ---------------------------------------------------------------- target tracking


def test_target_tracking_scales_out_on_the_third_consecutive_datapoint_above_target() -> None:
    # One-minute steps, unit 10, target 100 %, warm-up 2 min (2 steps). Start: ceil(30/10) = 3
    # units, 30/30 = 100 %, not above the target.
    values = [30.0] * 10 + [35.0, 35.0, 25.0] + [35.0] * 10 + [30.0] * 5
    r = replay(_series(values, MINUTE), _setup(MINUTE, 120, 10.0), "target-tracking", 1.0)
    # Steps 10 and 11: 35/30 = 117 %, two datapoints above; step 12: 25/30 = 83 % breaks the run,
    # so nothing happens. Steps 13, 14, 15 above: the third (step 15) scales out to
    # ceil(35/10) = 4, serving from 15 + 1 + 2 = 18.
    assert r.desired[:15].tolist() == [3] * 15
    assert r.desired[15] == 4
    assert r.capacity[17] == 3 and r.capacity[18] == 4


def test_units_warming_up_count_toward_the_next_scale_out() -> None:
    # One-minute steps, unit 10, target 100 %, warm-up 5 min (5 steps); start 3 units.
    values = [30.0] * 10 + [50.0] * 5 + [70.0] * 15
    r = replay(_series(values, MINUTE), _setup(MINUTE, 300, 10.0), "target-tracking", 1.0)
    # Steps 10-12 above (50/30): scale out at step 12 to ceil(50/10) = 5, serving from 18.
    assert r.desired[11] == 3 and r.desired[12] == 5
    # Steps 13-14: still 50/30 on the 3 units serving, the alarm stays high, but the 2 units
    # warming are part of the desired 5 = ceil(50/10): no second scale-out.
    assert r.desired[13] == 5 and r.desired[14] == 5
    # Step 15: 70 wants ceil(70/10) = 7, a larger scale-out, allowed inside the scale-out
    # cooldown: it adds 7 - 5 = 2 (not 7), serving from 15 + 1 + 5 = 21.
    assert r.desired[15:].tolist() == [7] * 15
    assert r.capacity[17] == 3 and r.capacity[18] == 5 and r.capacity[20] == 5
    assert r.capacity[21] == 7
    assert int(r.desired.max()) == 7


def test_target_tracking_scales_in_after_15_datapoints_below_90_percent_then_cools_down() -> None:
    # One-minute steps, unit 10, target 100 %, no warm-up; start ceil(200/10) = 20 units.
    values = [200.0] * 30 + [181.0] * 30 + [179.0] * 15 + [100.0] * 15
    r = replay(_series(values, MINUTE), _setup(MINUTE, 0, 10.0), "target-tracking", 1.0)
    # Steps 30-59: 181/200 = 90.5 %, not below 90 % of the target, so no scale-in although
    # ceil(181/10) = 19 units would do.
    assert r.desired[:60].tolist() == [20] * 60
    # Steps 60-74: 179/200 = 89.5 %. The 15th datapoint below is step 74: scale in to
    # ceil(179/10) = 18, gone from step 75.
    assert r.desired[73] == 20 and r.desired[74] == 18
    assert r.capacity[74] == 20 and r.capacity[75] == 18
    # Steps 75+: 100/180 = 56 %, the low alarm still in alarm, ceil(100/10) = 10 wanted; the
    # scale-in cooldown (300 s) holds it until the decision 300 s after step 74's: step 79.
    assert r.desired[75:79].tolist() == [18] * 4
    assert r.desired[79] == 10
    assert r.capacity[80] == 10


def test_a_scale_in_right_after_a_scale_out_waits_for_the_low_alarm() -> None:
    # One-minute steps, unit 10, target 100 %, no warm-up; start 3 units.
    values = [30.0] * 10 + [50.0] * 3 + [20.0] * 30
    r = replay(_series(values, MINUTE), _setup(MINUTE, 0, 10.0), "target-tracking", 1.0)
    # Scale-out at step 12 (third datapoint above) to 5. From step 13: 20/50 = 40 %; the 15th
    # datapoint below 90 % is step 27, 900 s after the scale-out, when the 300 s scale-out
    # cooldown has long expired: the 15-minute low alarm, not the cooldown, is what binds.
    assert r.desired[12] == 5
    assert r.desired[13:27].tolist() == [5] * 14
    assert r.desired[27] == 2


def test_the_scale_out_cooldown_blocks_scale_in(monkeypatch: pytest.MonkeyPatch) -> None:
    # The guard itself, with a one-datapoint low alarm (the documented 15 would hide it).
    monkeypatch.setattr(policies, "TT_IN_SECONDS", 60)
    values = [30.0] * 10 + [50.0] * 3 + [20.0] * 10
    r = replay(_series(values, MINUTE), _setup(MINUTE, 0, 10.0), "target-tracking", 1.0)
    # Scale-out at step 12 to 5; from step 13 every datapoint is low (40 %) and 2 units would
    # do, but the decisions of steps 13-16 are 60-240 s after the scale-out; step 17's is 300 s.
    assert r.desired[12:17].tolist() == [5] * 5
    assert r.desired[17] == 2


def test_elasticache_shards_scale_in_only_below_75_percent_of_the_target() -> None:
    # ElastiCache documents its own scale-in threshold for shards: 75 % of the target, not the
    # 90 % of other targets. One-minute steps, unit 10, target 100 %; start 20 shards.
    values = [200.0] * 20 + [160.0] * 20 + [140.0] * 20
    setup = _setup(MINUTE, 0, 10.0, Kind.ELASTICACHE)
    r = replay(_series(values, MINUTE), setup, "target-tracking", 1.0)
    # Steps 20-39: 160/200 = 80 %, below 90 % but not below 75 %: no scale-in.
    assert r.desired[:40].tolist() == [20] * 40
    # Steps 40+: 140/200 = 70 %; the 15th datapoint below 75 % is step 54: ceil(140/10) = 14.
    assert r.desired[53] == 20 and r.desired[54] == 14


@pytest.mark.parametrize(("load", "shards"), [(550.0, 60), (650.0, 65)])
def test_elasticache_shards_scale_out_by_at_least_20_percent(load: float, shards: int) -> None:
    # AWS's own example: 50 shards; a 10 % breach adds the 20 % minimum (60 shards), a 30 %
    # breach adds 30 % (65). One-minute steps, unit 10, target 100 %; start ceil(500/10) = 50.
    values = [500.0] * 10 + [load] * 5
    setup = _setup(MINUTE, 0, 10.0, Kind.ELASTICACHE)
    r = replay(_series(values, MINUTE), setup, "target-tracking", 1.0)
    # Third datapoint above at step 12: max(ceil(load/10), 50 + ceil(50 x 20 %)) shards.
    assert r.desired[11] == 50 and r.desired[12] == shards


# ---------------------------------------------------------------- predictive scaling

FIVE = 300
STEPS_PER_DAY = DAY // FIVE  # 288
HOUR_10 = 10 * HOUR // FIVE  # step 120 of a day


def _four_days() -> list[float]:
    """Five-minute steps from a midnight, four days: 10 everywhere but hour 10 of days 0-2.

    Hour 10's mean: day 0, 6 x 40 then 6 x 80 -> 60; day 1, 100; day 2, 6 x 120 then 6 x 160
    -> 140; day 3 stays at 10.
    """
    values = [10.0] * (4 * STEPS_PER_DAY)
    hour = {0: [40.0] * 6 + [80.0] * 6, 1: [100.0] * 12, 2: [120.0] * 6 + [160.0] * 6}
    for day, loads in hour.items():
        i = day * STEPS_PER_DAY + HOUR_10
        values[i : i + 12] = loads
    return values


def test_predictive_applies_the_mean_of_the_same_hour_from_the_hour_less_the_buffer() -> None:
    # Unit 10, target 50 %: a unit carries 5. Warm-up 5 min (1 step): the buffer is
    # max(300, warm-up) = 300 s. Off hour 10 the load is 10: ceil(10/5) = 2 units, at exactly
    # 50 %, neither alarm moves; the forecast minimum for those hours is also 2.
    series = _series(_four_days(), FIVE)
    r = replay(series, _setup(FIVE, 300, 10.0), "aws-predictive", 0.5)
    # Day 3, hour 10 (load 10): forecast mean (60 + 100 + 140) / 3 = 100 -> ceil(100/5) = 20.
    # It applies from 10:00 - 300 s = 09:55, the decision at the end of the step starting
    # 09:50: step 3 x 288 + 118 = 982, serving from 982 + 1 + 1 = 984, which starts 10:00.
    t = 3 * STEPS_PER_DAY + HOUR_10 - 2
    assert series.ts[t] + FIVE == MIDNIGHT + 3 * DAY + 10 * HOUR - 300
    assert r.desired[t - 1] == 2 and r.desired[t] == 20
    assert r.capacity[t + 1] == 2 and r.capacity[t + 2] == 20
    assert series.ts[t + 2] == MIDNIGHT + 3 * DAY + 10 * HOUR
    # It never scales in below it: from step 984 the 20 units run at 10/200 = 5 %, the low alarm
    # (ceil(900/300) = 3 datapoints) is in alarm from step 986, yet 20 hold until the decision
    # at 10:55, when hour 11's minimum (2) applies and target tracking scales in to
    # ceil(10/5) = 2.
    assert r.desired[t : t + 12].tolist() == [20] * 12
    assert r.desired[t + 12] == 2
    # Day 1 at 09:55: only day 0 is known, 60 -> 12. Day 2: (60 + 100) / 2 = 80 -> 16.
    assert r.desired[STEPS_PER_DAY + 117] == 2 and r.desired[STEPS_PER_DAY + 118] == 12
    assert r.desired[2 * STEPS_PER_DAY + 117] == 2 and r.desired[2 * STEPS_PER_DAY + 118] == 16


def test_predictive_makes_no_forecast_before_a_day_of_history() -> None:
    # The trace starts at 03:00, so the first 6-hour boundary after a day of history (06:00)
    # is not when the first forecast comes: it comes at 24 h, 03:00 the next day. Hour 3 of
    # day 0 (steps 0-11) carries 100, everything else 10; unit 10, target 50 %, warm-up 5 min.
    values = [100.0] * 12 + [10.0] * (STEPS_PER_DAY + 12)
    series = _series(values, FIVE, start=MIDNIGHT + 3 * HOUR)
    setup = _setup(FIVE, 300, 10.0)
    ap = replay(series, setup, "aws-predictive", 0.5)
    tt = replay(series, setup, "target-tracking", 0.5)
    # Day 0: target tracking alone (start 10 units, 20 at step 0, back to 2 at step 14 after
    # three datapoints at 10/200 = 5 %).
    assert ap.desired[:287].tolist() == tt.desired[:287].tolist()
    # Step 286 decides at 02:55 on day 1, 23 h 55 min of history: no forecast yet, so hour 3's
    # minimum is not applied at 02:55 (its start less the buffer) as it would be with one.
    assert ap.desired[286] == 2
    # Step 287 decides at 03:00, 24 h in: the first forecast, hour 3 = day 0's hour 3,
    # 100 -> ceil(100/5) = 20, applied at once, until hour 4's minimum (10 -> 2) at 03:55.
    assert ap.desired[287:298].tolist() == [20] * 11
    assert ap.desired[298] == 2
    assert tt.desired[287] == 2


def test_predictive_refreshes_every_6_hours_and_ignores_newer_data_until_then() -> None:
    series = _series(_four_days(), FIVE)
    setup = _setup(FIVE, 300, 10.0)
    p = AwsPredictive(series, setup, 0.5, buffer_seconds=300)
    fleet = Fleet(2, setup.warmup_steps, Rules())
    forecasts: dict[int, tuple[int, list[int]]] = {}
    for t in range(series.ts.size):
        before = p.capacity
        p.step(t, fleet)
        if p.capacity is not before:
            at = int(series.ts[t]) + FIVE - MIDNIGHT
            forecasts[at] = (p.first_hour, list(p.capacity))
    # The first forecast at 24 h (00:00 of day 1), then every 6 hours on the hour 00/06/12/18,
    # up to the last decision (4 days in): 13 forecasts, each 48 hourly values.
    assert sorted(forecasts) == [DAY + k * 6 * HOUR for k in range(13)]
    assert all(len(caps) == 48 for _, caps in forecasts.values())

    def minimum(made_at: int, hour_start: int) -> int:
        first, caps = forecasts[made_at]
        return caps[(MIDNIGHT + hour_start) // HOUR - first]

    day3_hour10 = 3 * DAY + 10 * HOUR
    # Made at 06:00 on day 2, day 2's hour 10 is still to come: hour 10 of day 3 is forecast
    # from days 0 and 1 only, (60 + 100) / 2 = 80 -> 16, as is day 2's own hour 10.
    assert minimum(2 * DAY + 6 * HOUR, day3_hour10) == 16
    assert minimum(2 * DAY + 6 * HOUR, 2 * DAY + 10 * HOUR) == 16
    # Day 2's hour 10 is complete by 11:00, but it enters only at the 12:00 refresh:
    # (60 + 100 + 140) / 3 = 100 -> 20.
    assert minimum(2 * DAY + 12 * HOUR, day3_hour10) == 20
    # And the minimum applied on day 3 comes from the 06:00 forecast of day 3: 20.
    assert minimum(3 * DAY + 6 * HOUR, day3_hour10) == 20


def test_predictive_forecasts_are_shared_by_every_replay_of_a_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The hourly forecasts depend on the trace alone (the knob only turns them into capacity),
    # so a sweep computes each once (``Series.memo``) and every replay reads the same ones.
    setup = _setup(FIVE, 300, 10.0)
    shared = _series(_four_days(), FIVE)
    made: list[int] = []
    forecast = AwsPredictive._forecast

    def counted(self: AwsPredictive, t: int, now: float) -> list[float | None]:
        made.append(t)
        return forecast(self, t, now)

    monkeypatch.setattr(AwsPredictive, "_forecast", counted)
    first = replay(shared, setup, "aws-predictive", 0.3)
    assert len(made) == 13  # a day's history, then every 6 hours (see the test above)
    again = replay(shared, setup, "aws-predictive", 0.5)
    assert len(made) == 13  # none recomputed
    fresh = replay(_series(_four_days(), FIVE), setup, "aws-predictive", 0.5)
    assert len(made) == 26
    # Shared or not, each knob's replay is its own: the same as on a trace seen for the first time.
    assert again.desired.tolist() == fresh.desired.tolist()
    assert first.desired.tolist() != again.desired.tolist()
