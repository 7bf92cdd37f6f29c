"""The `selinonc` command line: parse arguments, run the pipeline, print diagnostics."""

from __future__ import annotations

import contextlib
import enum
import gc
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

# Only what `check` needs is imported up front (start-up counts on 10,000 tasks); emitting,
# describing, plotting and running import their modules when they run.
from selinonc.compiler import __version__, pipeline, schema
from selinonc.compiler.cli.inputs import UsageError, expand
from selinonc.compiler.diagnostics import Diagnostic, render, render_json, summary
from selinonc.compiler.model import Project
from selinonc.compiler.source import SourceFile

if TYPE_CHECKING:
    from selinonc.runtime.tables import System

app = typer.Typer(
    name="selinonc",
    help="Check Selinon task flows (YAML) and compile them into Python packages that Celery "
    "workers import.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # paragraphs of docstrings flow as one text
)

Inputs = Annotated[
    list[str],
    typer.Argument(
        help="The nodes file and flow files, or directories searched recursively for "
        "`*.yaml`/`*.yml` files (dot-files skipped), in any order. One file may hold everything.",
        show_default=False,
    ),
]


class Format(str, enum.Enum):
    """How diagnostics are printed."""

    text = "text"
    json = "json"


# Options several commands share.
Compat = Annotated[
    bool, typer.Option("--compat", help="Accept what Selinon 1.4.0 accepts (see `check`).")
]
OutputFormat = Annotated[
    Format, typer.Option("--format", help="Print diagnostics as text or as JSON.")
]
Allow = Annotated[
    list[str] | None,
    typer.Option(
        "--allow",
        metavar="CODE",
        help="Do not report warnings with this code, e.g. SC502 (repeat for several codes); the "
        "summary counts them. Only warnings can be allowed. `allow: [SC502]` in the `global` "
        "section does the same for a project.",
        show_default=False,
    ),
]


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
    """Check Selinon task flows (YAML) and compile them into packages workers import."""


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
    output: OutputFormat = Format.text,
    allow: Allow = None,
) -> None:
    """Validate a flow configuration and report every problem with its file, line and column.

    Exit code 0 when there are no errors (warnings allowed), 1 on errors, 2 on usage errors.
    """
    codes = _allowed(allow, compat)
    files = _expand(inputs)
    gc.disable()  # a short-lived process: the collector would only rescan the model (see pipeline)
    result = pipeline.check(files, compat=compat, allow=codes)
    _report(result.diagnostics, result.sources, len(files), output, result.allowed)
    raise typer.Exit(0 if result.ok else 1)


def _allowed(codes: list[str] | None, compat: bool) -> frozenset[str]:
    """The codes of --allow; a usage error (exit 2) for one that is not a warning."""
    chosen = frozenset(code.upper() for code in codes or ())
    for code in sorted(chosen):
        problem = pipeline.allow_problem(code, compat)
        if problem is not None:
            _usage(f"--allow {code}: {code} {problem}")
    return chosen


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
    allowed: int = 0,
) -> None:
    if output is Format.json:
        typer.echo(render_json(diagnostics, n_files, allowed))
        return
    for diagnostic in diagnostics:
        typer.echo(render(diagnostic, sources))
        typer.echo("")
    typer.echo(summary(diagnostics, n_files, allowed))


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
    compat: Compat = False,
    output: OutputFormat = Format.text,
    allow: Allow = None,
) -> None:
    """Check the configuration and generate the Python package that workers import.

    The output is deterministic: the same inputs give the same bytes on every machine and run.
    Exit code 0 on success (or a current package with --check), 1 on errors or a stale package,
    2 on usage errors.
    """
    from selinonc.compiler import emit
    from selinonc.compiler.emit import EmitError

    codes = _allowed(allow, compat)
    files = _expand(inputs)
    gc.disable()
    try:
        result = pipeline.build_package(files, compat=compat, out_dir=out, allow=codes)
    except EmitError as exc:
        typer.echo(f"selinonc: error: {exc}", err=True)
        raise typer.Exit(1) from None
    as_json = output is Format.json  # then stdout holds only the JSON document
    if result.files is None or result.diagnostics or result.allowed or as_json:
        _report(result.diagnostics, result.sources, len(files), output, result.allowed)
    if result.files is None:
        raise typer.Exit(1)
    if check_only:
        _check_package(result.files, out, quiet=as_json)
    try:
        written = emit.write(result.files, out)
    except EmitError as exc:
        typer.echo(f"selinonc: error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"wrote {out}: {len(result.files)} files, {len(written.changed)} changed, "
        f"{len(written.removed)} removed",
        err=as_json,
    )
    if written.kept:
        typer.echo(
            f"note: left {len(written.kept)} file(s) selinonc did not generate: "
            + ", ".join(written.kept),
            err=as_json,
        )
    raise typer.Exit(0)


def _check_package(files: Mapping[str, str], out: str, *, quiet: bool) -> None:
    """Compare the package on disk; with `quiet` (JSON output), the verdict goes to stderr."""
    from selinonc.compiler import emit

    difference = emit.compare(files, out)
    if difference.foreign:
        typer.echo(
            f"note: {len(difference.foreign)} file(s) selinonc did not generate are not "
            f"compared: {', '.join(difference.foreign)}",
            err=True,
        )
    if difference.current:
        typer.echo(f"{out} is current ({len(files)} files)", err=quiet)
        raise typer.Exit(0)
    typer.echo(difference.diff, nl=False, err=quiet)
    parts = [
        f"{len(paths)} {what}"
        for paths, what in (
            (difference.stale, "differ"),
            (difference.missing, "missing"),
            (difference.extra, "extra"),
        )
        if paths
    ]
    typer.echo(
        f"{out} is not what the inputs give: {', '.join(parts)}; run `selinonc build` again",
        err=quiet,
    )
    raise typer.Exit(1)


def _checked_project(inputs: list[str], compat: bool) -> Project:
    """The model of inputs that check cleanly; print the diagnostics and exit 1 otherwise."""
    files = _expand(inputs)
    gc.disable()
    result = pipeline.check(files, compat=compat)
    if not result.ok or result.project is None:
        _report(result.diagnostics, result.sources, len(files), Format.text)
        raise typer.Exit(1)
    for diagnostic in result.diagnostics:  # warnings
        typer.echo(render(diagnostic, result.sources), err=True)
    return result.project


@app.command()
def inspect(
    inputs: Inputs,
    task_queues: Annotated[
        bool, typer.Option("--task-queues", help="List `task:queue` for every task.")
    ] = False,
    dispatcher_queues: Annotated[
        bool, typer.Option("--dispatcher-queues", help="List `flow:queue` for every flow.")
    ] = False,
    tasks: Annotated[bool, typer.Option("--tasks", help="List the tasks.")] = False,
    flows: Annotated[bool, typer.Option("--flows", help="List the flows.")] = False,
    storages: Annotated[bool, typer.Option("--storages", help="List the storages.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sections as JSON.")] = False,
    compat: Compat = False,
) -> None:
    """List task queues, dispatcher queues, tasks, flows and storages (all when none is chosen).

    Queues are shown as written: `{VAR}` placeholders are resolved only where the package is
    imported.
    """
    project = _checked_project(inputs, compat)
    chosen = (task_queues, dispatcher_queues, tasks, flows, storages)
    from selinonc.compiler.cli import describe

    sections = tuple(s for s, on in zip(describe.SECTIONS, chosen, strict=True) if on)
    sections = sections or describe.SECTIONS
    description = describe.describe(project)
    if as_json:
        typer.echo(json.dumps({s: description[s] for s in sections}, indent=2))
    else:
        typer.echo(describe.text(description, sections))


class PlotFormat(str, enum.Enum):
    """What `plot` writes."""

    svg = "svg"
    png = "png"
    dot = "dot"


@app.command()
def plot(
    inputs: Inputs,
    out: Annotated[
        str, typer.Option("-o", "--output-dir", help="The directory to write one file per flow to.")
    ] = ".",
    fmt: Annotated[PlotFormat, typer.Option("--format", help="The file format.")] = PlotFormat.svg,
    style: Annotated[
        str | None,
        typer.Option(
            "--style",
            help="A YAML file of graphviz attributes by element (graph, task, flow, nowait, "
            "condition, condition_foreach, storage, edge, store_edge, fallback_edge, "
            "fallback_true).",
        ),
    ] = None,
    compat: Compat = False,
) -> None:
    """Draw each flow with graphviz: SVG or PNG when `dot` is installed, else DOT text."""
    from selinonc.compiler.cli import plot as plotting

    project = _checked_project(inputs, compat)
    try:
        merged = plotting.merge_style(_read_style(style) if style else None)
    except plotting.StyleError as exc:
        typer.echo(f"selinonc: error: {style}: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        written, rendered = plotting.plot(project, out, fmt.value, merged)
    except plotting.PlotError as exc:
        typer.echo(f"selinonc: error: {exc}", err=True)
        raise typer.Exit(1) from None
    for path in written:
        typer.echo(f"wrote {path}")
    if not rendered:
        typer.echo(
            f"note: graphviz's `dot` program is not installed, so DOT text was written instead of "
            f"{fmt.value.upper()}; install graphviz (e.g. `apt-get install graphviz`) to render",
            err=True,
        )


def _read_style(path: str) -> object:
    from selinonc.compiler.load import load_file

    source, doc, problems = load_file(path)
    if doc is None:
        for diagnostic in problems:
            typer.echo(render(diagnostic, {path: source}), err=True)
        raise typer.Exit(2)
    return doc.data


@app.command()
def run(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            help="The configuration (files or directories, as for `check`); or give --package.",
            show_default=False,
        ),
    ] = None,
    flow: Annotated[str, typer.Option("--flow", help="The flow to run.", show_default=False)] = "",
    package: Annotated[
        str | None,
        typer.Option("--package", help="Run a built package (a dotted module name) instead."),
    ] = None,
    node_args: Annotated[
        str | None, typer.Option("--node-args", help="The flow's arguments, as JSON.")
    ] = None,
    node_args_file: Annotated[
        str | None, typer.Option("--node-args-file", help="A JSON file of the flow's arguments.")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Run tasks on this many threads.")
    ] = 1,
    real_time: Annotated[
        bool,
        typer.Option(
            "--real-time",
            help="Sleep through countdowns (retries, throttling, flow retries); by default they "
            "move a virtual clock and nothing sleeps.",
        ),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0,
            metavar="SECONDS",
            help="Stop starting work after this many seconds: of virtual time, or of wall-clock "
            "time with --real-time (a task still running then is left unfinished). The summary "
            "shows what ran; exit code 3.",
            show_default=False,
        ),
    ] = None,
    max_nodes: Annotated[
        int,
        typer.Option(
            "--max-nodes",
            min=0,
            metavar="N",
            help="Stop when the run is about to start more than N nodes (tasks and sub-flows), "
            "so that a conditional loop cannot run forever; 0 for no limit. Exit code 4.",
        ),
    ] = 10_000,  # run.DEFAULT_MAX_NODES (run.py is imported only when the command runs)
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            metavar="TASK",
            help="A selective run: only what leads to TASK runs (repeat for several tasks).",
            show_default=False,
        ),
    ] = None,
    run_subsequent: Annotated[
        bool,
        typer.Option(
            "--run-subsequent", help="With --select, also run what follows the selected tasks."
        ),
    ] = False,
    follow_subflows: Annotated[
        bool,
        typer.Option(
            "--follow-subflows",
            help="With --select, look for the tasks in sub-flows too and run those sub-flows "
            "selectively; without it, a sub-flow on the way runs whole.",
        ),
    ] = False,
    show_results: Annotated[
        bool,
        typer.Option(
            "--show-results",
            help="Print each node's result, read back from its storage, after the summary "
            '(with --json, as each node\'s "value").',
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable report instead of tables.")
    ] = False,
    compat: Compat = False,
    allow: Allow = None,
) -> None:
    """Run one flow in this process, with no broker (tasks import from here and PYTHONPATH).

    Queue placeholders such as `{DEPLOYMENT_PREFIX}` need no variable here: one process routes
    nothing to a queue. Ctrl-C stops the run and prints what ran.

    Exit code 0 when the flow succeeds, 1 when it fails or the configuration has errors, 2 on
    usage errors (an unknown flow or task), 3 when --timeout stopped the run, 4 when
    --max-nodes stopped it, 130 on Ctrl-C.
    """
    from selinonc.compiler.cli import run as running

    if not flow:
        _usage("give the flow to run with --flow")
    if bool(inputs) == bool(package):
        _usage("give either the configuration (INPUTS) or --package, not both or neither")
    if (run_subsequent or follow_subflows) and not select:
        _usage("--run-subsequent and --follow-subflows apply to a selective run: add --select")
    if allow and package:
        _usage("--allow applies to the configuration run checks (INPUTS), not to --package")
    codes = _allowed(allow, compat)
    args = _node_args(node_args, node_args_file)
    options = running.Options(
        workers=workers,
        real_time=real_time,
        timeout=timeout,
        max_nodes=max_nodes or None,
        select=tuple(select or ()),
        follow_subflows=follow_subflows,
        run_subsequent=run_subsequent,
        show_results=show_results,
    )
    sys.path.insert(0, os.getcwd())  # tasks import from here, as in a worker started here
    from rich.console import Console

    console = Console()
    live = not as_json and console.is_terminal
    try:
        with _system(inputs or [], package, compat, codes) as system:
            outcome = running.run_flow(system, flow, args, options, live=live, console=console)
    except running.RunError as exc:
        _usage(str(exc))
    if as_json:
        typer.echo(running.report_json(outcome))
    else:
        console.print(running.summary(outcome, console.width))
        console.print(running.closing_line(outcome, real_time))
    raise typer.Exit(outcome.exit_code)


@contextlib.contextmanager
def _system(
    inputs: list[str], package: str | None, compat: bool, allow: frozenset[str]
) -> Iterator[System]:
    """The system to run: an importable package, or the inputs built into a temporary one."""
    from selinonc.compiler.cli import run as running

    if package is not None:
        yield running.imported_system(package)
        return
    files = _expand(inputs)
    result = pipeline.build_package(files, compat=compat, allow=allow)
    if result.files is None:
        _report(result.diagnostics, result.sources, len(files), Format.text, result.allowed)
        raise typer.Exit(1)
    with running.built_system(result.files) as system:
        yield system


def _usage(message: str) -> NoReturn:
    typer.echo(f"selinonc: error: {message}", err=True)
    raise typer.Exit(2)


def _node_args(text: str | None, path: str | None) -> Any:
    if text is not None and path is not None:
        _usage("give the flow's arguments with --node-args or --node-args-file, not both")
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            _usage(f"cannot read {path}: {exc.strerror}")
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = path or "--node-args"
        _usage(f"{where} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")


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
