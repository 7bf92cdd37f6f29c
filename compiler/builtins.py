"""The built-in predicates and sampling strategies: their names and parameters, as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from selinonc.compiler.model import DEFAULT_PREDICATES_MODULE, DEFAULT_STRATEGIES_MODULE

# This table is the single source of truth for the built-ins: the checks read it instead of
# importing anything, and the runtime (selinonc.runtime.predicates / .strategies) must define
# exactly these functions with exactly these parameters, in this order (a test compares them).

# Implicit predicate parameters, filled in by the generated condition, never by `args`:
MESSAGE = "message"  # the stored result of the leaf's `node`
NODE_ARGS = "node_args"  # the flow's arguments
PREDICATE_IMPLICIT = (MESSAGE, NODE_ARGS)

# The implicit sampling-strategy parameter, filled in by the dispatcher, never by `args`:
STATUS = "status"
STRATEGY_IMPLICIT = (STATUS,)

# Modules whose functions are described here. Selinon's own module names are accepted as aliases,
# so configurations migrated from Selinon keep working unchanged.
PREDICATE_MODULES = (DEFAULT_PREDICATES_MODULE, "selinon.predicates")
STRATEGY_MODULES = (DEFAULT_STRATEGIES_MODULE, "selinon.strategies")

# name -> every parameter, in order. `key` is a field name or a list of names (a path).
PREDICATES: Mapping[str, tuple[str, ...]] = {
    # constants and the environment
    "alwaysTrue": (),
    "alwaysFalse": (),
    "envExist": ("env",),
    "envEqual": ("env", "value"),
    "httpStatus": ("host", "path", "status"),
    # the result of `node`: the whole value
    "empty": (MESSAGE,),
    "isBool": (MESSAGE,),
    "isDict": (MESSAGE,),
    "isFloat": (MESSAGE,),
    "isInt": (MESSAGE,),
    "isList": (MESSAGE,),
    "isNone": (MESSAGE,),
    "isStr": (MESSAGE,),
    # the result of `node`: one field
    "fieldExist": (MESSAGE, "key"),
    "fieldBool": (MESSAGE, "key"),
    "fieldDict": (MESSAGE, "key"),
    "fieldFloat": (MESSAGE, "key"),
    "fieldInt": (MESSAGE, "key"),
    "fieldList": (MESSAGE, "key"),
    "fieldNone": (MESSAGE, "key"),
    "fieldStr": (MESSAGE, "key"),
    "fieldEqual": (MESSAGE, "key", "value"),
    "fieldNotEqual": (MESSAGE, "key", "value"),
    "fieldGreater": (MESSAGE, "key", "value"),
    "fieldGreaterEqual": (MESSAGE, "key", "value"),
    "fieldLess": (MESSAGE, "key", "value"),
    "fieldLessEqual": (MESSAGE, "key", "value"),
    "fieldContain": (MESSAGE, "key", "value"),
    "fieldLenEqual": (MESSAGE, "key", "length"),
    "fieldLenNotEqual": (MESSAGE, "key", "length"),
    "fieldLenGreater": (MESSAGE, "key", "length"),
    "fieldLenGreaterEqual": (MESSAGE, "key", "length"),
    "fieldLenLess": (MESSAGE, "key", "length"),
    "fieldLenLessEqual": (MESSAGE, "key", "length"),
    "fieldUrlScheme": (MESSAGE, "key", "scheme"),
    "fieldUrlNetloc": (MESSAGE, "key", "netloc"),
    "fieldUrlPath": (MESSAGE, "key", "path"),
    # the flow's arguments: the whole value
    "argsEmpty": (NODE_ARGS,),
    "argsIsBool": (NODE_ARGS,),
    "argsIsDict": (NODE_ARGS,),
    "argsIsFloat": (NODE_ARGS,),
    "argsIsInt": (NODE_ARGS,),
    "argsIsList": (NODE_ARGS,),
    "argsIsNone": (NODE_ARGS,),
    "argsIsStr": (NODE_ARGS,),
    # the flow's arguments: one field
    "argsFieldExist": (NODE_ARGS, "key"),
    "argsFieldBool": (NODE_ARGS, "key"),
    "argsFieldDict": (NODE_ARGS, "key"),
    "argsFieldFloat": (NODE_ARGS, "key"),
    "argsFieldInt": (NODE_ARGS, "key"),
    "argsFieldList": (NODE_ARGS, "key"),
    "argsFieldNone": (NODE_ARGS, "key"),
    "argsFieldStr": (NODE_ARGS, "key"),
    "argsFieldEqual": (NODE_ARGS, "key", "value"),
    "argsFieldNotEqual": (NODE_ARGS, "key", "value"),
    "argsFieldGreater": (NODE_ARGS, "key", "value"),
    "argsFieldGreaterEqual": (NODE_ARGS, "key", "value"),
    "argsFieldLess": (NODE_ARGS, "key", "value"),
    "argsFieldLessEqual": (NODE_ARGS, "key", "value"),
    "argsFieldContain": (NODE_ARGS, "key", "value"),
    "argsFieldLenEqual": (NODE_ARGS, "key", "length"),
    "argsFieldLenNotEqual": (NODE_ARGS, "key", "length"),
    "argsFieldLenGreater": (NODE_ARGS, "key", "length"),
    "argsFieldLenGreaterEqual": (NODE_ARGS, "key", "length"),
    "argsFieldLenLess": (NODE_ARGS, "key", "length"),
    "argsFieldLenLessEqual": (NODE_ARGS, "key", "length"),
    "argsFieldUrlScheme": (NODE_ARGS, "key", "scheme"),
    "argsFieldUrlNetloc": (NODE_ARGS, "key", "netloc"),
    "argsFieldUrlPath": (NODE_ARGS, "key", "path"),
}

# Parameters of the built-in predicates that name a field of the value read: a string, or a
# list naming a path of fields (`[a, b, 0]`). Anything else finds no field in a JSON result.
FIELD_NAME_PARAMS: frozenset[str] = frozenset({"key"})

# name -> the parameters after `status`, in order (the function is `f(status, *these)`).
STRATEGIES: Mapping[str, tuple[str, ...]] = {
    "constant": ("retry",),
    "random": ("start_retry", "max_retry"),
    "linear_increase": ("start_retry", "max_retry", "step"),
    "linear_adapt": ("start_retry", "max_retry", "step"),
    "biexponential_increase": ("start_retry", "max_retry"),
    "biexponential_decrease": ("start_retry", "stop_retry"),
    "biexponential_adapt": ("start_retry", "max_retry"),
}


@dataclass(frozen=True, slots=True)
class StorageParam:
    """One parameter of the constructor of a storage selinonc ships."""

    name: str
    takes: str  # the values it takes, in plain words
    example: str  # one of them, as YAML
    nullable: bool = False  # null (None) is one of them
    required: bool = False  # the constructor has no default for it


# selinonc's storages: module.class -> the constructor's parameters, in order (a configuration
# that is not a mapping is their first argument). A test compares them with the runtime.
STORAGE_PARAMS: Mapping[str, tuple[StorageParam, ...]] = {
    "selinonc.runtime.storages.memory.InMemoryStorage": (
        StorageParam("echo", "true, false, 'stdout' or 'stderr'", "stdout"),
        StorageParam("json", "true or false", "true"),
    ),
    "selinonc.runtime.storages.filesystem.Filesystem": (
        StorageParam("path", "a directory (a string)", "results"),
    ),
    "selinonc.runtime.storages.redis.RedisStorage": (
        StorageParam("url", "a redis:// URL", "'redis://localhost:6379/0'", nullable=True),
        StorageParam("host", "a host name", "localhost"),
        StorageParam("port", "a port number", "6379"),
        StorageParam("db", "a database number", "0"),
        StorageParam("password", "a string", "'{REDIS_PASSWORD}'", nullable=True),
        StorageParam("key_prefix", "a string", "'myapp:'"),
        StorageParam("socket_timeout", "a number of seconds", "10"),
        StorageParam("expire", "a number of seconds", "86400", nullable=True),
    ),
    "selinonc.runtime.storages.sql.SQLStorage": (
        StorageParam(
            "url",
            "an SQLAlchemy URL",
            "'postgresql+psycopg://user@localhost/results'",
            required=True,
        ),
        StorageParam("table", "a table name", "results"),
        StorageParam("echo", "true or false", "true"),
        StorageParam("connect_timeout", "a number of seconds", "10"),
    ),
}


# The predecessor's runtime modules and selinonc's: a configuration written for Selinon names
# `selinon.predicates` and friends, and generated code imports selinonc's versions instead.
RUNTIME_MODULES: Mapping[str, str] = {
    "selinon.predicates": "selinonc.runtime.predicates",
    "selinon.strategies": "selinonc.runtime.strategies",
    "selinon.caches": "selinonc.runtime.caches",
    "selinon.routines": "selinonc.runtime.routines",
    "selinon.storages.memory": "selinonc.runtime.storages.memory",
    "selinon.storages.filesystem": "selinonc.runtime.storages.filesystem",
}


def runtime_module(module: str) -> str:
    """The module generated code imports for `module` (selinonc's for the predecessor's)."""
    return RUNTIME_MODULES.get(module, module)


def storage_params(module: str, classname: str) -> tuple[StorageParam, ...] | None:
    """The parameters of a storage selinonc ships (named by either module name), else None."""
    return STORAGE_PARAMS.get(f"{runtime_module(module)}.{classname}")
