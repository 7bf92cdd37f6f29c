"""Wording shared by the checks: how edges and failures are named, lists, where `args` are."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from selinonc.compiler.diagnostics import Diagnostic
from selinonc.compiler.model import Edge, Failure, Flow, Project
from selinonc.compiler.source import Span

Check = Callable[[Project], Iterable[Diagnostic]]


def quoted(names: Iterable[str]) -> str:
    """`'a', 'b'`: names quoted as messages quote them, joined with commas."""
    return ", ".join(repr(name) for name in names)


def arguments(names: Sequence[str]) -> str:
    """`argument 'a'` or `arguments 'a', 'b'`."""
    return ("argument " if len(names) == 1 else "arguments ") + quoted(names)


def edge_label(flow: Flow, edge: Edge) -> str:
    """`edge #N of flow 'name'`, N being the 1-based position in the flow's `edges`."""
    return f"edge #{edge.index + 1} of flow {flow.name!r}"


def failure_label(flow: Flow, failure: Failure) -> str:
    """`failure #N of flow 'name'`, N being the 1-based position in the flow's `failures`."""
    return f"failure #{failure.index + 1} of flow {flow.name!r}"


def starter_label(flow: Flow, starter: Edge | Failure) -> str:
    """`edge_label` or `failure_label`, whichever `starter` is."""
    if isinstance(starter, Edge):
        return edge_label(flow, starter)
    return failure_label(flow, starter)


def args_span(arg_spans: Mapping[str, Span], otherwise: Span) -> Span:
    """Where `args` are written (their first key), for a finding about them as a whole."""
    return min(arg_spans.values(), default=otherwise)
