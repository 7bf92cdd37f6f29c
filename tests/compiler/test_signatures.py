"""Signatures of predicates and strategies: matching `args`, inspecting and importing user code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from selinonc.compiler import signatures
from selinonc.compiler.builtins import PREDICATE_IMPLICIT, STRATEGY_IMPLICIT
from selinonc.compiler.signatures import ArgsMatch, Signature, from_callable, match_args


def sig(*params: str, optional: tuple[str, ...] = (), open: bool = False) -> Signature:
    return Signature(params=params, optional=optional, open=open)


def fits(match: ArgsMatch) -> bool:
    return not (match.missing or match.extra or match.implicit or match.misspelt)


def test_exact_args_match() -> None:
    match = match_args(sig("message", "key", "value"), PREDICATE_IMPLICIT, ["value", "key"])
    assert fits(match)


def test_missing_follow_the_signature_and_extra_follow_the_yaml() -> None:
    match = match_args(sig("node_args", "key", "value"), PREDICATE_IMPLICIT, ["zeta", "alpha"])
    assert match.missing == ("key", "value")
    assert match.extra == ("zeta", "alpha")
    assert match.misspelt == ()


def test_a_misspelt_name_is_neither_missing_nor_extra() -> None:
    match = match_args(sig("node_args", "key", "value"), PREDICATE_IMPLICIT, ["key", "vaule"])
    assert (match.missing, match.extra, match.misspelt) == ((), (), (("vaule", "value"),))


def test_each_missing_parameter_is_claimed_by_one_misspelling_at_most() -> None:
    match = match_args(sig("status", "step"), STRATEGY_IMPLICIT, ["stpe", "sep", "other"])
    assert match.misspelt == (("stpe", "step"),)
    assert match.extra == ("sep", "other")
    assert match.missing == ()


def test_a_misspelling_goes_to_the_closest_missing_parameter() -> None:
    match = match_args(sig("start", "stat", "state"), (), ["stats"])
    assert match.misspelt == (("stats", "stat"),)
    assert match.missing == ("start", "state")


def test_a_name_close_to_an_optional_or_given_parameter_is_extra() -> None:
    match = match_args(sig("key", "strict", optional=("strict",)), (), ["key", "strikt"])
    assert (match.extra, match.misspelt) == (("strikt",), ())


def test_implicit_names_in_args_are_reported_apart() -> None:
    match = match_args(sig("message", "key"), PREDICATE_IMPLICIT, ["key", "message", "node_args"])
    assert match.implicit == ("message", "node_args")
    assert match.extra == ()
    match = match_args(sig("status", "retry"), STRATEGY_IMPLICIT, ["retry", "status"])
    assert match.implicit == ("status",)


def test_defaults_are_optional_and_kwargs_accept_anything() -> None:
    assert fits(match_args(sig("key", "strict", optional=("strict",)), (), ["key"]))
    assert fits(match_args(sig("key", open=True), (), ["key", "anything"]))
    assert match_args(sig("key", open=True), (), []).missing == ("key",)


def test_from_callable_reads_names_defaults_and_kwargs() -> None:
    def predicate(message: Any, key: Any, *rest: Any, strict: bool = False, **kw: Any) -> bool:
        return True

    assert from_callable(predicate) == sig(
        "message", "key", "strict", optional=("strict",), open=True
    )


class _Uninspectable:
    __signature__ = "not a signature"

    def __call__(self) -> None:
        return None


def test_from_callable_gives_none_for_uninspectable_callables() -> None:
    assert from_callable(_Uninspectable()) is None


def test_built_in_modules_are_described_without_importing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str) -> None:
        raise AssertionError(f"imported {name}")

    monkeypatch.setattr(signatures, "import_user_module", refuse)
    for module in ("selinonc.runtime.predicates", "selinon.predicates"):
        catalog = signatures.predicates(module)
        assert catalog.builtin
        assert catalog.error is None
        assert catalog.functions["fieldEqual"].params == ("message", "key", "value")
    catalog = signatures.strategies("selinon.strategies")
    assert catalog.functions["constant"].params == ("status", "retry")


def _write(directory: Path, name: str, text: str) -> str:
    (directory / f"{name}.py").write_text(text)
    return name


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("raise SystemExit(3)\n", "SystemExit: 3"),
        ("raise RuntimeError('no config')\n", "RuntimeError: no config"),
        ("def broken(:\n", "SyntaxError: "),
        ("import sc_test_no_such_dependency\n", "ModuleNotFoundError: No module named"),
    ],
)
def test_import_errors_of_user_code_become_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, error: str
) -> None:
    monkeypatch.chdir(tmp_path)
    name = _write(tmp_path, "sc_test_broken_" + error.split(":")[0].lower(), text)
    module, reason = signatures.import_user_module(name)
    assert module is None
    assert reason is not None
    assert reason.startswith(error)
    assert str(tmp_path) not in sys.path


def test_user_modules_import_from_the_current_directory_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    text = (
        "import sys, warnings\n"
        "print('noise'); print('more', file=sys.stderr); warnings.warn('old')\n"
        "def hasTag(message, tag): return True\n"
        "VALUE = 3\n"
        "def _private(node_args): return True\n"
    )
    name = _write(tmp_path, "sc_test_custom_predicates", text)
    catalog = signatures.predicates(name)
    assert catalog.error is None
    assert not catalog.builtin
    assert catalog.functions["hasTag"] == sig("message", "tag")
    assert "VALUE" not in catalog.functions
    assert "_private" in catalog.functions
    assert "_private" not in catalog.suggestions()
    assert capsys.readouterr() == ("", "")
    assert str(tmp_path) not in sys.path


def test_an_unimportable_module_is_a_catalog_with_an_error() -> None:
    catalog = signatures.predicates("sc_test_surely_missing_module")
    assert catalog.functions == {}
    assert catalog.error == "ModuleNotFoundError: No module named 'sc_test_surely_missing_module'"
    assert signatures.predicates("sc_test_surely_missing_module") is catalog  # cached


def test_params_hint_wording() -> None:
    assert signatures.params_hint([]) == "it takes no arguments; remove `args`"
    assert signatures.params_hint(["retry"]) == "its only parameter is 'retry'"
    assert signatures.params_hint(["a", "b"]) == "its parameters are 'a', 'b'"
