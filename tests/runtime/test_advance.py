"""The scheduling core, by tables of events. Each test names its item of the conformance checklist
(selinon-reference.md §8) or the decision (decisions.md) it pins."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from selinonc.runtime.core.events import (
    FlowFailed,
    FlowFinished,
    NodeFinished,
    Start,
    StartFlow,
    StartTask,
    Timer,
)
from selinonc.runtime.core.state import FlowState
from selinonc.runtime.errors import StorageError
from selinonc.runtime.tables import Flow, Sampling
from tests.runtime.corekit import edge, failure, never, reads_field, start, system


def flow(*edges: Any, **options: Any) -> Flow:
    return Flow(name=options.pop("name", "main"), queue="d", edges=tuple(edges), **options)


# --- 63-69: starting, firing, arguments, parents ---------------------------------------------


def test_63_starting_edges_fire_when_their_condition_holds_with_the_flow_arguments() -> None:
    seen: list[Any] = []

    def wants_args(results: Any, node_args: Any) -> bool:
        seen.append(node_args)
        return bool(node_args["go"])

    s = system(
        flow(
            edge(0, [], ["A"]),
            edge(1, [], ["B"], condition=wants_args),
            edge(2, [], ["C"], condition=never),
        )
    )
    run = start(s, node_args={"go": True}, parent={"Up": "u1"})
    assert run.started() == ["A", "B"]
    assert seen == [{"go": True}]
    assert [a.parent for a in run.starts(StartTask)] == [{"Up": "u1"}, {"Up": "u1"}]
    assert run.traces("EDGE_COND_FALSE")[0]["edge"] == 2


def test_64_65_an_edge_fires_once_per_combination_when_its_last_member_finishes() -> None:
    calls: list[tuple[Any, Any]] = []

    def record(results: Any, node_args: Any) -> bool:
        calls.append((results.get("A"), results.get("B")))
        return True

    s = system(
        flow(edge(0, [], ["A", "A", "B", "B"]), edge(1, ["A", "B"], ["J"], condition=record)),
        stored={"A", "B"},
    )
    run = start(s)
    run.finish("A", "a1")
    assert calls == [] and run.started() == []  # B has not finished: nothing to combine
    run.finish("B", "b1")
    run.finish("B", "b2")
    run.finish("A", "a2")
    assert calls == [("a1", "b1"), ("a1", "b2"), ("a2", "b1"), ("a2", "b2")]
    assert run.started(run.actions).count("J") == 4


def test_66_failed_instances_never_take_part_in_an_edge() -> None:
    s = system(
        flow(edge(0, [], ["A", "A", "B"]), edge(1, ["A", "B"], ["J"])),
    )
    run = start(s)
    run.fail("A")
    run.finish("B")
    assert run.started() == []
    run.finish("A")
    assert run.started() == ["J"]


def test_67_a_false_condition_starts_nothing_and_is_traced() -> None:
    s = system(flow(edge(0, [], ["A"]), edge(1, ["A"], ["B"], condition=never)))
    run = start(s)
    run.finish("A")
    assert run.started() == []
    assert run.traces("EDGE_COND_FALSE") == [
        {
            "flow_name": "main",
            "flow_id": "F",
            "edge": 1,
            "condition": "always",
            "nodes": {"A": "F.1"},
        }
    ]


def test_68_69_tasks_get_the_flow_arguments_and_the_combination_as_parent() -> None:
    s = system(flow(edge(0, [], ["A", "B"]), edge(1, ["A", "B"], ["C"])))
    run = start(s, node_args={"x": 1})
    run.finish("A")
    run.finish("B")
    (c,) = run.starts(StartTask)
    assert c.node_args == {"x": 1}
    assert c.parent == {"B": "F.2", "A": "F.1"}


# --- 70-74: sub-flows ------------------------------------------------------------------------


def _subflows(**options: Any) -> Any:
    inner = flow(edge(0, [], ["T"]), name="sub2")
    sub = flow(edge(0, [], ["B", "sub2"]), name="sub")
    main = flow(
        edge(0, [], ["A", "sub"]), edge(1, ["sub", "A"], ["D"]), edge(2, ["A"], ["sub3"]), **options
    )
    sub3 = flow(edge(0, [], ["X"]), name="sub3")
    return system(main, sub, inner, sub3)


SUB_REPORT = {
    "finished_nodes": {"B": ["s.1"], "sub2": ["s.2"]},
    "failed_nodes": {},
    "subflows": {"s.2": {"finished_nodes": {"T": ["t.1", "t.2"]}, "subflows": {}}},
}


def test_70_a_sub_flow_source_is_in_parent_only_with_propagate_finished() -> None:
    run = start(_subflows())
    run.finish("A")
    run.finish("sub", report=SUB_REPORT)
    assert (
        run.starts(StartTask)[0].parent == {"sub": {"B": ["s.1"], "sub2": {"T": ["t.1", "t.2"]}}}
        if False
        else run.starts(StartTask)[0].parent == {"A": "F.1"}
    )


def test_71_propagate_finished_nests_the_tasks_of_nested_sub_flows() -> None:
    run = start(_subflows(propagate_finished=True))
    run.finish("A")
    run.finish("sub", report=SUB_REPORT)
    (d,) = run.starts(StartTask)
    assert d.parent == {"sub": {"B": ["s.1"], "sub2": {"T": ["t.1", "t.2"]}}, "A": "F.1"}


def test_72_propagate_compound_finished_flattens_every_level() -> None:
    run = start(_subflows(propagate_compound_finished=frozenset({"sub"})))
    run.finish("A")
    run.finish("sub", report=SUB_REPORT)
    assert run.starts(StartTask)[0].parent == {
        "sub": {"B": ["s.1"], "T": ["t.1", "t.2"]},
        "A": "F.1",
    }


def test_73_sub_flows_get_arguments_and_parent_only_when_propagated() -> None:
    run = start(_subflows(), node_args={"k": 1})
    assert [(a.name, a.node_args, a.parent) for a in run.starts(StartFlow)] == [("sub", None, None)]
    run.finish("A")
    assert [(a.name, a.node_args, a.parent) for a in run.starts(StartFlow)] == [
        ("sub3", None, None)
    ]
    run = start(
        _subflows(propagate_node_args=frozenset({"sub3"}), propagate_parent=True),
        node_args={"k": 1},
    )
    assert [(a.node_args, a.parent) for a in run.starts(StartFlow)] == [(None, {})]
    run.finish("A")
    assert [(a.node_args, a.parent) for a in run.starts(StartFlow)] == [({"k": 1}, {"A": "F.1"})]


def test_74_conditions_read_task_results_only() -> None:
    seen: list[Any] = []

    def peek(results: Any, node_args: Any) -> bool:
        seen.append((results.get("sub"), results.get("A")))
        return True

    s = system(
        flow(edge(0, [], ["A", "sub"]), edge(1, ["A", "sub"], ["D"], condition=peek)),
        flow(edge(0, [], ["B"]), name="sub"),
        stored={"A"},
    )
    run = start(s)
    run.finish("A", {"a": 1})
    run.finish("sub", report={"finished_nodes": {"B": ["b"]}})
    assert seen == [(None, {"a": 1})]


# --- 75-78: foreach --------------------------------------------------------------------------


def test_75_76_foreach_runs_after_a_true_condition_and_interleaves_its_targets() -> None:
    calls: list[Any] = []

    def items(results: Any, node_args: Any) -> list[int]:
        calls.append((results.get("A"), node_args))
        return [1, 2, 3]

    s = system(flow(edge(0, [], ["A"]), edge(1, ["A"], ["X", "Y"], foreach=items)), stored={"A"})
    run = start(s, node_args="args")
    run.finish("A", "a")
    assert calls == [("a", "args")]
    assert run.started() == ["X", "Y", "X", "Y", "X", "Y"]
    gated = system(flow(edge(0, [], ["A"]), edge(1, ["A"], ["X"], foreach=items, condition=never)))
    run = start(gated)
    run.finish("A")
    assert run.started() == [] and len(calls) == 1


def test_76_78_a_falsy_foreach_starts_nothing_but_the_edge_counts_as_triggered() -> None:
    s = system(flow(edge(0, [], ["A"]), edge(1, ["A"], ["X"], foreach=lambda r, a: [])))
    run = start(s)
    run.finish("A")
    assert run.started() == []
    assert run.state.triggered == {"e0", "e1"}
    assert isinstance(run.ended(), FlowFinished)


def test_77_propagate_result_gives_each_item_to_a_sub_flow_as_its_arguments() -> None:
    s = system(
        flow(
            edge(0, [], ["A"]),
            edge(1, ["A"], ["sub"], foreach=lambda r, a: ["x", "y"], propagate_result=True),
        ),
        flow(edge(0, [], ["B"]), name="sub"),
    )
    run = start(s, node_args="flow args")
    run.finish("A")
    assert [a.node_args for a in run.starts(StartFlow)] == ["x", "y"]


# --- 79: nowait ------------------------------------------------------------------------------


def test_79_nowait_nodes_are_never_tracked_and_the_flow_ends_while_they_run() -> None:
    s = system(flow(edge(0, [], ["A", "N"]), edge(1, ["N"], ["M"]), nowait=frozenset({"N"})))
    run = start(s)
    assert run.started() == ["A", "N"]
    assert list(run.state.active.values()) == ["A"]
    assert "e1" not in run.state.waiting
    run.finish("A")
    assert isinstance(run.ended(), FlowFinished)
    assert run.ended().report["nowait_nodes"] == {"N": ["F.2"]}  # type: ignore[union-attr]


# --- 80-88: failures and fallbacks -----------------------------------------------------------


def test_80_fallbacks_wait_until_nothing_is_active() -> None:
    s = system(flow(edge(0, [], ["A", "B"]), failures=(failure(0, ["A"], ["F"]),)))
    run = start(s)
    run.fail("A")
    assert run.started() == []
    run.finish("B")
    assert run.started() == ["F"]


def test_81_82_fallbacks_are_greedy_and_disjoint_ones_start_together() -> None:
    s = system(
        flow(
            edge(0, [], ["A", "B", "C"]),
            failures=(
                failure(0, ["A"], ["FA"]),
                failure(1, ["A", "B"], ["FAB"]),
                failure(2, ["C"], ["FC"]),
                failure(3, ["B", "C"], ["FBC"]),
            ),
        )
    )
    run = start(s)
    run.fail("A")
    run.fail("B")
    run.fail("C")
    # {A, B} and {B, C} have the same size: {A, B} comes first; then C alone is left.
    assert run.started() == ["FAB", "FC"]
    assert run.state.failed == {}


def test_83_one_failed_instance_is_handled_per_application_while_all_have_one() -> None:
    s = system(
        flow(
            edge(0, [], ["A", "A", "B"]),
            failures=(failure(0, ["A", "B"], ["F"]), failure(1, ["A"], ["G"])),
        )
    )
    run = start(s)
    run.fail("A")
    run.fail("A")
    run.fail("B")
    # {A, B} handles one A and B; A still has a failure, so {A} handles it in the same pass.
    assert run.started() == ["F", "G"]
    assert run.state.handled == {"A": ["F.1", "F.2"], "B": ["F.3"]}


def test_84_fallback_true_marks_the_failure_handled_and_starts_nothing() -> None:
    s = system(flow(edge(0, [], ["A"]), failures=(failure(0, ["A"], True),)))
    run = start(s)
    run.fail("A")
    assert run.started() == []
    assert isinstance(run.ended(), FlowFinished)
    assert run.ended().report["handled_failures"] == {"A": ["F.1"]}  # type: ignore[union-attr]


def test_85_86_fallback_conditions_see_no_results_and_fallbacks_get_the_failed_ids() -> None:
    # decisions.md, runtime 4: the fallback's parent holds the ids of the failures it handles.
    seen: list[Any] = []

    def check(results: Any, node_args: Any) -> bool:
        seen.append((results.get("A"), node_args))
        return True

    s = system(
        flow(edge(0, [], ["A"]), failures=(failure(0, ["A"], ["F"], condition=check),)),
        stored={"A"},
    )
    run = start(s, node_args={"n": 1})
    run.fail("A")
    assert seen == [(None, {"n": 1})]
    (f,) = run.starts(StartTask)
    assert (f.name, f.parent, f.node_args, f.fallback) == ("F", {"A": "F.1"}, {"n": 1}, True)


def test_85_a_false_fallback_condition_leaves_the_failure_unhandled() -> None:
    s = system(flow(edge(0, [], ["A"]), failures=(failure(0, ["A"], ["F"], condition=never),)))
    run = start(s)
    run.fail("A")
    assert run.started() == [] and isinstance(run.ended(), FlowFailed)
    assert run.traces("FALLBACK_COND_FALSE")


def test_87_a_nowait_fallback_ends_the_fallback_pass() -> None:
    s = system(
        flow(
            edge(0, [], ["A", "B"]),
            failures=(failure(0, ["A"], ["N"]), failure(1, ["B"], ["G"])),
            nowait=frozenset({"N"}),
        )
    )
    run = start(s)
    run.fail("A")
    run.fail("B")
    assert run.started() == ["N"]  # B's fallback waits for another pass
    assert isinstance(run.ended(), FlowFailed)  # nothing active, B unhandled


def test_88_a_fallback_node_s_edges_fire_like_any_other() -> None:
    s = system(
        flow(edge(0, [], ["A"]), edge(1, ["F"], ["After"]), failures=(failure(0, ["A"], ["F"]),))
    )
    run = start(s)
    run.fail("A")
    run.finish("F")
    assert run.started() == ["After"]
    run.finish("After")
    assert isinstance(run.ended(), FlowFinished)


def test_89_unhandled_failures_with_nothing_active_fail_the_flow_with_its_real_state() -> None:
    # decisions.md, runtime 3: the report says which nodes finished and which failed.
    s = system(flow(edge(0, [], ["A", "B"])))
    run = start(s)
    run.finish("A")
    run.fail("B")
    end = run.ended()
    assert isinstance(end, FlowFailed)
    assert end.report["finished_nodes"] == {"A": ["F.1"]}
    assert end.report["failed_nodes"] == {"B": ["F.2"]}
    assert "no fallback handles them: B" in end.reason


def test_90_an_eager_failure_fails_the_flow_at_once_while_others_still_run() -> None:
    s = system(flow(edge(0, [], ["A", "B"]), eager_failures=frozenset({"A"})))
    run = start(s)
    run.fail("A")
    end = run.ended()
    assert isinstance(end, FlowFailed) and "eager failure" in end.reason
    assert end.report["active_nodes"] == [{"name": "B", "id": "F.2"}]  # not revoked
    run.finish("B")  # its late completion is ignored
    assert run.last == []


# --- 91-94: flow retries and dispatcher errors -------------------------------------------------


def test_91_92_a_failed_flow_restarts_from_scratch_until_max_retry_then_fails() -> None:
    s = system(flow(edge(0, [], ["A"]), max_retry=2, retry_countdown=30))
    run = start(s)
    for attempt in (1, 2):
        run.fail("A")
        assert run.wakeups() == [30] and run.state.retried == attempt
        assert run.state.active == {} and run.ended() is None
        run.step(Timer())
        assert run.started() == ["A"]
    run.fail("A")
    assert isinstance(run.ended(), FlowFailed) and run.state.status == "failed"
    # 62: the flow keeps its id across retries; node ids keep counting, none is reused.
    assert run.state.id == "F" and run.active_ids("A") == []
    assert [a.node_id for a in run.actions if isinstance(a, StartTask)] == ["F.1", "F.2", "F.3"]


def test_91_nodes_of_an_abandoned_attempt_are_ignored() -> None:
    s = system(flow(edge(0, [], ["A", "B"]), max_retry=1, eager_failures=frozenset({"A"})))
    run = start(s)
    old_b = run.active_ids("B")[0]
    run.fail("A")
    run.step(Timer())
    assert run.step(NodeFinished(old_b)) == []


def test_93_a_storage_error_leaves_the_state_as_it_was_so_the_step_can_be_retried() -> None:
    # decisions.md, runtime 5: nothing is published twice by a retried step.
    s = system(
        flow(
            edge(0, [], ["A", "B"]),
            edge(1, ["A"], ["C"]),
            edge(2, ["A"], ["D"], condition=reads_field("A", "ok", True)),
        ),
        stored={"A"},
    )
    run = start(s)
    before = run.state.to_json()
    run.broken_storage = True
    node = run.active_ids("A")[0]
    run.results[node] = {"ok": True}
    with pytest.raises(StorageError):
        run.step(NodeFinished(node))
    assert run.state.to_json() == before
    run.broken_storage = False
    run.step(NodeFinished(node))
    assert run.started() == ["C", "D"]
    assert [a.node_id for a in run.starts(StartTask)] == ["F.3", "F.4"]


def test_94_an_exception_in_a_condition_fails_the_flow_without_a_retry() -> None:
    def broken(results: Any, node_args: Any) -> bool:
        raise ZeroDivisionError("oops")

    s = system(flow(edge(0, [], ["A"]), edge(1, ["A"], ["B"], condition=broken), max_retry=3))
    run = start(s)
    run.finish("A")
    end = run.ended()
    assert (
        isinstance(end, FlowFailed) and end.reason == "dispatcher failure: ZeroDivisionError: oops"
    )
    assert run.started() == [] and run.wakeups() == []
    assert run.traces("DISPATCHER_FAILURE")


# --- 95-98: sampling and node_args_from_first ----------------------------------------------


def test_95_96_the_strategy_sees_the_status_and_none_ends_the_flow_even_with_active_nodes() -> None:
    statuses: list[dict[str, Any]] = []

    def stop_after_first(status: Any, limit: int) -> float | None:
        statuses.append({k: (list(v) if k == "active_nodes" else v) for k, v in status.items()})
        return 5 if len(statuses) < limit else None

    sampling = Sampling(name="custom", function=stop_after_first, args={"limit": 2})
    s = system(flow(edge(0, [], ["A", "B"]), sampling=sampling))
    run = start(s)
    assert run.rechecks() == [5]
    assert set(statuses[0]) == {
        "previous_retry",
        "active_nodes",
        "failed_nodes",
        "finished_nodes",
        "new_started_nodes",
        "new_fallback_nodes",
    }
    assert statuses[0]["active_nodes"] == [{"name": "A", "id": "F.1"}, {"name": "B", "id": "F.2"}]
    assert statuses[0]["new_started_nodes"] == ["F.1", "F.2"]
    run.finish("A")
    assert statuses[1]["previous_retry"] == 5
    end = run.ended()
    assert isinstance(end, FlowFinished)
    assert end.report["active_nodes"] == [{"name": "B", "id": "F.2"}]


def test_98_node_args_from_first_replaces_the_arguments_with_the_first_result() -> None:
    s = system(
        flow(edge(0, [], ["A"]), edge(1, ["A"], ["B"]), node_args_from_first=True), stored={"A"}
    )
    run = start(s, node_args="original")
    run.finish("A", {"from": "A"})
    assert run.starts(StartTask)[0].node_args == {"from": "A"}
    assert run.state.node_args == {"from": "A"}


# --- decisions.md, runtime 7: *_failures propagation ------------------------------------------


def test_decision_7_a_failed_sub_flow_s_fallback_sees_its_failed_nodes() -> None:
    report = {
        "failed_nodes": {"T": ["t.1"], "sub2": ["s.2"]},
        "subflows": {"s.2": {"failed_nodes": {"U": ["u.1"]}}},
    }
    for option, expected in (
        ({}, "F.1"),
        ({"propagate_failures": True}, {"T": ["t.1"], "sub2": {"U": ["u.1"]}}),
        ({"propagate_compound_failures": True}, {"T": ["t.1"], "U": ["u.1"]}),
    ):
        s = system(
            flow(edge(0, [], ["sub"]), failures=(failure(0, ["sub"], ["F", "fsub"]),), **option),
            flow(edge(0, [], ["T", "sub2"]), name="sub"),
            flow(edge(0, [], ["U"]), name="sub2"),
            flow(edge(0, [], ["V"]), name="fsub"),
        )
        run = start(s)
        run.fail("sub", report=report)
        task, sub = run.starts()
        assert task.parent == {"sub": expected}
        assert sub.parent is None  # propagate_parent_failures is off


# --- state as a value -------------------------------------------------------------------------


def test_the_state_round_trips_through_json_mid_flow() -> None:
    s = system(flow(edge(0, [], ["A", "B"]), edge(1, ["A", "B"], ["C"])))
    run = start(s)
    run.finish("A")
    copy = FlowState.from_json(json.loads(json.dumps(run.state.to_json())))
    assert copy.to_json() == run.state.to_json()
    run.state = copy
    run.finish("B")
    assert run.started() == ["C"]


def test_a_duplicate_start_or_finish_is_ignored() -> None:
    s = system(flow(edge(0, [], ["A"]), edge(1, ["A"], ["B"])))
    run = start(s)
    assert run.step(Start()) == []
    node = run.active_ids("A")[0]
    run.step(NodeFinished(node))
    assert run.step(NodeFinished(node)) == []


def _polling_seconds(sampling: Sampling | None) -> float:
    """What a polling dispatcher waits in all on a chain of five instant tasks: the sum of the
    strategy's delays, as each look finds the previous task done."""
    names = ["T0", "T1", "T2", "T3", "T4"]
    edges = [edge(0, [], ["T0"])] + [
        edge(i, [a], [b]) for i, (a, b) in enumerate(itertools.pairwise(names), start=1)
    ]
    run = start(system(flow(*edges, sampling=sampling)))
    waited = sum(run.rechecks())
    for name in names:
        run.finish(name)
        waited += sum(run.rechecks())
    assert isinstance(run.ended(), FlowFinished)
    return waited


def test_decision_6_the_default_sampling_keeps_a_chain_of_five_under_a_second() -> None:
    from selinonc.runtime import strategies

    assert _polling_seconds(None) < 1
    predecessor = Sampling(
        name="biexponential_increase",
        function=strategies.biexponential_increase,
        args={"start_retry": 2, "max_retry": 120},
    )
    assert _polling_seconds(predecessor) == 2 + 4 + 8 + 16 + 32  # about a minute


def test_a_step_that_raises_after_handling_a_failure_is_rolled_back_whole() -> None:
    # The fallback for B reads a broken storage after A's failure was already handled.
    def broken_storage(results: Any, node_args: Any) -> bool:
        raise StorageError("the storage is down")

    s = system(
        flow(
            edge(0, [], ["A", "B"]),
            failures=(
                failure(0, ["A"], ["FA"]),
                failure(1, ["B"], ["FB"], condition=broken_storage),
            ),
        )
    )
    run = start(s)
    run.fail("B")
    before = run.state.to_json()
    with pytest.raises(StorageError):
        run.fail("A")
    assert run.state.to_json() == before


def test_fallbacks_stay_cheap_with_many_distinct_failed_nodes() -> None:
    # Looking at every subset of 25 failed names would take minutes; the flow fails at once.
    names = [f"T{i}" for i in range(25)]
    s = system(flow(edge(0, [], names), failures=(failure(0, ["T3", "T7"], ["F"]),)))
    run = start(s)
    for name in names:
        run.fail(name)
    assert run.started() == ["F"]  # {T3, T7} handled; the others stay unhandled until F ends
    run.finish("F")
    assert isinstance(run.ended(), FlowFailed)
    assert run.ended().report["handled_failures"] == {"T3": ["F.4"], "T7": ["F.8"]}  # type: ignore[union-attr]
