"""The embedded executor: runs a compiled flow in one process, with no broker.

Flows advance through the same core as on Celery (`advance`); tasks run inline or on worker
threads. Time is virtual by default: a countdown (a retry, throttling, a flow retry) moves a
clock instead of sleeping, so a flow with half-minute retries finishes at once. Completions are
events, so nothing polls.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import difflib
import heapq
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from selinonc.runtime import placeholders
from selinonc.runtime.core import selective
from selinonc.runtime.core.advance import advance
from selinonc.runtime.core.events import (
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
from selinonc.runtime.core.selective import SelectiveNoPathError
from selinonc.runtime.core.state import FAILED, SUCCEEDED, FlowState
from selinonc.runtime.errors import (
    PlaceholderError,
    SelinoncError,
    StorageError,
    UnknownFlowError,
    UnknownTaskError,
)
from selinonc.runtime.policies import EMBEDDED_RETRIES, Throttle
from selinonc.runtime.pool import StoragePool
from selinonc.runtime.report import NodeRecord, RunInterrupted, RunReport
from selinonc.runtime.runner import Outcome, TaskRun, run_task
from selinonc.runtime.tables import System
from selinonc.runtime.trace import Tracer, tracer_for

__all__ = [
    "HEARTBEAT",
    "MAX_DISPATCHER_RETRIES",
    "Executor",
    "NodeRecord",
    "PlaceholderError",
    "RunInterrupted",
    "RunReport",
    "SelectiveNoPathError",
    "SelinoncError",
    "UnknownFlowError",
    "UnknownTaskError",
    "importing_for_one_process",
]

# A storage error in a dispatcher step retries the step; after this many, the flow fails.
MAX_DISPATCHER_RETRIES = EMBEDDED_RETRIES.limit
# Seconds between two calls of the heartbeat while the executor waits in real time.
HEARTBEAT = 0.1
# How many task names an unknown-task error lists before it counts the rest.
_NAMES_LISTED = 40


@contextlib.contextmanager
def importing_for_one_process() -> Iterator[None]:
    """Import a flow package for the embedded executor: a `{VAR}` placeholder whose variable
    is not set resolves to a marked value instead of failing the import, since a run in one
    process routes nothing to a queue. A value that is needed (a Sentry DSN) still fails, when
    it is used, with the error naming the variable; a worker's import is never lenient."""
    with placeholders.deferred():
        yield


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
        heartbeat: called every HEARTBEAT seconds or so while the executor waits in real time
            (a countdown, or tasks on worker threads), so a live view can show the countdown.
        timeout: stop starting work after this many seconds of run time (virtual, or real
            with `real_time`); the report's status is then "timeout". With `real_time`, tasks
            run on threads (one at least) so that a task still running at the timeout is left
            behind, still "running", instead of holding the run.
        max_nodes: stop when the run is about to start more than this many nodes (tasks and
            sub-flows, fallbacks and nowait nodes included); the status is then "node-limit".
    """

    def __init__(
        self,
        system: System,
        *,
        workers: int = 1,
        real_time: bool = False,
        tracer: Tracer | None = None,
        listener: Callable[[NodeRecord], None] | None = None,
        heartbeat: Callable[[], None] | None = None,
        timeout: float | None = None,
        max_nodes: int | None = None,
    ) -> None:
        self.system = system
        self.workers = max(1, workers)
        self.real_time = real_time
        self.timeout = timeout
        self.max_nodes = max_nodes
        self.pool = StoragePool(system, locate=self._flow_name)
        self.tracer = tracer or tracer_for(system, self.pool)  # the package's global.trace
        self.listener = listener
        self.heartbeat = heartbeat
        self.exceptions: dict[str, BaseException] = {}
        self.nodes: dict[str, NodeRecord] = {}
        self._states: dict[str, FlowState] = {}
        self._owner: dict[str, tuple[str, str] | None] = {}  # flow id -> (parent flow id, node)
        self._queue: list[_Due] = []
        self._seq = itertools.count()
        self._clock = 0.0
        self._start = time.monotonic()
        self._throttle = Throttle(system, self.now)
        self._result: tuple[str, Mapping[str, Any], str | None] | None = None
        self._started = 0  # nodes started, for max_nodes
        self._stopped: tuple[str, str] | None = None  # (status, reason) of a run cut short

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
        """Move time on to `at`, or to the timeout when that comes first (and stop there)."""
        timed_out = self.timeout is not None and at > self.timeout
        if self.timeout is not None:
            at = min(at, self.timeout)
        if self.real_time:
            while (delay := at - self.now()) > 0:
                time.sleep(min(delay, HEARTBEAT) if self.heartbeat is not None else delay)
                self._beat()
        else:
            self._clock = max(self._clock, at)
        if timed_out:
            self._time_out()

    def _wait_timeout(self, blocked: bool) -> float | None:
        """How long to wait for a running task: until the next job is due (a job waiting for
        a busy worker is not), the timeout, or the next heartbeat; None for as long as it takes."""
        bounds: list[float] = []
        if self.real_time:
            if self._queue and not blocked:
                bounds.append(self._queue[0].at - self.now())
            if self.timeout is not None:
                bounds.append(self.timeout - self.now())
        if self.heartbeat is not None:
            bounds.append(HEARTBEAT)
        return max(0.0, min(bounds)) if bounds else None

    def _time_out(self) -> None:
        clock = "real" if self.real_time else "virtual"
        limit = f"{self.timeout:g} s ({clock} time)"
        self._stop("timeout", f"the run reached its time limit of {limit}")

    def _stop(self, status: str, reason: str) -> None:
        if self._stopped is None:
            self._stopped = (status, reason)

    def _cut_short(self) -> bool:
        return self._stopped is not None

    def _beat(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat()

    # --- running -------------------------------------------------------------------------------

    def select(
        self,
        flow_name: str,
        task_names: Sequence[str],
        *,
        follow_subflows: bool = False,
        run_subsequent: bool = False,
    ) -> dict[str, Any]:
        """The `selective` argument of `run` for a run of `flow_name` limited to what leads to
        `task_names` (the predecessor's selective runs, selinon-reference.md §4.21).

        Raises:
            UnknownFlowError: when the system has no such flow.
            UnknownTaskError: when a name is not a task of the system, naming its tasks.
            SelectiveNoPathError: when no path of the flow leads to one of the tasks.
        """
        self.system.flow(flow_name)
        for name in task_names:
            if name not in self.system.tasks:
                raise UnknownTaskError(self._unknown_task(name))
        return selective.compute(
            self.system,
            flow_name,
            task_names,
            follow_subflows=follow_subflows,
            run_subsequent=run_subsequent,
        )

    def _unknown_task(self, name: str) -> str:
        known = sorted(self.system.tasks)
        what = "a flow, not a task" if self.system.is_flow(name) else "not a task"
        text = f"{name!r} is {what} of flow package {self.system.package!r}"
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            text += f" (did you mean {close[0]!r}?)"
        listed = ", ".join(known[:_NAMES_LISTED])
        more = len(known) - _NAMES_LISTED
        return f"{text}; its tasks are: {listed}" + (f" and {more} more" if more > 0 else "")

    def run(
        self,
        flow_name: str,
        node_args: Any = None,
        flow_id: str = "flow",
        selective: Mapping[str, Any] | None = None,
    ) -> RunReport:
        """Run flow `flow_name` to its end (and every nowait node it started), or until the
        timeout or the node limit stops it.

        Args:
            flow_name: the flow.
            node_args: its arguments.
            flow_id: the id of the flow instance (node ids derive from it).
            selective: a selective run, from `select` (or `selinonc.runtime.core.selective`).

        Raises:
            UnknownFlowError: when the system has no such flow.
            RunInterrupted: on Ctrl-C, with the report of what ran until then.
        """
        self.system.flow(flow_name)
        self._states[flow_id] = FlowState(
            flow=flow_name,
            id=flow_id,
            node_args=node_args,
            selective=dict(selective) if selective is not None else None,
        )
        self._owner[flow_id] = None
        self._start = time.monotonic()
        self.tracer("FLOW_SCHEDULE", {"flow_name": flow_name, "flow_id": flow_id})
        self._push(0, _FlowEvent(flow_id, Start()))
        threaded = self.workers > 1 or (self.real_time and self.timeout is not None)
        threads: ThreadPoolExecutor | _Inline = (
            ThreadPoolExecutor(self.workers) if threaded else _Inline()
        )
        try:
            self._loop(threads)
        except KeyboardInterrupt:
            self._stop("interrupted", "the run was interrupted (Ctrl-C)")
            raise RunInterrupted(self._report(flow_id, node_args)) from None
        finally:
            # A run cut short leaves the tasks still running to their threads.
            threads.shutdown(wait=self._stopped is None, cancel_futures=True)
        return self._report(flow_id, node_args)

    def _report(self, flow_id: str, node_args: Any) -> RunReport:
        state = self._states[flow_id]
        report: Mapping[str, Any]
        reason: str | None
        if self._stopped is not None:
            (status, reason), report = self._stopped, state.report()
        else:
            assert self._result is not None, "the top-level flow never ended"
            status, report, reason = self._result
        return RunReport(
            flow=state.flow,
            id=flow_id,
            status=status,
            node_args=node_args,
            nodes=self.nodes,
            flow_report=report,
            reason=reason,
            clock=self.now(),
        )

    def result(self, node_id: str) -> Any:
        """What a node gave: a finished task's result, read through its storage as a task's
        `parent_task_result` reads it, or a finished sub-flow's finished nodes.

        Raises:
            KeyError: when the run has no such node.
            StorageError: when the node has no stored result, or it cannot be read.
        """
        record = self.nodes[node_id]
        if record.result is None:
            raise StorageError(f"node {record.name!r} ({node_id}) has no stored result")
        if record.kind == "flow":
            return record.result
        return self.pool.retrieve(record.flow, record.name, node_id)

    def _loop(self, threads: ThreadPoolExecutor | _Inline) -> None:
        running: dict[Future[Outcome], TaskRun] = {}
        while (self._queue or running) and not self._cut_short():
            blocked = self._start_due(threads, running)
            if self._cut_short():
                break
            if running:
                timeout = self._wait_timeout(blocked)
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f].node_id):
                    self._end(running.pop(future), future.result())
                self._beat()
                if self.real_time and self.timeout is not None and self.now() >= self.timeout:
                    self._time_out()
            elif self._queue:
                self._wait_until(self._queue[0].at)

    def _start_due(
        self, threads: ThreadPoolExecutor | _Inline, running: dict[Future[Outcome], TaskRun]
    ) -> bool:
        """Dispatch the flow events and start the tasks that are due; True when a due task
        waits for a busy worker."""
        while self._queue and self._queue[0].at <= self.now() and not self._cut_short():
            job = heapq.heappop(self._queue).job
            if isinstance(job, _FlowEvent):
                self._dispatch(job)
            elif len(running) < self.workers:
                self._begin(job)
                running[threads.submit(self._attempt, job)] = job
            else:  # every worker is busy: it waits for the next free one
                heapq.heappush(self._queue, _Due(self.now(), next(self._seq), job))
                return True
        return False

    def _attempt(self, job: TaskRun) -> Outcome:
        return run_task(self.system, self.pool, job, self.exceptions, self.tracer)

    def _begin(self, job: TaskRun) -> None:
        record = self.nodes[job.node_id]
        record.status, record.attempts = "running", record.attempts + 1
        record.started = record.started if record.started is not None else self.now()
        record.due = None
        self._changed(record)

    def _end(self, job: TaskRun, outcome: Outcome) -> None:
        record = self.nodes[job.node_id]
        if outcome.kind == "retry":
            record.status, record.retries, record.error = (
                "retrying",
                record.retries + 1,
                outcome.error,
            )
            record.due = self.now() + max(0.0, outcome.countdown)
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
            _, actions = advance(
                self.system, state, job.event, self.pool.retrieve, self._sub_report
            )
        except StorageError as exc:
            self.tracer(
                "STORAGE_ISSUE", {"flow_name": state.flow, "flow_id": state.id, "what": str(exc)}
            )
            if EMBEDDED_RETRIES.gives_up(job.attempt):
                state.status = FAILED  # for good: later events of its nodes are ignored
                actions = [FlowFailed(state.report(), f"storage error: {exc}")]
            else:
                countdown = self.system.flow(state.flow).retry_countdown or (
                    EMBEDDED_RETRIES.countdown
                )
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
            self._push(action.after, _FlowEvent(state.id, Timer(state.retried)))
        elif isinstance(action, FlowFinished | FlowFailed):
            self._flow_ended(state, action)

    def _start_node(self, state: FlowState, action: StartTask | StartFlow) -> None:
        if self.max_nodes is not None and self._started >= self.max_nodes:
            reason = f"the run was about to start more than its limit of {self.max_nodes} nodes"
            self._stop("node-limit", reason)
        if self._stopped is not None:
            return  # a run cut short starts nothing more
        self._started += 1
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
        delay = self._throttle.delay(action.name)
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
            record.due = self.now() + delay if delay > 0 else None
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
            self._result = (SUCCEEDED if ok else FAILED, action.report, reason)
        elif owner is not None:
            parent_flow, node_id = owner
            event = NodeFinished(node_id) if ok else NodeFailed(node_id)
            self._push(0, _FlowEvent(parent_flow, event))

    def _sub_report(self, node_id: str) -> Mapping[str, Any] | None:
        """The report of the sub-flow that ran as `node_id` (the core reads it by reference)."""
        state = self._states.get(node_id)
        return state.report() if state is not None else None


class _Inline:
    """A stand-in for a thread pool of one: runs each task when it is submitted."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None

    def submit(self, function: Callable[[TaskRun], Outcome], job: TaskRun) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        try:
            future.set_result(function(job))
        except BaseException as exc:
            future.set_exception(exc)
        return future
