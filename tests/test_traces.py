"""The trace reader: the repo's traces and hand-made files with gaps, odd steps and bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleahead_tools.traces import TRACES_DIR, load_trace


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "t.csv"
    p.write_text(text)
    return p


def test_gaps_are_filled_on_the_median_step_and_counted(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "timestamp,value\n"
        "2015-02-24 00:00:00,10\n"
        "2015-02-24T00:05:00Z,20\n"
        "2015-02-24 00:10:00,30\n"
        "2015-02-24 00:25:00,60\n",  # 00:15 and 00:20 missing
    )
    tr = load_trace(p)
    assert (tr.step, tr.filled) == (300, 2)
    assert tr.values == (10.0, 20.0, 30.0, 40.0, 50.0, 60.0)
    assert tr.start == 1424736000.0  # naive timestamps are UTC


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("time,value\n2015-02-24 00:00:00,1\n", "expected the header"),
        ("timestamp,value\n2015-02-24 00:00:00,abc\n", "is not a number"),
        ("timestamp,value\nyesterday,1\n2015-02-24 00:00:00,2\n", "unreadable timestamp"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        load_trace(write(tmp_path, text))


def test_every_trace_in_the_repo_loads() -> None:
    files = sorted(TRACES_DIR.glob("*.csv"))
    assert len(files) >= 8
    for f in files:
        tr = load_trace(f)
        assert tr.step in (60, 300, 1800) and len(tr.values) > 4000, f.name
