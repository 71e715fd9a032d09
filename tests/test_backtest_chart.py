"""The backtest chart's zoom on scaleahead's worst week: the window by hand, then the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from scaleahead.domain.target import Kind
from scaleahead_tools.backtest.metrics import Point, Score
from scaleahead_tools.backtest.replay import Run, Sweep, make_setup
from scaleahead_tools.backtest.report import chart, worst_window
from scaleahead_tools.traces import Trace

HOUR = 3600
WEEK = 7 * 24  # hourly steps


def test_the_window_with_the_most_short_steps_the_first_of_equals() -> None:
    short = [0, 1, 0, 0, 1, 1, 0]
    # Counts of the windows of 3 from each start: 1, 1, 1, 2, 2: the first of the two 2s.
    assert worst_window(short, [1] * 7, 3) == (3, 6)


def test_ties_go_to_the_most_need() -> None:
    # [0, 2) and [2, 4) are each short once; the second needs 6 units, the first 2.
    assert worst_window([1, 0, 0, 1], [1, 1, 1, 5], 2) == (2, 4)
    # Never short: the window of most need.
    assert worst_window([0] * 5, [1, 1, 3, 3, 1], 2) == (2, 4)


def test_a_trace_shorter_than_the_window_is_all_of_it() -> None:
    assert worst_window([0, 1, 0], [1, 1, 1], 168) == (0, 3)
    assert worst_window([0, 1, 0], [1, 1, 1], 3) == (0, 3)


def run(policy: str, capacity: npt.NDArray[Any]) -> Run:
    score = Score(0.0, 0.0, 1.0, 0.0, 0.0, 0, capacity.size)
    return Run(policy, None, capacity.copy(), capacity, score)


def test_the_chart_zooms_on_scaleaheads_worst_week(tmp_path: Path) -> None:
    # Three weeks of hourly load needing 5 units (a unit serves 1): the first week is history,
    # then scaleahead is one short at scored steps 20 (alone), 200, 210 and 250. The week with
    # the most short steps holds the last three; the first such starts at 250 - 167 = 83.
    days = 21
    trace = Trace("synthetic", 1_800_000_000.0, HOUR, tuple([5.0] * days * 24), 0)
    setup = make_setup(trace, Kind.ECS, per_unit=1.0)
    s0 = setup.scored_from
    assert s0 == WEEK
    capacity = np.full(days * 24, 5, dtype=np.int64)
    capacity[[s0 + 20, s0 + 200, s0 + 210, s0 + 250]] = 4
    runs = {
        "oracle": run("oracle", np.full(days * 24, 5, dtype=np.int64)),
        "target-tracking": run("target-tracking", np.full(days * 24, 7, dtype=np.int64)),
        "scaleahead": run("scaleahead", capacity),
    }
    sweeps = {"scaleahead": Sweep("scaleahead", [Point(0.9, 1.0, 0.012), Point(0.99, 1.2, 0.0)])}
    path = tmp_path / "chart.png"
    assert chart(trace, setup, runs, sweeps, path) == (s0 + 83, s0 + 83 + WEEK)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Without scaleahead there is no worst week to zoom on; the chart is still drawn.
    del runs["scaleahead"]
    assert chart(trace, setup, runs, {}, path) is None
    assert path.stat().st_size > 10_000
