"""SC6xx and SC210: flow options (nowait, eager_failures, propagate_*, selective, failures)."""

from __future__ import annotations

from collections.abc import Iterator

from selinonc.compiler import graph
from selinonc.compiler.checks import _names
from selinonc.compiler.checks._text import Check, edge_label, failure_label
from selinonc.compiler.diagnostics import Diagnostic, Speller
from selinonc.compiler.model import PROPAGATE_OPTIONS, Flow, Project, Ref
from selinonc.compiler.source import Span

# propagate_* options whose entries are nodes the flow waits for (edge or failure sources).
_SOURCE_OPTIONS = ("propagate_finished", "propagate_compound_finished")
_FAILURE_OPTIONS = ("propagate_failures", "propagate_compound_failures")
# Options that cannot both apply to the same sub-flow: (plain, compound).
_DISJOINT = (
    ("propagate_finished", "propagate_compound_finished"),
    ("propagate_failures", "propagate_compound_failures"),
)


def edge_sources(flow: Flow) -> frozenset[str]:
    """Names used in some edge's `from`."""
    return frozenset(ref.name for edge in flow.edges for ref in edge.sources)


def failure_nodes(flow: Flow) -> frozenset[str]:
    """Names some failure waits for (its `nodes`): the nodes that have a fallback."""
    return frozenset(ref.name for failure in flow.failures for ref in failure.nodes)


def sources(flow: Flow) -> frozenset[str]:
    """Nodes the flow waits for: edge sources and failure nodes."""
    return edge_sources(flow) | failure_nodes(flow)


def _listed(flow: Flow, option: str, project: Project) -> list[Ref]:
    """The flows (only known flows, each once) listed in a propagate_* option."""
    refs = graph.first_of_each(flow.propagate[option].names())
    return [ref for ref in refs if project.is_flow(ref.name)]


def _option_span(flow: Flow, option: str) -> Span:
    """Where the option's key is written (the flow's name if it is not written)."""
    return flow.option_spans.get(option, flow.span)


def check_node_args_from_first(project: Project) -> Iterator[Diagnostic]:
    """SC601: `node_args_from_first` needs a single starting edge with a single task."""
    for flow in project.flows:
        if not flow.node_args_from_first:
            continue
        at = _option_span(flow, "node_args_from_first")
        starting = [edge for edge in flow.edges if edge.is_starting]
        hint = "start the flow with one task whose result becomes the flow's arguments"
        if len(starting) > 1:
            numbers = ", ".join(f"#{edge.index + 1}" for edge in starting)
            yield Diagnostic.error(
                "SC601",
                at,
                f"flow {flow.name!r} sets node_args_from_first but has {len(starting)} "
                f"starting edges ({numbers})",
                hint=hint,
            )
        elif len(starting) == 1 and len(starting[0].targets) > 1:
            yield Diagnostic.error(
                "SC601",
                at,
                f"flow {flow.name!r} sets node_args_from_first but its starting edge "
                f"#{starting[0].index + 1} starts {len(starting[0].targets)} nodes",
                hint=hint,
            )
        elif len(starting) == 1 and project.is_flow(first := starting[0].targets[0].name):
            yield Diagnostic.error(
                "SC601",
                at,
                f"flow {flow.name!r} sets node_args_from_first but its first node {first!r} is a "
                "sub-flow, which has no result to take the arguments from",
                hint=hint,
            )


def check_nowait_not_waited_for(project: Project) -> Iterator[Diagnostic]:
    """SC602: nothing may wait for a nowait node (edge source or failure node)."""
    for flow in project.flows:
        nowait = {ref.name for ref in flow.nowait if project.is_node(ref.name)}
        hint = "a nowait node is never tracked; remove it from `nowait` to depend on it"
        for edge in flow.edges:
            for ref in edge.sources:
                if ref.name in nowait:
                    yield Diagnostic.error(
                        "SC602",
                        ref.span,
                        f"{edge_label(flow, edge)} waits for {ref.name!r}, which is marked nowait",
                        hint=hint,
                    )
        for failure in flow.failures:
            for ref in failure.nodes:
                if ref.name in nowait:
                    yield Diagnostic.error(
                        "SC602",
                        ref.span,
                        f"{failure_label(flow, failure)} waits for {ref.name!r}, which is "
                        "marked nowait",
                        hint=hint,
                    )


def check_nowait_started(project: Project) -> Iterator[Diagnostic]:
    """SC603: a nowait node must be started by an edge or a fallback of its flow."""
    for flow in project.flows:
        begun = graph.destinations(flow)
        for ref in graph.first_of_each(flow.nowait):
            if project.is_node(ref.name) and ref.name not in begun:
                yield Diagnostic.error(
                    "SC603",
                    ref.span,
                    f"{ref.name!r} is marked nowait in flow {flow.name!r} but no edge or "
                    "fallback of the flow starts it",
                    hint=f"add an edge to {ref.name!r} or remove it from `nowait`",
                )


def check_eager_failures(project: Project) -> Iterator[Diagnostic]:
    """SC604: an eager-failure node is used in the flow, not nowait, and has no fallback."""
    for flow in project.flows:
        if isinstance(flow.eager_failures, bool):
            continue  # `true` means every node of the flow: nothing to check per node
        used, handled = set(flow.nodes()), failure_nodes(flow)
        nowait = {ref.name for ref in flow.nowait}
        for ref in graph.first_of_each(flow.eager_failures):
            name, where = ref.name, f"in flow {flow.name!r}"
            if not project.is_node(name):
                continue
            if name not in used:
                yield Diagnostic.error(
                    "SC604",
                    ref.span,
                    f"eager-failure node {name!r} is not used {where}",
                    hint=f"remove {name!r} from `eager_failures` or add it to the flow's edges",
                )
                continue
            if name in nowait:
                yield Diagnostic.error(
                    "SC604",
                    ref.span,
                    f"eager-failure node {name!r} is also nowait {where}, so its failure is "
                    "never seen",
                    hint=f"remove {name!r} from `nowait` or from `eager_failures`",
                )
            if name in handled:
                yield Diagnostic.error(
                    "SC604",
                    ref.span,
                    f"eager-failure node {name!r} has a fallback {where}, so its failure "
                    "cannot stop the flow at once",
                    hint=f"remove {name!r} from `eager_failures` or from the failures' `nodes`",
                )


def check_propagate_names(project: Project) -> Iterator[Diagnostic]:
    """SC210: propagate_* options list only flows."""
    flows = Speller(ref.name for ref in project.listed_flows)
    for flow in project.flows:
        for option in PROPAGATE_OPTIONS:
            for ref in flow.propagate[option].names():
                if project.is_flow(ref.name) or _names.is_unlisted_definition(project, ref.name):
                    continue  # an unlisted definition is SC203's
                if project.is_task(ref.name):
                    yield Diagnostic.error(
                        "SC210",
                        ref.span,
                        f"{option} of flow {flow.name!r} names {ref.name!r}, which is a task",
                        hint=f"{option} lists sub-flows only; remove {ref.name!r}",
                    )
                else:
                    yield Diagnostic.error(
                        "SC210",
                        ref.span,
                        f"{option} of flow {flow.name!r} names {ref.name!r}, which is not a flow",
                        hint=flows.did_you_mean(ref.name)
                        or "list only flows named in the `flows` of the nodes file",
                    )


def check_propagate_parent(project: Project) -> Iterator[Diagnostic]:
    """SC605: `propagate_parent` entries are sub-flows the flow starts."""
    for flow in project.flows:
        begun = graph.destinations(flow)
        for ref in _listed(flow, "propagate_parent", project):
            if ref.name not in begun:
                yield Diagnostic.error(
                    "SC605",
                    ref.span,
                    f"propagate_parent of flow {flow.name!r} names {ref.name!r}, but no edge or "
                    f"fallback of the flow starts {ref.name!r}",
                    hint=f"remove {ref.name!r} from propagate_parent or add an edge to it",
                )


def check_propagate_sources(project: Project) -> Iterator[Diagnostic]:
    """SC605: propagate_(compound_)finished/failures entries are nodes the flow waits for."""
    for flow in project.flows:
        waited = sources(flow)
        for option in (*_SOURCE_OPTIONS, *_FAILURE_OPTIONS):
            fix = "a failure for it" if option in _FAILURE_OPTIONS else "an edge from it"
            for ref in _listed(flow, option, project):
                if ref.name not in waited:
                    yield Diagnostic.error(
                        "SC605",
                        ref.span,
                        f"{option} of flow {flow.name!r} names {ref.name!r}, but no edge or "
                        f"failure of the flow waits for {ref.name!r}",
                        hint=f"remove {ref.name!r} from {option} or add {fix}",
                    )


def check_propagate_failures_handled(project: Project) -> Iterator[Diagnostic]:
    """SC607: propagate_(compound_)failures entries have a fallback."""
    for flow in project.flows:
        waited, handled = edge_sources(flow), failure_nodes(flow)
        for option in _FAILURE_OPTIONS:
            for ref in _listed(flow, option, project):
                if ref.name in waited and ref.name not in handled:  # else SC605 reports it
                    yield Diagnostic.error(
                        "SC607",
                        ref.span,
                        f"{option} of flow {flow.name!r} names {ref.name!r}, but no failure of "
                        f"the flow has a fallback for {ref.name!r}",
                        hint=f"add a failure with `nodes: {ref.name}` and a fallback, or "
                        f"remove {ref.name!r} from {option}",
                    )


def check_propagate_disjoint(project: Project) -> Iterator[Diagnostic]:
    """SC606: a sub-flow is in the plain or in the compound option, never in both."""
    for flow in project.flows:
        for plain, compound in _DISJOINT:
            one, two = flow.propagate[plain].value, flow.propagate[compound].value
            hint = f"say for each sub-flow either {plain} or {compound}"
            if one is not False and two is not False and True in (one, two):
                yield Diagnostic.error(
                    "SC606",
                    _option_span(flow, compound),
                    f"flow {flow.name!r} sets both {plain} and {compound}, which exclude each "
                    "other",
                    hint=hint,
                )
            elif not isinstance(one, bool) and not isinstance(two, bool):
                both = {ref.name for ref in one}
                for ref in graph.first_of_each(two):
                    if ref.name in both:
                        yield Diagnostic.error(
                            "SC606",
                            ref.span,
                            f"{ref.name!r} is in both {plain} and {compound} of flow {flow.name!r}",
                            hint=hint,
                        )


def check_propagate_reaches_subflows(project: Project) -> Iterator[Diagnostic]:
    """SC608 (warning): finished nodes propagated along an edge whose sub-flow gets no parent."""
    for flow in project.flows:
        keep = flow.propagate["propagate_parent"]
        for option in _SOURCE_OPTIONS:
            for ref in _listed(flow, option, project):
                for edge in flow.edges:
                    if all(src.name != ref.name for src in edge.sources):
                        continue
                    for dst in graph.first_of_each(edge.targets):
                        if project.is_flow(dst.name) and not keep.covers(dst.name):
                            yield Diagnostic.warning(
                                "SC608",
                                ref.span,
                                f"{option} of flow {flow.name!r} collects the nodes of "
                                f"{ref.name!r}, but edge #{edge.index + 1} starts sub-flow "
                                f"{dst.name!r} without propagate_parent, so {dst.name!r} never "
                                "receives them",
                                hint=f"add {dst.name!r} to propagate_parent, or remove "
                                f"{ref.name!r} from {option}",
                            )


def check_foreach_propagate_result(project: Project) -> Iterator[Diagnostic]:
    """SC609: `foreach.propagate_result` starts only flows, without `propagate_node_args`."""
    for flow in project.flows:
        node_args = flow.propagate["propagate_node_args"]
        for edge in flow.edges:
            if edge.foreach is None or not edge.foreach.propagate_result:
                continue
            where = edge_label(flow, edge)
            for ref in graph.first_of_each(edge.targets):
                if project.is_task(ref.name):
                    yield Diagnostic.error(
                        "SC609",
                        ref.span,
                        f"{where} passes each foreach item to its destinations "
                        f"(propagate_result), but {ref.name!r} is a task",
                        hint="start only sub-flows from this edge, or drop propagate_result",
                    )
                elif project.is_flow(ref.name) and node_args.covers(ref.name):
                    yield Diagnostic.error(
                        "SC609",
                        ref.span,
                        f"{where} passes each foreach item to sub-flow {ref.name!r} as its "
                        "arguments (propagate_result), but propagate_node_args also passes "
                        "the flow's arguments to it",
                        hint=f"leave {ref.name!r} out of propagate_node_args",
                    )


def check_selective_destination(project: Project) -> Iterator[Diagnostic]:
    """SC610: a selective edge starts exactly one node, a sub-flow."""
    for flow in project.flows:
        for edge in flow.edges:
            if edge.selective is None:
                continue
            where = edge_label(flow, edge)
            if len(edge.targets) > 1:
                yield Diagnostic.error(
                    "SC610",
                    edge.targets[1].span,
                    f"{where} is selective but starts {len(edge.targets)} nodes",
                    hint="a selective edge starts exactly one sub-flow; use one edge per flow",
                )
            elif edge.targets and project.is_task(name := edge.targets[0].name):
                yield Diagnostic.error(
                    "SC610",
                    edge.targets[0].span,
                    f"{where} is selective but its destination {name!r} is a task",
                    hint="a selective run needs a sub-flow destination; drop `selective`",
                )


def check_selective_names(project: Project) -> Iterator[Diagnostic]:
    """SC620: selective `tasks` name known nodes; a `run_subsequent` list names flows."""
    nodes = Speller(
        [task.name for task in project.tasks] + [ref.name for ref in project.listed_flows]
    )
    flows = Speller(ref.name for ref in project.listed_flows)
    for flow in project.flows:
        for edge in flow.edges:
            if edge.selective is None:
                continue
            where = f"the selective run of {edge_label(flow, edge)}"
            for ref in edge.selective.tasks:
                if not project.is_node(ref.name) and not _explained(project, ref.name):
                    yield Diagnostic.error(
                        "SC620",
                        ref.span,
                        f"{where} selects {ref.name!r}, which does not exist",
                        hint=nodes.did_you_mean(ref.name) or "name tasks of the sub-flow",
                    )
            subsequent = edge.selective.run_subsequent
            for ref in () if isinstance(subsequent, bool) else subsequent:
                if not project.is_flow(ref.name) and not _explained(project, ref.name):
                    yield Diagnostic.error(
                        "SC620",
                        ref.span,
                        f"run_subsequent of {where} names {ref.name!r}, which is not a flow",
                        hint=flows.did_you_mean(ref.name) or "run_subsequent lists flows",
                    )


def _explained(project: Project, name: str) -> bool:
    """True when the diagnostic of a definition (SC203, or SC205 of a misspelt task) covers
    this use of `name`."""
    misspelt = _names.misspelt_definitions(project)
    return name in misspelt or _names.is_unlisted_definition(project, name)


def check_failure_nodes_distinct(project: Project) -> Iterator[Diagnostic]:
    """SC613: a failure lists each node once, and one node does not fall back to itself."""
    for flow in project.flows:
        for failure in flow.failures:
            where = failure_label(flow, failure)
            seen: set[str] = set()
            for ref in failure.nodes:
                if ref.name in seen:
                    yield Diagnostic.error(
                        "SC613",
                        ref.span,
                        f"{where} lists {ref.name!r} twice in `nodes`",
                        hint="list each node once",
                    )
                seen.add(ref.name)
            fallback = failure.fallback
            if isinstance(fallback, bool) or len(failure.nodes) != 1 or len(fallback) != 1:
                continue
            if fallback[0].name == failure.nodes[0].name:
                yield Diagnostic.error(
                    "SC613",
                    fallback[0].span,
                    f"{where} falls back from {fallback[0].name!r} to itself",
                    hint="a fallback must be another node; use `max_retry` to retry a node",
                )


def check_failure_propagate(project: Project) -> Iterator[Diagnostic]:
    """SC614: `propagate_failure: true` cannot go with `fallback: true`."""
    for flow in project.flows:
        for failure in flow.failures:
            if failure.propagate_failure and failure.fallback is True:
                yield Diagnostic.error(
                    "SC614",
                    failure.span,
                    f"{failure_label(flow, failure)} sets both `propagate_failure: true` and "
                    "`fallback: true`",
                    hint="`fallback: true` starts nothing to propagate the failure to; "
                    "drop propagate_failure or name fallback nodes",
                )


def check_eager_failures_with_failures(project: Project) -> Iterator[Diagnostic]:
    """SC615: with `eager_failures: true` every failure fails the flow, so no fallback runs."""
    for flow in project.flows:
        if flow.eager_failures is not True or not flow.failures:
            continue
        numbers = ", ".join(f"#{failure.index + 1}" for failure in flow.failures)
        noun = "failure" if len(flow.failures) == 1 else "failures"
        yield Diagnostic.error(
            "SC615",
            _option_span(flow, "eager_failures"),
            f"flow {flow.name!r} sets `eager_failures: true`, so any failed node fails the flow "
            f"at once and {noun} {numbers} can never run",
            hint="list in `eager_failures` only the nodes without a fallback, "
            "or remove the failures",
        )


def check_propagate_node_args(project: Project) -> Iterator[Diagnostic]:
    """SC619: `propagate_node_args` entries are sub-flows the flow starts."""
    for flow in project.flows:
        begun = graph.destinations(flow)
        for ref in _listed(flow, "propagate_node_args", project):
            if ref.name not in begun:
                yield Diagnostic.error(
                    "SC619",
                    ref.span,
                    f"propagate_node_args of flow {flow.name!r} names {ref.name!r}, but no edge "
                    f"or fallback of the flow starts {ref.name!r}",
                    hint=f"remove {ref.name!r} from propagate_node_args or add an edge to it",
                )


CHECKS: tuple[Check, ...] = (
    check_propagate_names,
    check_node_args_from_first,
    check_nowait_not_waited_for,
    check_nowait_started,
    check_eager_failures,
    check_propagate_parent,
    check_propagate_sources,
    check_propagate_disjoint,
    check_propagate_failures_handled,
    check_propagate_reaches_subflows,
    check_foreach_propagate_result,
    check_selective_destination,
    check_failure_nodes_distinct,
    check_failure_propagate,
    check_eager_failures_with_failures,
    check_propagate_node_args,
    check_selective_names,
)
