"""Dispatcher sampling strategies: how long the dispatcher waits before it looks at a flow again.

Each is `f(status, **args) -> seconds | None`; None (or a negative number) ends the dispatching of
the flow. `status` has `previous_retry`, `active_nodes`, `failed_nodes`, `new_started_nodes`,
`new_fallback_nodes` and `finished_nodes`. The seven named strategies keep the predecessor's
meaning; `default` is selinonc's own (decisions.md, runtime 6).
"""

from __future__ import annotations

import random as _random
from collections.abc import Mapping
from typing import Any

Status = Mapping[str, Any]


def _something_new(status: Status) -> bool:
    return bool(status.get("new_started_nodes") or status.get("new_fallback_nodes"))


def _previous(status: Status, start_retry: float) -> float:
    previous = status.get("previous_retry")
    return start_retry if previous is None else float(previous)


def default(status: Status, start_retry: float = 0.02, max_retry: float = 2.0) -> float | None:
    """selinonc's default: look again soon after new nodes start, back off while none do.

    A chain of instant tasks is re-checked every `start_retry` seconds; a flow waiting on slow
    tasks is re-checked less and less often, at most every `max_retry` seconds.
    """
    if not status.get("active_nodes"):
        return None
    if _something_new(status):
        return start_retry
    return min(_previous(status, start_retry) * 1.5, max_retry)


def constant(status: Status, retry: float) -> float | None:
    """Always wait `retry` seconds."""
    if not status.get("active_nodes"):
        return None
    return retry


def random(status: Status, start_retry: int, max_retry: int) -> float | None:
    """Wait a random whole number of seconds between `start_retry` and `max_retry`."""
    if not status.get("active_nodes"):
        return None
    return _random.randint(start_retry, max_retry)


def linear_increase(
    status: Status, start_retry: float, max_retry: float, step: float
) -> float | None:
    """Wait `step` longer than last time when something new started, else `start_retry`."""
    if not status.get("active_nodes"):
        return None
    if status.get("previous_retry") is None or not _something_new(status):
        return start_retry
    return min(_previous(status, start_retry) + step, max_retry)


def linear_adapt(status: Status, start_retry: float, max_retry: float, step: float) -> float | None:
    """Wait `step` longer when something new started, `step` shorter when not (clamped)."""
    if not status.get("active_nodes"):
        return None
    if status.get("previous_retry") is None:
        return start_retry
    previous = _previous(status, start_retry)
    delay = previous + step if _something_new(status) else previous - step
    return max(min(delay, max_retry), start_retry)


def biexponential_increase(status: Status, start_retry: float, max_retry: float) -> float | None:
    """Wait twice as long as last time when something new started, else `start_retry`."""
    if not status.get("active_nodes"):
        return None
    if status.get("previous_retry") is None or not _something_new(status):
        return start_retry
    return min(_previous(status, start_retry) * 2, max_retry)


def biexponential_decrease(status: Status, start_retry: float, stop_retry: float) -> float | None:
    """Wait half as long as last time, never less than `stop_retry`."""
    if not status.get("active_nodes"):
        return None
    if status.get("previous_retry") is None:
        return start_retry
    return max(_previous(status, start_retry) / 2, stop_retry)


def biexponential_adapt(status: Status, start_retry: float, max_retry: float) -> float | None:
    """Wait twice as long when something new started, half as long when not (clamped).

    Like the predecessor's, it answers `start_retry` on its first call even with nothing active.
    """
    if status.get("previous_retry") is None:
        return start_retry
    if not status.get("active_nodes"):
        return None
    previous = _previous(status, start_retry)
    delay = previous * 2 if _something_new(status) else previous / 2
    return max(min(delay, max_retry), start_retry)
