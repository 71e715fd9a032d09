"""`scaleahead suggest`'s comparison with AWS's own scaling (``cli/against_aws.py``): the
verdict by hand, then the replay of the baselines on a small trace."""

from __future__ import annotations

import math

import pytest

from scaleahead.domain.kinds import Kind
from scaleahead_tools.backtest.metrics import Point
from scaleahead_tools.backtest.replay import make_setup, series_of, sweep
from scaleahead_tools.cli.against_aws import (
    AWS_POLICIES,
    BaselineRow,
    baseline_row,
    compare,
    replay_baselines,
)
from scaleahead_tools.traces import Trace

TT, AP = "target-tracking", "aws-predictive"


def test_every_kind_has_target_tracking_and_predictive_only_where_aws_offers_it() -> None:
    assert set(AWS_POLICIES) == set(Kind)
    assert all(ps[0] == TT for ps in AWS_POLICIES.values())
    assert {k for k, ps in AWS_POLICIES.items() if AP in ps} == {Kind.ECS, Kind.ASG}


def test_the_row_reads_the_cheapest_within_one_percent_else_the_least_short() -> None:
    points = [Point(0.9, 1.2, 0.05), Point(0.5, 2.0, 0.009), Point(0.4, 2.5, 0.0)]
    assert baseline_row(TT, points) == BaselineRow(TT, 0.5, 2.0, 0.009, True)
    short = [Point(0.9, 1.2, 0.05), Point(0.5, 2.0, 0.02), Point(0.4, 2.5, 0.02)]
    assert baseline_row(TT, short) == BaselineRow(TT, 0.5, 2.0, 0.02, False)


def test_scaleahead_cheaper_the_same_or_dearer() -> None:
    rows = [BaselineRow(TT, 0.4, 3.0, 0.008, True), BaselineRow(AP, 0.5, 2.5, 0.01, True)]
    c = compare(rows, 2.0, True, 50.0, "task")
    assert c.best == rows[1] and c.saving == pytest.approx(0.2)
    assert c.verdict.startswith("scaleahead holds 20 % less capacity than the cheapest")
    assert "predictive scaling with target tracking at a target of 0.5 (25 per task)" in c.verdict

    odd = compare([BaselineRow(TT, 0.6382, 2.0, 0.0094, True)], 1.9, True, 469.0, "task")
    assert "target tracking at a target of 0.6382 (299 per task)" in odd.verdict  # 299.316
    big = compare([BaselineRow(TT, 0.5, 2.0, 0.0094, True)], 1.9, True, 3333.3, "task")
    assert "(1670 per task)" in big.verdict

    same = compare(rows, 2.52, True, 50.0, "task")
    assert same.verdict.startswith("scaleahead holds about as much capacity as")

    dearer = compare(rows, 3.0, True, 50.0, "task")
    assert dearer.saving == pytest.approx(-0.2)
    assert dearer.verdict.startswith("predictive scaling with target tracking at a target of 0.5")
    assert "17 % less capacity than scaleahead" in dearer.verdict
    assert "forecast does not pay" in dearer.verdict and "mode: ForecastOnly" in dearer.verdict


def test_only_settings_within_one_percent_are_weighed() -> None:
    # Target tracking's setting is cheaper but short on 3 % of the steps: not the yardstick.
    rows = [BaselineRow(TT, 0.9, 1.1, 0.03, False), BaselineRow(AP, 0.5, 2.5, 0.01, True)]
    c = compare(rows, 2.0, True, 10.0, "shard")
    assert c.best == rows[1] and c.saving == pytest.approx(0.2)
    none = compare(rows[:1], 2.0, True, 10.0, "shard")
    assert none.best is None and none.saving is None
    assert none.verdict == (
        "scaleahead is within 1 % short; no setting of AWS's target tracking replayed is"
    )
    neither = compare(rows[:1], 2.0, False, 10.0, "shard")
    assert neither.verdict == "no policy replayed is within 1 % short on this load"
    aws_only = compare(rows, 2.0, False, 10.0, "shard")
    assert aws_only.best == rows[1] and aws_only.saving is None
    assert "and scaleahead at no quantile replayed" in aws_only.verdict
    assert aws_only.to_dict()["best"] == AP and aws_only.to_dict()["saving"] is None


def test_the_baselines_are_the_benchs_sweeps_on_the_targets_terms() -> None:
    # Two days of 5-minute load, a daily cycle with a burst every 25 steps; min capacity 2.
    period, n = 300, 576
    values = [
        50 * (6 + 3 * math.sin(2 * math.pi * i * period / 86400)) * (4 if i % 25 == 0 else 1)
        for i in range(n)
    ]
    trace = Trace("t", 1.7e9, period, tuple(values), 0)
    rows = replay_baselines(trace, Kind.ECS, warmup_minutes=5, per_unit=50, min_capacity=2)
    setup = make_setup(trace, Kind.ECS, warmup_minutes=5, per_unit=50, min_capacity=2)
    sweeps = sweep(series_of(trace), setup, [TT, AP])
    assert [r.policy for r in rows] == [TT, AP]
    for r in rows:
        at = sweeps[r.policy].at_1pct
        assert at is not None and r.meets_1pct
        assert (r.target, r.cost, r.under_time) == (at.knob, at.cost, at.under_time)
    # Aurora: target tracking only, on Aurora's own terms (serial changes, its warm-up).
    (aurora,) = replay_baselines(trace, Kind.AURORA, warmup_minutes=10, per_unit=50, min_capacity=0)
    assert aurora.policy == TT and aurora.cost != rows[0].cost
