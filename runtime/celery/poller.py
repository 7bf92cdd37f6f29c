"""The deadline poller: every worker sends what is overdue in the store's deadline index.

A message held by a worker that dies (prefetched, waiting for its countdown, or running) comes
back from a Redis broker only after its visibility timeout (an hour by default), so nothing
selinonc needs waits in one: what must happen by when is a deadline in the store
(store.py), and each worker's main process polls the index once a second (a Celery bootstep
starts the thread). A member the poller takes is due again later, backing off, until what it
sent has happened, so a send lost in its turn is sent again:

- `c:` a flow's safety-net check, `s:` a flow's start, `t:` a flow retry's timer: a dispatcher
  message;
- `n:` a task that was not claimed in time, or whose claim lapsed (its worker is gone): the task
  the flow published, sent again (its claim lets one delivery run it).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any

from celery import bootsteps

from selinonc.runtime.celery.store import Due, flow_of

if TYPE_CHECKING:
    from selinonc.runtime.celery.driver import Driver

POLL_SECONDS = 1.0  # how often each worker looks at the index
BATCH = 200  # members one poll takes at most (a full batch polls again at once)
MOST_SECONDS = 3600.0  # a member taken again and again is sent at least this often
# After the store was unreachable, the poller waits this long before it polls again: claims
# lapsed while nobody could renew them, and their running tasks renew them (every 10 s) first.
RECOVERY_SECONDS = 15.0
_log = logging.getLogger("selinonc.celery")


class Poller:
    """Sends what the deadline index says is overdue, for one driver."""

    def __init__(
        self,
        driver: Driver,
        *,
        interval: float = POLL_SECONDS,
        recovery: float = RECOVERY_SECONDS,
    ) -> None:
        self.driver = driver
        self.interval = interval
        self.recovery = recovery
        self.sent = 0  # what this poller has sent (for tests and logs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> int:
        """Take what is overdue and send it; return how many members were taken."""
        store = self.driver.store
        resend = max(self.driver.stepper.redeliver_after, 1.0)
        taken = store.due(BATCH, resend, MOST_SECONDS)
        if not taken:
            return 0
        # A connection of its own: the worker's event loop owns the ones it consumes with.
        with self.driver.app.connection_for_write() as connection:
            for due in taken:
                try:
                    self._send(due, connection)
                except Exception:  # one bad member must not stop the rest (due again later)
                    _log.exception("selinonc: could not send %s", due.member)
        return len(taken)

    def _send(self, due: Due, connection: Any = None) -> None:
        kind, _, rest = due.member.partition(":")
        store, publisher = self.driver.store, self.driver.publisher
        if kind == "n":
            self._redeliver(due, rest, connection)
            return
        flow_id, _, tail = rest.partition(":")
        meta = self.driver.stepper.meta(flow_id)
        if meta is None or meta.flow not in self.driver.system.flows:
            store.unschedule(due.member)  # gone (retention, a Redis that kept nothing)
            return
        if kind == "c":
            event = f"check:{tail}"
        elif kind == "s":
            event = "start"
        elif kind == "t":
            event = f"timer:{tail}" if tail else "timer"
        else:
            store.unschedule(due.member)
            return
        if due.tries:  # it was sent before and has not happened since
            _log.info("selinonc: sending %s of flow %s again", event.partition(":")[0], flow_id)
        publisher.dispatch(meta.flow, flow_id, event, connection)
        self.sent += 1

    def _redeliver(self, due: Due, node_id: str, connection: Any = None) -> None:
        """A task not claimed in time, or whose claim lapsed: send what the flow published."""
        store = self.driver.store
        action = store.sent(node_id)
        if action is None:
            return  # done, gone, or running again (its deadline follows the claim)
        flow_id = flow_of(node_id)
        meta = self.driver.stepper.meta(flow_id)
        system = self.driver.system
        if meta is None or meta.flow not in system.flows:
            store.unschedule(due.member)
            return
        nowait = action["name"] in system.flow(meta.flow).nowait
        stale = action["status"] != "running" or action["attempt"] != action.get("retried", 0)
        if stale and not nowait:  # the flow ended, or a flow retry abandoned the node
            store.unschedule(due.member)
            return
        _log.warning(
            "selinonc: node %s (%s) was not claimed in time or its worker is gone; sending it "
            "again (%d)",
            node_id,
            action["name"],
            due.tries + 1,
        )
        with contextlib.suppress(Exception):
            self.driver.tracer(
                "NODE_REDELIVERED",
                {"flow_id": flow_id, "node_id": node_id, "node_name": action["name"]},
            )
        task: dict[str, Any] = {k: v for k, v in action.items() if k not in ("status", "attempt")}
        self.driver.publisher.task(meta.flow, flow_id, task, throttled=False, connection=connection)
        self.sent += 1

    # --- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        """Poll on a daemon thread until `stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="selinonc-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        failing = 0.0
        while not self._stop.is_set():
            try:
                if failing:
                    self.driver.store.unschedule("")  # reachable again?
                    _log.warning(
                        "selinonc: the flow store is back; polling deadlines again in %.0f s",
                        self.recovery,
                    )
                    failing = 0.0
                    if self._stop.wait(self.recovery):  # running tasks renew their claims
                        return
                full = self.poll() >= BATCH
            except Exception as exc:  # the store is down: back off, never die
                if not failing:
                    _log.warning("selinonc: cannot poll deadlines (%s); retrying", exc)
                failing = min(max(2 * failing, self.interval), 30.0)
                self._stop.wait(failing)
                continue
            if not full:
                self._stop.wait(self.interval)


def bootstep(driver: Driver) -> type[bootsteps.StartStopStep]:
    """A worker bootstep that runs `driver`'s poller in the worker's main process."""

    class DeadlinePoller(bootsteps.StartStopStep):  # type: ignore[misc]
        """selinonc: send what is overdue in the flow store's deadline index."""

        def __init__(self, parent: Any, **kwargs: Any) -> None:
            super().__init__(parent, **kwargs)
            self.poller = Poller(driver)

        def start(self, parent: Any) -> None:
            self.poller.start()

        def stop(self, parent: Any) -> None:
            self.poller.stop()

        def shutdown(self, parent: Any) -> None:
            self.poller.stop()

    return DeadlinePoller
