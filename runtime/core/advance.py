"""The scheduling core: `advance(system, state, event, read, reports) -> (state, actions)`.

It holds the dispatcher semantics of the predecessor (selinon-reference.md §4, with the changes
of decisions.md) and does no I/O: drivers run the actions it returns and feed it events. Task
results are read through `read(flow, task, id)` only when a condition or foreach asks for them,
and finished sub-flows' reports through `reports(node_id)` only when a propagate_* option
passes their nodes on.

A step costs what its event touches: the edges of the node that finished (and the combinations
of finished instances that complete them), not the size of the flow.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from selinonc.runtime import strategies
from selinonc.runtime.core import selective
from selinonc.runtime.core.events import (
    Action,
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
from selinonc.runtime.core.propagation import subflow_tree
from selinonc.runtime.core.state import FAILED, NEW, RETRYING, RUNNING, SUCCEEDED, FlowState
from selinonc.runtime.errors import StorageError
from selinonc.runtime.tables import Edge, Failure, Flow, System, covers

# read(flow_name, task_name, task_id) -> the task's stored result
ResultReader = Callable[[str, str, str], Any]
# reports(sub-flow node id) -> the report of the sub-flow that ran as that node, or None
ReportReader = Callable[[str], Mapping[str, Any] | None]
_NO_ITEM = object()


class Results:
    """The results a condition or foreach may read: those of the firing combination's tasks."""

    __slots__ = ("_flow", "_ids", "_read")

    def __init__(self, read: ResultReader, flow: str, ids: Mapping[str, str]) -> None:
        self._read, self._flow, self._ids = read, flow, ids

    def get(self, node_name: str) -> Any:
        """The stored result of source task `node_name` (None when it is not a source)."""
        node_id = self._ids.get(node_name)
        return None if node_id is None else self._read(self._flow, node_name, node_id)


def _no_reports(node_id: str) -> Mapping[str, Any] | None:
    return None


def advance(
    system: System,
    state: FlowState,
    event: Event,
    read: ResultReader,
    reports: ReportReader = _no_reports,
) -> tuple[FlowState, list[Action]]:
    """Apply one event to a flow's state.

    Args:
        system: the compiled system (a generated package's SYSTEM).
        state: the flow instance's state; updated in place and returned.
        event: what happened.
        read: reads a task result from its storage.
        reports: reads a finished sub-flow's report (by its node id), only when a
            propagate_* option passes its nodes on; the state keeps no copy of it.

    Returns:
        The state and the actions for the driver, in order.

    Raises:
        StorageError: a result could not be read; the state is unchanged, so the step can be
            retried whole (decisions.md, runtime 5).
    """
    step = _Step(system, state, read, reports)
    try:
        with state.step():
            step.run(event)
    except StorageError:
        raise
    except Exception as exc:  # a predicate, foreach or strategy raised: the flow fails at once
        step = _Step(system, state, read, reports)
        with state.step():
            step.dispatcher_failure(exc)
    return state, step.actions


class _ActiveView(Sequence[dict[str, str]]):
    """`status["active_nodes"]` for strategies, built only if a strategy reads it."""

    def __init__(self, active: Mapping[str, str]) -> None:
        self._active = active
        self._items: list[dict[str, str]] | None = None

    def __len__(self) -> int:
        return len(self._active)

    def __getitem__(self, index: Any) -> Any:
        if self._items is None:
            self._items = [{"name": n, "id": i} for i, n in self._active.items()]
        return self._items[index]


class _Step:
    """One step: the flow, its state, what the step started, the actions so far."""

    def __init__(
        self, system: System, state: FlowState, read: ResultReader, reports: ReportReader
    ) -> None:
        self.system = system
        self.flow: Flow = system.flow(state.flow)
        self.state = state
        self.read = read
        self.reports = reports
        self.actions: list[Action] = []
        self.new_started: list[str] = []
        self.new_fallback: list[str] = []
        self.nowait_fallback_started = False
        self.reused: list[tuple[str, str]] = []  # tasks a selective run reuses: (name, id)

    def trace(self, event: str, **details: Any) -> None:
        self.actions.append(
            Trace(event, {"flow_name": self.flow.name, "flow_id": self.state.id, **details})
        )

    # --- the event ---------------------------------------------------------------------------

    def run(self, event: Event) -> None:
        state = self.state
        if isinstance(event, Start | Timer):
            waking = isinstance(event, Timer) and event.retried in (None, state.retried)
            if not (state.status == NEW or (state.status == RETRYING and waking)):
                return  # a duplicate start, or a wake-up nothing waits for
            state.put("status", RUNNING)
            self.trace("FLOW_START", retried_count=state.retried)
            self.start()
        elif state.status != RUNNING or event.node_id not in state.active:
            return  # a duplicate, or a node of an attempt a flow retry abandoned
        elif isinstance(event, NodeFinished):
            name = state.deactivate(event.node_id)
            self.trace("NODE_SUCCESSFUL", node_name=name, node_id=event.node_id)
            self.finished(name, event.node_id)
        elif isinstance(event, NodeFailed):
            name = state.deactivate(event.node_id)
            self.node_failed(name, event.node_id)
        while self.reused and state.status == RUNNING:  # as if they had just finished
            self.finished(*self.reused.pop(0))
        if state.status == RUNNING:
            self.settle()

    def start(self) -> None:
        """Fire every starting edge whose condition holds; their nodes get the flow's parent."""
        parent = dict(self.state.parent or {})
        for edge in self.flow.starting_edges:
            self.consider(edge, {}, parent)

    def finished(self, name: str, node_id: str) -> None:
        """Fire the edges that `node_id` completes, once per combination, then record it."""
        state, flow = self.state, self.flow
        if flow.node_args_from_first and not state.finished and not state.active:
            state.put("node_args", self.read(flow.name, name, node_id))
        first = name not in state.finished
        for edge in flow.edges_from.get(name, ()):
            state.add("waiting", edge.id)
            if first:
                state.bump(edge.id)
            if state.ready[edge.id] < len(edge.distinct_sources):
                continue  # a source has not finished yet: the last one to finish fires the edge
            others = [s for s in edge.distinct_sources if s != name]
            for combination in itertools.product(*(state.finished[s] for s in others)):
                ids = {name: node_id, **dict(zip(others, combination, strict=True))}
                self.consider(edge, ids, self.parent_map(ids))
        state.append("finished", name, node_id)

    def node_failed(self, name: str, node_id: str) -> None:
        self.state.append("failed", name, node_id)
        self.trace("NODE_FAILURE", node_name=name, node_id=node_id)
        if self.flow.is_eager_failure(name):
            self.trace("EAGER_FAILURE", node_name=name, node_id=node_id)
            self.fail(f"node {name!r} ({node_id}) failed and is an eager failure")

    # --- edges ---------------------------------------------------------------------------

    def task_ids(self, ids: Mapping[str, str]) -> dict[str, str]:
        return {n: i for n, i in ids.items() if not self.system.is_flow(n)}

    def selected(self, edge: Edge) -> tuple[str, ...] | None:
        """In a selective run, the destinations of `edge` to start (None: all of them)."""
        selective = self.state.selective
        if selective is None or self.flow.name not in selective["subsets"]:
            return None
        return tuple(selective["subsets"][self.flow.name].get(edge.id, ()))

    def consider(self, edge: Edge, ids: Mapping[str, str], parent: dict[str, Any]) -> None:
        """Evaluate an edge's condition for one combination (exactly once) and fire it."""
        selected = self.selected(edge)
        if selected is not None and not selected:
            self.trace("SELECTIVE_OMIT_EDGE", edge=edge.index)
            return
        results = Results(self.read, self.flow.name, self.task_ids(ids))
        node_args = self.state.node_args
        if edge.condition is not None and not edge.condition(results, node_args):
            self.trace(
                "EDGE_COND_FALSE", edge=edge.index, condition=edge.condition_text, nodes=dict(ids)
            )
            return
        self.state.add("triggered", edge.id)
        targets = edge.targets
        if selected is not None:
            for omitted in dict.fromkeys(t for t in targets if t not in selected):
                self.trace("SELECTIVE_OMIT_NODE", edge=edge.index, node_name=omitted)
            targets = tuple(t for t in targets if t in selected)
        if edge.foreach is None:
            for target in targets:
                self.start_node(target, parent, edge=edge, results=results)
            return
        items = edge.foreach.function(results, node_args)
        self.trace(
            "FOREACH_RESULT", edge=edge.index, foreach=edge.foreach.text, result=_shown(items)
        )
        for item in items or ():
            for target in targets:
                carried = item if edge.foreach.propagate_result else _NO_ITEM
                self.start_node(target, parent, item=carried, edge=edge, results=results)

    def parent_map(self, ids: Mapping[str, str]) -> dict[str, Any]:
        """A started node's `parent`: source task ids, and finished sub-flows' nodes when the
        flow propagates them (propagate_finished nested, propagate_compound_finished flat)."""
        parent: dict[str, Any] = {}
        for name, node_id in ids.items():
            if not self.system.is_flow(name):
                parent[name] = node_id
            elif covers(self.flow.propagate_finished, name):
                parent[name] = self.tree(node_id, "finished_nodes", compound=False)
            elif covers(self.flow.propagate_compound_finished, name):
                parent[name] = self.tree(node_id, "finished_nodes", compound=True)
        return parent

    def tree(self, node_id: str, key: str, *, compound: bool) -> dict[str, Any]:
        return subflow_tree(node_id, key, self.system.is_flow, self.reports, compound=compound)

    def start_node(
        self,
        name: str,
        parent: dict[str, Any],
        *,
        item: Any = _NO_ITEM,
        fallback: bool = False,
        edge: Edge | None = None,
        results: Results | None = None,
    ) -> str | None:
        state, flow = self.state, self.flow
        if not fallback and self.reuses(name, results):
            return None
        node_id = state.new_id()
        if self.system.is_flow(name):
            if item is not _NO_ITEM:
                node_args = item
            else:
                node_args = state.node_args if covers(flow.propagate_node_args, name) else None
            option = flow.propagate_parent_failures if fallback else flow.propagate_parent
            sub_parent = parent if covers(option, name) else None
            selective = self.sub_selective(name, edge)
            self.actions.append(
                StartFlow(node_id, name, node_args, sub_parent, fallback, selective)
            )
            self.trace("SUBFLOW_SCHEDULE", node_name=name, node_id=node_id, fallback=fallback)
        else:
            self.actions.append(StartTask(node_id, name, state.node_args, parent, fallback))
            self.trace("TASK_SCHEDULE", node_name=name, node_id=node_id, fallback=fallback)
        if name in flow.nowait:
            state.append("nowait", name, node_id)
        else:
            state.activate(node_id, name)
            for edge in flow.edges_from.get(name, ()):
                state.add("waiting", edge.id)
        (self.new_fallback if fallback else self.new_started).append(node_id)
        return node_id

    def reuses(self, name: str, results: Results | None) -> bool:
        """In a selective run, ask a task that is not wanted whether an earlier result will do:
        its selective run function returns the id of a task to reuse, or None to run it."""
        selective = self.state.selective
        if selective is None or self.system.is_flow(name) or name in selective["task_names"]:
            return False
        function = self.system.task(name).selective_run_function
        if function is None:
            return False
        self.trace("SELECTIVE_RUN_FUNC", node_name=name)
        reused = function(
            self.flow.name,
            name,
            self.state.node_args,
            list(selective["task_names"]),
            results or Results(self.read, self.flow.name, {}),
        )
        if reused is None:
            return False
        self.trace("SELECTIVE_TASK_REUSE", node_name=name, task_id=reused)
        self.reused.append((name, str(reused)))
        return True

    def sub_selective(self, name: str, edge: Edge | None) -> dict[str, Any] | None:
        """A sub-flow's selective run: its edge's own, else the one it is part of, if any."""
        if edge is not None and edge.selective is not None:
            sel = edge.selective
            return selective.compute(
                self.system,
                name,
                sel.task_names,
                follow_subflows=sel.follow_subflows,
                run_subsequent=sel.run_subsequent,
            )
        current = self.state.selective
        if current is not None and name in current["subsets"]:
            return current
        return None

    # --- the end of a step ---------------------------------------------------------------

    def settle(self) -> None:
        """Run fallbacks once nothing is active; finish or fail the flow; ask the strategy."""
        state = self.state
        if not state.active and state.failed:
            self.run_fallbacks()
            if not state.active and state.failed:
                names = ", ".join(sorted(state.failed))
                self.fail(f"nodes failed and no fallback handles them: {names}")
                return
        if not state.active:
            self.succeed()
            return
        status = {
            "previous_retry": state.previous_retry,
            "active_nodes": _ActiveView(state.active),
            "failed_nodes": state.failed,
            "finished_nodes": state.finished,
            "new_started_nodes": self.new_started,
            "new_fallback_nodes": self.new_fallback,
        }
        sampling = self.flow.sampling
        delay = sampling(status) if sampling is not None else strategies.default(status)
        if delay is None or delay < 0:
            self.trace("FLOW_END", reason="the sampling strategy ended the flow")
            self.succeed()
            return
        state.put("previous_retry", delay)
        self.actions.append(Recheck(delay))

    def run_fallbacks(self) -> None:
        """Handle failures greedily: the largest set of failed nodes that has a fallback first,
        equal sizes in lexicographic order; several disjoint fallbacks may start."""
        state = self.state
        failed = set(state.failed)
        # The failure sets of the flow that are all failed now, in the order of the predecessor's
        # walk over combinations (largest first, then lexicographic) without enumerating them.
        present = sorted(
            (nodes for nodes in self.flow.failures_of if nodes <= failed),
            key=lambda nodes: (-len(nodes), sorted(nodes)),
        )
        for nodes in present:
            combination = tuple(sorted(nodes))
            # A combination is skipped once one of its nodes has no unhandled failure left.
            while all(state.failed.get(n) for n in combination):
                if not self.apply_fallbacks(combination, self.flow.failures_of[nodes]):
                    break
                if self.nowait_fallback_started:
                    return  # as the predecessor: a nowait fallback ends this pass

    def apply_fallbacks(self, combination: tuple[str, ...], failures: Iterable[Failure]) -> bool:
        empty = Results(self.read, self.flow.name, {})
        holding = []
        for failure in failures:
            if failure.condition is None or failure.condition(empty, self.state.node_args):
                holding.append(failure)
            else:
                self.trace(
                    "FALLBACK_COND_FALSE", nodes=list(combination), condition=failure.condition_text
                )
        if not holding:
            return False
        handled = {name: self.state.pop_failed(name) for name in combination}
        parent = self.failure_parent(handled)
        for failure in holding:
            self.trace("FALLBACK_COND_TRUE", nodes=list(combination), failure=failure.index)
            if isinstance(failure.fallback, bool):
                continue  # `fallback: true`: handled, nothing to start
            self.trace("FALLBACK_START", nodes=handled, fallback=list(failure.fallback))
            for target in failure.fallback:
                self.start_node(target, parent, fallback=True)
                if target in self.flow.nowait:
                    self.nowait_fallback_started = True
        return True

    def failure_parent(self, handled: Mapping[str, str]) -> dict[str, Any]:
        """A fallback's `parent`: the ids of the failures it handles (decisions.md, runtime 4);
        for a failed sub-flow, its failed nodes with propagate_(compound_)failures (runtime 7)."""
        parent: dict[str, Any] = {}
        for name, node_id in handled.items():
            if self.system.is_flow(name) and covers(self.flow.propagate_failures, name):
                parent[name] = self.tree(node_id, "failed_nodes", compound=False)
            elif self.system.is_flow(name) and covers(self.flow.propagate_compound_failures, name):
                parent[name] = self.tree(node_id, "failed_nodes", compound=True)
            else:
                parent[name] = node_id
        return parent

    def succeed(self) -> None:
        self.state.put("status", SUCCEEDED)
        self.trace("FLOW_END", finished=len(self.state.finished))
        self.actions.append(FlowFinished(self.state.report()))

    def fail(self, reason: str) -> None:
        """The flow failed: retry it from scratch while `max_retry` allows, else fail for good."""
        state, flow = self.state, self.flow
        will_retry = state.retried < flow.max_retry
        self.trace("FLOW_FAILURE", reason=reason, will_retry=will_retry, report=state.report())
        if will_retry:
            state.restart()
            state.put("retried", state.retried + 1)
            state.put("status", RETRYING)
            self.trace("FLOW_RETRY", retried_count=state.retried, countdown=flow.retry_countdown)
            self.actions.append(WakeUp(flow.retry_countdown))
            return
        state.put("status", FAILED)
        self.actions.append(FlowFailed(state.report(), reason))

    def dispatcher_failure(self, exc: Exception) -> None:
        """User code in the dispatcher raised: the flow fails at once, without a flow retry."""
        reason = f"{type(exc).__name__}: {exc}"
        self.trace("DISPATCHER_FAILURE", reason=reason)
        self.state.put("status", FAILED)
        self.actions.append(FlowFailed(self.state.report(), f"dispatcher failure: {reason}"))


def _shown(items: Any) -> Any:
    """A foreach result for a trace: its length when it has one."""
    try:
        return {"items": len(items)}
    except TypeError:
        return {"items": "?"}
