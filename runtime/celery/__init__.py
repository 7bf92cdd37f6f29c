"""Run flows of a generated package on Celery: `install(app, package)`, then `run_flow(...)`.

The only part of selinonc that imports Celery (and redis, for the flow states it shares between
workers). Workers start as usual, consuming the queues of the package's tables::

    app = Celery("myapp", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")
    selinonc.runtime.celery.install(app, "myapp.flowpkg")
    # celery -A myapp worker -Q orders,payments,order_dispatchers
"""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType
from typing import Any

try:
    from celery import Celery
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "selinonc.runtime.celery needs Celery and redis: pip install 'selinonc[celery]'"
    ) from exc

from selinonc.runtime.celery.driver import Driver, load_system
from selinonc.runtime.celery.redis_store import RedisStore
from selinonc.runtime.celery.store import StoreError
from selinonc.runtime.errors import ConfigurationError

__all__ = ["Driver", "FlowHandle", "StoreError", "install", "run_flow"]

_DRIVERS: dict[int, Driver] = {}
_LAST: list[Driver] = []


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
) -> Driver:
    """Register the dispatcher and the task wrapper of a generated package on a Celery app.

    Args:
        app: the user's Celery app.
        package: the generated package (the imported module or its dotted name).
        store_url: the Redis server for flow states (see `_store_url` for the default).
        retention: how long a finished flow's state and outcome are kept (running flows
            never expire).

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
    seconds = retention.total_seconds() if isinstance(retention, timedelta) else retention
    if seconds <= 0:
        raise ConfigurationError(f"retention must be positive, not {retention!r}")
    store = RedisStore(_store_url(app, store_url))
    driver = Driver(app, load_system(package), store, retention=seconds)
    _DRIVERS[id(app)] = driver
    _LAST[:] = [driver]
    return driver


class FlowHandle:
    """A started flow: its id, a way to wait for its outcome, and its current state."""

    def __init__(self, driver: Driver, flow_id: str, flow_name: str) -> None:
        self.driver = driver
        self.id = flow_id
        self.flow_name = flow_name

    def wait(self, timeout: float | None = None) -> str:
        """Block until the flow ends; return "succeeded" or "failed".

        Raises:
            TimeoutError: when it has not ended after `timeout` seconds.
        """
        outcome = self.driver.store.outcome(self.id, timeout)
        if outcome is None:
            raise TimeoutError(f"flow {self.flow_name} ({self.id}) did not end in {timeout} s")
        return str(outcome["status"])

    def outcome(self) -> dict[str, Any] | None:
        """The flow's outcome (status, report, reason) once it has ended, else None."""
        return self.driver.store.outcome(self.id, timeout=0.001)

    def state(self) -> dict[str, Any]:
        """The flow's nodes now: finished, failed, active; its status and retries."""
        state = self.driver.stepper.state(self.id)
        if state is None:
            raise StoreError(f"no flow {self.id} in the flow store")
        return {**state.report(), "retried": state.retried}


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
