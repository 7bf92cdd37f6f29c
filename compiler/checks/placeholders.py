"""SC621: deployment placeholders (`{VAR}`) are plain environment variable names.

Queues, `migration_dir` and the Sentry DSN may name environment variables, resolved when the
generated package is imported (decisions.md, generated code 2). Which variables exist is only
known then; their syntax can be checked now.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

from selinonc.compiler.diagnostics import Diagnostic
from selinonc.compiler.model import Project
from selinonc.compiler.source import Span

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _templates(project: Project) -> Iterator[tuple[str, str, Span]]:
    """(what, template, where) for every value that may hold placeholders."""
    for task in project.tasks:
        if task.queue is not None:
            yield f"the queue of task {task.name!r}", task.queue, task.value_spans["queue"]
    for flow in project.flows:
        if flow.queue is not None:
            yield f"the queue of flow {flow.name!r}", flow.queue, flow.value_spans["queue"]
    glob = project.global_
    for key, value in (
        ("default_task_queue", glob.default_task_queue),
        ("default_dispatcher_queue", glob.default_dispatcher_queue),
        ("migration_dir", glob.migration_dir),
    ):
        span = glob.value_spans.get(key)
        if value is not None and span is not None:
            yield f"`{key}`", value, span
    for tracer in glob.trace:
        if tracer.dsn is not None:
            yield "the Sentry DSN", tracer.dsn, tracer.span


def _problem(template: str) -> str | None:
    """Why `template` is not text with plain `{NAME}` fields, or None when it is."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:  # an unmatched brace
        return f"{exc} (write `{{{{` and `}}}}` for literal braces)"
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if not ENV_NAME.fullmatch(name) or spec or conversion:
            field = name + ("!" + conversion if conversion else "") + (":" + spec if spec else "")
            return f"`{{{field}}}` is not a plain `{{NAME}}`"
    return None


def check_placeholders(project: Project) -> Iterator[Diagnostic]:
    """SC621: `{...}` fields are plain environment variable names."""
    for what, template, span in _templates(project):
        problem = _problem(template)
        if problem is not None:
            yield Diagnostic.error(
                "SC621",
                span,
                f"{what} {template!r}: {problem}",
                hint="placeholders name environment variables, e.g. `{DEPLOYMENT_PREFIX}_tasks`, "
                "resolved when workers import the generated package",
            )


CHECKS = (check_placeholders,)
