"""A finished task whose storage is briefly unreachable (issue 10): on Celery its result is
stored again, with back-off, instead of failing a node whose body has run."""

from __future__ import annotations

import dataclasses
from typing import Any

from selinonc.runtime import SelinonTask
from selinonc.runtime.errors import StorageError
from selinonc.runtime.runner import TaskRun, run_task
from selinonc.runtime.tables import Flow, Task
from tests.runtime.corekit import edge, system

RUNS: list[str] = []


class Produce(SelinonTask):
    def run(self, node_args: Any) -> Any:
        RUNS.append(self.task_id)
        return {"value": 1}


SYSTEM = dataclasses.replace(
    system(Flow(name="f", queue="d", edges=(edge(0, [], ["P"]),))),
    tasks={"P": Task(name="P", cls=Produce, queue="q", storage="S")},
)


class FlakyPool:
    """A pool whose storage refuses the first `down` writes."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.stored: list[Any] = []

    def store(self, node_args: Any, flow: str, task: str, node_id: str, result: Any) -> str:
        if self.down:
            self.down -= 1
            raise StorageError("storage S: connection refused")
        self.stored.append(result)
        return node_id

    def store_error(self, *args: Any) -> bool:
        return False


def _run(pool: FlakyPool, patience: float) -> Any:
    RUNS.clear()
    job = TaskRun("f0.1", "P", "f", "f0", None, {})
    traces: list[str] = []
    outcome = run_task(
        SYSTEM,
        pool,  # type: ignore[arg-type]
        job,
        {},
        lambda event, details: traces.append(event),
        store_patience=patience,
    )
    return outcome, traces


def test_a_result_is_stored_again_while_its_storage_restarts() -> None:
    pool = FlakyPool(down=3)
    outcome, traces = _run(pool, patience=10)
    assert outcome.kind == "finished"
    assert RUNS == ["f0.1"] and pool.stored == [{"value": 1}]  # the body ran once
    assert traces.count("STORAGE_ISSUE") == 3


def test_without_patience_or_past_it_the_attempt_fails() -> None:
    outcome, _ = _run(FlakyPool(down=1), patience=0)
    assert outcome.kind == "failed"
    outcome, _ = _run(FlakyPool(down=100), patience=0.5)
    assert outcome.kind == "failed" and isinstance(outcome.exception, StorageError)
