"""Built-in predicates: the compiler's table is the runtime's truth, and the corrections hold."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from selinonc.compiler.builtins import PREDICATES, STRATEGIES
from selinonc.runtime import predicates, strategies


def test_the_runtime_defines_exactly_the_predicates_the_compiler_knows() -> None:
    defined = {
        name: tuple(inspect.signature(f).parameters)
        for name, f in vars(predicates).items()
        if inspect.isfunction(f)
        and f.__module__ == predicates.__name__
        and not name.startswith("_")
    }
    assert defined == dict(PREDICATES)


def test_the_runtime_defines_the_named_strategies_with_their_parameters() -> None:
    for name, params in STRATEGIES.items():
        function = getattr(strategies, name)
        assert tuple(inspect.signature(function).parameters) == ("status", *params)


@pytest.mark.parametrize(
    ("value", "is_empty"),
    [(None, True), ("", True), ([], True), ({}, True), (0, True), ("x", False), ([0], False)],
)
def test_empty_is_true_for_empty_values(value: Any, is_empty: bool) -> None:
    # decisions.md, runtime 1: the predecessor returned bool(x), true when NOT empty.
    assert predicates.empty(value) is is_empty
    assert predicates.argsEmpty(value) is is_empty


@pytest.mark.parametrize(
    ("length", "ge", "le"), [(1, True, False), (2, True, True), (3, False, True)]
)
def test_len_greater_equal_is_ge_and_len_less_equal_is_le(length: int, ge: bool, le: bool) -> None:
    message = {"items": [1, 2]}
    assert predicates.fieldLenGreaterEqual(message, "items", length) is ge
    assert predicates.fieldLenLessEqual(message, "items", length) is le
    assert predicates.argsFieldLenGreaterEqual(message, "items", length) is ge
    assert predicates.argsFieldLenLessEqual(message, "items", length) is le


def test_booleans_are_not_integers() -> None:
    assert predicates.isInt(1) and not predicates.isInt(True)
    assert predicates.fieldInt({"n": 3}, "n") and not predicates.fieldInt({"n": False}, "n")
    assert not predicates.argsIsInt(True)


def test_a_key_path_walks_nested_fields_and_a_missing_field_is_false_not_an_error() -> None:
    message = {"a": {"b": [10, 20]}}
    assert predicates.fieldEqual(message, ["a", "b", 1], 20)
    assert predicates.fieldExist(message, ["a", "b"])
    assert not predicates.fieldExist(message, ["a", "c"])
    assert not predicates.fieldEqual(None, "a", 1)
    assert not predicates.fieldGreater({"a": "text"}, "a", 3)  # "text" > 3 raises: false
    assert not predicates.fieldNotEqual({}, "a", 1)  # a missing field differs from nothing


def test_url_and_container_predicates() -> None:
    message = {"url": "https://pypi.org/project/x", "tags": ["a", "b"]}
    assert predicates.fieldUrlScheme(message, "url", "https")
    assert predicates.fieldUrlNetloc(message, "url", "pypi.org")
    assert predicates.fieldUrlPath(message, "url", "/project/x")
    assert not predicates.fieldUrlScheme({"url": 3}, "url", "https")
    assert predicates.fieldContain(message, "tags", "a")
    assert predicates.fieldLenEqual(message, "tags", 2)
    assert predicates.fieldLenNotEqual(message, "tags", 3)


def test_environment_predicates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINONC_TEST_ENV", "on")
    monkeypatch.delenv("SELINONC_TEST_UNSET", raising=False)
    assert predicates.envExist("SELINONC_TEST_ENV")
    assert not predicates.envExist("SELINONC_TEST_UNSET")
    assert predicates.envEqual("SELINONC_TEST_ENV", "on")
    assert not predicates.envEqual("SELINONC_TEST_ENV", "off")
    assert predicates.alwaysTrue() and not predicates.alwaysFalse()
