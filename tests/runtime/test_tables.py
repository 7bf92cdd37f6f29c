"""The compiled-system tables: placeholders, the ABI check, the indexes flows derive."""

from __future__ import annotations

import pytest

from selinonc.compiler.lower import TARGET_ABI
from selinonc.runtime import AbiMismatchError, PlaceholderError, UnknownFlowError, strategies
from selinonc.runtime.abi import RUNTIME_ABI
from selinonc.runtime.placeholders import expand
from selinonc.runtime.tables import Edge, Failure, Flow, Settings, System, Task


def test_the_compiler_emits_the_abi_the_runtime_implements() -> None:
    assert TARGET_ABI == RUNTIME_ABI


def _system(abi: int = RUNTIME_ABI) -> System:
    flow = Flow(
        name="main",
        queue="q",
        edges=(
            Edge(index=0, id="a", sources=(), targets=("A",)),
            Edge(index=1, id="b", sources=("A", "A", "B"), targets=("C",)),
            Edge(index=2, id="c", sources=("A",), targets=("B",)),
        ),
        failures=(
            Failure(index=0, nodes=frozenset({"A", "B"}), fallback=True),
            Failure(index=1, nodes=frozenset({"B", "A"}), fallback=("F",)),
        ),
    )
    task = Task(name="A", cls=object, queue="tq")
    return System(
        package="pkg",
        abi=abi,
        compiler_version="0",
        tasks={"A": task},
        flows={"main": flow},
        storages={},
        settings=Settings(),
    )


def test_a_package_built_for_another_abi_is_refused_with_the_fix() -> None:
    with pytest.raises(
        AbiMismatchError, match=r"generated for runtime ABI 99.*rebuild the package"
    ):
        _system(abi=99)


def test_flows_index_edges_by_source_once_each_and_failures_by_node_set() -> None:
    flow = _system().flow("main")
    assert [e.index for e in flow.starting_edges] == [0]
    assert [e.index for e in flow.edges_from["A"]] == [1, 2]
    assert [e.index for e in flow.edges_from["B"]] == [1]
    assert [f.index for f in flow.failures_of[frozenset({"A", "B"})]] == [0, 1]


def test_an_unknown_flow_names_the_known_ones() -> None:
    with pytest.raises(
        UnknownFlowError, match="no flow 'nope' in flow package 'pkg'; its flows are: main"
    ):
        _system().flow("nope")
    assert _system().queue_of("main") == "q"
    assert _system().queue_of("A") == "tq"


def test_placeholders_expand_from_the_environment_and_braces_escape() -> None:
    env = {"PREFIX": "prod", "N": "7"}
    assert expand("{PREFIX}_tasks_{N}", "q", env) == "prod_tasks_7"
    assert expand("{{literal}}", "q", env) == "{literal}"
    assert expand("plain", "q", env) == "plain"


def test_a_missing_placeholder_names_the_variable_and_what_needs_it() -> None:
    with pytest.raises(PlaceholderError) as info:
        expand("{PREFIX}_tasks", "the queue of task 'Fetch'", {})
    assert str(info.value) == (
        "environment variable 'PREFIX' is not set; the queue of task 'Fetch' is "
        "'{PREFIX}_tasks', so set PREFIX in the worker's environment before importing the flow "
        "package"
    )


def test_the_default_strategy_is_quick_after_progress_and_backs_off_while_waiting() -> None:
    active = {"active_nodes": ["A"]}
    assert strategies.default({"active_nodes": []}) is None
    assert strategies.default({**active, "new_started_nodes": ["A"]}) == 0.02
    delays = []
    previous = 0.02
    for _ in range(20):
        previous = strategies.default({**active, "previous_retry": previous}) or 0
        delays.append(previous)
    assert delays == sorted(delays) and delays[-1] == 2.0


def _versioned(flow_digest: str, tasks_digest: str) -> System:
    flow = Flow(name="main", queue="q", edges=(), digest=flow_digest)
    return System(
        package="pkg",
        abi=RUNTIME_ABI,
        compiler_version="0",
        tasks={},
        flows={"main": flow},
        storages={},
        settings=Settings(),
        digests={"tasks": tasks_digest},
        origins={"edge main 0": "flows.yaml:7"},
    )


def test_the_package_digest_follows_every_module_digest_and_nothing_else() -> None:
    base = _versioned("f1", "t1")
    assert len(base.digest) == 64
    assert _versioned("f1", "t1").digest == base.digest
    assert _versioned("f2", "t1").digest != base.digest  # a flow changed
    assert _versioned("f1", "t2").digest != base.digest  # the tasks changed


def test_origins_are_looked_up_by_kind_and_name() -> None:
    system = _versioned("f", "t")
    assert system.origin("edge", "main", "0") == "flows.yaml:7"
    assert system.origin("edge", "main", "1") == ""
