"""Source files and positions: what every diagnostic points at."""

from __future__ import annotations

from dataclasses import dataclass
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

    def line(self, number: int) -> str | None:
        """Return the 1-based line `number` without its line break, or None if out of range."""
        lines = self.text.splitlines()
        if 1 <= number <= len(lines):
            return lines[number - 1]
        return None
