"""Lower the checked model to an emit plan: one context per generated file, every choice made.

Tables are sorted, identifiers allocated (naming.py), values rendered as literals (literals.py)
and conditions as function bodies (lower_conditions.py). The templates only print what this
module decides. Nothing here depends on input order, hash seeds, the time or absolute paths.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from selinonc.compiler import __version__, builtins, literals
from selinonc.compiler.lower.flow import lower_flow
from selinonc.compiler.lower.imports import Import, block
from selinonc.compiler.lower.naming import Namespace, module_name
from selinonc.compiler.lower.support import (
    Origins,
    constructor,
    factory,
    queue_expr,
    timedelta_expr,
)
from selinonc.compiler.model import Project, Storage, Task, Tracer
from selinonc.compiler.predecessor import runtime_storage
from selinonc.compiler.schema import schema_path_problem

# The runtime ABI this compiler emits for; equal to selinonc.runtime.abi.RUNTIME_ABI (tested).
TARGET_ABI = 2


@dataclass(frozen=True, slots=True)
class Header:
    """What every generated file says about itself: only what its own content depends on."""

    version: str


# Stands for a module's digest while it is rendered; emit replaces it with the sha256 of the text
# that holds it, so a module's digest changes exactly when the module does.
DIGEST_SLOT = "<sha256 of this module>"


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One file to generate: its path in the package, its template and what it prints."""

    path: str
    template: str
    context: Mapping[str, Any]


def output_schemas(project: Project) -> dict[str, Any]:
    """The content of every `output_schema` file, by the path the YAML gives (checks SC506,
    SC513).

    Raises:
        ValueError: when a path leads out of the nodes file's folder (SC513 stops the build
            before: the file is not opened).
    """
    out: dict[str, Any] = {}
    for task in project.tasks:
        if task.output_schema is not None and task.output_schema not in out:
            problem = schema_path_problem(project.input_dir, task.output_schema)
            if problem is not None:
                raise ValueError(f"output schema {task.output_schema!r} {problem} (SC513)")
            with open(project.input_path(task.output_schema), encoding="utf-8") as handle:
                out[task.output_schema] = json.load(handle)
    return dict(sorted(out.items()))


def lower(project: Project, first_party: str | None = None) -> list[PlannedFile]:
    """Plan every file of the generated package.

    Each definition's module depends on that definition only: where it is in the YAML goes to
    `origins.py`, so an edit elsewhere in a file (a comment, another flow) changes no other module.

    Args:
        project: a model that passed every check.
        first_party: the top-level package the generated package is written into (its
            imports from that package are grouped as first party, as ruff's isort wants).

    Returns:
        The files in a fixed order; their paths are relative to the package directory.
    """
    origins = Origins.of(project.files)
    schemas = output_schemas(project)
    header = Header(__version__)
    flows = sorted(project.flows, key=lambda f: f.name)
    taken: set[str] = set()
    modules = {flow.name: module_name(flow.name, taken) for flow in flows}
    planned = [
        PlannedFile("__init__.py", "__init__.py.j2", _init_context(header, project)),
        PlannedFile(
            "settings.py", "settings.py.j2", _settings_context(header, project, first_party)
        ),
        PlannedFile(
            "tasks.py",
            "tasks.py.j2",
            _tasks_context(header, project, schemas, first_party),
        ),
        PlannedFile("storages.py", "storages.py.j2", _storages_context(header, project)),
        PlannedFile("flows/__init__.py", "flows__init__.py.j2", _flows_context(header, modules)),
    ]
    where = _origins(project, origins)
    for flow in flows:
        context = lower_flow(project, flow, first_party)
        where += [(origins.at(span), key) for key, span in context["origins"]]
        planned.append(
            PlannedFile(
                f"flows/{modules[flow.name]}.py",
                "flow.py.j2",
                {"header": header, "digest": DIGEST_SLOT, **context},
            )
        )
    planned.append(PlannedFile("origins.py", "origins.py.j2", _origins_context(header, where)))
    return planned


def _origins(project: Project, origins: Origins) -> list[tuple[str, str]]:
    """(file:line, key) of every task, storage and flow; the flows' edges come with the flows."""
    found = [(origins.at(t.span), f"task {t.name}") for t in project.tasks]
    found += [(origins.at(s.span), f"storage {s.name}") for s in project.storages]
    found += [(origins.at(f.span), f"flow {f.name}") for f in project.flows]
    return found


def _origins_context(header: Header, where: list[tuple[str, str]]) -> dict[str, Any]:
    first: dict[str, str] = {}
    for at, key in where:  # a name defined twice (a duplicate storage): the one that counts
        first.setdefault(key, at)

    def position(key: str) -> tuple[str, int, str]:
        file, _, line = first[key].rpartition(":")
        return file, int(line), key

    rows = [
        f"{literals.string(k)}: {literals.string(first[k])}," for k in sorted(first, key=position)
    ]
    return {"header": header, "rows": rows}


def _flows_context(header: Header, modules: Mapping[str, str]) -> dict[str, Any]:
    rows = [f"{literals.string(flow)}: {module}.FLOW," for flow, module in modules.items()]
    imports = block([], [], None, [Import(".", m) for m in modules.values()])
    return {"header": header, "imports": imports, "rows": rows}


def _init_context(header: Header, project: Project) -> dict[str, Any]:
    return {
        "header": header,
        "abi": TARGET_ABI,
        "version": literals.string(header.version),
    }


def _settings_context(header: Header, project: Project, first_party: str | None) -> dict[str, Any]:
    glob = project.global_
    names = Namespace(frozenset({"DIGEST", "Settings", "Tracer", "expand", "SETTINGS", "TRACERS"}))
    tracers = [_tracer(t, names) for t in glob.trace]
    fields = [
        ("default_task_queue", queue_expr(glob.default_task_queue, "global.default_task_queue")),
        (
            "default_dispatcher_queue",
            queue_expr(glob.default_dispatcher_queue, "global.default_dispatcher_queue"),
        ),
    ]
    if glob.migration_dir is not None:
        fields.append(("migration_dir", queue_expr(glob.migration_dir, "global.migration_dir")))
    fields.append(("tracers", "TRACERS"))
    runtime = [Import("selinonc.runtime.tables", "Settings")]
    if tracers:
        runtime.append(Import("selinonc.runtime.tables", "Tracer"))
    if any("expand(" in v for _, v in fields) or any("expand(" in t for t in tracers):
        runtime.append(Import("selinonc.runtime.placeholders", "expand"))
    return {
        "header": header,
        "digest": DIGEST_SLOT,
        "imports": block([], [*runtime, *names.imports()], first_party),
        "tracers": tracers,
        "settings": constructor("Settings", fields, 0),
    }


def _tracer(tracer: Tracer, names: Namespace) -> str:
    fields = [("kind", literals.string(tracer.kind))]
    if tracer.function is not None:
        fields.append(("function", names.imported(tracer.function.import_, tracer.function.name)))
    if tracer.storage is not None:
        fields.append(("storage", literals.string(tracer.storage.name)))
        fields.append(("method", literals.string(tracer.method)))
    if tracer.kind == "sentry" and tracer.dsn is not None:
        fields.append(("dsn", queue_expr(tracer.dsn, "the Sentry DSN (global.trace.sentry.dsn)")))
    return constructor("Tracer", fields, 1)


_TASKS_RESERVED = frozenset(
    {"Any", "DIGEST", "Task", "TASKS", "OUTPUT_SCHEMAS", "expand", "timedelta"}
)


def _tasks_context(
    header: Header,
    project: Project,
    schemas: Mapping[str, Any],
    first_party: str | None,
) -> dict[str, Any]:
    names = Namespace(_TASKS_RESERVED)
    rows = [_task(project, task, names) for task in sorted(project.tasks, key=_by_name)]
    stdlib = [Import("typing", "Any")]
    if any(t.throttling is not None for t in project.tasks):
        stdlib.append(Import("datetime", "timedelta"))
    runtime = [Import("selinonc.runtime.tables", "Task")]
    if any("expand(" in row for row in rows):
        runtime.append(Import("selinonc.runtime.placeholders", "expand"))
    return {
        "header": header,
        "digest": DIGEST_SLOT,
        "imports": block(stdlib, [*runtime, *names.imports()], first_party),
        "schemas": literals.block(schemas, len("OUTPUT_SCHEMAS: dict[str, Any] = "), 0),
        "rows": rows,
    }


def _by_name(item: Task | Storage) -> str:
    return item.name


def _task(project: Project, task: Task, names: Namespace) -> str:
    queue = task.queue or project.global_.default_task_queue
    where = f"the queue of task {task.name!r}"
    if task.queue is None:
        where += " (global.default_task_queue)"
    fields = [
        ("name", literals.string(task.name)),
        ("cls", names.imported(task.import_, task.classname)),
        ("queue", queue_expr(queue, where)),
    ]
    if task.storage is not None:
        fields.append(("storage", literals.string(task.storage.name)))
        if task.storage_readonly:
            fields.append(("storage_readonly", "True"))
    if task.storage_task_name:
        fields.append(("storage_task_name", literals.string(task.storage_task_name)))
    if task.output_schema is not None:
        fields.append(("output_schema", f"OUTPUT_SCHEMAS[{literals.string(task.output_schema)}]"))
    if task.max_retry:
        fields.append(("max_retry", repr(task.max_retry)))
    if task.retry_countdown:
        fields.append(("retry_countdown", repr(task.retry_countdown)))
    if task.throttling is not None:
        fields.append(("throttling", timedelta_expr(task.throttling.interval, 2)))
    if task.selective_run_function is not None:
        function = task.selective_run_function
        module = builtins.runtime_module(function.import_)
        fields.append(("selective_run_function", names.imported(module, function.name)))
    return f"    {literals.string(task.name)}: " + constructor("Task", fields, 1) + ","


def _storages_context(header: Header, project: Project) -> dict[str, Any]:
    names = Namespace(frozenset({"Any", "Cache", "DIGEST", "Storage", "STORAGES"}))
    functions: list[str] = []
    rows: list[str] = []
    storages = [s for s in project.storages if project.storage(s.name) is s]  # first wins
    for storage in sorted(storages, key=_by_name):
        create = names.fresh(f"create_{storage.name}")
        functions.append(
            factory(
                create,
                # Selinon's own storages become selinonc's (see compiler/predecessor.py).
                *runtime_storage(storage.import_, storage.classname, storage.configuration),
                f"storage {storage.name}",
            )
        )
        fields = [("name", literals.string(storage.name)), ("create", create)]
        if storage.cache is not None:
            cache_create = names.fresh(f"create_{storage.name}_cache")
            cache = storage.cache
            functions.append(
                factory(
                    cache_create,
                    builtins.runtime_module(cache.import_),
                    cache.name,
                    dict(cache.configuration),
                    f"the result cache of storage {storage.name}",
                )
            )
            cache_fields = [("name", literals.string(cache.name)), ("create", cache_create)]
            fields.append(("cache", constructor("Cache", cache_fields, 2)))
        rows.append(
            f"    {literals.string(storage.name)}: " + constructor("Storage", fields, 1) + ","
        )
    runtime = [Import("selinonc.runtime.tables", "Storage")]
    if any(s.cache is not None for s in project.storages):
        runtime.append(Import("selinonc.runtime.tables", "Cache"))
    return {
        "header": header,
        "digest": DIGEST_SLOT,
        "imports": block([Import("typing", "Any")] if functions else [], runtime, None),
        "functions": functions,
        "rows": rows,
    }
