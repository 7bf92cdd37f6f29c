"""The Celery driver: flows of a generated package run by Celery workers.

Two Celery tasks do the work: `selinonc.task` runs one node of a flow, and `selinonc.dispatcher`
starts flows, wakes them for flow retries and runs a slow safety net. Progress is event-driven:
when a task finishes, its worker applies the event to the flow's state itself (through the same
core as the embedded executor, `advance`), saves the state in Redis with an optimistic check and
publishes the next tasks, so an edge costs one broker hop, as in `celery.chain`. Messages are
JSON, tasks are acknowledged late and rejected when their worker is lost, so a killed worker's
task runs again on another worker.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import timedelta
from types import ModuleType
from typing import Any

from celery import Celery, Task

from selinonc.runtime.celery.store import FlowStore, Record, StoreError
from selinonc.runtime.core.advance import advance
from selinonc.runtime.core.events import (
    Event,
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
from selinonc.runtime.core.state import FAILED, RUNNING, FlowState
from selinonc.runtime.errors import ConfigurationError, StorageError
from selinonc.runtime.pool import StoragePool
from selinonc.runtime.runner import TaskRun, run_task
from selinonc.runtime.tables import System
from selinonc.runtime.trace import tracer_for

DISPATCHER = "selinonc.dispatcher"
TASK = "selinonc.task"
# The safety net looks at a running flow at most this often (completions are events: it only
# catches steps that died between saving a decision and publishing it).
SAFETY_NET_SECONDS = 2.0
_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "serializer": "json",
    "max_retries": None,
    "ignore_result": False,
}
_log = logging.getLogger("selinonc.celery")


class _Exceptions(MutableMapping[str, BaseException]):
    """Failed tasks' exceptions, kept in the flow store (fallbacks read them elsewhere)."""

    def __init__(self, store: FlowStore) -> None:
        self.store = store

    def __getitem__(self, node_id: str) -> BaseException:
        data = self.store.exception(node_id)
        if data is None:
            raise KeyError(node_id)
        return _rebuild(data)

    def __setitem__(self, node_id: str, exc: BaseException) -> None:
        self.store.save_exception(
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


class TaskFailure(Exception):
    """A failed task's exception, when its own class cannot be rebuilt here."""


def _rebuild(data: Mapping[str, Any]) -> BaseException:
    try:
        cls = getattr(importlib.import_module(data["module"]), data["type"])
        if isinstance(cls, type) and issubclass(cls, BaseException):
            return cls(*data.get("args", []))
    except Exception:  # an exception class that cannot be rebuilt from its args
        pass
    return TaskFailure(f"{data['type']}: {data['message']}")


class Driver:
    """A generated package's flows on one Celery app."""

    def __init__(self, app: Celery, system: System, store: FlowStore) -> None:
        self.app = app
        self.system = system
        self.store = store
        self.pool = StoragePool(system, locate=self._flow_name)
        self.exceptions = _Exceptions(store)
        self.tracer = tracer_for(system, self.pool)
        self._throttled: dict[str, float] = {}
        self._flow_names: dict[str, str] = {}  # flow id -> flow name (they never change)
        self._throttle_lock = threading.Lock()
        driver = self

        @app.task(name=DISPATCHER, bind=True, **_OPTIONS)
        def dispatcher(task: Task, flow_id: str, event: str) -> Any:
            return driver.dispatch(task, flow_id, event)

        @app.task(name=TASK, bind=True, **_OPTIONS)
        def run_node(task: Task, **job: Any) -> Any:
            return driver.run_node(task, job)

        self.dispatcher = dispatcher
        self.run_node_task = run_node

    def _flow_name(self, flow_id: str) -> str | None:
        """The flow of a flow instance (for reading its tasks' results), from the store."""
        name = self._flow_names.get(flow_id)
        if name is None:
            record = self.store.load(flow_id)
            if record is None:
                return None
            if len(self._flow_names) >= 10_000:  # a long-running worker sees many flows
                self._flow_names.clear()
            name = self._flow_names[flow_id] = record.state.flow
        return name

    # --- starting ----------------------------------------------------------------------------

    def start(self, flow_name: str, node_args: Any = None) -> str:
        """Start a top-level flow; return its id."""
        flow = self.system.flow(flow_name)  # UnknownFlowError for an unknown flow
        flow_id = uuid.uuid4().hex
        self.store.create(FlowState(flow=flow_name, id=flow_id, node_args=node_args), None)
        self.tracer("FLOW_SCHEDULE", {"flow_name": flow_name, "flow_id": flow_id})
        self.dispatcher.apply_async(
            kwargs={"flow_id": flow_id, "event": "start"}, queue=flow.queue, serializer="json"
        )
        return flow_id

    # --- one step ----------------------------------------------------------------------------

    def step(self, flow_id: str, event: Event) -> Record:
        """Apply an event to a flow in the store and publish what it decided."""
        record, actions, rechecks = self.decide(flow_id, event)
        if not actions and not rechecks:
            # Nothing new: a duplicate (a redelivered message, a step retried after publishing
            # failed). Whatever an earlier step saved but did not send goes out now.
            actions = self.store.unpublished(flow_id, older_than=0)
        self._publish_all(record, actions)
        if rechecks and record.state.status == RUNNING:
            self.schedule_check(record, rechecks[-1])
        return record

    def _publish_all(self, record: Record, actions: list[dict[str, Any]]) -> None:
        for action in actions:
            self.publish(record.state.flow, record.state.id, action)
        self.store.published(record.state.id, [a["id"] for a in actions])

    def decide(
        self, flow_id: str, event: Event
    ) -> tuple[Record, list[dict[str, Any]], list[float]]:
        """Apply an event to a flow and save the state with the actions to publish (the
        outbox); return them, and the sampling strategy's delays."""
        traces: list[Trace] = []
        recheck: list[float] = []

        def apply(record: Record) -> list[dict[str, Any]]:
            traces.clear()
            recheck.clear()
            _, actions = advance(self.system, record.state, event, self.pool.retrieve)
            out: list[dict[str, Any]] = []
            for action in actions:
                if isinstance(action, Trace):
                    traces.append(action)
                elif isinstance(action, Recheck):
                    recheck.append(action.after)
                else:
                    out.append(_encode(record, action))
            try:
                json.dumps(out)
            except (TypeError, ValueError) as exc:
                # Messages are JSON: what cannot be sent fails the flow at once (a foreach
                # item that is a set, say), as any other dispatcher failure does.
                reason = f"dispatcher failure: a message is not JSON data ({exc})"
                traces[:] = [Trace("DISPATCHER_FAILURE", {"flow_id": flow_id, "reason": reason})]
                recheck.clear()
                state = record.state
                for sent in out:  # the nodes this step started were never sent
                    state.active.pop(sent["id"], None)
                    for ids in state.nowait.values():
                        if sent["id"] in ids:
                            ids.remove(sent["id"])
                state.nowait = {name: ids for name, ids in state.nowait.items() if ids}
                state.status = FAILED
                return [_encode(record, FlowFailed(state.report(), reason))]
            return out

        record, actions = self.store.update(flow_id, apply)
        for trace in traces:
            self.tracer(trace.event, trace.details)
        return record, actions, list(recheck)

    def publish(self, flow_name: str, flow_id: str, action: Mapping[str, Any]) -> None:
        """Send what a step decided: a task, a sub-flow's start, a wake-up, the flow's end."""
        kind = action["kind"]
        if kind == "task":
            task = self.system.task(action["name"])
            self.run_node_task.apply_async(
                kwargs={
                    "flow_id": flow_id,
                    "flow_name": flow_name,
                    "node_id": action["id"],
                    "name": action["name"],
                    "node_args": action["node_args"],
                    "parent": action["parent"],
                    "attempt": 0,
                },
                task_id=action["id"],
                queue=task.queue,
                countdown=self._throttle(action["name"], task.throttling),
                serializer="json",
            )
        elif kind == "flow":
            flow = self.system.flow(action["name"])
            sub = FlowState(
                flow=action["name"],
                id=action["id"],
                node_args=action["node_args"],
                parent=action["parent"],
                selective=action["selective"],
            )
            self.store.create(sub, (flow_id, action["id"]), only_new=True)
            self.dispatcher.apply_async(
                kwargs={"flow_id": action["id"], "event": "start"},
                queue=flow.queue,
                countdown=self._throttle(action["name"], flow.throttling),
                serializer="json",
            )
        elif kind == "timer":
            self.dispatcher.apply_async(
                kwargs={"flow_id": flow_id, "event": "timer"},
                queue=self.system.flow(flow_name).queue,
                countdown=action["after"],
                serializer="json",
            )
        elif kind == "end":
            owner = action["owner"]
            if owner is not None:
                event_type = NodeFinished if action["ok"] else NodeFailed
                self.step(owner[0], event_type(owner[1], action["report"]))
            else:
                self.store.finish(
                    flow_id,
                    {
                        "status": "success" if action["ok"] else "failed",
                        "report": action["report"],
                        "reason": action["reason"],
                    },
                )

    def _throttle(self, name: str, interval: timedelta | None) -> float | None:
        """Per process, as the predecessor's: later starts wait for the interval to pass."""
        if interval is None:
            return None
        with self._throttle_lock:
            now = time.monotonic()
            at = max(now, self._throttled.get(name, now))
            self._throttled[name] = at + interval.total_seconds()
        return (at - now) or None

    # --- the safety net ------------------------------------------------------------------------

    def schedule_check(self, record: Record, delay: float) -> None:
        seconds = max(delay, SAFETY_NET_SECONDS)
        if self.store.claim_check(record.state.id, seconds + 60):  # released when it has run
            self.dispatcher.apply_async(
                kwargs={"flow_id": record.state.id, "event": "check"},
                queue=self.system.flow(record.state.flow).queue,
                countdown=seconds,
                serializer="json",
            )

    def check(self, flow_id: str) -> None:
        """Publish decisions a dead step left unpublished; pick up finished tasks whose
        completion was never applied; look again later while the flow runs."""
        record = self.store.load(flow_id)
        if record is None:
            self.store.release_check(flow_id)
            return
        # Even a flow that has ended may have its end (or a start) left unsent.
        self._publish_all(record, self.store.unpublished(flow_id, older_than=SAFETY_NET_SECONDS))
        if record.state.status != RUNNING:
            self.store.release_check(flow_id)
            return
        backend_enabled = type(self.app.backend).__name__ != "DisabledBackend"
        for node_id, name in list(record.state.active.items()):
            if self.system.is_flow(name) or not backend_enabled:
                continue
            result = self.app.AsyncResult(node_id)
            if result.state == "FAILURE" and self.store.exception(node_id) is not None:
                # The task failed for good (its exception is recorded) but the failure never
                # reached the flow. A FAILURE without it is a worker's error, not the task's.
                record = self.step(flow_id, NodeFailed(node_id))
            elif (
                result.state == "SUCCESS"
                and isinstance(result.result, dict)
                and (result.result.get("selinonc") == "finished")
            ):
                record = self.step(flow_id, NodeFinished(node_id))
        self.store.release_check(flow_id)
        if record.state.status == RUNNING:
            self.schedule_check(record, record.state.previous_retry or SAFETY_NET_SECONDS)

    # --- the Celery tasks ----------------------------------------------------------------------

    def dispatch(self, task: Task, flow_id: str, event: str) -> Any:
        try:
            if event == "check":
                self.check(flow_id)
            elif event.startswith("node-"):  # a task's outcome its worker could not apply
                kind, _, node_id = event[len("node-") :].partition(":")
                self.step(
                    flow_id, NodeFinished(node_id) if kind == "finished" else NodeFailed(node_id)
                )
            else:
                self.step(flow_id, Start() if event == "start" else Timer())
        except (StoreError, StorageError) as exc:
            # decisions.md, runtime 5: nothing was published; the whole step runs again.
            self.tracer("DISPATCHER_RETRY", {"flow_id": flow_id, "what": str(exc)})
            raise task.retry(countdown=1, exc=exc) from exc
        return {"selinonc": "dispatched", "flow_id": flow_id}

    def run_node(self, task: Task, job: dict[str, Any]) -> Any:
        flow_id, node_id = job["flow_id"], job["node_id"]
        try:
            record = self.store.load(flow_id)
        except StoreError as exc:  # the task has not run yet: running it later is safe
            raise task.retry(countdown=1, exc=exc, max_retries=None) from exc
        in_nowait = record is not None and any(
            node_id in ids for ids in record.state.nowait.values()
        )
        tracked = (
            record is not None
            and record.state.status == RUNNING
            and (node_id in record.state.active)
        )
        if not (tracked or in_nowait):
            return {"selinonc": "skipped"}  # a duplicate, or an attempt a flow retry abandoned
        run = TaskRun(
            node_id,
            job["name"],
            job["flow_name"],
            flow_id,
            job["node_args"],
            job["parent"] or {},
            job.get("attempt", 0),
        )
        outcome = run_task(self.system, self.pool, run, self.exceptions, self.tracer)
        if outcome.kind == "retry":
            attempt = run.attempt + (1 if outcome.counted else 0)
            raise task.retry(
                kwargs={**job, "attempt": attempt}, countdown=outcome.countdown, max_retries=None
            )
        if not in_nowait:
            finished = outcome.kind == "finished"
            self._record(
                flow_id, node_id, NodeFinished(node_id) if finished else NodeFailed(node_id)
            )
        if outcome.kind == "failed" and outcome.exception is not None:
            error = outcome.exception
            # The user's exception marks the Celery task failed; one that is not an Exception
            # (sys.exit()) would take the pool process down with it.
            raise error if isinstance(error, Exception) else TaskFailure(repr(error))
        return {"selinonc": "finished", "location": _jsonable(outcome.location)}

    def _record(self, flow_id: str, node_id: str, event: NodeFinished | NodeFailed) -> None:
        """Apply a task's outcome; when the store or a storage is down, hand it to the
        dispatcher, which retries until it is applied (the task itself is not run again)."""
        for attempt in range(3):
            try:
                self.step(flow_id, event)
                return
            except (StoreError, StorageError) as exc:
                _log.warning("applying %s to flow %s failed (%s)", event, flow_id, exc)
                time.sleep(0.1 * (attempt + 1))
        kind = "finished" if isinstance(event, NodeFinished) else "failed"
        self.dispatcher.apply_async(
            kwargs={"flow_id": flow_id, "event": f"node-{kind}:{node_id}"},
            queue=self._flow_queue(flow_id),
            serializer="json",
        )

    def _flow_queue(self, flow_id: str) -> str:
        try:
            record = self.store.load(flow_id)
        except StoreError:
            record = None
        return self.system.flow(record.state.flow).queue if record else "celery"


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _encode(record: Record, action: Any) -> dict[str, Any]:
    """An action as JSON for the outbox, with an id that a replay keeps."""
    state = record.state
    if isinstance(action, StartTask):
        return {
            "id": action.node_id,
            "kind": "task",
            "name": action.name,
            "node_args": action.node_args,
            "parent": dict(action.parent),
        }
    if isinstance(action, StartFlow):
        return {
            "id": action.node_id,
            "kind": "flow",
            "name": action.name,
            "node_args": action.node_args,
            "parent": dict(action.parent) if action.parent is not None else None,
            "selective": dict(action.selective) if action.selective is not None else None,
        }
    if isinstance(action, WakeUp):
        return {"id": f"{state.id}:wake:{state.retried}", "kind": "timer", "after": action.after}
    if isinstance(action, FlowFinished | FlowFailed):
        return {
            "id": f"{state.id}:end",
            "kind": "end",
            "ok": isinstance(action, FlowFinished),
            "report": dict(action.report),
            "reason": action.reason if isinstance(action, FlowFailed) else None,
            "owner": list(record.owner) if record.owner else None,
        }
    raise TypeError(f"no message for {action!r}")


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
