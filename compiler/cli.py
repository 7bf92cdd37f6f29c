"""The `selinonc` command line: parse arguments, run the pipeline, print diagnostics."""

from __future__ import annotations

import enum
import gc
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Annotated

import typer

from selinonc.compiler import __version__, emit, pipeline, schema
from selinonc.compiler.diagnostics import Diagnostic, render, render_json, summary
from selinonc.compiler.emit import EmitError
from selinonc.compiler.inputs import UsageError, expand
from selinonc.compiler.source import SourceFile

app = typer.Typer(
    name="selinonc",
    help="Check Selinon task flows (YAML) and, as the project grows, compile them into Python "
    "packages that Celery workers import.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Inputs = Annotated[
    list[str],
    typer.Argument(
        help="The nodes file and flow files, or directories searched recursively for "
        "*.yaml/*.yml (dot-files skipped), in any order. One file may hold everything.",
        show_default=False,
    ),
]


class Format(str, enum.Enum):
    """How diagnostics are printed."""

    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"selinonc {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Check Selinon task flows (YAML); later, compile them into packages workers import."""


@app.command()
def check(
    inputs: Inputs,
    compat: Annotated[
        bool,
        typer.Option(
            "--compat",
            help="Accept what Selinon 1.4.0 accepts: unknown, duplicate and non-string keys, and "
            "the findings of checks Selinon lacks, become warnings.",
        ),
    ] = False,
    output: Annotated[
        Format, typer.Option("--format", help="Print diagnostics as text or as JSON.")
    ] = Format.text,
) -> None:
    """Validate a flow configuration and report every problem with its file, line and column.

    Exit code 0 when there are no errors (warnings allowed), 1 on errors, 2 on usage errors.
    """
    files = _expand(inputs)
    gc.disable()  # a short-lived process: the collector would only rescan the model (see pipeline)
    result = pipeline.check(files, compat=compat)
    _report(result.diagnostics, result.sources, len(files), output)
    raise typer.Exit(0 if result.ok else 1)


def _expand(inputs: list[str]) -> list[str]:
    try:
        return expand(inputs)
    except UsageError as exc:
        typer.echo(f"selinonc: error: {exc}", err=True)
        raise typer.Exit(2) from None


def _report(
    diagnostics: Sequence[Diagnostic],
    sources: Mapping[str, SourceFile],
    n_files: int,
    output: Format,
) -> None:
    if output is Format.json:
        typer.echo(render_json(diagnostics, n_files))
        return
    for diagnostic in diagnostics:
        typer.echo(render(diagnostic, sources))
        typer.echo("")
    typer.echo(summary(diagnostics, n_files))


@app.command()
def build(
    inputs: Inputs,
    out: Annotated[
        str,
        typer.Option(
            "-o",
            "--output",
            help="The package directory to write, e.g. myapp/flowpkg. It must be new, empty or "
            "a package selinonc generated before.",
            show_default=False,
        ),
    ],
    check_only: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing; exit 1 and print a unified diff when the package in the output "
            "directory differs from what the inputs give (for CI), 0 when it is current.",
        ),
    ] = False,
    compat: Annotated[
        bool, typer.Option("--compat", help="Accept what Selinon 1.4.0 accepts (see `check`).")
    ] = False,
    output: Annotated[
        Format, typer.Option("--format", help="Print diagnostics as text or as JSON.")
    ] = Format.text,
) -> None:
    """Check the configuration and generate the Python package that workers import.

    The output is deterministic: the same inputs give the same bytes on every machine and run.
    Exit code 0 on success (or a current package with --check), 1 on errors or a stale package,
    2 on usage errors.
    """
    files = _expand(inputs)
    gc.disable()
    try:
        result = pipeline.build_package(files, compat=compat, out_dir=out)
    except EmitError as exc:
        typer.echo(f"selinonc: error: {exc}", err=True)
        raise typer.Exit(1) from None
    if result.files is None or result.diagnostics:
        _report(result.diagnostics, result.sources, len(files), output)
    if result.files is None:
        raise typer.Exit(1)
    if check_only:
        _check_package(result.files, out)
    try:
        written = emit.write(result.files, out)
    except EmitError as exc:
        typer.echo(f"selinonc: error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"wrote {out}: {len(result.files)} files, {len(written.changed)} changed, "
        f"{len(written.removed)} removed"
    )
    if written.kept:
        typer.echo(
            f"note: left {len(written.kept)} file(s) selinonc did not generate: "
            + ", ".join(written.kept)
        )
    raise typer.Exit(0)


def _check_package(files: Mapping[str, str], out: str) -> None:
    difference = emit.compare(files, out)
    if difference.current:
        typer.echo(f"{out} is current ({len(files)} files)")
        raise typer.Exit(0)
    typer.echo(difference.diff, nl=False)
    parts = [
        f"{len(paths)} {what}"
        for paths, what in (
            (difference.stale, "differ"),
            (difference.missing, "missing"),
            (difference.extra, "extra"),
        )
        if paths
    ]
    typer.echo(f"{out} is not what the inputs give: {', '.join(parts)}; run `selinonc build` again")
    raise typer.Exit(1)


@app.command("schema")
def print_schema() -> None:
    """Print the JSON Schema (draft 2020-12) of the YAML language, for editors."""
    typer.echo(json.dumps(schema.load_schema(), indent=2))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        code: int | str | None = 130
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    # Like mypy, skip the interpreter's teardown: freeing a 10,000-task model object by object
    # takes longer than the rest of a check. Nothing is left to clean up; output is flushed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)
