"""The task API: user tasks subclass SelinonTask and implement run(node_args)."""

from __future__ import annotations

import abc
import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from selinonc.runtime.errors import NoParentNodeError, RequestError, Retry

# What a driver passes a task class: cls(flow_name, task_name, parent, task_id, dispatcher_id).
_CONSTRUCTOR_ARGS = ("flow_name", "task_name", "parent", "task_id", "dispatcher_id")
TASK_CLASS_HINT = (
    "a task is a class that subclasses selinonc.runtime.SelinonTask and implements "
    "run(self, node_args)"
)


class TaskContext(Protocol):
    """What a running task reaches through its driver: results, exceptions and storages."""

    def result(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result of a task."""

    def exception(self, task_id: str) -> BaseException | None:
        """The exception a failed task raised, or None if it did not fail."""

    def storage(self, task_name: str) -> Any:
        """The connected storage of a task (None when it has none)."""


class SelinonTask(abc.ABC):
    """A task of a flow, run by a worker or by the embedded executor.

    Code written for the predecessor ports by changing its imports: the constructor arguments,
    attributes and `run(node_args)` are the same.
    """

    def __init__(
        self,
        flow_name: str,
        task_name: str,
        parent: Mapping[str, Any] | None,
        task_id: str,
        dispatcher_id: str,
    ) -> None:
        self.flow_name = flow_name
        self.task_name = task_name
        self.parent: Mapping[str, Any] = parent or {}
        self.task_id = task_id
        self.dispatcher_id = dispatcher_id
        self.log = logging.getLogger(type(self).__module__ + "." + type(self).__qualname__)
        self._context: TaskContext | None = None  # set by the driver that runs the task

    def _require_context(self) -> TaskContext:
        if self._context is None:
            raise RuntimeError(
                f"task {self.task_name!r} is not running under a selinonc driver, so it cannot "
                "read parents' results or its storage"
            )
        return self._context

    @property
    def storage(self) -> Any:
        """The connected storage of this task (None when it has none)."""
        return self._require_context().storage(self.task_name)

    def _parent_id(self, task_name: str) -> str:
        node_id = self.parent.get(task_name)
        if not isinstance(node_id, str):
            raise NoParentNodeError(
                f"{task_name!r} is not a parent task of {self.task_name!r} in flow "
                f"{self.flow_name!r}; its parents are: {', '.join(sorted(self.parent)) or 'none'}"
            )
        return node_id

    def _parent_flow_id(self, flow_names: str | Sequence[str], task_name: str, index: int) -> str:
        names = [flow_names] if isinstance(flow_names, str) else list(flow_names)
        level: Any = self.parent
        for name in names:
            if not isinstance(level, Mapping) or not isinstance(level.get(name), Mapping):
                raise NoParentNodeError(
                    f"no finished sub-flow {'/'.join(names)!r} among the parents of "
                    f"{self.task_name!r} (is propagate_finished on?)"
                )
            level = level[name]
        ids = level.get(task_name)
        if not ids:
            raise NoParentNodeError(f"sub-flow {'/'.join(names)!r} ran no task {task_name!r}")
        try:
            return str(ids[index])
        except IndexError:
            raise NoParentNodeError(
                f"sub-flow {'/'.join(names)!r} ran {task_name!r} {len(ids)} time(s), "
                f"so there is no index {index}"
            ) from None

    def parent_task_result(self, task_name: str) -> Any:
        """The result of parent task `task_name`.

        Raises:
            NoParentNodeError: when `task_name` is not a parent task.
        """
        return self._require_context().result(self.flow_name, task_name, self._parent_id(task_name))

    def parent_flow_result(
        self, flow_names: str | Sequence[str], task_name: str, index: int = -1
    ) -> Any:
        """The result of task `task_name` of a finished parent sub-flow (names nest: a list
        walks into sub-flows of sub-flows); `index` picks among several runs, the last by
        default. Needs propagate_finished or propagate_compound_finished."""
        node_id = self._parent_flow_id(flow_names, task_name, index)
        return self._require_context().result(self.flow_name, task_name, node_id)

    def parent_task_exception(self, task_name: str) -> BaseException:
        """The exception failed parent `task_name` raised (in a fallback, the failures it
        handles are its parents).

        Raises:
            NoParentNodeError: when `task_name` is not a parent.
            RequestError: when the parent did not fail.
        """
        node_id = self._parent_id(task_name)
        return self._exception(task_name, node_id)

    def parent_flow_exception(
        self, flow_names: str | Sequence[str], task_name: str, index: int = -1
    ) -> BaseException:
        """The exception of task `task_name` of a failed parent sub-flow (propagate_failures)."""
        node_id = self._parent_flow_id(flow_names, task_name, index)
        return self._exception(task_name, node_id)

    def _exception(self, task_name: str, node_id: str) -> BaseException:
        exc = self._require_context().exception(node_id)
        if exc is None:
            raise RequestError(f"parent {task_name!r} ({node_id}) did not fail")
        return exc

    @abc.abstractmethod
    def run(self, node_args: Any) -> Any:
        """Do the task's work on the flow's arguments; the return value is its result."""

    @staticmethod
    def retry(countdown: float = 0) -> None:
        """Run this task again after `countdown` seconds (not counted against `max_retry`).

        Raises:
            Retry: always; the runtime catches it.
        """
        raise Retry(countdown)


def task_class_problem(cls: object) -> str | None:
    """Why a driver cannot run `cls` as a task class, or None when it can.

    A driver builds `cls(flow_name, task_name, parent, task_id, dispatcher_id)` and calls its
    `run(node_args)`: a concrete SelinonTask subclass qualifies, and so does any other class with
    that constructor and a `run` method. The text completes "<module>.<name> ...".
    """
    if not isinstance(cls, type):
        if inspect.isroutine(cls):
            return "is a function, not a class"
        return f"is not a class but a value of type {type(cls).__name__}"
    if issubclass(cls, SelinonTask):
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        return f"does not implement {', '.join(missing)}() (it is abstract)" if missing else None
    predecessor = next((b for b in cls.__mro__ if b.__module__.split(".")[0] == "selinon"), None)
    if predecessor is not None:  # Selinon's task API would look for Selinon's runtime
        return f"subclasses Selinon's {predecessor.__module__}.{predecessor.__qualname__}"
    if not callable(getattr(cls, "run", None)):
        return "is not a SelinonTask subclass and has no run(node_args) method"
    if not _takes_constructor_args(cls):
        return (
            "is not a SelinonTask subclass and its constructor does not take "
            f"({', '.join(_CONSTRUCTOR_ARGS)})"
        )
    return None


def _takes_constructor_args(cls: type) -> bool:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no signature to inspect (a C type): let the driver try
        return True
    try:
        signature.bind(*(None for _ in _CONSTRUCTOR_ARGS))
    except TypeError:
        return False
    return True
