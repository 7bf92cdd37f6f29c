"""Flow-option checks (SC6xx, SC210): node-set helpers and cases the golden files do not pin."""

from __future__ import annotations

import textwrap

import pytest

from selinonc.compiler.build import build
from selinonc.compiler.checks import options
from selinonc.compiler.classify import classify
from selinonc.compiler.load import load_text
from selinonc.compiler.model import Flow, Project
from selinonc.compiler.source import SourceFile

HEAD = """
tasks:
  - {name: A, import: m}
  - {name: B, import: m}
  - {name: C, import: m}
flows: [f, sub, sub2]
flow-definitions:
  - name: sub
    edges:
      - {from: null, to: A}
  - name: sub2
    edges:
      - {from: null, to: A}
"""


def project(flow: str) -> Project:
    """A project of tasks A, B, C, flows `sub` and `sub2`, and flow `f` defined by `flow`."""
    text = textwrap.dedent(HEAD).lstrip() + textwrap.indent(textwrap.dedent(flow).lstrip(), "  ")
    doc, problems = load_text(SourceFile("flows.yaml", text))
    assert doc is not None and not problems
    inputs, problems = classify([doc])
    assert inputs is not None and not problems
    return build(inputs.nodes, inputs.flows, ["flows.yaml"])


def findings(flow: str) -> list[tuple[str, int, int]]:
    """(code, line, column) of every finding of the option checks, sorted."""
    proj = project(flow)
    found = {(d.code, d.span.line, d.span.col) for check in options.CHECKS for d in check(proj)}
    return sorted(found)


def flow_f(flow: str) -> Flow:
    found = project(flow).flow("f")
    assert found is not None
    return found


NODE_SETS = """
- name: f
  edges:
    - {from: null, to: A}
    - {from: [A, sub], to: [B, sub]}
  failures:
    - {nodes: [B, C], fallback: [sub2]}
    - {nodes: sub, fallback: true}
"""


def test_sources_are_edge_sources_and_failure_nodes() -> None:
    flow = flow_f(NODE_SETS)
    assert options.edge_sources(flow) == {"A", "sub"}
    assert options.failure_nodes(flow) == {"B", "C", "sub"}
    assert options.sources(flow) == {"A", "B", "C", "sub"}


@pytest.mark.parametrize(
    "flow",
    [
        # eager_failures: true covers every node; nothing to check per node (decisions.md 3)
        """
        - name: f
          eager_failures: true
          nowait: B
          edges:
            - {from: null, to: A}
            - {from: A, to: B}
        """,
        # names nobody knows are SC205's (names module); the option checks skip them
        """
        - name: f
          nowait: [X]
          eager_failures: [Y]
          propagate_parent: [sub]
          edges:
            - {from: null, to: A}
            - {from: [A, X], to: [sub]}
          failures:
            - {nodes: [Z], fallback: W}
        """,
        # node_args_from_first with no starting edge is SC301's, not SC601's
        """
        - name: f
          node_args_from_first: true
          edges:
            - {from: A, to: B}
        """,
        # only [X] -> [X] is a cyclic fallback; [X] -> [X, Y] restarts X with a helper
        """
        - name: f
          edges:
            - {from: null, to: A}
          failures:
            - {nodes: A, fallback: [A, B]}
        """,
        # a failure node started only by another failure's fallback is in the flow
        """
        - name: f
          edges:
            - {from: null, to: A}
          failures:
            - {nodes: A, fallback: B}
            - {nodes: B, fallback: C}
        """,
        # propagate_finished: true does not warn about sub-flows without propagate_parent
        """
        - name: f
          propagate_finished: true
          edges:
            - {from: null, to: sub}
            - {from: sub, to: sub2}
        """,
        # selective `tasks` may select a sub-flow node of the started flow
        """
        - name: f
          edges:
            - from: null
              to: sub
              selective: {tasks: [A, sub2], run_subsequent: true}
        """,
        # an empty propagate list is the same as false, except for SC606
        """
        - name: f
          propagate_parent: []
          propagate_node_args: null
          edges:
            - {from: null, to: sub}
        """,
    ],
)
def test_valid_or_elsewhere_reported_flows_have_no_option_findings(flow: str) -> None:
    assert findings(flow) == []


def test_eager_failure_node_both_nowait_and_handled_gets_two_findings() -> None:
    flow = """
    - name: f
      nowait: B
      eager_failures: [B]
      edges:
        - {from: null, to: [A, B]}
      failures:
        - {nodes: [A, B], fallback: C}
    """
    found = list(options.check_eager_failures(project(flow)))
    assert len(found) == 2 and found[0].span == found[1].span
    assert "also nowait" in found[0].message
    assert "has a fallback" in found[1].message


def test_propagate_true_with_an_empty_list_still_overlaps() -> None:
    # Selinon rejects `true` together with any list, even an empty one.
    flow = """
    - name: f
      propagate_finished: true
      propagate_compound_finished: []
      edges:
        - {from: null, to: sub}
        - {from: sub, to: A}
    """
    assert [code for code, _, _ in findings(flow)] == ["SC606"]


def test_propagate_failures_not_a_source_is_sc605_only() -> None:
    flow = """
    - name: f
      propagate_failures: [sub]
      edges:
        - {from: null, to: [A, sub]}
    """
    assert [code for code, _, _ in findings(flow)] == ["SC605"]


def test_finished_nodes_warn_for_each_subflow_destination_without_parent() -> None:
    flow = """
    - name: f
      propagate_finished: [sub]
      propagate_parent: [sub2]
      edges:
        - {from: null, to: [sub, B]}
        - {from: sub, to: [A, sub2, sub]}
    """
    proj = project(flow)
    found = list(options.check_propagate_reaches_subflows(proj))
    assert [d.severity.value for d in found] == ["warning"]
    assert "sub-flow 'sub' without propagate_parent" in found[0].message


def test_checks_never_crash_on_odd_but_buildable_flows() -> None:
    flow = """
    - name: f
      node_args_from_first: true
      nowait: f
      eager_failures: f
      propagate_node_args: [f, f]
      propagate_parent: f
      propagate_finished: f
      propagate_compound_finished: f
      propagate_failures: f
      propagate_compound_failures: f
      edges:
        - {from: null, to: f}
        - {from: f, to: [f, f], selective: {tasks: [f], run_subsequent: [f]}}
      failures:
        - {nodes: [f, f], fallback: f, propagate_failure: true}
        - {nodes: f, fallback: true, propagate_failure: true}
    """
    assert findings(flow)  # something is reported, nothing raises


def test_eager_failures_true_names_every_dead_failure_once() -> None:
    flow = """
    - name: f
      eager_failures: true
      edges:
        - {from: null, to: A}
        - {from: A, to: B}
      failures:
        - {nodes: A, fallback: C}
        - {nodes: B, fallback: true}
    """
    found = list(options.check_eager_failures_with_failures(project(flow)))
    assert len(found) == 1
    assert "failures #1, #2 can never run" in found[0].message
