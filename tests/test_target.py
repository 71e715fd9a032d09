"""Target definitions: good ones load, bad ones are refused naming the field."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.target import TargetError, parse_target, parse_targets
from tests.conftest import target_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "targets.yaml"


def test_example_file_is_valid() -> None:
    from scaleahead_tools.cli.targets import read_target_file

    [t] = read_target_file(EXAMPLE)
    assert t.id == "web" and t.effective_warmup_seconds == 300
    [q] = t.load_metric.to_api()
    assert q["MetricStat"]["Period"] == 60 and q["ReturnData"] is True


def test_default_warmup_per_kind() -> None:
    [t] = parse_targets({"targets": [target_dict()]})
    assert t.warmup_seconds is None and t.effective_warmup_seconds == 300


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"min_capacity": 5, "max_capacity": 3}, "min_capacity (5) exceeds max_capacity"),
        ({"capacity_per_unit": 0}, "targets.0.capacity_per_unit"),
        ({"id": "Web_1"}, "targets.0.id"),
        ({"kind": "lambda"}, "targets.0.kind"),
        ({"resource": {"cluster": "prod"}}, "targets.0.resource.service"),
        ({"surprise": 1}, "targets.0.surprise"),
        ({"alarm": {"evaluation_periods": 2, "datapoints_to_alarm": 3}}, "targets.0.alarm"),
        ({"forecast": {"quantile": 1.5}}, "targets.0.forecast.quantile"),
        ({"mode": "Yolo"}, "targets.0.mode"),
    ],
)
def test_bad_definitions_name_the_field(over: dict[str, Any], field: str) -> None:
    with pytest.raises(TargetError, match=field.replace("(", r"\(").replace(")", r"\)")):
        parse_targets({"targets": [target_dict(**over)]})


def test_load_metric_must_return_exactly_one_series() -> None:
    lm = target_dict()["load_metric"]
    two = {
        **lm,
        "queries": [
            {**lm["queries"][0], "ReturnData": True},
            {"Id": "double", "Expression": "load * 2", "ReturnData": True},
        ],
    }
    with pytest.raises(TargetError, match=r"targets.0.load_metric.*exactly one query"):
        parse_targets({"targets": [target_dict(load_metric=two)]})
    math_ok = {
        **lm,
        "queries": [
            {**lm["queries"][0], "ReturnData": False},
            {"Id": "total", "Expression": "load * 2", "ReturnData": True},
        ],
    }
    [t] = parse_targets({"targets": [target_dict(load_metric=math_ok)]})
    assert t.load_metric.returned_id == "total"


def test_query_needs_exactly_one_source() -> None:
    bad = {"queries": [{"Id": "load"}]}
    with pytest.raises(TargetError, match="exactly one of Expression or MetricStat"):
        parse_targets({"targets": [target_dict(load_metric=bad)]})


def test_duplicate_ids_and_empty_files_are_refused() -> None:
    with pytest.raises(TargetError, match="repeated"):
        parse_targets({"targets": [target_dict(), target_dict()]})
    with pytest.raises(TargetError, match="no targets"):
        parse_targets({"targets": []})


def test_aurora_bounds_are_the_aurora_limit() -> None:
    aurora = target_dict(kind="aurora", resource={"cluster": "db"}, min_capacity=0)
    [t] = parse_targets({"targets": [{**aurora, "max_capacity": 15}]})
    assert t.effective_warmup_seconds == 900
    with pytest.raises(TargetError, match=r"targets\.0\.max_capacity"):
        parse_targets({"targets": [{**aurora, "max_capacity": 16}]})


def test_elasticache_target_and_kind_specific_fields() -> None:
    cache = target_dict(kind="elasticache", resource={"replication_group": "rg"}, min_capacity=1)
    [t] = parse_targets({"targets": [cache]})
    assert t.effective_warmup_seconds == 1800
    with pytest.raises(TargetError, match=r"targets\.0\.resource\.replication_group"):
        parse_targets({"targets": [{**cache, "resource": {"cluster": "x"}}]})
    with pytest.raises(TargetError, match=r"targets\.0\.keep_one_reader"):
        parse_targets({"targets": [{**cache, "keep_one_reader": True}]})


# -- no silent coercion, no absurd numbers (issue 12, item 8) -----------------------------------


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"max_capacity": "3"}, "max_capacity: Input should be a valid integer, got the string"),
        ({"max_capacity": 20.0}, "max_capacity: Input should be a valid integer, got 20.0"),
        ({"max_capacity": True}, "max_capacity: Input should be a valid integer"),
        ({"enabled": "yes"}, "enabled: Input should be a valid boolean, got the string 'yes'"),
        ({"enabled": 1}, "enabled: Input should be a valid boolean"),
        ({"capacity_per_unit": "100"}, "capacity_per_unit: Input should be a valid number"),
        ({"warmup_seconds": "300"}, "warmup_seconds: Input should be a valid integer"),
        ({"forecast": {"enabled": "false"}}, "forecast.enabled: Input should be a valid boolean"),
        ({"alarm": {"step": "2"}}, "alarm.step: Input should be a valid integer"),
    ],
)
def test_no_silent_coercion(over: dict[str, Any], needle: str) -> None:
    with pytest.raises(TargetError, match=re.escape(needle)):
        parse_targets({"targets": [target_dict(**over)]})


def test_ints_are_fine_for_floats_and_enums_still_take_strings() -> None:
    [t] = parse_targets(
        {
            "targets": [
                target_dict(capacity_per_unit=100, mode="ForecastOnly", alarm={"max_step_ratio": 2})
            ]
        }
    )
    assert t.capacity_per_unit == 100.0 and t.alarm.max_step_ratio == 2.0
    assert t.mode is not None and t.mode.value == "ForecastOnly"


@pytest.mark.parametrize(
    "data",
    [
        target_dict(alarm={"max_step_ratio": 1.5, "max_step_units": 7}, enabled=False),
        target_dict(kind="aurora", resource={"cluster": "db"}, min_capacity=0, max_capacity=15),
        target_dict(
            kind="elasticache",
            resource={"replication_group": "rg"},
            min_capacity=1,
            max_capacity=500,
            max_memory_fill=0.5,
        ),
    ],
    ids=["ecs", "aurora", "elasticache"],
)
def test_a_stored_definition_parses_back_to_the_same_target(data: dict[str, Any]) -> None:
    """What DynamoDB holds is the JSON dump; strict fields must still read it back."""
    [t] = parse_targets({"targets": [data]})
    stored = json.loads(t.model_dump_json(by_alias=True, exclude_none=True))
    assert parse_target(stored) == t


@pytest.mark.parametrize(
    "over",
    [
        {"capacity_per_unit": math.inf},
        {"capacity_per_unit": math.nan},
        {"forecast": {"quantile": math.nan}},
        {"alarm": {"threshold_ratio": math.inf}},
        {"alarm": {"max_step_ratio": math.nan}},
    ],
)
def test_non_finite_numbers_are_refused_everywhere(over: dict[str, Any]) -> None:
    with pytest.raises(TargetError, match="finite number"):
        parse_targets({"targets": [target_dict(**over)]})


@pytest.mark.parametrize(
    ("over", "ok"),
    [
        ({"capacity_per_unit": 1e-3}, True),
        ({"capacity_per_unit": 9e-4}, False),
        ({"capacity_per_unit": 1e-300}, False),
        ({"capacity_per_unit": 1e12}, True),
        ({"capacity_per_unit": 1.1e12}, False),
        ({"max_capacity": 5000}, True),
        ({"max_capacity": 5001}, False),
        ({"max_capacity": 10**30}, False),
        ({"min_capacity": 5001, "max_capacity": 5000}, False),
        ({"alarm": {"threshold_ratio": 0.1}}, True),
        ({"alarm": {"threshold_ratio": 0.09}}, False),
        ({"warmup_seconds": 7201}, False),
        ({"evaluate_every_seconds": 59}, False),
    ],
)
def test_bounds(over: dict[str, Any], ok: bool) -> None:
    data = {"targets": [target_dict(**over)]}
    if ok:
        parse_targets(data)
    else:
        with pytest.raises(TargetError):
            parse_targets(data)


def test_elasticache_absurd_fills_are_refused() -> None:
    cache = target_dict(kind="elasticache", resource={"replication_group": "rg"}, min_capacity=1)
    for over, field in (
        ({"max_memory_fill": 1e-300}, "max_memory_fill"),
        ({"max_cpu_for_scale_in": 0.5}, "max_cpu_for_scale_in"),
        ({"max_capacity": 501}, "max_capacity"),
        ({"resource": {"replication_group": "r" * 41}}, "resource.replication_group"),
    ):
        with pytest.raises(TargetError, match=rf"targets\.0\.{field}"):
            parse_targets({"targets": [{**cache, **over}]})


def test_alarm_step_caps_have_defaults_and_bounds() -> None:
    [t] = parse_targets({"targets": [target_dict()]})
    assert (t.alarm.max_step_ratio, t.alarm.max_step_units) == (3.0, 50)
    [t] = parse_targets(
        {"targets": [target_dict(alarm={"step": 60, "max_step_units": 60, "max_step_ratio": 100})]}
    )
    assert t.alarm.step == 60
    for alarm, needle in (
        ({"max_step_ratio": 0.99}, r"alarm\.max_step_ratio: .*greater than or equal to 1"),
        ({"max_step_ratio": 100.5}, r"alarm\.max_step_ratio: .*less than or equal to 100"),
        ({"max_step_units": 0}, r"alarm\.max_step_units: .*greater than or equal to 1"),
        ({"max_step_units": 5001}, r"alarm\.max_step_units: .*less than or equal to 5000"),
        ({"step": 60}, r"step \(60\) exceeds max_step_units \(50\)"),
        ({"step": 5, "max_step_units": 4}, r"step \(5\) exceeds max_step_units \(4\)"),
    ):
        with pytest.raises(TargetError, match=needle):
            parse_targets({"targets": [target_dict(alarm=alarm)]})


def test_the_alarm_range_fits_what_cloudwatch_evaluates() -> None:
    lm = {**target_dict()["load_metric"], "period_seconds": 3000}
    with pytest.raises(TargetError, match="exceeds one day"):
        parse_targets({"targets": [target_dict(load_metric=lm, alarm={"evaluation_periods": 30})]})
    parse_targets({"targets": [target_dict(load_metric=lm, alarm={"evaluation_periods": 28})]})
    hourly = {**lm, "period_seconds": 3600}  # an hour or more: seven days allowed
    parse_targets({"targets": [target_dict(load_metric=hourly, alarm={"evaluation_periods": 30})]})


@pytest.mark.parametrize("bad", ["web\n", "web#1", "a/b", "Web", "w" * 64, "w" * 10_000, ""])
def test_ids_that_would_be_unsafe_keys_are_refused(bad: str) -> None:
    with pytest.raises(TargetError, match=r"targets\.0\.id") as err:
        parse_targets({"targets": [target_dict(id=bad)]})
    assert len(str(err.value)) < 300  # the hostile value is not echoed


def test_cloudwatch_limits_are_checked_before_any_write() -> None:
    lm = target_dict()["load_metric"]
    q = lm["queries"][0]
    metric = q["MetricStat"]["Metric"]
    for query, needle in (
        ({**q, "MetricStat": {**q["MetricStat"], "Unit": "Bananas"}}, "CloudWatch unit"),
        (
            {**q, "MetricStat": {**q["MetricStat"], "Metric": {**metric, "Namespace": ":x"}}},
            "Namespace",
        ),
        (
            {
                **q,
                "MetricStat": {
                    **q["MetricStat"],
                    "Metric": {
                        **metric,
                        "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)],
                    },
                },
            },
            "Dimensions",
        ),
        ({"Id": "load", "Expression": "x" * 2049}, "Expression"),
        ({**q, "Id": "l" * 256}, r"queries\.0\.Id"),
    ):
        with pytest.raises(TargetError, match=needle):
            parse_targets({"targets": [target_dict(load_metric={**lm, "queries": [query]})]})


def test_every_kind_problem_is_reported_at_once() -> None:
    with pytest.raises(TargetError) as err:
        parse_targets(
            {"targets": [target_dict(kind="lambda"), target_dict(id="b"), target_dict(kind=None)]}
        )
    assert "targets.0.kind: unknown kind 'lambda'" in str(err.value)
    assert "targets.2.kind: field required" in str(err.value)
    with pytest.raises(TargetError, match=r"targets\.0\.driver: must be a driver name"):
        parse_targets({"targets": [target_dict(driver=["x"])]})
