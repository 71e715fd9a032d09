"""The Lambda packages: built from allow-lists, numpy for the worker only, one lock everywhere.

The layers (layers/scaleahead/Makefile) and the functions' code (functions/Makefile) are built
from allow-lists; these tests keep the lists in step with the package, the lock and the template,
and run both Makefiles for real, offline: the layers' pip is replaced by a stand-in that lays out
the files the development venv has for the same locked versions (empty), so the Makefile's own
filtering, copying, pruning and compiling is what is checked. The lock must pin, with hashes,
every distribution the layers install, and the development venv must run exactly those versions.
Nothing here reaches the network or runs ``sam``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import marshal
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scaleahead_testkit.local_aws import load_template
from scaleahead_tools.perf import packages

ROOT = Path(__file__).resolve().parents[1]
LAYER_DIR = ROOT / "layers" / "scaleahead"
LAYER_MAKEFILE = LAYER_DIR / "Makefile"
FUNCTIONS_MAKEFILE = ROOT / "functions" / "Makefile"
LOCK = LAYER_DIR / "requirements.lock"
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = sorted(n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function")
LAYERS = {"ScaleaheadLayer": "SCALEAHEAD", "NumpyLayer": "NUMPY"}  # layer -> Makefile prefix

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make not installed")


def make_vars(path: Path) -> dict[str, list[str]]:
    """The simple variables (``NAME := a b \\`` continued) a Makefile sets, split in words."""
    out: dict[str, list[str]] = {}
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        m = re.match(r"^([A-Z_]+)\s*[:?]?=\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).split()
    return out


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(path: Path = LOCK) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of every requirement of a ``--generate-hashes`` lock."""
    pins: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        words = line.split()
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", words[0])
        assert m, f"not pinned with ==: {line!r}"
        hashes = [w.removeprefix("--hash=") for w in words[1:] if w.startswith("--hash=")]
        assert len(hashes) == len(words) - 1, f"only hashes may follow a pin: {line!r}"
        pins[canonical(m.group(1))] = (m.group(2), hashes)
    return pins


LOCKED = parse_lock()
LAYER_VARS = make_vars(LAYER_MAKEFILE)


def layer_dists(layer: str) -> list[str]:
    return LAYER_VARS[f"{LAYERS[layer]}_DISTS"]


def layers_of(function: str) -> list[str]:
    """A function's layers as SAM merges them: the Globals' list, then the function's own."""
    own = RESOURCES[function]["Properties"].get("Layers", [])
    return [e["Ref"] for e in [*TEMPLATE["Globals"]["Function"]["Layers"], *own]]


def runtime_tops(dist: str) -> set[str]:
    """Top-level entries a distribution installs into site-packages that Python can import:
    its files in the dev venv less metadata, scripts (outside site-packages), byte code and
    type-stub packages."""
    files = importlib.metadata.distribution(dist).files or []
    tops = {f.parts[0] for f in files}
    return {
        t
        for t in tops
        if t not in ("..", "__pycache__") and not t.endswith((".dist-info", "-stubs"))
    }


# ------------------------------------------------------------------ the lock


def test_lock_pins_every_requirement_with_hashes() -> None:
    assert LOCKED
    for name, (version, hashes) in LOCKED.items():
        assert hashes, name
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), (name, version)
    wanted = {
        canonical(re.split(r"[\[<>=!~;\s]", line, maxsplit=1)[0])
        for line in (LAYER_DIR / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert wanted <= set(LOCKED)
    # What the Lambda runtime provides is never locked (nor, so, in a layer).
    runtime = make_vars(ROOT / "Makefile")["RUNTIME_PROVIDED"]
    assert "botocore" in runtime
    assert not set(map(canonical, runtime)) & set(LOCKED)


def test_layers_install_every_locked_distribution_exactly_once() -> None:
    scaleahead, numpy = map(set, (layer_dists("ScaleaheadLayer"), layer_dists("NumpyLayer")))
    assert not scaleahead & numpy
    assert scaleahead | numpy == set(LOCKED), "a distribution of the lock is in no layer"
    assert numpy == {"numpy"}
    assert "numpy" not in scaleahead


def test_dev_venv_runs_the_locked_versions() -> None:
    """``make setup`` installs the lock; a venv that drifted (an unlocked install, a lock
    changed since) would test other versions than Lambda runs."""
    for name, (version, _) in LOCKED.items():
        installed = importlib.metadata.version(name)
        assert installed == version, f"{name}: venv {installed}, lock {version}: run make setup"


# ------------------------------------------------------------------ allow-lists


def test_package_allow_list_is_the_package() -> None:
    """Every module and subpackage of scaleahead is shipped, and nothing listed is missing."""
    listed = set(LAYER_VARS["PACKAGE_FILES"])
    present = {
        p.name
        for p in (LAYER_DIR / "scaleahead").iterdir()
        if p.name != "__pycache__" and not p.name.startswith(".")
    }
    assert listed == present


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layer_imports_are_its_distributions_top_levels(layer: str) -> None:
    """The import packages a layer keeps are exactly those its distributions install."""
    prefix = LAYERS[layer]
    tops: set[str] = set()
    for dist in LAYER_VARS[f"{prefix}_DISTS"]:
        tops |= runtime_tops(dist)
    assert set(LAYER_VARS[f"{prefix}_IMPORTS"]) == tops


# ------------------------------------------------------------------ the template


def test_numpy_layer_is_attached_to_the_worker_only() -> None:
    assert layers_of("WorkerFunction") == ["ScaleaheadLayer", "NumpyLayer"]
    for fn in ("AlarmFunction", "TickFunction"):
        assert layers_of(fn) == ["ScaleaheadLayer"], fn
    assert set(FUNCTIONS) == {"AlarmFunction", "TickFunction", "WorkerFunction"}
    for name in LAYERS:
        assert RESOURCES[name]["Type"] == "AWS::Serverless::LayerVersion"
        assert RESOURCES[name]["Metadata"]["BuildMethod"] == "makefile"
    # The runtime stays one setting: no function sets its own.
    assert TEMPLATE["Globals"]["Function"]["Runtime"] == "python3.11"
    assert not any("Runtime" in RESOURCES[f]["Properties"] for f in FUNCTIONS)


def test_functions_are_built_by_the_shared_makefile() -> None:
    listed = make_vars(FUNCTIONS_MAKEFILE)
    assert sorted(listed["FUNCTIONS"]) == FUNCTIONS
    for fn in FUNCTIONS:
        res = RESOURCES[fn]
        assert res["Metadata"]["BuildMethod"] == "makefile", fn
        assert res["Metadata"]["ContextPath"] == "functions", fn
        module = res["Properties"]["Handler"].rsplit(".", 1)[0]
        assert f"{module}.py" in listed["FUNCTION_FILES"], fn


# ------------------------------------------------------------------ the Makefiles, run


@needs_make
@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_build_copies_only_its_allow_list(function: str, tmp_path: Path) -> None:
    """sam build's way: cwd a scratch copy of the CodeUri, which here also holds byte code and
    stray files that must not reach the artifact."""
    scratch = tmp_path / "scratch"
    shutil.copytree(ROOT / RESOURCES[function]["Properties"]["CodeUri"], scratch)
    (scratch / "__pycache__").mkdir(exist_ok=True)
    (scratch / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (scratch / "notes.txt").write_text("not shipped")
    out = tmp_path / "artifact"
    subprocess.run(
        ["make", "--silent", "-f", str(FUNCTIONS_MAKEFILE), f"build-{function}"],
        cwd=scratch,
        env={**os.environ, "ARTIFACTS_DIR": str(out)},
        check=True,
    )
    assert sorted(p.name for p in out.rglob("*")) == ["app.py"]


FAKE_PIP = """
import importlib.metadata, pathlib, re, sys
args = sys.argv[1:]
assert args[:1] == ["install"], args
assert "--require-hashes" in args and "--no-deps" in args, args
reqs = pathlib.Path(args[args.index("--requirement") + 1])
target = pathlib.Path(args[args.index("--target") + 1])
text = re.sub(r"\\\\\\n", " ", reqs.read_text())
pathlib.Path(sys.argv[0]).with_suffix(".got").write_text(text)
for line in text.splitlines():
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    name, version = line.split()[0].split("==")
    dist = importlib.metadata.distribution(name)
    assert dist.version == version, (name, dist.version, version)
    for f in dist.files or []:
        if f.parts[0] != "..":  # scripts land in --target/bin
            dest = target / f
        else:
            dest = target / "bin" / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.touch()
"""


def build_layer(layer: str, tmp_path: Path) -> tuple[Path, str]:
    """Run the layer's make target with pip replaced by FAKE_PIP (the layer's Python, which
    compiles the bytecode, is this one, a 3.11 like Lambda's); return the layer's python/ folder
    and the requirements pip was given."""
    fake = tmp_path / "fake_pip.py"
    fake.write_text(FAKE_PIP)
    out = tmp_path / layer
    subprocess.run(
        [
            "make",
            "--silent",
            "-f",
            str(LAYER_MAKEFILE),
            f"build-{layer}",
            f"PYTHON={sys.executable}",
            f"PIP={shlex.quote(sys.executable)} {shlex.quote(str(fake))}",
        ],
        cwd=tmp_path,
        env={**os.environ, "ARTIFACTS_DIR": str(out)},
        check=True,
    )
    assert sorted(p.name for p in out.iterdir()) == ["python"], "staging left in the artifact"
    return out / "python", fake.with_suffix(".got").read_text()


@needs_make
@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layer_build_takes_only_its_allow_list(layer: str, tmp_path: Path) -> None:
    site, given = build_layer(layer, tmp_path)
    prefix = LAYERS[layer]
    # pip was given exactly this layer's distributions, each pinned and hashed as in the lock.
    given_lock = tmp_path / "given.lock"
    given_lock.write_text(given)
    assert parse_lock(given_lock) == {d: LOCKED[d] for d in LAYER_VARS[f"{prefix}_DISTS"]}
    expected = set(LAYER_VARS[f"{prefix}_IMPORTS"])
    if layer == "ScaleaheadLayer":
        expected.add("scaleahead")
    if any(name.endswith(".py") for name in expected):  # a top-level module's bytecode
        expected.add("__pycache__")
    assert {p.name for p in site.iterdir()} == expected
    everything = list(site.rglob("*"))
    assert everything
    for p in everything:
        rel = p.relative_to(site)
        assert p.name not in ("tests", "bin"), rel
        assert not p.name.endswith((".dist-info", ".pyi", ".pyo")), rel
    assert_bytecode_ships(site)
    if layer == "NumpyLayer":
        for unused in LAYER_VARS["NUMPY_UNUSED"]:
            assert not (site / "numpy" / unused).exists(), unused
        # What the forecast runs is still there.
        for kept in ("__init__.py", "linalg", "_core", "typing", "random"):
            assert (site / "numpy" / kept).exists(), kept
    else:
        shipped = {p.name for p in (site / "scaleahead").iterdir()}
        assert shipped == {*LAYER_VARS["PACKAGE_FILES"], "__pycache__"}


def assert_bytecode_ships(site: Path) -> None:
    """Every module of the layer has the .pyc Python 3.11 would write for it on import, in
    unchecked-hash mode (/opt is read-only in Lambda: a .pyc missing there is compiled anew on
    every cold start, and a timestamp one would be checked against an mtime the zip's extraction
    does not keep), naming the path Lambda imports it from; no .pyc without its module."""
    assert sys.version_info[:2] == (3, 11), "the layers are compiled for Lambda's python3.11"
    sources = sorted(site.rglob("*.py"))
    assert sources
    expected = {Path(importlib.util.cache_from_source(str(src))) for src in sources}
    assert {p for p in site.rglob("*") if p.suffix == ".pyc"} == expected
    assert all(p.parent.name == "__pycache__" for p in site.rglob("*.pyc"))
    for src in sources:
        pyc = Path(importlib.util.cache_from_source(str(src)))
        assert pyc.name == f"{src.stem}.cpython-311.pyc", pyc
        data = pyc.read_bytes()
        rel = src.relative_to(site)
        assert data[:4] == importlib.util.MAGIC_NUMBER, rel
        # PEP 552: flags 0b01, hash-based and not checked against the source.
        assert int.from_bytes(data[4:8], "little") == 0b01, rel
        assert data[8:16] == importlib.util.source_hash(src.read_bytes()), rel
        code = marshal.loads(data[16:])
        assert code.co_filename == f"/opt/python/{rel.as_posix()}", (rel, code.co_filename)


# ------------------------------------------------------------------ the size report


def test_size_report_adds_the_globals_and_own_layers(tmp_path: Path) -> None:
    (tmp_path / "Fn").mkdir()
    (tmp_path / "Fn" / "app.py").write_text("x" * 1000)
    (tmp_path / "Other").mkdir()
    (tmp_path / "Other" / "app.py").write_text("y" * 10)
    for layer, size in (("Shared", 5000), ("Big", 70000)):
        (tmp_path / layer / "python").mkdir(parents=True)
        (tmp_path / layer / "python" / "m.py").write_bytes(os.urandom(size))
    (tmp_path / "template.yaml").write_text(
        "Globals:\n  Function:\n    Layers: [!Ref Shared]\n"
        "Resources:\n"
        "  Shared: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: Shared}}\n"
        "  Big: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: Big}}\n"
        "  Fn: {Type: AWS::Serverless::Function,"
        " Properties: {CodeUri: Fn, Layers: [!Ref Big, arn:aws:lambda:x]}}\n"
        "  Other: {Type: AWS::Serverless::Function, Properties: {CodeUri: Other}}\n"
    )
    sizes = {f.function: f for f in packages.function_sizes(tmp_path)}
    assert list(sizes["Fn"].layers) == ["Shared", "Big"]
    assert list(sizes["Other"].layers) == ["Shared"]
    assert sizes["Fn"].unzipped == 1000 + 5000 + 70000
    assert sizes["Other"].unzipped == 10 + 5000
    # Repeated bytes deflate, random ones do not: the zipped figure is a real zip's size.
    assert sizes["Fn"].code.zipped < 500
    assert sizes["Fn"].layers["Big"].zipped > 70000
    lines = packages.table(list(sizes.values())).splitlines()
    fn_line = next(line for line in lines if line.startswith("Fn "))
    assert "Shared + Big" in fn_line and "76.0 KB" in fn_line
