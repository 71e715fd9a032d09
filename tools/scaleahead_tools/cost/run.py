"""``scaleahead cost`` (and ``make bench``): what scaleahead costs to run, measured.

Each scenario replays a real trace (NASA's July 1995 requests) through the real handlers on
moto, at the stack's default settings unless told otherwise, with every AWS call counted and
every handler timed (``cost.meter``); the use is then priced by the month (``cost.model``, prices
dated in ``cost.prices``). The scenarios: one ECS target on its own driver; three tiers (ECS,
Aurora, ElastiCache) on one driver; and those three carried to 1,000 targets (333 drivers)
by what scales with what.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scaleahead_tools.cost import model, prices
from scaleahead_tools.cost.meter import emf_metrics
from scaleahead_tools.cost.model import Profile

SCENARIOS = {"lone": ("one ECS target, its own driver", 1, 1), "ahead": ("three tiers", 3, 1)}
FUNCTIONS = ("alarm", "tick", "worker")


def template_functions(**params: object) -> tuple[dict[str, int], frozenset[str]]:
    """Each function's memory and whether Lambda traces it, at the template's parameters
    (defaults unless given; its own properties over the Globals', as SAM merges them)."""
    from scaleahead_testkit import template_eval
    from scaleahead_testkit.local_aws import load_template

    t = load_template()
    values = template_eval.parameters(t, **params)
    memory: dict[str, int] = {}
    traced: set[str] = set()
    for name in FUNCTIONS:
        logical = f"{name.capitalize()}Function"
        memory[name] = int(template_eval.function_property(t, logical, "MemorySize", values, 128))
        if (
            template_eval.function_property(t, logical, "Tracing", values, "PassThrough")
            == "Active"
        ):
            traced.add(name)
    return memory, frozenset(traced)


def template_env(name: str, **params: object) -> str:
    """The worker's environment variable ``name`` as the template sets it at ``params`` (its
    defaults unless given)."""
    from scaleahead_testkit import template_eval
    from scaleahead_testkit.local_aws import load_template

    t = load_template()
    env = template_eval.function_environment(
        t, "WorkerFunction", template_eval.parameters(t, **params), placeholder=str
    )
    return str(env[name])


def measure(
    scenario: str,
    hours: float,
    tick_minutes: int = 1,
    env: dict[str, str] | None = None,
    out: Path | None = None,
    tracing: str | None = None,
) -> Profile:
    """Replay ``hours`` of the trace through the scenario's stack, metered."""
    from scaleahead_testkit.calls import counting
    from scaleahead_testkit.local_aws import local_env
    from scaleahead_tools.cost.meter import Meter
    from scaleahead_tools.demo.run import simulate

    label, targets, drivers = SCENARIOS[scenario]
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = out or Path(tmp)
        args = argparse.Namespace(
            trace="nasa_http_jul95",
            # the forecast reads 14 days; the replay starts on a weekday morning
            history_days=15.25,
            days=hours / 24,
            tick_minutes=tick_minutes,
            out=str(out_dir),
            quiet=True,
            serial=True,
        )
        level = (env or {}).get("METRICS_LEVEL")
        extra = {
            "TICK_MINUTES": str(tick_minutes),
            "POWERTOOLS_LOG_LEVEL": "INFO",  # the template's LogLevel default
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
            # Powertools' own switch as the template sets it for this MetricsLevel, whatever
            # the calling process has (the test suite turns metrics off)
            "POWERTOOLS_METRICS_DISABLED": template_env(
                "POWERTOOLS_METRICS_DISABLED", **({"MetricsLevel": level} if level else {})
            ),
            **(env or {}),
        }
        with local_env(extra) as used, counting() as calls:
            meter = Meter(calls)
            simulate(args, scenario, wrap=meter.wrap)
        log = out_dir / ("functions.log" if scenario == "ahead" else f"functions-{scenario}.log")
        text = log.read_text()
    found = emf_metrics(text.splitlines())
    per_target = sum(1 for _, _, dims in found if any(k == "Target" for k, _ in dims))
    memory, traced = template_functions(**({"Tracing": tracing} if tracing else {}))
    return Profile(
        name=label,
        targets=targets,
        drivers=drivers,
        minutes=hours * 60,
        use=meter.use,
        log_bytes=len(text.encode()),
        target_metrics=per_target,
        fleet_metrics=len(found) - per_target,
        alarms=targets,
        memory_mb=memory,
        traced=traced,
        metrics_level=used.get("METRICS_LEVEL", "default"),
        tick_minutes=tick_minutes,
    )


def rows(profiles: Sequence[Profile]) -> list[dict[str, Any]]:
    """One row per profile: the monthly total, per target, and each line."""
    out = []
    for p in profiles:
        lines = model.bill(p)
        total = model.total(lines)
        out.append(
            {
                "scenario": p.name,
                "targets": p.targets,
                "drivers": p.drivers,
                "monthly": round(total, 2),
                "per_target": round(total / p.targets, 3),
                "lines": [
                    {
                        "item": x.item,
                        "per_target": round(x.monthly / p.targets, 4),
                        "basis": x.basis,
                    }
                    for x in lines
                ],
                "calls_per_target_tick": {
                    call: round(n / p.targets / p.ticks, 3)
                    for call, n in sorted(
                        sum(
                            (u.calls for u in p.use.values()), start=type(p.use["tick"].calls)()
                        ).items()
                    )
                }
                if "tick" in p.use
                else {},
            }
        )
    return out


def print_table(profiles: Sequence[Profile]) -> None:
    data = rows(profiles)
    fixed = model.fixed(max(p.fleet_metrics for p in profiles))
    print(
        f"\nwhat scaleahead costs to run, per month (us-east-1 list prices of {prices.PRICES_DATE})"
    )
    items = [x["item"] for x in data[0]["lines"]]
    width = max(len(i) for i in items) + 2
    heads = [f"{d['scenario']}" for d in data]
    col = max(14, *(len(h) + 2 for h in heads))
    print("  per target".ljust(width + 2) + "".join(h.rjust(col) for h in heads))
    for i, item in enumerate(items):
        print(
            f"  {item}".ljust(width + 2)
            + "".join(f"${d['lines'][i]['per_target']:.4f}".rjust(col) for d in data)
        )
    print(
        "  total per target".ljust(width + 2)
        + "".join(f"${d['per_target']:.3f}".rjust(col) for d in data)
    )
    print(
        "  total, all targets".ljust(width + 2)
        + "".join(f"${d['monthly']:.2f}".rjust(col) for d in data)
    )
    print(
        f"  plus the stack itself, whatever the targets: ${model.total(fixed):.2f}/month ("
        + "; ".join(f"{x.item} ${x.monthly:.2f}" for x in fixed)
        + ")"
    )
    for p, d in zip(profiles, data, strict=True):
        calls = d["calls_per_target_tick"]
        if calls:
            print(
                f"  AWS calls per target per tick, {p.name}: "
                + ", ".join(f"{k} {v:g}" for k, v in calls.items())
            )
        basis = "; ".join(f"{x['item']}: {x['basis']}" for x in d["lines"][:1] + d["lines"][-2:])
        print(f"  basis, {p.name}: {basis}")
    print(
        "  measured: the real handlers on moto, every AWS call counted (botocore's hooks), "
        "durations = compute measured + AWS latency per call modelled; free tiers not deducted"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scaleahead cost", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hours", type=float, default=3.0, help="simulated hours per scenario (default 3)"
    )
    p.add_argument("--tick-minutes", type=int, default=1, help="TickMinutes (default 1)")
    p.add_argument(
        "--metrics-level",
        choices=["none", "fleet", "per-target"],
        help="MetricsLevel (default: the template's default)",
    )
    p.add_argument(
        "--tracing",
        choices=["none", "alarm", "all"],
        help="Tracing: the functions X-Ray traces (default: the template's default)",
    )
    p.add_argument("--targets", type=int, default=1000, help="targets to project to (default 1000)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")


def run(args: argparse.Namespace) -> int:
    env = {"METRICS_LEVEL": args.metrics_level} if args.metrics_level else {}
    lone = measure("lone", args.hours, args.tick_minutes, env, tracing=args.tracing)
    three = measure("ahead", args.hours, args.tick_minutes, env, tracing=args.tracing)
    profiles = [lone, three, model.project(three, args.targets)]
    if args.json:
        fixed = model.fixed(max(p.fleet_metrics for p in profiles))
        print(
            json.dumps(
                {
                    "prices_date": prices.PRICES_DATE,
                    "scenarios": rows(profiles),
                    "fixed": {x.item: round(x.monthly, 2) for x in fixed},
                }
            )
        )
    else:
        print_table(profiles)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``cost`` on the ``scaleahead`` subcommands."""
    text = "what scaleahead costs to run per target per month, measured on moto"
    sp = sub.add_parser("cost", help=text, description=__doc__)
    add_arguments(sp)
    sp.set_defaults(func=run)


if __name__ == "__main__":
    raise SystemExit(main())
