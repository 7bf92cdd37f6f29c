"""Task modules and classes, imported the way a worker imports them (checks SC507 to SC509).

A module is imported once per process however many tasks name it, with `signatures`' guards:
from the current directory and PYTHONPATH, its output silenced, any exception it raises kept as
text. A module that does not exist inside a package that does import is certainly misspelt; a
module whose top-level package is missing, or that raises, may import where the workers run.
"""

from __future__ import annotations

import functools
import os
import pkgutil
import sys
from dataclasses import dataclass, replace
from types import ModuleType

from selinonc.compiler.signatures import exception_text
from selinonc.compiler.signatures import import_guarded as import_guarded  # tests patch it
from selinonc.runtime.task import task_class_problem


@dataclass(frozen=True, slots=True, kw_only=True)
class Absent:
    """A dotted path whose part `name` is not in `parent`, a module that did import."""

    parent: str
    name: str
    parent_is_package: bool
    choices: tuple[str, ...]  # the parent's submodules (or names, for a plain module)
    is_attribute: bool  # `name` is an attribute of the parent: a class written as a module


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskModule:
    """The outcome of importing one task module: the module, what is absent, or the error."""

    name: str
    module: ModuleType | None = None
    absent: Absent | None = None
    error: str | None = None  # why it did not import (the exception), when not `absent`
    missing: str | None = None  # the module a ModuleNotFoundError names, with `error`
    choices: tuple[str, ...] = ()  # top-level modules of the project, for a hint on `error`


@functools.cache
def task_module(name: str) -> TaskModule:
    """Import `name` once, and say what came of it."""
    module, exc = import_guarded(name)
    if module is not None:
        return TaskModule(name=name, module=module)
    assert exc is not None
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    failed = TaskModule(name=name, error=exception_text(exc), missing=missing)
    if missing is None or not (name == missing or name.startswith(missing + ".")):
        return failed  # it raised, or a module it imports is missing
    parent, _, leaf = missing.rpartition(".")
    if parent and parent in sys.modules:  # imported on the way to the missing part
        return TaskModule(name=name, absent=_absent(sys.modules[parent], parent, leaf))
    if not parent:  # the project's package is not on the path, or its name is misspelt
        return replace(failed, choices=_project_modules())
    return failed


def _absent(parent: ModuleType, parent_name: str, leaf: str) -> Absent:
    path = getattr(parent, "__path__", None)
    if path is not None:
        choices = tuple(sorted(info.name for info in pkgutil.iter_modules(path)))
    else:
        choices = tuple(sorted(n for n in vars(parent) if not n.startswith("_")))
    return Absent(
        parent=parent_name,
        name=leaf,
        parent_is_package=path is not None,
        choices=choices,
        is_attribute=hasattr(parent, leaf),
    )


def _project_modules() -> tuple[str, ...]:
    """Top-level modules of the current directory and PYTHONPATH (not site-packages): what a
    misspelt first part of a project's module path is most likely to mean."""
    paths = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return tuple(sorted({info.name for info in pkgutil.iter_modules(paths)}))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassLookup:
    """What a module holds under a class name: nothing (with suggestions) or a problem."""

    found: bool
    problem: str | None = None  # why it cannot run as a task (see runtime.task), when found
    classes: tuple[str, ...] = ()  # the module's task classes, when not found


@functools.cache
def task_class(module: str, classname: str) -> ClassLookup:
    """Look `classname` up in an imported task module (once per pair)."""
    imported = task_module(module).module
    assert imported is not None, "look classes up only in modules that imported"
    try:
        value = getattr(imported, classname)
    except Exception:  # a module __getattr__ may raise anything for a name it does not have
        return ClassLookup(found=False, classes=_task_classes(imported))
    return ClassLookup(found=True, problem=task_class_problem(value))


def _task_classes(module: ModuleType) -> tuple[str, ...]:
    """The public names of a module that are runnable task classes, in definition order."""
    return tuple(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and isinstance(value, type) and not task_class_problem(value)
    )
