"""Task modules and classes (SC507 to SC510): imported once, judged as the runtime runs them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from selinonc.compiler import pipeline, task_classes
from selinonc.compiler.diagnostics import Severity
from selinonc.runtime import SelinonTask
from selinonc.runtime.task import task_class_problem


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder to check from (its modules import from there); the caches forgotten after."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    task_classes.task_module.cache_clear()
    task_classes.task_class.cache_clear()


def _nodes(module: str, n: int, classname: str = "T") -> str:
    tasks = "".join(
        f"  - {{name: T{i}, import: {module}, classname: {classname}}}\n" for i in range(n)
    )
    edges = "".join(f"      - {{from: null, to: T{i}}}\n" for i in range(n))
    return f"tasks:\n{tasks}flows: [main]\nflow-definitions:\n  - name: main\n    edges:\n{edges}"


def test_a_module_is_imported_once_however_many_tasks_use_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "sc_once_tasks.py").write_text(
        "from selinonc.runtime import SelinonTask\n\n\n"
        "class T(SelinonTask):\n    def run(self, node_args):\n        return None\n"
    )
    (project / "flows.yaml").write_text(_nodes("sc_once_tasks", 100))
    imported: list[str] = []
    real = task_classes.import_guarded

    def counting(name: str) -> tuple[ModuleType | None, BaseException | None]:
        imported.append(name)
        return real(name)

    monkeypatch.setattr(task_classes, "import_guarded", counting)
    result = pipeline.check(["flows.yaml"])
    assert result.ok, result.diagnostics
    assert imported == ["sc_once_tasks"]


def test_a_module_that_does_not_import_is_reported_once_for_all_its_tasks(project: Path) -> None:
    (project / "flows.yaml").write_text(_nodes("sc_nowhere_pkg.tasks", 100))
    result = pipeline.check(["flows.yaml"])
    assert [(d.code, d.severity) for d in result.diagnostics] == [("SC507", Severity.WARNING)]
    assert "of task 'T0' and 99 other tasks" in result.diagnostics[0].message
    assert result.ok  # `check` may run where the project's code is not on the path


def test_build_refuses_what_check_only_warns_about(project: Path) -> None:
    (project / "flows.yaml").write_text(_nodes("sc_nowhere_pkg.tasks", 1))
    built = pipeline.build_package(["flows.yaml"])
    assert built.files is None
    assert [(d.code, d.severity) for d in built.diagnostics] == [("SC507", Severity.ERROR)]


def test_a_misspelt_project_package_gets_the_whole_path_suggested(project: Path) -> None:
    (project / "sc_shop").mkdir()
    (project / "sc_shop" / "__init__.py").write_text("")
    (project / "flows.yaml").write_text(_nodes("sc_shpo.tasks", 1))
    (found,) = pipeline.check(["flows.yaml"]).diagnostics
    assert (found.code, found.hint) == ("SC507", "did you mean 'sc_shop.tasks'?")


def test_output_and_exits_of_task_modules_do_not_reach_the_compiler(project: Path) -> None:
    (project / "sc_noisy_tasks.py").write_text("print('hello')\nraise SystemExit(3)\n")
    (project / "flows.yaml").write_text(_nodes("sc_noisy_tasks", 1))
    (found,) = pipeline.check(["flows.yaml"]).diagnostics
    assert found.code == "SC507"
    assert "(SystemExit: 3)" in found.message


def test_a_compat_check_keeps_missing_classes_errors(project: Path) -> None:
    (project / "sc_compat_tasks.py").write_text("")
    (project / "flows.yaml").write_text(_nodes("sc_compat_tasks", 1, classname="Missing"))
    result = pipeline.check(["flows.yaml"], compat=True)
    assert [(d.code, d.severity) for d in result.diagnostics] == [("SC508", Severity.ERROR)]


class Good(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return node_args


class Abstract(SelinonTask):
    pass


class Duck:
    def __init__(self, *args: Any) -> None:
        self.args = args

    def run(self, node_args: Any) -> Any:
        return node_args


class NoArgs:
    def run(self, node_args: Any) -> Any:
        return node_args


def good_function(node_args: Any) -> Any:
    return node_args


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (Good, None),
        (Duck, None),  # what the drivers call works without subclassing SelinonTask
        (Abstract, "does not implement run() (it is abstract)"),
        (NoArgs, "is not a SelinonTask subclass and its constructor does not take "),
        (good_function, "is a function, not a class"),
        (os, "is not a class but a value of type module"),
        (int, "is not a SelinonTask subclass and has no run(node_args) method"),
    ],
)
def test_what_counts_as_a_task_class(value: object, problem: str | None) -> None:
    found = task_class_problem(value)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)


def test_a_class_derived_from_selinons_task_is_named_as_such() -> None:
    base = type("SelinonTask", (), {"__module__": "selinon.selinon_task", "run": Good.run})
    derived = type("Fetch", (base,), {})
    assert task_class_problem(derived) == ("subclasses Selinon's selinon.selinon_task.SelinonTask")
