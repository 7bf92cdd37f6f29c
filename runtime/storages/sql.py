"""A SQL storage through SQLAlchemy 2: PostgreSQL, MariaDB/MySQL, SQLite (one row per result)."""

from __future__ import annotations

import json
import time
from typing import Any

from selinonc.runtime.errors import StorageError
from selinonc.runtime.placeholders import expand
from selinonc.runtime.storages import DataStorage, safe_url


class SQLStorage(DataStorage):
    """Results as rows of `table` (created if missing): flow, task, task id, state, JSON data.

    Args:
        url: an SQLAlchemy URL, e.g. `postgresql+psycopg://user@host/db`,
            `mysql+pymysql://root@host/db`, `sqlite:///results.db`; `{VAR}` placeholders are
            resolved from the environment when the storage connects.
        table: the table's name.
        echo: log every SQL statement.
        connect_timeout: seconds to wait for the server (PostgreSQL and MySQL).
    """

    def __init__(
        self,
        url: str,
        table: str = "selinonc_results",
        echo: bool = False,
        connect_timeout: int = 10,
    ) -> None:
        super().__init__()
        self.url_template = url
        self.table_name = table
        self.echo = echo
        self.connect_timeout = connect_timeout
        self.engine: Any = None
        self.table: Any = None

    def connect(self) -> None:
        import sqlalchemy as sa  # the `selinonc[sql]` extra

        url = expand(self.url_template, "the url of a SQL storage")
        where = safe_url(url)
        args = {} if url.startswith("sqlite") else {"connect_timeout": self.connect_timeout}
        try:
            engine = sa.create_engine(url, echo=self.echo, pool_pre_ping=True, connect_args=args)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StorageError(f"cannot use the SQL storage URL {where}: {exc}") from exc
        metadata = sa.MetaData()
        self.table = sa.Table(
            self.table_name,
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("flow_name", sa.String(255), nullable=False),
            sa.Column("task_name", sa.String(255), nullable=False),
            sa.Column("task_id", sa.String(255), nullable=False, unique=True),
            sa.Column("state", sa.String(16), nullable=False),  # "finished" or "failed"
            sa.Column("node_args", sa.Text, nullable=True),
            sa.Column("result", sa.Text, nullable=True),  # JSON text
            sa.Column("error", sa.Text, nullable=True),
            sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now()),
        )
        for attempt in range(3):
            try:
                metadata.create_all(engine, checkfirst=True)
                break
            except sa.exc.SQLAlchemyError as exc:
                # Worker processes starting together race to create the table; the loser sees
                # "already exists" (or a duplicate type) and finds the table on the next look.
                text = str(exc).lower()
                if attempt < 2 and ("already exists" in text or "duplicate" in text):
                    continue
                engine.dispose()
                reason = getattr(exc, "orig", None) or exc
                raise StorageError(
                    f"cannot connect to the SQL storage at {where}: {reason}"
                ) from exc
        self.engine = engine

    def is_connected(self) -> bool:
        return self.engine is not None

    def disconnect(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = None

    def _run(self, what: str, statement: Any) -> Any:
        import sqlalchemy as sa

        try:
            with self.engine.begin() as connection:
                return connection.execute(statement)
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"the SQL storage could not {what}: {exc}") from exc

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        import sqlalchemy as sa

        query = sa.select(self.table.c.result, self.table.c.task_name).where(
            self.table.c.task_id == task_id, self.table.c.state == "finished"
        )
        with self.engine.connect() as connection:
            try:
                row = connection.execute(query).first()
            except sa.exc.SQLAlchemyError as exc:
                raise StorageError(f"the SQL storage could not read {task_id}: {exc}") from exc
        if row is None:
            raise StorageError(f"no result of task {task_name!r} ({task_id}) in the SQL storage")
        if row.task_name != task_name:
            raise StorageError(
                f"the row of {task_id} is of task {row.task_name!r}, not {task_name!r}"
            )
        return json.loads(row.result)

    def _insert(self, what: str, values: dict[str, Any]) -> Any:
        import sqlalchemy as sa

        # A task that runs again (its worker died after storing) replaces its row, in one
        # transaction; a deadlock between concurrent writers (MariaDB's gap locks) is retried.
        for attempt in range(5):
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        sa.delete(self.table).where(self.table.c.task_id == values["task_id"])
                    )
                    result = connection.execute(sa.insert(self.table).values(**values))
                return result.inserted_primary_key[0]
            except sa.exc.OperationalError as exc:
                if "deadlock" not in str(exc).lower() or attempt == 4:
                    raise StorageError(f"the SQL storage could not {what}: {exc}") from exc
                time.sleep(0.01 * (attempt + 1))
            except sa.exc.SQLAlchemyError as exc:
                raise StorageError(f"the SQL storage could not {what}: {exc}") from exc
        raise AssertionError("unreachable")

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        try:
            text, args = json.dumps(result), json.dumps(node_args)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"the result of {task_name!r} is not JSON data: {exc}") from exc
        return self._insert(
            "store a result",
            {
                "flow_name": flow_name,
                "task_name": task_name,
                "task_id": task_id,
                "state": "finished",
                "node_args": args,
                "result": text,
            },
        )

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: Any
    ) -> Any:
        exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
        return self._insert(
            "store an error",
            {
                "flow_name": flow_name,
                "task_name": task_name,
                "task_id": task_id,
                "state": "failed",
                "node_args": json.dumps(node_args, default=repr),
                "error": f"{type(exc).__name__}: {exc}",
            },
        )

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        import sqlalchemy as sa

        self._run("delete a row", sa.delete(self.table).where(self.table.c.task_id == task_id))
