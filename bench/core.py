"""`make bench-core`: the scheduling core alone, and through the embedded executor.

1. A fan-out of 1,000 tasks and a fan-in (`A → [T0..T999] → J`), and a chain of 1,000 tasks
   (`T0 → T1 → … → T999`), run by the embedded executor with no-op tasks. Target: under 1 s each.
2. The cost of one `advance()` step at 100, 1,000 and 10,000 nodes, for the chain (each step
   touches one edge) and the fan-in (each step touches the one edge of N sources): it should
   stay flat as the flow grows.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from selinonc.runtime import SelinonTask
from selinonc.runtime.abi import RUNTIME_ABI
from selinonc.runtime.core.advance import advance
from selinonc.runtime.core.events import NodeFinished, Start, StartTask
from selinonc.runtime.core.state import FlowState
from selinonc.runtime.executor import Executor
from selinonc.runtime.tables import Edge, Flow, Settings, System, Task

RUNS = 5


class NoOp(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return None


def _system(edges: list[Edge], names: list[str]) -> System:
    return System(
        package="bench",
        abi=RUNTIME_ABI,
        compiler_version="0",
        tasks={n: Task(name=n, cls=NoOp, queue="q") for n in names},
        flows={"main": Flow(name="main", queue="d", edges=tuple(edges))},
        storages={},
        settings=Settings(),
    )


def fan(n: int) -> System:
    """A → [T0..Tn-1] → J."""
    ts = [f"T{i}" for i in range(n)]
    edges = [
        Edge(index=0, id="0", sources=(), targets=("A",)),
        Edge(index=1, id="1", sources=("A",), targets=tuple(ts)),
        Edge(index=2, id="2", sources=tuple(ts), targets=("J",)),
    ]
    return _system(edges, ["A", "J", *ts])


def chain(n: int) -> System:
    """T0 → T1 → … → Tn-1."""
    ts = [f"T{i}" for i in range(n)]
    edges = [Edge(index=0, id="0", sources=(), targets=(ts[0],))]
    edges += [Edge(index=i, id=str(i), sources=(ts[i - 1],), targets=(ts[i],)) for i in range(1, n)]
    return _system(edges, ts)


def _median(function: Callable[[], float]) -> float:
    return statistics.median(function() for _ in range(RUNS))


def executor_seconds(system: System) -> float:
    def once() -> float:
        start = time.perf_counter()
        report = Executor(system).run("main")
        elapsed = time.perf_counter() - start
        assert report.status == "succeeded"
        return elapsed

    return _median(once)


def step_microseconds(system: System) -> float:
    """The mean cost of the steps that finish nodes, driving advance() directly."""

    def read(flow: str, task: str, node_id: str) -> Any:
        return None

    def once() -> float:
        state = FlowState(flow="main", id="F")
        _, actions = advance(system, state, Start(), read)
        pending = [a.node_id for a in actions if isinstance(a, StartTask)]
        steps, spent = 0, 0.0
        while pending:
            node_id = pending.pop()
            start = time.perf_counter()
            _, actions = advance(system, state, NodeFinished(node_id), read)
            spent += time.perf_counter() - start
            steps += 1
            pending.extend(a.node_id for a in actions if isinstance(a, StartTask))
        assert state.status == "succeeded", state.status
        return spent / steps * 1e6

    return _median(once)


def main() -> None:
    print("the embedded executor, no-op tasks (median of 5 runs)")
    print(f"  {'flow':<34}{'seconds':>9}{'target':>9}")
    for label, system in (
        ("fan-out 1 -> 1,000 -> 1 (fan-in)", fan(1000)),
        ("chain of 1,000 tasks", chain(1000)),
    ):
        print(f"  {label:<34}{executor_seconds(system):>9.3f}{'< 1':>9}")
    print("\none advance() step that finishes a node, in microseconds")
    print(f"  {'nodes':>8}{'chain':>10}{'fan-in':>10}")
    base: tuple[float, float] | None = None
    for n in (100, 1000, 10000):
        c, f = step_microseconds(chain(n)), step_microseconds(fan(n))
        base = base or (c, f)
        print(f"  {n:>8,}{c:>10.1f}{f:>10.1f}   x{c / base[0]:.2f} / x{f / base[1]:.2f} vs 100")
    print("target: the per-step cost stays flat from 100 to 10,000 nodes")


if __name__ == "__main__":
    main()
