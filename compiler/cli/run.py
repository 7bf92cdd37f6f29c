"""`selinonc run`: build a configuration in memory (or import a built package) and run one flow
on the embedded executor, with a live view of its nodes and a summary, or a JSON report."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from selinonc.runtime.executor import (
    Executor,
    NodeRecord,
    RunInterrupted,
    RunReport,
    SelinoncError,
    importing_for_one_process,
)
from selinonc.runtime.tables import System

_PACKAGE = "selinonc_run_package"
_STYLE = {
    "scheduled": "dim",
    "running": "yellow",
    "retrying": "magenta",
    "succeeded": "green",
    "failed": "bold red",
}
_MARK = {"scheduled": "·", "running": "▶", "retrying": "↻", "succeeded": "✔", "failed": "✘"}
_MAX_SHOWN = 12  # nodes listed per flow in the live view; the rest are counted
_REFRESH = 0.1  # seconds between two rebuilds of the live tree
_MAX_ROWS = 200  # rows of the summary table; the middle of a longer run is counted

DEFAULT_MAX_NODES = 10_000
# The exit code of each way a run can end (documented in `selinonc run --help`).
EXIT_CODES = {"succeeded": 0, "failed": 1, "timeout": 3, "node-limit": 4, "interrupted": 130}


class RunError(Exception):
    """A usage problem (unknown flow or task, unimportable package); exit code 2."""


@dataclass(frozen=True, slots=True)
class Options:
    """How to run: the executor's settings and the selective run, as the command line gave."""

    workers: int = 1
    real_time: bool = False
    timeout: float | None = None
    max_nodes: int | None = DEFAULT_MAX_NODES
    select: Sequence[str] = ()
    follow_subflows: bool = False
    run_subsequent: bool = False
    show_results: bool = False


@dataclass(slots=True)
class Outcome:
    """A run's report and, with `show_results`, each node's result (or why there is none)."""

    report: RunReport
    results: dict[str, Any] = field(default_factory=dict)  # node id -> result
    missing: dict[str, str] = field(default_factory=dict)  # node id -> why it has none

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.report.status, 1)


@contextmanager
def built_system(files: Mapping[str, str]) -> Iterator[System]:
    """Import generated files as a package from a temporary directory."""
    from selinonc.compiler import emit  # the compiler's writer, as `build` uses it

    with tempfile.TemporaryDirectory(prefix="selinonc-run-") as root:
        emit.write(files, os.path.join(root, _PACKAGE))
        sys.path.insert(0, root)
        try:
            try:
                with importing_for_one_process():
                    module = importlib.import_module(_PACKAGE)
            except Exception as exc:
                raise RunError(f"the flow package does not import: {_why(exc)}") from None
            yield module.SYSTEM
        finally:
            sys.path.remove(root)
            for name in [m for m in sys.modules if m == _PACKAGE or m.startswith(_PACKAGE + ".")]:
                del sys.modules[name]


def _why(exc: BaseException) -> str:
    """An exception in one line, with where it was raised from when that is user code."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = next(
        (f"{f.filename}:{f.lineno}" for f in reversed(frames) if "importlib" not in f.filename),
        None,
    )
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} (at {where})" if where else text


def imported_system(module: str) -> System:
    """The SYSTEM of an installed or importable package.

    Raises:
        RunError: when it does not import or holds no SYSTEM.
    """
    try:
        with importing_for_one_process():
            package = importlib.import_module(module)
    except Exception as exc:  # a missing module, a task module's error
        raise RunError(f"cannot import the flow package {module!r}: {_why(exc)}") from None
    system = getattr(package, "SYSTEM", None)
    if not isinstance(system, System):
        raise RunError(f"{module!r} is not a package selinonc built (it has no SYSTEM)")
    return system


# --- the live view ---------------------------------------------------------------------------


class LiveView:
    """The live tree of a run's nodes, rebuilt when a node changes (ten times a second at
    most) and on the executor's heartbeat, so that a countdown ticks while the run waits."""

    def __init__(self, console: Console, flow_name: str) -> None:
        self.live = Live(console=console, refresh_per_second=10, transient=True)
        self.flow_name = flow_name
        self.executor: Executor | None = None
        self._shown = 0.0
        self._stale = False

    def changed(self, _: NodeRecord) -> None:
        self._stale = True
        self._show()

    def beat(self) -> None:
        waiting = self.executor is not None and any(
            n.due is not None for n in self.executor.nodes.values()
        )
        if self._stale or waiting:
            self._show()

    def _show(self) -> None:
        # Rebuilding the tree costs a walk over every node: ten times a second at most.
        now = time.monotonic()
        if self.executor is None or now - self._shown < _REFRESH:
            return
        self._shown, self._stale = now, False
        self.live.update(flow_tree(self.executor, self.flow_name))

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(Group())
        self.live.__exit__(None, None, None)


def flow_tree(executor: Executor, flow_name: str) -> Tree:
    """The live view: flows, each with its nodes, their states and countdowns."""
    root = Tree(Text(flow_name, style="bold"))
    children = _children(executor.nodes.values())
    now = executor.now()

    def add(flow_id: str, tree: Tree) -> None:
        members = children.get(flow_id, [])
        for node in members[:_MAX_SHOWN]:
            branch = tree.add(_live_label(node, now))
            if node.kind == "flow":
                add(node.id, branch)
        rest = Counter(n.status for n in members[_MAX_SHOWN:])
        if rest:
            tree.add(Text(", ".join(f"{c} more {s}" for s, c in sorted(rest.items())), "dim"))

    add("flow", root)
    return root


def _live_label(node: NodeRecord, now: float) -> Text:
    label = Text(f"{_MARK[node.status]} {node.name}", style=_STYLE[node.status])
    if node.kind == "flow":
        label.append(" (sub-flow)", style="dim")
    if node.retries:
        label.append(f" retried {node.retries} time{_s(node.retries)}", style="magenta")
    if node.due is not None and node.status in ("retrying", "scheduled"):
        verb = "next attempt" if node.status == "retrying" else "starts"
        label.append(f", {verb} in {max(0.0, node.due - now):.1f} s", style="dim")
    return label


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _children(nodes: Iterable[NodeRecord]) -> dict[str, list[NodeRecord]]:
    """The nodes of each flow instance, by the flow's id, in the order they started."""
    children: dict[str, list[NodeRecord]] = {}
    for node in nodes:
        children.setdefault(node.flow_id, []).append(node)
    return children


# --- running -------------------------------------------------------------------------------


def run_flow(
    system: System,
    flow_name: str,
    node_args: Any,
    options: Options,
    *,
    live: bool,
    console: Console,
) -> Outcome:
    """Run the flow, showing a live tree of its nodes when `live`.

    Raises:
        RunError: when the flow, or a task to select, does not exist, or no path leads to it.
    """
    view = LiveView(console, flow_name) if live else None
    try:
        executor = Executor(
            system,
            workers=options.workers,
            real_time=options.real_time,
            listener=view.changed if view is not None else None,
            heartbeat=view.beat if view is not None else None,
            timeout=options.timeout,
            max_nodes=options.max_nodes,
        )
        selective = _selection(executor, flow_name, options)
    except SelinoncError as exc:  # an unknown flow or task, no path, a placeholder needed
        raise RunError(str(exc)) from None
    if view is not None:
        view.executor = executor
    try:
        with view if view is not None else contextlib.nullcontext():
            report = executor.run(flow_name, node_args, selective=selective)
    except RunInterrupted as interrupted:  # Ctrl-C: still say what ran
        report = interrupted.report
    outcome = Outcome(report)
    if options.show_results:
        _read_results(executor, outcome)
    return outcome


def _selection(executor: Executor, flow_name: str, options: Options) -> dict[str, Any] | None:
    """The selective run the options ask for, or None (after checking that the flow exists)."""
    if not options.select:
        executor.system.flow(flow_name)
        return None
    return executor.select(
        flow_name,
        options.select,
        follow_subflows=options.follow_subflows,
        run_subsequent=options.run_subsequent,
    )


def _read_results(executor: Executor, outcome: Outcome) -> None:
    for node in outcome.report.nodes.values():
        if node.result is None:
            outcome.missing[node.id] = _no_result(node)
            continue
        try:
            outcome.results[node.id] = executor.result(node.id)
        except SelinoncError as exc:  # a storage that cannot read it back
            outcome.missing[node.id] = f"cannot be read: {exc}"


def _no_result(node: NodeRecord) -> str:
    if node.status != "succeeded":
        return f"none: the node {node.status if node.status == 'failed' else 'did not finish'}"
    return "not kept: the task has no storage, or a read-only one"


# --- reports ---------------------------------------------------------------------------------


def summary(outcome: Outcome, width: int) -> RenderableType:
    """Every node, each sub-flow's nodes indented under it: kind, status, attempts and where
    its result is (or its error); with results, each node's result after the table."""
    report = outcome.report
    rows: list[tuple[NodeRecord, str] | None] = list(_tree_rows(report))
    hidden = len(rows) - _MAX_ROWS
    if hidden > 0:  # a run a limit stopped: its start and its end tell the story
        half = _MAX_ROWS // 2
        rows = [*rows[:half], None, *rows[-half:]]
    caption = f"… {hidden} nodes not shown; --json lists every node" if hidden > 0 else None
    table = Table(title=_title(report), title_justify="left", caption=caption)
    # Names wrap rather than being cut: the node column gets what it needs first, the last
    # column what is left (12 at least), and both fold what does not fit.
    fixed = 16 + len("kind") + len("succeeded") + len("attempts")  # borders, padding included
    longest = max((len(row[1]) for row in rows if row is not None), default=4)
    table.add_column("node", overflow="fold", width=max(4, min(longest, width - fixed - 12)))
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("attempts", no_wrap=True)
    table.add_column("result / error", overflow="fold")
    for row in rows:
        if row is None:  # where the hidden nodes are
            table.add_row(*(Text("…", "dim") for _ in range(5)))
            continue
        node, label = row
        name = Text(label)
        if node.nowait:
            name.append(" (nowait)", style="dim")
        status = Text(node.status, _STYLE[node.status])
        table.add_row(name, node.kind, status, str(node.attempts), _detail(node))
    if not outcome.report.nodes:
        table.add_row("(no node started)", "", "", "", "")
    if outcome.results or outcome.missing:
        return Group(table, _results(outcome))
    return table


def _title(report: RunReport) -> str:
    counts = Counter(n.status for n in report.nodes.values())
    states = ", ".join(f"{c} {s}" for s, c in sorted(counts.items()))
    return f"flow {report.flow}: {report.status}" + (
        f" ({len(report.nodes)} nodes: {states})" if states else ""
    )


def _tree_rows(report: RunReport) -> Iterator[tuple[NodeRecord, str]]:
    """The nodes in start order, each sub-flow's right after it, indented two per level."""
    children = _children(report.nodes.values())

    def walk(flow_id: str, depth: int) -> Iterator[tuple[NodeRecord, str]]:
        for node in children.get(flow_id, []):
            yield node, "  " * depth + node.name
            if node.kind == "flow":
                yield from walk(node.id, depth + 1)

    return walk(report.id, 0)


def _detail(node: NodeRecord) -> str:
    if node.error:
        return node.error.strip().splitlines()[-1]
    if node.due is not None and node.status in ("retrying", "scheduled"):
        return f"due at {node.due:.2f} s"  # where a limit found it waiting
    if node.reason:
        return node.reason
    if node.result is not None and node.kind == "task":
        return f"{node.result['storage']}: {node.result['location']}"
    return ""


def _results(outcome: Outcome) -> RenderableType:
    """Each node's result as JSON, under its name and id."""
    parts: list[RenderableType] = [Text("results:", style="bold")]
    for node in outcome.report.nodes.values():
        parts.append(Text(f"{node.name} ({node.id}):", style="bold"))
        if node.id in outcome.results:
            parts.append(Text(_json(outcome.results[node.id])))
        else:
            parts.append(Text(f"({outcome.missing.get(node.id, 'none')})", style="dim"))
    return Group(*parts)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, default=repr, ensure_ascii=False)


def report_json(outcome: Outcome) -> str:
    """The machine-readable report; with results, each node carries its own under "value"."""
    document = outcome.report.to_json()
    if outcome.results or outcome.missing:
        for node in document["nodes"]:
            if node["id"] in outcome.results:
                node["value"] = outcome.results[node["id"]]
            else:
                node["value"], node["no_value"] = None, outcome.missing.get(node["id"])
    return json.dumps(document, indent=2, default=repr)


def closing_line(outcome: Outcome, real_time: bool) -> str:
    """The line after the summary: how the run ended, how long it took, what to do when a
    limit stopped it."""
    report = outcome.report
    took = f"{report.clock:.2f} s {'real' if real_time else 'virtual'} time"
    if report.status == "timeout":
        return (
            f"flow {report.flow}: timed out after {took}: {report.reason}, and nothing more was "
            "started. Raise the limit with --timeout SECONDS."
        )
    if report.status == "node-limit":
        return (
            f"flow {report.flow}: stopped after {took}: {report.reason}. Raise the limit with "
            "--max-nodes N (0 for none)."
        )
    if report.status == "interrupted":
        return f"flow {report.flow}: interrupted after {took} (Ctrl-C)"
    reason = f" ({report.reason})" if report.reason else ""
    return f"flow {report.flow}: {report.status}{reason} in {took}"
