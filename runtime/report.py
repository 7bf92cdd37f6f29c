"""What a run on the embedded executor did: a record of each node, and the run's report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class NodeRecord:
    """One node of a run, for the live view and the report."""

    id: str
    name: str
    kind: str  # "task" or "flow"
    flow: str  # the name of the flow it belongs to ("" for the top-level flow)
    flow_id: str  # the id of that flow instance ("" for the top-level flow)
    parent: Mapping[str, Any] | None
    status: str = "scheduled"  # scheduled, running, retrying, succeeded, failed
    nowait: bool = False
    fallback: bool = False
    attempts: int = 0
    retries: int = 0
    result: Any = None  # where the result is stored: {"storage", "location"}
    error: str | None = None  # traceback of the last failure
    reason: str | None = None  # why a flow failed
    started: float | None = None
    ended: float | None = None
    due: float | None = None  # when a retrying or throttled node is due to start (run time)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "flow": self.flow,
            "flow_id": self.flow_id,
            "parent": self.parent,
            "status": self.status,
            "nowait": self.nowait,
            "fallback": self.fallback,
            "attempts": self.attempts,
            "retries": self.retries,
            "result": self.result,
            "error": self.error,
            "reason": self.reason,
            "started": self.started,
            "ended": self.ended,
            "due": self.due,
        }


@dataclass(slots=True)
class RunReport:
    """What a run did: the top-level flow's outcome and every node.

    `status` is "succeeded" or "failed" when the flow ended, or why the run stopped before:
    "timeout" (the `timeout`), "node-limit" (the `max_nodes`) or "interrupted" (Ctrl-C).
    """

    flow: str
    id: str
    status: str
    node_args: Any
    nodes: dict[str, NodeRecord]
    flow_report: Mapping[str, Any]
    reason: str | None
    clock: float  # seconds of (virtual or real) time the run took

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "id": self.id,
            "status": self.status,
            "node_args": self.node_args,
            "reason": self.reason,
            "seconds": round(self.clock, 6),
            "finished_nodes": self.flow_report.get("finished_nodes", {}),
            "failed_nodes": self.flow_report.get("failed_nodes", {}),
            "nodes": [n.to_json() for n in self.nodes.values()],
        }


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; `report` says what ran until then (the nodes running at that
    moment stay "running")."""

    def __init__(self, report: RunReport) -> None:
        super().__init__("the run was interrupted")
        self.report = report
