"""Source files and positions: what every diagnostic points at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Span(NamedTuple):
    """A 1-based position in a source file (the start of a YAML key or value).

    A named tuple rather than a dataclass: the compiler makes hundreds of thousands of them.
    """

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A loaded input file: its display path and its text (empty when unreadable)."""

    path: str
    text: str
    # The text split into lines on the first `line()` call, so that rendering N diagnostics
    # splits it once, not N times (40,000 findings on a 40,000-line file took minutes).
    _lines: tuple[str, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def line(self, number: int) -> str | None:
        """Return the 1-based line `number` without its line break, or None if out of range."""
        lines = self._lines
        if lines is None:
            lines = tuple(self.text.splitlines())
            object.__setattr__(self, "_lines", lines)  # a cache: the value stays the same
        if 1 <= number <= len(lines):
            return lines[number - 1]
        return None
