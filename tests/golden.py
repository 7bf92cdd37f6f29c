"""Run a golden case: `selinonc check` over a case folder, rendered as the CLI prints it."""

from __future__ import annotations

import itertools
import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selinonc.compiler import pipeline
from selinonc.compiler.cli.inputs import expand
from selinonc.compiler.diagnostics import has_errors, render, summary

CASES = Path(__file__).parent / "cases"
INPUTS = "inputs"  # the case's YAML files live in <case>/inputs/
ARGS = "args"  # optional: extra command-line options, e.g. `--compat`
EXPECTED = "expected.txt"


@contextmanager
def chdir(path: Path) -> Iterator[None]:
    """Run a block with `path` as the working directory (so paths print relative)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def case_names() -> list[str]:
    """Every case folder, sorted."""
    return sorted(p.name for p in CASES.iterdir() if (p / INPUTS).is_dir())


def case_options(name: str) -> tuple[bool, tuple[str, ...]]:
    """A case's `args` file: whether it has `--compat`, and the codes of its `--allow CODE`s."""
    path = CASES / name / ARGS
    args = shlex.split(path.read_text()) if path.exists() else []
    allow = tuple(code for option, code in itertools.pairwise(args) if option == "--allow")
    return "--compat" in args, allow


def run_case(name: str) -> tuple[str, int]:
    """The text output and exit code of `selinonc check [args] inputs` in the case folder."""
    case = CASES / name
    compat, allow = case_options(name)
    with chdir(case):
        files = expand([INPUTS])
        result = pipeline.check(files, compat=compat, allow=allow)
        blocks = [render(d, result.sources) + "\n" for d in result.diagnostics]
        closing = summary(result.diagnostics, len(files), result.allowed)
        text = "\n".join(blocks) + ("\n" if blocks else "") + closing
    return text + "\n", 1 if has_errors(result.diagnostics) else 0


def write_expected(name: str) -> None:
    """Rewrite a case's expected output (what `make golden` does)."""
    text, code = run_case(name)
    (CASES / name / EXPECTED).write_text(f"# exit {code}\n{text}")
