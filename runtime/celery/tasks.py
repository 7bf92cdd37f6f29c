"""The Celery side of the driver: the messages steps publish, and the two Celery tasks.

`selinonc.dispatcher` starts flows, wakes them for flow retries, applies outcomes a worker could
not record, and runs the safety net; `selinonc.task` runs one node. A node runs only under its
claim (renewed while the task body runs), so a duplicated message never runs a body twice at
once or after the node is done, and it runs the task the flow published (the store's copy), not
what the message says. Tasks are acknowledged late and rejected when their worker is lost; what a
killed worker held is sent again by the deadline poller (poller.py) once its claim lapses, or
once a task was not claimed in time, whatever the broker's visibility timeout.

Nothing waits in a countdown message for the dispatcher: a flow's start under throttling, its
retry timer and its next safety-net check are deadlines in the store, sent when due.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from celery import Task

from selinonc.runtime.celery import messages
from selinonc.runtime.celery.messages import BadMessage
from selinonc.runtime.celery.store import (
    NoSuchFlow,
    StoreError,
    check_member,
    start_member,
    timer_member,
)
from selinonc.runtime.core.events import NodeFailed, NodeFinished, Start, Timer
from selinonc.runtime.errors import StorageError
from selinonc.runtime.policies import CELERY_RETRIES, Throttle
from selinonc.runtime.runner import TaskRun, run_task

if TYPE_CHECKING:
    from selinonc.runtime.celery.driver import Driver

DISPATCHER = "selinonc.dispatcher"
TASK = "selinonc.task"
CLAIM_SECONDS = 30.0  # a node claim's lease; renewed every third of it while the task runs
# How long a finished task's result is tried again while its storage is unreachable.
STORE_PATIENCE_SECONDS = 120.0
# A claim whose completion waits in the dispatcher's queue (the store was down) is held this long.
HANDOFF_SECONDS = 3600.0
OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "serializer": "json",
    "max_retries": None,
    "ignore_result": False,
    # Checks each message before Celery decodes it (guard.py).
    "Strategy": "selinonc.runtime.celery.guard:strategy",
}
_log = logging.getLogger("selinonc.celery")


class TaskFailure(Exception):
    """A failed task's exception, when its own class cannot be rebuilt here."""


class CeleryPublisher:
    """Sends what steps decide as Celery messages (throttled per process, as the predecessor)."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._throttle = Throttle(driver.system, time.monotonic)

    def task(
        self,
        flow_name: str,
        flow_id: str,
        action: Mapping[str, Any],
        *,
        throttled: bool = True,
        connection: Any = None,
    ) -> float | None:
        task = self.driver.system.task(action["name"])
        countdown = self._throttle.delay(action["name"]) if throttled else None
        self.driver.run_node_task.apply_async(
            kwargs={
                "flow_id": flow_id,
                "flow_name": flow_name,
                "node_id": action["id"],
                "name": action["name"],
                "node_args": action["node_args"],
                "parent": action["parent"],
                "attempt": 0,
                "retried": action.get("retried", 0),
            },
            task_id=action["id"],
            queue=task.queue,
            countdown=countdown or None,
            serializer="json",
            connection=connection,
        )
        return countdown

    def start(self, flow_name: str, flow_id: str) -> None:
        """A flow's start: sent now (and sent again if no step applied it in time), or when
        its throttling lets it."""
        store, delay = self.driver.store, self._throttle.delay(flow_name)
        if delay:
            store.schedule(start_member(flow_id), delay)
            return
        store.schedule(start_member(flow_id), self.driver.stepper.redeliver_after)
        self.dispatch(flow_name, flow_id, "start")

    def timer(self, flow_name: str, flow_id: str, after: float, retried: int | None) -> None:
        self.driver.store.schedule(timer_member(flow_id, retried), after)

    def check(self, flow_name: str, flow_id: str, after: float, mark: str) -> None:
        self.driver.store.schedule(check_member(flow_id, mark), after)

    def dispatch(self, flow_name: str, flow_id: str, event: str, connection: Any = None) -> None:
        """Send the dispatcher an event of a flow, now."""
        self.driver.dispatcher.apply_async(
            kwargs={"flow_id": flow_id, "event": event},
            queue=self.driver.system.flow(flow_name).queue,
            serializer="json",
            connection=connection,
        )


def refuse(driver: Driver, what: str, why: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """A message selinonc did not send, or a damaged one: acknowledged, logged, traced."""
    _log.error("refused a %s message: %s (%s)", what, why, _brief(details))
    with contextlib.suppress(Exception):  # a tracer's failure must not crash the worker
        driver.tracer("MESSAGE_REFUSED", {"task": what, "reason": why})
    return {"selinonc": "refused", "why": why}


def _brief(details: Mapping[str, Any]) -> str:
    text = repr(dict(details))
    return text if len(text) <= 300 else text[:297] + "..."


def dispatch(driver: Driver, task: Task, kwargs: Mapping[str, Any]) -> Any:
    """The dispatcher task: one flow event."""
    try:
        if set(kwargs) != {"flow_id", "event"}:
            raise BadMessage(f"arguments {sorted(map(str, kwargs))}, not flow_id and event")
        flow_id = messages.flow_id(kwargs["flow_id"])
        event = messages.dispatcher_event(flow_id, kwargs["event"])
    except BadMessage as exc:
        return refuse(driver, DISPATCHER, str(exc), kwargs)
    stepper = driver.stepper
    member: str | None = None
    try:
        if event.partition(":")[0] == "check":
            stepper.check(flow_id, event[len("check:") :])
        elif event.startswith("node-"):  # a task's outcome its worker could not record
            kind, _, rest = event[len("node-") :].partition(":")
            node_id, _, token = rest.partition(":")
            outcome = NodeFinished(node_id) if kind == "finished" else NodeFailed(node_id)
            if not stepper.complete(flow_id, node_id, outcome, by=token):
                _log.info("node %s: an outcome recorded before, or not its claim's", node_id)
        elif event == "start":
            # Applied only when this step ran: a lease holder that dies leaves it pending.
            if stepper.step(flow_id, Start()) is not None:
                member = start_member(flow_id)
        else:
            timer = _timer(event)
            if stepper.step(flow_id, timer) is not None:
                member = timer_member(flow_id, timer.retried)
    except NoSuchFlow as exc:
        # Never started here, lost with a Redis that kept nothing, or removed after its
        # retention: nothing will ever change that.
        _log.warning("dropped %s for flow %s: %s", event, flow_id, exc)
        with contextlib.suppress(StoreError):
            for gone in (start_member(flow_id), check_member(flow_id, event[len("check:") :])):
                driver.store.unschedule(gone)
        return {"selinonc": "dropped", "flow_id": flow_id}
    except (StoreError, StorageError) as exc:
        # decisions.md, runtime 5: what a step could not apply stays pending; try again.
        driver.tracer("DISPATCHER_RETRY", {"flow_id": flow_id, "what": str(exc)})
        raise task.retry(countdown=CELERY_RETRIES.countdown, exc=exc) from exc
    if member is not None:  # applied, or in the inbox of a step under way: delivered
        with contextlib.suppress(StoreError):  # else sent again when due: harmless
            driver.store.unschedule(member)
    return {"selinonc": "dispatched", "flow_id": flow_id}


def _timer(event: str) -> Timer:
    """A "timer" or "timer:<flow retry>" event."""
    _, _, retried = event.partition(":")
    return Timer(int(retried) if retried.isdigit() else None)


@contextlib.contextmanager
def _renewed(driver: Driver, flow_id: str, node_id: str, token: str) -> Iterator[None]:
    """Renew the node's claim while the task body runs (in this process, on a thread)."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(CLAIM_SECONDS / 3):
            with contextlib.suppress(Exception):  # a missed renewal: the next one may do
                driver.store.extend(flow_id, node_id, token, CLAIM_SECONDS)

    thread = threading.Thread(target=renew, name=f"selinonc-claim-{node_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=1)


def run_node(driver: Driver, task: Task, job: dict[str, Any]) -> Any:
    """The task wrapper: claim the node, run the task the flow published, record its
    outcome."""
    try:
        job = messages.task_job(job)
    except BadMessage as exc:
        return refuse(driver, TASK, str(exc), job)
    flow_id, node_id = job["flow_id"], job["node_id"]
    try:
        meta = driver.stepper.meta(flow_id)
    except StoreError as exc:  # the task has not run yet: running it later is safe
        raise task.retry(countdown=1, exc=exc, max_retries=None) from exc
    if meta is None:
        _log.warning("node %s: its flow %s is not in the flow store", node_id, flow_id)
        return {"selinonc": "skipped", "why": "unknown"}
    if (
        meta.flow != job["flow_name"]
        or meta.flow not in driver.system.flows
        or job["name"] not in driver.system.tasks
    ):
        return refuse(driver, TASK, f"node {node_id} is not a node of that flow or task", job)
    # A fresh token for each delivery: a retry message names the claim it continues
    # (`previous`), so two deliveries of that one message cannot both take it.
    token = uuid.uuid4().hex
    nowait = job["name"] in driver.system.flow(meta.flow).nowait
    try:
        claim = driver.store.claim(
            flow_id,
            node_id,
            token,
            int(job.get("retried", 0)),
            CLAIM_SECONDS,
            nowait=nowait,
            previous=job.get("claim"),
            name=job["name"],
        )
    except StoreError as exc:  # the task has not run yet: running it later is safe
        raise task.retry(countdown=1, exc=exc, max_retries=None) from exc
    if claim.verdict == "held":  # running elsewhere; ask again when its claim would lapse
        raise task.retry(kwargs=job, countdown=claim.wait + 0.1, max_retries=None)
    if claim.verdict == "unsent":
        return refuse(driver, TASK, f"flow {flow_id} never sent node {node_id}", job)
    if claim.verdict == "mismatch":
        return refuse(driver, TASK, f"flow {flow_id} sent node {node_id} as another task", job)
    if claim.verdict != "ok" or claim.action is None:
        return {"selinonc": "skipped", "why": claim.verdict}
    sent = claim.action  # what the flow published, whatever the message says
    run = TaskRun(
        node_id,
        sent["name"],
        meta.flow,
        flow_id,
        sent["node_args"],
        sent["parent"] or {},
        job.get("attempt", 0),
    )
    with _renewed(driver, flow_id, node_id, token):
        outcome = run_task(
            driver.system,
            driver.pool,
            run,
            driver.exceptions,
            driver.tracer,
            store_patience=STORE_PATIENCE_SECONDS,  # a storage restarting: its claim is renewed
        )
        if outcome.kind != "retry":  # recorded under the claim: no duplicate runs meanwhile
            event = NodeFinished(node_id) if outcome.kind == "finished" else NodeFailed(node_id)
            driver.record(meta.flow, flow_id, node_id, None if nowait else event, token)
    if outcome.kind == "retry":
        attempt = run.attempt + (1 if outcome.counted else 0)
        with contextlib.suppress(StoreError, NoSuchFlow):  # hold the node through the countdown
            driver.store.extend(flow_id, node_id, token, outcome.countdown + CLAIM_SECONDS)
        raise task.retry(
            kwargs={**job, "attempt": attempt, "claim": token},
            countdown=outcome.countdown,
            max_retries=None,
        )
    if outcome.kind == "failed" and outcome.exception is not None:
        error = outcome.exception
        # The user's exception marks the Celery task failed; one that is not an Exception
        # (sys.exit()) would take the pool process down with it.
        raise error if isinstance(error, Exception) else TaskFailure(repr(error))
    return {"selinonc": "finished", "location": _jsonable(outcome.location)}


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
