"""The embedded executor's limits and hooks: a timeout in virtual or real time, a cap on started
nodes, Ctrl-C, the heartbeat during real-time waits, results read back, selective runs."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from typing import Any, ClassVar

import pytest

from selinonc.runtime import SelinonTask
from selinonc.runtime.executor import (
    Executor,
    RunInterrupted,
    SelectiveNoPathError,
    UnknownTaskError,
)
from selinonc.runtime.storages.memory import InMemoryStorage
from selinonc.runtime.tables import Edge, Flow, Storage, System, Task
from tests.runtime import corekit


class Quick(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"task": self.task_name, "id": self.task_id}


class Forever(SelinonTask):
    """Asks to run again in a minute, for ever (a self-retry is never counted)."""

    def run(self, node_args: Any) -> Any:
        self.retry(countdown=60)


class Sleepy(SelinonTask):
    started: ClassVar[threading.Event] = threading.Event()

    def run(self, node_args: Any) -> Any:
        Sleepy.started.set()
        time.sleep(node_args or 5)
        return "woke"


class FlakyOnce(SelinonTask):
    seen: ClassVar[set[str]] = set()

    def run(self, node_args: Any) -> Any:
        if self.task_id not in FlakyOnce.seen:
            FlakyOnce.seen.add(self.task_id)
            raise ConnectionError("try again")
        return "ok"


def always(results: Any, node_args: Any) -> bool:
    return True


def make(*flows: Flow, tasks: dict[str, type], stored: bool = True, **options: Any) -> System:
    """A system of `flows` whose tasks are `tasks`, storing in memory unless not `stored`."""
    store = InMemoryStorage()
    return dataclasses.replace(
        corekit.system(*flows),
        package="limits",
        tasks={
            name: Task(name=name, cls=cls, queue="q", storage="S" if stored else None, **options)
            for name, cls in tasks.items()
        },
        storages={"S": Storage(name="S", create=lambda: store)},
    )


def edge(index: int, sources: tuple[str, ...], targets: tuple[str, ...], **kw: Any) -> Edge:
    return Edge(index=index, id=str(index), sources=sources, targets=targets, **kw)


LOOP = Flow(
    name="loop",
    queue="d",
    edges=(
        edge(0, (), ("Tick",)),
        edge(1, ("Tick",), ("Tock",)),
        edge(2, ("Tock",), ("Tick",), condition=always, condition_text="alwaysTrue()"),
    ),
)


def test_a_conditional_loop_stops_at_the_node_limit_with_the_nodes_it_ran() -> None:
    system = make(LOOP, tasks={"Tick": Quick, "Tock": Quick})
    report = Executor(system, max_nodes=50).run("loop")
    assert report.status == "node-limit"
    assert report.reason == "the run was about to start more than its limit of 50 nodes"
    assert len(report.nodes) == 50
    assert {n.status for n in report.nodes.values()} == {"succeeded"}
    assert report.to_json()["status"] == "node-limit"


def test_a_virtual_timeout_stops_a_run_that_retries_for_ever() -> None:
    flow = Flow(name="main", queue="d", edges=(edge(0, (), ("Quick",)), edge(1, (), ("Forever",))))
    system = make(flow, tasks={"Quick": Quick, "Forever": Forever})
    report = Executor(system, timeout=300).run("main")
    assert (report.status, report.clock) == ("timeout", 300)  # on the virtual clock
    assert report.reason == "the run reached its time limit of 300 s (virtual time)"
    forever = next(n for n in report.nodes.values() if n.name == "Forever")
    quick = next(n for n in report.nodes.values() if n.name == "Quick")
    assert (forever.status, forever.attempts, forever.due) == ("retrying", 6, 360)
    assert quick.status == "succeeded"
    assert report.flow_report["active_nodes"] == [{"name": "Forever", "id": forever.id}]


def test_a_real_time_timeout_leaves_a_running_task_behind() -> None:
    Sleepy.started.clear()
    flow = Flow(name="main", queue="d", edges=(edge(0, (), ("Sleepy",)),))
    started = time.monotonic()
    report = Executor(make(flow, tasks={"Sleepy": Sleepy}), real_time=True, timeout=0.3).run(
        "main", 30
    )
    assert time.monotonic() - started >= 0.3  # it waited for the limit, not for the task
    assert report.status == "timeout"
    assert "0.3 s (real time)" in (report.reason or "")
    (node,) = report.nodes.values()
    assert node.status == "running"


def test_the_heartbeat_beats_through_a_real_time_countdown() -> None:
    flow = Flow(name="main", queue="d", edges=(edge(0, (), ("FlakyOnce",)),))
    system = make(flow, tasks={"FlakyOnce": FlakyOnce}, max_retry=1, retry_countdown=0.5)
    seen: list[tuple[str, float | None]] = []
    executor: Executor

    def beat() -> None:
        (node,) = executor.nodes.values()
        seen.append((node.status, node.due))

    executor = Executor(system, real_time=True, heartbeat=beat)
    report = executor.run("main")
    assert report.status == "succeeded"
    waiting = [due for status, due in seen if status == "retrying"]
    assert len(waiting) >= 3  # about one beat every 0.1 s of the half-second countdown
    assert all(due is not None and 0.5 <= due < 1 for due in waiting)


def test_ctrl_c_gives_the_report_of_what_ran() -> None:
    Sleepy.started.clear()
    flow = Flow(name="main", queue="d", edges=(edge(0, (), ("Quick",)), edge(1, (), ("Sleepy",))))
    system = make(flow, tasks={"Quick": Quick, "Sleepy": Sleepy})

    def ctrl_c() -> None:  # a real SIGINT, as Ctrl-C sends, once the task sleeps
        if Sleepy.started.wait(5):
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=ctrl_c, daemon=True).start()
    with pytest.raises(RunInterrupted) as caught:
        Executor(system, real_time=True).run("main", 30)
    report = caught.value.report
    assert isinstance(caught.value, KeyboardInterrupt)  # callers that do not know it still stop
    assert report.status == "interrupted"
    states = {n.name: n.status for n in report.nodes.values()}
    assert states == {"Quick": "succeeded", "Sleepy": "running"}


def test_results_are_read_back_through_the_storage() -> None:
    sub = Flow(name="sub", queue="d", edges=(edge(0, (), ("Quick",)),))
    main = Flow(name="main", queue="d", edges=(edge(0, (), ("Quick", "sub")),))
    executor = Executor(make(main, sub, tasks={"Quick": Quick}))
    report = executor.run("main")
    by_flow = {(n.flow, n.kind): n for n in report.nodes.values()}
    task = by_flow[("main", "task")]
    assert executor.result(task.id) == {"task": "Quick", "id": task.id}
    inner = by_flow[("sub", "task")]
    assert executor.result(by_flow[("main", "flow")].id) == {
        "finished_nodes": {"Quick": [inner.id]}
    }


def test_a_result_that_is_not_kept_cannot_be_read() -> None:
    from selinonc.runtime.errors import StorageError

    flow = Flow(name="main", queue="d", edges=(edge(0, (), ("Quick",)),))
    executor = Executor(make(flow, tasks={"Quick": Quick}, stored=False))
    (node,) = executor.run("main").nodes.values()
    with pytest.raises(StorageError, match="has no stored result"):
        executor.result(node.id)


CHAIN = Flow(
    name="main",
    queue="d",
    edges=(
        edge(0, (), ("A",)),
        edge(1, ("A",), ("B",)),
        edge(2, ("B",), ("C",)),
        edge(3, ("A",), ("D",)),
    ),
)


def test_select_runs_only_what_leads_to_the_task_or_follows_it() -> None:
    executor = Executor(make(CHAIN, tasks={name: Quick for name in "ABCD"}))
    report = executor.run("main", selective=executor.select("main", ["B"]))
    assert sorted(n.name for n in report.nodes.values()) == ["A", "B"]
    executor = Executor(make(CHAIN, tasks={name: Quick for name in "ABCD"}))
    chosen = executor.select("main", ["B"], run_subsequent=True)
    assert sorted(n.name for n in executor.run("main", selective=chosen).nodes.values()) == [
        "A",
        "B",
        "C",
    ]


def test_select_names_the_known_tasks_for_an_unknown_one() -> None:
    executor = Executor(make(CHAIN, tasks={name: Quick for name in "ABCD"}))
    with pytest.raises(UnknownTaskError) as caught:
        executor.select("main", ["Bx"])
    assert str(caught.value) == (
        "'Bx' is not a task of flow package 'limits' (did you mean 'B'?); its tasks are: A, B, C, D"
    )
    with pytest.raises(UnknownTaskError, match="'main' is a flow, not a task"):
        executor.select("main", ["main"])


def test_select_of_a_task_on_no_path_of_the_flow_is_an_error() -> None:
    other = Flow(name="other", queue="d", edges=(edge(0, (), ("Z",)),))
    executor = Executor(make(CHAIN, other, tasks={name: Quick for name in "ABCDZ"}))
    with pytest.raises(SelectiveNoPathError, match="asks for 'Z'"):
        executor.select("main", ["Z"])
