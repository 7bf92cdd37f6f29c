"""The state of one flow instance: a JSON-ready value the scheduling core updates step by step.

A step changes only what its event touches, so its cost does not grow with the flow. Changes go
through the methods below, which keep two journals while a step runs:

- an undo journal: a step that raises (a storage error while a condition reads a result, say) is
  rolled back whole, so the state is as it was and the step can be retried without starting
  anything twice;
- a redo log (`ops`): the step's changes as small JSON values. A driver that keeps states in a
  shared store saves these instead of the whole state, and `apply_ops` replays them on a copy,
  so a step costs what it changed, not the size of the state.

Edges are named by their stable content-derived id (`Edge.id`), never by position. Sub-flows'
reports are not copied in: the core asks the driver for them when a propagate_* option needs one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

NEW, RUNNING, RETRYING, SUCCEEDED, FAILED = "new", "running", "retrying", "succeeded", "failed"
# The JSON format of a state (`to_json`): bumped when it changes incompatibly.
STATE_FORMAT = 2


class StateFormatError(ValueError):
    """A stored state is in a format this runtime does not read."""


# What a flow retry forgets: everything about the nodes of the abandoned attempt.
_PER_ATTEMPT = (
    "active",
    "finished",
    "failed",
    "handled",
    "nowait",
    "waiting",
    "ready",
    "triggered",
    "previous_retry",
)
_TABLES = ("finished", "failed", "handled", "nowait")
_EDGE_SETS = ("waiting", "triggered")
_SCALARS = ("status", "node_args", "retried", "previous_retry", "counter")


@dataclass(slots=True, eq=False)
class FlowState:
    """One flow instance: its arguments, its nodes by state, its edges and retries."""

    flow: str
    id: str
    node_args: Any = None
    parent: dict[str, Any] | None = None  # what the flow's starting tasks get as parent
    status: str = NEW
    retried: int = 0
    counter: int = 0  # node ids are `<flow id>.<counter>`: unique, and the same on a replay
    active: dict[str, str] = field(default_factory=dict)  # node id -> name (nowait excluded)
    finished: dict[str, list[str]] = field(default_factory=dict)  # name -> ids, in order
    failed: dict[str, list[str]] = field(default_factory=dict)  # unhandled failures
    handled: dict[str, list[str]] = field(default_factory=dict)  # failures fallbacks handled
    nowait: dict[str, list[str]] = field(default_factory=dict)  # started, never tracked
    waiting: set[str] = field(default_factory=set)  # ids of edges registered as waiting
    # edge id -> how many of its sources have finished at least once (so a step checks
    # whether an edge is complete in constant time, however many sources it has)
    ready: dict[str, int] = field(default_factory=dict)
    triggered: set[str] = field(default_factory=set)  # ids of edges that fired at least once
    previous_retry: float | None = None  # the sampling strategy's last answer
    selective: dict[str, Any] | None = None  # a selective run's tasks and edges (selective.py)
    _journal: list[Callable[[], object]] | None = field(default=None, repr=False)
    # With `recording`, every change is also kept in `ops` as JSON (see `apply_ops`) until a
    # driver takes them; the embedded executor does not record.
    recording: bool = field(default=False, repr=False)
    ops: list[list[Any]] = field(default_factory=list, repr=False)

    # --- steps ---------------------------------------------------------------------------

    @contextmanager
    def step(self) -> Iterator[None]:
        """Run a step: on an exception, undo every change it made, then re-raise.

        With `recording`, the step's changes are added to `ops` (none after an exception), for
        drivers that save changes rather than states.
        """
        self._journal = []
        mark = len(self.ops)
        try:
            yield
        except BaseException:
            for undo in reversed(self._journal):
                undo()
            del self.ops[mark:]
            raise
        finally:
            self._journal = None

    def _record(self, undo: Callable[[], object], op: list[Any]) -> None:
        if self._journal is not None:
            self._journal.append(undo)
        if self.recording:
            self.ops.append(op)

    def take_ops(self) -> list[list[Any]]:
        """The changes recorded since the last call, as JSON for `apply_ops`."""
        ops, self.ops = self.ops, []
        return ops

    def apply_ops(self, ops: list[list[Any]]) -> None:
        """Replay changes `take_ops` gave (on a state as it was before them)."""
        for op in ops:
            kind, args = op[0], op[1:]
            if kind == "put" and args[0] in _SCALARS:
                setattr(self, args[0], args[1])
            elif kind == "activate":
                self.active[args[0]] = args[1]
            elif kind == "deactivate":
                self.active.pop(args[0])
            elif kind == "append" and args[0] in _TABLES:
                getattr(self, args[0]).setdefault(args[1], []).append(args[2])
            elif kind == "pop_failed":
                self._take_failed(args[0])
            elif kind == "add" and args[0] in _EDGE_SETS:
                getattr(self, args[0]).add(args[1])
            elif kind == "bump":
                self.ready[args[0]] = self.ready.get(args[0], 0) + 1
            elif kind == "restart":
                self._forget()
            else:
                raise StateFormatError(f"flow {self.id}: unknown change {op!r} in its journal")
        self.ops = []

    def put(self, name: str, value: Any) -> None:
        """Set a scalar field (status, node_args, retried, previous_retry, counter).

        While recording, the value is kept as JSON gives it back (a tuple becomes a list, an
        integer key a string), so a state replayed from the journal equals this one; a value
        JSON cannot hold raises TypeError or ValueError (the core fails the flow for it).
        """
        if self.recording:
            value = json.loads(json.dumps(value))
        old = getattr(self, name)
        setattr(self, name, value)
        self._record(lambda: setattr(self, name, old), ["put", name, value])

    def new_id(self) -> str:
        """A fresh node id."""
        self.put("counter", self.counter + 1)
        return f"{self.id}.{self.counter}"

    def activate(self, node_id: str, name: str) -> None:
        self.active[node_id] = name
        self._record(lambda: self.active.pop(node_id), ["activate", node_id, name])

    def deactivate(self, node_id: str) -> str:
        name = self.active.pop(node_id)
        self._record(lambda: self.active.__setitem__(node_id, name), ["deactivate", node_id])
        return name

    def append(self, table_name: str, name: str, node_id: str) -> None:
        """Append `node_id` to table `table_name` (finished, failed, handled or nowait)."""
        table: dict[str, list[str]] = getattr(self, table_name)
        table.setdefault(name, []).append(node_id)

        def undo() -> None:
            # Looked up again: a later change of this step may have replaced the list.
            ids = table[name]
            ids.pop()
            if not ids:
                del table[name]

        self._record(undo, ["append", table_name, name, node_id])

    def _take_failed(self, name: str) -> str:
        ids = self.failed[name]
        node_id = ids.pop(0)
        if not ids:
            del self.failed[name]
        self.handled.setdefault(name, []).append(node_id)
        return node_id

    def pop_failed(self, name: str) -> str:
        """Take the oldest unhandled failure of `name` (a fallback handles it)."""
        node_id = self._take_failed(name)

        def undo() -> None:
            handled = self.handled[name]
            handled.pop()
            if not handled:
                del self.handled[name]
            self.failed.setdefault(name, []).insert(0, node_id)

        self._record(undo, ["pop_failed", name])
        return node_id

    def add(self, set_name: str, edge_id: str) -> None:
        """Add an edge id to `waiting` or `triggered`."""
        edges: set[str] = getattr(self, set_name)
        if edge_id not in edges:
            edges.add(edge_id)
            self._record(lambda: edges.discard(edge_id), ["add", set_name, edge_id])

    def bump(self, edge_id: str) -> None:
        """One more source of edge `edge_id` has finished for the first time."""
        old = self.ready.get(edge_id)
        self.ready[edge_id] = (old or 0) + 1

        def undo() -> None:
            if old is None:
                del self.ready[edge_id]
            else:
                self.ready[edge_id] = old

        self._record(undo, ["bump", edge_id])

    def _forget(self) -> dict[str, Any]:
        saved = {name: getattr(self, name) for name in _PER_ATTEMPT}
        for name, value in saved.items():
            setattr(self, name, type(value)() if isinstance(value, dict | set) else None)
        return saved

    def restart(self) -> None:
        """Forget every node for a flow retry (ids keep counting, so none is reused)."""
        saved = self._forget()

        def undo() -> None:
            for name, value in saved.items():
                setattr(self, name, value)

        self._record(undo, ["restart"])

    # --- reports and JSON ------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """What the flow ran: finished, failed (unhandled), handled failures, still active
        nodes and nowait nodes. A sub-flow is a node here; its own report is its own."""
        return {
            "flow": self.flow,
            "id": self.id,
            "status": self.status,
            "finished_nodes": {k: list(v) for k, v in self.finished.items()},
            "failed_nodes": {k: list(v) for k, v in self.failed.items()},
            "handled_failures": {k: list(v) for k, v in self.handled.items()},
            "active_nodes": [{"name": n, "id": i} for i, n in self.active.items()],
            "nowait_nodes": {k: list(v) for k, v in self.nowait.items()},
        }

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-ready data (sets become sorted lists)."""
        return {
            "format": STATE_FORMAT,
            "flow": self.flow,
            "id": self.id,
            "node_args": self.node_args,
            "parent": self.parent,
            "status": self.status,
            "retried": self.retried,
            "counter": self.counter,
            "active": dict(self.active),
            "finished": {k: list(v) for k, v in self.finished.items()},
            "failed": {k: list(v) for k, v in self.failed.items()},
            "handled": {k: list(v) for k, v in self.handled.items()},
            "nowait": {k: list(v) for k, v in self.nowait.items()},
            "waiting": sorted(self.waiting),
            "ready": dict(sorted(self.ready.items())),
            "triggered": sorted(self.triggered),
            "previous_retry": self.previous_retry,
            "selective": self.selective,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowState:
        """The state `to_json` gave.

        Raises:
            StateFormatError: for a state written in another format.
        """
        if data.get("format") != STATE_FORMAT:
            raise StateFormatError(
                f"flow {data.get('id')!r} was saved in state format {data.get('format')!r}; "
                f"this runtime reads format {STATE_FORMAT}: finish such flows with the runtime "
                "that started them"
            )
        return cls(
            flow=data["flow"],
            id=data["id"],
            node_args=data.get("node_args"),
            parent=data.get("parent"),
            status=data.get("status", NEW),
            retried=data.get("retried", 0),
            counter=data.get("counter", 0),
            active=dict(data.get("active", {})),
            finished={k: list(v) for k, v in data.get("finished", {}).items()},
            failed={k: list(v) for k, v in data.get("failed", {}).items()},
            handled={k: list(v) for k, v in data.get("handled", {}).items()},
            nowait={k: list(v) for k, v in data.get("nowait", {}).items()},
            waiting=set(data.get("waiting", [])),
            ready=dict(data.get("ready", {})),
            triggered=set(data.get("triggered", [])),
            previous_retry=data.get("previous_retry"),
            selective=data.get("selective"),
        )
