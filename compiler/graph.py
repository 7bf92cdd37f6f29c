"""Pure graph algorithms over flows: what can start, what waits forever, cycles, sub-flow calls.

Everything here is iterative and linear in the number of names written in the flows (no
recursion, no loops over nodes times edges), so flows of 10,000 nodes are fine.

Terms used throughout:

- a *starter* is an edge or a failure: it starts its targets (`to`, or the `fallback` list) once
  all its sources (`from`, or the failure's `nodes`) have finished, or failed, at least once.
  A starting edge has no sources; `fallback: true` starts nothing.
- a node *can start* when a starting edge starts it, or a starter whose sources can all start
  does (a node that can start can also fail, so this covers fallbacks). Conditions are assumed
  to hold sometimes: they can delay a node but the analysis never relies on them.
- an edge is *unconditional* when it has neither a `condition` nor a `foreach` (a foreach
  function may yield no items, which stops the edge like a false condition).
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from selinonc.compiler.model import Edge, Failure, Flow, Project, Ref

Starter = Edge | Failure


@dataclass(frozen=True, slots=True)
class Cycle:
    """A loop of unconditional edges: `path` runs from a source of `edge` back to itself."""

    edge: Edge  # the first edge of the loop in YAML order
    edges: tuple[Edge, ...]  # every edge on `path`, in firing order, `edge` first
    path: tuple[str, ...]  # node names; the first is repeated at the end


@dataclass(frozen=True, slots=True)
class Deadlock:
    """Nodes that never start because each one waits for another one of them.

    `waiting` is the first edge (failures after edges) of the loop that also waits for a node
    outside it that does start: a join that can never complete. It is None when nothing
    outside leads into the loop at all, so its nodes are simply never reached.
    `path` runs through the loop, starting at a source of `waiting` (at the first node of the
    loop in first-use order when `waiting` is None); the first name is repeated at the end.
    """

    waiting: Starter | None
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Call:
    """Flow `caller` starts the sub-flow named by `ref` through the edge or failure `via`."""

    caller: Flow
    ref: Ref
    via: Starter
    unconditional: bool  # an unconditional edge that can fire; fallbacks never count


@dataclass(frozen=True, slots=True)
class Recursion:
    """Flows that start each other through unconditional calls, back to the first one."""

    calls: tuple[Call, ...]  # in order: calls[0] is the first such call in input order
    path: tuple[str, ...]  # flow names, the first repeated at the end


def is_unconditional(edge: Edge) -> bool:
    """True for an edge that fires whenever its sources finish: no condition, no foreach."""
    return edge.condition is None and edge.foreach is None


def fallback_refs(failure: Failure) -> tuple[Ref, ...]:
    """The nodes a failure's fallback starts (none for `fallback: true`)."""
    return () if isinstance(failure.fallback, bool) else failure.fallback


Wire = tuple[Starter, tuple[str, ...], tuple[str, ...]]


@functools.lru_cache(maxsize=4096)
def starters(flow: Flow) -> list[Wire]:
    """Every edge, then every failure, with its distinct source names and its target names.

    Memoised per flow (several checks ask); callers must not modify the returned list.
    """
    wires: list[Wire] = [(e, _distinct(e.sources), _names(e.targets)) for e in flow.edges]
    wires.extend((f, _distinct(f.nodes), _names(fallback_refs(f))) for f in flow.failures)
    return wires


def _names(refs: Sequence[Ref]) -> tuple[str, ...]:
    return tuple([r.name for r in refs])


def _distinct(refs: Sequence[Ref]) -> tuple[str, ...]:
    return _names(refs) if len(refs) < 2 else _names(first_of_each(refs))


def first_of_each(refs: Iterable[Ref]) -> list[Ref]:
    """The first reference to each name, in the given order."""
    seen: dict[str, Ref] = {}
    for ref in refs:
        seen.setdefault(ref.name, ref)
    return list(seen.values())


def destinations(flow: Flow) -> frozenset[str]:
    """Every node that some edge (`to`) or fallback of the flow starts."""
    return _destinations(starters(flow))


def _destinations(wires: Sequence[Wire]) -> frozenset[str]:
    return frozenset([name for _, _, targets in wires for name in targets])


def never_started(flow: Flow) -> tuple[str, ...]:
    """Sources and failure nodes that no edge or fallback of the flow starts, first use first."""
    return _never_started(starters(flow))


def _never_started(wires: Sequence[Wire]) -> tuple[str, ...]:
    started = _destinations(wires)
    waited = dict.fromkeys([name for _, sources, _ in wires for name in sources])
    return tuple([name for name in waited if name not in started])


def startable(flow: Flow) -> frozenset[str]:
    """The nodes that can ever start, counting every name nothing in the flow starts as started.

    An edge source or failure node that nothing starts is reported on its own (SC303 for a
    task, SC308 for a sub-flow, SC205 for an unknown name), so what waits for it is assumed to
    start and not reported again.
    """
    wires = starters(flow)
    return _fixed_point(wires, _never_started(wires))


def _fixed_point(wires: Sequence[Wire], assumed: Iterable[str]) -> frozenset[str]:
    waiting: list[int] = []  # per starter: how many distinct sources have not started yet
    by_source: dict[str, list[int]] = {}
    ready: deque[str] = deque(assumed)
    for i, (starter, sources, targets) in enumerate(wires):
        waiting.append(len(sources))
        for name in sources:
            by_source.setdefault(name, []).append(i)
        if not sources and isinstance(starter, Edge):
            ready.extend(targets)
    started: set[str] = set()
    while ready:
        name = ready.popleft()
        if name in started:
            continue
        started.add(name)
        for i in by_source.get(name, ()):
            waiting[i] -= 1
            if waiting[i] == 0:
                ready.extend(wires[i][2])
    return frozenset(started)


def strongly_connected(successors: Sequence[Sequence[int]]) -> list[list[int]]:
    """Strongly connected components of the graph on vertices 0..n-1 (Tarjan, iterative).

    Components come out in reverse topological order (a component before those leading to it).
    """
    n = len(successors)
    index, low = [-1] * n, [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    found: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, i = work[-1]
            if i < len(successors[v]):
                work[-1] = (v, i + 1)
                w = successors[v][i]
                if index[w] == -1:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                found.append(_pop_component(stack, on_stack, v))
    return found


def _pop_component(stack: list[int], on_stack: list[bool], root: int) -> list[int]:
    component: list[int] = []
    while True:
        w = stack.pop()
        on_stack[w] = False
        component.append(w)
        if w == root:
            return component


def shortest_walk(
    successors: Sequence[Sequence[int]], start: int, goal: int, members: Collection[int]
) -> list[int]:
    """A shortest walk of at least one step from `start` to `goal` through `members` (BFS).

    Returns the vertices in order, `start` first and `goal` last (a loop when they are the
    same vertex); empty when `goal` cannot be reached.
    """
    previous: dict[int, int] = {}
    queue: deque[int] = deque([start])
    while queue:
        v = queue.popleft()
        for w in successors[v]:
            if w == goal:
                walk = [v]
                while walk[-1] != start:
                    walk.append(previous[walk[-1]])
                return [*reversed(walk), goal]
            if w in members and w not in previous:
                previous[w] = v
                queue.append(w)
    return []


def _owners(components: Sequence[Sequence[int]], size: int) -> list[int]:
    """For each vertex, the position of its component."""
    owner = [0] * size
    for c, component in enumerate(components):
        for v in component:
            owner[v] = c
    return owner


class _Bipartite:
    """Node vertices (0..len(names)-1, first-use order) and starter vertices after them.

    Arcs run from each source to its starter and from the starter to each target, so the
    graph stays linear in the names written in the flow.
    """

    def __init__(
        self,
        flow: Flow,
        chosen: Iterable[tuple[Starter, Sequence[str], Sequence[str]]],
        nodes: Collection[str],
    ) -> None:
        self.names = [n for n in flow.nodes() if n in nodes]
        ids = {name: i for i, name in enumerate(self.names)}
        self.starters: list[Starter] = []
        self.successors: list[list[int]] = [[] for _ in self.names]
        for starter, sources, targets in chosen:
            vertex = len(self.successors)
            self.starters.append(starter)
            self.successors.append([ids[t] for t in targets if t in ids])
            for name in sources:
                if name in ids:
                    self.successors[ids[name]].append(vertex)

    def starter(self, vertex: int) -> Starter | None:
        """The edge or failure of a vertex, None for a node vertex."""
        return self.starters[vertex - len(self.names)] if vertex >= len(self.names) else None

    def path(self, loop: list[int]) -> tuple[str, ...]:
        """Node names along a loop of vertices; a loop through a starter starts at its source."""
        names = [self.names[v] for v in loop if v < len(self.names)]
        return (names[-1], *names) if loop[0] >= len(self.names) else tuple(names)


def unconditional_cycles(flow: Flow, started: Collection[str]) -> tuple[Cycle, ...]:
    """Loops of unconditional edges that can fire (all sources in `started`), one per component.

    Each is reported through its first edge in YAML order, with a shortest loop through it.
    """
    chosen = [
        (e, s, t)
        for e, s, t in starters(flow)
        if isinstance(e, Edge) and s and is_unconditional(e) and all(n in started for n in s)
    ]
    if not chosen:
        return ()
    graph = _Bipartite(flow, chosen, started)
    found: list[Cycle] = []
    for component in strongly_connected(graph.successors):
        if len(component) < 2:
            continue
        first = min(v for v in component if v >= len(graph.names))
        loop = shortest_walk(graph.successors, first, first, set(component))
        edges = tuple(e for v in loop[:-1] if isinstance(e := graph.starter(v), Edge))
        found.append(Cycle(edge=edges[0], edges=edges, path=graph.path(loop)))
    return tuple(sorted(found, key=lambda c: c.edge.index))


def deadlocks(flow: Flow, started: Collection[str]) -> tuple[Deadlock, ...]:
    """The loops that keep nodes from ever starting, and only those (not what follows them).

    Every node that is a destination but not in `started` waits, through a chain of starters
    that never fire, on a loop of such nodes (or on a name outside `started` that is no
    destination: callers put those in `started` and report them on their own). Only loops that
    nothing else blocks are returned, one per loop: those with a waiting edge in YAML order,
    then those with a waiting failure, then those nothing leads into (by first node).
    """
    wires = starters(flow)
    stuck = _destinations(wires) - frozenset(started)
    if not stuck:
        return ()
    chosen = [(x, s, t) for x, s, t in wires if s and any(n in stuck for n in s)]
    graph = _Bipartite(flow, chosen, stuck)
    components = strongly_connected(graph.successors)
    owner = _owners(components, len(graph.successors))
    blocked_from_outside = [False] * len(components)
    for v, successors in enumerate(graph.successors):
        for w in successors:
            if owner[v] != owner[w]:
                blocked_from_outside[owner[w]] = True
    found = [
        _deadlock(graph, c, stuck)
        for c, outside in zip(components, blocked_from_outside, strict=True)
        if not outside and len(c) > 1
    ]
    return tuple(deadlock for _, deadlock in sorted(found, key=lambda pair: pair[0]))


def _deadlock(
    graph: _Bipartite, component: list[int], stuck: Collection[str]
) -> tuple[tuple[int, int], Deadlock]:
    """Describe one blocked loop, with its place in YAML order.

    The loop is told from the first starter in it that also waits for a node that starts, or
    else from its first node.
    """
    joins = [
        v
        for v in component
        if (s := graph.starter(v)) is not None
        and any(r.name not in stuck for r in (s.sources if isinstance(s, Edge) else s.nodes))
    ]
    if joins:
        start = min(joins, key=lambda v: _starter_order(graph.starter(v)))
    else:
        start = min(v for v in component if v < len(graph.names))
    loop = shortest_walk(graph.successors, start, start, set(component))
    starter = graph.starter(start)
    place = _starter_order(starter) if starter is not None else (2, start)
    return place, Deadlock(waiting=starter, path=graph.path(loop))


def _starter_order(starter: Starter | None) -> tuple[int, int]:
    """Edges first, then failures, each in YAML order."""
    if starter is None:
        return (2, 0)
    return (0 if isinstance(starter, Edge) else 1, starter.index)


def subflow_calls(project: Project, flow: Flow) -> tuple[Call, ...]:
    """The sub-flows `flow` starts through edge targets and fallbacks, in YAML order.

    Only defined flows count (unknown names are another check's business). A call is
    unconditional when its edge has no condition or foreach and can fire (names nothing in
    the flow starts count as started: they are reported on their own); a fallback call never
    is, because it needs a node to fail first.
    """
    wires = starters(flow)
    if not any(_is_defined_flow(project, name) for _, _, targets in wires for name in targets):
        return ()
    started = _fixed_point(wires, _never_started(wires))
    calls: list[Call] = []
    for starter, sources, _ in wires:
        if isinstance(starter, Edge):
            refs = starter.targets
            unconditional = is_unconditional(starter) and all(n in started for n in sources)
        else:
            refs, unconditional = fallback_refs(starter), False
        calls.extend(
            Call(caller=flow, ref=ref, via=starter, unconditional=unconditional)
            for ref in refs
            if _is_defined_flow(project, ref.name)
        )
    return tuple(calls)


def _is_defined_flow(project: Project, name: str) -> bool:
    return project.is_flow(name) and not project.is_task(name) and project.flow(name) is not None


def recursive_subflows(project: Project) -> tuple[Recursion, ...]:
    """Flows that start themselves, directly or through other flows, by unconditional calls.

    One per group of flows that start each other, through the group's first call in input
    order (flow order, then YAML order); duplicate definitions after the first are ignored.
    """
    flows = [f for f in project.flows if project.flow(f.name) is f]
    ids = {f.name: i for i, f in enumerate(flows)}
    calls = [c for f in flows for c in subflow_calls(project, f) if c.unconditional]
    successors: list[list[int]] = [[] for _ in flows]
    first: dict[tuple[int, int], Call] = {}
    for call in calls:
        arc = (ids[call.caller.name], ids[call.ref.name])
        successors[arc[0]].append(arc[1])
        first.setdefault(arc, call)
    components = strongly_connected(successors)
    owner = _owners(components, len(flows))
    found: list[Recursion] = []
    reported: set[int] = set()
    for a, b in first:  # insertion order: the input order of the calls
        if owner[a] != owner[b] or owner[a] in reported:
            continue
        reported.add(owner[a])
        members = set(components[owner[a]])
        walk = [a, a] if a == b else [a, *shortest_walk(successors, b, a, members)]
        steps = tuple(first[arc] for arc in pairwise(walk))
        found.append(Recursion(calls=steps, path=tuple(flows[v].name for v in walk)))
    return tuple(found)
