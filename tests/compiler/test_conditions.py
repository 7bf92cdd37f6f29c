"""Condition and sampling checks on corner cases the golden cases do not show."""

from __future__ import annotations

from pathlib import Path

import pytest

from selinonc.compiler import signatures
from selinonc.compiler.build import build
from selinonc.compiler.checks import conditions, sampling
from selinonc.compiler.classify import classify
from selinonc.compiler.diagnostics import Diagnostic
from selinonc.compiler.load import load_text
from selinonc.compiler.model import Leaf, Negation, Project
from selinonc.compiler.source import SourceFile, Span

NODES = """
storages:
  - {name: Memory, import: m, configuration: {echo: false}}
tasks:
  - {name: A, import: m, storage: Memory}
  - {name: B, import: m, storage: Memory}
  - {name: C, import: m}
flows: [main, sub, other]
"""


def project(flows: str, nodes: str = NODES) -> Project:
    doc, problems = load_text(SourceFile("flows.yaml", nodes + "flow-definitions:\n" + flows))
    assert doc is not None, problems
    inputs, problems = classify([doc])
    assert inputs is not None, problems
    return build(inputs.nodes, inputs.flows, ["flows.yaml"])


def found(p: Project) -> list[tuple[str, str]]:
    diagnostics: list[Diagnostic] = [
        d for check in (*conditions.CHECKS, *sampling.CHECKS) for d in check(p)
    ]
    return [(d.code, d.message) for d in diagnostics]


def codes(p: Project) -> list[str]:
    return [code for code, _ in found(p)]


def test_leaves_come_in_yaml_order_without_recursion_limits() -> None:
    span = Span("f", 1, 1)
    first = Leaf(name="a", name_span=span, node=None, args={}, arg_spans={}, span=span)
    deep: Negation | Leaf = first
    for _ in range(10_000):
        deep = Negation(child=deep, span=span)
    assert list(conditions.leaves(deep)) == [first]


def test_node_outside_a_failures_nodes_is_sc402() -> None:
    p = project("""
  - name: main
    edges: [{from: null, to: [A, B]}]
    failures:
      - nodes: A
        fallback: C
        condition: {name: argsFieldExist, node: B, args: {key: x}}
""")
    assert found(p) == [
        (
            "SC402",
            "predicate 'argsFieldExist' reads node 'B', which is not among the nodes of "
            "failure #1 of flow 'main'",
        ),
    ]


def test_node_on_a_starting_edge_is_sc402_and_nothing_else() -> None:
    p = project("""
  - name: main
    edges: [{from: null, to: A, condition: {name: fieldExist, node: A, args: {key: x}}}]
""")
    assert codes(p) == ["SC402"]


def test_an_unknown_predicate_hides_the_checks_that_need_its_signature() -> None:
    p = project("""
  - name: main
    edges:
      - {from: null, to: [A, B]}
      - {from: [A, B], to: C, condition: {name: fieldExits, args: {nope: 1}}}
""")
    assert codes(p) == ["SC401"]


def test_a_result_predicate_on_an_unknown_node_is_left_to_the_name_checks() -> None:
    p = project("""
  - name: main
    edges:
      - {from: null, to: A}
      - {from: [A, Ghost], to: C, condition: {name: fieldExist, node: Ghost, args: {key: x}}}
""")
    assert codes(p) == []


def test_a_missing_custom_module_is_reported_once_and_hides_name_and_argument_checks() -> None:
    nodes = NODES + "global: {predicates_module: sc_test_missing_predicates}\n"
    p = project(
        """
  - name: main
    edges:
      - {from: null, to: A, condition: {name: whatever, args: {x: 1}}}
      - {from: A, to: B, condition: {name: other}}
""",
        nodes,
    )
    assert codes(p) == ["SC408"]


def test_a_custom_module_is_not_imported_when_no_condition_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(name: str) -> None:
        raise AssertionError(f"imported {name}")

    monkeypatch.setattr(signatures, "import_user_module", refuse)
    nodes = NODES + "global: {predicates_module: sc_test_never_imported}\n"
    assert codes(project("  - {name: main, edges: [{from: null, to: A}]}\n", nodes)) == []


def test_a_misspelt_sampling_arg_is_one_missing_argument() -> None:
    p = project("""
  - name: main
    sampling: {name: linear_increase, args: {start_retry: 1, max_retry: 9, stpe: 1}}
    edges: [{from: null, to: A}]
""")
    message = "is missing argument 'step': it has no parameter 'stpe'"
    assert found(p) == [("SC611", f"sampling strategy 'linear_increase' of flow 'main' {message}")]


def test_a_missing_sampling_arg_points_at_args_or_else_at_the_name() -> None:
    p = project("""
  - name: main
    sampling:
      name: linear_increase
      args:
        max_retry: 9
        start_retry: 1
    edges: [{from: null, to: A}]
  - name: other
    sampling: {name: constant}
    edges: [{from: null, to: A}]
""")
    spans = [(d.span.line, d.span.col) for d in sampling.check_strategy_args_given(p)]
    assert spans == [(15, 9), (19, 22)]  # `max_retry`, written first; `constant`


def test_a_misspelt_predicate_arg_is_one_finding_and_another_unknown_one_lists_the_params() -> None:
    p = project("""
  - name: main
    edges:
      - from: null
        to: A
        condition: {name: argsFieldEqual, args: {kye: k, value: 1, other: 2}}
""")
    leaf = "predicate 'argsFieldEqual' in edge #1 of flow 'main'"
    assert found(p) == [
        ("SC406", f"{leaf} has no parameter 'kye'"),
        ("SC406", f"{leaf} has no parameter 'other'"),
    ]
    hints = [d.hint for d in conditions.check_predicate_args(p)]
    assert hints == ["did you mean 'key'?", "its parameters are 'key', 'value'"]


def test_status_in_sampling_args_is_sc611() -> None:
    p = project("""
  - name: main
    sampling: {name: constant, args: {retry: 1, status: {}}}
    edges: [{from: null, to: A}]
""")
    assert codes(p) == ["SC611"]


def test_a_custom_strategy_must_take_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sc_test_strategies.py").write_text("def every(seconds):\n    return seconds\n")
    p = project("""
  - name: main
    sampling: {name: every, import: sc_test_strategies, args: {seconds: 1}}
    edges: [{from: null, to: A}]
""")
    assert codes(p) == ["SC611"]


def test_a_missing_strategies_module_is_reported_once_per_module() -> None:
    flow = """
  - name: {name}
    sampling: {{name: every, import: sc_test_missing_strategies, args: {{}}}}
    edges: [{{from: null, to: A}}]
"""
    p = project(flow.format(name="main") + flow.format(name="other"))
    assert codes(p) == ["SC408"]


@pytest.mark.parametrize(
    ("key", "warned"),
    [("42", True), ("true", True), ("{a: 1}", True), ("'42'", False), ("[a, 0]", False)],
)
def test_a_key_that_is_neither_a_string_nor_a_list_is_sc409(key: str, warned: bool) -> None:
    p = project(f"""
  - name: main
    edges:
      - {{from: null, to: A}}
      - {{from: A, to: B, condition: {{name: fieldExist, args: {{key: {key}}}}}}}
""")
    assert ("SC409" in codes(p)) is warned


def test_sc409_leaves_the_key_of_a_custom_predicates_module_alone() -> None:
    nodes = NODES + "global: {predicates_module: not_importable_here}\n"
    p = project(
        """
  - name: main
    edges:
      - {from: null, to: A}
      - {from: A, to: B, condition: {name: fieldExist, args: {key: 42}}}
""",
        nodes,
    )
    assert codes(p) == ["SC408"]
