"""Edge and graph checks (SC3xx): starting edges, sources never started, cycles, deadlocks.

Each cause is reported once, where it is, and what it blocks is not reported again:

- SC301: a flow with no starting edge. Nothing in it can start, so SC303-SC308 skip it.
- SC303 (tasks) and SC308 (sub-flows): an edge source or failure node that no edge or
  fallback of the flow starts, once per node where the file first waits for it. The graph
  checks then assume such names start, so the edges and failures waiting for them and the
  nodes after them are not reported as well (unknown names are SC205's and are assumed the
  same way).
- SC307: a deadlock, a loop of nodes each of which is started only after another one of them,
  entered by an edge (or failure) that also waits for a node that does start, as
  `[A, X] -> Y, Y -> X`. Reported once per loop, at that edge, naming its source in the loop.
- SC306: the same kind of loop with no way in at all (`A -> B, B -> A` and nothing starts
  either), reported once per loop at the first use of its first node.
  Nodes and edges that only come after such a loop are not reported: fixing the loop (or the
  missing start above) is the one change needed, and a re-check shows anything left.
- SC304: a loop of unconditional edges that can fire, once per loop at its first edge. Loops
  that can never start are SC306/SC307 findings instead.
- SC305: flows starting each other by unconditional edges that can fire, once per group at
  the first call. A fallback never counts: it needs a failure, which is itself a condition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from selinonc.compiler import graph
from selinonc.compiler.checks._text import Check, edge_label, starter_label
from selinonc.compiler.diagnostics import Diagnostic, join_or
from selinonc.compiler.model import Edge, Failure, Flow, Project, Ref
from selinonc.compiler.source import Span


def _has_start(flow: Flow) -> bool:
    return any(edge.is_starting for edge in flow.edges)


def _at(ref: Ref) -> Span:
    return ref.span


def _in_file_order(refs: list[tuple[Ref, Edge | Failure]]) -> list[tuple[Ref, Edge | Failure]]:
    """The first of the pairs naming each node, by where the ref is written."""
    ordered = sorted(refs, key=lambda pair: _at(pair[0]))
    first = {ref.name: ref for ref in graph.first_of_each(ref for ref, _ in ordered)}
    return [(ref, starter) for ref, starter in ordered if first[ref.name] is ref]


def _first_uses(flow: Flow) -> dict[str, Ref]:
    """For each node of the flow, the ref naming it that comes first in the file."""
    refs = sorted((ref for _, waits, starts in _refs(flow) for ref in (*waits, *starts)), key=_at)
    return {ref.name: ref for ref in graph.first_of_each(refs)}


def _refs(flow: Flow) -> Iterator[tuple[Edge | Failure, tuple[Ref, ...], tuple[Ref, ...]]]:
    """Each edge and failure with the refs it waits for and the refs it starts."""
    for edge in flow.edges:
        yield edge, edge.sources, edge.targets
    for failure in flow.failures:
        yield failure, failure.nodes, graph.fallback_refs(failure)


def _unstarted_sources(flow: Flow) -> list[tuple[Ref, Edge | Failure]]:
    """Where the file first waits for each node that nothing in the flow starts.

    Both edge sources and failure nodes count: Selinon rejects a task waited for in either
    place that nothing starts.
    """
    unstarted = set(graph.never_started(flow))
    if not unstarted:
        return []
    waits = [(ref, s) for s, sources, _ in _refs(flow) for ref in sources if ref.name in unstarted]
    return _in_file_order(waits)


def check_starting_edge(project: Project) -> Iterator[Diagnostic]:
    """SC301: every flow has at least one starting edge (checklist 36)."""
    for flow in project.flows:
        if flow.edges and not _has_start(flow):
            yield Diagnostic.error(
                "SC301",
                flow.span,
                f"flow {flow.name!r} has no starting edge, so nothing in it can run",
                hint="add an edge with an empty `from` (`from: []`) whose `to` names "
                "the nodes to run first",
            )


def check_duplicate_sources(project: Project) -> Iterator[Diagnostic]:
    """SC302: no node appears twice in one edge's `from` (checklist 35)."""
    for flow in project.flows:
        for edge in flow.edges:
            seen: set[str] = set()
            reported: set[str] = set()
            for ref in edge.sources:
                if ref.name in seen and ref.name not in reported:
                    reported.add(ref.name)
                    yield Diagnostic.error(
                        "SC302",
                        ref.span,
                        f"node {ref.name!r} is listed twice in `from` of {edge_label(flow, edge)}",
                        hint="list each source once; the edge fires for every combination "
                        "of finished source nodes",
                    )
                seen.add(ref.name)


def _unstarted(
    project: Project, code: str, kind: str, wanted: Callable[[str], bool]
) -> Iterator[Diagnostic]:
    for flow in project.flows:
        if not _has_start(flow):
            continue
        for ref, starter in _unstarted_sources(flow):
            if not wanted(ref.name):
                continue
            yield _unstarted_source(code, kind, ref, flow, starter)


def _unstarted_source(
    code: str, kind: str, ref: Ref, flow: Flow, starter: Edge | Failure
) -> Diagnostic:
    if isinstance(starter, Edge):
        role, drop = "a source of", "stop waiting for it"
    else:
        role, drop = "in `nodes` of", "remove it from this failure's `nodes`"
    return Diagnostic.error(
        code,
        ref.span,
        f"{kind} {ref.name!r} is {role} {starter_label(flow, starter)}, "
        "but no edge or fallback of the flow starts it",
        hint=f"start {ref.name!r} with an edge (`to: {ref.name}`) or a fallback "
        f"of this flow, or {drop}",
    )


def check_unstarted_tasks(project: Project) -> Iterator[Diagnostic]:
    """SC303: a task used as an edge source or failure node is started (checklist 37)."""
    return _unstarted(project, "SC303", "task", project.is_task)


def check_unstarted_subflows(project: Project) -> Iterator[Diagnostic]:
    """SC308: a sub-flow used as an edge source or failure node is started in the flow."""

    def is_subflow(name: str) -> bool:
        return project.is_flow(name) and not project.is_task(name)

    return _unstarted(project, "SC308", "sub-flow", is_subflow)


def check_unconditional_cycles(project: Project) -> Iterator[Diagnostic]:
    """SC304: no loop of edges without conditions (it would run forever)."""
    for flow in project.flows:
        if not _has_start(flow):
            continue
        for cycle in graph.unconditional_cycles(flow, graph.startable(flow)):
            numbers = [f"#{i + 1}" for i in sorted({e.index for e in cycle.edges})]
            edges = ("edge " if len(numbers) == 1 else "one of edges ") + join_or(numbers)
            yield Diagnostic.error(
                "SC304",
                cycle.edge.span,
                f"edges of flow {flow.name!r} form a cycle with no condition, "
                f"so it never stops: {' → '.join(cycle.path)}",
                hint=f"add a condition to {edges}, so that the cycle can end",
            )


def check_recursive_subflows(project: Project) -> Iterator[Diagnostic]:
    """SC305: no flow starts itself, directly or through sub-flows, without a condition."""
    for recursion in graph.recursive_subflows(project):
        call = recursion.calls[0]
        where = join_or([starter_label(c.caller, c.via) for c in recursion.calls])
        how = "as a sub-flow" if len(recursion.calls) == 1 else "through sub-flows"
        yield Diagnostic.error(
            "SC305",
            call.ref.span,
            f"flow {call.caller.name!r} starts itself {how} with no condition on the way, "
            f"so it never stops: {' → '.join(recursion.path)}",
            hint=f"add a condition to {where}, so that the flows stop starting each other"
            if len(recursion.calls) > 1
            else f"add a condition to {where}, so that the flow stops starting itself",
        )


def _deadlocks(project: Project, entered: bool) -> Iterator[tuple[Flow, list[graph.Deadlock]]]:
    """Per flow, its deadlocks entered by a waiting edge (SC307) or not entered at all (SC306)."""
    for flow in project.flows:
        if _has_start(flow):
            found = graph.deadlocks(flow, graph.startable(flow))
            chosen = [d for d in found if (d.waiting is not None) is entered]
            if chosen:
                yield flow, chosen


def check_unreachable_nodes(project: Project) -> Iterator[Diagnostic]:
    """SC306: no loop of nodes that only start each other and that nothing leads into."""
    for flow, deadlocks in _deadlocks(project, entered=False):
        first = _first_uses(flow)
        for deadlock in deadlocks:
            yield _unreachable(flow, deadlock, first[deadlock.path[0]])


def _unreachable(flow: Flow, deadlock: graph.Deadlock, first: Ref) -> Diagnostic:
    name = deadlock.path[0]
    return Diagnostic.error(
        "SC306",
        first.span,
        f"node {name!r} can never start in flow {flow.name!r}: it is started only from "
        f"the loop {' → '.join(deadlock.path)}, and nothing outside starts that loop",
        hint=f"start {name!r} from a starting edge or from a node that runs",
    )


def check_deadlocked_edges(project: Project) -> Iterator[Diagnostic]:
    """SC307: no edge or fallback waits for a node that starts only after it fires."""
    for flow, deadlocks in _deadlocks(project, entered=True):
        for deadlock in deadlocks:
            if deadlock.waiting is not None:
                yield _deadlocked(flow, deadlock.waiting, deadlock.path)


def _deadlocked(flow: Flow, starter: Edge | Failure, path: tuple[str, ...]) -> Diagnostic:
    name, loop = path[0], " → ".join(path)
    if isinstance(starter, Edge):
        what, role, kind, key = "fire", "source", "edge", "`from`"
    else:
        what, role, kind, key = "start its fallback", "node", "failure", "`nodes`"
    return Diagnostic.error(
        "SC307",
        starter.span,
        f"{starter_label(flow, starter)} can never {what}: its {role} {name!r} never starts, "
        f"because the nodes {loop} wait for each other",
        hint=f"start {name!r} in a way that does not wait for this {kind}, "
        f"or remove it from this {kind}'s {key}",
    )


CHECKS: tuple[Check, ...] = (
    check_starting_edge,
    check_duplicate_sources,
    check_unstarted_tasks,
    check_unconditional_cycles,
    check_recursive_subflows,
    check_unreachable_nodes,
    check_deadlocked_edges,
    check_unstarted_subflows,
)
