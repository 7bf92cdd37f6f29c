"""Foreach functions of the order fulfilment (`f(storage_pool, node_args) -> iterable`)."""

from __future__ import annotations

from typing import Any


def order_lines(storage_pool: Any, node_args: dict[str, Any]) -> list[dict[str, Any]]:
    """One `reserve_line_item` sub-flow per order line.

    The edge has `propagate_result: true`, so each item is the node_args of one sub-flow.
    """
    return [
        {
            "order_id": node_args["order_id"],
            "line_no": number,
            "sku": line["sku"],
            "quantity": line["quantity"],
        }
        for number, line in enumerate(node_args["lines"], start=1)
    ]
