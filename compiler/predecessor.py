"""Selinon's own storages and modules, and what selinonc uses in their place (SC510, SC511).

The `selinon` package is never a dependency: a configuration naming one of its storages gets
selinonc's equivalent (Redis and PostgreSQL, whose class and keys differ, under `--compat`), with
the configuration keys translated, and a `selinon.*` name with no equivalent is an error. The
constructors described here are Selinon 1.4.0's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from selinonc.compiler.builtins import RUNTIME_MODULES


@dataclass(frozen=True, slots=True, kw_only=True)
class Equivalent:
    """selinonc's storage for one of Selinon's, and how Selinon's configuration translates."""

    module: str
    classname: str
    params: tuple[str, ...]  # the parameters of Selinon's constructor, in order
    renamed: Mapping[str, str]  # Selinon's key -> selinonc's, for the keys that carry over
    # Keys selinonc has no use for, with the values that mean Selinon's default (dropped).
    dropped: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    required: tuple[str, ...] = ()  # parameters Selinon's constructor has no default for
    instead: str = ""  # what to write instead when a key cannot be honoured
    # Another class with other keys: built only under --compat (SC512), as strict mode takes
    # selinonc's names. Memory and Filesystem are only other module names, always accepted.
    translated: bool = False


_REDIS = "selinonc.runtime.storages.redis"
_SQL = "selinonc.runtime.storages.sql"

_POSTGRESQL = Equivalent(
    module=_SQL,
    classname="SQLStorage",
    params=("connection_string", "encoding", "echo"),
    renamed={"connection_string": "url", "echo": "echo"},
    # SQLAlchemy 2 has no engine-wide encoding: results are stored as UTF-8 JSON text.
    dropped={"encoding": (None, "utf-8", "utf8", "UTF-8", "UTF8")},
    required=("connection_string",),
    translated=True,
    instead=f"use `import: {_SQL}` and `classname: SQLStorage` (keys url, table, echo, "
    "connect_timeout)",
)

STORAGES: Mapping[tuple[str, str], Equivalent] = {
    ("selinon.storages.memory", "InMemoryStorage"): Equivalent(
        module="selinonc.runtime.storages.memory",
        classname="InMemoryStorage",
        params=("echo", "json"),
        renamed={"echo": "echo", "json": "json"},
    ),
    ("selinon.storages.filesystem", "Filesystem"): Equivalent(
        module="selinonc.runtime.storages.filesystem",
        classname="Filesystem",
        params=("path",),
        renamed={"path": "path"},
    ),
    ("selinon.storages.redis", "Redis"): Equivalent(
        module=_REDIS,
        classname="RedisStorage",
        params=(
            "host",
            "port",
            "db",
            "password",
            "socket_timeout",
            "connection_pool",
            "charset",
            "errors",
            "unix_socket_path",
        ),
        renamed={k: k for k in ("host", "port", "db", "password", "socket_timeout")},
        # selinonc stores JSON as UTF-8 and connects by TCP or by `url` (unix:// included).
        dropped={
            "connection_pool": (None,),
            "charset": (None, "utf-8", "utf8", "UTF-8"),
            "errors": (None, "strict"),
            "unix_socket_path": (None,),
        },
        translated=True,
        instead=f"use `import: {_REDIS}` and `classname: RedisStorage` with `url:` "
        "(redis://host:port/db or unix:///path/to/socket?db=0)",
    ),
    # Selinon's package re-exports PostgreSQL from its `adapter` module; both paths are in use.
    ("selinon.storages.postgresql", "PostgreSQL"): _POSTGRESQL,
    ("selinon.storages.postgresql.adapter", "PostgreSQL"): _POSTGRESQL,
}

# Selinon's storages selinonc has no equivalent of yet: module -> (class, what to use instead).
WITHOUT_EQUIVALENT: Mapping[str, tuple[str, str]] = {
    "selinon.storages.s3": (
        "S3",
        "write an S3 storage as a subclass of "
        "selinonc.runtime.storages.DataStorage, or keep results in "
        f"{_REDIS}.RedisStorage, {_SQL}.SQLStorage or "
        "selinonc.runtime.storages.filesystem.Filesystem",
    ),
    "selinon.storages.mongodb": (
        "MongoDB",
        "write a MongoDB storage as a subclass of "
        "selinonc.runtime.storages.DataStorage, or keep results in "
        f"{_SQL}.SQLStorage (PostgreSQL, MariaDB) or {_REDIS}.RedisStorage",
    ),
}

# The `selinon.*` modules selinonc replaces (outside storages, classes are not looked at).
KNOWN_MODULES: frozenset[str] = frozenset({*RUNTIME_MODULES, *(m for m, _ in STORAGES)})


def is_selinon(module: str) -> bool:
    """True for a module of the predecessor's package (`selinon`, `selinon.x`; not selinonc)."""
    return module == "selinon" or module.startswith("selinon.")


def storage_classes(module: str) -> tuple[str, ...]:
    """Selinon's storage classes in `module` that selinonc has an equivalent of."""
    return tuple(classname for m, classname in STORAGES if m == module)


def positional_key(equivalent: Equivalent) -> str:
    """The key a non-mapping configuration stands for: Selinon passes it as the first argument."""
    return equivalent.params[0]


def as_keywords(equivalent: Equivalent, configuration: Any) -> dict[str, Any]:
    """Selinon's configuration as keyword arguments of Selinon's constructor.

    Selinon passes a mapping as keywords, another truthy value as the first argument, and
    nothing at all for an empty or missing configuration.
    """
    if isinstance(configuration, Mapping):
        return dict(configuration)
    if configuration:
        return {positional_key(equivalent): configuration}
    return {}


def runtime_storage(module: str, classname: str, configuration: Any) -> tuple[str, str, Any]:
    """The module, class and configuration generated code creates for a storage.

    Selinon's storages become selinonc's equivalents with their keys renamed, and the keys and
    None values that only restate a default dropped; any other storage is created as written.
    Checks SC510 and SC511 have refused what does not translate.
    """
    equivalent = STORAGES.get((module, classname))
    if equivalent is None:
        return module, classname, configuration
    given = as_keywords(equivalent, configuration)
    # None is how Selinon's constructors say "the default" (a host of None is localhost).
    translated = {
        equivalent.renamed[key]: _translated_value(equivalent, key, value)
        for key, value in given.items()
        if key in equivalent.renamed and value is not None
    }
    return equivalent.module, equivalent.classname, translated


# Selinon's PostgreSQL uses SQLAlchemy's default driver, psycopg2; `selinonc[sql]` installs
# psycopg 3, which SQLAlchemy picks by the `+psycopg` scheme (`postgres://` is long gone).
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_PSYCOPG_SCHEME = "postgresql+psycopg://"


def _translated_value(equivalent: Equivalent, key: str, value: Any) -> Any:
    if equivalent.renamed.get(key) == "url" and equivalent.classname == "SQLStorage":
        return postgres_url(value)
    return value


def postgres_url(value: Any) -> Any:
    """A PostgreSQL URL for the driver selinonc installs (others, placeholders: unchanged)."""
    if isinstance(value, str):
        for scheme in _POSTGRES_SCHEMES:
            if value.startswith(scheme):
                return _PSYCOPG_SCHEME + value[len(scheme) :]
    return value
