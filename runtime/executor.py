"""The embedded executor: runs a compiled flow in one process, with no broker.

Flows advance through the same core as on Celery (`advance`); tasks run inline or on worker
threads. Time is virtual by default: a countdown (a retry, throttling, a flow retry) moves a
clock instead of sleeping, so a flow with half-minute retries finishes at once. Completions are
events, so nothing polls.
"""

from __future__ import annotations

import copy
import dataclasses
import heapq
import itertools
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from selinonc.runtime.advance import advance
from selinonc.runtime.errors import StorageError
from selinonc.runtime.events import (
    Event,
    FlowFailed,
    FlowFinished,
    NodeFailed,
    NodeFinished,
    Start,
    StartFlow,
    StartTask,
    Timer,
    Trace,
    WakeUp,
)
from selinonc.runtime.pool import StoragePool
from selinonc.runtime.runner import Outcome, TaskRun, run_task
from selinonc.runtime.state import FAILED, FlowState
from selinonc.runtime.tables import System
from selinonc.runtime.trace import Tracer, tracer_for

# A storage error in a dispatcher step retries the step; after this many, the flow fails.
MAX_DISPATCHER_RETRIES = 10


@dataclass(slots=True)
class NodeRecord:
    """One node of a run, for the live view and the report."""

    id: str
    name: str
    kind: str  # "task" or "flow"
    flow: str  # the name of the flow it belongs to ("" for the top-level flow)
    flow_id: str  # the id of that flow instance ("" for the top-level flow)
    parent: Mapping[str, Any] | None
    status: str = "scheduled"  # scheduled, running, retrying, succeeded, failed
    nowait: bool = False
    fallback: bool = False
    attempts: int = 0
    retries: int = 0
    result: Any = None  # where the result is stored: {"storage", "location"}
    error: str | None = None  # traceback of the last failure
    reason: str | None = None  # why a flow failed
    started: float | None = None
    ended: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "flow": self.flow,
            "flow_id": self.flow_id,
            "parent": self.parent,
            "status": self.status,
            "nowait": self.nowait,
            "fallback": self.fallback,
            "attempts": self.attempts,
            "retries": self.retries,
            "result": self.result,
            "error": self.error,
            "reason": self.reason,
            "started": self.started,
            "ended": self.ended,
        }


@dataclass(slots=True)
class RunReport:
    """What a run did: the top-level flow's outcome and every node."""

    flow: str
    id: str
    status: str  # "success" or "failure"
    node_args: Any
    nodes: dict[str, NodeRecord]
    flow_report: Mapping[str, Any]
    reason: str | None
    clock: float  # seconds of (virtual or real) time the run took

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "id": self.id,
            "status": self.status,
            "node_args": self.node_args,
            "reason": self.reason,
            "seconds": round(self.clock, 6),
            "finished_nodes": self.flow_report.get("finished_nodes", {}),
            "failed_nodes": self.flow_report.get("failed_nodes", {}),
            "nodes": [n.to_json() for n in self.nodes.values()],
        }


@dataclass(order=True, slots=True)
class _Due:
    at: float
    seq: int
    job: Any = field(compare=False)


@dataclass(frozen=True, slots=True)
class _FlowEvent:
    flow_id: str
    event: Event
    attempt: int = 0


class Executor:
    """Runs flows of a compiled system in this process.

    Args:
        system: a generated package's SYSTEM.
        workers: tasks run on this many threads (1: inline, in order).
        real_time: sleep through countdowns instead of moving a virtual clock.
        tracer: receives every trace event (name, details); by default, the tracers of the
            package's `global.trace`.
        listener: called with a node's record whenever it changes (for live views).
    """

    def __init__(
        self,
        system: System,
        *,
        workers: int = 1,
        real_time: bool = False,
        tracer: Tracer | None = None,
        listener: Callable[[NodeRecord], None] | None = None,
    ) -> None:
        self.system = system
        self.workers = max(1, workers)
        self.real_time = real_time
        self.pool = StoragePool(system, locate=self._flow_name)
        self.tracer = tracer or tracer_for(system, self.pool)  # the package's global.trace
        self.listener = listener
        self.exceptions: dict[str, BaseException] = {}
        self.nodes: dict[str, NodeRecord] = {}
        self._states: dict[str, FlowState] = {}
        self._owner: dict[str, tuple[str, str] | None] = {}  # flow id -> (parent flow id, node)
        self._queue: list[_Due] = []
        self._seq = itertools.count()
        self._clock = 0.0
        self._start = time.monotonic()
        self._throttled: dict[str, float] = {}  # node name -> when it may start next
        self._result: tuple[str, Mapping[str, Any], str | None] | None = None

    def _flow_name(self, flow_id: str) -> str | None:
        state = self._states.get(flow_id)
        return state.flow if state is not None else None

    # --- time --------------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the run started (virtual unless real_time)."""
        return time.monotonic() - self._start if self.real_time else self._clock

    def _push(self, after: float, job: Any) -> None:
        heapq.heappush(self._queue, _Due(self.now() + max(0.0, after), next(self._seq), job))

    def _wait_until(self, at: float) -> None:
        if self.real_time:
            delay = at - self.now()
            if delay > 0:
                time.sleep(delay)
        else:
            self._clock = max(self._clock, at)

    # --- running -------------------------------------------------------------------------------

    def run(
        self,
        flow_name: str,
        node_args: Any = None,
        flow_id: str = "flow",
        selective: Mapping[str, Any] | None = None,
    ) -> RunReport:
        """Run flow `flow_name` to its end (and every nowait node it started).

        Args:
            flow_name: the flow.
            node_args: its arguments.
            flow_id: the id of the flow instance (node ids derive from it).
            selective: a selective run, from `selinonc.runtime.selective.compute`.

        Raises:
            UnknownFlowError: when the system has no such flow.
        """
        self.system.flow(flow_name)
        self._states[flow_id] = FlowState(
            flow=flow_name,
            id=flow_id,
            node_args=node_args,
            selective=dict(selective) if selective is not None else None,
        )
        self._owner[flow_id] = None
        self.tracer("FLOW_SCHEDULE", {"flow_name": flow_name, "flow_id": flow_id})
        self._push(0, _FlowEvent(flow_id, Start()))
        with ThreadPoolExecutor(self.workers) if self.workers > 1 else _Inline() as threads:
            self._loop(threads)
        assert self._result is not None, "the top-level flow never ended"
        status, report, reason = self._result
        return RunReport(
            flow=flow_name,
            id=flow_id,
            status=status,
            node_args=node_args,
            nodes=self.nodes,
            flow_report=report,
            reason=reason,
            clock=self.now(),
        )

    def _loop(self, threads: Any) -> None:
        running: dict[Future[Outcome], TaskRun] = {}
        while self._queue or running:
            while self._queue and self._queue[0].at <= self.now():
                job = heapq.heappop(self._queue).job
                if isinstance(job, _FlowEvent):
                    self._dispatch(job)
                elif len(running) < self.workers:
                    self._begin(job)
                    running[threads.submit(self._attempt, job)] = job
                else:  # every worker is busy: it waits for the next free one
                    heapq.heappush(self._queue, _Due(self.now(), next(self._seq), job))
                    break
            if running:
                timeout = None
                if self.real_time and self._queue:  # a retry may be due before a task ends
                    timeout = max(0.0, self._queue[0].at - self.now())
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f].node_id):
                    self._end(running.pop(future), future.result())
            elif self._queue:
                self._wait_until(self._queue[0].at)

    def _attempt(self, job: TaskRun) -> Outcome:
        return run_task(self.system, self.pool, job, self.exceptions, self.tracer)

    def _begin(self, job: TaskRun) -> None:
        record = self.nodes[job.node_id]
        record.status, record.attempts = "running", record.attempts + 1
        record.started = record.started if record.started is not None else self.now()
        self._changed(record)

    def _end(self, job: TaskRun, outcome: Outcome) -> None:
        record = self.nodes[job.node_id]
        if outcome.kind == "retry":
            record.status, record.retries, record.error = (
                "retrying",
                record.retries + 1,
                outcome.error,
            )
            attempt = job.attempt + (1 if outcome.counted else 0)
            self._push(outcome.countdown, dataclasses.replace(job, attempt=attempt))
        else:
            ok = outcome.kind == "finished"
            record.status = "succeeded" if ok else "failed"
            if outcome.location is not None:
                storage = self.system.task(job.name).storage
                record.result = {"storage": storage, "location": outcome.location}
            record.error, record.ended = outcome.error, self.now()
            event = NodeFinished(job.node_id) if ok else NodeFailed(job.node_id)
            if not record.nowait:
                self._push(0, _FlowEvent(job.flow_id, event))
        self._changed(record)

    def _changed(self, record: NodeRecord) -> None:
        if self.listener is not None:
            self.listener(record)

    # --- dispatching ---------------------------------------------------------------------------

    def _dispatch(self, job: _FlowEvent) -> None:
        state = self._states[job.flow_id]
        try:
            _, actions = advance(self.system, state, job.event, self.pool.retrieve)
        except StorageError as exc:
            self.tracer(
                "STORAGE_ISSUE", {"flow_name": state.flow, "flow_id": state.id, "what": str(exc)}
            )
            if job.attempt + 1 >= MAX_DISPATCHER_RETRIES:
                state.status = FAILED  # for good: later events of its nodes are ignored
                actions = [FlowFailed(state.report(), f"storage error: {exc}")]
            else:
                countdown = self.system.flow(state.flow).retry_countdown or 1
                self.tracer("DISPATCHER_RETRY", {"flow_name": state.flow, "flow_id": state.id})
                self._push(countdown, _FlowEvent(job.flow_id, job.event, job.attempt + 1))
                return
        for action in actions:
            self._act(state, action)

    def _act(self, state: FlowState, action: Any) -> None:
        if isinstance(action, Trace):
            self.tracer(action.event, action.details)
        elif isinstance(action, StartTask | StartFlow):
            self._start_node(state, action)
        elif isinstance(action, WakeUp):
            self._push(action.after, _FlowEvent(state.id, Timer()))
        elif isinstance(action, FlowFinished | FlowFailed):
            self._flow_ended(state, action)

    def _start_node(self, state: FlowState, action: StartTask | StartFlow) -> None:
        flow = self.system.flow(state.flow)
        kind = "flow" if isinstance(action, StartFlow) else "task"
        record = NodeRecord(
            id=action.node_id,
            name=action.name,
            kind=kind,
            flow=state.flow,
            flow_id=state.id,
            parent=action.parent,
            nowait=action.name in flow.nowait,
            fallback=action.fallback,
        )
        self.nodes[action.node_id] = record
        self._changed(record)
        delay = self._throttle(action.name, kind)
        if isinstance(action, StartFlow):
            sub = FlowState(
                flow=action.name,
                id=action.node_id,
                node_args=copy.deepcopy(action.node_args),
                parent=copy.deepcopy(dict(action.parent)) if action.parent is not None else None,
                selective=dict(action.selective) if action.selective is not None else None,
            )
            self._states[sub.id] = sub
            self._owner[sub.id] = None if record.nowait else (state.id, action.node_id)
            record.status, record.attempts = "running", 1
            self._push(delay, _FlowEvent(sub.id, Start()))
        else:
            # Each node its own copy, as each Celery message carries one: a task that changes
            # its arguments changes nothing for the others.
            job = TaskRun(
                action.node_id,
                action.name,
                state.flow,
                state.id,
                copy.deepcopy(action.node_args),
                copy.deepcopy(dict(action.parent)),
            )
            self._push(delay, job)

    def _throttle(self, name: str, kind: str) -> float:
        """Throttling (per process, as the predecessor's): the first start is immediate, each
        later one waits until `throttling` has passed since the previous one."""
        interval: timedelta | None
        if kind == "flow":
            interval = self.system.flow(name).throttling
        else:
            interval = self.system.task(name).throttling
        if interval is None:
            return 0.0
        now = self.now()
        at = max(now, self._throttled.get(name, now))
        self._throttled[name] = at + interval.total_seconds()
        return at - now

    def _flow_ended(self, state: FlowState, action: FlowFinished | FlowFailed) -> None:
        ok = isinstance(action, FlowFinished)
        reason = action.reason if isinstance(action, FlowFailed) else None
        owner = self._owner.get(state.id)
        record = self.nodes.get(state.id)
        if record is not None:
            record.status = "succeeded" if ok else "failed"
            record.reason, record.ended = reason, self.now()
            record.result = {"finished_nodes": action.report.get("finished_nodes", {})}
            self._changed(record)
        if owner is None and record is None:  # the top-level flow
            self._result = ("success" if ok else "failure", action.report, reason)
        elif owner is not None:
            parent_flow, node_id = owner
            event = (
                NodeFinished(node_id, action.report) if ok else NodeFailed(node_id, action.report)
            )
            self._push(0, _FlowEvent(parent_flow, event))


class _Inline:
    """A stand-in for a thread pool of one: runs each task when it is submitted."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, function: Callable[[TaskRun], Outcome], job: TaskRun) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        try:
            future.set_result(function(job))
        except BaseException as exc:
            future.set_exception(exc)
        return future
