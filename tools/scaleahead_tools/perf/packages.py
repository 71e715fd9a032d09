"""Deployed size of every Lambda function: its own code and each layer it carries.

``python -m scaleahead_tools.perf.packages`` runs ``sam build`` into a temporary folder (or
reads an existing build with ``--build-dir``) and prints, per function, the size of its code,
of its layers and their total, unzipped and zipped. Unzipped is what Lambda's 250 MB limit
applies to (a function's code plus all its layers, extracted); zipped approximates what Lambda
stores and downloads on a cold start (each artifact deflated as ``sam package`` does). The
functions and their layers are read from the built template, Globals included, so the figures
follow the template rather than a list kept here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scaleahead_testkit.local_aws import REPO_ROOT, load_template

# Lambda's quota on a function's code and layers, extracted (250 MB, in bytes: 262,144,000).
UNZIPPED_LIMIT = 250 * 1024 * 1024


@dataclass(frozen=True)
class Size:
    """One built artifact (a function's code folder or a layer's folder)."""

    files: int
    unzipped: int  # bytes of every file, as Lambda extracts them
    zipped: int  # bytes of the deflated zip of the folder


@dataclass(frozen=True)
class FunctionSize:
    """What one function ships: its code plus every layer attached to it."""

    function: str
    code: Size
    layers: dict[str, Size]

    @property
    def unzipped(self) -> int:
        return self.code.unzipped + sum(s.unzipped for s in self.layers.values())

    @property
    def zipped(self) -> int:
        return self.code.zipped + sum(s.zipped for s in self.layers.values())


def measure(folder: Path) -> Size:
    """Sizes of ``folder`` as Lambda would get it: the files extracted, and a deflated zip of
    them (written to a temporary file, as a layer can hold far more than is worth keeping in
    memory)."""
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    unzipped = sum(p.stat().st_size for p in paths)
    with tempfile.TemporaryFile() as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for p in paths:
                z.write(p, str(p.relative_to(folder)))
        zipped = out.tell()
    return Size(files=len(paths), unzipped=unzipped, zipped=zipped)


def _refs(entries: Any) -> list[str]:
    """Logical ids of the layers a ``Layers`` list names (``!Ref Layer``); ARNs of layers
    published elsewhere are not built here and are left out."""
    return [e["Ref"] for e in entries or [] if isinstance(e, dict) and "Ref" in e]


def function_sizes(build_dir: Path) -> list[FunctionSize]:
    """Every function of the built template with its code and layers measured. A function's
    layers are the Globals' followed by its own, as SAM merges lists."""
    template = load_template(build_dir / "template.yaml")
    resources: dict[str, Any] = template["Resources"]
    global_layers = _refs(template.get("Globals", {}).get("Function", {}).get("Layers"))
    layer_sizes: dict[str, Size] = {}
    out = []
    for name, res in sorted(resources.items()):
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        layers = {}
        for layer in [*global_layers, *_refs(props.get("Layers"))]:
            if layer not in layer_sizes:
                content = resources[layer]["Properties"]["ContentUri"]
                layer_sizes[layer] = measure(build_dir / content)
            layers[layer] = layer_sizes[layer]
        out.append(FunctionSize(name, measure(build_dir / props["CodeUri"]), layers))
    return out


def sam_build(build_dir: Path) -> None:
    """``sam build`` of the repo's template into ``build_dir``, with the running interpreter's
    folder first on PATH: the layers' Makefiles run ``python3.11`` from there."""
    venv_bin = Path(sys.executable).parent
    sam = venv_bin / "sam"
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
    }
    cmd = [str(sam) if sam.exists() else "sam", "build", "--build-dir", str(build_dir)]
    # --no-cached: the figures are of what the current files build, never of a cached artifact.
    subprocess.run([*cmd, "--no-cached"], cwd=REPO_ROOT, env=env, check=True, capture_output=True)


def human(n: int) -> str:
    """Bytes in decimal units (MB = 1,000,000 bytes, as ``du --si``); KB below 0.1 MB, so that a
    function's few-hundred-byte code does not read as 0.00 MB."""
    return f"{n / 1_000_000:.2f} MB" if n >= 100_000 else f"{n / 1000:.1f} KB"


def table(sizes: list[FunctionSize]) -> str:
    """The sizes as a fixed-width table: one line per function (its code, then code and layers
    together, unzipped / zipped), then one line per layer."""
    head = ("function", "code", "layers", "total unzipped", "total zipped", "of 250 MB")
    rows = [head]
    for f in sizes:
        rows.append(
            (
                f.function,
                f"{human(f.code.unzipped)} / {human(f.code.zipped)}",
                " + ".join(f.layers) or "-",
                human(f.unzipped),
                human(f.zipped),
                f"{100 * f.unzipped / UNZIPPED_LIMIT:.1f} %",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    layer_rows: dict[str, Size] = {}
    for f in sizes:
        layer_rows.update(f.layers)
    lines.append("")
    for name, s in sorted(layer_rows.items()):
        lines.append(
            f"layer {name}: {s.files} files, {human(s.unzipped)} unzipped, {human(s.zipped)} zipped"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--build-dir", type=Path, help="measure this sam build instead of building")
    p.add_argument("--json", action="store_true", help="print the sizes as JSON")
    args = p.parse_args(argv)
    if args.build_dir is not None:
        sizes = function_sizes(args.build_dir)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="scaleahead-packages-"))
        try:
            print("sam build ...", file=sys.stderr, flush=True)
            sam_build(tmp / "build")
            sizes = function_sizes(tmp / "build")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        data = [
            {**asdict(f), "unzipped": f.unzipped, "zipped": f.zipped, "limit": UNZIPPED_LIMIT}
            for f in sizes
        ]
        print(json.dumps(data, indent=2))
    else:
        print("Lambda packages (code + layers; Lambda's limit: 250 MB unzipped)")
        print(table(sizes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
