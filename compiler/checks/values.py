"""SC701: every YAML value that generated code embeds has an inert literal form."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from selinonc.compiler import literals
from selinonc.compiler.checks.conditions import leaves
from selinonc.compiler.diagnostics import Diagnostic
from selinonc.compiler.model import Edge, Failure, Project
from selinonc.compiler.source import Span


def _problem(value: Any, depth: int = 0) -> str | None:
    """What makes `value` unfit for a literal, or None (iterative enough: YAML depth is capped)."""
    if isinstance(value, Mapping):
        for item in value.values():
            problem = _problem(item, depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list | tuple):
        return next((p for v in value if (p := _problem(v, depth + 1)) is not None), None)
    try:
        literals.scalar(value)
    except literals.UnsafeValue as exc:
        return str(exc)
    return None


def _values(project: Project) -> Iterator[tuple[str, Any, Span]]:
    for storage in project.storages:
        span = storage.value_spans.get("configuration", storage.span)
        yield f"the configuration of storage {storage.name!r}", storage.configuration, span
        if storage.cache is not None:
            what = f"the cache configuration of storage {storage.name!r}"
            yield what, storage.cache.configuration, storage.cache.span or storage.span
    for flow in project.flows:
        if flow.sampling is not None:
            for name, value in flow.sampling.args.items():
                span = flow.sampling.arg_spans.get(name, flow.sampling.span)
                yield f"sampling argument {name!r} of flow {flow.name!r}", value, span
        if flow.cache is not None:
            what = f"the cache configuration of flow {flow.name!r}"
            yield what, flow.cache.configuration, flow.cache.span or flow.span
        owners: tuple[Edge | Failure, ...] = (*flow.edges, *flow.failures)
        for owner in owners:
            if owner.condition is None:
                continue
            for leaf in leaves(owner.condition):
                for name, value in leaf.args.items():
                    what = f"argument {name!r} of predicate {leaf.name!r} in flow {flow.name!r}"
                    yield what, value, leaf.arg_spans.get(name, leaf.span)


def check_literal_values(project: Project) -> Iterator[Diagnostic]:
    """SC701: values embedded in generated code are data (no dates, no binary)."""
    for what, value, span in _values(project):
        problem = _problem(value)
        if problem is not None:
            yield Diagnostic.error(
                "SC701",
                span,
                f"{what} cannot be written into generated code: {problem}",
                hint="quote the value to make it a string (YAML reads 2024-01-31 as a date)",
            )


CHECKS = (check_literal_values,)
