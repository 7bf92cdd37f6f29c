"""Turn command-line inputs into files, and tell the nodes file from the flow files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from selinonc.compiler.diagnostics import Diagnostic, did_you_mean
from selinonc.compiler.load import Document
from selinonc.compiler.source import Span

YAML_SUFFIXES = (".yaml", ".yml")
NODE_KEYS = ("tasks", "flows", "storages", "global")
FLOWS_KEY = "flow-definitions"


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


@dataclass(frozen=True, slots=True, eq=False)
class Inputs:
    """The classified documents: one nodes document and any number of flow documents."""

    nodes: Document
    flows: tuple[Document, ...]


def _first_span(doc: Document) -> Span:
    keys = list(doc.data)
    return doc.key_span((keys[0],)) if keys else doc.span(())


def classify(docs: Sequence[Document]) -> tuple[Inputs | None, list[Diagnostic]]:
    """Find the nodes document and the flow documents by their top-level keys."""
    diagnostics: list[Diagnostic] = []
    nodes = [d for d in docs if any(k in d.data for k in NODE_KEYS)]
    flows = tuple(d for d in docs if FLOWS_KEY in d.data)
    for doc in docs:
        if not any(k in doc.data for k in (*NODE_KEYS, FLOWS_KEY)):
            keys = sorted(doc.data)
            hint = next((h for k in keys if (h := did_you_mean(k, (*NODE_KEYS, FLOWS_KEY)))), None)
            diagnostics.append(
                Diagnostic.error(
                    "SC122",
                    _first_span(doc),
                    "file is neither a nodes file (`tasks`, `flows`) "
                    "nor a flow file (`flow-definitions`)",
                    hint=hint or "is this file part of the flow configuration?",
                )
            )
    for extra in nodes[1:]:
        diagnostics.append(
            Diagnostic.error(
                "SC121",
                _first_span(extra),
                f"a second nodes file; {nodes[0].source.path} already defines the nodes",
                hint="keep `tasks`, `flows`, `storages` and `global` in one file",
            )
        )
    if not nodes and docs:
        diagnostics.append(
            Diagnostic.error(
                "SC120",
                _first_span(docs[0]),
                "no nodes file among the inputs: no file has `tasks` and `flows`",
                hint="pass the nodes file too, e.g. `selinonc check nodes.yaml flows/`",
            )
        )
    if nodes:
        for key in ("tasks", "flows"):
            if key not in nodes[0].data:
                diagnostics.append(
                    Diagnostic.error(
                        "SC112",
                        _first_span(nodes[0]),
                        f"the nodes file has no `{key}` list",
                        hint=f"add `{key}:` with the {key} of the system",
                    )
                )
    if diagnostics or not nodes:
        return None, diagnostics
    return Inputs(nodes[0], flows), diagnostics
