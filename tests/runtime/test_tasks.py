"""Tasks on the embedded executor: retries, fatal errors, output schemas, storing, the task API,
virtual time. Each test names its checklist item (selinon-reference.md §8) or decision."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import pytest

from selinonc.runtime import FatalTaskError, SelinonTask, UnknownFlowError
from selinonc.runtime.abi import RUNTIME_ABI
from selinonc.runtime.errors import NoParentNodeError, RequestError
from selinonc.runtime.executor import Executor
from selinonc.runtime.storages.filesystem import Filesystem
from selinonc.runtime.storages.memory import InMemoryStorage
from selinonc.runtime.tables import Edge, Failure, Flow, Settings, Storage, System, Task, Tracer
from selinonc.runtime.trace import EVENTS, NUMBER, tracer_for
from selinonc.runtime.trace import Tracer as TraceDispatcher

CALLS: list[tuple[str, Any]] = []


class Echo(SelinonTask):
    def run(self, node_args: Any) -> Any:
        CALLS.append((self.task_name, node_args))
        return {"task": self.task_name, "args": node_args}


class Flaky(SelinonTask):
    failures: ClassVar[dict[str, int]] = {}

    def run(self, node_args: Any) -> Any:
        seen = Flaky.failures.get(self.task_id, 0)
        Flaky.failures[self.task_id] = seen + 1
        if seen < node_args["fail_times"]:
            raise ConnectionError(f"attempt {seen + 1} failed")
        return {"attempts": seen + 1}


class Fatal(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise FatalTaskError("the input is wrong")


class SelfRetry(SelinonTask):
    def run(self, node_args: Any) -> Any:
        seen = Flaky.failures.get(self.task_id, 0)
        Flaky.failures[self.task_id] = seen + 1
        if seen < 5:
            self.retry(countdown=7)
        return "done"


class ReadsParents(SelinonTask):
    def run(self, node_args: Any) -> Any:
        result = {"parent": self.parent_task_result("Source")}
        with pytest.raises(NoParentNodeError, match="'Nope' is not a parent task"):
            self.parent_task_result("Nope")
        with pytest.raises(RequestError, match="did not fail"):
            self.parent_task_exception("Source")
        return result


class HandlesFailure(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"exception": repr(self.parent_task_exception("Broken"))}


class Broken(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise ValueError("broken on purpose")


class ReadsSubflow(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {
            "last": self.parent_flow_result("sub", "Echo"),
            "first": self.parent_flow_result(["sub"], "Echo", index=0),
        }


def make_system(
    flows: list[Flow],
    tasks: dict[str, tuple[type, dict[str, Any]]],
    tracers: tuple[Tracer, ...] = (),
    storage: Any = None,
) -> System:
    store = storage or InMemoryStorage()
    return System(
        package="test",
        abi=RUNTIME_ABI,
        compiler_version="0",
        tasks={
            name: Task(name=name, cls=cls, queue="q", **{"storage": "S", **options})
            for name, (cls, options) in tasks.items()
        },
        flows={f.name: f for f in flows},
        storages={"S": Storage(name="S", create=lambda: store)},
        settings=Settings(tracers=tracers),
    )


def chain(*names: str, name: str = "main", **options: Any) -> Flow:
    edges = [Edge(index=0, id="0", sources=(), targets=(names[0],))]
    edges += [
        Edge(index=i, id=str(i), sources=(a,), targets=(b,))
        for i, (a, b) in enumerate(itertools.pairwise(names), start=1)
    ]
    return Flow(name=name, queue="d", edges=tuple(edges), **options)


@pytest.fixture(autouse=True)
def _clean() -> None:
    CALLS.clear()
    Flaky.failures.clear()


def test_60_an_unknown_flow_is_refused() -> None:
    executor = Executor(make_system([chain("Echo")], {"Echo": (Echo, {})}))
    with pytest.raises(UnknownFlowError, match="no flow 'nope'"):
        executor.run("nope")


def test_61_a_sub_flow_s_dispatcher_id_is_its_node_id() -> None:
    sub = chain("Echo", name="sub")
    s = make_system(
        [
            Flow(
                name="main", queue="d", edges=(Edge(index=0, id="0", sources=(), targets=("sub",)),)
            ),
            sub,
        ],
        {"Echo": (Echo, {})},
    )
    report = Executor(s).run("main")
    (subflow,) = [n for n in report.nodes.values() if n.kind == "flow"]
    (task,) = [n for n in report.nodes.values() if n.kind == "task"]
    assert task.flow_id == subflow.id == "flow.1"


def test_99_a_failing_task_is_retried_max_retry_times_with_the_same_id_after_its_countdown() -> (
    None
):
    s = make_system([chain("Flaky")], {"Flaky": (Flaky, {"max_retry": 3, "retry_countdown": 30})})
    report = Executor(s).run("main", {"fail_times": 2})
    (node,) = report.nodes.values()
    assert (node.status, node.attempts, node.retries) == ("succeeded", 3, 2)
    assert Flaky.failures == {node.id: 3}
    assert report.clock == 60  # two countdowns of 30 s, on the virtual clock (decision 9)


def test_99_a_task_that_keeps_failing_fails_after_its_last_retry() -> None:
    s = make_system([chain("Flaky")], {"Flaky": (Flaky, {"max_retry": 1})})
    report = Executor(s).run("main", {"fail_times": 5})
    (node,) = report.nodes.values()
    assert (report.status, node.status, node.attempts) == ("failed", "failed", 2)
    assert node.error is not None and "ConnectionError: attempt 2 failed" in node.error


def test_100_a_fatal_task_error_is_never_retried() -> None:
    s = make_system([chain("Fatal")], {"Fatal": (Fatal, {"max_retry": 5})})
    report = Executor(s).run("main")
    (node,) = report.nodes.values()
    assert (node.status, node.attempts) == ("failed", 1)
    assert node.error is not None and "FatalTaskError: the input is wrong" in node.error


def test_101_self_retry_is_unlimited_and_not_counted() -> None:
    s = make_system([chain("SelfRetry")], {"SelfRetry": (SelfRetry, {"max_retry": 0})})
    report = Executor(s).run("main")
    (node,) = report.nodes.values()
    assert (node.status, node.attempts, report.clock) == ("succeeded", 6, 35)


def test_102_a_result_that_fails_its_output_schema_is_a_retryable_task_error() -> None:
    schema = {"type": "object", "required": ["count"]}
    s = make_system([chain("Echo")], {"Echo": (Echo, {"output_schema": schema, "max_retry": 2})})
    report = Executor(s).run("main", 1)
    (node,) = report.nodes.values()
    assert (node.status, node.attempts) == ("failed", 3)
    assert "does not match its output_schema" in (node.error or "")
    assert '"count" is a required property' in (node.error or "")
    ok = make_system([chain("Echo")], {"Echo": (Echo, {"output_schema": {"type": "object"}})})
    assert Executor(ok).run("main").status == "succeeded"


def test_103_104_results_are_stored_under_storage_task_name_and_readonly_discards() -> None:
    # decisions.md, runtime 2: storage_task_name is used to read the result back too.
    store = InMemoryStorage()
    s = make_system(
        [chain("Echo", "Reader", "Quiet")],
        {
            "Echo": (Echo, {"storage_task_name": "alias"}),
            "Reader": (ReadsAlias, {}),
            "Quiet": (Echo, {"storage_readonly": True}),
        },
        storage=store,
    )
    seen: list[str] = []
    executor = Executor(s, tracer=TraceDispatcher([lambda n, m: seen.append(EVENTS[n])]))
    report = executor.run("main", "x")
    assert report.status == "succeeded"
    reader = next(n for n in report.nodes.values() if n.name == "Reader")
    assert store.retrieve("main", "Reader", reader.id) == {"echo": {"task": "Echo", "args": "x"}}
    quiet = next(n for n in report.nodes.values() if n.name == "Quiet")
    assert quiet.result is None and seen.count("TASK_DISCARD_RESULT") == 1
    assert seen.count("STORAGE_STORE") == 2


class ReadsAlias(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return {"echo": self.parent_task_result("Echo")}


def test_105_a_final_failure_is_stored_as_an_error_when_the_storage_records_errors(
    tmp_path: Path,
) -> None:
    store = InMemoryStorage()
    seen: list[str] = []
    s = make_system([chain("Broken")], {"Broken": (Broken, {})}, storage=store)
    Executor(s, tracer=TraceDispatcher([lambda n, m: seen.append(EVENTS[n])])).run("main")
    assert "STORAGE_STORE_ERROR" in seen
    assert next(iter(store._errors.values()))[0] is ValueError
    fs_seen: list[str] = []
    tmp_store = Filesystem(path=str(tmp_path))  # records no errors
    s = make_system([chain("Broken")], {"Broken": (Broken, {})}, storage=tmp_store)
    Executor(s, tracer=TraceDispatcher([lambda n, m: fs_seen.append(EVENTS[n])])).run("main")
    assert "STORAGE_OMIT_STORE_ERROR" in fs_seen


def test_106_one_storage_instance_per_process_created_and_connected_on_first_use() -> None:
    created: list[InMemoryStorage] = []

    def create() -> InMemoryStorage:
        created.append(InMemoryStorage())
        return created[-1]

    s = make_system([chain("Echo", "Echo2")], {"Echo": (Echo, {}), "Echo2": (Echo, {})})
    s = System(
        package=s.package,
        abi=s.abi,
        compiler_version="0",
        tasks=s.tasks,
        flows=s.flows,
        storages={"S": Storage(name="S", create=create)},
        settings=s.settings,
    )
    executor = Executor(s)
    assert created == []
    executor.run("main")
    assert len(created) == 1 and created[0].is_connected()


def test_110_112_the_task_api_reads_parents_and_refuses_what_is_not_a_parent() -> None:
    s = make_system(
        [chain("Source", "ReadsParents")],
        {"Source": (Echo, {}), "ReadsParents": (ReadsParents, {})},
    )
    report = Executor(s).run("main", 5)
    assert report.status == "succeeded", [n.error for n in report.nodes.values()]


def test_decision_4_a_fallback_reads_the_exception_of_the_failure_it_handles() -> None:
    flow = chain(
        "Broken",
        failures=(Failure(index=0, nodes=frozenset({"Broken"}), fallback=("HandlesFailure",)),),
    )
    store = InMemoryStorage()
    s = make_system(
        [flow], {"Broken": (Broken, {}), "HandlesFailure": (HandlesFailure, {})}, storage=store
    )
    report = Executor(s).run("main")
    handler = next(n for n in report.nodes.values() if n.name == "HandlesFailure")
    assert report.status == "succeeded"
    exc = store.retrieve("main", "HandlesFailure", handler.id)["exception"]
    assert exc == "ValueError('broken on purpose')"


def test_111_parent_flow_result_walks_a_finished_sub_flow_last_by_default() -> None:
    sub = Flow(
        name="sub",
        queue="d",
        edges=(
            Edge(index=0, id="0", sources=(), targets=("Echo",)),
            Edge(index=1, id="1", sources=("Echo",), targets=("Echo",), condition=_first_only),
        ),
    )
    main = Flow(
        name="main",
        queue="d",
        propagate_finished=True,
        propagate_node_args=True,
        edges=(
            Edge(index=0, id="0", sources=(), targets=("sub",)),
            Edge(index=1, id="1", sources=("sub",), targets=("ReadsSubflow",)),
        ),
    )
    store = InMemoryStorage()
    s = make_system(
        [main, sub], {"Echo": (Echo, {}), "ReadsSubflow": (ReadsSubflow, {})}, storage=store
    )
    report = Executor(s).run("main", "in")
    reader = next(n for n in report.nodes.values() if n.name == "ReadsSubflow")
    assert reader.parent == {"sub": {"Echo": ["flow.1.1", "flow.1.2"]}}
    result = store.retrieve("main", "ReadsSubflow", reader.id)
    assert result == {
        "last": {"task": "Echo", "args": "in"},
        "first": {"task": "Echo", "args": "in"},
    }


def _first_only(results: Any, node_args: Any) -> bool:
    return len(CALLS) == 1


def test_throttling_delays_later_starts_on_the_virtual_clock() -> None:
    from datetime import timedelta

    flow = Flow(
        name="main",
        queue="d",
        edges=(Edge(index=0, id="0", sources=(), targets=("Echo", "Echo", "Echo")),),
    )
    s = make_system([flow], {"Echo": (Echo, {"throttling": timedelta(seconds=10)})})
    report = Executor(s).run("main")
    assert sorted(n.started or 0 for n in report.nodes.values()) == [0, 10, 20]


@pytest.mark.parametrize("workers", [1, 3])
def test_a_fan_out_runs_on_worker_threads_with_the_same_outcome(workers: int) -> None:
    flow = Flow(
        name="main",
        queue="d",
        edges=(
            Edge(index=0, id="0", sources=(), targets=tuple(["Echo"] * 20)),
            Edge(index=1, id="1", sources=("Echo",), targets=("Last",)),
        ),
    )
    s = make_system([flow], {"Echo": (Echo, {}), "Last": (Echo, {})})
    report = Executor(s, workers=workers).run("main")
    assert report.status == "succeeded"
    assert sum(n.name == "Last" for n in report.nodes.values()) == 20


def test_tracers_get_the_predecessor_s_event_numbers_and_a_broken_one_is_ignored(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (len(EVENTS), NUMBER["DISPATCHER_WAKEUP"], NUMBER["STORAGE_DELETED"]) == (53, 0, 52)
    got: list[tuple[int, str]] = []

    def function(event: int, message: Any) -> None:
        got.append((event, message["event"]))

    def broken(event: int, message: Any) -> None:
        raise RuntimeError("tracer bug")

    tracers = (
        Tracer(kind="function", function=function),
        Tracer(kind="function", function=broken),
        Tracer(kind="logging"),
        Tracer(kind="json"),
    )
    s = make_system([chain("Echo")], {"Echo": (Echo, {})}, tracers=tracers)
    executor = Executor(s)
    executor.tracer = tracer_for(s, executor.pool)
    with caplog.at_level(logging.INFO, logger="selinonc.trace"):
        assert executor.run("main").status == "succeeded"
    assert (NUMBER["TASK_START"], "TASK_START") in got and (NUMBER["FLOW_END"], "FLOW_END") in got
    assert any("SELINON" in r.message and "TASK_END :" in r.message for r in caplog.records)
    assert any("tracer" in r.message and "failed" in r.message for r in caplog.records)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    task_end = next(line for line in lines if line["event"] == "TASK_END")
    assert (task_end["flow_name"], task_end["task_name"]) == ("main", "Echo")


def test_filesystem_storage_keeps_results_as_json_files(tmp_path: Path) -> None:
    store = Filesystem(path=str(tmp_path / "{SELINONC_TEST_DIR}"))
    import os

    os.environ["SELINONC_TEST_DIR"] = "results"
    try:
        s = make_system([chain("Echo")], {"Echo": (Echo, {})}, storage=store)
        report = Executor(s).run("main", [1, 2])
    finally:
        del os.environ["SELINONC_TEST_DIR"]
    (node,) = report.nodes.values()
    path = tmp_path / "results" / "main" / "Echo" / f"{node.id}.json"
    assert json.loads(path.read_text()) == {"task": "Echo", "args": [1, 2]}
    assert node.result == {"storage": "S", "location": str(path)}


class Mutates(SelinonTask):
    def run(self, node_args: Any) -> Any:
        node_args["seen_by"] = self.task_name
        return None


class Exits(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise SystemExit(3)


def test_each_task_gets_its_own_copy_of_the_flow_arguments() -> None:
    flow = Flow(
        name="main",
        queue="d",
        edges=(
            Edge(index=0, id="0", sources=(), targets=("Mutates",)),
            Edge(
                index=1,
                id="1",
                sources=("Mutates",),
                targets=("Echo",),
                condition=lambda results, args: "seen_by" not in args,
            ),
        ),
    )
    s = make_system([flow], {"Mutates": (Mutates, {}), "Echo": (Echo, {})})
    report = Executor(s).run("main", {"order": 1})
    assert [n.name for n in report.nodes.values()] == ["Mutates", "Echo"]
    assert report.node_args == {"order": 1}
    assert CALLS == [("Echo", {"order": 1})]


def test_a_task_calling_sys_exit_fails_like_any_other() -> None:
    s = make_system([chain("Exits")], {"Exits": (Exits, {})})
    report = Executor(s).run("main")
    assert report.status == "failed"
    assert "SystemExit: 3" in (next(iter(report.nodes.values())).error or "")


class DownStorage(InMemoryStorage):
    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        raise ConnectionError("the storage is down")


def test_a_storage_that_stays_down_fails_the_flow_once_and_for_good() -> None:
    flow = Flow(
        name="main",
        queue="d",
        edges=(
            Edge(index=0, id="0", sources=(), targets=("Echo",)),
            Edge(
                index=1,
                id="1",
                sources=("Echo",),
                targets=("Echo2",),
                condition=lambda results, args: results.get("Echo") is not None,
            ),
        ),
    )
    s = make_system([flow], {"Echo": (Echo, {}), "Echo2": (Echo, {})}, storage=DownStorage())
    seen: list[str] = []
    report = Executor(s, tracer=TraceDispatcher([lambda n, m: seen.append(EVENTS[n])])).run("main")
    assert report.status == "failed"
    assert report.reason is not None and report.reason.startswith("storage error:")
    assert seen.count("DISPATCHER_RETRY") == 9


class CountingStorage(InMemoryStorage):
    reads = 0

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        CountingStorage.reads += 1
        return super().retrieve(flow_name, task_name, task_id)


def test_107_a_result_cache_serves_repeated_reads_and_a_broken_cache_is_not_fatal() -> None:
    from selinonc.runtime.caches import LRU
    from selinonc.runtime.pool import StoragePool
    from selinonc.runtime.tables import Cache

    class BrokenCache(LRU):
        def get(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("cache down")

    for cache_class, reads in ((LRU, 1), (BrokenCache, 3)):
        CountingStorage.reads = 0
        store = CountingStorage()
        base = make_system([chain("Echo")], {"Echo": (Echo, {})}, storage=store)
        cache = Cache(name="LRU", create=functools.partial(cache_class, max_cache_size=10))
        s = dataclasses.replace(
            base,
            storages={
                "S": Storage(name="S", create=functools.partial(lambda x: x, store), cache=cache)
            },
        )
        pool = StoragePool(s)
        pool.store(None, "main", "Echo", "t1", {"v": 1})
        assert [pool.retrieve("main", "Echo", "t1") for _ in range(3)] == [{"v": 1}] * 3
        assert CountingStorage.reads == reads
