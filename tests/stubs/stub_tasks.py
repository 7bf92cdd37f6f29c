"""Task modules that stand in for the project code test configurations name but never run.

Golden cases and build tests name `myapp.tasks`, `m` or `shop.tasks` for their tasks because they
are about something else; `selinonc check` imports task modules (SC507 to SC509), so these exist,
and every name asked of them (but dunders) is a task class whose `run` returns None.
tests/conftest.py and tests/regen_golden.py put this folder on the import path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from selinonc.runtime import SelinonTask

STUBS = Path(__file__).parent


def _run(self: SelinonTask, node_args: Any) -> None:
    del self, node_args


def any_task_class(module: str) -> Callable[[str], type[SelinonTask]]:
    """A module `__getattr__` that makes (once) a task class for each name asked for."""
    made: dict[str, type[SelinonTask]] = {}

    def __getattr__(name: str) -> type[SelinonTask]:
        if name.startswith("__"):  # dunder lookups (`__path__`, `__file__`) must stay missing
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        if name not in made:
            made[name] = type(name, (SelinonTask,), {"__module__": module, "run": _run})
        return made[name]

    return __getattr__
