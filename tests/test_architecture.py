"""The layout is the architecture: these rules keep it so, read from the sources' imports.

- ``scaleahead`` (the Lambda package) never imports the tools, the test kit or their
  dependencies; the layer ships exactly the modules listed in its Makefile's allow-list.
- ``domain`` is pure: no AWS SDK. ``service`` talks to AWS only through its ports: no
  botocore, no boto3, no adapter module.
- No module imports itself back through others (no import cycles), in any of the packages.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = {
    "scaleahead": ROOT / "layers" / "scaleahead" / "scaleahead",
    "scaleahead_tools": ROOT / "tools" / "scaleahead_tools",
    "scaleahead_testkit": ROOT / "tools" / "scaleahead_testkit",
}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package, folder in TREES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join((package, *parts))] = path
    return out


MODULES = _modules()


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every module ``module`` imports, at any depth of its code (lazy imports included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    yield f"{base}.{alias.name}"


def _internal(name: str) -> str | None:
    """The module of ours that ``name`` denotes (a module, or the package holding a name)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


GRAPH: dict[str, set[str]] = {
    m: {dep for name in _imports(m, p) if (dep := _internal(name)) and dep != m}
    for m, p in MODULES.items()
}
EXTERNAL: dict[str, set[str]] = {
    m: {name.split(".")[0] for name in _imports(m, p) if _internal(name) is None}
    for m, p in MODULES.items()
}


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_lambda_package_imports_no_tool_and_no_tool_dependency() -> None:
    for module, deps in GRAPH.items():
        if _in(module, "scaleahead"):
            bad = {d for d in deps if not _in(d, "scaleahead")}
            assert not bad, (module, bad)
            tools = EXTERNAL[module] & {"yaml", "rich", "matplotlib", "moto", "pytest"}
            assert not tools, (module, tools)


def test_the_domain_is_pure_and_the_service_reaches_aws_only_through_ports() -> None:
    for module in GRAPH:
        if _in(module, "scaleahead.domain"):
            assert not EXTERNAL[module] & {"boto3", "botocore"}, module
            assert all(_in(d, "scaleahead.domain") for d in GRAPH[module]), module
        if _in(module, "scaleahead.service"):
            assert not EXTERNAL[module] & {"boto3", "botocore", "mypy_boto3"}, module
            assert not {
                d for d in GRAPH[module] if _in(d, "scaleahead.aws", "scaleahead.handlers")
            }, module


def _cycle(imports: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among our modules (package ``__init__`` edges excluded), or None."""
    graph = {
        m: {d for d in deps if MODULES[d].name != "__init__.py"} for m, deps in imports.items()
    }
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(m: str) -> list[str] | None:
        path.append(m)
        on_path.add(m)
        for d in sorted(graph[m]):
            if d in on_path:
                return [*path[path.index(d) :], d]
            if d not in done and (found := visit(d)):
                return found
        path.pop()
        on_path.discard(m)
        done.add(m)
        return None

    for m in sorted(graph):
        if m not in done and (found := visit(m)):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = _cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    a, b = "scaleahead.domain.plan", "scaleahead.domain.target"
    assert _cycle({a: {b}, b: {a}}) == [a, b, a]
    assert _cycle({a: {b}, b: set()}) is None


def test_the_layer_ships_exactly_its_allow_list() -> None:
    makefile = (ROOT / "layers" / "scaleahead" / "Makefile").read_text()
    match = re.search(r"^PACKAGE_FILES := (.+)$", makefile, re.M)
    assert match
    listed = set(match.group(1).split())
    present = {
        p.name
        for p in TREES["scaleahead"].iterdir()
        if p.name != "__pycache__" and not p.name.endswith(".egg-info")
    }
    assert listed == present
    assert 'cp -R $(PACKAGE_FILES) "$(SITE)/scaleahead/"' in makefile
