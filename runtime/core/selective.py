"""Selective runs: run only what leads to some tasks (and, optionally, what follows them).

The edges to fire are found by walking backwards from the wanted tasks over every path, cycles
included. With `follow_subflows`, sub-flows that contain wanted tasks are searched too and run
selectively themselves; a sub-flow the path needs but does not follow runs whole (decisions.md,
runtime 8). `run_subsequent` adds the edges whose sources are all among the wanted tasks and what
they start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from selinonc.runtime.errors import SelinoncError
from selinonc.runtime.tables import Flow, System

# `subsets[flow][edge id]` lists the destinations of that edge to start.
Subsets = dict[str, dict[str, list[str]]]


class SelectiveNoPathError(SelinoncError):
    """A selective run asks for tasks that no path of the flow (or its sub-flows) leads to."""


def _contains(system: System, flow: Flow, name: str, follow: bool, seen: set[str]) -> bool:
    """True when `name` runs in `flow`, or (following sub-flows) in one of its sub-flows."""
    for edge in flow.edges:
        for target in edge.targets:
            if target == name:
                return True
            if follow and system.is_flow(target) and target not in seen:
                seen.add(target)
                if _contains(system, system.flow(target), name, follow, seen):
                    return True
    return False


def _backwards(flow: Flow, targets: set[str]) -> dict[str, set[str]]:
    """Every edge on a path to `targets`, with the destinations on such paths."""
    subset: dict[str, set[str]] = {}
    pending, seen = list(targets), set()
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        for edge in flow.edges:
            if node in edge.targets:
                subset.setdefault(edge.id, set()).add(node)
                pending.extend(edge.sources)
    return subset


def _subsequent(flow: Flow, wanted: set[str], subset: dict[str, set[str]]) -> None:
    """Add the edges whose sources are all among what runs after the wanted tasks."""
    closure = set(wanted)
    changed = True
    while changed:
        changed = False
        for edge in flow.edges:
            if edge.sources and set(edge.sources) <= closure:
                have = subset.setdefault(edge.id, set())
                if not set(edge.targets) <= have:
                    have.update(edge.targets)
                    closure.update(edge.targets)
                    changed = True


def compute(
    system: System,
    flow_name: str,
    task_names: Sequence[str],
    *,
    follow_subflows: bool = False,
    run_subsequent: bool | Sequence[str] = False,
) -> dict[str, Any]:
    """The `selective` of a run of `flow_name` limited to `task_names`.

    Raises:
        SelectiveNoPathError: when a wanted task is on no path.
    """
    subsets: Subsets = {}
    wanted = list(dict.fromkeys(task_names))
    pending = [flow_name]
    while pending:
        name = pending.pop()
        if name in subsets:
            continue
        flow = system.flow(name)
        targets = {t for t in wanted if _contains(system, flow, t, False, set())}
        if follow_subflows:
            for edge in flow.edges:
                for target in edge.targets:
                    inner = system.is_flow(target) and target != name
                    if inner and any(
                        _contains(system, system.flow(target), t, True, {name}) for t in wanted
                    ):
                        targets.add(target)
                        pending.append(target)
        subset = _backwards(flow, targets)
        subsequent = run_subsequent is True or (
            not isinstance(run_subsequent, bool) and name in run_subsequent
        )
        if subsequent:
            _subsequent(flow, targets, subset)
        subsets[name] = {index: sorted(nodes) for index, nodes in sorted(subset.items())}
    missing = [
        t
        for t in wanted
        if not _contains(system, system.flow(flow_name), t, follow_subflows, set())
    ]
    if missing:
        raise SelectiveNoPathError(
            f"a selective run of flow {flow_name!r} asks for {', '.join(map(repr, missing))}, "
            "which no path of the flow leads to"
            + ("" if follow_subflows else " (follow_subflows is off)")
        )
    return {
        "task_names": wanted,
        "follow_subflows": follow_subflows,
        "run_subsequent": run_subsequent
        if isinstance(run_subsequent, bool)
        else list(run_subsequent),
        "subsets": subsets,
    }
