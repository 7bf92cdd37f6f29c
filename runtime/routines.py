"""The default selective run function."""

from __future__ import annotations

from typing import Any


def always_run(
    flow_name: str, node_name: str, node_args: Any, task_names: Any, results: Any
) -> str | None:
    """Run the task again (return None); return a task id instead to reuse its result."""
    return None
