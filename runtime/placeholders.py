"""Deployment placeholders: `{VAR}` in queue names and paths, resolved from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from selinonc.runtime.errors import PlaceholderError

# What the compiler accepts (check SC621): `{NAME}` placeholders, `{{` and `}}` for braces.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(template: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every `{VAR}` in `template` by the environment variable VAR.

    Args:
        template: the value as written in the YAML, e.g. `"{DEPLOYMENT_PREFIX}_tasks"`.
        what: what the value is, for the error message (e.g. "the queue of task 'Fetch'").
        environ: the variables to use; the process environment by default.

    Raises:
        PlaceholderError: naming the variable and the value when a variable is not set.
    """
    env = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        try:
            return env[name]
        except KeyError:
            raise PlaceholderError(
                f"environment variable {name!r} is not set; {what} is {template!r}, "
                f"so set {name} in the worker's environment before importing the flow package"
            ) from None

    return _TOKEN.sub(replace, template)
