"""The Celery driver's steps over the in-memory flow store, with faults injected at every point of
a step (issue 9): a conflict, a lost connection or a crash after the event is appended, after the
step (and its snapshot) is saved, between saving and publishing, mid-publish, after the outbox is
cleared, around claims and completions. A simulated cluster of workers delivers the messages
(acks late: a crashed delivery is redelivered, the crashed worker's leases lapse), and we count:
no action lost, no node body run twice unless its run crashed, every flow ends.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from selinonc.runtime.celery import steps
from selinonc.runtime.celery.memory_store import MemoryStore
from selinonc.runtime.celery.steps import Stepper
from selinonc.runtime.celery.store import FlowMeta, LeaseLost, NoSuchFlow, StoreError
from selinonc.runtime.core.events import NodeFinished, Start, Timer
from selinonc.runtime.core.state import FlowState
from selinonc.runtime.tables import Flow, System
from tests.runtime.corekit import edge, system

FAN = 12
SYSTEM: System = system(
    Flow(
        name="main",
        queue="d",
        edges=(
            edge(0, [], ["A"]),
            edge(1, ["A"], ["fan"]),
            edge(2, ["fan"], ["J"]),
            edge(3, ["J"], ["K", "N"]),
        ),
        nowait=frozenset({"N"}),
    ),
    Flow(
        name="fan",
        queue="d",
        edges=(edge(0, [], ["B"], foreach=lambda results, args: range(FAN)),),
    ),
)
TASKS_PER_FLOW = 1 + FAN + 2 + 1  # A, B x FAN, J, K, and the nowait N


class Crash(BaseException):
    """The worker process died here (not an Exception: nothing catches it on the way out)."""


def _no_trace(event: str, details: Mapping[str, Any]) -> None:
    pass


@dataclass
class Broker:
    """Messages in flight; a publisher can be told to crash after `crash_after` more sends."""

    rng: random.Random
    queue: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, flow id, node id)
    jobs: dict[str, tuple[str, str]] = field(default_factory=dict)  # node id -> (name, flow id)
    crash_after: int | None = None
    sent: int = 0

    def _send(self, message: tuple[str, str, str]) -> None:
        if self.crash_after is not None:
            if self.crash_after == 0:
                self.crash_after = None
                raise Crash("mid-publish")
            self.crash_after -= 1
        self.sent += 1
        self.queue.insert(self.rng.randrange(len(self.queue) + 1), message)  # any order

    def task(self, flow_name: str, flow_id: str, action: Mapping[str, Any]) -> None:
        self.jobs[action["id"]] = (action["name"], flow_id)
        self._send(("task", flow_id, action["id"]))

    def start(self, flow_name: str, flow_id: str) -> None:
        self._send(("start", flow_id, ""))

    def timer(self, flow_name: str, flow_id: str, after: float, retried: int | None) -> None:
        self._send(("timer", flow_id, str(retried)))

    def check(self, flow_name: str, flow_id: str, after: float, mark: str) -> None:
        self._send(("check", flow_id, mark))


@dataclass
class Cluster:
    """Workers (each a Stepper with its own cache) over one store and one broker."""

    store: MemoryStore
    broker: Broker
    rng: random.Random
    workers: list[Stepper] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)  # node id -> body executions
    crashed_runs: set[str] = field(default_factory=set)  # bodies whose worker then crashed
    crashes: int = 0

    def worker(self) -> Stepper:
        stepper = Stepper(SYSTEM, self.store, self.broker, _no_read, _no_trace, retention=3600)
        stepper.lease = 30
        return stepper

    def start(self, n: int) -> list[str]:
        ids = []
        for _ in range(n):
            flow_id = uuid.UUID(int=self.rng.getrandbits(128)).hex
            stepper = self.workers[0]
            stepper.create(
                flow_id, FlowState(flow="main", id=flow_id), FlowMeta("main", flow_id, None)
            )
            self.broker.start("main", flow_id)
            ids.append(flow_id)
        return ids

    def deliver(self, message: tuple[str, str, str]) -> None:
        self.store.now.advance(0.25)  # type: ignore[attr-defined]  # time passes between messages
        index = self.rng.randrange(len(self.workers))
        stepper = self.workers[index]
        kind, flow_id, node_id = message
        ran: str | None = None
        try:
            if kind == "task":
                ran = self.run_task(stepper, flow_id, node_id)
            elif kind == "complete":  # what a worker could not record (Driver.record)
                stepper.complete(flow_id, node_id, NodeFinished(node_id))
            elif kind == "start":
                stepper.step(flow_id, Start())
            elif kind == "timer":
                stepper.step(flow_id, Timer(int(node_id) if node_id.isdigit() else None))
            else:
                stepper.check(flow_id, node_id)  # a check message carries its mark
        except Crash:
            # The worker died: its message is redelivered (acks late), its leases and claims
            # lapse in time, and a new worker process (an empty cache) takes its place.
            self.crashes += 1
            if self.current_run is not None:
                self.crashed_runs.add(self.current_run)
            self.broker.queue.append(message)
            self.workers[index] = self.worker()
            self.store.now.advance(31)  # type: ignore[attr-defined]
        except StoreError:
            self.broker.queue.append(message)  # Celery's retry: the same message again later
        finally:
            self.current_run = None
        del ran

    current_run: str | None = None

    def run_task(self, stepper: Stepper, flow_id: str, node_id: str) -> str | None:
        name, _ = self.broker.jobs[node_id]
        token = uuid.UUID(int=self.rng.getrandbits(128)).hex
        flow = SYSTEM.flow(stepper.meta(flow_id).flow)  # type: ignore[union-attr]
        claim = self.store.claim(flow_id, node_id, token, 0, 30, nowait=name in flow.nowait)
        if claim.verdict == "held":
            self.broker.queue.append(("task", flow_id, node_id))
            return None
        if claim.verdict != "ok":
            return None
        self.runs[node_id] = self.runs.get(node_id, 0) + 1  # the task body
        self.current_run = node_id
        event = None if name in flow.nowait else NodeFinished(node_id)
        for _ in range(3):  # as Driver.record: a few tries, then the dispatcher's
            try:
                stepper.complete(flow_id, node_id, event)
                return node_id
            except StoreError:
                pass
        if event is not None:
            self.broker.queue.append(("complete", flow_id, node_id))
        return node_id

    def some(self, n: int) -> None:
        """Deliver up to `n` messages."""
        for _ in range(n):
            if self.broker.queue:
                self.deliver(self.broker.queue.pop(0))

    def drain(self, limit: int = 100_000) -> None:
        for _ in range(limit):
            if not self.broker.queue:
                return
            self.deliver(self.broker.queue.pop(0))
        raise AssertionError("the messages never ran out")

    def settle(self, flow_ids: list[str]) -> None:
        """Run the safety net until every flow has ended (a check per flow, as scheduled)."""
        for _ in range(50):
            self.drain()
            if all(self.store.outcome(f, 0) is not None for f in flow_ids):
                return
            self.store.now.advance(31)  # type: ignore[attr-defined]
            for flow_id in flow_ids:  # the checks the steps scheduled, come due
                self.broker.queue.append(("check", flow_id, ""))
        raise AssertionError("flows never ended")


def _no_read(flow: str, task: str, node_id: str) -> Any:
    return None


def _cluster(seed: int, workers: int = 3) -> Cluster:
    rng = random.Random(seed)
    cluster = Cluster(MemoryStore(), Broker(rng), rng)
    cluster.workers = [cluster.worker() for _ in range(workers)]
    return cluster


def _assert_all_good(cluster: Cluster, flow_ids: list[str]) -> None:
    for flow_id in flow_ids:
        outcome = cluster.store.outcome(flow_id, 0)
        assert outcome is not None and outcome["status"] == "succeeded", outcome
        finished = outcome["report"]["finished_nodes"]
        assert {k: len(v) for k, v in finished.items()} == {"A": 1, "fan": 1, "J": 1, "K": 1}
        (fan_id,) = finished["fan"]
        fan = cluster.store.outcome(fan_id, 0)
        assert fan is not None and len(fan["report"]["finished_nodes"]["B"]) == FAN
    # Every node decided ran, none lost; a body ran twice only when its worker crashed after it.
    assert len(cluster.broker.jobs) == TASKS_PER_FLOW * len(flow_ids)
    assert set(cluster.runs) == set(cluster.broker.jobs)
    twice = {n for n, count in cluster.runs.items() if count > 1}
    assert twice <= cluster.crashed_runs, twice
    assert all(count <= 2 for count in cluster.runs.values())


def test_flows_run_to_the_end_with_every_node_run_once_in_any_delivery_order() -> None:
    cluster = _cluster(1)
    flows = cluster.start(5)
    cluster.settle(flows)
    _assert_all_good(cluster, flows)
    assert set(cluster.runs.values()) == {1}


def test_a_burst_of_completions_is_applied_in_a_few_steps_group_commit() -> None:
    cluster = _cluster(2)
    (flow_id,) = cluster.start(1)
    cluster.drain()
    fan_id = cluster.store.outcome(flow_id, 0)["report"]["finished_nodes"]["fan"][0]  # type: ignore[index]
    # The fan's steps: its start, then completions; a completion that finds the lease held
    # leaves its event to the holder. Here deliveries are sequential, so one each at most.
    assert cluster.store.flows[fan_id].seq <= FAN + 1
    store = MemoryStore()
    stepper = Stepper(SYSTEM, store, Broker(random.Random(0)), _no_read, _no_trace, retention=60)
    sub = FlowState(flow="fan", id="f")
    stepper.create("f", sub, FlowMeta("fan", "f", None))
    stepper.step("f", Start())
    nodes = list(stepper.state("f").active)  # type: ignore[union-attr]
    for node in nodes:  # every completion arrives while another worker holds the lease
        store.flows["f"].lease = ("other", 1e9)
        stepper.step("f", NodeFinished(node))
    assert store.flows["f"].seq == 1  # nothing applied yet: the holder will
    store.flows["f"].lease = None
    stepper.step("f")
    assert store.flows["f"].seq == 2 and store.outcome("f", 0) is not None  # one step for all


def test_a_worker_that_holds_the_state_reads_only_the_changes_since() -> None:
    cluster = _cluster(3, workers=1)
    flows = cluster.start(1)
    cluster.settle(flows)
    loads = cluster.store.calls.get("load", 0)
    steps_taken = sum(f.seq for f in cluster.store.flows.values())
    assert loads <= len(cluster.store.flows)  # one full read per flow, then only its own steps
    assert steps_taken > loads


POINTS = [
    ("enter", StoreError("connection lost")),
    ("enter:after", Crash("after the event was appended")),
    ("load", StoreError("connection lost")),
    ("commit", LeaseLost("another stepper took over")),
    ("commit", StoreError("connection lost")),
    ("commit:after", Crash("after the step and its snapshot were saved")),
    ("outbox", StoreError("connection lost")),
    ("leave", StoreError("connection lost")),
    ("leave:after", Crash("after the outbox was cleared")),
    ("claim", StoreError("connection lost")),
    ("complete", StoreError("connection lost")),
    ("complete:after", Crash("after the completion was recorded")),
    ("finish", StoreError("connection lost")),
    ("create", StoreError("connection lost")),
]


@pytest.mark.parametrize("snapshots", [False, True], ids=["journal", "snapshot-every-step"])
@pytest.mark.parametrize(
    ("point", "error"), POINTS, ids=[f"{p}-{type(e).__name__}" for p, e in POINTS]
)
def test_a_fault_at_each_point_loses_nothing_and_runs_nothing_twice(
    point: str, error: BaseException, snapshots: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if snapshots:
        monkeypatch.setattr(steps, "SNAPSHOT_MIN_BYTES", 0)
    for seed in range(4):
        cluster = _cluster(100 + seed)
        flows = cluster.start(3)
        cluster.store.inject(point, error, times=3)
        if point == "outbox":  # read only after a step died leaving actions unpublished
            cluster.broker.crash_after = 2
        cluster.settle(flows)
        _assert_all_good(cluster, flows)
        assert not cluster.store.faults.get(point), "the fault was never hit"


@pytest.mark.parametrize("after", [0, 1, 3, 7])
def test_a_crash_mid_publish_leaves_the_rest_in_the_outbox_for_the_next_stepper(after: int) -> None:
    for seed in range(4):
        cluster = _cluster(200 + seed)
        flows = cluster.start(2)
        cluster.some(3)
        cluster.broker.crash_after = after
        cluster.settle(flows)
        _assert_all_good(cluster, flows)
        assert cluster.crashes >= 1


def test_random_faults_everywhere_still_end_every_flow() -> None:
    for seed in range(6):
        cluster = _cluster(300 + seed)
        flows = cluster.start(4)
        rng = random.Random(seed)
        for point, error in rng.sample(POINTS, 6):
            cluster.store.inject(point, error, times=rng.randint(1, 4))
        cluster.broker.crash_after = rng.randint(0, 30)
        cluster.settle(flows)
        _assert_all_good(cluster, flows)


def test_a_duplicated_task_message_never_runs_the_body_twice() -> None:
    cluster = _cluster(4)
    flows = cluster.start(2)
    original = cluster.broker.task

    def twice(flow_name: str, flow_id: str, action: Mapping[str, Any]) -> None:
        original(flow_name, flow_id, action)
        cluster.broker._send(("task", flow_id, action["id"]))

    cluster.broker.task = twice  # type: ignore[method-assign]
    cluster.settle(flows)
    _assert_all_good(cluster, flows)
    assert set(cluster.runs.values()) == {1}


def test_a_claim_held_by_a_live_worker_makes_a_duplicate_wait_and_a_dead_one_lapses() -> None:
    store = MemoryStore()
    stepper = Stepper(SYSTEM, store, Broker(random.Random(0)), _no_read, _no_trace, retention=60)
    stepper.create("m", FlowState(flow="main", id="m"), FlowMeta("main", "m", None))
    stepper.step("m", Start())
    (node,) = stepper.state("m").active  # type: ignore[union-attr]
    assert store.claim("m", node, "w1", 0, 30).verdict == "ok"
    held = store.claim("m", node, "w2", 0, 30)
    assert held.verdict == "held" and 29 < held.wait <= 30
    assert store.claim("m", node, "w1", 0, 30).verdict == "ok"  # the holder's retry
    assert store.extend("m", node, "w1", 30)
    store.now.advance(31)  # type: ignore[attr-defined]  # w1 died: its claim lapsed
    assert store.claim("m", node, "w2", 0, 30).verdict == "ok"
    assert store.complete("m", node, {"kind": "finished", "node": node})
    assert not store.complete("m", node, {"kind": "finished", "node": node})  # recorded once
    assert store.claim("m", node, "w3", 0, 30).verdict == "done"
    assert store.claim("m", node, "w3", 1, 30).verdict == "done"  # whatever the attempt


def test_finished_flows_retire_with_their_sub_flows_and_running_ones_never_expire() -> None:
    cluster = _cluster(5)
    (flow_id,) = cluster.start(1)
    cluster.store.now.advance(10 * 24 * 3600)  # type: ignore[attr-defined]
    assert cluster.store.meta(flow_id) is not None  # running (not started yet): kept
    cluster.settle([flow_id])
    assert all(f.expires is not None for f in cluster.store.flows.values())
    assert cluster.store.outcome(flow_id, 0) is not None  # readable until the retention ends
    cluster.store.now.advance(3601)  # type: ignore[attr-defined]
    assert cluster.store.outcome(flow_id, 0) is None
    assert cluster.store.meta(flow_id) is None
    with pytest.raises(NoSuchFlow):
        cluster.store.enter(flow_id, "t", None, 1)
