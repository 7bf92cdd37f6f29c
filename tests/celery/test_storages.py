"""The server storages against real servers: Redis, PostgreSQL, MariaDB, and SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selinonc.runtime.errors import StorageError
from selinonc.runtime.storages.redis import RedisStorage
from selinonc.runtime.storages.sql import SQLStorage
from tests.celery.services import MARIADB, POSTGRESQL, REDIS, require

SQL_URLS = {
    "postgresql": ("postgresql+psycopg://postgres@127.0.0.1:5432/test", POSTGRESQL),
    "mariadb": ("mysql+pymysql://root@127.0.0.1:3306/test", MARIADB),
}


def _roundtrip(storage: Any) -> None:
    task_id = uuid.uuid4().hex
    result = {"values": [1, 2.5, "é", None], "nested": {"ok": True}}
    storage.store({"args": 1}, "flow", "Task", task_id, result)
    assert storage.retrieve("flow", "Task", task_id) == result
    storage.store({"args": 1}, "flow", "Task", task_id, {"again": 1})  # a task that ran again
    assert storage.retrieve("flow", "Task", task_id) == {"again": 1}
    with pytest.raises(StorageError, match="is of task 'Task', not 'Other'"):
        storage.retrieve("flow", "Other", task_id)
    with pytest.raises(StorageError, match="no result of task 'Task'"):
        storage.retrieve("flow", "Task", "missing-" + task_id)
    storage.delete("flow", "Task", task_id)
    with pytest.raises(StorageError):
        storage.retrieve("flow", "Task", task_id)


def test_redis_storage_round_trips_results(monkeypatch: pytest.MonkeyPatch) -> None:
    require(REDIS)
    monkeypatch.setenv("SELINONC_TEST_REDIS", "redis://127.0.0.1:6379/13")
    storage = RedisStorage(url="{SELINONC_TEST_REDIS}", key_prefix="selinonc:test:")
    assert not storage.is_connected()
    storage.connect()
    try:
        _roundtrip(storage)
        key = storage.store_error(
            None, "flow", "Task", "t-err", (ValueError, ValueError("x"), None)
        )
        assert key == "selinonc:test:error:t-err"
    finally:
        storage.disconnect()


def test_an_unreachable_redis_is_a_clear_storage_error() -> None:
    storage = RedisStorage(url="redis://:secret@127.0.0.1:1/0", socket_timeout=1)
    with pytest.raises(
        StorageError, match=r"cannot connect to Redis at redis://:\*\*\*@127\.0\.0\.1:1/0"
    ):
        storage.connect()


@pytest.fixture(params=[*SQL_URLS, "sqlite"])
def sql_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLStorage]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'results.db'}"
    else:
        url, service = SQL_URLS[request.param]
        require(service)
    storage = SQLStorage(url=url, table="selinonc_storage_test")
    storage.connect()
    try:
        yield storage
    finally:
        storage.disconnect()


def test_sql_storage_round_trips_results(sql_storage: SQLStorage) -> None:
    _roundtrip(sql_storage)
    row_id = sql_storage.store_error(
        {"a": 1}, "flow", "Task", uuid.uuid4().hex, (ValueError, ValueError("broken"), None)
    )
    assert isinstance(row_id, int)


def test_an_unreachable_sql_server_is_a_clear_storage_error() -> None:
    storage = SQLStorage(url="postgresql+psycopg://me:secret@127.0.0.1:1/db", connect_timeout=1)
    with pytest.raises(StorageError) as info:
        storage.connect()
    message = str(info.value)
    assert message.startswith("cannot connect to the SQL storage at postgresql+psycopg://me:***@")
    assert "secret" not in message


def test_a_bad_sql_url_is_a_clear_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot use the SQL storage URL"):
        SQLStorage(url="nosuchdialect://x").connect()


def _connect(url: str, table: str) -> str:
    storage = SQLStorage(url=url, table=table)
    try:
        storage.connect()
        storage.store(None, "f", "T", uuid.uuid4().hex, 1)
        return "ok"
    except StorageError as exc:
        return str(exc)
    finally:
        storage.disconnect()


@pytest.mark.parametrize("dialect", list(SQL_URLS))
def test_worker_processes_connecting_at_once_create_the_table_once(dialect: str) -> None:
    import multiprocessing

    url, service = SQL_URLS[dialect]
    require(service)
    table = "selinonc_race_" + uuid.uuid4().hex[:8]
    with multiprocessing.get_context("fork").Pool(6) as pool:
        outcomes = pool.starmap(_connect, [(url, table)] * 6)
    assert outcomes == ["ok"] * 6
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        assert connection.execute(sa.text(f"select count(*) from {table}")).scalar() == 6
        connection.execute(sa.text(f"drop table {table}"))
    engine.dispose()
