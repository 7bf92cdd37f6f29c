"""Command-line inputs: directories, ordering, dot-files, and telling nodes from flow files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from selinonc.compiler.cli.inputs import UsageError, expand


def touch(path: Path, text: str = "a: 1\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_directories_expand_recursively_sorted_skipping_dot_files(tmp_path: Path) -> None:
    touch(tmp_path / "b.yaml")
    touch(tmp_path / "a.yml")
    touch(tmp_path / "sub" / "c.yaml")
    touch(tmp_path / ".hidden.yaml")
    touch(tmp_path / ".git" / "x.yaml")
    touch(tmp_path / "notes.txt")
    found = expand([str(tmp_path)])
    assert [os.path.relpath(f, tmp_path) for f in found] == ["a.yml", "b.yaml", "sub/c.yaml"]


def test_a_file_given_twice_is_read_once(tmp_path: Path) -> None:
    touch(tmp_path / "a.yaml")
    assert len(expand([str(tmp_path / "a.yaml"), str(tmp_path)])) == 1


def test_symlink_loops_terminate(tmp_path: Path) -> None:
    touch(tmp_path / "d" / "a.yaml")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    assert len(expand([str(tmp_path / "d")])) == 1


@pytest.mark.parametrize("bad", ["missing.yaml", "emptydir"])
def test_missing_inputs_are_usage_errors(tmp_path: Path, bad: str) -> None:
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(UsageError):
        expand([str(tmp_path / bad)])
    with pytest.raises(UsageError):
        expand([])
