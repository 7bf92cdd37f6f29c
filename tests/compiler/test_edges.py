"""Edge checks (SC3xx): cases the golden files do not pin."""

from __future__ import annotations

import textwrap

from selinonc.compiler.build import build
from selinonc.compiler.checks import edges
from selinonc.compiler.classify import classify
from selinonc.compiler.load import load_text
from selinonc.compiler.source import SourceFile

HEAD = """
tasks:
  - {name: A, import: m}
  - {name: B, import: m}
  - {name: C, import: m}
flows: [f, sub]
flow-definitions:
  - name: sub
    edges:
      - {from: null, to: A}
"""


def findings(flow: str) -> list[tuple[str, int, int]]:
    """(code, line, column) of every finding of the edge checks, in order."""
    text = textwrap.dedent(HEAD).lstrip() + textwrap.indent(textwrap.dedent(flow).lstrip(), "  ")
    doc, problems = load_text(SourceFile("flows.yaml", text))
    assert doc is not None and not problems
    inputs, problems = classify([doc])
    assert inputs is not None and not problems
    project = build(inputs.nodes, inputs.flows, ["flows.yaml"])
    return [(d.code, d.span.line, d.span.col) for check in edges.CHECKS for d in check(project)]


def test_an_unstarted_node_is_reported_once_where_the_file_first_waits_for_it() -> None:
    assert findings("""
        - name: f
          failures:
            - {nodes: [C, sub], fallback: B}
          edges:
            - {from: null, to: A}
            - {from: [A, C, sub], to: B}
    """) == [("SC303", 12, 18), ("SC308", 12, 21)]


def test_failure_nodes_and_fallbacks_that_start_are_not_reported() -> None:
    assert (
        findings("""
        - name: f
          edges:
            - {from: null, to: A}
            - {from: B, to: sub}
          failures:
            - {nodes: A, fallback: B}
            - {nodes: [B, sub], fallback: C}
    """)
        == []
    )


def test_a_flow_without_a_starting_edge_reports_no_unstarted_failure_node() -> None:
    assert findings("""
        - name: f
          edges:
            - {from: A, to: B}
          failures:
            - {nodes: C, fallback: B}
    """) == [("SC301", 10, 11)]
