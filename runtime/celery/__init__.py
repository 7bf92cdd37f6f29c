"""Run flows of a generated package on Celery: `install(app, package)`, then `run_flow(...)`.

The only part of selinonc that imports Celery (and redis, for the flow states it shares between
workers). Workers start as usual, consuming the queues of the package's tables::

    app = Celery("myapp", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")
    selinonc.runtime.celery.install(app, "myapp.flowpkg")
    # celery -A myapp worker -Q orders,payments,order_dispatchers
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType
from typing import Any, TypeVar

try:
    from celery import Celery
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "selinonc.runtime.celery needs Celery and redis: pip install 'selinonc[celery]'"
    ) from exc

from selinonc.runtime.celery import guard, poller
from selinonc.runtime.celery.driver import Driver, load_system
from selinonc.runtime.celery.redis_store import RedisStore
from selinonc.runtime.celery.steps import REDELIVER_SECONDS
from selinonc.runtime.celery.store import FlowLost, NoSuchFlow, StoreError
from selinonc.runtime.errors import ConfigurationError

__all__ = ["Driver", "FlowHandle", "FlowLost", "StoreError", "install", "run_flow"]

_DRIVERS: dict[int, Driver] = {}
_LAST: list[Driver] = []
T = TypeVar("T")
# The Redis broker's visibility timeout when the app sets none: kombu's default, or the longest
# task time limit and a margin when that is longer (a running task's message must not come back
# while it runs; selinonc never waits for it to come back).
VISIBILITY_SECONDS = 3600.0
VISIBILITY_MARGIN = 300.0


def _store_url(app: Celery, url: str | None) -> str:
    """Where flow states live: `store_url`, the app's `selinonc_store_url` setting, else its
    result backend or broker when that is Redis."""
    candidates = [
        url,
        app.conf.get("selinonc_store_url"),
        app.conf.result_backend,
        app.conf.broker_url,
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            return candidate
    raise ConfigurationError(
        "selinonc keeps flow states in Redis, and this Celery app names no Redis server; "
        "pass store_url='redis://host:6379/0' to install(), or set the app's "
        "`selinonc_store_url`"
    )


def install(
    app: Celery,
    package: ModuleType | str,
    *,
    store_url: str | None = None,
    retention: timedelta | float = timedelta(days=7),
    redeliver_after: timedelta | float = timedelta(seconds=REDELIVER_SECONDS),
    max_message_bytes: int = guard.MAX_MESSAGE_BYTES,
) -> Driver:
    """Register the dispatcher and the task wrapper of a generated package on a Celery app.

    Args:
        app: the user's Celery app.
        package: the generated package (the imported module or its dotted name).
        store_url: the Redis server for flow states (see `_store_url` for the default).
        retention: how long a finished flow's state and outcome are kept (running flows
            never expire).
        redeliver_after: a published task that no worker has started this long after it was
            due is published again (its message may have died with a worker that held it),
            doubling each time up to an hour; a task whose worker died while running it is
            published again once its claim lapses (30 s), whatever this says.
        max_message_bytes: what a compressed message may decompress to in this process
            (zlib, bzip2 and lzma; selinonc's own messages are never compressed): a larger
            one is refused, not decompressed.

    Returns:
        The driver; `run_flow` uses the last one installed unless given an app.

    Raises:
        ConfigurationError: when a flow package is installed on this app already (one app
            runs one package: its tasks would clash).
    """
    if id(app) in _DRIVERS:
        raise ConfigurationError(
            f"a flow package ({_DRIVERS[id(app)].system.package!r}) is installed on this Celery "
            "app already; install one package per app"
        )
    seconds = _seconds("retention", retention)
    redeliver = _seconds("redeliver_after", redeliver_after)
    system = load_system(package)
    store = RedisStore(_store_url(app, store_url), namespace=system.package)
    driver = Driver(app, system, store, retention=seconds, redeliver_after=redeliver)
    app.steps["worker"].add(poller.bootstep(driver))
    guard.bound_decompression(max_message_bytes)
    guard.tolerate_bad_headers()
    guard.guard_released_channels()
    _fit_visibility_timeout(app)
    _DRIVERS[id(app)] = driver
    _LAST[:] = [driver]
    return driver


def _seconds(name: str, value: timedelta | float) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ConfigurationError(f"{name} must be positive, not {value!r}")
    return seconds


def _fit_visibility_timeout(app: Celery) -> None:
    """With a Redis broker and no visibility timeout set, set one that outlasts the longest
    task time limit (`task_time_limit`), so a running task's message is not delivered again
    while it runs."""
    url = app.conf.broker_url or ""
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        return
    options = dict(app.conf.broker_transport_options or {})
    if "visibility_timeout" in options:
        return
    limit = app.conf.task_time_limit or 0
    options["visibility_timeout"] = max(VISIBILITY_SECONDS, float(limit) + VISIBILITY_MARGIN)
    app.conf.broker_transport_options = options


def _retrying(what: Callable[[], T], deadline: float | None) -> T:
    """`what()`, again with back-off while the store cannot be reached, until `deadline`."""
    pause = 0.1
    while True:
        try:
            return what()
        except NoSuchFlow:
            raise
        except StoreError:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise
            time.sleep(pause if left is None else min(pause, left))
            pause = min(2 * pause, 5.0)


class FlowHandle:
    """A started flow: its id, a way to wait for its outcome, and its current state."""

    def __init__(self, driver: Driver, flow_id: str, flow_name: str) -> None:
        self.driver = driver
        self.id = flow_id
        self.flow_name = flow_name

    def wait(self, timeout: float | None = None) -> str:
        """Block until the flow ends; return "succeeded" or "failed". Waits through the
        store being unreachable (a Redis restart) until `timeout`.

        Raises:
            TimeoutError: when it has not ended after `timeout` seconds.
            FlowLost: when the store no longer knows the flow.
            StoreError: when the store was unreachable until `timeout`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        store = self.driver.store
        chunk = 0.5  # soon at first: a flow the store lacks is named at once
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            chunk = chunk if left is None else min(chunk, left)
            outcome = _retrying(functools.partial(store.outcome, self.id, chunk), deadline)
            if outcome is not None:
                return str(outcome["status"])
            if _retrying(lambda: store.meta(self.id), deadline) is None:
                raise self._lost()
            chunk = 5.0
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"flow {self.flow_name} ({self.id}) did not end in {timeout} s")

    def outcome(self) -> dict[str, Any] | None:
        """The flow's outcome (status, report, reason) once it has ended, else None."""
        return self.driver.store.outcome(self.id, timeout=0.001)

    def state(self, timeout: float = 30.0) -> dict[str, Any]:
        """The flow's nodes now: finished, failed, active; its status and retries (waiting up
        to `timeout` seconds through the store being unreachable).

        Raises:
            FlowLost: when the store no longer knows the flow.
        """
        deadline = time.monotonic() + timeout
        try:
            state = _retrying(lambda: self.driver.stepper.state(self.id), deadline)
        except NoSuchFlow:
            state = None
        if state is None:
            raise self._lost()
        return {**state.report(), "retried": state.retried}

    def _lost(self) -> FlowLost:
        return FlowLost(
            f"flow {self.flow_name} ({self.id}) is not in the flow store "
            f"{self.driver.store.url}: its Redis lost it (restarted without persistence: "
            "run it with appendonly yes), or it ended longer ago than its retention"
        )


def run_flow(flow_name: str, node_args: Any = None, *, app: Celery | None = None) -> FlowHandle:
    """Start a flow on Celery (the package installed on `app`, or the last one installed).

    Raises:
        UnknownFlowError: when the package has no such flow.
        ConfigurationError: when nothing was installed.
    """
    driver = _DRIVERS.get(id(app)) if app is not None else (_LAST[0] if _LAST else None)
    if driver is None:
        raise ConfigurationError("call selinonc.runtime.celery.install(app, package) first")
    return FlowHandle(driver, driver.start(flow_name, node_args), flow_name)
