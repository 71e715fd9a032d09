"""Target definitions: good ones load, bad ones are refused naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.target import TargetError, parse_targets
from tests.conftest import target_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "targets.yaml"


def test_example_file_is_valid() -> None:
    from scaleahead.cli.targets import read_target_file

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
