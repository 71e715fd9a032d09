"""`scaleahead backtest --from-target`: a defined target's own CloudWatch history, replayed
with its own terms (kind, unit, warm-up, stabilisation, quantile)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from scaleahead_tools.backtest.from_target import terms_of, trace_of
from scaleahead_tools.cli.main import main
from tests.conftest import NOW, Aws, make_target

HOURS = 6  # moto's CloudWatch is slow: a few hours of 1-minute load are enough to replay


def _load(aws: Aws) -> None:
    aws.put_load(
        [
            (NOW - 60 * i, 300.0 + 200.0 * math.sin(2 * math.pi * i / 120))
            for i in range(1, HOURS * 60 + 1)
        ]
    )


def test_the_trace_is_the_targets_load_and_the_terms_its_own(aws: Aws) -> None:
    _load(aws)
    target = make_target(warmup_seconds=240, capacity_per_unit=50.0)
    trace = trace_of(aws.rt.metrics, target, NOW, days=1)
    assert trace.step == 60 and len(trace.values) == HOURS * 60 and trace.filled == 0
    assert trace.name == "web (last 1 days)"
    terms = terms_of(target)
    assert (terms.warmup_minutes, terms.per_unit) == (4.0, 50.0)
    assert terms.stabilisation_minutes == target.effective_stabilisation_seconds / 60
    with pytest.raises(ValueError, match="CloudWatch keeps 15 days"):
        trace_of(aws.rt.metrics, target, NOW, days=30)


def test_the_cli_replays_a_defined_target(aws: Aws, tmp_path: Path) -> None:
    _load(aws)
    aws.apply(make_target(warmup_seconds=240, capacity_per_unit=50.0))
    out = tmp_path / "out"
    argv = ["backtest", "--from-target", "web", "--days", "1", "--out", str(out)]
    assert main([*argv, "--policies", "oracle,scaleahead"]) == 0
    data = json.loads((out / "summary.json").read_text())
    assert data["settings"]["kind"] == "ecs" and data["settings"]["warmup_minutes"] == 4
    assert data["settings"]["per_unit"] == 50.0
    assert set(data["policies"]) == {"oracle", "scaleahead"}


def test_the_cli_says_what_is_wrong_with_the_source(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.apply(make_target())
    assert main(["backtest", "--from-target", "nope", "--out", str(tmp_path)]) == 2
    assert "no target 'nope'" in capsys.readouterr().out
    assert main(["backtest", "--from-target", "web", "--out", str(tmp_path)]) == 2
    assert "returned 0 datapoint(s)" in capsys.readouterr().out  # no load was put
    assert main(["backtest", "--out", str(tmp_path)]) == 2
    assert "give a TRACE file or --from-target ID" in capsys.readouterr().out
