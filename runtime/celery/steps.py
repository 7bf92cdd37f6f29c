"""Steps: apply a flow's pending events through the core, save them, publish what they decided.

A step runs under the flow's lease (at most one stepper per flow) and applies every pending
event at once (group commit). Its changes are saved as the core's redo log, with an occasional
snapshot, and its actions go to the outbox in the same commit; the holder publishes them, then
deletes them from the outbox and releases the lease. A worker keeps the states it stepped last
(by step number), so its next step reads only the changes other workers made since.

No Celery here: messages go out through a `Publisher`, so the tests drive steps through the
in-memory store with faults injected at every point.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from selinonc.runtime.celery.store import (
    Commit,
    Entered,
    FlowMeta,
    FlowStore,
    LeaseLost,
    Loaded,
    StoreError,
    check_member,
)
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
from selinonc.runtime.core.state import FAILED, RUNNING, SUCCEEDED, FlowState
from selinonc.runtime.errors import StorageError
from selinonc.runtime.runner import TraceHook
from selinonc.runtime.tables import System

LEASE_SECONDS = 30.0  # a step's lease: renewed at commit; a dead holder's lapses after this
# States a worker process keeps between its steps: at most this many, and about this many bytes
# of them (by the size of their last snapshot), the most recently stepped first.
CACHE_FLOWS = 512
CACHE_BYTES = 64 * 1024 * 1024
# A snapshot is written when the journal since the last one is larger than the snapshot (so
# snapshots cost O(1) per change, amortised) and than this many bytes.
SNAPSHOT_MIN_BYTES = 16_384
ENDED = ("succeeded", "failed")  # a flow's status once it has ended
# The safety net looks at a flow again after `safety_net` seconds while it changes, backing off
# (doubling) to this while it waits without a change.
CHECK_MAX_SECONDS = 300.0
# A published task not claimed this long after it was due is published again (its message may
# have been lost with a worker that held it unstarted): doubling each time, up to an hour.
REDELIVER_SECONDS = 120.0


class Publisher(Protocol):
    """Where the actions of steps go (Celery messages, or a test's list)."""

    def task(self, flow_name: str, flow_id: str, action: Mapping[str, Any]) -> float | None:
        """Send a task message for a StartTask action; return its countdown (throttling), if
        any."""

    def start(self, flow_name: str, flow_id: str) -> None:
        """Send a flow's start (a new flow or a sub-flow, throttled as its flow says)."""

    def timer(self, flow_name: str, flow_id: str, after: float, retried: int | None) -> None:
        """Send a flow a wake-up after `after` seconds (the countdown of flow retry
        `retried`)."""

    def check(self, flow_name: str, flow_id: str, after: float, mark: str) -> None:
        """Send the flow's next safety-net check after `after` seconds; the check gives `mark`
        back to `Stepper.check`."""


@dataclass(slots=True)
class _Held:
    """A state this worker holds between steps."""

    seq: int
    state: FlowState
    snapshot_seq: int
    snapshot_bytes: int
    digest: str  # the package digest the flow was created with
    by: str = ""  # the token of the step it includes last (a store that lost steps differs)


def event_json(event: Event) -> dict[str, Any]:
    """An event as the inbox keeps it."""
    if isinstance(event, Start):
        return {"kind": "start"}
    if isinstance(event, Timer):
        return {"kind": "timer", "retried": event.retried}
    kind = "finished" if isinstance(event, NodeFinished) else "failed"
    return {"kind": kind, "node": event.node_id}


def _event(data: Mapping[str, Any]) -> Event:
    kind = data.get("kind")
    if kind == "start":
        return Start()
    if kind == "timer":
        retried = data.get("retried")
        return Timer(int(retried) if retried is not None else None)
    if kind == "finished":
        return NodeFinished(str(data["node"]))
    if kind == "failed":
        return NodeFailed(str(data["node"]))
    raise StoreError(f"an event of unknown kind in the flow store: {data!r}")


class Stepper:
    """Steps flows of one system over one store."""

    def __init__(
        self,
        system: System,
        store: FlowStore,
        publisher: Publisher,
        read: Any,
        tracer: TraceHook,
        *,
        retention: float,
        safety_net: float = 2.0,
        redeliver_after: float = REDELIVER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.system = system
        self.store = store
        self.publisher = publisher
        self.read = read  # read(flow_name, task_name, task_id): a task's stored result
        self.tracer = tracer
        self.retention = retention
        self.safety_net = safety_net
        self.redeliver_after = redeliver_after
        self.lease = LEASE_SECONDS
        self.clock = clock  # measures a step against its lease
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._held_bytes = 0
        self._lock = threading.Lock()  # thread pools step several flows in one process
        self._metas: OrderedDict[str, FlowMeta] = OrderedDict()

    # --- flows -----------------------------------------------------------------------------

    def create(self, flow_id: str, state: FlowState, meta: FlowMeta) -> bool:
        """Store a new flow instance; False when it exists (a replayed start)."""
        snapshot = {"digest": self.system.digest, "state": state.to_json()}
        return self.store.create(flow_id, meta, snapshot)

    def meta(self, flow_id: str) -> FlowMeta | None:
        """A flow's name, root and owner (they never change, so they are kept)."""
        meta = self._metas.get(flow_id)
        if meta is None:
            meta = self.store.meta(flow_id)
            if meta is None:
                return None
            self._metas[flow_id] = meta
            if len(self._metas) > 4 * CACHE_FLOWS:
                self._metas.popitem(last=False)
        return meta

    def state(self, flow_id: str) -> FlowState | None:
        """A flow's state as the store has it now (for handles; no lease)."""
        if self.meta(flow_id) is None:
            return None
        loaded = self.store.load(flow_id, -1, -1)
        assert loaded.snapshot is not None
        state = FlowState.from_json(loaded.snapshot["state"])
        for delta in loaded.deltas:
            state.apply_ops(delta["ops"])
        return state

    def _forget(self, flow_id: str) -> _Held | None:
        """Stop holding a flow's state (it may not be what the store has); return it."""
        with self._lock:
            held = self._held.pop(flow_id, None)
            if held is not None:
                self._held_bytes -= held.snapshot_bytes
        return held

    # --- a step ----------------------------------------------------------------------------

    def step(self, flow_id: str, event: Event | None = None) -> str | None:
        """Append `event` (if any) and, unless another worker is stepping the flow, apply every
        pending event; return the flow's status, or None when another worker holds the lease
        (it will apply the event).

        Raises:
            StoreError: the store is unreachable (the event may or may not be appended).
            StorageError: a result could not be read: what was applied before is saved and
                published; the rest stays pending for a later step (decisions.md, runtime 5).
            NoSuchFlow: the store does not know the flow.
        """
        return self._step(flow_id, event)[0]

    def _step(self, flow_id: str, event: Event | None) -> tuple[str | None, int | None]:
        """`step`, and the flow's step number after it (None when another worker held it)."""
        token = uuid.uuid4().hex
        pending = event_json(event) if event is not None else None
        status: str | None = None
        seq: int | None = None
        while True:
            entered = self.store.enter(flow_id, token, pending, self.lease)
            pending = None
            if entered is None:
                return status, seq
            published: list[str] = []
            tasks: dict[str, float] = {}
            try:
                status, error = self._under_lease(flow_id, token, entered, published, tasks)
            except Exception:
                self._forget(flow_id)  # what this worker holds may not be saved
                with contextlib.suppress(Exception):  # let the next stepper in at once
                    self.store.leave(flow_id, token, published, tasks)
                raise
            except BaseException:  # the process is going down: its lease lapses
                self._forget(flow_id)
                raise
            left = self.store.leave(flow_id, token, published, tasks)
            if error is not None:
                raise error
            held = self._held.get(flow_id)
            seq = held.seq if held is not None and entered.events else entered.seq
            if not left:
                return status, seq

    def _under_lease(
        self,
        flow_id: str,
        token: str,
        entered: Entered,
        published: list[str],
        tasks: dict[str, float],
    ) -> tuple[str, StorageError | None]:
        """Publish what a dead step left, apply the pending events, commit, publish; the ids of
        what went out are added to `published` as they go (and the tasks' to `tasks`, with
        when a worker must have claimed them)."""
        meta = self.meta(flow_id)
        assert meta is not None  # enter() found the flow
        if entered.outbox:  # a step that died before publishing, or whose lease lapsed
            for action in self.store.outbox(flow_id):
                self._send(meta, flow_id, action, published, tasks)
        if not entered.events:
            return entered.status, None
        held = self._hold(flow_id, entered.seq, entered.by)
        state = held.state
        state.recording = True
        actions: list[dict[str, Any]] = []
        traces: list[Trace] = []
        recheck: list[float] = []
        consumed, error = 0, None
        # The lease is renewed at commit: a batch slower than a third of it commits what it has.
        deadline = self.clock() + self.lease / 3
        for data in entered.events:
            if consumed and self.clock() > deadline:
                break
            try:
                out = self._apply(state, meta, _event(data), traces, recheck)
            except StorageError as exc:
                error = exc
                break
            actions.extend(out)
            consumed += 1
        if consumed:
            self._commit(flow_id, token, held, entered, consumed, actions)
        self._keep(flow_id, held)  # saved: this worker may use it for its next step
        for trace in traces:
            self.tracer(trace.event, trace.details)
        for action in actions:
            self._send(meta, flow_id, action, published, tasks)
        if recheck and state.status == RUNNING:
            self.schedule_check(meta, flow_id, max(recheck[-1], self.safety_net), held.seq)
        return state.status, error

    def _hold(self, flow_id: str, seq: int, by: str) -> _Held:
        """The flow's state at step `seq`: the one this worker holds, brought up to date. It is
        this step's alone until `_keep` gives it back (another thread may step the flow once
        this step's lease lapses)."""
        held = self._forget(flow_id)
        if held is not None and held.seq == seq and held.by == by:
            return held
        if held is not None and held.seq < seq:
            loaded = self.store.load(flow_id, held.seq, held.snapshot_seq)
            if loaded.snapshot is None and (
                not loaded.deltas or loaded.deltas[0].get("prev") != held.by
            ):
                held = None  # the store's history is not the one this copy came from
            else:
                return self._catch_up(flow_id, held, loaded, seq)
        return self._catch_up(flow_id, None, self.store.load(flow_id, -1, -1), seq)

    def _catch_up(self, flow_id: str, held: _Held | None, loaded: Loaded, seq: int) -> _Held:
        """A held state brought to step `seq` by what the store loaded."""
        if loaded.snapshot is not None or held is None:
            assert loaded.snapshot is not None
            state = FlowState.from_json(loaded.snapshot["state"])
            held = _Held(
                loaded.snapshot_seq,
                state,
                loaded.snapshot_seq,
                loaded.snapshot_bytes,
                str(loaded.snapshot.get("digest", "")),
                str(loaded.snapshot.get("by", "")),
            )
        for delta in loaded.deltas:
            if delta["seq"] > held.seq:
                held.state.apply_ops(delta["ops"])
                held.seq, held.by = delta["seq"], str(delta.get("by", ""))
        if held.seq != seq:
            raise StoreError(f"flow {flow_id}: the journal ends at step {held.seq}, not {seq}")
        return held

    def _keep(self, flow_id: str, held: _Held) -> None:
        """Hold a state that matches the store, for this worker's next step of the flow."""
        with self._lock:
            old = self._held.pop(flow_id, None)
            if old is not None:
                self._held_bytes -= old.snapshot_bytes
            self._held[flow_id] = held
            self._held_bytes += held.snapshot_bytes
            while len(self._held) > 1 and (
                len(self._held) > CACHE_FLOWS or self._held_bytes > CACHE_BYTES
            ):
                _, evicted = self._held.popitem(last=False)
                self._held_bytes -= evicted.snapshot_bytes

    def _apply(
        self,
        state: FlowState,
        meta: FlowMeta,
        event: Event,
        traces: list[Trace],
        recheck: list[float],
    ) -> list[dict[str, Any]]:
        """One event through the core; its actions as JSON (a non-JSON one fails the flow)."""
        _, actions = advance(self.system, state, event, self._read, self._report)
        out: list[dict[str, Any]] = []
        for action in actions:
            if isinstance(action, Trace):
                traces.append(action)
            elif isinstance(action, Recheck):
                recheck.append(action.after)
            else:
                out.append(encode(state, meta, action))
        try:
            json.dumps(out)
        except (TypeError, ValueError) as exc:
            # Messages are JSON: what cannot be sent fails the flow at once (a foreach item
            # that is a set, say), as any other dispatcher failure does.
            reason = f"dispatcher failure: a message is not JSON data ({exc})"
            traces.append(Trace("DISPATCHER_FAILURE", {"flow_id": state.id, "reason": reason}))
            for sent in out:  # the nodes this event started were never sent
                if sent["id"] in state.active:
                    state.deactivate(sent["id"])
            state.put("status", FAILED)
            return [encode(state, meta, FlowFailed(state.report(), reason))]
        return out

    def _read(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """A task's result; the store being unreachable (to locate its flow) is a storage error
        to the core: the step is retried, the flow does not fail."""
        try:
            return self.read(flow_name, task_name, task_id)
        except StoreError as exc:
            raise StorageError(str(exc)) from exc

    def _report(self, node_id: str) -> Mapping[str, Any] | None:
        """A finished sub-flow's report, by reference: from its own outcome in the store."""
        try:
            outcome = self.store.outcome(node_id, 0)
        except StoreError as exc:
            raise StorageError(str(exc)) from exc
        return outcome.get("report") if outcome is not None else None

    def _commit(
        self,
        flow_id: str,
        token: str,
        held: _Held,
        entered: Entered,
        consumed: int,
        actions: list[dict[str, Any]],
    ) -> None:
        state = held.state
        delta = {"seq": held.seq + 1, "ops": state.take_ops(), "by": token, "prev": held.by}
        size = entered.journal_bytes + len(json.dumps(delta))
        snapshot = None
        if size > max(held.snapshot_bytes, SNAPSHOT_MIN_BYTES):
            snapshot = {"digest": held.digest, "by": token, "state": state.to_json()}
        commit = Commit(
            seq=held.seq + 1,
            consumed=consumed,
            delta=delta,
            snapshot=snapshot,
            actions=actions,
            status=state.status,
            retried=state.retried,
        )
        try:
            self.store.commit(flow_id, token, commit, self.lease)
        except LeaseLost:
            self._forget(flow_id)
            raise
        held.seq += 1
        held.by = token
        if snapshot is not None:
            size = len(json.dumps(snapshot))
            self._held_bytes += size - held.snapshot_bytes
            held.snapshot_seq, held.snapshot_bytes = held.seq, size

    # --- publishing ------------------------------------------------------------------------

    def _send(
        self,
        meta: FlowMeta,
        flow_id: str,
        action: Mapping[str, Any],
        published: list[str],
        tasks: dict[str, float],
    ) -> None:
        countdown = self.publish(meta, flow_id, action)
        published.append(action["id"])
        if action["kind"] == "task":
            tasks[action["id"]] = (countdown or 0.0) + self.redeliver_after

    def publish(self, meta: FlowMeta, flow_id: str, action: Mapping[str, Any]) -> float | None:
        """Send one action a step decided (under the flow's lease); for a task, return its
        message's countdown."""
        kind = action["kind"]
        if kind == "task":
            return self.publisher.task(meta.flow, flow_id, action)
        elif kind == "flow":
            sub = FlowState(
                flow=action["name"],
                id=action["id"],
                node_args=action["node_args"],
                parent=action["parent"],
                selective=action["selective"],
            )
            self.create(sub.id, sub, FlowMeta(action["name"], meta.root, (flow_id, sub.id)))
            self.publisher.start(action["name"], sub.id)
        elif kind == "timer":
            self.publisher.timer(meta.flow, flow_id, action["after"], action.get("retried"))
        elif kind == "end":
            self.end(meta, flow_id, action)
        return None

    def end(self, meta: FlowMeta, flow_id: str, action: Mapping[str, Any]) -> None:
        """A flow ended: record its outcome; tell its parent, or retire a top-level flow."""
        status = SUCCEEDED if action["ok"] else FAILED
        self.store.finish(
            flow_id, {"status": status, "report": action["report"], "reason": action["reason"]}
        )
        if meta.owner is None:
            self.store.retire(flow_id, self.retention)
            return
        parent_id, node_id = meta.owner
        parent = self.meta(parent_id)
        if parent is not None and meta.flow in self.system.flow(parent.flow).nowait:
            self.complete(parent_id, node_id, None)  # its parent does not wait for it
            return
        event: Event = NodeFinished(node_id) if action["ok"] else NodeFailed(node_id)
        self.complete(parent_id, node_id, event)

    def complete(
        self, flow_id: str, node_id: str, event: Event | None, by: str | None = None
    ) -> bool:
        """Record a node's outcome (once; None for a nowait node) and step its flow; False when
        it was recorded before, or `by` (the reporting run's claim) does not hold the node."""
        data = event_json(event) if event is not None else None
        if not self.store.complete(flow_id, node_id, data, by):
            return False
        if event is not None:
            self.step(flow_id)
        return True

    def schedule_check(self, meta: FlowMeta, flow_id: str, after: float, seq: int) -> None:
        """Make sure one safety-net check of the flow is on its way (one chain per flow)."""
        token = uuid.uuid4().hex
        if self.store.claim_check(flow_id, after + 60, token):  # released when it comes
            self.publisher.check(meta.flow, flow_id, after, f"{token}:{after}:{seq}")

    def check(self, flow_id: str, mark: str = "") -> None:
        """The safety net: step the flow (applying what a dead stepper left pending and
        publishing what it left in the outbox), and look again later while it runs: soon while
        it changes or another worker holds it, less and less often while it waits."""
        self._check(flow_id, mark)
        # Done with: the deadline index no longer sends it (it stays due if the check failed).
        self.store.unschedule(check_member(flow_id, mark))

    def _check(self, flow_id: str, mark: str) -> None:
        token, after, seq = _mark(mark)
        mine = self.store.release_check(flow_id, token)
        meta = self.meta(flow_id)
        if meta is None:
            return
        status, now = self._step(flow_id, None)
        if not mine or status in ENDED:
            return  # a stray check (another chain is on its way), or nothing left to watch
        waiting = now is not None and now == seq
        delay = min(2 * after, CHECK_MAX_SECONDS) if waiting else self.safety_net
        self.schedule_check(
            meta, flow_id, max(delay, self.safety_net), now if now is not None else -1
        )


def _mark(mark: str) -> tuple[str | None, float, int]:
    """A check's token, delay and the step number it was scheduled at ("" for a check sent by
    an older runtime: no token, no back-off)."""
    token, _, rest = mark.partition(":")
    after, _, seq = rest.partition(":")
    try:
        return token or None, float(after), int(seq)
    except ValueError:
        return token or None, 0.0, -2


def encode(state: FlowState, meta: FlowMeta, action: Any) -> dict[str, Any]:
    """An action as JSON for the outbox, with an id that a replay keeps."""
    if isinstance(action, StartTask):
        return {
            "id": action.node_id,
            "kind": "task",
            "name": action.name,
            "node_args": action.node_args,
            "parent": dict(action.parent),
            "retried": state.retried,
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
        return {
            "id": f"{state.id}:wake:{state.retried}",
            "kind": "timer",
            "after": action.after,
            "retried": state.retried,
        }
    if isinstance(action, FlowFinished | FlowFailed):
        return {
            "id": f"{state.id}:end",
            "kind": "end",
            "ok": isinstance(action, FlowFinished),
            "report": dict(action.report),
            "reason": action.reason if isinstance(action, FlowFailed) else None,
        }
    raise TypeError(f"no message for {action!r}")
