"""Signatures of predicates and sampling strategies: built-in tables or imported custom modules.

Built-in modules (`builtins.PREDICATE_MODULES`, `builtins.STRATEGY_MODULES`) are described by the
tables in `builtins.py` and never imported. A custom module is imported the way a worker would
import it: from `sys.path` (so PYTHONPATH) plus the current directory, with its output silenced and
any exception it raises (SystemExit included) turned into an error text for a diagnostic. Each
module is looked up once per process.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import io
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from selinonc.compiler import builtins
from selinonc.compiler.diagnostics import did_you_mean


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """The parameters of a predicate or strategy, as far as its `args` are concerned."""

    params: tuple[str, ...]  # every named parameter in order, implicit ones included
    optional: tuple[str, ...] = ()  # the parameters that have a default value
    open: bool = False  # it takes **kwargs, so any other argument is accepted


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgsMatch:
    """How the names given in `args` compare with a signature.

    A name the function does not take that looks like a missing parameter is a misspelling:
    it is in `misspelt` only, neither in `missing` nor in `extra`, so it is reported once.
    """

    missing: tuple[str, ...]  # parameters without default that `args` does not give
    extra: tuple[str, ...]  # names in `args` that the function does not take
    implicit: tuple[str, ...]  # names in `args` that are filled in implicitly
    misspelt: tuple[tuple[str, str], ...]  # (name in `args`, the missing parameter it means)


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """The functions a predicates or strategies module offers, or why they are unknown."""

    module: str
    builtin: bool
    functions: Mapping[str, Signature]
    error: str | None = None  # why a custom module could not be imported

    def suggestions(self) -> tuple[str, ...]:
        """Public function names, for did-you-mean hints."""
        return tuple(name for name in self.functions if not name.startswith("_"))


def match_args(signature: Signature, implicit: Sequence[str], given: Sequence[str]) -> ArgsMatch:
    """Compare the names in `args` (in YAML order) with a signature.

    Args:
        signature: the function's parameters.
        implicit: parameter names the caller fills in itself (`message`, `node_args`; `status`).
        given: the names written in `args`.

    Returns:
        The missing parameters (signature order), the extra and implicit names (YAML order),
        and the extra names that look like a missing parameter, paired with it (YAML order).
    """
    return _match_args(signature, tuple(implicit), tuple(given))


@functools.lru_cache(maxsize=4096)  # configurations repeat the same calls thousands of times
def _match_args(
    signature: Signature, implicit: tuple[str, ...], given: tuple[str, ...]
) -> ArgsMatch:
    explicit = [p for p in signature.params if p not in implicit]
    missing = [p for p in explicit if p not in given and p not in signature.optional]
    unknown = [g for g in given if g not in implicit and g not in explicit and not signature.open]
    misspelt = _misspellings(unknown, missing)
    written, meant = {name for name, _ in misspelt}, {param for _, param in misspelt}
    return ArgsMatch(
        missing=tuple(p for p in missing if p not in meant),
        extra=tuple(g for g in unknown if g not in written),
        implicit=tuple(g for g in given if g in implicit),
        misspelt=misspelt,
    )


def _misspellings(unknown: Sequence[str], missing: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Pair unknown names, in order, with the missing parameter each looks most like (once)."""
    pairs: list[tuple[str, str]] = []
    unclaimed = list(missing)
    for name in unknown:
        meant = _closest(name, unclaimed)
        if meant is not None:
            pairs.append((name, meant))
            unclaimed.remove(meant)
    return tuple(pairs)


def _closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice `did_you_mean` would suggest for `word`, so both agree on what is close."""
    hint = did_you_mean(word, choices)
    if hint is None:
        return None
    return next((c for c in choices if did_you_mean(word, [c]) == hint), None)


def params_hint(explicit: Sequence[str]) -> str:
    """A hint listing the parameters `args` may give."""
    if not explicit:
        return "it takes no arguments; remove `args`"
    if len(explicit) == 1:
        return f"its only parameter is {explicit[0]!r}"
    return "its parameters are " + ", ".join(repr(p) for p in explicit)


def from_callable(func: Callable[..., Any]) -> Signature | None:
    """The signature of a Python callable, or None when it cannot be inspected."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    named = [p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return Signature(
        params=tuple(p.name for p in named),
        optional=tuple(p.name for p in named if p.default is not p.empty),
        open=any(p.kind is p.VAR_KEYWORD for p in parameters),
    )


@contextlib.contextmanager
def _guarded_import_path() -> Iterator[None]:
    """Let imports see the current directory, as `python -m` and workers started there do."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def import_user_module(name: str) -> tuple[ModuleType | None, str | None]:
    """Import a user's module; return it, or None and why it failed (see `import_guarded`)."""
    module, exc = import_guarded(name)
    return module, None if exc is None else exception_text(exc)


def import_guarded(name: str) -> tuple[ModuleType | None, BaseException | None]:
    """Import a user's module; return it, or None and the exception its import raised.

    User code can do anything on import: its output is silenced, its warnings are ignored, and
    every exception, SystemExit included, is returned instead of stopping the compiler.
    """
    sink = io.StringIO()
    try:
        with (
            _guarded_import_path(),
            warnings.catch_warnings(),
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            warnings.simplefilter("ignore")
            importlib.invalidate_caches()
            return importlib.import_module(name), None
    except (Exception, SystemExit) as exc:
        return None, exc


def exception_text(exc: BaseException) -> str:
    """`Type: message`, the way diagnostics quote an exception."""
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _module_functions(module: ModuleType) -> dict[str, Signature]:
    functions: dict[str, Signature] = {}
    for name, value in vars(module).items():
        if callable(value) and not isinstance(value, ModuleType):
            signature = from_callable(value)
            if signature is not None:
                functions[name] = signature
    return functions


@functools.cache
def _catalog(module: str, kind: str) -> Catalog:
    builtin_modules, table, implicit = (
        (builtins.PREDICATE_MODULES, builtins.PREDICATES, ())
        if kind == "predicates"
        else (builtins.STRATEGY_MODULES, builtins.STRATEGIES, builtins.STRATEGY_IMPLICIT)
    )
    if module in builtin_modules:
        functions = {name: Signature(params=(*implicit, *params)) for name, params in table.items()}
        return Catalog(module=module, builtin=True, functions=functions)
    imported, error = import_user_module(module)
    if imported is None:
        return Catalog(module=module, builtin=False, functions={}, error=error)
    return Catalog(module=module, builtin=False, functions=_module_functions(imported))


def predicates(module: str) -> Catalog:
    """The predicates of `module` (the project's `global.predicates_module`)."""
    return _catalog(module, "predicates")


def strategies(module: str) -> Catalog:
    """The sampling strategies of `module` (a flow's `sampling.import`)."""
    return _catalog(module, "strategies")
