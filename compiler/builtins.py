"""The built-in predicates and sampling strategies: their names and parameters, as plain data."""

from __future__ import annotations

from collections.abc import Mapping

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
