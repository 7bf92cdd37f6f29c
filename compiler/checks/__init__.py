"""The semantic checks, in order; each is a small function yielding diagnostics with a code."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from selinonc.compiler.checks import conditions, edges, names, options, sampling, tasks
from selinonc.compiler.diagnostics import Diagnostic
from selinonc.compiler.model import Project

Check = Callable[[Project], Iterable[Diagnostic]]

CHECKS: tuple[Check, ...] = (
    *names.CHECKS,
    *tasks.CHECKS,
    *edges.CHECKS,
    *conditions.CHECKS,
    *options.CHECKS,
    *sampling.CHECKS,
)


def run_checks(project: Project) -> list[Diagnostic]:
    """Run every check over the project and return all findings, sorted."""
    found = [d for check in CHECKS for d in check(project)]
    return sorted(set(found), key=Diagnostic.sort_key)
