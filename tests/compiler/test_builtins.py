"""The built-in predicate and strategy tables: shape, Selinon parity, and the runtime contract."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from selinonc.compiler import builtins
from selinonc.compiler.builtins import (
    MESSAGE,
    NODE_ARGS,
    PREDICATE_IMPLICIT,
    PREDICATES,
    STATUS,
    STRATEGIES,
)
from selinonc.compiler.model import DEFAULT_PREDICATES_MODULE, DEFAULT_STRATEGIES_MODULE

RESULT_PREDICATES = [n for n, params in PREDICATES.items() if MESSAGE in params]
ARGS_PREDICATES = [n for n, params in PREDICATES.items() if NODE_ARGS in params]


def _twin(name: str) -> str:
    """`fieldEqual` -> `argsFieldEqual`, `isDict` -> `argsIsDict`, `empty` -> `argsEmpty`."""
    return "args" + name[0].upper() + name[1:]


def test_selinon_1_4_0_has_69_predicates_and_7_strategies() -> None:
    assert len(PREDICATES) == 69
    assert len(STRATEGIES) == 7


@pytest.mark.parametrize("name", sorted(PREDICATES))
def test_an_implicit_parameter_comes_first_and_alone(name: str) -> None:
    params = PREDICATES[name]
    implicit = [p for p in params if p in PREDICATE_IMPLICIT]
    assert len(implicit) <= 1
    if implicit:
        assert params[0] == implicit[0]
    assert len(set(params)) == len(params)


@pytest.mark.parametrize("name", RESULT_PREDICATES)
def test_every_result_predicate_has_an_args_twin_with_the_same_arguments(name: str) -> None:
    twin = _twin(name)
    assert twin in PREDICATES
    assert PREDICATES[twin] == (NODE_ARGS, *PREDICATES[name][1:])


def test_every_args_predicate_is_the_twin_of_a_result_predicate() -> None:
    assert sorted(ARGS_PREDICATES) == sorted(_twin(n) for n in RESULT_PREDICATES)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("alwaysTrue", ()),
        ("alwaysFalse", ()),
        ("fieldEqual", (MESSAGE, "key", "value")),
        ("argsFieldEqual", (NODE_ARGS, "key", "value")),
        ("envExist", ("env",)),
        ("envEqual", ("env", "value")),
        ("httpStatus", ("host", "path", "status")),
        ("empty", (MESSAGE,)),
        ("argsEmpty", (NODE_ARGS,)),
        ("fieldLenGreaterEqual", (MESSAGE, "key", "length")),
        ("fieldLenLessEqual", (MESSAGE, "key", "length")),
        ("argsFieldLenGreaterEqual", (NODE_ARGS, "key", "length")),
        ("argsFieldLenLessEqual", (NODE_ARGS, "key", "length")),
        ("fieldUrlScheme", (MESSAGE, "key", "scheme")),
        ("fieldUrlNetloc", (MESSAGE, "key", "netloc")),
        ("argsFieldUrlPath", (NODE_ARGS, "key", "path")),
        ("isInt", (MESSAGE,)),
        ("argsIsNone", (NODE_ARGS,)),
    ],
)
def test_predicate_signatures_as_in_the_reference(name: str, params: tuple[str, ...]) -> None:
    assert PREDICATES[name] == params


def test_strategy_parameters_as_in_the_reference() -> None:
    assert STRATEGIES == {
        "constant": ("retry",),
        "random": ("start_retry", "max_retry"),
        "linear_increase": ("start_retry", "max_retry", "step"),
        "linear_adapt": ("start_retry", "max_retry", "step"),
        "biexponential_increase": ("start_retry", "max_retry"),
        "biexponential_decrease": ("start_retry", "stop_retry"),
        "biexponential_adapt": ("start_retry", "max_retry"),
    }
    assert all(STATUS not in params for params in STRATEGIES.values())


def test_selinon_module_names_are_aliases_of_the_built_in_modules() -> None:
    assert builtins.PREDICATE_MODULES == (DEFAULT_PREDICATES_MODULE, "selinon.predicates")
    assert builtins.STRATEGY_MODULES == (DEFAULT_STRATEGIES_MODULE, "selinon.strategies")


def test_the_table_module_imports_no_runtime_code() -> None:
    source = Path(builtins.__file__).read_text()
    imported = [
        node.module or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    ]
    assert imported
    assert all(not m.startswith("selinonc.runtime") for m in imported)


@pytest.mark.parametrize("path", sorted(builtins.STORAGE_PARAMS))
def test_storage_parameters_are_the_runtime_constructors(path: str) -> None:
    import importlib
    import inspect

    module, classname = path.rsplit(".", 1)
    signature = inspect.signature(getattr(importlib.import_module(module), classname))
    runtime = [
        (p.name, "None" in str(p.annotation), p.default is inspect.Parameter.empty)
        for p in signature.parameters.values()
    ]
    table = [(p.name, p.nullable, p.required) for p in builtins.STORAGE_PARAMS[path]]
    assert table == runtime
