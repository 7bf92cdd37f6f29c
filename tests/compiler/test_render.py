"""Rendering diagnostics: each one costs the same however large the file and however many."""

from __future__ import annotations

from typing import SupportsIndex

from selinonc.compiler.diagnostics import Diagnostic, render
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
