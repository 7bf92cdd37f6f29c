"""Deployment placeholders: `{VAR}` in queue names and paths, resolved from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from selinonc.runtime.errors import PlaceholderError

# What the compiler accepts (check SC621): `{NAME}` placeholders, `{{` and `}}` for braces.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Set only around imports for a one-process run, where queues mean nothing; a worker's import
# never sets it, so a worker still fails at once on a missing variable.
_DEFERRED: ContextVar[bool] = ContextVar("selinonc_placeholders_deferred", default=False)


class Unresolved(str):
    """A value with placeholders whose variables are not set, as `expand` gives it under
    `deferred()`: it reads `<unset VAR>` where each missing variable is, and `require()` turns
    it into the PlaceholderError a worker would have raised."""

    error: str  # the message of that PlaceholderError


@contextmanager
def deferred() -> Iterator[None]:
    """While active, `expand` gives an `Unresolved` value instead of raising for a variable
    that is not set (for a run in one process, which routes no message to any queue)."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def require(value: str) -> str:
    """`value`, when it is fully resolved.

    Raises:
        PlaceholderError: when it is an `Unresolved` value, naming the missing variable.
    """
    if isinstance(value, Unresolved):
        raise PlaceholderError(value.error)
    return value


def expand(template: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every `{VAR}` in `template` by the environment variable VAR.

    Args:
        template: the value as written in the YAML, e.g. `"{DEPLOYMENT_PREFIX}_tasks"`.
        what: what the value is, for the error message (e.g. "the queue of task 'Fetch'").
        environ: the variables to use; the process environment by default.

    Raises:
        PlaceholderError: naming the variable and the value when a variable is not set
            (outside `deferred()`).
    """
    env = os.environ if environ is None else environ
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        if name in env:
            return env[name]
        missing.append(name)
        return f"<unset {name}>"

    text = _TOKEN.sub(replace, template)
    if not missing:
        return text
    name = missing[0]
    error = (
        f"environment variable {name!r} is not set; {what} is {template!r}, "
        f"so set {name} in the worker's environment before importing the flow package"
    )
    if not _DEFERRED.get():
        raise PlaceholderError(error)
    value = Unresolved(text)
    value.error = error
    return value
