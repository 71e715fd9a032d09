"""What the functions tell CloudWatch: one structured log line per decision carrying the event's
correlation id and every figure of the decision (the dashboard's per-target widgets query it),
and the custom metrics MetricsLevel asks for: fleet counts by default, per-target figures on
request, none at all."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from scaleahead.domain.decision import Action, Reason
from scaleahead.domain.record import DecisionRecord, Source, TickInputs
from scaleahead.handlers import common
from scaleahead.handlers.common import DECISION_METRICS, observe_decision
from scaleahead.settings import MetricsLevel
from scaleahead_testkit.lambda_context import LocalContext
from tests.conftest import NOW, Aws, make_target
from tests.faults import Faults
from tests.test_handlers import EVENTS, batch_with_a_failing_item, invoke, resolve_handler


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Metrics on (the suite turns them off to keep its output quiet), named as in Lambda,
    where the template's environment is set before the handler module is imported."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setattr(common.metrics.provider, "namespace", "Scaleahead")
    monkeypatch.setattr(common.metrics.provider, "service", "scaleahead")
    # While disabled, Powertools keeps what it did not flush: start from nothing.
    common.metrics.clear_metrics()


def lines(out: str) -> list[dict[str, Any]]:
    found = []
    for line in out.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            found.append(entry)
    return found


def emf(entries: list[dict[str, Any]], **dims: str) -> list[dict[str, Any]]:
    return [e for e in entries if "_aws" in e and all(e.get(k) == v for k, v in dims.items())]


def test_a_worker_decision_is_logged_and_counted_for_the_fleet(
    aws: Aws, emitted: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """At the default MetricsLevel (fleet) the decision's figures are in its log line, where the
    dashboard's per-target widgets read them; no metric is dimensioned by target."""
    aws.apply(make_target())
    aws.put_load([(NOW - 60 * i, 750.0) for i in range(1, 20)])
    capsys.readouterr()
    assert invoke("WorkerFunction", "worker-sqs-batch.json") == {"batchItemFailures": []}
    entries = lines(capsys.readouterr().out)
    message_id = json.loads((EVENTS / "worker-sqs-batch.json").read_text())["Records"][0][
        "messageId"
    ]
    # The JSON line's fields are the record's (Powertools' handler writes to the stdout of when
    # it was made, out of capsys's reach), and the correlation id is the message's.
    [log] = [r.__dict__ for r in caplog.records if r.getMessage() == "decision"]
    assert common.logger.get_correlation_id() == message_id
    assert (log["target"], log["kind"], log["source"]) == ("web", "ecs", "worker")
    assert (log["ActualCapacity"], log["DesiredCapacity"], log["PlannedCapacity"]) == (4, 8, 8)
    assert log["ObservedLoad"] == 750 and "ForecastLoad" not in log  # reactive only
    assert log["reason"] == "plan" and log["executed"] is True
    assert log["levelno"] == logging.INFO
    assert emf(entries, Target="web") == []
    # the fleet's counts ride in the function's own blob, with its work items
    [blob] = [e for e in emf(entries) if "WorkItems" in e]
    assert blob["Actions"] == [1.0] and blob["WorkItems"] == [1.0] and "Target" not in blob
    [namespace] = {m["Namespace"] for m in blob["_aws"]["CloudWatchMetrics"]}
    assert namespace == "Scaleahead"
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]


def _held() -> DecisionRecord:
    return DecisionRecord(
        source=Source.WORKER,
        action=Action.NONE,
        before=4,
        after=4,
        executed=False,
        reason=Reason.STABILISING,
        message="holding",
        inputs=TickInputs(
            plan=3,
            observed_load=250.0,
            forecast_now=260.0,
            forecast_upper_now=320.0,
            forecast_error=0.125,
        ),
    )


def test_the_decision_line_carries_every_figure_a_metric_would(
    aws: Aws, caplog: pytest.LogCaptureFixture
) -> None:
    observe_decision(make_target(), _held(), MetricsLevel.NONE)
    [log] = [r.__dict__ for r in caplog.records if r.getMessage() == "decision"]
    assert {name: log[name] for name in DECISION_METRICS} == {
        "ActualCapacity": 4,
        "DesiredCapacity": 4,
        "PlannedCapacity": 3,
        "ObservedLoad": 250,
        "ForecastLoad": 260,
        "ForecastUpperLoad": 320,
        "ForecastErrorPercent": 12.5,
    }
    assert (log["reason"], log["action"], log["why"]) == ("stabilising", "none", "holding")


def test_no_metric_at_level_none(
    aws: Aws, emitted: None, capsys: pytest.CaptureFixture[str]
) -> None:
    observe_decision(make_target(), _held(), MetricsLevel.NONE)
    assert emf(lines(capsys.readouterr().out)) == []
    assert common.metrics.metric_set == {}  # nothing waits for the handler's flush either


def test_fleet_level_counts_a_refusal_without_naming_the_target(
    aws: Aws, emitted: None, capsys: pytest.CaptureFixture[str]
) -> None:
    observe_decision(make_target(), _held(), MetricsLevel.FLEET)
    assert emf(lines(capsys.readouterr().out)) == []  # nothing flushed per decision
    common.metrics.flush_metrics()
    [blob] = emf(lines(capsys.readouterr().out))
    assert blob["NotScaled"] == [1.0] and "Target" not in blob and "Reason" not in blob


def test_per_target_level_adds_each_figure_as_a_metric(
    aws: Aws, emitted: None, capsys: pytest.CaptureFixture[str]
) -> None:
    observe_decision(make_target(), _held(), MetricsLevel.PER_TARGET)
    entries = lines(capsys.readouterr().out)
    [blob] = [e for e in emf(entries, Target="web") if "ForecastLoad" in e]
    assert blob["ForecastLoad"] == [260.0] and blob["ForecastUpperLoad"] == [320.0]
    assert blob["ForecastErrorPercent"] == [12.5]
    assert "Actions" not in blob
    units = {m["Name"]: m["Unit"] for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert units["ForecastErrorPercent"] == "Percent" and units["PlannedCapacity"] == "Count"
    assert set(units) == set(DECISION_METRICS)
    [why] = emf(entries, Target="web", Reason="stabilising")
    assert why["NotScaled"] == [1.0]
    [dims] = why["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert set(dims) == {"service", "Target", "Reason"}
    # and the fleet's count too, as at the default level
    common.metrics.flush_metrics()
    [fleet] = emf(lines(capsys.readouterr().out))
    assert fleet["NotScaled"] == [1.0] and "Target" not in fleet


def test_failed_work_items_are_counted(
    aws: Aws, emitted: None, capsys: pytest.CaptureFixture[str], faults: Faults
) -> None:
    """AWS/Lambda's Errors never sees a failed batch item (the invocation succeeds): the worker
    counts them itself."""
    aws.apply(make_target())
    aws.put_load([(NOW - 60 * i, 750.0) for i in range(1, 20)])
    # one good item and one that fails (all failing would fail the invocation instead)
    event = batch_with_a_failing_item(aws, faults)
    capsys.readouterr()
    out = resolve_handler("WorkerFunction")(event, LocalContext())
    assert len(out["batchItemFailures"]) == 1
    entries = emf(lines(capsys.readouterr().out))
    counted = [e["FailedWorkItems"] for e in entries if "FailedWorkItems" in e]
    assert counted == [[1.0]]


@pytest.mark.parametrize(("disabled", "expected"), [("false", "True"), ("true", "False")])
def test_the_cold_start_metric_is_asked_for_only_when_metrics_are_on(
    disabled: str, expected: str
) -> None:
    """Powertools prints its ColdStart metric whatever POWERTOOLS_METRICS_DISABLED says, so at
    MetricsLevel none (the template sets the variable) the handlers must not ask for it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "POWERTOOLS_METRICS_DISABLED": disabled}
    env["PYTHONPATH"] = os.pathsep.join([str(root / "layers" / "scaleahead"), str(root)])
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from scaleahead.handlers import common; print(common.COLD_START_METRIC)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == expected
