"""Unit tests for compiler/graph.py: fixed points, components, cycles, deadlocks, sub-flows."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from selinonc.compiler import graph
from selinonc.compiler.model import (
    PROPAGATE_OPTIONS,
    Edge,
    Failure,
    Flow,
    Foreach,
    Global,
    Leaf,
    Project,
    Propagate,
    Ref,
    Task,
)
from selinonc.compiler.source import Span

SPAN = Span("flows.yaml", 1, 1)
Arc = tuple[Sequence[str], Sequence[str]]


def refs(names: Sequence[str]) -> tuple[Ref, ...]:
    return tuple(Ref(name=n, span=SPAN) for n in names)


def edge(
    index: int,
    sources: Sequence[str],
    targets: Sequence[str],
    *,
    cond: bool = False,
    foreach: bool = False,
) -> Edge:
    return Edge(
        index=index,
        sources=refs(sources),
        targets=refs(targets),
        condition=Leaf(
            name="alwaysTrue", name_span=SPAN, node=None, args={}, arg_spans={}, span=SPAN
        )
        if cond
        else None,
        foreach=Foreach(
            import_="m",
            function="f",
            propagate_result=False,
            span=SPAN,
            import_span=SPAN,
            function_span=SPAN,
        )
        if foreach
        else None,
        selective=None,
        span=Span("flows.yaml", index + 1, 1),
    )


def failure(index: int, nodes: Sequence[str], fallback: Sequence[str] | bool) -> Failure:
    return Failure(
        index=index,
        nodes=refs(nodes),
        fallback=fallback if isinstance(fallback, bool) else refs(fallback),
        condition=None,
        propagate_failure=False,
        span=SPAN,
    )


def make_flow(name: str, arcs: Sequence[Arc | Edge], failures: Sequence[Failure] = ()) -> Flow:
    edges = tuple(a if isinstance(a, Edge) else edge(i, a[0], a[1]) for i, a in enumerate(arcs))
    return Flow(
        name=name,
        span=SPAN,
        edges=edges,
        failures=tuple(failures),
        nowait=(),
        eager_failures=False,
        node_args_from_first=False,
        propagate={key: Propagate(value=False, span=None) for key in PROPAGATE_OPTIONS},
        max_retry=0,
        retry_countdown=0,
        queue=None,
        sampling=None,
        throttling=None,
        cache=None,
        option_spans={},
        value_spans={},
    )


def make_project(flows: Sequence[Flow], tasks: Sequence[str] = ()) -> Project:
    return Project(
        tasks=tuple(
            Task(
                name=t,
                span=SPAN,
                import_="m",
                classname=t,
                storage=None,
                storage_readonly=False,
                storage_task_name=None,
                output_schema=None,
                max_retry=0,
                retry_countdown=0,
                queue=None,
                throttling=None,
                selective_run_function=None,
                option_spans={},
                value_spans={},
            )
            for t in tasks
        ),
        storages=(),
        listed_flows=refs([f.name for f in flows]),
        flows=tuple(flows),
        global_=Global(
            predicates_module="p",
            predicates_module_span=None,
            default_task_queue="celery",
            default_dispatcher_queue="celery",
            migration_dir=None,
            trace=(),
            value_spans={},
        ),
        files=("flows.yaml",),
        nodes_file="flows.yaml",
    )


def chain(n: int) -> list[Arc]:
    return [((), ["N0"]), *(([f"N{i}"], [f"N{i + 1}"]) for i in range(n - 1))]


# first references, destinations, never started


def test_first_of_each_keeps_the_first_reference_in_order() -> None:
    named = [Ref(name=n, span=Span("f", i, 1)) for i, n in enumerate("abab", start=1)]
    assert [(r.name, r.span.line) for r in graph.first_of_each(named)] == [("a", 1), ("b", 2)]


def test_destinations_are_edge_targets_and_fallbacks() -> None:
    flow = make_flow(
        "f",
        [((), ["B", "A", "B"]), (["A"], ["C"]), ((), ["D"])],
        [failure(0, ["C"], ["E"]), failure(1, ["A"], True)],
    )
    assert graph.destinations(flow) == {"A", "B", "C", "D", "E"}


def test_never_started_lists_sources_and_failure_nodes_nothing_starts() -> None:
    flow = make_flow(
        "f",
        [((), ["A"]), (["A", "X"], ["B"]), (["Y", "X"], ["C"])],
        [failure(0, ["Z", "A"], ["D"])],
    )
    assert graph.never_started(flow) == ("X", "Y", "Z")


# startable


def test_names_nothing_starts_are_assumed_to_start() -> None:
    flow = make_flow("f", [((), ["A"]), (["A", "X"], ["B"]), (["A"], ["C"])])
    assert graph.startable(flow) == {"A", "B", "C", "X"}


def test_a_join_starts_only_when_every_source_can_start() -> None:
    flow = make_flow("f", [((), ["A"]), (["A", "X"], ["Y"]), (["Y"], ["X"]), (["A"], ["C"])])
    assert graph.startable(flow) == {"A", "C"}


def test_a_fallback_starts_once_all_its_failure_nodes_can_start() -> None:
    flow = make_flow(
        "f",
        [((), ["A"]), (["F"], ["G"]), (["H"], ["Q"])],
        [failure(0, ["A"], ["F"]), failure(1, ["A", "Q"], ["H"])],
    )
    assert graph.startable(flow) == {"A", "F", "G"}


def test_fallback_true_starts_nothing() -> None:
    flow = make_flow("f", [((), ["A"])], [failure(0, ["A"], True)])
    assert graph.startable(flow) == {"A"}


def test_a_repeated_source_counts_once() -> None:
    flow = make_flow("f", [((), ["A"]), (["A", "A"], ["B"])])
    assert graph.startable(flow) == {"A", "B"}


def test_startable_on_a_10000_node_chain() -> None:
    flow = make_flow("f", chain(10_000))
    assert len(graph.startable(flow)) == 10_000


# strongly connected components and walks


def test_components_come_in_reverse_topological_order() -> None:
    successors = [[1], [2], [1, 3], []]
    assert graph.strongly_connected(successors) == [[3], [2, 1], [0]]


def test_components_of_a_10000_vertex_cycle_and_chain() -> None:
    n = 10_000
    cycle = [[(i + 1) % n] for i in range(n)]
    assert [len(c) for c in graph.strongly_connected(cycle)] == [n]
    line = [[i + 1] for i in range(n - 1)] + [[]]
    assert len(graph.strongly_connected(line)) == n


def test_shortest_walk_finds_the_shortest_loop_inside_the_members() -> None:
    successors = [[1, 3], [2], [0], [0]]
    assert graph.shortest_walk(successors, 0, 0, {0, 1, 2, 3}) == [0, 3, 0]
    assert graph.shortest_walk(successors, 0, 0, {0, 1, 2}) == [0, 1, 2, 0]
    assert graph.shortest_walk(successors, 1, 0, {0, 1, 2}) == [1, 2, 0]
    assert graph.shortest_walk([[1], []], 0, 0, {0, 1}) == []


# unconditional cycles


def test_an_unconditional_cycle_is_found_at_its_first_edge() -> None:
    flow = make_flow("f", [((), ["A"]), (["A"], ["B"]), (["B"], ["C"]), (["C"], ["A"])])
    (cycle,) = graph.unconditional_cycles(flow, graph.startable(flow))
    assert cycle.edge.index == 1
    assert [e.index for e in cycle.edges] == [1, 2, 3]
    assert cycle.path == ("A", "B", "C", "A")


def test_a_self_loop_is_a_cycle() -> None:
    flow = make_flow("f", [((), ["A"]), (["A"], ["A"])])
    (cycle,) = graph.unconditional_cycles(flow, graph.startable(flow))
    assert cycle.path == ("A", "A")


def test_a_condition_or_a_foreach_breaks_a_cycle() -> None:
    for conditional in (edge(2, ["B"], ["A"], cond=True), edge(2, ["B"], ["A"], foreach=True)):
        flow = make_flow("f", [((), ["A"]), (["A"], ["B"]), conditional])
        assert graph.unconditional_cycles(flow, graph.startable(flow)) == ()


def test_a_cycle_that_never_starts_is_not_an_unconditional_cycle() -> None:
    flow = make_flow("f", [((), ["A"]), (["A", "X"], ["Y"]), (["Y"], ["X"])])
    assert graph.unconditional_cycles(flow, graph.startable(flow)) == ()


def test_two_cycles_are_reported_separately_in_yaml_order() -> None:
    flow = make_flow(
        "f", [((), ["A", "C"]), (["C"], ["D"]), (["A"], ["B"]), (["D"], ["C"]), (["B"], ["A"])]
    )
    cycles = graph.unconditional_cycles(flow, graph.startable(flow))
    assert [(c.edge.index, c.path) for c in cycles] == [(1, ("C", "D", "C")), (2, ("A", "B", "A"))]


def test_a_10000_node_cycle_is_found_without_recursion() -> None:
    flow = make_flow("f", [*chain(10_000), (["N9999"], ["N0"])])
    (cycle,) = graph.unconditional_cycles(flow, graph.startable(flow))
    assert len(cycle.path) == 10_001
    assert cycle.path[0] == cycle.path[-1] == "N0"


def test_a_10000_node_chain_has_no_cycle() -> None:
    flow = make_flow("f", chain(10_000))
    assert graph.unconditional_cycles(flow, graph.startable(flow)) == ()


# deadlocks


def test_a_join_waiting_for_its_own_target_is_a_deadlock() -> None:
    flow = make_flow("f", [((), ["A"]), (["A", "X"], ["Y"]), (["Y"], ["X"]), (["Y"], ["Z"])])
    (deadlock,) = graph.deadlocks(flow, graph.startable(flow))
    assert isinstance(deadlock.waiting, Edge)
    assert deadlock.waiting.index == 1
    assert deadlock.path == ("X", "Y", "X")


def test_a_loop_nothing_leads_into_is_unreached() -> None:
    flow = make_flow("f", [((), ["S"]), (["A"], ["B"]), (["B"], ["A"]), (["B"], ["C"])])
    (deadlock,) = graph.deadlocks(flow, graph.startable(flow))
    assert deadlock.waiting is None
    assert deadlock.path == ("A", "B", "A")


def test_nodes_after_an_unstarted_source_are_not_deadlocks() -> None:
    flow = make_flow("f", [((), ["A"]), (["A", "X"], ["B"]), (["B"], ["C"])])
    started = graph.startable(flow)
    assert graph.deadlocks(flow, started) == ()


def test_a_failure_can_wait_in_a_deadlock() -> None:
    flow = make_flow("f", [((), ["A"]), (["F"], ["X"])], [failure(0, ["A", "X"], ["F"])])
    (deadlock,) = graph.deadlocks(flow, graph.startable(flow))
    assert isinstance(deadlock.waiting, Failure)
    assert deadlock.path == ("X", "F", "X")


def test_a_fallback_that_starts_the_only_path_is_no_deadlock() -> None:
    flow = make_flow("f", [((), ["A"]), (["F"], ["B"])], [failure(0, ["A"], ["F"])])
    assert graph.deadlocks(flow, graph.startable(flow)) == ()


def test_a_10000_node_loop_nothing_leads_into() -> None:
    n = 10_000
    arcs: list[Arc] = [((), ["S"]), *(([f"N{i}"], [f"N{(i + 1) % n}"]) for i in range(n))]
    flow = make_flow("f", arcs)
    (deadlock,) = graph.deadlocks(flow, graph.startable(flow))
    assert deadlock.waiting is None
    assert len(deadlock.path) == n + 1


# sub-flows


def test_subflow_calls_mark_conditional_dead_and_fallback_calls() -> None:
    f = make_flow(
        "f",
        [
            ((), ["g"]),
            (["D"], ["g"]),
            edge(2, ["g"], ["h"], cond=True),
            (["X", "g"], ["h"]),
            (["D"], ["D"]),
        ],
        [failure(0, ["g"], ["h"])],
    )
    project = make_project(
        [f, make_flow("g", [((), ["T"])]), make_flow("h", [((), ["T"])])], tasks=["T", "X", "D"]
    )
    calls = graph.subflow_calls(project, f)
    assert [(c.ref.name, c.via.index, isinstance(c.via, Edge), c.unconditional) for c in calls] == [
        ("g", 0, True, True),
        ("g", 1, True, False),  # D only starts itself: an edge that cannot fire
        ("h", 2, True, False),
        ("h", 3, True, True),  # X is never started: assumed to start (reported apart)
        ("h", 0, False, False),
    ]


def test_a_flow_starting_itself_is_a_recursion() -> None:
    project = make_project([make_flow("f", [((), ["T"]), (["T"], ["f"])])], tasks=["T"])
    (recursion,) = graph.recursive_subflows(project)
    assert recursion.path == ("f", "f")
    assert recursion.calls[0].via.index == 1


def test_flows_starting_each_other_are_one_recursion() -> None:
    project = make_project(
        [
            make_flow("a", [((), ["b"])]),
            make_flow("b", [((), ["c"])]),
            make_flow("c", [((), ["T"]), (["T"], ["a"])]),
        ],
        tasks=["T"],
    )
    (recursion,) = graph.recursive_subflows(project)
    assert recursion.path == ("a", "b", "c", "a")
    assert [c.caller.name for c in recursion.calls] == ["a", "b", "c"]


def test_a_condition_or_a_fallback_breaks_a_recursion() -> None:
    project = make_project(
        [
            make_flow("a", [((), ["b"])]),
            make_flow(
                "b", [((), ["T"]), edge(1, ["T"], ["a"], cond=True)], [failure(0, ["T"], ["a"])]
            ),
        ],
        tasks=["T"],
    )
    assert graph.recursive_subflows(project) == ()


def test_a_chain_of_subflows_is_no_recursion() -> None:
    project = make_project(
        [
            make_flow("a", [((), ["b"])]),
            make_flow("b", [((), ["c"])]),
            make_flow("c", [((), ["T"])]),
        ],
        tasks=["T"],
    )
    assert graph.recursive_subflows(project) == ()


# properties over random flows

NAMES = ["A", "B", "C", "D", "E", "F"]
random_arcs = st.lists(
    st.tuples(
        st.lists(st.sampled_from(NAMES), max_size=3),
        st.lists(st.sampled_from(NAMES), min_size=1, max_size=2),
        st.booleans(),
    ),
    min_size=1,
    max_size=9,
)
random_failures = st.lists(
    st.tuples(
        st.lists(st.sampled_from(NAMES), min_size=1, max_size=2),
        st.one_of(st.just(True), st.lists(st.sampled_from(NAMES), min_size=1, max_size=2)),
    ),
    max_size=3,
)


def random_flow(arcs: list[tuple[list[str], list[str], bool]], fails: list[Any]) -> Flow:
    edges = [edge(i, s, t, cond=c) for i, (s, t, c) in enumerate(arcs)]
    return make_flow("f", edges, [failure(i, n, fb) for i, (n, fb) in enumerate(fails)])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(arcs=random_arcs, fails=random_failures)
def test_every_node_that_never_starts_is_explained_by_a_deadlock(
    arcs: list[tuple[list[str], list[str], bool]], fails: list[Any]
) -> None:
    flow = random_flow(arcs, fails)
    started = graph.startable(flow)
    stuck = graph.destinations(flow) - started
    found = graph.deadlocks(flow, started)
    assert bool(stuck) == bool(found)
    for deadlock in found:
        assert deadlock.path[0] == deadlock.path[-1]
        assert set(deadlock.path) <= stuck
        waiting = deadlock.waiting
        if waiting is not None:
            waits = waiting.sources if isinstance(waiting, Edge) else waiting.nodes
            assert deadlock.path[0] in {r.name for r in waits}
            assert any(r.name in started for r in waits)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(arcs=random_arcs, fails=random_failures)
def test_every_cycle_found_is_a_loop_of_unconditional_edges(
    arcs: list[tuple[list[str], list[str], bool]], fails: list[Any]
) -> None:
    flow = random_flow(arcs, fails)
    started = graph.startable(flow)
    for cycle in graph.unconditional_cycles(flow, started):
        assert cycle.edges[0] is cycle.edge
        assert len(cycle.edges) == len(cycle.path) - 1
        for e, (a, b) in zip(cycle.edges, itertools.pairwise(cycle.path), strict=True):
            assert graph.is_unconditional(e)
            assert a in {r.name for r in e.sources}
            assert b in {r.name for r in e.targets}
            assert all(r.name in started for r in e.sources)
