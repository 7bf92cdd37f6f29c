"""Running one attempt of a task: the part of a worker every driver shares.

It builds the task, runs it, validates its result against `output_schema`, stores it, and says
what should happen next: the node finished, the task runs again later (a retry), or the node
failed. Drivers own the time: they schedule the retries this module asks for.
"""

from __future__ import annotations

import functools
import json
import time
import traceback
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from selinonc.runtime.errors import (
    FatalTaskError,
    OutputSchemaError,
    Retry,
    StorageError,
    TaskClassError,
)
from selinonc.runtime.pool import StoragePool
from selinonc.runtime.tables import System
from selinonc.runtime.task import TASK_CLASS_HINT, task_class_problem

TraceHook = Callable[[str, Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One attempt of a task: which node, of which flow, with what."""

    node_id: str
    name: str
    flow_name: str
    flow_id: str
    node_args: Any
    parent: Mapping[str, Any]
    attempt: int = 0  # retries counted against max_retry so far


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt gave: "finished", "retry" (after `countdown`) or "failed"."""

    kind: str
    countdown: float = 0
    counted: bool = True  # a retry counted against max_retry (self.retry() is not)
    location: Any = None  # where the result was stored
    error: str | None = None  # the traceback of the exception
    exception: BaseException | None = None


class Context:
    """The task API's view of the driver (see selinonc.runtime.task.TaskContext)."""

    def __init__(self, pool: StoragePool, exceptions: Mapping[str, BaseException]) -> None:
        self.pool = pool
        self.exceptions = exceptions

    def result(self, flow_name: str, task_name: str, task_id: str) -> Any:
        return self.pool.retrieve(flow_name, task_name, task_id)

    def exception(self, task_id: str) -> BaseException | None:
        return self.exceptions.get(task_id)

    def storage(self, task_name: str) -> Any:
        return self.pool.storage_of(task_name)


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str) -> Any:
    import jsonschema_rs  # imported only when a task has an output schema

    return jsonschema_rs.validator_for(json.loads(schema_text))


def validate_output(schema: Mapping[str, Any], result: Any, task_name: str) -> None:
    """Check a result against its output schema.

    Raises:
        OutputSchemaError: naming the first problem.
    """
    validator = _validator(json.dumps(schema, sort_keys=True))
    try:
        errors = list(validator.iter_errors(result))
    except ValueError as exc:  # not JSON data at all
        raise OutputSchemaError(f"the result of {task_name!r} is not JSON data: {exc}") from exc
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.instance_path) or "the result"
        raise OutputSchemaError(
            f"the result of {task_name!r} does not match its output_schema: at {where}: "
            f"{first.message}"
        )


def run_task(
    system: System,
    pool: StoragePool,
    job: TaskRun,
    exceptions: MutableMapping[str, BaseException],
    trace: TraceHook,
    *,
    store_patience: float = 0.0,
) -> Outcome:
    """Run one attempt of a task and store its result; a storage that cannot take the result
    is tried again, with back-off, for `store_patience` seconds (the body is not run again for
    a storage that restarts) before the attempt fails."""
    task = system.task(job.name)
    where = {"flow_name": job.flow_name, "task_name": job.name, "task_id": job.node_id}
    trace("TASK_START", {**where, "retried_count": job.attempt})
    try:
        _require_task_class(job.name, task.cls)
        instance = task.cls(job.flow_name, job.name, dict(job.parent), job.node_id, job.flow_id)
        instance._context = Context(pool, exceptions)
        result = instance.run(job.node_args)
        if task.output_schema is not None:
            validate_output(task.output_schema, result, job.name)
        location = None
        if task.stores_results:
            location = _store(pool, job, result, store_patience, trace, where)
            trace("STORAGE_STORE", {**where, "storage_name": task.storage, "record_id": location})
        elif result is not None:
            trace("TASK_DISCARD_RESULT", {**where, "result": repr(result)[:200]})
    except Retry as retry:
        trace("TASK_RETRY", {**where, "user_retry": True, "countdown": retry.countdown})
        return Outcome("retry", countdown=retry.countdown, counted=False)
    except (Exception, SystemExit) as exc:  # a task calling sys.exit() fails, nothing more
        text = traceback.format_exc()
        if not isinstance(exc, FatalTaskError) and job.attempt < task.max_retry:
            trace("TASK_RETRY", {**where, "what": repr(exc), "countdown": task.retry_countdown})
            return Outcome("retry", countdown=task.retry_countdown, error=text, exception=exc)
        trace("TASK_FAILURE", {**where, "what": repr(exc), "retried_count": job.attempt})
        try:  # for fallbacks' parent_task_exception(); losing it must not lose the failure
            exceptions[job.node_id] = exc
        except Exception as lost:
            trace("STORAGE_ISSUE", {**where, "what": f"the exception was not kept: {lost}"})
        _store_error(pool, task.stores_results, job, exc, trace, where)
        return Outcome("failed", error=text, exception=exc)
    trace("TASK_END", {**where, "storage_name": task.storage})
    return Outcome("finished", location=location)


def _store(
    pool: StoragePool,
    job: TaskRun,
    result: Any,
    patience: float,
    trace: TraceHook,
    where: Mapping[str, Any],
) -> Any:
    deadline, pause = time.monotonic() + patience, 0.1
    while True:
        try:
            return pool.store(job.node_args, job.flow_name, job.name, job.node_id, result)
        except StorageError as exc:
            if time.monotonic() + pause > deadline:
                raise
            trace("STORAGE_ISSUE", {**where, "what": f"storing the result again: {exc}"})
            time.sleep(pause)
            pause = min(2 * pause, 5.0)


@functools.lru_cache(maxsize=1024)
def _class_problem(cls: Any) -> str | None:
    return task_class_problem(cls)


def _require_task_class(task_name: str, cls: Any) -> None:
    """Fail a task whose class cannot run with one clear line, not `X() takes no arguments`.

    `selinonc check` reports the same (SC509); this covers packages built before that check
    and task code changed after the build.

    Raises:
        TaskClassError: naming the class and what is wrong with it.
    """
    try:
        problem = _class_problem(cls)
    except TypeError:  # an unhashable object, so certainly no class
        problem = task_class_problem(cls)
    if problem is not None:
        name = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"
        raise TaskClassError(f"task {task_name!r} cannot run: {name} {problem}; {TASK_CLASS_HINT}")


def _store_error(
    pool: StoragePool,
    stores: bool,
    job: TaskRun,
    exc: BaseException,
    trace: TraceHook,
    where: Mapping[str, Any],
) -> None:
    if not stores:
        return
    try:
        info = (type(exc), exc, exc.__traceback__)
        if pool.store_error(job.node_args, job.flow_name, job.name, job.node_id, info):
            trace("STORAGE_STORE_ERROR", dict(where))
        else:
            trace("STORAGE_OMIT_STORE_ERROR", dict(where))
    except Exception as error:  # the failure is what matters; a broken error store is traced
        trace("STORAGE_ISSUE", {**where, "what": repr(error)})
