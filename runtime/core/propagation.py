"""The nodes of finished or failed sub-flows, as `parent` shows them to later nodes.

`propagate_finished` nests them by sub-flow name (`{'sub': {'B': [ids], 'sub2': {'C': [ids]}}}`);
`propagate_compound_finished` flattens every level into one mapping of task names to ids. The
tree is read from the sub-flows' reports (through the driver), whatever the inner flows' own
options say.
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
    node_id: str,
    key: str,
    is_flow: Callable[[str], bool],
    reports: Callable[[str], Mapping[str, Any] | None],
    *,
    compound: bool,
) -> dict[str, Any]:
    """The nodes under `key` ("finished_nodes" or "failed_nodes") of the sub-flow that ran as
    node `node_id`, and of the sub-flows it ran in turn.

    Args:
        node_id: the sub-flow's node id (its flow id).
        key: which nodes.
        is_flow: tells sub-flow names from task names.
        reports: a finished sub-flow's report by its node id (None when it is unknown).
        compound: flatten nested sub-flows into one level of task names.
    """
    out: dict[str, Any] = {}
    for name, ids in (reports(node_id) or {}).get(key, {}).items():
        if not is_flow(name):
            out.setdefault(name, []).extend(ids)
            continue
        for inner_id in ids:
            inner = subflow_tree(inner_id, key, is_flow, reports, compound=compound)
            _merge(out if compound else out.setdefault(name, {}), inner)
    return out
