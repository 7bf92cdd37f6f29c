"""Name checks: one mistake at a definition gives one diagnostic, not one per use."""

from __future__ import annotations

import textwrap

from selinonc.compiler.build import build
from selinonc.compiler.checks import run_checks
from selinonc.compiler.classify import classify
from selinonc.compiler.load import load_text
from selinonc.compiler.model import Project
from selinonc.compiler.source import SourceFile


def project(text: str) -> Project:
    doc, problems = load_text(SourceFile("flows.yaml", textwrap.dedent(text).lstrip()))
    assert doc is not None and not problems
    inputs, problems = classify([doc])
    assert inputs is not None and not problems
    return build(inputs.nodes, inputs.flows, ["flows.yaml"])


def findings(text: str) -> list[tuple[str, int]]:
    """(code, line) of every finding of the checks, sorted."""
    return sorted({(d.code, d.span.line) for d in run_checks(project(text))})


def test_two_spellings_of_one_misspelt_task_blame_the_definition_for_one_of_them() -> None:
    # Given an unused task and two different undefined names close to it
    text = """
        tasks:
          - {name: Start, import: m}
          - {name: ValidateOrdr, import: m}
        flows: [f]
        flow-definitions:
          - name: f
            edges:
              - {from: [], to: Start}
              - {from: Start, to: ValidateOrder}
              - {from: ValidateOrder, to: ValidateOrders}
    """
    # Then the definition answers for its closest spelling, and the other use is reported itself
    assert findings(text) == [("SC205", 3), ("SC205", 10)]


def test_a_single_use_of_a_misspelt_name_is_reported_at_the_use() -> None:
    # Given an unused task and one use of a close, undefined name
    text = """
        tasks:
          - {name: Start, import: m}
          - {name: Resize, import: m}
        flows: [f]
        flow-definitions:
          - name: f
            edges:
              - {from: [], to: Start}
              - {from: Start, to: Resise}
    """
    # Then nothing tells which spelling is meant: the use is reported, the task is not a leftover
    assert findings(text) == [("SC205", 9)]


def test_an_unknown_name_closer_to_a_used_task_is_a_typo_in_the_use() -> None:
    # Given a used task 'Fetch1', an unused 'Fetch2' and a use of the undefined 'Fetch1x'
    text = """
        tasks:
          - {name: Fetch1, import: m}
          - {name: Fetch2, import: m}
        flows: [f]
        flow-definitions:
          - name: f
            edges:
              - {from: [], to: Fetch1}
              - {from: Fetch1, to: Fetch1x}
    """
    # Then the use is reported and the unused task stays a leftover (SC504)
    assert findings(text) == [("SC205", 9), ("SC504", 3)]


def test_an_unlisted_flow_is_reported_once_wherever_it_is_used() -> None:
    text = """
        tasks:
          - {name: A, import: m}
        flows: [f]
        flow-definitions:
          - name: f
            propagate_finished: [sub]
            edges:
              - {from: [], to: A}
              - from: A
                to: sub
                selective: {tasks: [A], run_subsequent: [sub]}
            nowait: [sub]
          - name: sub
            edges:
              - {from: [], to: A}
    """
    assert findings(text) == [("SC203", 13)]


def test_a_name_unrelated_to_any_unused_task_is_reported_at_each_use() -> None:
    text = """
        tasks:
          - {name: A, import: m}
          - {name: B, import: m}
          - {name: Leftover, import: m}
        flows: [f]
        flow-definitions:
          - name: f
            edges:
              - {from: [], to: A}
              - {from: A, to: Zzz}
              - {from: Zzz, to: B}
    """
    assert findings(text) == [("SC205", 10), ("SC205", 11), ("SC504", 4)]
