"""SC4xx: conditions on edges and failures: predicate names, arguments and the results they read."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from selinonc.compiler import signatures
from selinonc.compiler.builtins import FIELD_NAME_PARAMS, MESSAGE, PREDICATE_IMPLICIT
from selinonc.compiler.checks._text import Check, args_span, arguments, quoted, starter_label
from selinonc.compiler.diagnostics import Diagnostic, did_you_mean
from selinonc.compiler.model import (
    AllOf,
    AnyOf,
    Condition,
    Edge,
    Failure,
    Flow,
    Leaf,
    Negation,
    Project,
    Ref,
)
from selinonc.compiler.signatures import Signature, params_hint
from selinonc.compiler.source import Span


@dataclass(frozen=True, slots=True)
class _Use:
    """One predicate call (a leaf) and the edge or failure whose condition holds it."""

    flow: Flow
    owner: Edge | Failure
    leaf: Leaf

    @property
    def where(self) -> str:
        return starter_label(self.flow, self.owner)

    @property
    def sources(self) -> tuple[Ref, ...]:
        """The nodes a leaf may read: the edge's sources, or the failure's nodes."""
        return self.owner.sources if isinstance(self.owner, Edge) else self.owner.nodes

    @property
    def bound(self) -> Ref | None:
        """The node whose result the leaf reads: its `node`, else the single source."""
        if self.leaf.node is not None:
            return self.leaf.node
        return self.sources[0] if len(self.sources) == 1 else None


def leaves(condition: Condition) -> Iterator[Leaf]:
    """The predicate calls of a condition tree, in YAML order (iterative: no recursion limit)."""
    stack: list[Condition] = [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, Leaf):
            yield node
        elif isinstance(node, Negation):
            stack.append(node.child)
        elif isinstance(node, AllOf | AnyOf):
            stack.extend(reversed(node.children))


@functools.lru_cache(maxsize=8)
def _uses(project: Project) -> tuple[_Use, ...]:
    """Every predicate call of the project, memoised per project (most checks here ask)."""
    uses: list[_Use] = []
    for flow in project.flows:
        owners: tuple[Edge | Failure, ...] = (*flow.edges, *flow.failures)
        for owner in owners:
            if owner.condition is not None:
                uses.extend(_Use(flow, owner, leaf) for leaf in leaves(owner.condition))
    return tuple(uses)


def _catalog(project: Project) -> signatures.Catalog:
    return signatures.predicates(project.global_.predicates_module)


@functools.lru_cache(maxsize=8)
def _typed_uses(project: Project) -> tuple[tuple[_Use, Signature], ...]:
    """Leaves whose predicate is known, with its signature (none when the module is unknown);
    memoised per project, as several checks ask."""
    uses = _uses(project)
    if not uses:  # no condition at all: do not import a custom module for nothing
        return ()
    catalog = _catalog(project)
    typed = ((use, catalog.functions.get(use.leaf.name)) for use in uses)
    return tuple((use, signature) for use, signature in typed if signature is not None)


def _reads_result(signature: Signature) -> bool:
    return MESSAGE in signature.params


def _source_list(use: _Use) -> str:
    return ", ".join(repr(ref.name) for ref in use.sources)


def check_predicates_module(project: Project) -> Iterator[Diagnostic]:
    """SC408: a custom `global.predicates_module` cannot be imported, so nothing is checked."""
    if not _uses(project):
        return
    catalog = _catalog(project)
    if catalog.error is None:
        return
    glob = project.global_
    span = glob.predicates_module_span or Span(project.nodes_file, 1, 1)
    yield Diagnostic.warning(
        "SC408",
        span,
        f"cannot import the predicates module {catalog.module!r} ({catalog.error}); "
        "predicate names and arguments are not checked",
        hint="selinonc imports custom predicate modules from the current directory and "
        "PYTHONPATH, as the workers do; run it where the module imports without error",
    )


def check_predicate_known(project: Project) -> Iterator[Diagnostic]:
    """SC401: a leaf names a predicate its module does not have."""
    uses = _uses(project)
    catalog = _catalog(project) if uses else None
    if catalog is None or catalog.error is not None:
        return
    for use in uses:
        if use.leaf.name in catalog.functions:
            continue
        origin = "a built-in predicate" if catalog.builtin else f"in module {catalog.module!r}"
        yield Diagnostic.error(
            "SC401",
            use.leaf.name_span,
            f"unknown predicate {use.leaf.name!r} in {use.where}",
            hint=did_you_mean(use.leaf.name, catalog.suggestions())
            or f"{use.leaf.name!r} is not {origin}; check `global.predicates_module`",
        )


def check_predicate_node(project: Project) -> Iterator[Diagnostic]:
    """SC402: a leaf's `node` is not a source of its edge (or a node of its failure)."""
    for use in _uses(project):
        node = use.leaf.node
        if node is None or any(ref.name == node.name for ref in use.sources):
            continue
        if isinstance(use.owner, Failure):
            place, among = f"among the nodes of {use.where}", "the failure's nodes"
        else:
            place, among = f"a source of {use.where}", "the edge's sources"
        if not use.sources:
            hint = "a starting edge has no source whose result could be read; remove `node`"
        else:
            hint = did_you_mean(node.name, (ref.name for ref in use.sources)) or (
                f"`node` must be one of {among}: {_source_list(use)}"
            )
        yield Diagnostic.error(
            "SC402",
            node.span,
            f"predicate {use.leaf.name!r} reads node {node.name!r}, which is not {place}",
            hint=hint,
        )


def check_result_has_node(project: Project) -> Iterator[Diagnostic]:
    """SC403: a result predicate without `node` on an edge with no source or several."""
    for use, signature in _typed_uses(project):
        if not isinstance(use.owner, Edge) or use.bound is not None:
            continue
        if not _reads_result(signature):
            continue
        if not use.sources:
            message = f"{use.where} is a starting edge: there is no task result to read"
            hint = "test the flow's arguments with an `args*` predicate instead"
        else:
            message = f"{use.where} has {len(use.sources)} sources and no `node` says which"
            hint = f"add `node:` naming one of {_source_list(use)}"
        yield Diagnostic.error(
            "SC403",
            use.leaf.span,
            f"predicate {use.leaf.name!r} reads a task result, but {message}",
            hint=hint,
        )


def _read_node(use: _Use, signature: Signature) -> str | None:
    """The node whose result a result predicate on an edge reads (None if SC402/SC403 apply)."""
    bound = use.bound
    if not isinstance(use.owner, Edge) or bound is None or not _reads_result(signature):
        return None
    if not any(ref.name == bound.name for ref in use.sources):
        return None
    return bound.name


def _read_span(use: _Use) -> Span:
    return use.leaf.node.span if use.leaf.node is not None else use.leaf.span


def check_result_node_stores(project: Project) -> Iterator[Diagnostic]:
    """SC404: a result predicate reads a sub-flow, or a task that has no storage."""
    for use, signature in _typed_uses(project):
        name = _read_node(use, signature)
        if name is None:
            continue
        task = project.task(name)
        if task is not None and task.storage is None:
            yield Diagnostic.error(
                "SC404",
                _read_span(use),
                f"predicate {use.leaf.name!r} in {use.where} reads the result of task "
                f"{name!r}, which has no storage",
                hint=f"give task {name!r} a `storage` so its result is kept and can be read",
            )
        elif task is None and project.is_flow(name):
            yield Diagnostic.error(
                "SC404",
                _read_span(use),
                f"predicate {use.leaf.name!r} in {use.where} reads the result of sub-flow "
                f"{name!r}; only task results can be read",
                hint="read the result of a task of this flow instead, or test the flow's "
                "arguments with an `args*` predicate",
            )


def check_result_node_writable(project: Project) -> Iterator[Diagnostic]:
    """SC405: a result predicate reads a task whose storage is read-only (nothing is stored)."""
    for use, signature in _typed_uses(project):
        name = _read_node(use, signature)
        task = project.task(name) if name is not None else None
        if task is None or task.storage is None or not task.storage_readonly:
            continue
        yield Diagnostic.error(
            "SC405",
            _read_span(use),
            f"predicate {use.leaf.name!r} in {use.where} reads the result of task "
            f"{task.name!r}, whose storage is read-only, so its result is never stored",
            hint=f"remove `storage_readonly` from task {task.name!r}, or test something else",
        )


def _args_diagnostics(use: _Use, signature: Signature) -> Iterator[Diagnostic]:
    leaf, where = use.leaf, f"predicate {use.leaf.name!r} in {use.where}"
    match = signatures.match_args(signature, PREDICATE_IMPLICIT, tuple(leaf.args))
    for name in match.implicit:
        yield Diagnostic.error(
            "SC406",
            leaf.arg_spans.get(name, leaf.span),
            f"`args` of {where} give {name!r}, which selinonc fills in itself",
            hint=f"remove {name!r} from `args`",
        )
    meant = dict(match.misspelt)
    for name in leaf.args:  # misspelt and extra names, in YAML order
        if name in meant or name in match.extra:
            close = [meant[name]] if name in meant else []
            yield Diagnostic.error(
                "SC406",
                leaf.arg_spans.get(name, leaf.span),
                f"{where} has no parameter {name!r}",
                hint=did_you_mean(name, close) or _params_hint(signature),
            )
    if match.missing:
        yield Diagnostic.error(
            "SC406",
            args_span(leaf.arg_spans, leaf.span),
            f"{where} is missing {arguments(match.missing)}",
            hint=f"add {quoted(match.missing)} under `args`",
        )


def _params_hint(signature: Signature) -> str:
    return params_hint([p for p in signature.params if p not in PREDICATE_IMPLICIT])


def check_predicate_args(project: Project) -> Iterator[Diagnostic]:
    """SC406: a leaf's `args` do not match its predicate's parameters exactly."""
    for use, signature in _typed_uses(project):
        yield from _args_diagnostics(use, signature)


def check_failure_reads_no_result(project: Project) -> Iterator[Diagnostic]:
    """SC407: a failure condition uses a predicate that reads a task result."""
    for use, signature in _typed_uses(project):
        if isinstance(use.owner, Failure) and _reads_result(signature):
            yield Diagnostic.error(
                "SC407",
                use.leaf.span,
                f"predicate {use.leaf.name!r} in {use.where} reads a task result, "
                "which failure conditions cannot do",
                hint="failed nodes have no result; test the flow's arguments with an `args*` "
                "predicate instead",
            )


def _kind(value: object) -> str:
    """A YAML value's kind in plain words, with the value when it is a short scalar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        shown = _short_number(value)
        return f"a number ({shown})" if shown else "a very large number"
    return "a mapping" if isinstance(value, dict) else f"a {type(value).__name__}"


def _short_number(value: float) -> str | None:
    """A number as text, or None for one too long to print (Python refuses 4,300 digits)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return None
    return str(value)


def check_field_name_args(project: Project) -> Iterator[Diagnostic]:
    """SC409: a built-in predicate's field name (`key`) is a string or a list of names.

    A warning: the predicate runs, but `message[42]` finds no field in a JSON result (only an
    item of a list), so the condition is most likely never true.
    """
    uses = _typed_uses(project)
    if not uses or not _catalog(project).builtin:  # a custom module's `key` may mean anything
        return
    for use, _ in uses:
        for name in sorted(FIELD_NAME_PARAMS & set(use.leaf.args)):
            value = use.leaf.args[name]
            if isinstance(value, str | list):
                continue
            yield Diagnostic.warning(
                "SC409",
                use.leaf.arg_spans.get(name, use.leaf.span),
                f"`{name}` of predicate {use.leaf.name!r} in {use.where} is {_kind(value)}, "
                "not a field name",
                hint=_field_name_hint(name, value),
            )


def _field_name_hint(name: str, value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        shown = _short_number(value) or "123"
        return (
            f'write the field name as a string (`{name}: "{shown}"`), or a list for a path of '
            f"fields (`{name}: [items, {shown}]`); a bare number reads only an item of a list"
        )
    return (
        f"write the field name as a string (`{name}: name`), or a list for a path of fields "
        f"(`{name}: [a, b]`)"
    )


CHECKS: tuple[Check, ...] = (
    check_predicates_module,
    check_predicate_known,
    check_predicate_node,
    check_result_has_node,
    check_result_node_stores,
    check_result_node_writable,
    check_predicate_args,
    check_failure_reads_no_result,
    check_field_name_args,
)
