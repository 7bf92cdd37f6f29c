"""Helpers for tests of `selinonc build`: build in memory, import a package, run the CLI."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from selinonc.compiler import emit, pipeline
from selinonc.compiler.cli.inputs import expand
from selinonc.compiler.diagnostics import Diagnostic

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
# example folder -> (the folder put on sys.path, the checked-in package's dotted name)
EXAMPLE_PACKAGES = {
    "image-pipeline": "imagepipe.flowpkg",
    "order-fulfilment": "fulfilment.flowpkg",
    "package-analysis": "pkganalysis.flowpkg",
}
EXAMPLE_ENV = {"DEPLOYMENT_PREFIX": "test"}


def build_files(
    *inputs: str | Path, cwd: Path | None = None, out_dir: Path | None = None
) -> dict[str, str]:
    """The generated files of a configuration that must build cleanly."""
    result = build(*inputs, cwd=cwd, out_dir=out_dir)
    errors = [d for d in result.diagnostics if d.severity.value == "error"]
    assert result.files is not None, errors
    return result.files


def build(
    *inputs: str | Path, cwd: Path | None = None, out_dir: Path | None = None
) -> pipeline.BuildResult:
    """Run the build stage in this process (from `cwd`, so paths resolve as the CLI's would)."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        out = str(out_dir) if out_dir is not None else None
        return pipeline.build_package(expand([str(p) for p in inputs]), out_dir=out)
    finally:
        os.chdir(old)


def errors(result: pipeline.BuildResult) -> list[Diagnostic]:
    """The error diagnostics of a build."""
    return [d for d in result.diagnostics if d.severity.value == "error"]


def write_package(files: Mapping[str, str], root: Path, name: str) -> Path:
    """Write generated files as package `name` under `root`."""
    out = root / name
    emit.write(files, str(out))
    return out


@contextmanager
def imported(root: Path, name: str, *extra_paths: Path) -> Iterator[ModuleType]:
    """Import package `name` from `root` (and its task code from `extra_paths`), then forget it."""
    before = set(sys.modules)
    sys.path[:0] = [str(root), *map(str, extra_paths)]
    try:
        yield importlib.import_module(name)
    finally:
        del sys.path[: 1 + len(extra_paths)]
        for module in set(sys.modules) - before:
            del sys.modules[module]


def selinonc(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a fresh interpreter."""
    code = "from selinonc.compiler.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env={**os.environ, **(env or {})},
    )
