"""SC507 to SC509 (and SC510): task modules import and hold runnable task classes.

Each module is imported once however many tasks name it (see `compiler.task_classes`). A module
that cannot be imported may still import where the workers run, so `check` warns (SC507) and
`build` refuses (pipeline.BUILD_BLOCKERS); a name that is certainly absent is an error.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence

from selinonc.compiler.checks._text import quoted
from selinonc.compiler.diagnostics import Diagnostic, did_you_mean
from selinonc.compiler.literals import is_identifier
from selinonc.compiler.model import Project, Task
from selinonc.compiler.predecessor import is_selinon
from selinonc.compiler.source import Span
from selinonc.compiler.task_classes import Absent, TaskModule, task_class, task_module
from selinonc.runtime.task import TASK_CLASS_HINT

_LISTED = 6  # names listed in a hint before "…"


def _checked(project: Project) -> dict[str, list[Task]]:
    """Tasks by module, in YAML order, leaving out what other checks refuse (SC211, SC510)."""
    by_module: dict[str, list[Task]] = {}
    for task in project.tasks:
        module = task.import_
        if is_selinon(module) or not all(is_identifier(p) for p in module.split(".")):
            continue
        by_module.setdefault(module, []).append(task)
    return by_module


def _tasks_phrase(tasks: Sequence[Task]) -> str:
    """`task 'A'`, `tasks 'A' and 'B'`, `task 'A' and 3 other tasks`."""
    if len(tasks) == 1:
        return f"task {tasks[0].name!r}"
    if len(tasks) == 2:
        return f"tasks {tasks[0].name!r} and {tasks[1].name!r}"
    return f"task {tasks[0].name!r} and {len(tasks) - 1} other tasks"


def _listing(names: Sequence[str]) -> str:
    shown = quoted(names[:_LISTED])
    return shown + (", …" if len(names) > _LISTED else "")


def _closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice `did_you_mean` would name, to suggest a whole path built from it."""
    matches = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _import_span(task: Task) -> Span:
    return task.value_spans.get("import", task.span)


def _class_span(task: Task) -> Span:
    return task.value_spans.get("classname", task.span)


def check_task_modules(project: Project) -> Iterator[Diagnostic]:
    """SC507 (once per module) and SC508: every task module imports."""
    for module, tasks in _checked(project).items():
        found = task_module(module)
        if found.absent is not None:
            for task in tasks:  # each `import` line holds the misspelling
                yield _absent_module(found.absent, module, task)
        elif found.missing is not None and is_selinon(found.missing):
            yield _imports_selinon(found, tasks)
        elif found.error is not None:
            yield _unimportable(found, tasks)


def _imports_selinon(found: TaskModule, tasks: Sequence[Task]) -> Diagnostic:
    """SC510: task code written for Selinon imports it; selinonc never installs it."""
    return Diagnostic.error(
        "SC510",
        _import_span(tasks[0]),
        f"module {found.name!r} of {_tasks_phrase(tasks)} imports Selinon ({found.error}), "
        "which selinonc replaces and never installs",
        hint="import the task API from selinonc: `from selinonc.runtime import SelinonTask` "
        "(likewise FatalTaskError, Retry; storages from selinonc.runtime.storages)",
    )


def _unimportable(found: TaskModule, tasks: Sequence[Task]) -> Diagnostic:
    top = found.name.split(".")[0]
    meant = _closest(top, found.choices)  # the first part is misspelt: name the whole path
    close = f"did you mean {meant + found.name[len(top) :]!r}?" if meant else None
    their = "its class is" if len(tasks) == 1 else "their classes are"
    return Diagnostic.warning(
        "SC507",
        _import_span(tasks[0]),
        f"cannot import module {found.name!r} of {_tasks_phrase(tasks)} ({found.error}); "
        f"{their} not checked",
        hint=close
        or "selinonc imports task modules from the current directory and PYTHONPATH, as the "
        "workers do; run it where the module imports without error",
    )


def _absent_module(absent: Absent, module: str, task: Task) -> Diagnostic:
    where = f"the import of task {task.name!r}"
    rest = module[len(f"{absent.parent}.{absent.name}") :]
    if absent.parent_is_package:
        message = f"package {absent.parent!r} has no module {absent.name!r} ({where})"
        meant = _closest(absent.name, absent.choices)
        if meant is not None:
            hint = f"did you mean {f'{absent.parent}.{meant}{rest}'!r}?"
        elif absent.choices:
            hint = f"its modules are {_listing(absent.choices)}"
        else:
            hint = "it has no modules; check `import`"
    elif absent.is_attribute and not rest:
        message = f"{absent.parent!r} is a module, not a package; {absent.name!r} is a name in it"
        hint = f"write `import: {absent.parent}` and `classname: {absent.name}`"
    else:
        message = f"{absent.parent!r} is a module, not a package: it has no module {absent.name!r}"
        hint = f"`import` names the module that defines the class; {where} is {module!r}"
    return Diagnostic.error("SC508", _import_span(task), message, hint)


def check_task_classes(project: Project) -> Iterator[Diagnostic]:
    """SC508 (per task) and SC509 (once per class): each task's class exists and can run."""
    for module, tasks in _checked(project).items():
        if task_module(module).module is None:
            continue  # SC507 or SC508 above
        by_class: dict[str, list[Task]] = {}
        for task in tasks:
            lookup = task_class(module, task.classname)
            if not lookup.found:
                yield _absent_class(module, task, lookup.classes)
            elif lookup.problem is not None:
                by_class.setdefault(task.classname, []).append(task)
        for classname, users in by_class.items():
            problem = task_class(module, classname).problem
            yield Diagnostic.error(
                "SC509",
                _class_span(users[0]),
                f"{module}.{classname}, the class of {_tasks_phrase(users)}, {problem}",
                hint=TASK_CLASS_HINT,
            )


def _absent_class(module: str, task: Task, classes: Sequence[str]) -> Diagnostic:
    implied = "classname" not in task.value_spans
    named = " (without `classname`, a task's class is named like the task)" if implied else ""
    if classes:
        fallback = f"the task classes of {module!r} are {_listing(classes)}"
    else:
        fallback = f"{module!r} defines no task class; {TASK_CLASS_HINT}"
    return Diagnostic.error(
        "SC508",
        _class_span(task),
        f"module {module!r} has no class {task.classname!r}, the class of task "
        f"{task.name!r}{named}",
        hint=did_you_mean(task.classname, classes) or fallback,
    )


CHECKS = (check_task_modules, check_task_classes)
