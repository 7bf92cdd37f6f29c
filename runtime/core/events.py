"""What the scheduling core receives (events) and what it asks drivers to do (actions).

All are frozen values made of JSON-ready data, so a driver can put them in messages as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """Start the flow: fire its starting edges (a flow retry starts again on `Timer`)."""


@dataclass(frozen=True, slots=True)
class NodeFinished:
    """Node `node_id` succeeded (a sub-flow's report is read by reference when needed)."""

    node_id: str


@dataclass(frozen=True, slots=True)
class NodeFailed:
    """Node `node_id` failed (after its own retries)."""

    node_id: str


@dataclass(frozen=True, slots=True)
class Timer:
    """A wake-up the core asked for with `WakeUp`; `retried` says which flow retry it wakes
    (a late duplicate of an earlier one's is ignored), None: whichever is waiting."""

    retried: int | None = None


Event = Start | NodeFinished | NodeFailed | Timer

# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartTask:
    """Run task `name` as node `node_id` with these arguments."""

    node_id: str
    name: str
    node_args: Any
    parent: Mapping[str, Any]
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class StartFlow:
    """Run sub-flow `name` as node `node_id`; its own starting tasks get `parent`."""

    node_id: str
    name: str
    node_args: Any
    parent: Mapping[str, Any] | None
    fallback: bool = False
    selective: Mapping[str, Any] | None = None  # a selective run (core/selective.py)


@dataclass(frozen=True, slots=True)
class FlowFinished:
    """The flow succeeded; `report` says what ran (see `FlowReport`)."""

    report: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FlowFailed:
    """The flow failed for good (no flow retry left); `report` holds its real state."""

    report: Mapping[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class WakeUp:
    """Send the flow a `Timer` event after `after` seconds (a flow retry's countdown)."""

    after: float


@dataclass(frozen=True, slots=True)
class Recheck:
    """The sampling strategy's delay: a polling driver looks at the flow again after it."""

    after: float


@dataclass(frozen=True, slots=True)
class Trace:
    """A trace event (the predecessor's names, e.g. EDGE_COND_FALSE) with its details."""

    event: str
    details: Mapping[str, Any] = field(default_factory=dict)


Action = StartTask | StartFlow | FlowFinished | FlowFailed | WakeUp | Recheck | Trace
