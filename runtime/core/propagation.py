"""The nodes of finished or failed sub-flows, as `parent` shows them to later nodes.

`propagate_finished` nests them by sub-flow name (`{'sub': {'B': [ids], 'sub2': {'C': [ids]}}}`);
`propagate_compound_finished` flattens every level into one mapping of task names to ids. The
tree is read from the sub-flows' reports, whatever the inner flows' own options say.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _merge(into: dict[str, Any], tree: Mapping[str, Any]) -> None:
    for name, value in tree.items():
        if isinstance(value, list):
            into.setdefault(name, []).extend(value)
        else:
            _merge(into.setdefault(name, {}), value)


def subflow_tree(
    report: Mapping[str, Any], key: str, is_flow: Callable[[str], bool], *, compound: bool
) -> dict[str, Any]:
    """The nodes of a sub-flow's report under `key` ("finished_nodes" or "failed_nodes").

    Args:
        report: the sub-flow's report (its `FlowState.report()`).
        key: which nodes.
        is_flow: tells sub-flow names from task names.
        compound: flatten nested sub-flows into one level of task names.
    """
    out: dict[str, Any] = {}
    subflows = report.get("subflows", {})
    for name, ids in report.get(key, {}).items():
        if not is_flow(name):
            out.setdefault(name, []).extend(ids)
            continue
        for node_id in ids:
            inner = subflow_tree(subflows.get(node_id, {}), key, is_flow, compound=compound)
            _merge(out if compound else out.setdefault(name, {}), inner)
    return out
