"""A harness for tables of events: small systems built in Python, driven one event at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from selinonc.runtime.abi import RUNTIME_ABI
from selinonc.runtime.core.advance import advance
from selinonc.runtime.core.events import (
    Action,
    FlowFailed,
    FlowFinished,
    NodeFailed,
    NodeFinished,
    Recheck,
    Start,
    StartFlow,
    StartTask,
    Timer,
    Trace,
    WakeUp,
)
from selinonc.runtime.core.state import FlowState
from selinonc.runtime.errors import StorageError
from selinonc.runtime.tables import Edge, Failure, Flow, Foreach, Settings, System, Task


class _Task:
    def __init__(self, *args: Any) -> None:
        self.args = args


def edge(index: int, sources: Iterable[str], targets: Iterable[str], **options: Any) -> Edge:
    """An edge; `condition` is a plain `f(results, node_args)`, `foreach` a plain function."""
    foreach = options.pop("foreach", None)
    propagate = options.pop("propagate_result", False)
    return Edge(
        index=index,
        id=f"e{index}",
        sources=tuple(sources),
        targets=tuple(targets),
        foreach=Foreach(function=foreach, text="f", propagate_result=propagate)
        if foreach
        else None,
        **options,
    )


def failure(index: int, nodes: Iterable[str], fallback: Iterable[str] | bool, **kw: Any) -> Failure:
    fb = fallback if isinstance(fallback, bool) else tuple(fallback)
    return Failure(index=index, nodes=frozenset(nodes), fallback=fb, **kw)


def system(*flows: Flow, stored: Iterable[str] = ()) -> System:
    """A system of `flows`; every other node they name is a task (`stored` ones have storage)."""
    flow_names = {f.name for f in flows}
    names: set[str] = set()
    for f in flows:
        for e in f.edges:
            names.update(e.sources, e.targets)
        for fl in f.failures:
            names.update(fl.nodes)
            if not isinstance(fl.fallback, bool):
                names.update(fl.fallback)
    tasks = {
        n: Task(name=n, cls=_Task, queue="q", storage="S" if n in stored else None)
        for n in sorted(names - flow_names)
    }
    return System(
        package="test",
        abi=RUNTIME_ABI,
        compiler_version="0",
        tasks=tasks,
        flows={f.name: f for f in flows},
        storages={},
        settings=Settings(),
    )


@dataclass
class Run:
    """One flow instance and everything its steps asked for."""

    system: System
    state: FlowState
    results: dict[str, Any] = field(default_factory=dict)  # node id -> stored result
    actions: list[Action] = field(default_factory=list)  # of every step
    last: list[Action] = field(default_factory=list)  # of the last step
    reads: list[tuple[str, str, str]] = field(default_factory=list)
    broken_storage: bool = False
    # sub-flow node id -> its report, as a driver keeps them (the core reads them by reference)
    reports: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def read(self, flow: str, task: str, node_id: str) -> Any:
        self.reads.append((flow, task, node_id))
        if self.broken_storage:
            raise StorageError("the storage is down")
        return self.results[node_id]

    def step(self, event: Any) -> list[Action]:
        _, self.last = advance(self.system, self.state, event, self.read, self.reports.get)
        self.actions.extend(self.last)
        return self.last

    # --- events by node name ------------------------------------------------------------

    def active_ids(self, name: str) -> list[str]:
        return [i for i, n in self.state.active.items() if n == name]

    def finish(
        self, name: str, result: Any = None, report: Mapping[str, Any] | None = None, index: int = 0
    ) -> list[Action]:
        node_id = self.active_ids(name)[index]
        self.results[node_id] = result
        self._keep(node_id, report)
        return self.step(NodeFinished(node_id))

    def fail(
        self, name: str, report: Mapping[str, Any] | None = None, index: int = 0
    ) -> list[Action]:
        node_id = self.active_ids(name)[index]
        self._keep(node_id, report)
        return self.step(NodeFailed(node_id))

    def _keep(self, node_id: str, report: Mapping[str, Any] | None) -> None:
        """Keep a sub-flow's report, and those of the sub-flows it names under "subflows"."""
        if report is None:
            return
        self.reports[node_id] = report
        for inner_id, inner in report.get("subflows", {}).items():
            self._keep(inner_id, inner)

    # --- what happened --------------------------------------------------------------------

    def started(self, actions: Iterable[Action] | None = None) -> list[str]:
        return [
            a.name
            for a in (self.last if actions is None else actions)
            if isinstance(a, StartTask | StartFlow)
        ]

    def starts(self, kind: type[Any] = object) -> list[Any]:
        return [
            a for a in self.last if isinstance(a, StartTask | StartFlow) and isinstance(a, kind)
        ]

    def traces(self, event: str) -> list[Mapping[str, Any]]:
        return [a.details for a in self.last if isinstance(a, Trace) and a.event == event]

    def ended(self) -> FlowFinished | FlowFailed | None:
        return next((a for a in self.last if isinstance(a, FlowFinished | FlowFailed)), None)

    def wakeups(self) -> list[float]:
        return [a.after for a in self.last if isinstance(a, WakeUp)]

    def rechecks(self) -> list[float]:
        return [a.after for a in self.last if isinstance(a, Recheck)]


def start(
    system_: System,
    flow: str = "main",
    node_args: Any = None,
    parent: dict[str, Any] | None = None,
    **state: Any,
) -> Run:
    """A run of `flow`, started."""
    run = Run(system_, FlowState(flow=flow, id="F", node_args=node_args, parent=parent, **state))
    run.step(Start())
    return run


def always(_: Any, __: Any) -> bool:
    return True


def never(_: Any, __: Any) -> bool:
    return False


def reads_field(node: str, key: str, value: Any) -> Callable[[Any, Any], bool]:
    """A condition: the result of `node` has `key` equal to `value`."""

    def condition(results: Any, node_args: Any) -> bool:
        result = results.get(node)
        return isinstance(result, dict) and result.get(key) == value

    return condition


__all__ = ["Flow", "Timer", "always", "edge", "failure", "never", "reads_field", "start", "system"]
