"""The storages of a running system: created and connected on first use, one per process."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from selinonc.runtime.errors import StorageError
from selinonc.runtime.tables import System

_KEEP_FLOWS = 10_000  # task ids whose flow a pool remembers (older ones: from the node id)


class StoragePool:
    """Stores and reads task results through the storages of the tasks' tables.

    `storage_task_name` is the name used with the storage for storing, reading and deleting
    alike (decisions.md, runtime 2). Any exception a storage raises becomes a StorageError.
    """

    def __init__(self, system: System, locate: Callable[[str], str | None] | None = None) -> None:
        """`locate(flow_id)` names the flow of a flow instance, so a result can be read from
        the flow its task ran in (node ids are `<flow id>.<n>`), in any process."""
        self.system = system
        self.locate = locate
        self._instances: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._caches: dict[str, Any] = {}
        # task id -> the flow it ran in (for parents' reads), the most recent ones only: a
        # long-lived worker stores millions of results
        self._flows: OrderedDict[str, str] = OrderedDict()

    def connected(self, storage_name: str) -> Any:
        """The storage's instance, created and connected the first time it is asked for."""
        instance = self._instances.get(storage_name)
        if instance is not None:
            return instance
        with self._lock:
            if storage_name not in self._instances:
                spec = self.system.storage(storage_name)
                try:
                    instance = spec.create()
                    instance.connect()
                except Exception as exc:
                    origin = self.system.origin("storage", storage_name)
                    where = f" ({origin})" if origin else ""
                    raise StorageError(
                        f"cannot connect storage {storage_name!r}{where}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                self._instances[storage_name] = instance
            return self._instances[storage_name]

    def close(self) -> None:
        """Disconnect every storage this pool connected."""
        with self._lock:
            instances, self._instances = list(self._instances.values()), {}
        for instance in instances:
            with contextlib.suppress(Exception):  # closing is best effort
                instance.disconnect()

    def storage_of(self, task_name: str) -> Any | None:
        """The connected storage of a task, or None when it has none."""
        task = self.system.task(task_name)
        return self.connected(task.storage) if task.storage else None

    def flow_of(self, task_id: str, default: str) -> str:
        """The flow a task ran in: from this process's own stores, else from its node id."""
        known = self._flows.get(task_id)
        if known is not None:
            return known
        flow_id, dot, _ = task_id.rpartition(".")
        located = self.locate(flow_id) if self.locate is not None and dot else None
        return located or default

    def cache(self, storage_name: str) -> Any | None:
        """The result cache of a storage (created on first use), or None when it has none."""
        spec = self.system.storage(storage_name).cache
        if spec is None:
            return None
        with self._lock:
            if storage_name not in self._caches:
                self._caches[storage_name] = spec.create()
            return self._caches[storage_name]

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result of a task (from its storage's cache when it has one)."""
        task = self.system.task(task_name)
        if task.storage is None:
            raise StorageError(f"task {task_name!r} has no storage: its results are not kept")
        storage = self.connected(task.storage)
        flow = self.flow_of(task_id, flow_name)
        cache = self.cache(task.storage)
        if cache is not None:
            with contextlib.suppress(Exception):  # a miss, or a broken cache: neither is fatal
                return cache.get(task_id, task_name=task.stored_as, flow_name=flow)
        try:
            result = storage.retrieve(flow, task.stored_as, task_id)
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(
                f"cannot read the result of {task_name!r} ({task_id}) from {task.storage!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if cache is not None:
            with contextlib.suppress(Exception):  # a broken cache is not fatal
                cache.add(task_id, result, task_name=task.stored_as, flow_name=flow)
        return result

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        """Store a result in the task's storage; return where it went."""
        task = self.system.task(task_name)
        storage = self.connected(task.storage or "")
        try:
            location = storage.store(node_args, flow_name, task.stored_as, task_id, result)
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(
                f"cannot store the result of {task_name!r} ({task_id}) in {task.storage!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._flows[task_id] = flow_name
        if len(self._flows) > _KEEP_FLOWS:
            self._flows.popitem(last=False)
        return location

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: Any
    ) -> bool:
        """Record a task's final failure; False when the storage does not record errors."""
        task = self.system.task(task_name)
        storage = self.connected(task.storage or "")
        try:
            storage.store_error(node_args, flow_name, task.stored_as, task_id, exc_info)
        except NotImplementedError:
            return False
        return True
