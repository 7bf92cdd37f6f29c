"""SC701: every YAML value that generated code embeds has an inert literal form."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from selinonc.compiler import literals
from selinonc.compiler.checks.conditions import leaves
from selinonc.compiler.diagnostics import Diagnostic
from selinonc.compiler.model import Edge, Failure, Flow, Project, Task, Throttling
from selinonc.compiler.source import Span


def _unsafe(value: Any, path: str = "") -> tuple[str, Any] | None:
    """The first part of `value` that has no literal form: its path (`a.b[0]`) and itself."""
    if isinstance(value, Mapping):
        items: Any = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    elif isinstance(value, str | float | bool) or value is None:
        return None  # the common case, without rendering anything
    else:
        try:
            literals.scalar(value)
        except literals.UnsafeValue:
            return path, value
        return None
    return next((found for sub, v in items if (found := _unsafe(v, sub)) is not None), None)


def _explain(where: str, value: Any) -> tuple[str, str]:
    """What the value is and how to write it instead."""
    at = f"`{where}` is" if where else "it is"
    if isinstance(value, bytes):
        return f"{at} binary data (`!!binary`)", "write the value as a plain string"
    if isinstance(value, int):
        return f"{at} an integer of more than 4,000 digits", "write it as a string"
    kind = type(value).__name__
    if kind in ("date", "datetime"):
        return f"{at} a {kind} ({value})", f"quote it to make it a string: '{value}'"
    return f"{at} a {kind}", "write the value as a string, number, boolean, list or mapping"


def _values(project: Project) -> Iterator[tuple[str, Any, Span, Mapping[str, Span]]]:
    """Every embedded value: what it is, itself, its span and the spans of its parts."""
    for storage in project.storages:
        span = storage.value_spans.get("configuration", storage.span)
        what = f"the configuration of storage {storage.name!r}"
        yield what, storage.configuration, span, storage.configuration_spans
        if storage.cache is not None:
            what = f"the cache configuration of storage {storage.name!r}"
            yield what, storage.cache.configuration, storage.cache.span or storage.span, {}
    for flow in project.flows:
        if flow.sampling is not None:
            for name, value in flow.sampling.args.items():
                span = flow.sampling.arg_spans.get(name, flow.sampling.span)
                yield f"sampling argument {name!r} of flow {flow.name!r}", value, span, {}
        if flow.cache is not None:
            what = f"the cache configuration of flow {flow.name!r}"
            yield what, flow.cache.configuration, flow.cache.span or flow.span, {}
        owners: tuple[Edge | Failure, ...] = (*flow.edges, *flow.failures)
        for owner in owners:
            if owner.condition is None:
                continue
            for leaf in leaves(owner.condition):
                for name, value in leaf.args.items():
                    if _unsafe(value) is None:
                        continue  # 20,000 arguments: describe and locate only the bad ones
                    what = f"argument {name!r} of predicate {leaf.name!r} in flow {flow.name!r}"
                    yield what, value, leaf.arg_spans.get(name, leaf.span), {}


# Counts and seconds the runtime does arithmetic with (2**31 - 1 seconds: about 68 years).
_MAX_COUNT = 2**31 - 1


def _durations(project: Project) -> Iterator[tuple[str, Throttling, Span]]:
    for task in project.tasks:
        if task.throttling is not None:
            yield f"the throttling of task {task.name!r}", task.throttling, task.throttling.span
    for flow in project.flows:
        if flow.throttling is not None:
            yield f"the throttling of flow {flow.name!r}", flow.throttling, flow.throttling.span


def check_durations_and_counts(project: Project) -> Iterator[Diagnostic]:
    """SC701: throttling intervals are durations, retry counts and countdowns are not huge."""
    for what, throttling, span in _durations(project):
        try:
            timedelta(**throttling.interval)
        except (OverflowError, ValueError, TypeError) as exc:
            yield Diagnostic.error(
                "SC701",
                span,
                f"{what} cannot be a duration: {exc}",
                hint="give a finite interval shorter than 999,999,999 days",
            )
    owners: list[Task | Flow] = [*project.tasks, *project.flows]
    for owner in owners:
        kind = "task" if isinstance(owner, Task) else "flow"
        for option in ("max_retry", "retry_countdown"):
            value = getattr(owner, option)
            if isinstance(value, int | float) and value > _MAX_COUNT:
                yield Diagnostic.error(
                    "SC701",
                    owner.value_spans.get(option, owner.span),
                    f"`{option}` of {kind} {owner.name!r} is too large ({_short(value)})",
                    hint=f"give at most {_MAX_COUNT:,}",
                )


def _short(value: int | float) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return f"about 10^{int(value.bit_length() * 0.30103)}"  # str() fails past 4,300 digits


def check_literal_values(project: Project) -> Iterator[Diagnostic]:
    """SC701: values embedded in generated code are data (no dates, no binary)."""
    for what, value, span, part_spans in _values(project):
        found = _unsafe(value)
        if found is not None:
            problem, hint = _explain(*found)
            yield Diagnostic.error(
                "SC701",
                part_spans.get(found[0], span),
                f"{what} cannot be written into generated code: {problem}",
                hint=hint,
            )


CHECKS = (check_literal_values, check_durations_and_counts)
