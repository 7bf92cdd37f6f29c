"""Lower edge and failure conditions to the bodies of plain Python functions.

A condition becomes one expression over `results` (the firing combination's task results, read
lazily) and `node_args`; `and`/`or`/`not` become Python's short-circuiting operators. Every
predicate call passes its `args` by keyword, as literals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from selinonc.compiler import literals
from selinonc.compiler.builtins import MESSAGE, NODE_ARGS
from selinonc.compiler.literals import INDENT, WIDTH
from selinonc.compiler.model import AllOf, AnyOf, Condition, Leaf, Negation, Ref


@dataclass(frozen=True, slots=True)
class Predicates:
    """How generated code calls predicates: the module's local name and their parameters."""

    alias: str  # the local name of the predicates module in the flow module
    params: Mapping[str, tuple[str, ...]]  # predicate name -> every parameter name


def _bound(leaf: Leaf, sources: tuple[Ref, ...]) -> str | None:
    if leaf.node is not None:
        return leaf.node.name
    return sources[0].name if len(sources) == 1 else None


def _leaf_args(leaf: Leaf, sources: tuple[Ref, ...], predicates: Predicates) -> list[str]:
    params = predicates.params.get(leaf.name, ())
    args: list[str] = []
    node = _bound(leaf, sources)
    if MESSAGE in params and node is not None:
        args.append(f"message=results.get({literals.string(node)})")
    if NODE_ARGS in params:
        args.append("node_args=node_args")
    return args


def _composite(condition: Condition) -> bool:
    """An `and`/`or` of several operands: it needs parentheses inside `not` or another operator."""
    return isinstance(condition, AllOf | AnyOf) and len(condition.children) > 1


class _Renderer:
    """Renders one condition; each node's one-line form is computed once (deep trees stay fast)."""

    def __init__(self, sources: tuple[Ref, ...], predicates: Predicates) -> None:
        self.sources = sources
        self.p = predicates
        self._flat: dict[int, str] = {}

    def leaf_call(self, leaf: Leaf, column: int, level: int) -> str:
        implicit = _leaf_args(leaf, self.sources, self.p)
        function = f"{self.p.alias}.{leaf.name}"
        inner = len(INDENT) * (level + 1)
        args = implicit + literals.keyword_args(leaf.args, inner, level + 1)
        return literals.call(function, args, column, level)

    def flat(self, condition: Condition) -> str:
        key = id(condition)
        if key not in self._flat:
            if isinstance(condition, Leaf):
                args = _leaf_args(condition, self.sources, self.p)
                args += literals.keyword_args(condition.args, 0, 0, flat=True)
                text = f"{self.p.alias}.{condition.name}({', '.join(args)})"
            elif isinstance(condition, Negation):
                text = "not " + self.flat_operand(condition.child)
            else:
                operator = " and " if isinstance(condition, AllOf) else " or "
                text = operator.join(self.flat_operand(c) for c in condition.children)
            self._flat[key] = text
        return self._flat[key]

    def flat_operand(self, condition: Condition) -> str:
        text = self.flat(condition)
        return f"({text})" if _composite(condition) else text

    def render(self, condition: Condition, column: int, level: int) -> str:
        """The expression, broken over lines (at indentation `level`) when it does not fit."""
        flat = self.flat(condition)
        if column + len(flat) <= WIDTH:
            return flat
        if isinstance(condition, Leaf):
            return self.leaf_call(condition, column, level)
        if isinstance(condition, Negation):
            return "not " + self.operand(condition.child, column + 4, level)
        operator = "and " if isinstance(condition, AllOf) else "or "
        indent = INDENT * level
        lines = []
        for i, child in enumerate(condition.children):
            lead = "" if i == 0 else operator
            start = column if i == 0 else len(indent) + len(lead)
            lines.append(lead + self.operand(child, start, level))
        return ("\n" + indent).join(lines)

    def operand(self, condition: Condition, column: int, level: int) -> str:
        """An operand of `not`/`and`/`or`: composite ones in parentheses, broken if too long."""
        if not _composite(condition):
            return self.render(condition, column, level)
        flat = self.flat(condition)
        if column + len(flat) + 2 <= WIDTH:
            return f"({flat})"
        inner = INDENT * (level + 1)
        body = self.render(condition, len(inner), level + 1)
        return "(\n" + inner + body + "\n" + INDENT * level + ")"


def body(condition: Condition, sources: tuple[Ref, ...], p: Predicates) -> str:
    """The `return` statement of a condition function (indented one level)."""
    renderer = _Renderer(sources, p)
    one = renderer.render(condition, len("    return "), 1)
    if "\n" in one and _composite(condition):
        # A long `and`/`or`: one operand per line inside parentheses.
        return "    return (\n        " + renderer.render(condition, 8, 2) + "\n    )"
    return f"    return {one}"


def text(condition: Condition | None) -> str:
    """A one-line, human-readable form of a condition, for traces and plots."""
    if condition is None:
        return "always"
    if isinstance(condition, Leaf):
        args = [f"node={condition.node.name}"] if condition.node is not None else []
        args += [f"{k}={literals.one_line(v)}" for k, v in condition.args.items()]
        return f"{condition.name}({', '.join(args)})"
    if isinstance(condition, Negation):
        return f"not {_wrapped(condition.child)}"
    operator = " and " if isinstance(condition, AllOf) else " or "
    return operator.join(_wrapped(c) for c in condition.children)


def _wrapped(condition: Condition) -> str:
    shown = text(condition)
    if isinstance(condition, AllOf | AnyOf) and len(condition.children) > 1:
        return f"({shown})"
    return shown


def canonical(condition: Condition | None) -> Any:
    """The condition as plain data (for content-derived edge ids)."""
    if condition is None:
        return None
    if isinstance(condition, Leaf):
        node = condition.node.name if condition.node is not None else None
        return {"name": condition.name, "node": node, "args": dict(condition.args)}
    if isinstance(condition, Negation):
        return {"not": canonical(condition.child)}
    kind = "and" if isinstance(condition, AllOf) else "or"
    return {kind: [canonical(c) for c in condition.children]}
