"""The worker end to end on moto: forecast, plan ahead, and every guard on the way down."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from scaleahead.domain.controller import observe
from scaleahead.service.worker import process_target
from scaleahead.settings import Mode
from scaleahead_testkit.lambda_context import LocalContext
from tests.conftest import NOW, Aws, make_target, target_dict
from tests.records import decision, tick_inputs
from tests.test_handlers import EVENTS, resolve_handler

DAY = 86400
STEP = 300
# NOW is 12:05 UTC; the daily peak starts at 12:15 and lasts three hours.
PEAK_START, PEAK_END = 12 * 3600 + 15 * 60, 15 * 3600


def daily_load(t: float) -> float:
    sec = t % DAY
    return 1000.0 if PEAK_START <= sec < PEAK_END else 200.0


def history(
    aws: Aws, days: float, *, until: float = NOW, load: Callable[[float], float] = daily_load
) -> None:
    start = until - days * DAY
    n = int((until - start) // STEP)
    aws.put_load([(start + i * STEP, load(start + i * STEP)) for i in range(n)])


def target(**over: Any) -> Any:
    lm = target_dict()["load_metric"]
    base: dict[str, Any] = {"load_metric": {**lm, "period_seconds": STEP}}
    base.update(over)
    return make_target(**base)


def test_scales_out_one_warmup_before_the_daily_peak(aws: Aws) -> None:
    history(aws, 3)
    t = target(warmup_seconds=900)
    aws.apply(t)
    rec = decision(process_target(aws.rt, "web", NOW))
    # observed load is 200 (2 tasks) but the peak of 1000 starts within warm-up + tick
    assert rec.executed is True and rec.reason == "plan", rec
    assert aws.desired() >= 10
    assert "forecast" in tick_inputs(rec).plan_basis
    fc = aws.rt.store.get_forecast("web")
    assert fc is not None and fc.status == "ok" and "seasonal" in fc.reason
    # the alarm moved with the capacity
    alarm = aws.cloudwatch.describe_alarms(AlarmNames=["scaleahead-web-high-load"])
    assert alarm["MetricAlarms"][0]["Threshold"] == aws.desired() * 100.0


def test_the_hourly_refit_keeps_the_model_chosen_by_the_previous_one(aws: Aws) -> None:
    from scaleahead.domain.series import Forecast

    history(aws, 3, until=NOW + 3600)
    aws.apply(target())
    process_target(aws.rt, "web", NOW)
    first = aws.rt.store.get_forecast("web")
    process_target(aws.rt, "web", NOW + 3600)
    second = aws.rt.store.get_forecast("web")
    assert first is not None and second is not None and first.forecast and second.forecast
    a, b = Forecast.from_item(first.forecast), Forecast.from_item(second.forecast)
    assert b.generated_at == NOW + 3600  # refitted...
    assert (b.choice, b.chosen_at) == (a.choice, NOW)  # ...with the model chosen an hour ago


def test_short_warmup_waits_for_the_peak(aws: Aws) -> None:
    history(aws, 3)
    aws.apply(target(warmup_seconds=60))
    rec = decision(process_target(aws.rt, "web", NOW))
    assert aws.desired() < 10, rec


def test_a_target_evaluated_every_15_minutes_plans_until_its_next_evaluation(aws: Aws) -> None:
    # warm-up 1 min: the peak 10 min out is beyond warm-up + one tick, but this target is not
    # planned again for 15 min, so the plan must already cover it
    history(aws, 3)
    aws.apply(target(warmup_seconds=60, evaluate_every_seconds=900))
    rec = decision(process_target(aws.rt, "web", NOW))
    assert rec.executed is True and aws.desired() >= 10, rec


def test_forecast_only_records_what_it_would_do(aws: Aws) -> None:
    history(aws, 3)
    aws.apply(target(warmup_seconds=900, mode=Mode.FORECAST_ONLY.value))
    rec = decision(process_target(aws.rt, "web", NOW))
    assert rec.executed is False and rec.reason == "forecast_only"
    assert "would scale out" in rec.message and aws.desired() == 4
    assert aws.rt.store.decisions("web")[0].reason == "forecast_only"


def test_no_scale_in_when_the_load_data_stops(aws: Aws) -> None:
    history(aws, 3, until=NOW - 3 * 3600)  # nothing for the last three hours
    aws.apply(target(warmup_seconds=60))
    aws.ecs.update_service(cluster="prod", service="web", desiredCount=8)
    rec = decision(process_target(aws.rt, "web", NOW))
    assert rec.reason == "data_missing" and aws.desired() == 8, rec
    assert "no load datapoint" in rec.message


def test_scale_in_waits_for_the_whole_stabilisation_window(aws: Aws) -> None:
    history(aws, 3, until=NOW - 3600)
    aws.put_load([(NOW - 3600 + i * STEP, 200.0) for i in range(12 + 3)])
    aws.apply(target(warmup_seconds=60, scale_in_stabilisation_seconds=600))
    aws.ecs.update_service(cluster="prod", service="web", desiredCount=8)
    reasons = []
    for k in range(11):  # one tick a minute, as the target is evaluated
        rec = decision(process_target(aws.rt, "web", NOW - 600 + k * 60))
        reasons.append(rec.reason)
    assert reasons[:10] == ["stabilising"] * 10, reasons
    assert reasons[10] == "plan" and aws.desired() < 8


def test_a_gap_in_the_ticks_restarts_the_window(aws: Aws) -> None:
    history(aws, 3, until=NOW - 3600)
    aws.put_load([(NOW - 3600 + i * STEP, 200.0) for i in range(12 + 3)])
    aws.apply(target(warmup_seconds=60, scale_in_stabilisation_seconds=600))
    aws.ecs.update_service(cluster="prod", service="web", desiredCount=8)
    process_target(aws.rt, "web", NOW - 900)
    rec = decision(process_target(aws.rt, "web", NOW))  # 15 minutes without a plan in between
    assert rec.reason == "stabilising" and aws.desired() == 8


def test_lease_held_by_another_invocation_is_recorded_not_acted(aws: Aws) -> None:
    history(aws, 1.5)
    aws.apply(target(warmup_seconds=900))
    aws.rt.store.acquire_lease("web", "alarm-path", NOW)
    rec = decision(process_target(aws.rt, "web", NOW))
    assert rec.reason == "lease_held" and aws.desired() == 4


def test_reactive_floor_from_an_alarm_holds_against_a_lower_plan(aws: Aws) -> None:
    aws.put_load([(NOW - 60 * i, 150.0) for i in range(1, 20)])
    aws.apply(make_target())
    alarm = json.loads((EVENTS / "alarm-eventbridge-alarm.json").read_text())
    resolve_handler("AlarmFunction")(alarm, LocalContext())
    assert aws.desired() == 6
    aws.clock.advance(120)
    rec = decision(process_target(aws.rt, "web", NOW + 120))
    assert aws.desired() == 6 and tick_inputs(rec).floor == 6, rec


def test_reactive_only_below_a_day_of_history_and_says_so(aws: Aws) -> None:
    history(aws, 0.5)
    aws.apply(target())
    rec = decision(process_target(aws.rt, "web", NOW))
    assert "reactive-only" in tick_inputs(rec).plan_basis
    assert "24 h" in tick_inputs(rec).plan_basis


def test_unknown_target_is_recorded(aws: Aws) -> None:
    out = process_target(aws.rt, "ghost", NOW)
    assert out.reason == "unknown_target"
    assert "ghost" in aws.rt.store.rejected()[0]["reason"]


def test_observation_guards() -> None:
    assert observe([], NOW, 60).problem.startswith("no load datapoint")
    assert "old" in observe([(NOW - 1500, 5.0)], NOW, 60).problem
    assert "not a finite" in observe([(NOW - 60, math.nan)], NOW, 60).problem
    ok = observe([(NOW - 120, 5.0), (NOW - 60, 7.0)], NOW, 60)
    assert ok.ok and ok.latest == 7.0


def test_a_band_that_lately_missed_is_raised_and_the_decision_says_so(aws: Aws) -> None:
    """The automatic fallback end to end: three days of the daily load, the last six hours of
    it bursting to three times itself every other point. The worker's fit raises the band, the
    state table keeps the bar, the decision record says what the plan stood on, and the next
    hourly refit is judged against the bar from before the burst."""
    from scaleahead.domain.series import Forecast

    burst_from = NOW - 6 * 3600

    def bursty(t: float) -> float:
        steps = int((t - burst_from) // STEP)
        return daily_load(t) * (3.0 if t >= burst_from and steps % 2 == 0 else 1.0)

    history(aws, 3, until=NOW + 3600, load=bursty)
    aws.apply(target())
    rec = decision(process_target(aws.rt, "web", NOW))
    stored = aws.rt.store.get_forecast("web")
    assert stored is not None and stored.status == "ok" and stored.forecast
    raised = Forecast.from_item(stored.forecast)
    assert raised.fallback is not None and raised.widened > 0.3, raised.fallback
    assert "band raised to at least" in stored.reason  # what explain prints first
    assert "band raised to +" in tick_inputs(rec).plan_basis
    process_target(aws.rt, "web", NOW + 3600)
    again = aws.rt.store.get_forecast("web")
    assert again is not None and again.forecast
    later = Forecast.from_item(again.forecast)
    assert later.generated_at == NOW + 3600
    assert later.fallback is not None and later.fallback[1] == raised.fallback[1]
