"""`scaleahead suggest`'s last question: on this target's own load, does scaleahead pay against
the scaling AWS itself offers for the kind?

On bursty, low-count load no forecast sees the bursts coming, and a plain target tracking
policy can hold less capacity than scaleahead for the same share of short steps
(`Twitter_volume_AAPL` in ``docs/BACKTEST.md``). A tool that only ever advises its own knobs
would hide that from the team that pays for it. So ``suggest`` replays AWS's policies for the
kind with the backtest's baselines (``backtest/policies.py``, documented line by line against
AWS's documentation in ``docs/BASELINES.md``) on the same load and terms, each swept as the
bench sweeps it, and says which holds the least capacity within 1 % short.

The comparison itself (``compare``) is pure; ``replay_baselines`` runs the backtest.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scaleahead.domain.kinds import Kind
from scaleahead_tools.backtest.metrics import ONE_PERCENT, Point, point_at
from scaleahead_tools.backtest.report import run_backtest
from scaleahead_tools.traces import Trace

# What AWS offers each kind: target tracking for ECS services, Aurora replicas, ElastiCache
# replication groups' shards and Memcached self-designed clusters' nodes (Application Auto
# Scaling user guide, "services-that-can-integrate-*": ElastiCache's page names target tracking
# and scheduled scaling only) and for Auto Scaling groups; predictive scaling for ECS services
# (Application Auto Scaling's only predictive target) and Auto Scaling groups.
AWS_POLICIES: Mapping[Kind, tuple[str, ...]] = {
    Kind.ECS: ("target-tracking", "aws-predictive"),
    Kind.AURORA: ("target-tracking",),
    Kind.ELASTICACHE: ("target-tracking",),
    Kind.MEMCACHED: ("target-tracking",),
    Kind.ASG: ("target-tracking", "aws-predictive"),
}
LABELS = {
    "target-tracking": "target tracking",
    "aws-predictive": "predictive scaling with target tracking",
}
# Within this share of each other two costs are called the same: the sweep reads a cost at one
# of a handful of settings, so a smaller gap is the grid's, not the policies'.
SAME = 0.02


@dataclass(frozen=True)
class BaselineRow:
    """One AWS policy swept on the target's load: the setting read (the cheapest within 1 %
    short, else the least short), what it costs and how long it is short. ``target`` is the
    utilisation target, a share of ``capacity_per_unit``."""

    policy: str
    target: float
    cost: float  # capacity-steps over need-steps, as the quantile table's
    under_time: float
    meets_1pct: bool


@dataclass(frozen=True)
class Comparison:
    """Which AWS policy (if any) is cheapest within 1 % short, and how scaleahead's suggested
    setting compares: ``saving`` is the share of that policy's capacity scaleahead does
    without (negative: scaleahead holds more)."""

    rows: list[BaselineRow]
    best: BaselineRow | None
    saving: float | None
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [{k: _round(v) for k, v in asdict(r).items()} for r in self.rows],
            "best": None if self.best is None else self.best.policy,
            "saving": None if self.saving is None else round(self.saving, 6),
            "verdict": self.verdict,
        }


def _round(v: Any) -> Any:
    return round(v, 6) if isinstance(v, float) else v


def baseline_row(policy: str, points: Sequence[Point]) -> BaselineRow:
    """The setting ``cost_at_1pct`` reads, else the least short (cheapest among equals)."""
    at = point_at(points)
    p = at or min(points, key=lambda p: (p.under_time, p.cost))
    return BaselineRow(policy, float(p.knob or 0.0), p.cost, p.under_time, at is not None)


def compare(
    rows: Sequence[BaselineRow], sa_cost: float, sa_met: bool, per_unit: float, unit: str
) -> Comparison:
    """The verdict on scaleahead's suggested setting (``sa_cost``, within 1 % or not) against
    the cheapest AWS policy within 1 %. Only settings within 1 % are weighed against each
    other: a cheaper setting that runs short more often is not cheaper."""
    ok = [r for r in rows if r.meets_1pct]
    best = min(ok, key=lambda r: r.cost) if ok else None
    share = f"{100 * ONE_PERCENT:g} %"
    if best is None:
        if sa_met:
            text = (
                f"scaleahead is within {share} short; no setting of AWS's "
                f"{_names(rows)} replayed is"
            )
        else:
            text = f"no policy replayed is within {share} short on this load"
        return Comparison(list(rows), None, None, text)
    setting = (
        f"{LABELS[best.policy]} at a target of {best.target:g} "
        f"({_sig3(best.target * per_unit)} per {unit})"
    )
    if not sa_met:
        text = (
            f"{setting} is within {share} short at a cost of {best.cost:.3f}, and scaleahead at "
            "no quantile replayed: on this load AWS's own scaling serves this target better"
        )
        return Comparison(list(rows), best, None, text)
    saving = 1.0 - sa_cost / best.cost
    if abs(saving) < SAME:
        text = (
            f"scaleahead holds about as much capacity as {setting} for the same {share} "
            f"({sa_cost:.3f} against {best.cost:.3f})"
        )
    elif saving > 0:
        text = (
            f"scaleahead holds {100 * saving:.0f} % less capacity than the cheapest of AWS's "
            f"policies within {share} short, {setting} ({sa_cost:.3f} against {best.cost:.3f})"
        )
    else:
        text = (
            f"{setting} holds {100 * (1 - best.cost / sa_cost):.0f} % less capacity than "
            f"scaleahead within {share} short ({best.cost:.3f} against {sa_cost:.3f}): on this "
            "load the forecast does not pay (bursts no forecast sees coming, or too little "
            "daily pattern); AWS's policy may serve this target better, and scaleahead can keep "
            "watching it with mode: ForecastOnly"
        )
    return Comparison(list(rows), best, saving, text)


def _sig3(x: float) -> str:
    """Three significant figures, without an exponent: 299, 23.3, 1660."""
    return f"{float(f'{x:.3g}'):g}" if abs(x) < 1e6 else f"{x:.3g}"


def _names(rows: Sequence[BaselineRow]) -> str:
    return " or ".join(LABELS[r.policy] for r in rows)


def replay_baselines(
    trace: Trace,
    kind: Kind,
    *,
    warmup_minutes: float,
    per_unit: float,
    min_capacity: int,
) -> list[BaselineRow]:
    """AWS's policies for ``kind`` swept over the load on the target's terms, as the bench
    sweeps them (the grid, the settings beyond it while none is within 1 %, the refinement
    where it crosses 1 %). They read no forecast fit, so they cost a small share of the
    scaleahead sweep: about a second on two weeks of 5-minute load."""
    policies = list(AWS_POLICIES[kind])
    _, _, sweeps = run_backtest(
        trace,
        kind,
        policies=policies,
        warmup_minutes=warmup_minutes,
        per_unit=per_unit,
        min_capacity=min_capacity,
        do_sweep=True,
    )
    return [baseline_row(p, sweeps[p].points) for p in policies]


def print_comparison(
    c: Comparison | None, sa_quantile: float, sa_cost: float, sa_under_time: float
) -> None:
    """The comparison as ``suggest`` prints it, after the quantile table."""
    print("against AWS's own scaling for this kind, replayed on the same load and terms")
    if c is None:
        print(
            "  not compared: every quantile gave the same figures (under a day of history, or a "
            "load too even to tell them apart), so there is no forecast to weigh"
        )
        return
    print(f"  {'policy':<40}  {'setting':>8}  {'cost':>6}  {'short':>7}")
    sa = "q" + format(sa_quantile, "g")
    print(
        f"  {'scaleahead (suggested above)':<40}  {sa:>8}  {sa_cost:>6.3f}  "
        f"{100 * sa_under_time:>6.2f}%"
    )
    for r in c.rows:
        mark = " <" if r is c.best else ""
        print(
            f"  {LABELS[r.policy]:<40}  {r.target:>8g}  {r.cost:>6.3f}  "
            f"{100 * r.under_time:>6.2f}%{mark}"
        )
    print("  setting: scaleahead's forecast quantile, AWS's target utilisation of a unit; each")
    print("  read where it is cheapest within 1 % short, else where it is least short")
    print(textwrap.fill(c.verdict, width=100, initial_indent="  ", subsequent_indent="  "))
