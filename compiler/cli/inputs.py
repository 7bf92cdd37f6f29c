"""Command-line inputs: files and directories expanded into the list of input files."""

from __future__ import annotations

import os
from collections.abc import Sequence

YAML_SUFFIXES = (".yaml", ".yml")


class UsageError(Exception):
    """A command-line input that cannot be used at all (exit code 2)."""


def _walk(directory: str, seen: set[str]) -> list[str]:
    """YAML files below `directory`, sorted, following symlinks, skipping dot-files."""
    found: list[str] = []
    for root, dirs, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a symlink loop
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            os.path.join(root, name)
            for name in sorted(files)
            if not name.startswith(".") and name.endswith(YAML_SUFFIXES)
        )
    return sorted(found)


def expand(paths: Sequence[str]) -> list[str]:
    """Expand files and directories (recursively) into the list of input files.

    Raises:
        UsageError: when a path does not exist or a directory holds no YAML file.
    """
    if not paths:
        raise UsageError("no inputs: give a flow configuration file or a directory")
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            below = _walk(path, set())
            if not below:
                raise UsageError(f"{path}: directory holds no *.yaml or *.yml file")
            files.extend(below)
        elif os.path.exists(path):
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    unique: dict[str, str] = {}
    for name in files:
        unique.setdefault(os.path.realpath(name), os.path.normpath(name))
    return list(unique.values())
