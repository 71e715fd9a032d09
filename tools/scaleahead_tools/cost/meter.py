"""What the functions use while they run, measured around each real handler call.

The demo's replay (``scaleahead_tools.demo.run.simulate``) calls the real handlers on moto; a
``Meter`` wraps each handler so that every AWS call it makes is counted (botocore's event
hooks, ``scaleahead_testkit.calls``) and its time measured. Calls the replay makes itself (the
world, publishing the load, the simulated alarms) are outside the handlers and not counted. The
time a handler spends inside moto is taken out and AWS's typical latency per call put in
(``prices.latency``): the duration Lambda would bill.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scaleahead_testkit.calls import Calls
from scaleahead_tools.cost import prices

Handler = Callable[[Any, Any], Any]


@dataclass
class FunctionUse:
    """One function's use over a run: invocations, billed seconds, calls and units."""

    invocations: int = 0
    billed_seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    metric_queries: int = 0
    read_units: float = 0.0
    write_units: float = 0.0

    def add(self, other: FunctionUse) -> None:
        self.invocations += other.invocations
        self.billed_seconds += other.billed_seconds
        self.calls.update(other.calls)
        self.metric_queries += other.metric_queries
        self.read_units += other.read_units
        self.write_units += other.write_units


@dataclass
class Meter:
    """Wraps handlers (``wrap``) and keeps each function's use while ``calls`` counts."""

    calls: Calls
    use: dict[str, FunctionUse] = field(default_factory=dict)

    def wrap(self, name: str, handler: Handler) -> Handler:
        def metered(event: Any, context: Any) -> Any:
            before = (
                Counter(self.calls.calls),
                self.calls.metric_queries,
                self.calls.seconds,
                self.calls.read_units,
                self.calls.write_units,
            )
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                wall = time.perf_counter() - started
                made = Counter(self.calls.calls)
                made.subtract(before[0])
                made = +made  # drop the zeros
                compute = max(0.0, wall - (self.calls.seconds - before[2]))
                aws = sum(prices.latency(call) * n for call, n in made.items())
                use = FunctionUse(
                    invocations=1,
                    # Lambda bills each invocation by the millisecond, rounded up
                    billed_seconds=-(-(compute + aws) * 1000 // 1) / 1000,
                    calls=made,
                    metric_queries=self.calls.metric_queries - before[1],
                    read_units=self.calls.read_units - before[3],
                    write_units=self.calls.write_units - before[4],
                )
                self.use.setdefault(name, FunctionUse()).add(use)

        return metered


def emf_metrics(lines: Iterable[str]) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """Every distinct custom metric the EMF lines publish: (namespace, name, dimensions). Each
    is billed as one metric for every month it is published in."""
    out: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
    for line in lines:
        if '"_aws"' not in line:
            continue
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            namespace = directive.get("Namespace", "")
            for dims in directive.get("Dimensions", []):
                key = tuple(sorted((d, str(blob.get(d, ""))) for d in dims))
                for m in directive.get("Metrics", []):
                    out.add((namespace, m["Name"], key))
    return out
