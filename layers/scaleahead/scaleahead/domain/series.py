"""The forecast as the planner, the store and the CLI see it: plain Python, no numpy.

The fit (``domain.forecast``) needs numpy; reading a stored forecast must not, so that the
alarm path and the decision code stay light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class InsufficientHistory(Exception):
    """Too little history to fit a seasonal model; the target runs reactive-only."""

    def __init__(self, covered_seconds: float, needed_seconds: float) -> None:
        self.covered_seconds = covered_seconds
        self.needed_seconds = needed_seconds
        super().__init__(
            f"only {covered_seconds / 3600:.1f} h of load history; the forecast needs "
            f"{needed_seconds / 3600:.0f} h, so the target runs reactive-only until then"
        )

    def __reduce__(self) -> tuple[type[InsufficientHistory], tuple[float, float]]:
        # Picklable, so that fits made in a worker process can report it.
        return (InsufficientHistory, (self.covered_seconds, self.needed_seconds))


@dataclass(frozen=True)
class Forecast:
    """Load expected on a regular grid: ``mean`` and ``upper`` (the ``quantile`` headroom)."""

    start: float
    step: int
    mean: tuple[float, ...]
    upper: tuple[float, ...]
    quantile: float
    generated_at: float
    history_seconds: float
    model: str
    # The fitted model's form (weekly weight, strength, level window s, additive, fade s), and
    # when it was chosen, for the next refits to keep it.
    choice: tuple[float, ...] | None = None
    chosen_at: float | None = None
    # The automatic fallback (``domain.forecast``), when the fit raised the band because it had
    # lately missed the load: the headroom (a share of the forecast) it raised it to, and the
    # worst mean excess over the band in the earlier record, which later fits judge recovery by.
    fallback: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.step <= 0:
            raise ValueError("step must be positive")
        if len(self.mean) != len(self.upper):
            raise ValueError("mean and upper must have the same length")
        if not all(math.isfinite(v) for v in self.mean + self.upper):
            raise ValueError("forecast values must be finite")

    @property
    def widened(self) -> float:
        """The headroom the fallback raised the band to; 0 when it did not."""
        return self.fallback[0] if self.fallback is not None else 0.0

    @property
    def end(self) -> float:
        """Time just after the last value's slot."""
        return self.start + self.step * len(self.mean)

    def _index(self, t: float) -> int:
        return math.floor((t - self.start) / self.step)

    def at(self, t: float, *, upper: bool = False) -> float | None:
        """The value for the slot holding ``t``, or None outside the forecast."""
        i = self._index(t)
        if i < 0 or i >= len(self.mean):
            return None
        return (self.upper if upper else self.mean)[i]

    def window(self, t0: float, t1: float, *, upper: bool = True) -> list[float]:
        """Every slot value that overlaps ``[t0, t1]``; empty when the window lies outside."""
        i0 = max(self._index(t0), 0)
        i1 = min(self._index(t1), len(self.mean) - 1)
        if i1 < i0:
            return []
        src = self.upper if upper else self.mean
        return list(src[i0 : i1 + 1])

    @property
    def level_window_seconds(self) -> float:
        """The window over which the fit measured the load's level (see ``domain.level``);
        half an hour for a forecast stored without its model choice."""
        return self.choice[2] if self.choice is not None else 1800.0

    def covers(self, t0: float, t1: float) -> bool:
        return self.start <= t0 and t1 < self.end

    def to_item(self) -> dict[str, Any]:
        """A JSON-safe dict (floats rounded) for the state table; ``fallback`` only when set,
        as it is on few fits."""
        item: dict[str, Any] = {
            "start": self.start,
            "step": self.step,
            "mean": [round(v, 4) for v in self.mean],
            "upper": [round(v, 4) for v in self.upper],
            "quantile": self.quantile,
            "generated_at": self.generated_at,
            "history_seconds": self.history_seconds,
            "model": self.model,
            "choice": list(self.choice) if self.choice is not None else None,
            "chosen_at": self.chosen_at,
        }
        if self.fallback is not None:
            item["fallback"] = [round(x, 6) for x in self.fallback]
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Forecast:
        return cls(
            start=float(item["start"]),
            step=int(item["step"]),
            mean=tuple(float(v) for v in item["mean"]),
            upper=tuple(float(v) for v in item["upper"]),
            quantile=float(item["quantile"]),
            generated_at=float(item["generated_at"]),
            history_seconds=float(item["history_seconds"]),
            model=str(item["model"]),
            choice=_choice(item.get("choice")),
            chosen_at=float(item["chosen_at"]) if item.get("chosen_at") is not None else None,
            fallback=_fallback(item.get("fallback")),
        )


def _fallback(raw: Any) -> tuple[float, float] | None:
    """A stored fallback, or None when absent or not two finite non-negative numbers (the next
    refit then judges the band afresh)."""
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return None
    try:
        headroom, usual = (float(x) for x in raw)
    except (TypeError, ValueError):
        return None
    ok = all(math.isfinite(x) and x >= 0.0 for x in (headroom, usual))
    return (headroom, usual) if ok else None


def _choice(raw: Any) -> tuple[float, ...] | None:
    """A stored model choice, or None when absent or not five finite numbers (a later refit
    then simply chooses again)."""
    if not isinstance(raw, list | tuple) or len(raw) != 5:
        return None
    try:
        out = tuple(float(x) for x in raw)
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(x) for x in out) else None


def forecast_error(forecast: Forecast, points: list[tuple[float, float]]) -> float | None:
    """Mean absolute error of the forecast mean over the observed points it covers, relative to
    the observed load (a weighted MAPE: robust to idle minutes near zero); None if none."""
    pairs = [(v, forecast.at(t)) for t, v in points]
    pairs_ok = [(v, f) for v, f in pairs if f is not None and math.isfinite(v)]
    total = sum(abs(v) for v, _ in pairs_ok)
    if not pairs_ok or total <= 0:
        return None
    return sum(abs(v - f) for v, f in pairs_ok) / total
