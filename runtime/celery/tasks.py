"""The Celery side of the driver: the messages steps publish, and the two Celery tasks.

`selinonc.dispatcher` starts flows, wakes them for flow retries, applies outcomes a worker could
not record, and runs the safety net; `selinonc.task` runs one node. A node runs only under its
claim (renewed while the task body runs), so a duplicated message never runs a body twice at
once or after the node is done. Tasks are acknowledged late and rejected when their worker is
lost: a killed worker's message is redelivered, its claim lapses, and the node runs again.
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

from selinonc.runtime.celery.store import NoSuchFlow, StoreError
from selinonc.runtime.core.events import NodeFailed, NodeFinished, Start, Timer
from selinonc.runtime.errors import StorageError
from selinonc.runtime.policies import CELERY_RETRIES, Throttle
from selinonc.runtime.runner import TaskRun, run_task

if TYPE_CHECKING:
    from selinonc.runtime.celery.driver import Driver

DISPATCHER = "selinonc.dispatcher"
TASK = "selinonc.task"
CLAIM_SECONDS = 30.0  # a node claim's lease; renewed every third of it while the task runs
# A claim whose completion waits in the dispatcher's queue (the store was down) is held this long.
HANDOFF_SECONDS = 3600.0
OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "serializer": "json",
    "max_retries": None,
    "ignore_result": False,
}
_log = logging.getLogger("selinonc.celery")


class TaskFailure(Exception):
    """A failed task's exception, when its own class cannot be rebuilt here."""


class CeleryPublisher:
    """Sends what steps decide as Celery messages (throttled per process, as the predecessor)."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._throttle = Throttle(driver.system, time.monotonic)

    def task(self, flow_name: str, flow_id: str, action: Mapping[str, Any]) -> None:
        task = self.driver.system.task(action["name"])
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
            countdown=self._throttle.delay(action["name"]) or None,
            serializer="json",
        )

    def start(self, flow_name: str, flow_id: str) -> None:
        self._dispatch(flow_name, flow_id, "start", self._throttle.delay(flow_name))

    def timer(self, flow_name: str, flow_id: str, after: float, retried: int | None) -> None:
        self._dispatch(
            flow_name, flow_id, f"timer:{retried}" if retried is not None else "timer", after
        )

    def check(self, flow_name: str, flow_id: str, after: float, mark: str) -> None:
        self._dispatch(flow_name, flow_id, f"check:{mark}", after)

    def _dispatch(self, flow_name: str, flow_id: str, event: str, after: float | None) -> None:
        self.driver.dispatcher.apply_async(
            kwargs={"flow_id": flow_id, "event": event},
            queue=self.driver.system.flow(flow_name).queue,
            countdown=after or None,
            serializer="json",
        )


def dispatch(driver: Driver, task: Task, flow_id: str, event: str) -> Any:
    """The dispatcher task: one flow event."""
    stepper = driver.stepper
    try:
        if event == "check" or event.startswith("check:"):
            stepper.check(flow_id, event[len("check:") :])
        elif event.startswith("node-"):  # a task's outcome its worker could not record
            kind, _, node_id = event[len("node-") :].partition(":")
            outcome = NodeFinished(node_id) if kind == "finished" else NodeFailed(node_id)
            stepper.complete(flow_id, node_id, outcome)
        else:
            stepper.step(flow_id, Start() if event == "start" else _timer(event))
    except NoSuchFlow as exc:
        # Never started here, or removed after its retention: nothing to do, for ever.
        _log.warning("dropped %s for flow %s: %s", event, flow_id, exc)
        return {"selinonc": "dropped", "flow_id": flow_id}
    except (StoreError, StorageError) as exc:
        # decisions.md, runtime 5: what a step could not apply stays pending; try again.
        driver.tracer("DISPATCHER_RETRY", {"flow_id": flow_id, "what": str(exc)})
        raise task.retry(countdown=CELERY_RETRIES.countdown, exc=exc) from exc
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
    """The task wrapper: claim the node, run the task, record its outcome."""
    flow_id, node_id = job["flow_id"], job["node_id"]
    # A fresh token for each delivery: a retry message names the claim it continues
    # (`previous`), so two deliveries of that one message cannot both take it.
    token = uuid.uuid4().hex
    nowait = job["name"] in driver.system.flow(job["flow_name"]).nowait
    try:
        claim = driver.store.claim(
            flow_id,
            node_id,
            token,
            int(job.get("retried", 0)),
            CLAIM_SECONDS,
            nowait=nowait,
            previous=job.get("claim"),
        )
    except StoreError as exc:  # the task has not run yet: running it later is safe
        raise task.retry(countdown=1, exc=exc, max_retries=None) from exc
    if claim.verdict == "held":  # running elsewhere; ask again when its claim would lapse
        raise task.retry(kwargs=job, countdown=claim.wait + 0.1, max_retries=None)
    if claim.verdict != "ok":
        return {"selinonc": "skipped", "why": claim.verdict}
    run = TaskRun(
        node_id,
        job["name"],
        job["flow_name"],
        flow_id,
        job["node_args"],
        job["parent"] or {},
        job.get("attempt", 0),
    )
    with _renewed(driver, flow_id, node_id, token):
        outcome = run_task(driver.system, driver.pool, run, driver.exceptions, driver.tracer)
        if outcome.kind != "retry":  # recorded under the claim: no duplicate runs meanwhile
            event = NodeFinished(node_id) if outcome.kind == "finished" else NodeFailed(node_id)
            driver.record(job["flow_name"], flow_id, node_id, None if nowait else event, token)
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
