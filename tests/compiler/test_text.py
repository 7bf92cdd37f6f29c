"""Unit tests for compiler/checks/_text.py: shared wording of the checks."""

from __future__ import annotations

from selinonc.compiler.build import build
from selinonc.compiler.checks._text import (
    args_span,
    arguments,
    edge_label,
    failure_label,
    quoted,
    starter_label,
)
from selinonc.compiler.classify import classify
from selinonc.compiler.diagnostics import join_or
from selinonc.compiler.load import load_text
from selinonc.compiler.model import Flow
from selinonc.compiler.source import SourceFile, Span

SPAN = Span("flows.yaml", 1, 1)
TEXT = """
tasks: [{name: A, import: m}, {name: B, import: m}]
flows: [main]
flow-definitions:
  - name: main
    edges: [{from: null, to: A}, {from: A, to: B}]
    failures: [{nodes: A, fallback: B}]
"""


def main_flow() -> Flow:
    doc, problems = load_text(SourceFile("flows.yaml", TEXT))
    assert doc is not None and not problems
    inputs, problems = classify([doc])
    assert inputs is not None and not problems
    flow = build(inputs.nodes, inputs.flows, ["flows.yaml"]).flow("main")
    assert flow is not None
    return flow


def test_join_or() -> None:
    assert join_or([]) == ""
    assert join_or(["a"]) == "a"
    assert join_or(iter(["a", "b"])) == "a or b"
    assert join_or(["a", "b", "c"]) == "a, b or c"


def test_quoted_and_arguments() -> None:
    assert quoted(["a", "b"]) == "'a', 'b'"
    assert arguments(["step"]) == "argument 'step'"
    assert arguments(["a", "b"]) == "arguments 'a', 'b'"


def test_edges_and_failures_are_numbered_from_one() -> None:
    flow = main_flow()
    edge, failure = flow.edges[1], flow.failures[0]
    assert edge_label(flow, edge) == starter_label(flow, edge) == "edge #2 of flow 'main'"
    assert failure_label(flow, failure) == "failure #1 of flow 'main'"
    assert starter_label(flow, failure) == "failure #1 of flow 'main'"


def test_args_span_is_the_first_key_written_or_the_fallback() -> None:
    later, first = Span("flows.yaml", 9, 3), Span("flows.yaml", 8, 5)
    assert args_span({"b": later, "a": first}, SPAN) == first
    assert args_span({}, SPAN) == SPAN
