"""Random flow graphs on the embedded executor: every run ends, and four worker threads run the
same nodes to the same outcome as one."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from selinonc.runtime import SelinonTask
from selinonc.runtime.abi import RUNTIME_ABI
from selinonc.runtime.executor import Executor
from selinonc.runtime.storages.memory import InMemoryStorage
from selinonc.runtime.tables import Edge, Failure, Flow, Settings, Storage, System, Task

FAILING = "failing"  # a task whose name ends like this always fails


class Node(SelinonTask):
    """Succeeds with a result made of its name and the flow arguments, or fails by name."""

    def run(self, node_args: Any) -> Any:
        if self.task_name.endswith(FAILING):
            raise RuntimeError(f"{self.task_name} fails")
        return {"even": (len(self.task_name) + int(node_args or 0)) % 2 == 0}


def _condition(source: str, want: bool) -> Any:
    def condition(results: Any, node_args: Any) -> bool:
        result = results.get(source)
        return isinstance(result, dict) and result.get("even") is want

    return condition


@st.composite
def flows(draw: st.DrawFn) -> tuple[System, int]:
    """A flow over up to 7 tasks (some failing), edges from earlier to later tasks (so it ends),
    conditions on results, a sub-flow, fallbacks; with the node_args to run it with."""
    count = draw(st.integers(2, 7))
    names = [f"T{i}" + (FAILING if draw(st.booleans()) and i else "") for i in range(count)]
    names.append("sub")
    edges = [Edge(index=0, id="0", sources=(), targets=(names[0],))]
    for i in range(draw(st.integers(1, 8))):
        target = draw(st.integers(1, len(names) - 1))
        sources = draw(st.lists(st.integers(0, target - 1), min_size=1, max_size=2, unique=True))
        source_names = tuple(names[s] for s in sources)
        condition = None
        if draw(st.booleans()) and not source_names[0].endswith(FAILING):
            condition = _condition(source_names[0], draw(st.booleans()))
        targets = (names[target],) * draw(st.integers(1, 2))
        edges.append(
            Edge(
                index=i + 1,
                id=str(i + 1),
                sources=source_names,
                targets=targets,
                condition=condition,
            )
        )
    failing = [n for n in names if n.endswith(FAILING)]
    failures = []
    for i, name in enumerate(
        draw(st.lists(st.sampled_from(failing), unique=True)) if failing else []
    ):
        fallback: tuple[str, ...] | bool = True if draw(st.booleans()) else ("Fallback",)
        failures.append(Failure(index=i, nodes=frozenset({name}), fallback=fallback))
    main = Flow(
        name="main",
        queue="d",
        edges=tuple(edges),
        failures=tuple(failures),
        propagate_node_args=True,
    )
    sub = Flow(
        name="sub",
        queue="d",
        edges=(
            Edge(index=0, id="0", sources=(), targets=("S0", "S1")),
            Edge(
                index=1,
                id="1",
                sources=("S0", "S1"),
                targets=("S2",),
                condition=_condition("S0", draw(st.booleans())),
            ),
        ),
    )
    task_names = {n for n in names if n != "sub"} | {"S0", "S1", "S2", "Fallback"}
    store = InMemoryStorage()
    system = System(
        package="random",
        abi=RUNTIME_ABI,
        compiler_version="0",
        tasks={n: Task(name=n, cls=Node, queue="q", storage="S") for n in sorted(task_names)},
        flows={"main": main, "sub": sub},
        storages={"S": Storage(name="S", create=lambda: store)},
        settings=Settings(),
    )
    return system, draw(st.integers(0, 3))


def _summary(
    system: System, node_args: int, workers: int
) -> tuple[str, Counter[tuple[str, str, str]]]:
    # A fresh storage per run: the same ids are stored again by the second run.
    fresh = System(
        package=system.package,
        abi=system.abi,
        compiler_version="0",
        tasks=system.tasks,
        flows=system.flows,
        settings=system.settings,
        storages={"S": Storage(name="S", create=InMemoryStorage)},
    )
    report = Executor(fresh, workers=workers).run("main", node_args)
    return report.status, Counter((n.flow, n.name, n.status) for n in report.nodes.values())


@settings(max_examples=80, deadline=None)
@given(flows())
def test_random_flows_end_and_workers_do_not_change_what_runs(case: tuple[System, int]) -> None:
    system, node_args = case
    inline = _summary(system, node_args, workers=1)
    threaded = _summary(system, node_args, workers=4)
    assert inline == threaded
    status, nodes = inline
    failed_tasks = {name for (flow, name, state) in nodes if state == "failed"}
    assert all(name.endswith(FAILING) for name in failed_tasks)
    if status == "succeeded":
        unhandled = failed_tasks - {
            f for fl in system.flows.values() for fa in fl.failures for f in fa.nodes
        }
        assert not unhandled
