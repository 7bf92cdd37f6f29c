"""The state of one flow instance: a JSON-ready value the scheduling core updates step by step.

A step changes only what its event touches, so its cost does not grow with the flow. Changes go
through the methods below, which keep an undo journal while a step runs: a step that raises (a
storage error while a condition reads a result, say) is rolled back whole, so the state is as
it was and the step can be retried without starting anything twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

NEW, RUNNING, RETRYING, SUCCEEDED, FAILED = "new", "running", "retrying", "succeeded", "failed"
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
    "reports",
    "previous_retry",
)


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
    waiting: set[int] = field(default_factory=set)  # edges registered as waiting
    # edge index -> how many of its sources have finished at least once (so a step checks
    # whether an edge is complete in constant time, however many sources it has)
    ready: dict[int, int] = field(default_factory=dict)
    triggered: set[int] = field(default_factory=set)  # edges that fired at least once
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)  # sub-flow id -> report
    previous_retry: float | None = None  # the sampling strategy's last answer
    selective: dict[str, Any] | None = None  # a selective run's tasks and edges (selective.py)
    _journal: list[Callable[[], object]] | None = field(default=None, repr=False)

    # --- steps ---------------------------------------------------------------------------

    @contextmanager
    def step(self) -> Iterator[None]:
        """Run a step: on an exception, undo every change it made, then re-raise."""
        self._journal = []
        try:
            yield
        except BaseException:
            for undo in reversed(self._journal):
                undo()
            raise
        finally:
            self._journal = None

    def _record(self, undo: Callable[[], object]) -> None:
        if self._journal is not None:
            self._journal.append(undo)

    def put(self, name: str, value: Any) -> None:
        """Set a scalar field (status, node_args, retried, previous_retry)."""
        old = getattr(self, name)
        setattr(self, name, value)
        self._record(lambda: setattr(self, name, old))

    def new_id(self) -> str:
        """A fresh node id."""
        self.put("counter", self.counter + 1)
        return f"{self.id}.{self.counter}"

    def activate(self, node_id: str, name: str) -> None:
        self.active[node_id] = name
        self._record(lambda: self.active.pop(node_id))

    def deactivate(self, node_id: str) -> str:
        name = self.active.pop(node_id)
        self._record(lambda: self.active.__setitem__(node_id, name))
        return name

    def append(self, table: dict[str, list[str]], name: str, node_id: str) -> None:
        """Append `node_id` to `table[name]` (finished, failed, handled or nowait)."""
        table.setdefault(name, []).append(node_id)

        def undo() -> None:
            # Looked up again: a later change of this step may have replaced the list.
            ids = table[name]
            ids.pop()
            if not ids:
                del table[name]

        self._record(undo)

    def pop_failed(self, name: str) -> str:
        """Take the oldest unhandled failure of `name` (a fallback handles it)."""
        ids = self.failed[name]
        node_id = ids.pop(0)
        if not ids:
            del self.failed[name]

        def undo() -> None:
            self.failed.setdefault(name, []).insert(0, node_id)

        self._record(undo)
        self.append(self.handled, name, node_id)
        return node_id

    def add(self, edges: set[int], index: int) -> None:
        """Add an edge index to `waiting` or `triggered`."""
        if index not in edges:
            edges.add(index)
            self._record(lambda: edges.discard(index))

    def bump(self, index: int) -> None:
        """One more source of edge `index` has finished for the first time."""
        old = self.ready.get(index)
        self.ready[index] = (old or 0) + 1

        def undo() -> None:
            if old is None:
                del self.ready[index]
            else:
                self.ready[index] = old

        self._record(undo)

    def set_report(self, node_id: str, report: dict[str, Any]) -> None:
        self.reports[node_id] = report
        self._record(lambda: self.reports.pop(node_id))

    def restart(self) -> None:
        """Forget every node for a flow retry (ids keep counting, so none is reused)."""
        saved = {name: getattr(self, name) for name in _PER_ATTEMPT}
        for name, value in saved.items():
            setattr(self, name, type(value)() if isinstance(value, dict | set) else None)

        def undo() -> None:
            for name, value in saved.items():
                setattr(self, name, value)

        self._record(undo)

    # --- reports and JSON ------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        """What the flow ran: finished, failed (unhandled), handled failures, still active
        nodes, nowait nodes, and the reports of its sub-flows (for propagate_*)."""
        return {
            "flow": self.flow,
            "id": self.id,
            "status": self.status,
            "finished_nodes": {k: list(v) for k, v in self.finished.items()},
            "failed_nodes": {k: list(v) for k, v in self.failed.items()},
            "handled_failures": {k: list(v) for k, v in self.handled.items()},
            "active_nodes": [{"name": n, "id": i} for i, n in self.active.items()],
            "nowait_nodes": {k: list(v) for k, v in self.nowait.items()},
            "subflows": dict(self.reports),
        }

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-ready data (sets become sorted lists)."""
        return {
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
            "ready": {str(k): v for k, v in sorted(self.ready.items())},
            "triggered": sorted(self.triggered),
            "reports": dict(self.reports),
            "previous_retry": self.previous_retry,
            "selective": self.selective,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowState:
        """The state `to_json` gave."""
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
            ready={int(k): v for k, v in data.get("ready", {}).items()},
            triggered=set(data.get("triggered", [])),
            reports=dict(data.get("reports", {})),
            previous_retry=data.get("previous_retry"),
            selective=data.get("selective"),
        )
