"""The no-op task and the foreach functions of `make bench-celery`'s selinonc flows."""

from __future__ import annotations

from typing import Any

from selinonc.runtime import SelinonTask


class Noop(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return None


def items_100(results: Any, node_args: Any) -> list[int]:
    """The foreach of `spread100`: 100 items, each an `item` sub-flow."""
    return list(range(100))


def items_1000(results: Any, node_args: Any) -> list[int]:
    """The foreach of `spread1000`."""
    return list(range(1000))


def items_5000(results: Any, node_args: Any) -> list[int]:
    """The foreach of `spread5000`."""
    return list(range(5000))
