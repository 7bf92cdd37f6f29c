"""Helpers the lowering modules share: source origins, constructor calls, placeholder values."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from selinonc.compiler import literals
from selinonc.compiler.literals import INDENT
from selinonc.compiler.source import Span


@dataclass(frozen=True, slots=True)
class Origins:
    """Input paths as generated code shows them: relative to the inputs' common directory.

    So the same inputs give the same comments whatever the working directory or the order of
    the files on the command line.
    """

    root: str

    @classmethod
    def of(cls, files: Sequence[str]) -> Origins:
        dirs = [os.path.dirname(os.path.abspath(f)) for f in files]
        return cls(os.path.commonpath(dirs) if dirs else os.getcwd())

    def display(self, path: str) -> str:
        """The path of an input file relative to the common directory, with forward slashes.

        Non-printable characters are escaped: the path goes into comments, where a newline in a
        file name would otherwise end the comment and start code.
        """
        rel = os.path.relpath(os.path.abspath(path), self.root).replace(os.sep, "/")
        return rel if rel.isprintable() else repr(rel)[1:-1]

    def at(self, span: Span) -> str:
        """`file:line` of a span."""
        return f"{self.display(span.file)}:{span.line}"


def constructor(cls: str, fields: Sequence[tuple[str, str]], level: int) -> str:
    """`cls(name=value, ...)` with one field per line and a trailing comma (stable diffs).

    Values are rendered already, for lines indented at `level + 1`.
    """
    if not fields:
        return f"{cls}()"
    inner = INDENT * (level + 1)
    body = "".join(f"{inner}{name}={value},\n" for name, value in fields)
    return f"{cls}(\n{body}{INDENT * level})"


def queue_expr(template: str, what: str) -> str:
    """A string that may hold `{VAR}` placeholders: a literal, or an `expand(...)` call that
    resolves the placeholders from the environment when the package is imported."""
    if "{" not in template and "}" not in template:
        return literals.string(template)
    return f"expand({literals.string(template)}, {literals.string(what)})"


def timedelta_expr(interval: Mapping[str, Any], level: int) -> str:
    """`timedelta(seconds=1, ...)` for a `throttling=` field on a line indented at `level`."""
    column = len(INDENT) * level + len("throttling=")
    arguments = literals.keyword_args(interval, column, level + 1)
    return literals.call("timedelta", arguments, column, level)


def factory(name: str, module: str, classname: str, configuration: Any, what: str) -> str:
    """A function that imports a class when first called and returns an instance of it.

    A mapping configuration gives keyword arguments, anything else one positional argument
    (as the predecessor does); no configuration (a storage that needs none) gives no arguments.
    """
    args: Sequence[str]
    if configuration is None:
        args = []
    elif isinstance(configuration, Mapping):
        args = literals.keyword_args(configuration, 8, 2)
    else:
        args = [literals.block(configuration, 8, 2)]
    call = literals.call(classname, args, len("    return "), 1)
    return (
        f"def {name}() -> Any:\n"
        f"    # Creates {what}.\n"
        f"    from {module} import {classname}\n\n"
        f"    return {call}\n"
    )
