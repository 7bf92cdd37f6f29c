"""Render YAML values as inert Python literals, laid out close to ruff format's style.

Only data reaches generated code: None, booleans, integers, floats, strings, lists and mappings
with string keys. Anything else (dates, bytes) is refused with `UnsafeValue`; check SC701 reports
such values before code generation starts. Strings go through `repr`, so quotes, newlines,
backslashes and `__import__(...)` stay characters of a string; double quotes are preferred, as
ruff format prefers them.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Mapping, Sequence
from typing import Any

_MAX_INT_BITS = 13_000  # about 3,900 digits: Python refuses to print integers over 4,300
WIDTH = 88  # ruff and black's default, which projects that keep generated code use
INDENT = "    "


class UnsafeValue(ValueError):
    """A value that has no inert literal form (a date, bytes, ...)."""


def is_identifier(name: str) -> bool:
    """True for a name usable as a Python identifier (and not a keyword)."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and name.isascii()
        and name != "__debug__"  # cannot be assigned to, not even as a keyword argument
    )


def string(value: str) -> str:
    """A string literal; double-quoted unless that needs more escapes (ruff format's rule)."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        # The value holds no quote at all: repr's single quotes are only its default, and
        # swapping them changes nothing inside.
        return '"' + text[1:-1] + '"'
    return text


def scalar(value: Any) -> str | None:
    """The literal of a scalar, or None when `value` is a container."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise UnsafeValue("an integer of more than 4,000 digits has no literal form")
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, Mapping | list | tuple):
        return None
    raise UnsafeValue(f"a {type(value).__name__} value has no literal form in generated code")


def one_line(value: Any) -> str:
    """The literal of `value` on one line."""
    text = scalar(value)
    if text is not None:
        return text
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)}: {one_line(v)}" for k, v in value.items()) + "}"
    items = ", ".join(one_line(v) for v in value)
    if isinstance(value, tuple):
        return "(" + items + ("," if len(value) == 1 else "") + ")"
    return "[" + items + "]"


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise UnsafeValue(f"a mapping key of type {type(key).__name__}")
    return string(key)


def block(value: Any, column: int, level: int) -> str:
    """The literal of `value`, broken over lines when it does not fit.

    Args:
        value: the data.
        column: the column the literal starts at (what precedes it on its first line).
        level: the indentation level of the line it starts on.

    Returns:
        Text whose continuation lines are indented from `level`; a broken container has one
        item per line and a trailing comma, which ruff format keeps as it is.
    """
    text = one_line(value)
    if column + len(text) <= WIDTH or scalar(value) is not None or not value:
        return text
    inner = INDENT * (level + 1)
    lines: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            head = f"{inner}{_key(k)}: "
            lines.append(head + block(v, len(head), level + 1) + ",")
        return "{\n" + "\n".join(lines) + "\n" + INDENT * level + "}"
    for v in value:
        lines.append(inner + block(v, len(inner), level + 1) + ",")
    opening, closing = ("(", ")") if isinstance(value, tuple) else ("[", "]")
    return opening + "\n" + "\n".join(lines) + "\n" + INDENT * level + closing


def call(function: str, args: Sequence[str], column: int, level: int) -> str:
    """`function(arg, ...)` on one line when it fits, else one argument per line."""
    text = f"{function}({', '.join(args)})"
    if column + len(text) <= WIDTH or not args:
        return text
    inner = INDENT * (level + 1)
    return f"{function}(\n" + "".join(f"{inner}{a},\n" for a in args) + INDENT * level + ")"


def keyword_args(
    values: Mapping[str, Any], column: int, level: int, *, flat: bool = False
) -> list[str]:
    """Keyword arguments `name=literal`; names that are not identifiers go in one `**{...}`.

    With `flat`, every literal is on one line; else a literal that does not fit from `column`
    is broken over lines indented from `level`.
    """
    plain = {k: v for k, v in values.items() if is_identifier(k)}
    rest = {k: v for k, v in values.items() if k not in plain}

    def render(value: Any, at: int) -> str:
        return one_line(value) if flat else block(value, at, level)

    out = [f"{k}={render(v, column + len(k) + 1)}" for k, v in plain.items()]
    if rest:
        out.append("**" + render(rest, column + 2))
    return out
