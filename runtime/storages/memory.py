"""An in-memory storage: results live in the process (the embedded executor's usual choice)."""

from __future__ import annotations

import copy
import json as jsonlib
import sys
import threading
from typing import Any

from selinonc.runtime.errors import StorageError
from selinonc.runtime.storages import DataStorage


class InMemoryStorage(DataStorage):
    """Results by task id, in a dict.

    Args:
        echo: print every stored result: True or "stdout" to standard output, "stderr" to
            standard error.
        json: keep results as JSON text (so what is stored must be JSON, as with a real store).
    """

    def __init__(self, echo: bool | str = False, json: bool = False) -> None:
        super().__init__()
        self.echo = echo
        self.json = json
        self._results: dict[str, Any] = {}
        self._errors: dict[str, Any] = {}
        self._connected = False
        self._lock = threading.Lock()

    def connect(self) -> None:
        self._connected = True

    def is_connected(self) -> bool:
        return self._connected

    def disconnect(self) -> None:
        self._connected = False

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        with self._lock:
            try:
                value = self._results[task_id]
            except KeyError:
                raise StorageError(
                    f"no result of task {task_name!r} ({task_id}) in flow {flow_name!r}"
                ) from None
        return jsonlib.loads(value) if self.json else copy.deepcopy(value)

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        value = jsonlib.dumps(result) if self.json else copy.deepcopy(result)
        with self._lock:
            if task_id in self._results:
                raise StorageError(f"task {task_id} stored a result twice")
            self._results[task_id] = value
        if self.echo:
            stream = sys.stderr if self.echo == "stderr" else sys.stdout
            print(f"{flow_name}/{task_name}/{task_id}: {result!r}", file=stream)
        return task_id

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: Any
    ) -> Any:
        with self._lock:
            self._errors[task_id] = exc_info
        return task_id

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        with self._lock:
            self._results.pop(task_id, None)
