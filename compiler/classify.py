"""Stage `classify`: tell the nodes file from the flow files by their top-level keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from selinonc.compiler.diagnostics import Diagnostic, did_you_mean
from selinonc.compiler.load import Document
from selinonc.compiler.source import Span

NODE_KEYS = ("tasks", "flows", "storages", "global")
FLOWS_KEY = "flow-definitions"


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
