"""What selinonc's Celery messages may hold: each task checks its message before using it.

A message that fails a check is refused: acknowledged, logged with what was wrong and traced,
never retried (it would fail the same way on every worker). `guard.py` refuses what Celery
itself would choke on before a task runs (a body that is not a protocol-2 body, a compressed
or non-JSON one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from selinonc.runtime.errors import SelinoncError

# Flow ids are uuid4 hex; a sub-flow's id is its node id in its parent: `<parent id>.<n>`.
_FLOW_ID = re.compile(r"[0-9a-f]{32}(?:\.[0-9]+)*")
_NODE_ID = re.compile(r"[0-9a-f]{32}(?:\.[0-9]+)+")
_TOKEN = re.compile(r"[0-9a-f]{32}")
_MARK = re.compile(r"(?:[0-9a-f]{32}:[0-9.e+-]+:-?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,200}")
MAX_ID = 400  # characters: deeper sub-flow nesting than any flow needs


class BadMessage(SelinoncError):
    """A message selinonc did not send, or that was damaged on the way."""


def flow_id(value: Any) -> str:
    """A flow id, checked."""
    if not isinstance(value, str) or len(value) > MAX_ID or not _FLOW_ID.fullmatch(value):
        raise BadMessage(f"flow_id is not a flow id: {_show(value)}")
    return value


def node_id(value: Any) -> str:
    """A node id, checked."""
    if not isinstance(value, str) or len(value) > MAX_ID or not _NODE_ID.fullmatch(value):
        raise BadMessage(f"node_id is not a node id: {_show(value)}")
    return value


def dispatcher_event(flow: str, event: Any) -> str:
    """A dispatcher event: start, timer[:<retry>], check:<mark> or
    node-finished|node-failed:<node id>:<claim token>."""
    if not isinstance(event, str) or len(event) > 2 * MAX_ID:
        raise BadMessage(f"event is not a dispatcher event: {_show(event)}")
    kind, _, rest = event.partition(":")
    if kind == "start" and not rest:
        return event
    if kind == "timer" and (rest == "" or rest.isdigit()):
        return event
    if kind == "check" and _MARK.fullmatch(rest):
        return event
    if kind in ("node-finished", "node-failed"):
        node, _, token = rest.partition(":")
        if node_id(node).rpartition(".")[0] != flow:
            raise BadMessage(f"event {_show(event)} names a node of another flow than {flow}")
        if _TOKEN.fullmatch(token):
            return event
    raise BadMessage(f"event is not a dispatcher event: {_show(event)}")


def task_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """A task message's arguments, checked (what runs comes from the flow store, not from
    here: a claim returns the task the flow published)."""
    known = {"flow_id", "flow_name", "node_id", "name", "node_args", "parent", "attempt"}
    known |= {"retried", "claim"}
    unknown = sorted(set(job) - known)
    if unknown:
        raise BadMessage(f"unknown arguments: {', '.join(_show(k) for k in unknown)}")
    flow = flow_id(job.get("flow_id"))
    node = node_id(job.get("node_id"))
    if node.rpartition(".")[0] != flow:
        raise BadMessage(f"node {node} is not a node of flow {flow}")
    for key in ("flow_name", "name"):
        if not isinstance(job.get(key), str) or not _NAME.fullmatch(job[key]):
            raise BadMessage(f"{key} is not a name: {_show(job.get(key))}")
    for key in ("attempt", "retried"):
        value = job.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 31:
            raise BadMessage(f"{key} is not a count: {_show(value)}")
    claim = job.get("claim")
    if claim is not None and (not isinstance(claim, str) or not _TOKEN.fullmatch(claim)):
        raise BadMessage(f"claim is not a claim token: {_show(claim)}")
    return dict(job)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
