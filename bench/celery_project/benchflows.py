"""The no-op tasks of `make bench-celery`, for selinonc flows and for plain Celery."""

from __future__ import annotations

from typing import Any

from selinonc.runtime import SelinonTask


class Noop(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return None
