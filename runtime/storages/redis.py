"""A Redis storage: each result is a JSON record under `<key_prefix><task id>`."""

from __future__ import annotations

import json
from typing import Any

from selinonc.runtime.errors import StorageError
from selinonc.runtime.placeholders import expand
from selinonc.runtime.storages import DataStorage, safe_url


class RedisStorage(DataStorage):
    """Results in Redis.

    Args:
        url: `redis://[:password@]host:port/db`; `{VAR}` placeholders are resolved from the
            environment when the storage connects. Or give host, port, db and password.
        key_prefix: what every key starts with.
        socket_timeout: seconds before a Redis call gives up.
        expire: seconds to keep each result (None: for ever).
    """

    def __init__(
        self,
        url: str | None = None,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        password: str | None = None,
        key_prefix: str = "selinonc:result:",
        socket_timeout: float = 10,
        expire: int | None = None,
    ) -> None:
        super().__init__()
        self.url_template = url
        self.options: dict[str, Any] = {"host": host, "port": port, "db": db, "password": password}
        self.key_prefix = key_prefix
        self.socket_timeout = socket_timeout
        self.expire = expire
        self.client: Any = None

    def connect(self) -> None:
        import redis  # the `selinonc[redis]` extra

        if self.url_template is not None:
            url = expand(self.url_template, "the url of a Redis storage")
            self.client = redis.Redis.from_url(url, socket_timeout=self.socket_timeout)
            where = safe_url(url)
        else:
            host = expand(str(self.options["host"]), "the host of a Redis storage")
            password = self.options["password"]
            if isinstance(password, str):
                password = expand(password, "the password of a Redis storage")
            # Selinon's Redis storage expands `{VAR}` in port and db too; so does this one.
            port = int(expand(str(self.options["port"]), "the port of a Redis storage"))
            db = int(expand(str(self.options["db"]), "the db of a Redis storage"))
            self.client = redis.Redis(
                host=host, port=port, db=db, password=password, socket_timeout=self.socket_timeout
            )
            where = f"redis://{host}:{port}/{db}"
        try:
            self.client.ping()
        except redis.RedisError as exc:
            self.client = None
            raise StorageError(f"cannot connect to Redis at {where}: {exc}") from exc

    def is_connected(self) -> bool:
        return self.client is not None

    def disconnect(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return function(*args, **kwargs)
        except redis.RedisError as exc:
            raise StorageError(f"Redis could not {what}: {exc}") from exc

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        raw = self._call("read a result", self.client.get, self.key_prefix + task_id)
        if raw is None:
            raise StorageError(f"no result of task {task_name!r} ({task_id}) in Redis")
        record = json.loads(raw)
        if record.get("task_name") != task_name:
            raise StorageError(
                f"the record of {task_id} is of task {record.get('task_name')!r}, not {task_name!r}"
            )
        return record["result"]

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        record = {
            "flow_name": flow_name,
            "task_name": task_name,
            "task_id": task_id,
            "node_args": node_args,
            "result": result,
        }
        try:
            text = json.dumps(record)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"the result of {task_name!r} is not JSON data: {exc}") from exc
        key = self.key_prefix + task_id
        self._call("store a result", self.client.set, key, text, ex=self.expire)
        return key

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: Any
    ) -> Any:
        exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
        record = {
            "flow_name": flow_name,
            "task_name": task_name,
            "task_id": task_id,
            "error": f"{type(exc).__name__}: {exc}",
        }
        key = f"{self.key_prefix}error:{task_id}"
        self._call("store an error", self.client.set, key, json.dumps(record), ex=self.expire)
        return key

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        self._call("delete a result", self.client.delete, self.key_prefix + task_id)
