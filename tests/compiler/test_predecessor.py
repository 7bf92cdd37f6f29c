"""Selinon's storages and modules, and what generated code uses in their place (issue 8.6)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from selinonc.compiler import predecessor
from selinonc.compiler.builtins import RUNTIME_MODULES
from selinonc.compiler.predecessor import runtime_storage


@pytest.mark.parametrize(("module", "classname"), sorted(predecessor.STORAGES))
def test_every_translated_key_is_a_parameter_of_the_selinonc_class(
    module: str, classname: str
) -> None:
    equivalent = predecessor.STORAGES[module, classname]
    cls = getattr(importlib.import_module(equivalent.module), equivalent.classname)
    params = inspect.signature(cls).parameters
    assert set(equivalent.renamed.values()) <= set(params)
    # Every Selinon key is either carried over or dropped when it restates Selinon's default.
    assert set(equivalent.params) == set(equivalent.renamed) | set(equivalent.dropped)
    assert set(equivalent.required) <= set(equivalent.params)


def test_redis_keys_carry_over_and_defaults_are_dropped() -> None:
    configuration = {
        "host": "{REDIS_HOST}",
        "port": "{REDIS_PORT}",
        "db": 2,
        "password": None,
        "socket_timeout": 5,
        "charset": "utf-8",
        "errors": "strict",
        "connection_pool": None,
        "unix_socket_path": None,
    }
    assert runtime_storage("selinon.storages.redis", "Redis", configuration) == (
        "selinonc.runtime.storages.redis",
        "RedisStorage",
        {"host": "{REDIS_HOST}", "port": "{REDIS_PORT}", "db": 2, "socket_timeout": 5},
    )


@pytest.mark.parametrize(
    "module", ["selinon.storages.postgresql", "selinon.storages.postgresql.adapter"]
)
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db"),  # a driver chosen
        ("{DATABASE_URL}", "{DATABASE_URL}"),  # known only on the workers
    ],
)
def test_postgresql_connection_string_becomes_an_sql_storage_url(
    module: str, url: str, expected: str
) -> None:
    configuration = {"connection_string": url, "encoding": "utf-8", "echo": True}
    assert runtime_storage(module, "PostgreSQL", configuration) == (
        "selinonc.runtime.storages.sql",
        "SQLStorage",
        {"url": expected, "echo": True},
    )


def test_a_configuration_that_is_not_a_mapping_is_selinons_first_argument() -> None:
    _, _, kwargs = runtime_storage("selinon.storages.redis", "Redis", "redis.internal")
    assert kwargs == {"host": "redis.internal"}
    _, _, kwargs = runtime_storage("selinon.storages.memory", "InMemoryStorage", None)
    assert kwargs == {}


def test_other_storages_are_created_as_written() -> None:
    written = ("myapp.storages", "Redis", {"hots": 1})
    assert runtime_storage(*written) == written


def test_the_known_modules_include_every_module_builtins_maps() -> None:
    assert set(RUNTIME_MODULES) <= predecessor.KNOWN_MODULES
    assert all(predecessor.is_selinon(m) for m in predecessor.KNOWN_MODULES)
    assert not predecessor.is_selinon("selinonc.runtime.storages.redis")
    assert not predecessor.is_selinon("selinonx")
