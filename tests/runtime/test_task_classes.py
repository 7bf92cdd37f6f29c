"""A task class a driver cannot run fails its task with one clear line, and is never retried."""

from __future__ import annotations

from typing import Any

import pytest

from selinonc.runtime.abi import RUNTIME_ABI
from selinonc.runtime.executor import Executor
from selinonc.runtime.tables import Edge, Flow, Settings, System, Task


def fetch(node_args: Any) -> Any:
    return node_args


class Plain:
    pass


def _system(cls: Any) -> System:
    flow = Flow(name="main", queue="d", edges=(Edge(index=0, id="0", sources=(), targets=("T",)),))
    return System(
        package="test",
        abi=RUNTIME_ABI,
        compiler_version="0",
        tasks={"T": Task(name="T", cls=cls, queue="q", max_retry=3)},
        flows={"main": flow},
        storages={},
        settings=Settings(),
    )


@pytest.mark.parametrize(
    ("cls", "what"),
    [
        (fetch, f"{__name__}.fetch is a function, not a class"),
        (Plain, f"{__name__}.Plain is not a SelinonTask subclass and has no run(node_args) method"),
    ],
)
def test_a_task_whose_class_cannot_run_fails_at_once_naming_the_class(cls: Any, what: str) -> None:
    report = Executor(_system(cls)).run("main")
    assert report.status == "failed"
    (node,) = report.nodes.values()
    assert node.attempts == 1  # a TaskClassError is fatal: max_retry does not apply
    assert node.error is not None
    assert node.error.strip().splitlines()[-1] == (
        f"selinonc.runtime.errors.TaskClassError: task 'T' cannot run: {what}; a task is a class "
        "that subclasses selinonc.runtime.SelinonTask and implements run(self, node_args)"
    )
