"""The deadline index (issue 10): what a dead worker held is sent again, over the in-memory store.

The Celery publisher, the poller and the two Celery task functions are the real ones; only the
broker is a list (`Bus`) and time is the store's clock. Dropping a message from the list is a
worker that died holding it (prefetched, waiting for its countdown, or running it), whose broker
would give it back only after its visibility timeout, an hour later.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import types
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import Retry as CeleryRetry

from selinonc.runtime import SelinonTask
from selinonc.runtime.celery import tasks
from selinonc.runtime.celery.driver import Driver, _Exceptions
from selinonc.runtime.celery.memory_store import MemoryStore
from selinonc.runtime.celery.poller import Poller
from selinonc.runtime.celery.steps import CHECK_MAX_SECONDS, Stepper
from selinonc.runtime.celery.store import FlowMeta, node_member, start_member
from selinonc.runtime.core.state import FlowState
from selinonc.runtime.pool import StoragePool
from selinonc.runtime.tables import Flow, System, Task
from tests.runtime.corekit import edge, system

REDELIVER = 60.0
RUNS: Counter[str] = Counter()  # node id -> executions of its body
FAILING: set[str] = set()  # node names whose bodies fail


class Body(SelinonTask):
    def run(self, node_args: Any) -> Any:
        RUNS[self.task_id] += 1
        if self.task_name in FAILING:
            raise ValueError(f"{self.task_name} fails")
        return None


def _system(*flows: Flow) -> System:
    base = system(*flows)
    names = {t for f in flows for e in f.edges for t in (*e.sources, *e.targets)}
    names -= {f.name for f in flows}
    return dataclasses.replace(
        base, tasks={n: Task(name=n, cls=Body, queue="q") for n in sorted(names)}
    )


CHAIN = _system(Flow(name="chain", queue="d", edges=(edge(0, [], ["A"]), edge(1, ["A"], ["B"]))))
RETRYING = _system(
    Flow(
        name="retrying",
        queue="d",
        edges=(edge(0, [], ["A"]),),
        max_retry=1,
        retry_countdown=30,
    )
)


@dataclass
class Message:
    task: str  # "dispatcher" or "task"
    kwargs: dict[str, Any]
    countdown: float | None


class _FakeTask:
    """The bound Celery task: `retry` raises Celery's Retry, as Celery's does."""

    def retry(self, **options: Any) -> Any:
        raise CeleryRetry("retry")


class Cluster:
    """One worker's driver over a MemoryStore, its messages on a list, its poller."""

    def __init__(self, sys: System) -> None:
        RUNS.clear()
        FAILING.clear()
        self.store = MemoryStore()
        self.bus: list[Message] = []
        self.traces: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[dict[str, Any]] = []
        driver: Any = SimpleNamespace(system=sys, store=self.store, tracer=self.trace)
        driver.app = SimpleNamespace(connection_for_write=contextlib.nullcontext)
        driver.pool = StoragePool(sys)
        driver.exceptions = _Exceptions(self.store)
        driver.dispatcher = self._sender("dispatcher")
        driver.run_node_task = self._sender("task")
        driver.publisher = tasks.CeleryPublisher(driver)
        driver.stepper = Stepper(
            sys,
            self.store,
            driver.publisher,
            lambda *a: None,
            self.trace,
            retention=3600,
            redeliver_after=REDELIVER,
            clock=self.store.now,
        )
        driver.record = types.MethodType(Driver.record, driver)
        self.driver = driver
        self.poller = Poller(driver)

    def trace(self, event: str, details: Mapping[str, Any]) -> None:
        self.traces.append((event, dict(details)))

    def _sender(self, name: str) -> Any:
        def apply_async(
            *, kwargs: dict[str, Any], countdown: float | None = None, **_: Any
        ) -> None:
            self.bus.append(Message(name, dict(kwargs), countdown))

        return SimpleNamespace(apply_async=apply_async)

    def start(self, flow: str) -> str:
        flow_id = uuid.uuid4().hex
        state = FlowState(flow=flow, id=flow_id)
        self.driver.stepper.create(flow_id, state, FlowMeta(flow, flow_id, None))
        self.driver.publisher.start(flow, flow_id)
        return flow_id

    def take(self, task: str) -> list[Message]:
        taken = [m for m in self.bus if m.task == task]
        self.bus = [m for m in self.bus if m.task != task]
        return taken

    def deliver(self, message: Message) -> Any:
        try:
            if message.task == "task":
                answer = tasks.run_node(self.driver, _FakeTask(), dict(message.kwargs))
            else:
                answer = tasks.dispatch(self.driver, _FakeTask(), dict(message.kwargs))
        except (CeleryRetry, ValueError):
            return None  # a retry (tests here send none), or the task's own failure
        if isinstance(answer, dict) and answer.get("selinonc") == "refused":
            self.refused.append(answer)
        return answer

    def drain(self) -> None:
        while self.bus:
            self.deliver(self.bus.pop(0))

    def tick(self, seconds: float, task: str = "task") -> int:
        """Time passes; the poller looks at the index; how many `task` messages it sent (the
        safety net's checks, which come due every few seconds, are delivered at once)."""
        self.store.now.advance(seconds)  # type: ignore[attr-defined]
        before = len(self.bus)
        self.poller.poll()
        sent = self.bus[before:]
        del self.bus[before:]
        for message in sent:
            if _is_check(message) and task != "check":
                self.deliver(message)
                continue
            self.bus.append(message)
        if task == "check":
            return sum(1 for m in sent if m.task == "dispatcher")
        return sum(1 for m in sent if m.task == task and not _is_check(m))

    def status(self, flow_id: str) -> str | None:
        outcome = self.store.outcome(flow_id, 0)
        return outcome["status"] if outcome else None


def _is_check(message: Message) -> bool:
    return message.task == "dispatcher" and str(message.kwargs["event"]).startswith("check:")


def _only(messages: list[Message]) -> Message:
    assert len(messages) == 1, messages
    return messages[0]


def test_a_task_message_lost_with_its_worker_is_sent_again_once_overdue() -> None:
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    lost = _only(lab.take("task"))  # a worker prefetched it, then died
    assert lab.tick(REDELIVER - 1) == 0 and not lab.bus
    assert lab.tick(2) == 1
    again = _only(lab.take("task"))
    assert again.kwargs["node_id"] == lost.kwargs["node_id"]
    assert again.countdown is None
    lab.deliver(again)
    lab.drain()
    assert lab.status(flow_id) == "succeeded"
    assert sorted(RUNS.values()) == [1, 1]  # A and B, once each
    assert ("NODE_REDELIVERED", {"flow_id": flow_id, "node_id": lost.kwargs["node_id"],
                                 "node_name": "A"}) in lab.traces  # fmt: skip
    lab.tick(CHECK_MAX_SECONDS)  # its last check comes and finds it ended
    assert not lab.store.deadlines, "an ended flow leaves nothing due"


def test_a_task_whose_worker_died_running_it_is_sent_again_when_its_claim_lapses() -> None:
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    message = _only(lab.take("task"))
    node = message.kwargs["node_id"]
    dead = uuid.uuid4().hex  # the dead run's claim: taken, never renewed again
    assert lab.store.claim(flow_id, node, dead, 0, tasks.CLAIM_SECONDS, name="A").verdict == "ok"
    assert lab.tick(tasks.CLAIM_SECONDS - 1) == 0
    assert lab.tick(2) == 1  # lapsed: sent again at once, not after REDELIVER
    lab.drain()
    assert lab.status(flow_id) == "succeeded"
    assert RUNS[node] == 1
    # The dead run's completion, arriving late, is not its to give.
    assert not lab.store.complete(flow_id, node, {"kind": "finished", "node": node}, dead)


def test_a_node_running_on_a_live_worker_is_never_sent_again() -> None:
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    node = _only(lab.take("task")).kwargs["node_id"]
    token = uuid.uuid4().hex
    assert lab.store.claim(flow_id, node, token, 0, tasks.CLAIM_SECONDS, name="A").verdict == "ok"
    for _ in range(20):  # ten minutes of renewals every 10 s, as run_node's thread does
        assert lab.store.extend(flow_id, node, token, tasks.CLAIM_SECONDS)
        assert lab.tick(10) == 0 or not lab.take("task")
    assert not [m for m in lab.bus if m.task == "task"]


def test_a_lost_start_is_sent_again_and_a_late_one_changes_nothing() -> None:
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lost = _only(lab.take("dispatcher"))
    assert lab.tick(REDELIVER + 1, "dispatcher") == 1
    lab.drain()
    assert lab.status(flow_id) == "succeeded"
    lab.deliver(lost)  # the first start, back from the broker an hour later
    assert sorted(RUNS.values()) == [1, 1]
    assert start_member(flow_id) not in lab.store.deadlines


def test_a_flow_retry_timer_is_a_deadline_not_a_countdown_message() -> None:
    lab = Cluster(RETRYING)
    FAILING.add("A")
    flow_id = lab.start("retrying")
    lab.drain()  # A fails: the flow retries after 30 s
    assert lab.status(flow_id) is None
    assert not lab.bus, "no countdown message waits in a worker for the retry"
    FAILING.clear()
    assert lab.tick(29, "dispatcher") == 0
    assert lab.tick(2, "dispatcher") == 1
    timer = _only(lab.take("dispatcher"))
    assert timer.kwargs["event"] == "timer:1" and timer.countdown is None
    lab.deliver(timer)
    lab.drain()
    assert lab.status(flow_id) == "succeeded"


def test_checks_are_deadlines_and_a_lost_one_is_sent_again() -> None:
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    checks = [m for m in lab.store.deadlines if m.startswith(f"c:{flow_id}:")]
    assert len(checks) == 1 and not lab.take("dispatcher")
    assert lab.tick(3, "check") == 1
    lost = _only(lab.take("dispatcher"))  # the check, lost with its worker
    assert lost.kwargs["event"].startswith("check:")
    assert lab.tick(REDELIVER + 1, "check") >= 1
    again = [m for m in lab.take("dispatcher") if m.kwargs == lost.kwargs]
    assert again, "the same check is sent again"
    lab.deliver(again[0])
    assert checks[0] not in lab.store.deadlines


def test_sending_again_backs_off_while_what_was_sent_does_not_happen() -> None:
    lab = Cluster(CHAIN)
    lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    lab.take("task")
    sent_at = []
    for second in range(1, 1000):
        if lab.tick(1):
            sent_at.append(second)
        lab.take("task")  # every copy is lost too
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert sent_at[0] == REDELIVER and gaps[:3] == [60, 120, 240], sent_at  # doubling


def test_a_forged_task_message_runs_nothing_and_the_real_one_runs_once() -> None:
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    real = _only(lab.take("task"))
    node = real.kwargs["node_id"]
    forged = [
        {**real.kwargs, "name": "B"},  # a live node id, another task
        {**real.kwargs, "node_id": f"{flow_id}.99"},  # a node the flow never sent
        {**real.kwargs, "node_args": {"evil": 1}, "name": "B"},
    ]
    for kwargs in forged:
        assert lab.deliver(Message("task", kwargs, None))["selinonc"] == "refused"
    assert lab.store.flows[flow_id].nodes.get(node) is None, "a refused message claims nothing"
    assert not RUNS
    lab.deliver(real)
    lab.drain()
    assert lab.status(flow_id) == "succeeded"
    assert sorted(RUNS.values()) == [1, 1]


def test_a_task_runs_the_arguments_its_flow_published_not_the_message_s() -> None:
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    real = _only(lab.take("task"))
    seen: list[Any] = []
    original = Body.run

    def run(self: Body, node_args: Any) -> Any:
        seen.append(node_args)
        return original(self, node_args)

    Body.run = run  # type: ignore[method-assign]
    try:
        lab.deliver(Message("task", {**real.kwargs, "node_args": {"evil": 1}}, None))
    finally:
        Body.run = original  # type: ignore[method-assign]
    assert seen == [None]  # the flow's node_args, not the message's
    lab.drain()
    assert lab.status(flow_id) == "succeeded"


def test_a_forged_completion_is_not_counted() -> None:
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    real = _only(lab.take("task"))
    node = real.kwargs["node_id"]
    for event in (f"node-finished:{node}:{uuid.uuid4().hex}", f"node-failed:{node}:{'0' * 32}"):
        lab.deliver(Message("dispatcher", {"flow_id": flow_id, "event": event}, None))
    assert lab.store.flows[flow_id].nodes.get(node) is None
    assert not lab.take("task"), "B did not start: A never finished"
    lab.deliver(real)
    lab.drain()
    assert lab.status(flow_id) == "succeeded"
    assert sorted(RUNS.values()) == [1, 1]


MALFORMED: list[tuple[str, dict[str, Any]]] = [
    ("dispatcher", {"a": 1}),
    ("dispatcher", {"flow_id": None, "event": "start"}),
    ("dispatcher", {"flow_id": "../../etc", "event": "start"}),
    ("dispatcher", {"flow_id": "0" * 32, "event": "rm -rf"}),
    ("dispatcher", {"flow_id": "0" * 32, "event": ["start"]}),
    ("dispatcher", {"flow_id": "0" * 32, "event": f"node-finished:{'1' * 32}.1:{'2' * 32}"}),
    ("dispatcher", {"flow_id": "0" * 32, "event": "check:not-a-mark"}),
    ("task", {}),
    ("task", {"flow_id": "0" * 32}),
    ("task", {"flow_id": "0" * 32, "node_id": f"{'0' * 32}.1", "name": "A", "flow_name": 1}),
    ("task", {"flow_id": "0" * 32, "node_id": f"{'1' * 32}.1", "name": "A", "flow_name": "c"}),
    (
        "task",
        {
            "flow_id": "0" * 32,
            "node_id": f"{'0' * 32}.1",
            "name": "A",
            "flow_name": "chain",
            "attempt": "many",
        },
    ),
    (
        "task",
        {
            "flow_id": "0" * 32,
            "node_id": f"{'0' * 32}.1",
            "name": "A",
            "flow_name": "chain",
            "surprise": True,
        },
    ),
]


@pytest.mark.parametrize(("task", "kwargs"), MALFORMED, ids=lambda v: repr(v)[:40])
def test_a_malformed_message_is_refused_and_traced(task: str, kwargs: dict[str, Any]) -> None:
    lab = Cluster(CHAIN)
    answer = lab.deliver(Message(task, kwargs, None))
    assert answer is not None and answer["selinonc"] == "refused", answer
    assert [e for e, _ in lab.traces] == ["MESSAGE_REFUSED"]


def test_a_dispatcher_message_for_an_unknown_flow_is_dropped_at_once() -> None:
    lab = Cluster(CHAIN)
    answer = lab.deliver(Message("dispatcher", {"flow_id": "0" * 32, "event": "start"}, None))
    assert answer == {"selinonc": "dropped", "flow_id": "0" * 32}
    assert not lab.bus and not lab.store.deadlines


def test_deadlines_of_a_flow_gone_from_the_store_are_dropped() -> None:
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    node = _only(lab.take("task")).kwargs["node_id"]
    del lab.store.flows[flow_id]  # a Redis restarted without persistence
    lab.driver.stepper._metas.clear()
    lab.tick(REDELIVER + 1)
    assert node_member(node) not in lab.store.deadlines
    assert not [m for m in lab.store.deadlines if flow_id in m]


def test_a_message_with_a_forged_attempt_number_forgets_nothing() -> None:
    """The review's case: `retried` changed to an attempt the flow never made answered
    "abandoned" and deleted the node's stored action and deadline, so the real message was then
    refused and the flow hung."""
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    lab.deliver(_only(lab.take("dispatcher")))
    real = _only(lab.take("task"))
    node = real.kwargs["node_id"]
    assert lab.deliver(Message("task", {**real.kwargs, "retried": 5}, None)) == {
        "selinonc": "skipped",
        "why": "abandoned",
    }
    assert node_member(node) in lab.store.deadlines and node in lab.store.flows[flow_id].sent
    lab.deliver(real)
    lab.drain()
    assert lab.status(flow_id) == "succeeded"


def test_a_start_left_pending_by_a_dead_lease_holder_is_sent_again() -> None:
    """The review's case: the start arrived while a dead worker's step lease was live; the
    step returned without applying it, and the start's deadline must stay."""
    lab = Cluster(CHAIN)
    flow_id = lab.start("chain")
    start = _only(lab.take("dispatcher"))
    assert lab.store.enter(flow_id, "dead", None, 30) is not None  # a stepper that then died
    lab.deliver(start)  # appended; the lease is the dead one's
    assert start_member(flow_id) in lab.store.deadlines
    lab.tick(REDELIVER + 1, "dispatcher")
    lab.drain()
    assert lab.status(flow_id) == "succeeded"
