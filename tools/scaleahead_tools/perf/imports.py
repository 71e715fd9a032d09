"""The functions' cold import against ``import boto3`` alone (``-m scaleahead_tools.perf.imports``).

Issue 15 sets the bar for the alarm function, the latency-critical path: importing
``functions/alarm/app.py`` may take at most 1.2 times as long as importing boto3, which every
function needs anyway. Each figure is the median of N fresh interpreters (default 15), the two
commands alternated so that a noisy neighbour slows both alike; only the import is timed
(``perf_counter`` around it inside the child), not the interpreter's own start.

The children see what Lambda gives a function: the function's folder and the layer on
``sys.path`` (``/var/task``, ``/opt/python``), the variables of ``template.yaml``'s
Globals Environment (``!Ref`` resolved to the parameter's default, or a placeholder), and
``LAMBDA_TASK_ROOT`` set, so Powertools' Tracer believes it is in Lambda and is enabled.

Two bytecode regimes are measured:

- **warm .pyc** (the headline): every module already compiled, as the runtime's boto3 always is.
  This is the import work itself, the figure the issue's 2.5x was measured on.
- **layer without .pyc**: the scaleahead package copied without ``__pycache__`` and imported
  with ``PYTHONDONTWRITEBYTECODE=1``, so it is compiled on every start. That is how the layer
  ships today (``layers/scaleahead/Makefile`` deletes ``*.pyc``, and ``/opt`` is read-only, so
  Lambda cannot cache them); third-party packages keep the ``.pyc`` pip compiled for them.

Then the 10 modules with the largest cumulative import time on the alarm path, from
``python -X importtime`` (warm .pyc). Nothing here asserts: the figures are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
LAYER = ROOT / "layers" / "scaleahead"
FUNCTIONS = ROOT / "functions"
TEMPLATE = ROOT / "template.yaml"
BASELINE = "boto3"
FUNCTION_NAMES = ("alarm", "tick", "worker")
RATIO_BAR = 1.2

# What a !Ref without a parameter default (a resource) stands for in the children.
_PLACEHOLDERS = {
    "STATE_TABLE": "scaleahead-state",
    "WORK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/scaleahead-work",
}
# What Lambda itself sets (a subset; the rest changes nothing on import).
_LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
}


def template_environment(template: Path = TEMPLATE) -> dict[str, str]:
    """Globals.Function.Environment.Variables of the template, each ``!Ref`` resolved to its
    parameter's default (a resource's to a placeholder), ``!Sub`` and the like left as text."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return {f"!{suffix}": loader.construct_scalar(node)}
        return None

    _Loader.add_multi_constructor("!", _tag)
    doc = yaml.load(template.read_text(), Loader=_Loader)
    params = doc.get("Parameters", {})
    variables = doc["Globals"]["Function"]["Environment"]["Variables"]
    env = {}
    for name, value in variables.items():
        if isinstance(value, dict) and "!Ref" in value:
            ref = value["!Ref"]
            default = params.get(ref, {}).get("Default")
            value = _PLACEHOLDERS.get(name, ref) if default is None else default
        env[name] = "" if value is None else str(value)
    return env


@dataclass(frozen=True)
class Layout:
    """Where a child finds the function and the layer (a copy without .pyc, or the repo)."""

    functions: Path
    layer: Path
    no_pyc: bool


def _child_env(layout: Layout, function: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "PYTHONPYCACHE"))
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(template_environment())
    env.update(_LAMBDA_ENV)
    env["LAMBDA_TASK_ROOT"] = str(layout.functions / function)
    env["AWS_LAMBDA_FUNCTION_NAME"] = f"scaleahead-{function}"
    if layout.no_pyc:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _code(layout: Layout, function: str | None, *, timed: bool = True) -> str:
    """The child's program: the paths Lambda sets, then the timed import."""
    module = BASELINE if function is None else "app"
    paths: list[str] = []
    if function is not None:
        paths = [str(layout.functions / function), str(layout.layer)]
    head = f"import sys; sys.path[:0] = {paths!r}; "
    if not timed:
        return head + f"import {module}"
    return (
        head
        + "import time; t = time.perf_counter(); "
        + f"import {module}; "
        + "print(time.perf_counter() - t)"
    )


def _run(layout: Layout, function: str | None, *, env_function: str = "alarm") -> float:
    out = subprocess.run(
        [sys.executable, "-c", _code(layout, function)],
        capture_output=True,
        text=True,
        check=True,
        env=_child_env(layout, function or env_function),
        cwd=tempfile.gettempdir(),  # nothing of the repo's on sys.path but what _code puts
    )
    return float(out.stdout.strip().splitlines()[-1])


def medians(layout: Layout, function: str, runs: int) -> tuple[float, float]:
    """(median import boto3, median import of the function), alternated run by run."""
    base: list[float] = []
    func: list[float] = []
    for _ in range(runs):
        base.append(_run(layout, None, env_function=function))
        func.append(_run(layout, function))
    return statistics.median(base), statistics.median(func)


def importtime_top(layout: Layout, function: str = "alarm", n: int = 10) -> list[tuple[str, int]]:
    """The ``n`` modules with the largest cumulative import time (microseconds), from
    ``-X importtime``, the function's module itself left out."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _code(layout, function, timed=False)],
        capture_output=True,
        text=True,
        check=True,
        env=_child_env(layout, function),
        cwd=tempfile.gettempdir(),
    )
    rows = []
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m and m.group(4) != "app":
            rows.append((m.group(4), int(m.group(2))))
    return sorted(rows, key=lambda r: -r[1])[:n]


def _without_pyc(tmp: Path) -> Layout:
    """A copy of the functions and the layer's package with no bytecode, as the layer ships."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    shutil.copytree(FUNCTIONS, tmp / "functions", ignore=ignore)
    shutil.copytree(LAYER / "scaleahead", tmp / "layer" / "scaleahead", ignore=ignore)
    return Layout(tmp / "functions", tmp / "layer", no_pyc=True)


def measure(runs: int = 15) -> dict[str, Any]:
    """Every figure this module prints, as data (``make bench`` may keep it)."""
    warm = Layout(FUNCTIONS, LAYER, no_pyc=False)
    for function in FUNCTION_NAMES:  # compile once: the warm regime's .pyc are then in place
        subprocess.run(
            [sys.executable, "-c", _code(warm, function, timed=False)],
            check=True,
            env=_child_env(warm, function),
            cwd=tempfile.gettempdir(),
        )
    out: dict[str, Any] = {"runs": runs, "bar": RATIO_BAR, "warm_pyc": {}, "layer_no_pyc": {}}
    for function in FUNCTION_NAMES:
        b, f = medians(warm, function, runs)
        out["warm_pyc"][function] = {"boto3_s": b, "function_s": f, "ratio": f / b}
    with tempfile.TemporaryDirectory() as tmp:
        cold = _without_pyc(Path(tmp))
        b, f = medians(cold, "alarm", runs)
        out["layer_no_pyc"]["alarm"] = {"boto3_s": b, "function_s": f, "ratio": f / b}
    out["alarm_top"] = importtime_top(warm)
    return out


def render(m: dict[str, Any]) -> str:
    lines = [f"cold import, median of {m['runs']} fresh interpreters each, alternated"]
    for regime, title in (
        ("warm_pyc", "warm .pyc (headline)"),
        ("layer_no_pyc", "layer without .pyc"),
    ):
        for function, r in m[regime].items():
            verdict = ""
            if function == "alarm":
                verdict = "  ok" if r["ratio"] <= m["bar"] else f"  over the {m['bar']}x bar"
            lines.append(
                f"  {title:<22} {function:<7} import boto3 {1000 * r['boto3_s']:7.1f} ms · "
                f"functions/{function}/app.py {1000 * r['function_s']:7.1f} ms · "
                f"ratio {r['ratio']:.2f}{verdict}"
            )
    lines.append("alarm path, top 10 modules by cumulative import time (-X importtime, warm):")
    for name, us in m["alarm_top"]:
        lines.append(f"  {us / 1000:8.1f} ms  {name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="imports", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    p.add_argument("-n", "--runs", type=int, default=15, help="runs of each command (default 15)")
    args = p.parse_args(argv)
    print(render(measure(args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
