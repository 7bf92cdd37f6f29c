"""Rendering diagnostics: each one costs the same however large the file and however many."""

from __future__ import annotations

from typing import SupportsIndex

import pytest

from selinonc.compiler.diagnostics import MAX_SHOWN_LINE, Diagnostic, render
from selinonc.compiler.source import SourceFile, Span


class _CountingText(str):
    """A file's text that counts how often it is split into lines."""

    splits = 0

    def splitlines(self, keepends: bool = False) -> list[str]:
        type(self).splits += 1
        return super().splitlines(keepends)

    def split(self, sep: str | None = None, maxsplit: SupportsIndex = -1) -> list[str]:
        type(self).splits += 1
        return super().split(sep, maxsplit)


def test_a_file_is_split_into_lines_once_for_all_its_diagnostics() -> None:
    text = _CountingText("".join(f"- task{i}: x\n" for i in range(1000)))
    source = SourceFile("f.yaml", text)
    sources = {"f.yaml": source}
    for i in range(1, 1001):
        shown = render(Diagnostic.warning("SC504", Span("f.yaml", i, 3), "m"), sources)
        assert f"    - task{i - 1}: x\n      ^" in shown
    assert _CountingText.splits == 1
    assert source.line(0) is None and source.line(1001) is None
    assert source == SourceFile("f.yaml", str(text))  # the cache is not part of the value


def test_a_long_line_is_shown_as_a_window_around_the_caret() -> None:
    line = "".join(f"{{name: T{i}}}, " for i in range(20_000))  # flow-style YAML on one line
    col = line.index("T12345") + 1
    shown = render(
        Diagnostic.warning("SC504", Span("f.yaml", 1, col), "m"),
        {"f.yaml": SourceFile("f.yaml", line)},
    )
    _, text, caret = shown.split("\n")
    assert len(text) <= 4 + 3 + MAX_SHOWN_LINE + 3
    assert text.startswith("    ...") and text.endswith("...")
    assert text[caret.index("^") :].startswith("T12345")


@pytest.mark.parametrize(("at_end", "cut"), [(False, "after"), (True, "before")])
def test_the_window_stops_at_the_ends_of_a_long_line(at_end: bool, cut: str) -> None:
    line = "a" + "x" * (3 * MAX_SHOWN_LINE) + "z"
    col = len(line) if at_end else 1
    shown = render(
        Diagnostic.warning("SC504", Span("f", 1, col), "m"), {"f": SourceFile("f", line)}
    )
    _, text, caret = shown.split("\n")
    assert text.startswith("    ...") is (cut == "before")
    assert text.endswith("...") is (cut == "after")
    assert text[caret.index("^")] == ("z" if at_end else "a")
