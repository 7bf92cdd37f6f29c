"""The Celery driver: a generated package's flows on one Celery app.

It puts the parts together: the flow store (store.py, redis_store.py), steps (steps.py), the
Celery tasks and messages (tasks.py), the storage pool and the tracer both drivers share.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, MutableMapping
from types import ModuleType
from typing import Any

from celery import Celery, Task

from selinonc.runtime.celery import tasks
from selinonc.runtime.celery.steps import REDELIVER_SECONDS, Stepper
from selinonc.runtime.celery.store import FlowMeta, FlowStore, NoSuchFlow, StoreError, flow_of
from selinonc.runtime.core.events import NodeFailed, NodeFinished
from selinonc.runtime.core.state import FlowState
from selinonc.runtime.errors import ConfigurationError, StorageError
from selinonc.runtime.pool import StoragePool
from selinonc.runtime.tables import System
from selinonc.runtime.trace import tracer_for

DAY = 24 * 3600.0
# How long a worker tries to record a finished task's outcome before it hands it to the
# dispatcher (a Redis restart takes seconds; a body is not run again for it).
RECORD_SECONDS = 120.0
_log = logging.getLogger("selinonc.celery")


class _Exceptions(MutableMapping[str, BaseException]):
    """Failed tasks' exceptions, kept in the flow store (fallbacks read them elsewhere)."""

    def __init__(self, store: FlowStore) -> None:
        self.store = store

    def __getitem__(self, node_id: str) -> BaseException:
        data = self.store.exception(flow_of(node_id), node_id)
        if data is None:
            raise KeyError(node_id)
        return _rebuild(data)

    def __setitem__(self, node_id: str, exc: BaseException) -> None:
        self.store.save_exception(
            flow_of(node_id),
            node_id,
            {
                "module": type(exc).__module__,
                "type": type(exc).__qualname__,
                "args": [
                    a if isinstance(a, str | int | float | bool) or a is None else repr(a)
                    for a in exc.args
                ],
                "message": str(exc),
                "traceback": "".join(traceback.format_exception(exc)),
            },
        )

    def __delitem__(self, node_id: str) -> None:
        raise NotImplementedError

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _rebuild(data: Mapping[str, Any]) -> BaseException:
    """The exception a record describes, from a module this process has imported already: a
    record never makes a worker import a module (as Celery since CVE-2021-23727)."""
    module = sys.modules.get(str(data.get("module")))
    cls: Any = module
    for part in str(data.get("type", "")).split("."):
        cls = getattr(cls, part, None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        try:
            return cls(*data.get("args", []))
        except Exception:  # an exception class that cannot be rebuilt from its args
            pass
    return tasks.TaskFailure(f"{data.get('type')}: {data.get('message')}")


class Driver:
    """A generated package's flows on one Celery app."""

    def __init__(
        self,
        app: Celery,
        system: System,
        store: FlowStore,
        *,
        retention: float = 7 * DAY,
        redeliver_after: float = REDELIVER_SECONDS,
    ) -> None:
        self.app = app
        self.system = system
        self.store = store
        self.pool = StoragePool(system, locate=self._flow_name)
        self.exceptions = _Exceptions(store)
        self.tracer = tracer_for(system, self.pool)
        self.publisher = tasks.CeleryPublisher(self)
        self.stepper = Stepper(
            system,
            store,
            self.publisher,
            self.pool.retrieve,
            self.tracer,
            retention=retention,
            redeliver_after=redeliver_after,
        )
        self._flow_names: OrderedDict[str, str] = OrderedDict()
        driver = self
        app.selinonc_driver = self  # for the message guard (guard.strategy)

        @app.task(name=tasks.DISPATCHER, bind=True, **tasks.OPTIONS)
        def dispatcher(task: Task, *args: Any, **kwargs: Any) -> Any:
            if args:
                return tasks.refuse(driver, tasks.DISPATCHER, "positional arguments", kwargs)
            return tasks.dispatch(driver, task, kwargs)

        @app.task(name=tasks.TASK, bind=True, **tasks.OPTIONS)
        def run_node(task: Task, *args: Any, **job: Any) -> Any:
            if args:
                return tasks.refuse(driver, tasks.TASK, "positional arguments", job)
            return tasks.run_node(driver, task, job)

        self.dispatcher = dispatcher
        self.run_node_task = run_node

    def _flow_name(self, flow_id: str) -> str | None:
        """The flow of a flow instance (for reading its tasks' results)."""
        meta = self.stepper.meta(flow_id)
        return meta.flow if meta is not None else None

    def start(self, flow_name: str, node_args: Any = None) -> str:
        """Start a top-level flow; return its id."""
        self.system.flow(flow_name)  # UnknownFlowError for an unknown flow
        flow_id = uuid.uuid4().hex
        state = FlowState(flow=flow_name, id=flow_id, node_args=node_args)
        self.stepper.create(flow_id, state, FlowMeta(flow_name, flow_id, None))
        self.tracer("FLOW_SCHEDULE", {"flow_name": flow_name, "flow_id": flow_id})
        self.publisher.start(flow_name, flow_id)
        return flow_id

    def record(
        self,
        flow_name: str,
        flow_id: str,
        node_id: str,
        event: NodeFinished | NodeFailed | None,
        token: str,
    ) -> None:
        """Record a task's outcome, trying again with back-off for RECORD_SECONDS while the
        store or a storage is down (a Redis restart: the claim is renewed meanwhile), then hand
        it to the dispatcher, which retries until it is recorded (the task itself is not run
        again: its claim, `token`'s, is held meanwhile)."""
        deadline, pause = time.monotonic() + RECORD_SECONDS, 0.1
        while True:
            try:
                self.stepper.complete(flow_id, node_id, event, by=token)
                return
            except NoSuchFlow:
                _log.warning("node %s ended after its flow %s was removed", node_id, flow_id)
                return
            except (StoreError, StorageError) as exc:
                _log.warning("recording %s of flow %s failed (%s)", node_id, flow_id, exc)
                if time.monotonic() + pause > deadline:
                    break
                time.sleep(pause)
                pause = min(2 * pause, 5.0)
        if event is None:
            return  # a nowait node: nothing waits for its outcome
        with contextlib.suppress(StoreError, NoSuchFlow):
            self.store.extend(flow_id, node_id, token, tasks.HANDOFF_SECONDS)
        kind = "finished" if isinstance(event, NodeFinished) else "failed"
        self.dispatcher.apply_async(
            kwargs={"flow_id": flow_id, "event": f"node-{kind}:{node_id}:{token}"},
            queue=self.system.flow(flow_name).queue,
            serializer="json",
        )


def load_system(package: ModuleType | str) -> System:
    """The SYSTEM of a generated package (the module, or its dotted name).

    Raises:
        ConfigurationError: when it is not a package selinonc generated.
    """
    module = importlib.import_module(package) if isinstance(package, str) else package
    system = getattr(module, "SYSTEM", None)
    if not isinstance(system, System):
        raise ConfigurationError(f"{module.__name__!r} is not a flow package selinonc generated")
    return system
