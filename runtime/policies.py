"""What both drivers decide the same way: throttling of starts, and retrying a step that met a
storage or store error (decisions.md, runtime 5)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from selinonc.runtime.tables import System


class Throttle:
    """`throttling` of tasks and flows: the first start is immediate, each later one waits until
    the interval has passed since the previous one (per process, as the predecessor's)."""

    def __init__(self, system: System, clock: Callable[[], float]) -> None:
        self.system = system
        self.clock = clock
        self._next: dict[str, float] = {}  # node name -> when it may start next
        self._lock = threading.Lock()

    def delay(self, name: str) -> float:
        """Seconds until node `name` (a task or a flow) may start; 0 for now."""
        interval: timedelta | None
        if self.system.is_flow(name):
            interval = self.system.flow(name).throttling
        else:
            interval = self.system.task(name).throttling
        if interval is None:
            return 0.0
        with self._lock:
            now = self.clock()
            at = max(now, self._next.get(name, now))
            self._next[name] = at + interval.total_seconds()
        return at - now


@dataclass(frozen=True, slots=True)
class StepRetries:
    """A step that could not read a result or reach the store is retried whole after
    `countdown` seconds; after `limit` attempts (None: never) the flow fails."""

    countdown: float = 1.0
    limit: int | None = None

    def gives_up(self, attempt: int) -> bool:
        """True when attempt number `attempt` (from 0) was the last one allowed."""
        return self.limit is not None and attempt + 1 >= self.limit


# The embedded executor gives up: one process, no one else will recover the flow. On Celery a
# store or storage outage is waited out: the events stay pending, nothing is lost.
EMBEDDED_RETRIES = StepRetries(countdown=1.0, limit=10)
CELERY_RETRIES = StepRetries(countdown=1.0, limit=None)
