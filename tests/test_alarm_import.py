"""The fast alarm path (issue 15): what it imports, and the compact target record it reads.

The alarm function's cold import is held to 1.2 times ``import boto3``; the bench
(``python -m scaleahead_tools.perf.imports``) prints the figures, so nothing here times anything.
What is checked is what makes the figure: the modules the alarm path loads, and that the compact
record it reads instead of the pydantic model is that model's exact twin, used only when it can
be trusted and otherwise replaced by the validated definition.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scaleahead.domain.kinds import Kind
from scaleahead.domain.target import (
    Target,
    compact_record,
    parse_targets,
    stored_definition,
)
from scaleahead.domain.target_record import (
    COMPACT_VERSION,
    CompactError,
    TargetRecord,
    read_compact,
)
from scaleahead.store.keys import TARGETS_PK
from tests.conftest import Aws, make_target, target_dict
from tests.test_handlers import invoke

ROOT = Path(__file__).resolve().parents[1]
# Packages the alarm path must not load, each with everything under it. Powertools' event
# source data classes: importing any one loads every event source it knows (~10 ms cold);
# alarm_events reads the three alarm shapes as plain dicts instead.
HEAVY = (
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "aws_xray_sdk",
    "numpy",
    "aws_lambda_powertools.utilities.data_classes",
)


# The tick's planning law, which the alarm path never runs: the alarm's own law lives in
# domain.alarm, and the store reads planned events only for the worker and the CLI.
PLANNING = (
    "scaleahead.domain.controller",
    "scaleahead.domain.plan",
    "scaleahead.domain.level",
    "scaleahead.domain.series",
    "scaleahead.domain.events",
    "scaleahead.domain.tick",
)


def _heavy(loaded: set[str]) -> set[str]:
    return {m for m in loaded for h in HEAVY if m == h or m.startswith(f"{h}.")}


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "PYTHONPATH": str(ROOT / "layers" / "scaleahead")},
    )
    return set(out.stdout.split())


def test_the_alarm_function_imports_no_pydantic_xray_or_numpy() -> None:
    loaded = _loaded_after(f"sys.path.insert(0, {str(ROOT / 'functions' / 'alarm')!r})\nimport app")
    assert "scaleahead.handlers.alarm" in loaded
    assert "scaleahead.domain.alarm_events" in loaded
    assert not _heavy(loaded)
    assert not loaded & set(PLANNING)


def test_what_the_first_alarm_builds_imports_no_pydantic_either() -> None:
    # runtime() imports the wiring (every kind's adapter) and the store on the first event.
    loaded = _loaded_after(
        "import scaleahead.handlers.alarm, scaleahead.handlers.wiring, scaleahead.store"
    )
    assert not _heavy(loaded)
    assert not loaded & set(PLANNING)


# --- the compact record: the model's twin --------------------------------------------------


def _every_kind() -> list[Target]:
    queries = [
        {"Id": "total", "Expression": "m1 * 2", "Label": "twice", "ReturnData": True},
        {
            "Id": "m1",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/RDS", "MetricName": "DatabaseConnections"},
                "Stat": "Average",
                "Unit": "Count",
            },
        },
    ]
    aurora = target_dict(
        id="db",
        kind="aurora",
        resource={"cluster": "prod-db"},
        min_capacity=1,
        max_capacity=5,
        instance_class="db.r6g.large",
        fallback_instance_classes=["db.r6g.xlarge"],
        keep_one_reader=True,
        mode="ForecastOnly",
        warmup_seconds=900,
        load_metric={"period_seconds": 300, "queries": queries},
    )
    cache = target_dict(
        id="cache",
        kind="elasticache",
        resource={"replication_group": "sessions"},
        min_capacity=1,
        max_capacity=10,
        max_memory_fill=0.6,
        alarm={"step": 2, "max_step_ratio": 2.0},
        enabled=False,
    )
    memcached = target_dict(
        id="sessions",
        kind="memcached",
        resource={"cache_cluster": "sessions-mc"},
        min_capacity=2,
        max_capacity=12,
        max_evictions_per_minute=5,
    )
    hosts = target_dict(
        id="hosts", kind="asg", resource={"auto_scaling_group": "web-hosts"}, warmup_seconds=240
    )
    every = [target_dict(), aurora, cache, memcached, hosts]
    targets = list(parse_targets({"targets": every}))
    assert {t.kind for t in targets} == set(Kind)  # a new kind needs its example here
    return targets


def _same(model: Any, record: Any, where: str) -> None:
    """``record`` has every field of ``model`` (a pydantic model), recursively equal."""
    fields = type(model).model_fields
    assert set(record._fields) == set(fields), where
    for name in fields:
        a, b = getattr(model, name), getattr(record, name)
        if hasattr(type(a), "model_fields"):
            _same(a, b, f"{where}.{name}")
        elif isinstance(a, tuple) and a and hasattr(type(a[0]), "model_fields"):
            assert len(a) == len(b), f"{where}.{name}"
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                _same(x, y, f"{where}.{name}[{i}]")
        else:
            assert a == b and type(a) is type(b), f"{where}.{name}: {a!r} != {b!r}"


@pytest.mark.parametrize("target", _every_kind(), ids=lambda t: t.kind.value)
def test_the_compact_record_round_trips_to_the_models_twin(target: Target) -> None:
    definition = stored_definition(target)
    record = read_compact(compact_record(target, definition), definition)
    assert not isinstance(record, type(target))  # no pydantic behind it
    _same(target, record, target.id)
    for prop in (
        "effective_warmup_seconds",
        "effective_stabilisation_seconds",
        "forecast_key",
        "resource_name",
    ):
        assert getattr(record, prop) == getattr(target, prop), prop
    assert record.load_metric.to_api() == target.load_metric.to_api()
    assert record.load_metric.returned_id == target.load_metric.returned_id


def _compact(target: Target | None = None, **over: Any) -> tuple[str, str]:
    target = target or make_target()
    definition = stored_definition(target)
    doc = json.loads(compact_record(target, definition))
    doc.update(over)
    return json.dumps(doc), definition


def _without(doc: str, *path: str) -> str:
    d = json.loads(doc)
    inner = d
    for key in path[:-1]:
        inner = inner[key]
    del inner[path[-1]]
    return json.dumps(d)


def _with(doc: str, value: Any, *path: str) -> str:
    d = json.loads(doc)
    inner = d
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = value
    return json.dumps(d)


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (lambda c, d: (None, d), "no compact record"),
        (lambda c, d: (_with(c, COMPACT_VERSION - 1, "v"), d), "schema version"),
        (lambda c, d: (_with(c, COMPACT_VERSION + 1, "v"), d), "schema version"),
        (lambda c, d: (c, d.replace('"max_capacity":20', '"max_capacity":30')), "stale"),
        (lambda c, d: ("{not json", d), "malformed"),
        (lambda c, d: ("[1, 2]", d), "malformed"),
        (lambda c, d: (_without(c, "target"), d), "malformed"),
        (lambda c, d: (_without(c, "target", "alarm", "step"), d), "'step' is missing"),
        (lambda c, d: (_with(c, "20", "target", "max_capacity"), d), "'max_capacity' is a str"),
        (lambda c, d: (_with(c, True, "target", "min_capacity"), d), "'min_capacity' is a bool"),
        (lambda c, d: (_with(c, "gpu", "target", "kind"), d), "malformed"),
        (lambda c, d: (_with(c, "Sometimes", "target", "mode"), d), "malformed"),
        (lambda c, d: (_with(c, [3], "target", "load_metric", "queries"), d), "malformed"),
    ],
)
def test_a_missing_stale_or_malformed_record_is_refused(spoil: Any, why: str) -> None:
    compact, definition = spoil(*_compact())
    with pytest.raises(CompactError, match=why):
        read_compact(compact, definition)


# --- the store against moto: written with every definition, never trusted blindly ------------


def test_the_store_writes_the_record_and_the_alarm_path_reads_it(aws: Aws) -> None:
    target = make_target()
    aws.apply(target)
    item = aws.rt.store._get(TARGETS_PK, "web")
    assert item is not None and json.loads(item["compact"])["v"] == COMPACT_VERSION
    fast = aws.rt.store.alarm_target("web")
    assert isinstance(fast, TargetRecord)
    _same(target, fast, "web")
    assert aws.rt.store.get_target("web") == target  # everyone else still gets the model
    assert aws.rt.store.alarm_target("ghost") is None


def _spoil_item(aws: Aws, **attrs: Any) -> None:
    """Change the stored item as an older or broken writer would: ``None`` removes."""
    table = aws.rt.store._table
    item = table.get_item(Key={"pk": TARGETS_PK, "sk": "web"})["Item"]
    for k, v in attrs.items():
        if v is None:
            item.pop(k, None)
        else:
            item[k] = v
    table.put_item(Item=item)


@pytest.mark.parametrize(
    "spoil",
    [
        {"compact": None},  # written before the record existed
        {"compact": "{broken"},
        {"definition": stored_definition(make_target(max_capacity=30))},  # stale record
    ],
    ids=["missing", "malformed", "stale"],
)
def test_the_store_falls_back_to_the_validated_definition_and_says_so(
    aws: Aws, spoil: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    aws.apply(make_target())
    _spoil_item(aws, **spoil)
    with caplog.at_level(logging.WARNING, logger="scaleahead.store.targets"):
        target = aws.rt.store.alarm_target("web")
    assert target == aws.rt.store.get_target("web")  # the model, from the stored definition
    assert not isinstance(target, TargetRecord)
    assert any("validating the full definition" in r.getMessage() for r in caplog.records)
    if "definition" in spoil:
        assert target is not None and target.max_capacity == 30  # never the stale record's 20


# --- the alarm path acts the same on the record as on the model ------------------------------


@pytest.mark.parametrize("compact", [True, False], ids=["compact", "model"])
@pytest.mark.parametrize(
    "event_file", ["alarm-eventbridge-alarm.json", "alarm-lambda-action.json", "alarm-sns.json"]
)
def test_the_alarm_acts_the_same_on_the_record_as_on_the_model(
    aws: Aws, compact: bool, event_file: str
) -> None:
    aws.apply(make_target())
    if not compact:
        _spoil_item(aws, compact=None)
    assert aws.desired() == 4
    out = invoke("AlarmFunction", event_file)
    [res] = out["results"]
    # as tests/test_handlers.py: floor = max(4 + 1, ceil(4 x 520 / 400)) = 6
    assert out["status"] == "ok" and res["reason"] == "reactive_floor" and res["executed"]
    assert res["kind"] == "ecs" and aws.desired() == 6
    alarm = aws.cloudwatch.describe_alarms(AlarmNames=["scaleahead-web-high-load"])
    assert alarm["MetricAlarms"][0]["Threshold"] == 600.0
    assert alarm["MetricAlarms"][0]["Metrics"][0]["Id"] == "load"
    # A repeated delivery is recognised the same way on either form.
    again = invoke("AlarmFunction", event_file)
    assert again["results"][0]["status"] == "duplicate" and aws.desired() == 6


def test_a_disabled_target_is_ignored_on_the_record(aws: Aws) -> None:
    aws.apply(make_target(enabled=False))
    out = invoke("AlarmFunction", "alarm-eventbridge-alarm.json")
    assert out["results"][0]["status"] == "ignored" and aws.desired() == 4


def test_the_import_benchmark_runs_with_the_environment_lambda_gives() -> None:
    """perf/imports times each function under its template environment, conditions resolved
    at the defaults: an unresolved !If read as '' once made Powertools refuse to import."""
    from scaleahead.settings import Settings
    from scaleahead_tools.perf.imports import template_environment

    for function in ("alarm", "tick", "worker"):
        env = template_environment(function=function)
        assert env["POWERTOOLS_METRICS_DISABLED"] == "false", function
        traced = function == "alarm"  # Tracing's default
        assert env["POWERTOOLS_TRACE_DISABLED"] == ("false" if traced else "true"), function
        Settings.from_env(env)  # every variable the functions read parses
