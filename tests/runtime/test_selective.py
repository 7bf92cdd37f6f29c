"""Selective runs: only what leads to the wanted tasks runs (selinon-reference.md §4.21)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from selinonc.runtime.core import selective
from selinonc.runtime.core.events import StartFlow
from selinonc.runtime.core.selective import SelectiveNoPathError
from selinonc.runtime.tables import Failure, Flow, Selective
from tests.runtime.corekit import edge, start, system


def flow(*edges: Any, name: str = "main", **options: Any) -> Flow:
    return Flow(name=name, queue="d", edges=tuple(edges), **options)


DIAMOND = flow(
    edge(0, [], ["A"]),
    edge(1, ["A"], ["B", "C"]),
    edge(2, ["B"], ["D"]),
    edge(3, ["C"], ["E"]),
    edge(4, ["D", "E"], ["F"]),
)


def test_116_the_paths_to_the_wanted_task_are_computed_backwards() -> None:
    chosen = selective.compute(system(DIAMOND), "main", ["D"])
    assert chosen["subsets"] == {"main": {"e0": ["A"], "e1": ["B"], "e2": ["D"]}}


def test_117_run_subsequent_adds_what_follows_the_wanted_tasks() -> None:
    chosen = selective.compute(system(DIAMOND), "main", ["B", "C"], run_subsequent=True)
    assert chosen["subsets"]["main"] == {
        "e0": ["A"],
        "e1": ["B", "C"],
        "e2": ["D"],
        "e3": ["E"],
        "e4": ["F"],
    }


def test_115_a_wanted_task_on_no_path_is_an_error() -> None:
    with pytest.raises(SelectiveNoPathError, match="asks for 'Z'"):
        selective.compute(system(DIAMOND), "main", ["Z"])


def test_113_a_selective_run_omits_the_edges_and_nodes_off_its_paths() -> None:
    s = system(DIAMOND)
    run = start(s, selective=selective.compute(s, "main", ["D"]))
    assert run.started() == ["A"]
    run.finish("A")
    assert run.started() == ["B"]  # C is off the path
    assert run.traces("SELECTIVE_OMIT_NODE") == [
        {"flow_name": "main", "flow_id": "F", "edge": 1, "node_name": "C"}
    ]
    run.finish("B")
    assert run.started() == ["D"]
    run.finish("D")
    assert run.ended() is not None and run.state.status == "succeeded"


def test_114_a_task_that_is_not_wanted_may_reuse_an_earlier_result() -> None:
    calls: list[tuple[Any, ...]] = []

    def reuse(flow_name: str, node_name: str, node_args: Any, names: Any, results: Any) -> Any:
        calls.append((flow_name, node_name, names))
        return "old-A-id"

    s = system(flow(edge(0, [], ["A"]), edge(1, ["A"], ["B"])))
    tasks = dict(s.tasks)
    tasks["A"] = dataclasses.replace(tasks["A"], selective_run_function=reuse)
    s = dataclasses.replace(s, tasks=tasks)
    run = start(s, selective=selective.compute(s, "main", ["B"]))
    assert calls == [("main", "A", ["B"])]
    assert run.started() == ["B"]  # A was taken as finished with the reused id
    assert run.starts()[0].parent == {"A": "old-A-id"}
    assert run.traces("SELECTIVE_TASK_REUSE")[0]["task_id"] == "old-A-id"


def test_decision_8_a_sub_flow_on_the_path_without_follow_subflows_runs_whole() -> None:
    sub = flow(edge(0, [], ["X"]), edge(1, [], ["Y"]), name="sub")
    main = flow(
        edge(0, [], ["A"]),
        edge(1, ["A"], ["sub"]),
        edge(2, ["sub"], ["Z"]),
        propagate_finished=True,
    )
    s = system(main, sub)
    run = start(s, selective=selective.compute(s, "main", ["Z"]))
    run.finish("A")
    (started,) = run.starts(StartFlow)
    assert started.selective is None  # the whole sub-flow runs, where the predecessor crashed


def test_a_selective_edge_starts_its_sub_flow_as_a_selective_run() -> None:
    sub = flow(edge(0, [], ["X"]), edge(1, [], ["Y"]), name="sub")
    main = flow(edge(0, [], ["A"]), edge(1, ["A"], ["sub"], selective=Selective(task_names=("Y",))))
    run = start(system(main, sub))
    run.finish("A")
    (started,) = run.starts(StartFlow)
    assert started.selective is not None
    assert started.selective["subsets"] == {"sub": {"e1": ["Y"]}}


def test_follow_subflows_runs_the_sub_flow_selectively_too() -> None:
    sub = flow(edge(0, [], ["X"]), edge(1, [], ["Y"]), name="sub")
    main = flow(edge(0, [], ["A", "B"]), edge(1, ["A"], ["sub"]), name="main")
    s = system(main, sub)
    chosen = selective.compute(s, "main", ["Y"], follow_subflows=True)
    assert chosen["subsets"] == {"main": {"e0": ["A"], "e1": ["sub"]}, "sub": {"e1": ["Y"]}}
    run = start(s, selective=chosen)
    assert run.started() == ["A"]
    run.finish("A")
    (started,) = run.starts(StartFlow)
    assert started.selective is chosen


def test_a_fallback_in_a_selective_run_is_never_reused() -> None:
    def reuse(*args: Any) -> str:
        return "old-id"

    main = flow(
        edge(0, [], ["A"]),
        edge(1, ["A"], ["B"]),
        failures=(Failure(index=0, nodes=frozenset({"A"}), fallback=("FB",)),),
    )
    s = system(main)
    tasks = dict(s.tasks)
    tasks["FB"] = dataclasses.replace(tasks["FB"], selective_run_function=reuse)
    s = dataclasses.replace(s, tasks=tasks)
    run = start(s, selective=selective.compute(s, "main", ["B"]))
    run.fail("A")
    assert run.started() == ["FB"]
