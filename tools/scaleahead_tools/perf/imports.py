"""The functions' cold import against ``import boto3`` alone (``-m scaleahead_tools.perf.imports``).

Issue 15 sets the bar for the alarm function, the latency-critical path: importing
``functions/alarm/app.py`` may take at most 1.2 times as long as importing boto3, which every
function needs anyway. Each figure is the median of N fresh interpreters (default 15), the two
commands alternated so that a noisy neighbour slows both alike, and the ratio is the median of
the N ratios of neighbouring runs; only the import is timed (``perf_counter`` around it inside
the child), not the interpreter's own start.

The children see what Lambda gives a function: the function's folder and the layer on
``sys.path`` (``/var/task``, ``/opt/python``), the variables of ``template.yaml``'s
Globals Environment (``!Ref`` resolved to the parameter's default, or a placeholder), and
``LAMBDA_TASK_ROOT`` set, so Powertools' Tracer believes it is in Lambda and is enabled.

Three bytecode regimes are measured:

- **warm .pyc** (the headline): every module already compiled, as the runtime's boto3 always is.
  This is the import work itself, the figure the issue's 2.5x was measured on.
- **layer as shipped** (the alarm function): the scaleahead package copied and compiled as
  ``layers/scaleahead/Makefile`` compiles the layer (``compileall``, unchecked-hash ``.pyc``,
  paths recorded as ``/opt/python/...``), the copy made read-only and imported with
  ``PYTHONDONTWRITEBYTECODE=1``, as ``/opt`` is in Lambda: no ``.pyc`` is ever written, only the
  shipped ones are read. A ``python -v`` child checks first that every scaleahead module of the
  alarm path is loaded from that bytecode, never compiled.
- **layer without .pyc** (the alarm function; how the layer shipped before it carried its
  bytecode): the same copy with no ``__pycache__``, so every module of scaleahead is compiled in
  memory on every start.

In the two layer regimes third-party packages (Powertools, pydantic) keep the ``.pyc`` pip
compiled for them in the venv: loading a timestamp ``.pyc`` costs what loading the layer's
unchecked-hash one does.

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
# Each regime of the figures, and its title.
REGIMES = {
    "warm_pyc": "warm .pyc (headline)",
    "layer_as_shipped": "layer as shipped",
    "layer_no_pyc": "layer without .pyc",
}

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


def template_environment(template: Path = TEMPLATE, function: str = "alarm") -> dict[str, str]:
    """The environment the template gives ``function`` at the parameters' defaults
    (``template_eval.function_environment``); a resource's name is a placeholder."""
    from scaleahead_testkit import template_eval
    from scaleahead_testkit.local_aws import load_template

    doc = load_template(template)
    env = template_eval.function_environment(
        doc,
        f"{function.capitalize()}Function",
        template_eval.parameters(doc),
        placeholder=lambda name: _PLACEHOLDERS.get(name, name.lower()),
    )
    return {name: "" if value is None else str(value) for name, value in env.items()}


@dataclass(frozen=True)
class Layout:
    """Where a child finds the function and the layer (the repo, or a copy), and whether it may
    write bytecode (never, for a copy: Lambda's /var/task and /opt are read-only)."""

    functions: Path
    layer: Path
    read_only: bool


def _child_env(layout: Layout, function: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "PYTHONPYCACHE"))
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(template_environment(function=function))
    env.update(_LAMBDA_ENV)
    env["LAMBDA_TASK_ROOT"] = str(layout.functions / function)
    env["AWS_LAMBDA_FUNCTION_NAME"] = f"scaleahead-{function}"
    if layout.read_only:
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


def medians(layout: Layout, function: str, runs: int) -> tuple[float, float, float]:
    """(median import boto3, median import of the function, median of the runs' ratios),
    alternated run by run. The ratio is taken within each pair of neighbouring runs, so that
    the machine's speed drifting over the minute the runs take (a neighbour, the CPU's clock)
    moves both sides of a ratio alike instead of one median more than the other."""
    base: list[float] = []
    func: list[float] = []
    for _ in range(runs):
        base.append(_run(layout, None, env_function=function))
        func.append(_run(layout, function))
    ratio = statistics.median(f / b for b, f in zip(base, func, strict=True))
    return statistics.median(base), statistics.median(func), ratio


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


def _copy(tmp: Path) -> Layout:
    """A copy of the functions and the layer's package with no bytecode."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    shutil.copytree(FUNCTIONS, tmp / "functions", ignore=ignore)
    shutil.copytree(LAYER / "scaleahead", tmp / "layer" / "scaleahead", ignore=ignore)
    return Layout(tmp / "functions", tmp / "layer", read_only=True)


def compile_as_shipped(site: Path) -> None:
    """Compile ``site`` as the layer's build compiles it (layers/scaleahead/Makefile, define
    ``compile``): unchecked-hash .pyc, each code object naming its /opt/python path."""
    subprocess.run(
        [
            *(sys.executable, "-m", "compileall", "-q", "-j", "0"),
            *("--invalidation-mode", "unchecked-hash", "-s", str(site), "-p", "/opt/python"),
            str(site),
        ],
        check=True,
    )


def _set_writable(root: Path, writable: bool) -> None:
    """Add or remove every write permission under ``root`` (a read-only /opt, as far as a file
    system allows: root may still write, hence PYTHONDONTWRITEBYTECODE in the children)."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | 0o200 if writable else mode & ~0o222)


def _as_shipped(tmp: Path) -> Layout:
    """A copy with the layer's package compiled as the layer ships it, made read-only."""
    layout = _copy(tmp)
    compile_as_shipped(layout.layer)
    _set_writable(tmp, False)
    return layout


def compiled_on_import(layout: Layout, function: str = "alarm") -> list[str]:
    """Modules of the layer's package that the function's import compiles from source instead of
    loading their .pyc (``python -v`` says which file each code object comes from)."""
    out = subprocess.run(
        [sys.executable, "-v", "-c", _code(layout, function, timed=False)],
        capture_output=True,
        text=True,
        check=True,
        env=_child_env(layout, function),
        cwd=tempfile.gettempdir(),
    )
    package = str(layout.layer / "scaleahead")
    found = re.findall(r"^# code object from '?([^'\n]+?)'?$", out.stderr, flags=re.MULTILINE)
    return [f for f in found if f.startswith(package) and f.endswith(".py")]


def measure(runs: int = 15) -> dict[str, Any]:
    """Every figure this module prints, as data (``make bench`` may keep it)."""
    warm = Layout(FUNCTIONS, LAYER, read_only=False)
    for function in FUNCTION_NAMES:  # compile once: the warm regime's .pyc are then in place
        subprocess.run(
            [sys.executable, "-c", _code(warm, function, timed=False)],
            check=True,
            env=_child_env(warm, function),
            cwd=tempfile.gettempdir(),
        )
    out: dict[str, Any] = {"runs": runs, "bar": RATIO_BAR}
    out.update({regime: {} for regime in REGIMES})
    for function in FUNCTION_NAMES:
        b, f, r = medians(warm, function, runs)
        out["warm_pyc"][function] = {"boto3_s": b, "function_s": f, "ratio": r}
    with tempfile.TemporaryDirectory() as tmp:
        shipped = _as_shipped(Path(tmp) / "shipped")
        try:
            compiled = compiled_on_import(shipped)
            if compiled:
                raise RuntimeError(f"the shipped bytecode was not used for: {compiled}")
            for regime, layout in (
                ("layer_as_shipped", shipped),
                ("layer_no_pyc", _copy(Path(tmp) / "no_pyc")),
            ):
                b, f, r = medians(layout, "alarm", runs)
                out[regime]["alarm"] = {"boto3_s": b, "function_s": f, "ratio": r}
        finally:
            _set_writable(Path(tmp), True)  # so that the folder can be removed
    out["alarm_top"] = importtime_top(warm)
    return out


def render(m: dict[str, Any]) -> str:
    lines = [f"cold import, median of {m['runs']} fresh interpreters each, alternated"]
    for regime, title in REGIMES.items():
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
