"""Foreach functions of the package analysis (`f(storage_pool, node_args) -> iterable`)."""

from __future__ import annotations

from typing import Any


def rebuild_slots(storage_pool: Any, node_args: dict[str, Any]) -> list[int]:
    """One `RebuildArchive` per rebuild that `PlanRebuilds` planned.

    The edge has no `propagate_result`: every rebuild gets the same node_args and the same
    parent, so the items only decide how many rebuilds start. That is the point of the check:
    identical inputs must give identical artifacts.
    """
    plan = storage_pool.get("PlanRebuilds")
    return list(range(plan["rebuilds"]))
