"""Load traces from CSV (``timestamp,value``), as the demo, the backtest and the tests read them.

Real traces have gaps and irregular steps; they are put on a regular grid at the median step
and the number of filled points is reported, never hidden.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# The repo's own copy of the traces, so a fresh clone works without ../shared.
TRACES_DIR = Path(__file__).resolve().parents[2] / "traces"


@dataclass(frozen=True)
class Trace:
    name: str
    start: float
    step: int
    values: tuple[float, ...]
    filled: int

    @property
    def timestamps(self) -> list[float]:
        return [self.start + i * self.step for i in range(len(self.values))]


def _parse_ts(s: str) -> float:
    """ISO 8601 (``2015-02-24 00:00:00``, ``...T...``, ``...Z``); naive times are UTC."""
    try:
        dt = datetime.fromisoformat(s.strip())
    except ValueError:
        raise ValueError(f"unreadable timestamp {s!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def load_trace(path: str | Path) -> Trace:
    """Read a trace and regularise it to its median step (gaps filled linearly, counted)."""
    p = Path(path)
    if not p.exists() and not p.is_absolute():
        p = TRACES_DIR / p
    rows: list[tuple[float, float]] = []
    with p.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != [
            "timestamp",
            "value",
        ]:
            raise ValueError(f"{p}: expected the header 'timestamp,value'")
        for n, row in enumerate(reader, start=2):
            try:
                v = float(row["value"])
            except (TypeError, ValueError):
                raise ValueError(f"{p}:{n}: value {row['value']!r} is not a number") from None
            if not math.isfinite(v):
                continue
            rows.append((_parse_ts(row["timestamp"]), v))
    return regularise(p.stem, rows, where=str(p))


def regularise(name: str, rows: list[tuple[float, float]], *, where: str = "") -> Trace:
    """(timestamp, value) rows put on their median step, gaps filled linearly and counted: the
    same for a CSV file and for a target's own CloudWatch history."""
    if len(rows) < 2:
        raise ValueError(f"{where or name}: needs at least two datapoints")
    rows = sorted(rows)
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(rows) if b[0] > a[0])
    step = round(steps[len(steps) // 2])
    start = rows[0][0]
    n = round((rows[-1][0] - start) / step) + 1
    grid: list[float | None] = [None] * n
    for t, v in rows:
        i = round((t - start) / step)
        if 0 <= i < n and grid[i] is None:
            grid[i] = v
    filled = sum(1 for g in grid if g is None)
    values = _interpolate(grid)
    return Trace(name=name, start=start, step=step, values=tuple(values), filled=filled)


def _interpolate(grid: list[float | None]) -> list[float]:
    known = [i for i, g in enumerate(grid) if g is not None]
    out = [0.0] * len(grid)
    for i in known:
        out[i] = float(grid[i])  # type: ignore[arg-type]
    for a, b in itertools.pairwise(known):
        va, vb = out[a], out[b]
        for i in range(a + 1, b):
            out[i] = va + (vb - va) * (i - a) / (b - a)
    return out
