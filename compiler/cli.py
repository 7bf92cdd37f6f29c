"""The `selinonc` command line: parse arguments, run the pipeline, print diagnostics."""

from __future__ import annotations

import enum
import gc
import json
import os
import sys
from typing import Annotated

import typer

from selinonc.compiler import __version__, pipeline, schema
from selinonc.compiler.diagnostics import render, render_json, summary
from selinonc.compiler.inputs import UsageError, expand

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
    try:
        files = expand(inputs)
    except UsageError as exc:
        typer.echo(f"selinonc: error: {exc}", err=True)
        raise typer.Exit(2) from None
    gc.disable()  # a short-lived process: the collector would only rescan the model (see pipeline)
    result = pipeline.check(files, compat=compat)
    if output is Format.json:
        typer.echo(render_json(result.diagnostics, len(files)))
    else:
        for diagnostic in result.diagnostics:
            typer.echo(render(diagnostic, result.sources))
            typer.echo("")
        typer.echo(summary(result.diagnostics, len(files)))
    raise typer.Exit(0 if result.ok else 1)


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
