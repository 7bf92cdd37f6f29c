"""A filesystem storage: one JSON file per result, `<path>/<flow>/<task>/<task id>.json`."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from selinonc.runtime.errors import StorageError
from selinonc.runtime.placeholders import expand
from selinonc.runtime.storages import DataStorage


class Filesystem(DataStorage):
    """Results as JSON files under `path` (`{VAR}` placeholders are resolved when connecting)."""

    def __init__(self, path: str = ".") -> None:
        super().__init__()
        self.template = path
        self.path = ""

    def connect(self) -> None:
        self.path = expand(self.template, "the path of a Filesystem storage")
        os.makedirs(self.path, exist_ok=True)

    def is_connected(self) -> bool:
        return bool(self.path)

    def disconnect(self) -> None:
        self.path = ""

    def _file(self, flow_name: str, task_name: str, task_id: str) -> str:
        for part in (flow_name, task_name, task_id):
            if not part or os.sep in part or part in (".", ".."):
                raise StorageError(f"{part!r} cannot be part of a result's file name")
        return os.path.join(self.path, flow_name, task_name, f"{task_id}.json")

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        path = self._file(flow_name, task_name, task_id)
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read the result {path}: {exc}") from exc

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        path = self._file(flow_name, task_name, task_id)
        tmp = None
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(result, handle)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError) as exc:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
            raise StorageError(f"cannot store the result {path}: {exc}") from exc
        return path

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        path = self._file(flow_name, task_name, task_id)
        if os.path.exists(path):
            os.remove(path)
