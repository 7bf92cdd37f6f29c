"""The semantic checks, in order; each is a small function yielding diagnostics with a code."""

from __future__ import annotations

from selinonc.compiler.checks import (
    conditions,
    edges,
    names,
    options,
    placeholders,
    predecessor,
    python_names,
    sampling,
    task_imports,
    tasks,
    values,
)
from selinonc.compiler.checks._text import Check
from selinonc.compiler.diagnostics import Diagnostic
from selinonc.compiler.model import Project

CHECKS: tuple[Check, ...] = (
    *names.CHECKS,
    *python_names.CHECKS,
    *placeholders.CHECKS,
    *tasks.CHECKS,
    *predecessor.CHECKS,
    *task_imports.CHECKS,
    *edges.CHECKS,
    *conditions.CHECKS,
    *options.CHECKS,
    *sampling.CHECKS,
    *values.CHECKS,
)


def run_checks(project: Project) -> list[Diagnostic]:
    """Run every check over the project and return all findings (the pipeline sorts them)."""
    return [d for check in CHECKS for d in check(project)]
