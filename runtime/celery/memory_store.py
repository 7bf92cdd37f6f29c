"""The flow store in memory: RedisStore's twin for tests, with a clock and fault injection.

Every operation takes one lock, as every Redis script is atomic. `inject(point, error)` makes
the operation at `point` raise `error` once (or `times` times), before it changes anything
("enter", "load", "commit", "leave", "claim", "complete", "finish", ...) or, for the points
named "<operation>:after", after it has changed the store: a crash after the event was
appended ("enter:after"), after the step and its snapshot were saved ("commit:after"), after
the published actions were deleted ("leave:after"). Leases and claims expire by `clock`, which
tests move forward.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from selinonc.runtime.celery.store import (
    Claim,
    Commit,
    Due,
    Entered,
    FlowMeta,
    LeaseLost,
    Loaded,
    NoSuchFlow,
    flow_of,
    node_member,
)

BATCH = 1000


@dataclass(slots=True)
class _Flow:
    meta: FlowMeta
    snapshot: str
    snapshot_seq: int = 0
    seq: int = 0
    journal: list[str] = field(default_factory=list)
    journal_bytes: int = 0
    inbox: list[str] = field(default_factory=list)
    outbox: dict[str, str] = field(default_factory=dict)
    lease: tuple[str, float] | None = None  # (token, expiry)
    nodes: dict[str, Any] = field(default_factory=dict)  # node id -> "done" | (token, expiry)
    status: str = "new"
    retried: int = 0
    outcome: dict[str, Any] | None = None
    exceptions: dict[str, str] = field(default_factory=dict)
    check: tuple[str, float] | None = None  # the safety net's claim: (token, expiry)
    expires: float | None = None
    by: str = ""  # the token of the last committed step
    sent: dict[str, str] = field(default_factory=dict)  # published tasks not done yet


class MemoryStore:
    """Flow journals in a dict; see the module docstring."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.url = "memory://"
        self.now = clock or _Clock()
        self.flows: dict[str, _Flow] = {}
        self.family: dict[str, set[str]] = {}
        self.faults: dict[str, list[BaseException]] = {}
        self.calls: dict[str, int] = {}  # operation -> how often it ran (round trips)
        self.deadlines: dict[str, float] = {}  # member -> when it is overdue
        self.tries: dict[str, int] = {}  # member -> how often `due` took it
        self.written = 0  # bytes the operations wrote, as Redis would receive them
        self._lock = threading.RLock()
        self._ended = threading.Condition(self._lock)

    # --- fault injection -------------------------------------------------------------------

    def inject(self, point: str, error: BaseException, times: int = 1) -> None:
        """Make the operation at `point` raise `error` the next `times` times."""
        self.faults.setdefault(point, []).extend([error] * times)

    def _fault(self, point: str) -> None:
        errors = self.faults.get(point)
        if errors:
            raise errors.pop(0)

    def _op(self, name: str, *written: str) -> None:
        self._fault(name)
        self.calls[name] = self.calls.get(name, 0) + 1
        self.written += sum(len(w) for w in written)

    def _live(self, flow_id: str) -> _Flow | None:
        """The flow, unless it is unknown or its retention has passed (Redis expired it)."""
        flow = self.flows.get(flow_id)
        if flow is None or (flow.expires is not None and flow.expires <= self.now()):
            return None
        return flow

    def _flow(self, flow_id: str) -> _Flow:
        flow = self._live(flow_id)
        if flow is None:
            raise NoSuchFlow(f"no flow {flow_id!r} in the flow store {self.url}")
        return flow

    # --- flows -------------------------------------------------------------------------------

    def create(self, flow_id: str, meta: FlowMeta, state: Mapping[str, Any]) -> bool:
        with self._lock:
            text = json.dumps(state)
            self._op("create", text)
            if flow_id in self.flows:
                return False
            self.flows[flow_id] = _Flow(meta, text)
            if meta.root != flow_id:
                self.family.setdefault(meta.root, set()).add(flow_id)
                root = self.flows.get(meta.root)
                if root is not None and root.expires is not None:
                    self.flows[flow_id].expires = root.expires
            return True

    def meta(self, flow_id: str) -> FlowMeta | None:
        with self._lock:
            self._op("meta")
            flow = self._live(flow_id)
            return flow.meta if flow is not None else None

    def enter(
        self, flow_id: str, token: str, event: Mapping[str, Any] | None, lease: float
    ) -> Entered | None:
        with self._lock:
            text = json.dumps(event) if event is not None else ""
            self._op("enter", text)
            flow = self._flow(flow_id)
            if event is not None:
                flow.inbox.append(text)
            self._fault("enter:after")
            now = self.now()
            if flow.lease is not None and flow.lease[1] > now:
                return None
            flow.lease = (token, now + lease)
            events = [json.loads(e) for e in flow.inbox[:BATCH]]
            return Entered(
                flow.seq, events, len(flow.outbox), flow.journal_bytes, flow.status, flow.by
            )

    def load(self, flow_id: str, have: int, snapshot_seq: int) -> Loaded:
        with self._lock:
            self._op("load")
            flow = self._flow(flow_id)
            if have >= flow.snapshot_seq and snapshot_seq == flow.snapshot_seq:
                deltas = flow.journal[have - flow.snapshot_seq :]
                return Loaded(flow.snapshot_seq, None, 0, [json.loads(d) for d in deltas])
            return Loaded(
                flow.snapshot_seq,
                json.loads(flow.snapshot),
                len(flow.snapshot),
                [json.loads(d) for d in flow.journal],
            )

    def commit(self, flow_id: str, token: str, commit: Commit, lease: float) -> None:
        with self._lock:
            delta = json.dumps(commit.delta)
            snapshot = json.dumps(commit.snapshot) if commit.snapshot is not None else ""
            actions = {a["id"]: json.dumps(a) for a in commit.actions}
            self._op("commit", snapshot or delta, *actions.values())
            flow = self._flow(flow_id)
            now = self.now()
            if flow.lease is None or flow.lease[0] != token or flow.lease[1] <= now:
                raise LeaseLost(f"flow {flow_id}: the step's lease expired before it committed")
            assert flow.seq + 1 == commit.seq, (flow.seq, commit.seq)
            if snapshot:
                flow.snapshot, flow.snapshot_seq = snapshot, commit.seq
                flow.journal, flow.journal_bytes = [], 0
            else:
                flow.journal.append(delta)
                flow.journal_bytes += len(delta)
            flow.seq = commit.seq
            del flow.inbox[: commit.consumed]
            flow.outbox.update(actions)
            flow.status, flow.retried = commit.status, commit.retried
            flow.lease = (token, now + lease)
            flow.by = token
            self._fault("commit:after")

    def outbox(self, flow_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self._op("outbox")
            return [json.loads(a) for a in self._flow(flow_id).outbox.values()]

    def leave(
        self,
        flow_id: str,
        token: str,
        published: Sequence[str],
        tasks: Mapping[str, float] | None = None,
    ) -> int:
        with self._lock:
            self._op("leave")
            flow = self._flow(flow_id)
            for node_id, after in (tasks or {}).items():
                action, claim = flow.outbox.get(node_id), flow.nodes.get(node_id)
                if action is not None and claim != "done":
                    flow.sent[node_id] = action
                    if claim is None or claim[1] <= self.now():  # a live claim set its own
                        self._deadline(node_member(node_id), self.now() + after)
            for action_id in published:
                flow.outbox.pop(action_id, None)
            if flow.lease is not None and flow.lease[0] == token:
                flow.lease = None
            self._fault("leave:after")
            return len(flow.inbox)

    # --- nodes -------------------------------------------------------------------------------

    def claim(
        self,
        flow_id: str,
        node_id: str,
        token: str,
        retried: int,
        lease: float,
        *,
        nowait: bool = False,
        previous: str | None = None,
        name: str = "",
    ) -> Claim:
        with self._lock:
            self._op("claim")
            flow = self._live(flow_id)
            if flow is None:
                return Claim("unknown")
            held = flow.nodes.get(node_id)
            if held == "done":
                self._forget(flow, node_id)
                return Claim("done")
            action = flow.sent.get(node_id) or flow.outbox.get(node_id)
            if action is None:
                return Claim("unsent")
            sent = json.loads(action)
            if name and sent["name"] != name:
                return Claim("mismatch")
            verdict = None
            if not nowait and flow.status != "running":
                verdict = "ended"
            elif not nowait and flow.retried != retried:
                verdict = "abandoned"
            if verdict is not None:
                if int(sent.get("retried", 0)) == retried:  # not a forged attempt number
                    self._forget(flow, node_id)
                return Claim(verdict)
            now = self.now()
            if held is not None and held[0] not in (token, previous) and held[1] > now:
                return Claim("held", held[1] - now)
            flow.nodes[node_id] = (token, now + lease)
            self._deadline(node_member(node_id), now + lease)
            return Claim("ok", 0.0, json.loads(action))

    def extend(self, flow_id: str, node_id: str, token: str, lease: float) -> bool:
        with self._lock:
            self._op("extend")
            flow = self._flow(flow_id)
            held = flow.nodes.get(node_id)
            if held is None or held == "done" or held[0] != token:
                return False
            flow.nodes[node_id] = (token, self.now() + lease)
            self.deadlines[node_member(node_id)] = self.now() + lease
            return True

    def complete(
        self,
        flow_id: str,
        node_id: str,
        event: Mapping[str, Any] | None,
        by: str | None = None,
    ) -> bool:
        with self._lock:
            text = json.dumps(event) if event is not None else ""
            self._op("complete", text)
            flow = self._flow(flow_id)
            held = flow.nodes.get(node_id)
            if held == "done":
                return False
            if by is not None and (held is None or held[0] != by):
                return False  # not from the run that holds the node's claim
            flow.nodes[node_id] = "done"
            self._forget(flow, node_id)
            if event is not None:
                flow.inbox.append(text)
            self._fault("complete:after")
            return True

    def sent(self, node_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._op("sent")
            flow = self._live(flow_of(node_id))
            action = (flow.sent.get(node_id) or flow.outbox.get(node_id)) if flow else None
            held = flow.nodes.get(node_id) if flow is not None else None
            if flow is None or action is None or held == "done":
                if flow is not None:
                    self._forget(flow, node_id)
                else:
                    self.deadlines.pop(node_member(node_id), None)
                return None
            if held is not None and held[1] > self.now():  # renewed: due when it lapses
                self._deadline(node_member(node_id), held[1])
                return None
            return {**json.loads(action), "status": flow.status, "attempt": flow.retried}

    def _forget(self, flow: _Flow, node_id: str) -> None:
        flow.sent.pop(node_id, None)
        self.deadlines.pop(node_member(node_id), None)
        self.tries.pop(node_member(node_id), None)

    def _deadline(self, member: str, when: float) -> None:
        self.deadlines[member] = when
        self.tries.pop(member, None)

    # --- deadlines ---------------------------------------------------------------------------

    def schedule(self, member: str, after: float) -> None:
        with self._lock:
            self._op("schedule")
            self._deadline(member, self.now() + after)

    def unschedule(self, member: str) -> None:
        with self._lock:
            self._op("unschedule")
            self.deadlines.pop(member, None)
            self.tries.pop(member, None)

    def due(self, limit: int, resend: float, most: float) -> list[Due]:
        with self._lock:
            self._op("due")
            now = self.now()
            overdue = sorted((when, m) for m, when in self.deadlines.items() if when <= now)
            out = []
            for _, member in overdue[:limit]:
                tries = self.tries.get(member, 0)
                self.tries[member] = tries + 1
                self.deadlines[member] = now + min(resend * 2 ** min(tries, 30), most)
                out.append(Due(member, tries))
            return out

    # --- ends --------------------------------------------------------------------------------

    def finish(self, flow_id: str, outcome: Mapping[str, Any]) -> None:
        with self._lock:
            self._op("finish", json.dumps(outcome))
            self._flow(flow_id).outcome = copy.deepcopy(dict(outcome))
            self._ended.notify_all()

    def outcome(self, flow_id: str, timeout: float | None) -> dict[str, Any] | None:
        with self._lock:
            self._op("outcome")
            flow = self._live(flow_id)
            if flow is not None and flow.outcome is None and timeout:
                self._ended.wait_for(lambda: flow.outcome is not None, timeout)
            return copy.deepcopy(flow.outcome) if flow is not None and flow.outcome else None

    def retire(self, root: str, seconds: float) -> None:
        with self._lock:
            self._op("retire")
            for flow_id in {root, *self.family.get(root, ())}:
                if flow_id in self.flows:
                    self.flows[flow_id].expires = self.now() + seconds

    def save_exception(self, flow_id: str, node_id: str, record: Mapping[str, Any]) -> None:
        with self._lock:
            text = json.dumps(record)
            self._op("save_exception", text)
            self._flow(flow_id).exceptions[node_id] = text

    def exception(self, flow_id: str, node_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._op("exception")
            flow = self._live(flow_id)
            text = flow.exceptions.get(node_id) if flow is not None else None
            return json.loads(text) if text is not None else None

    def claim_check(self, flow_id: str, seconds: float, token: str) -> bool:
        with self._lock:
            self._op("claim_check")
            flow = self._flow(flow_id)
            if flow.check is not None and flow.check[1] > self.now():
                return False
            flow.check = (token, self.now() + seconds)
            return True

    def release_check(self, flow_id: str, token: str | None) -> bool:
        with self._lock:
            self._op("release_check")
            flow = self._live(flow_id)
            if flow is None:
                return False
            live = flow.check is not None and flow.check[1] > self.now()
            if token is not None and live and flow.check is not None and flow.check[0] != token:
                return False
            flow.check = None
            return True

    def close(self) -> None:
        """Nothing to close."""

    # --- for tests ----------------------------------------------------------------------------

    def expire_leases(self) -> None:
        """Let every lease and claim lapse, as if their holders had died long ago."""
        with self._lock:
            for flow in self.flows.values():
                flow.lease = None
                flow.check = None
                for node_id, held in list(flow.nodes.items()):
                    if held != "done":
                        del flow.nodes[node_id]


class _Clock:
    """A clock tests move by hand (`advance`); it starts at 0."""

    def __init__(self) -> None:
        self.time = 0.0

    def __call__(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds
