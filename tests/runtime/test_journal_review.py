"""A review of the Celery flow journal (issue 9): races and crash windows, each shown by a test
over the in-memory store. A test marked xfail(strict) documents a bug that is still there: it
fails today and will pass (and so fail the suite, as a reminder to drop the mark) once fixed.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest
from celery.exceptions import Retry as CeleryRetry

from selinonc.runtime import SelinonTask
from selinonc.runtime.celery import driver as driver_module
from selinonc.runtime.celery import tasks
from selinonc.runtime.celery.driver import Driver, _Exceptions
from selinonc.runtime.celery.memory_store import MemoryStore
from selinonc.runtime.celery.steps import Stepper
from selinonc.runtime.celery.store import FlowMeta, FlowStore, LeaseLost, StoreError
from selinonc.runtime.core.events import NodeFailed, NodeFinished, Start, Timer
from selinonc.runtime.core.state import FlowState
from selinonc.runtime.errors import StorageError
from selinonc.runtime.pool import StoragePool
from selinonc.runtime.tables import Flow, System, Task
from tests.runtime import test_journal
from tests.runtime.corekit import edge, system


def _no_trace(event: str, details: Mapping[str, Any]) -> None:
    pass


def _no_read(flow: str, task: str, node_id: str) -> Any:
    return None


@dataclass
class Sent:
    """One message a step sent."""

    kind: str  # task, start, timer, check, complete (a completion handed to the dispatcher)
    flow_id: str
    node_id: str = ""
    after: float = 0.0
    action: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    mark: str = ""  # what a check message carries back


class Fifo:
    """A publisher that keeps the messages in order (tests pick what to deliver)."""

    def __init__(self) -> None:
        self.queue: list[Sent] = []

    def task(self, flow_name: str, flow_id: str, action: Mapping[str, Any]) -> None:
        self.queue.append(Sent("task", flow_id, action["id"], action=dict(action)))

    def start(self, flow_name: str, flow_id: str) -> None:
        self.queue.append(Sent("start", flow_id))

    def timer(self, flow_name: str, flow_id: str, after: float, retried: int | None) -> None:
        self.queue.append(Sent("timer", flow_id, after=after, mark=str(retried)))

    def check(self, flow_name: str, flow_id: str, after: float, mark: str) -> None:
        self.queue.append(Sent("check", flow_id, after=after, mark=mark))

    def take(self, kind: str, flow_id: str | None = None) -> list[Sent]:
        """Remove and return the queued messages of one kind (and flow)."""
        taken = [m for m in self.queue if m.kind == kind and flow_id in (None, m.flow_id)]
        self.queue = [m for m in self.queue if m not in taken]
        return taken


class Lab:
    """Workers over one MemoryStore, delivering messages in order, as Celery would."""

    def __init__(
        self,
        sys: System,
        read: Callable[[str, str, str], Any] = _no_read,
        store: FlowStore | None = None,
    ) -> None:
        self.system = sys
        self.memory = MemoryStore()
        self.store: FlowStore = store or self.memory
        self.fifo = Fifo()
        self.read = read
        self.stepper = self.worker()
        self.runs: dict[str, int] = {}  # node id -> body executions
        self.failing: set[str] = set()  # task names whose bodies fail

    @property
    def clock(self) -> Any:
        return self.memory.now

    def worker(self) -> Stepper:
        return Stepper(
            self.system,
            self.store,
            self.fifo,
            self.read,
            _no_trace,
            retention=3600,
            clock=self.clock,
        )

    def start(self, flow_name: str, node_args: Any = None) -> str:
        flow_id = uuid.uuid4().hex
        state = FlowState(flow=flow_name, id=flow_id, node_args=node_args)
        self.stepper.create(flow_id, state, FlowMeta(flow_name, flow_id, None))
        self.fifo.start(flow_name, flow_id)
        return flow_id

    def deliver(self, sent: Sent, stepper: Stepper | None = None) -> None:
        stepper = stepper or self.stepper
        if sent.kind == "task":
            self.run(stepper, sent)
        elif sent.kind == "start":
            stepper.step(sent.flow_id, Start())
        elif sent.kind == "timer":
            stepper.step(sent.flow_id, Timer(int(sent.mark) if sent.mark.isdigit() else None))
        elif sent.kind == "check":
            stepper.check(sent.flow_id, sent.mark)
        else:  # a completion the worker could not record (Driver.record's hand-off)
            done = NodeFailed if sent.failed else NodeFinished
            stepper.complete(sent.flow_id, sent.node_id, done(sent.node_id))

    def run(self, stepper: Stepper, sent: Sent) -> None:
        """tasks.run_node: claim, run the body, record the outcome (as Driver.record)."""
        name, flow_id, node_id = sent.action["name"], sent.flow_id, sent.node_id
        meta = stepper.meta(flow_id)
        assert meta is not None
        nowait = name in self.system.flow(meta.flow).nowait
        token = uuid.uuid4().hex
        claim = self.store.claim(flow_id, node_id, token, sent.action["retried"], 30, nowait=nowait)
        if claim.verdict == "held":
            self.fifo.queue.append(sent)
        if claim.verdict != "ok":
            return
        self.runs[node_id] = self.runs.get(node_id, 0) + 1
        failed = name in self.failing
        event = None if nowait else (NodeFailed if failed else NodeFinished)(node_id)
        for _ in range(3):
            try:
                stepper.complete(flow_id, node_id, event)
                return
            except (StoreError, StorageError):
                pass
        if event is not None:
            self.fifo.queue.append(Sent("complete", flow_id, node_id, failed=failed))

    def drain(self, limit: int = 20_000) -> None:
        for _ in range(limit):
            if not self.fifo.queue:
                return
            sent = self.fifo.queue.pop(0)
            try:
                self.deliver(sent)
            except (StoreError, StorageError):
                self.fifo.queue.append(sent)  # Celery's retry of the dispatcher task
        raise AssertionError("the messages never ran out")


# --- 1. a transient store error while a step reads a sub-flow's report fails the flow -------

PROPAGATING = system(
    Flow(
        name="top",
        queue="d",
        edges=(edge(0, [], ["sub"]), edge(1, ["sub"], ["T"])),
        propagate_finished=True,
    ),
    Flow(name="sub", queue="d", edges=(edge(0, [], ["B"]),)),
)


def test_a_store_blip_while_reading_a_sub_flow_report_does_not_fail_the_flow() -> None:
    lab = Lab(PROPAGATING)
    flow_id = lab.start("top")
    # The first store.outcome() is the parent's step reading the sub-flow's report for
    # propagate_finished (T's parent); the connection drops just then, once.
    lab.memory.inject("outcome", StoreError("connection lost"))
    lab.drain()
    outcome = lab.store.outcome(flow_id, 0)
    assert outcome is not None
    assert outcome["status"] == "succeeded", outcome["reason"]


# --- 2. a failed task whose exception cannot be saved is never recorded ---------------------


class _Fails(SelinonTask):
    def run(self, node_args: Any) -> Any:
        raise ValueError("the task's own failure")


class _Counted(SelinonTask):
    calls: list[str] = []  # noqa: RUF012  (one list for the test, as a task's side effects)
    inside: Callable[[], None] | None = None  # what happens while the body runs

    def run(self, node_args: Any) -> Any:
        _Counted.calls.append(self.task_id)
        if len(_Counted.calls) == 1 and _Counted.inside is None:
            self.retry(countdown=5)  # the first attempt asks to run again
        inside = _Counted.inside
        if inside is not None:
            _Counted.inside = None
            inside()
        return None


def _one_task(cls: type[Any]) -> System:
    base = system(Flow(name="one", queue="d", edges=(edge(0, [], ["W"]),)))
    return dataclasses.replace(base, tasks={"W": Task(name="W", cls=cls, queue="q")})


class _FakeTask:
    """The bound Celery task run_node gets: `retry` raises Celery's Retry, as Celery's does."""

    def __init__(self) -> None:
        self.retries: list[dict[str, Any]] = []

    def retry(self, **options: Any) -> Any:
        self.retries.append(options)
        raise CeleryRetry("retry")


@dataclass
class _Node:
    """A flow "one" started in a MemoryStore, its task W's message, and run_node's driver."""

    lab: Lab
    job: dict[str, Any]
    driver: Any
    recorded: list[str]


def _node(cls: type[Any]) -> _Node:
    lab = Lab(_one_task(cls))
    flow_id = lab.start("one")
    lab.deliver(lab.fifo.take("start")[0])
    (sent,) = lab.fifo.take("task")
    job = {
        "flow_id": flow_id,
        "flow_name": "one",
        "node_id": sent.node_id,
        "name": "W",
        "node_args": None,
        "parent": {},
        "attempt": 0,
        "retried": sent.action["retried"],
    }
    recorded: list[str] = []
    driver = SimpleNamespace(
        store=lab.store,
        stepper=lab.stepper,
        system=lab.system,
        pool=StoragePool(lab.system),
        exceptions=_Exceptions(lab.store),
        tracer=_no_trace,
        record=lambda flow_name, flow_id, node_id, event, token="": recorded.append(node_id),
    )
    return _Node(lab, job, driver, recorded)


def test_a_store_blip_while_saving_a_failed_tasks_exception_still_records_the_failure() -> None:
    node = _node(_Fails)
    node.lab.memory.inject("save_exception", StoreError("connection lost"))
    task = _FakeTask()
    escaped: BaseException | None = None
    try:
        tasks.run_node(cast(Driver, node.driver), cast(Any, task), node.job)
    except (ValueError, CeleryRetry):
        pass  # the task's own error (raised after its outcome is recorded), or a retry
    except Exception as exc:  # what Celery would count as the task's failure, and ack
        escaped = exc
    assert node.recorded or task.retries, f"the outcome was lost: {escaped!r} escaped run_node"


# --- 3. two copies of a retry message share its claim token and run at once ----------------


def test_two_deliveries_of_one_retry_message_do_not_run_the_body_at_once() -> None:
    _Counted.calls, _Counted.inside = [], None
    node = _node(_Counted)
    task = _FakeTask()
    with pytest.raises(CeleryRetry):  # attempt 1 asks for a retry: the claim is kept for it
        tasks.run_node(cast(Driver, node.driver), cast(Any, task), node.job)
    retry_message = task.retries[-1]["kwargs"]
    assert retry_message["claim"]

    def second_copy() -> None:  # the broker delivers the same retry message to another worker
        with contextlib.suppress(CeleryRetry):
            tasks.run_node(cast(Driver, node.driver), cast(Any, task), dict(retry_message))

    _Counted.inside = second_copy
    tasks.run_node(cast(Driver, node.driver), cast(Any, task), dict(retry_message))
    assert len(_Counted.calls) == 2, "the body ran in both copies of the retry message at once"


# --- 4. a completion handed to the dispatcher leaves the claim to lapse ---------------------


def test_a_completion_handed_to_the_dispatcher_keeps_duplicates_from_running_the_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(driver_module, "RECORD_SECONDS", 0.3)  # the store stays down longer
    _Counted.calls, _Counted.inside = [], lambda: None  # no retry: one plain run
    node = _node(_Counted)
    handoffs: list[dict[str, Any]] = []
    real = SimpleNamespace(
        stepper=node.lab.stepper,
        store=node.lab.store,
        dispatcher=SimpleNamespace(apply_async=lambda **kw: handoffs.append(kw)),
        system=node.lab.system,
    )
    node.driver.record = lambda *args: Driver.record(cast(Driver, real), *args)
    node.lab.memory.inject("complete", StoreError("connection lost"), times=100)
    task = _FakeTask()
    tasks.run_node(cast(Driver, node.driver), cast(Any, task), dict(node.job))
    assert handoffs and len(_Counted.calls) == 1  # recorded later, by the dispatcher
    node.lab.memory.faults.clear()
    node.lab.clock.advance(31)  # the hand-off waits in the dispatcher's queue
    _Counted.inside = lambda: None
    with contextlib.suppress(CeleryRetry):  # a duplicate: it waits while the claim is held
        tasks.run_node(cast(Driver, node.driver), cast(Any, task), dict(node.job))
    assert len(_Counted.calls) == 1, "the body ran again though no worker crashed during it"


# --- 5. safety-net checks multiply and never merge -----------------------------------------


def test_safety_net_checks_of_a_flow_do_not_multiply_when_a_check_is_late() -> None:
    lab = Lab(test_journal.SYSTEM)
    flow_id = lab.start("main")
    lab.deliver(lab.fifo.take("start")[0])  # A runs; the step schedules check 1
    (late,) = lab.fifo.take("check", flow_id)  # check 1 sits in a backlogged queue ...
    lab.clock.advance(70)
    lab.deliver(lab.fifo.take("task")[0])  # ... A completes: its step schedules check 2
    pending = [late, *lab.fifo.take("check", flow_id)]
    for _ in range(10):  # the checks run, the flow waits on its sub-flow
        for sent in pending:
            lab.deliver(sent)
        pending = lab.fifo.take("check", flow_id)
    assert len(pending) <= 1, f"{len(pending)} check chains for one flow"


# --- 6. a batch that takes longer than the lease never commits -----------------------------

SLOW = 400


def _slow_system() -> System:
    return system(
        Flow(
            name="fan",
            queue="d",
            edges=(
                edge(0, [], ["B"], foreach=lambda results, args: range(SLOW)),
                edge(1, ["B"], ["C"], condition=lambda results, args: results.get("B") == 1),
            ),
        ),
        stored=["B"],
    )


def test_a_batch_slower_than_the_lease_still_makes_progress() -> None:
    holder: list[Lab] = []

    def slow_read(flow: str, task: str, node_id: str) -> Any:
        holder[0].clock.advance(0.1)  # a storage read of 100 ms (S3, a busy database)
        return 0

    lab = Lab(_slow_system(), slow_read)
    holder.append(lab)
    flow_id = lab.start("fan")
    lab.deliver(lab.fifo.take("start")[0])
    record = lab.memory.flows[flow_id]
    record.lease = ("another worker", 1e12)  # the completions arrive while it is busy
    for sent in lab.fifo.take("task"):
        lab.stepper.complete(flow_id, sent.node_id, NodeFinished(sent.node_id))
    record.lease = None
    seq = record.seq
    for _ in range(5):
        with contextlib.suppress(LeaseLost):
            lab.stepper.step(flow_id)
    assert record.seq > seq, f"{len(record.inbox)} events pending, no step committed"


# --- 7. values the redo log cannot carry as they are ---------------------------------------


def _from_first(result: Any, condition: Callable[[Any, Any], Any] | None = None) -> Lab:
    sys = system(
        Flow(
            name="nf",
            queue="d",
            edges=(
                edge(0, [], ["A"]),
                edge(1, ["A"], ["B"]),
                edge(2, ["B"], ["C"], condition=condition),
            ),
            node_args_from_first=True,
        ),
        stored=["A"],
    )
    return Lab(sys, lambda flow, task, node_id: copy.deepcopy(result))


def test_a_first_result_that_is_not_json_fails_the_flow_instead_of_wedging_it() -> None:
    lab = _from_first({1, 2})  # a set (or a datetime, a Decimal) from a storage
    flow_id = lab.start("nf")
    lab.deliver(lab.fifo.take("start")[0])
    for _ in range(3):  # A's completion, then the safety net, then another check
        with contextlib.suppress(TypeError):
            if lab.fifo.queue:
                lab.deliver(lab.fifo.queue.pop(0))
            else:
                lab.stepper.check(flow_id)
    assert lab.store.outcome(flow_id, 0) is not None, "the flow is wedged"


def test_a_worker_that_holds_the_state_decides_as_one_that_loads_it() -> None:
    def one_in_args(results: Any, args: Any) -> bool:
        return 1 in args

    started: list[bool] = []
    for fresh in (False, True):
        lab = _from_first({1: "x"}, one_in_args)
        lab.start("nf")
        lab.deliver(lab.fifo.take("start")[0])
        lab.deliver(lab.fifo.take("task")[0])  # A: the flow's node_args become its result
        (b,) = lab.fifo.take("task")
        stepper = lab.worker() if fresh else lab.stepper  # a cold worker, or the one holding it
        lab.deliver(b, stepper)  # B finishes: does C start?
        started.append(bool(lab.fifo.take("task")))
    assert started[0] == started[1], f"held state: C started {started[0]}; loaded: {started[1]}"


# --- 8. a held state is trusted by its step number alone -----------------------------------


def test_a_held_state_is_not_reused_after_the_store_lost_its_last_steps() -> None:
    lab = Lab(test_journal.SYSTEM)
    flow_id = lab.start("main")
    lab.deliver(lab.fifo.take("start")[0])  # step 1: A active
    before = copy.deepcopy(lab.memory.flows[flow_id])
    (a,) = lab.fifo.take("task")
    lab.deliver(a)  # step 2 on this worker: A finished, the sub-flow "fan" started
    lab.memory.flows[flow_id] = before  # Redis restarts without A's completion (nor its claim)
    other = lab.worker()
    other.step(flow_id, Start())  # a duplicate start: step 2 again, on another worker
    lab.fifo.queue.clear()
    lab.deliver(a)  # A's redelivered message runs again; this worker steps its completion
    assert "A" in (other.state(flow_id) or FlowState("main", flow_id)).finished, (
        "the store still waits for A: the worker applied A's completion to its stale copy"
    )


# --- 9. a stale wake-up starts a flow retry without its countdown --------------------------

RETRIED = system(
    Flow(name="r", queue="d", edges=(edge(0, [], ["A"]),), max_retry=3, retry_countdown=600)
)


def test_a_duplicate_wake_up_of_an_earlier_retry_does_not_cut_a_countdown_short() -> None:
    lab = Lab(RETRIED)
    lab.failing.add("A")
    flow_id = lab.start("r")
    lab.deliver(lab.fifo.take("start")[0])
    lab.deliver(lab.fifo.take("task")[0])  # A fails: flow retry 1, a wake-up in 600 s
    (wake1,) = lab.fifo.take("timer")
    lab.deliver(wake1)
    lab.deliver(lab.fifo.take("task")[0])  # attempt 2's A fails: retry 2 counts down
    assert lab.fifo.take("timer") and lab.memory.flows[flow_id].status == "retrying"
    lab.deliver(dataclasses.replace(wake1))  # the duplicate of wake-up 1
    assert lab.memory.flows[flow_id].status == "retrying", "attempt 3 started at once"


# --- 10. the safety net polls every running flow every 2 s, however idle -------------------


def test_the_safety_net_backs_off_while_a_flow_waits() -> None:
    lab = Lab(test_journal.SYSTEM)
    flow_id = lab.start("main")
    lab.deliver(lab.fifo.take("start")[0])  # A runs, for an hour
    lab.fifo.take("task")
    elapsed, checks = 0.0, 0
    while elapsed < 3600:
        (sent,) = lab.fifo.take("check", flow_id)
        elapsed += sent.after
        lab.clock.advance(sent.after)
        lab.deliver(sent)
        checks += 1
    assert checks <= 100, f"{checks} checks in an hour of waiting"


# --- 11. a step that fails mid-publish leaves what it sent in the outbox --------------------


class _Flaky(Fifo):
    """A broker connection that drops on the `fail_at`-th task message."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.sent: list[str] = []

    def task(self, flow_name: str, flow_id: str, action: Mapping[str, Any]) -> None:
        if len(self.sent) + 1 == self.fail_at:
            self.fail_at = 0
            raise ConnectionError("the broker connection dropped")
        self.sent.append(action["id"])
        super().task(flow_name, flow_id, action)


def test_a_step_that_fails_mid_publish_does_not_send_its_first_actions_again() -> None:
    lab = Lab(test_journal.SYSTEM)
    flaky = _Flaky(fail_at=4)
    lab.fifo = flaky
    lab.stepper = lab.worker()
    lab.start("main")
    lab.deliver(lab.fifo.take("start")[0])
    flaky.sent.clear()
    lab.deliver(lab.fifo.take("task")[0])  # A: main starts the sub-flow "fan"
    (fan_start,) = lab.fifo.take("start")
    flaky.fail_at = 4  # fan's first step publishes its 12 tasks; the 4th send fails
    with pytest.raises(ConnectionError):
        lab.deliver(fan_start)
    lab.stepper.check(fan_start.flow_id)  # the safety net publishes what is left
    twice = sorted({n for n in flaky.sent if flaky.sent.count(n) > 1})
    assert len(set(flaky.sent)) == test_journal.FAN and not twice, f"sent twice: {twice}"


# --- 12. two steps of one flow in one worker process share its held state -------------------


def test_a_second_step_in_the_same_process_does_not_share_a_half_applied_state() -> None:
    holder: list[Lab] = []
    reads: list[str] = []

    def read(flow: str, task: str, node_id: str) -> Any:
        reads.append(node_id)
        if len(reads) == 1:  # the first step is slow here: its lease lapses, and another
            lab = holder[0]  # thread of this worker process steps the flow meanwhile
            lab.clock.advance(31)
            lab.stepper.step(flow_id)
        return 0

    lab = Lab(
        system(
            Flow(
                name="fan",
                queue="d",
                edges=(
                    edge(0, [], ["B"], foreach=lambda results, args: range(3)),
                    edge(1, ["B"], ["C"], condition=lambda results, args: results.get("B") == 1),
                ),
            ),
            stored=["B"],
        ),
        read,
    )
    holder.append(lab)
    flow_id = lab.start("fan")
    lab.deliver(lab.fifo.take("start")[0])
    nodes = [m.node_id for m in lab.fifo.take("task")]
    record = lab.memory.flows[flow_id]
    record.lease = ("another worker", 1e12)
    for node_id in nodes:
        lab.stepper.complete(flow_id, node_id, NodeFinished(node_id))
    record.lease = None
    with contextlib.suppress(LeaseLost):
        lab.stepper.step(flow_id)  # the first thread's step
    lab.drain()
    outcome = lab.store.outcome(flow_id, 0)
    assert outcome is not None
    assert sorted(outcome["report"]["finished_nodes"].get("B", [])) == sorted(nodes), outcome
