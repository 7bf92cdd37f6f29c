"""The flow store: what Celery workers share about running flows, as an interface.

Each flow instance is a journal, so a completion costs the same whatever the flow's size:

- an **inbox** of events (a completion appends one, O(1));
- a **lease**: at most one worker steps the flow at a time; the holder applies every pending
  event in one step (group commit), so a burst of completions becomes a few steps;
- a **journal** of each step's changes (the core's redo log, a few hundred bytes) after a
  **snapshot** of the whole state, taken only when the journal has grown as large as the
  snapshot, so snapshots cost O(1) per change, amortised; a worker that holds the state from its
  last step reads only the changes since then;
- an **outbox** of the actions a step decided, saved with the step and deleted once published:
  a holder that dies before publishing leaves them for the next one;
- **node claims**: a node id runs on one worker at a time; a claim is a lease, renewed while the
  task runs and turned into "done" with the completion, so a duplicated message never runs a task
  body twice, and a killed worker's claim expires so the redelivered message runs;
- **sent tasks**: each published task's action stays in the store until the node is done, and a
  claim runs that action, not what the message says (a forged message cannot run another task);
- **deadlines**: one index of what must happen by when (a published task claimed, a claim
  renewed, a flow's start or retry timer applied, its next safety-net check). Every worker polls
  it (`due`) and redelivers what is overdue, so nothing waits on a message a dead worker held:
  the broker's visibility timeout never decides when a flow goes on.

`redis_store.RedisStore` keeps all of this in Redis (one round trip per operation, in Lua);
`memory_store.MemoryStore` is its in-memory twin for tests, with fault injection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from selinonc.runtime.errors import SelinoncError

# Store format: bumped when what the store keeps changes incompatibly (a state records it).
STORE_FORMAT = 1


class StoreError(SelinoncError):
    """The flow store (Redis) cannot be reached or holds something unexpected."""


class NoSuchFlow(SelinoncError):
    """The store knows no such flow: never started, or removed after its retention."""


class FlowLost(NoSuchFlow):
    """A flow a handle started is no longer in the store (a Redis that kept nothing on disk)."""


class LeaseLost(StoreError):
    """A step's lease expired before it committed: another worker steps the flow now."""


@dataclass(frozen=True, slots=True)
class FlowMeta:
    """What never changes about a flow instance."""

    flow: str  # the flow's name
    root: str  # the top-level flow's id (itself for a top-level flow)
    owner: tuple[str, str] | None  # (parent flow id, the sub-flow's node id there)


@dataclass(frozen=True, slots=True)
class Entered:
    """A step's start: the lease is held; what is pending."""

    seq: int  # the flow's last committed step
    events: list[dict[str, Any]]  # pending events, oldest first (at most a batch)
    outbox: int  # actions a dead step left unpublished
    journal_bytes: int  # the size of the journal since the last snapshot
    status: str  # the flow's status after its last step
    by: str  # the token of the step that committed it last ("" before any)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A flow's state as the store has it: a snapshot (or None: the caller's copy is current)
    and the changes committed after it (or after the caller's copy)."""

    snapshot_seq: int
    snapshot: dict[str, Any] | None
    snapshot_bytes: int
    deltas: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Commit:
    """What a step saves, atomically, if it still holds the lease."""

    seq: int  # the new step number (the entered seq + 1)
    consumed: int  # how many inbox events it applied
    delta: dict[str, Any]  # {"seq", "ops"}: the redo log of its changes
    snapshot: dict[str, Any] | None  # the whole state, when it is time for a snapshot
    actions: Sequence[dict[str, Any]]  # the outbox: JSON actions with an "id"
    status: str  # the flow's status after the step
    retried: int  # the flow's retry count after the step


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to a node claim: "ok" (run `action`, the task the flow published), "held"
    (running elsewhere: ask again after `wait` seconds), "done", "ended" (the flow is over),
    "abandoned" (an earlier flow attempt's node), "unknown" (no such flow), "unsent" (the
    flow never published this node) or "mismatch" (it did, as another task): "unsent" and
    "mismatch" answer a forged or corrupted message."""

    verdict: str
    wait: float = 0.0
    action: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Due:
    """An overdue deadline the poller took: what it names and how often it was taken before."""

    member: str
    tries: int


# Deadline members: what is due, by kind.
def check_member(flow_id: str, mark: str) -> str:
    """A flow's next safety-net check (its mark tells the check its place in the chain)."""
    return f"c:{flow_id}:{mark}"


def start_member(flow_id: str) -> str:
    """A flow's start, until a step applied it."""
    return f"s:{flow_id}"


def timer_member(flow_id: str, retried: int | None) -> str:
    """A flow's retry timer, until a step applied it."""
    return f"t:{flow_id}:{'' if retried is None else retried}"


def node_member(node_id: str) -> str:
    """A published task, until it is claimed, and a claim, until it is renewed or done."""
    return f"n:{node_id}"


class FlowStore(Protocol):
    """The operations of a flow store; every one is atomic."""

    url: str

    def create(self, flow_id: str, meta: FlowMeta, state: Mapping[str, Any]) -> bool:
        """Store a new flow (status "new"); False when it exists already (a replayed start)."""

    def meta(self, flow_id: str) -> FlowMeta | None:
        """A flow's name, root and owner, or None when the store does not know it."""

    def enter(
        self, flow_id: str, token: str, event: Mapping[str, Any] | None, lease: float
    ) -> Entered | None:
        """Append `event` (if any) to the inbox, then take the step lease for `lease` seconds;
        None when another worker holds it (it will see the event).

        Raises:
            NoSuchFlow: when the store does not know the flow (nothing is appended).
        """

    def load(self, flow_id: str, have: int, snapshot_seq: int) -> Loaded:
        """The state: only the changes after step `have` when that is at or after the snapshot
        `snapshot_seq` the caller's copy came from, else the snapshot and all changes."""

    def commit(self, flow_id: str, token: str, commit: Commit, lease: float) -> None:
        """Save a step and its outbox, and renew the lease.

        Raises:
            LeaseLost: when the lease is no longer `token`'s (nothing is saved).
        """

    def outbox(self, flow_id: str) -> list[dict[str, Any]]:
        """Every unpublished action, by id."""

    def leave(
        self,
        flow_id: str,
        token: str,
        published: Sequence[str],
        tasks: Mapping[str, float] | None = None,
    ) -> int:
        """Delete published actions from the outbox, release the lease; return how many events
        are pending (a step must follow when there are). The published tasks (`tasks`: node id
        -> seconds until a worker must have claimed it) are kept as sent, with a deadline."""

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
        """Claim node `node_id` of attempt `retried` for `lease` seconds, as `token`: taken when
        the flow sent it (as task `name`, unless "") and no live claim holds it, or when the
        live one is `previous`'s (a task retry continues its claim) or `token`'s. A `nowait`
        node runs whatever its flow has become since. The claim's expiry is its deadline."""

    def extend(self, flow_id: str, node_id: str, token: str, lease: float) -> bool:
        """Renew `token`'s claim for `lease` seconds from now; False when it is not held."""

    def complete(
        self,
        flow_id: str,
        node_id: str,
        event: Mapping[str, Any] | None,
        by: str | None = None,
    ) -> bool:
        """Mark the node done and append its completion `event` (None for a nowait node), once:
        False when it was done already, or when `by` (the claim token of the run that reports
        it; None for a sub-flow's end) is not the node's claim."""

    def sent(self, node_id: str) -> dict[str, Any] | None:
        """A task the flow published and no run finished, when its claim is not live (its
        worker is gone, or it was never claimed): the action to publish again; else None."""

    # --- deadlines ---------------------------------------------------------------------------

    def schedule(self, member: str, after: float) -> None:
        """Make `member` due in `after` seconds (replacing when it was due before)."""

    def unschedule(self, member: str) -> None:
        """`member` happened: it is no longer due."""

    def due(self, limit: int, resend: float, most: float) -> list[Due]:
        """Take up to `limit` overdue members: each is due again `resend` seconds from now,
        doubled for each time it was taken before, up to `most` (in case what the poller sends
        is lost too), until it is unscheduled."""

    def finish(self, flow_id: str, outcome: Mapping[str, Any]) -> None:
        """Record a flow's outcome (status, report, reason) and wake whoever waits for it."""

    def outcome(self, flow_id: str, timeout: float | None) -> dict[str, Any] | None:
        """A flow's outcome, waiting up to `timeout` seconds (None: for ever; 0: no wait)."""

    def retire(self, root: str, seconds: float) -> None:
        """A top-level flow ended: remove it and its sub-flows after `seconds`."""

    def save_exception(self, flow_id: str, node_id: str, record: Mapping[str, Any]) -> None:
        """Keep a failed task's exception (for fallbacks' parent_task_exception())."""

    def exception(self, flow_id: str, node_id: str) -> dict[str, Any] | None:
        """A failed task's exception record."""

    def claim_check(self, flow_id: str, seconds: float, token: str) -> bool:
        """True for the one step that may schedule the flow's next safety-net check (for
        `seconds`, as `token`): a flow has one chain of checks at a time."""

    def release_check(self, flow_id: str, token: str | None) -> bool:
        """The check `token` scheduled has come: release its claim; False when the claim is
        another check's (this one is a stray: it must not schedule the next). None releases
        whatever holds it."""

    def close(self) -> None:
        """Close the store's connections."""


def flow_of(node_id: str) -> str:
    """The id of the flow a node id belongs to (node ids are `<flow id>.<counter>`)."""
    return node_id.rpartition(".")[0]
