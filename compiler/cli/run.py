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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from selinonc.runtime.executor import Executor, NodeRecord, RunReport
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


class RunError(Exception):
    """A usage problem (unknown flow, unimportable package); exit code 2."""


@contextmanager
def built_system(files: Mapping[str, str]) -> Iterator[System]:
    """Import generated files as a package from a temporary directory."""
    from selinonc.compiler import emit  # the compiler's writer, as `build` uses it

    with tempfile.TemporaryDirectory(prefix="selinonc-run-") as root:
        emit.write(files, os.path.join(root, _PACKAGE))
        sys.path.insert(0, root)
        try:
            try:
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
        package = importlib.import_module(module)
    except Exception as exc:  # a missing module, a placeholder variable, a task module's error
        raise RunError(f"cannot import the flow package {module!r}: {_why(exc)}") from None
    system = getattr(package, "SYSTEM", None)
    if not isinstance(system, System):
        raise RunError(f"{module!r} is not a package selinonc built (it has no SYSTEM)")
    return system


def _flow_tree(executor: Executor, flow_name: str) -> Tree:
    """The live view: flows, each with its nodes and their states."""
    nodes = list(executor.nodes.values())
    root = Tree(Text(flow_name, style="bold"))
    children: dict[str, list[NodeRecord]] = {}
    for node in nodes:
        children.setdefault(node.flow_id, []).append(node)

    def add(flow_id: str, tree: Tree) -> None:
        members = children.get(flow_id, [])
        for node in members[:_MAX_SHOWN]:
            label = Text(f"{_MARK[node.status]} {node.name}", style=_STYLE[node.status])
            if node.kind == "flow":
                label.append(" (sub-flow)", style="dim")
            if node.retries:
                label.append(f" retried {node.retries} times", style="magenta")
            branch = tree.add(label)
            if node.kind == "flow":
                add(node.id, branch)
        rest = Counter(n.status for n in members[_MAX_SHOWN:])
        if rest:
            tree.add(Text(", ".join(f"{c} more {s}" for s, c in sorted(rest.items())), "dim"))

    add("flow", root)
    return root


def summary_table(report: RunReport) -> Table:
    """Every node: its flow, kind, status, attempts and where its result is (or its error)."""
    table = Table(title=f"flow {report.flow}: {report.status}", title_justify="left")
    for column in ("node", "flow", "kind", "status", "attempts", "result / error"):
        table.add_column(column)
    for node in report.nodes.values():
        detail = ""
        if node.error:
            detail = node.error.strip().splitlines()[-1]
        elif node.reason:
            detail = node.reason
        elif node.result is not None and node.kind == "task":
            detail = f"{node.result['storage']}: {node.result['location']}"
        status = Text(node.status + (" (nowait)" if node.nowait else ""), _STYLE[node.status])
        table.add_row(node.name, node.flow, node.kind, status, str(node.attempts), detail)
    return table


def run_flow(
    system: System,
    flow_name: str,
    node_args: Any,
    *,
    workers: int,
    real_time: bool,
    live: bool,
    console: Console,
) -> RunReport:
    """Run the flow, showing a live tree of its nodes when `live`.

    Raises:
        RunError: when the flow does not exist.
    """
    from selinonc.runtime.errors import UnknownFlowError

    shown = [0.0]
    view: Any = Live(console=console, refresh_per_second=10, transient=True) if live else None

    def changed(_: NodeRecord) -> None:
        # Rebuilding the tree costs a walk over every node: ten times a second at most.
        now = time.monotonic()
        if now - shown[0] >= 0.1:
            shown[0] = now
            view.update(_flow_tree(executor, flow_name))

    executor = Executor(
        system, workers=workers, real_time=real_time, listener=changed if live else None
    )
    with view if view is not None else contextlib.nullcontext():
        try:
            return executor.run(flow_name, node_args)
        except UnknownFlowError as exc:
            raise RunError(str(exc)) from None
        finally:
            if view is not None:
                view.update(Group())


def report_json(report: RunReport) -> str:
    """The machine-readable report."""
    return json.dumps(report.to_json(), indent=2, default=repr)
