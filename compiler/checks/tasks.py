"""Task and storage checks (SC5xx): storage use and configuration, classes, retries, schemas."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from selinonc.compiler.builtins import StorageParam, storage_params
from selinonc.compiler.checks import _names
from selinonc.compiler.diagnostics import Diagnostic, did_you_mean
from selinonc.compiler.model import Project, Storage, Task
from selinonc.compiler.schema import schema_file_problem, schema_path_problem


def check_storage_task_name(project: Project) -> Iterator[Diagnostic]:
    """SC501: `storage_task_name` needs a `storage` (checklist 11)."""
    for task in project.tasks:
        if task.storage_task_name is not None and task.storage is None:
            yield Diagnostic.error(
                "SC501",
                task.option_spans.get("storage_task_name", task.span),
                f"task {task.name!r} sets `storage_task_name` but has no `storage`",
                hint="add `storage:` or remove `storage_task_name`",
            )


def check_unused_storages(project: Project) -> Iterator[Diagnostic]:
    """SC502: a storage no task (and no tracer) uses is a leftover."""
    used = {t.storage.name for t in project.tasks if t.storage is not None}
    used |= {tr.storage.name for tr in project.global_.trace if tr.storage is not None}
    for storage in project.storages:
        if storage.name not in used:
            yield Diagnostic.warning(
                "SC502",
                storage.span,
                f"storage {storage.name!r} is used by no task",
                hint="set `storage: " + storage.name + "` on a task, or remove the storage",
            )


def check_shared_classes(project: Project) -> Iterator[Diagnostic]:
    """SC503: tasks sharing one class agree on `output_schema` and `max_retry`."""
    first: dict[tuple[str, str], Task] = {}
    for task in project.tasks:
        other = first.setdefault((task.import_, task.classname), task)
        if other is task:
            continue
        for option in ("output_schema", "max_retry"):
            if getattr(task, option) != getattr(other, option):
                yield Diagnostic.warning(
                    "SC503",
                    task.option_spans.get(option, task.span),
                    f"tasks {other.name!r} and {task.name!r} share the class "
                    f"{task.import_}.{task.classname} but differ in `{option}`",
                    hint="give them the same value, or separate classes",
                )


def check_unused_tasks(project: Project) -> Iterator[Diagnostic]:
    """SC504: a task that no flow uses is a leftover (unless SC205 names it as misspelt)."""
    used = {name for flow in project.flows for name in flow.nodes()}
    used |= _names.paired_task_names(project)
    for task in project.tasks:
        if task.name not in used:
            yield Diagnostic.warning(
                "SC504",
                task.span,
                f"task {task.name!r} is used in no flow",
                hint="use it in a flow's edges, or remove it",
            )


def check_retry_countdown(project: Project) -> Iterator[Diagnostic]:
    """SC505: `retry_countdown` has no effect while `max_retry` is 0."""
    for task in project.tasks:
        if task.retry_countdown and not task.max_retry:
            yield Diagnostic.warning(
                "SC505",
                task.option_spans.get("retry_countdown", task.span),
                f"task {task.name!r} sets `retry_countdown` but `max_retry` is 0: "
                "it is never retried",
                hint="set `max_retry:` or remove `retry_countdown`",
            )


def check_output_schema_paths(project: Project) -> Iterator[Diagnostic]:
    """SC513: an `output_schema` file lies in the nodes file's folder or below.

    selinonc embeds the file in the package and `build --check` prints it: a path that leads
    elsewhere (absolute, `..`, a symbolic link) would copy any readable file of the machine.
    """
    folder = project.input_dir
    shown = folder if folder else "."
    for task in project.tasks:
        if task.output_schema is None:
            continue
        problem = schema_path_problem(folder, task.output_schema)
        if problem is None:
            continue
        yield Diagnostic.error(
            "SC513",
            task.value_spans.get("output_schema", task.span),
            f"output schema {task.output_schema!r} of task {task.name!r} {problem}; selinonc "
            f"reads output schemas only from {shown!r} (the nodes file's folder) and below",
            hint=f"move the schema under {shown!r} {_PATH_FIXES[problem]}",
        )


# How to fix each way out of the nodes file's folder `schema_path_problem` names.
_PATH_FIXES: Mapping[str, str] = {
    "is an absolute path": "and give its path relative to it (absolute paths are refused, "
    "so that the package does not depend on the machine)",
    "goes up out of the nodes file's folder": "and give its path relative to it",
    "leads out of the nodes file's folder through a symbolic link": "instead of linking to it "
    "from there",
}


def check_output_schemas(project: Project) -> Iterator[Diagnostic]:
    """SC506: `output_schema` files exist and hold valid JSON Schemas.

    A relative path is relative to the nodes file's directory: the schema is embedded in the
    generated package, so where the compiler runs must not change what it finds. A path that
    leads out of that directory is SC513's, and its file is never opened.
    """
    for task in project.tasks:
        if task.output_schema is None:
            continue
        if schema_path_problem(project.input_dir, task.output_schema) is not None:
            continue
        problem = schema_file_problem(project.input_path(task.output_schema))
        if problem is not None:
            yield Diagnostic.error(
                "SC506",
                task.value_spans.get("output_schema", task.span),
                f"output schema {task.output_schema!r} of task {task.name!r}: {problem}",
                hint="give the path of a JSON Schema file, relative to the nodes file "
                "(selinonc embeds it in the package)",
            )


def check_storage_configurations(project: Project) -> Iterator[Diagnostic]:
    """SC520: a storage selinonc ships gets the parameters its class takes, with values.

    A null where a value is needed (`path: null`) or a key the class does not take would fail
    in every worker when the storage connects; this names the key before anything runs. Under
    Selinon's module names (`selinon.storages.*`) the keys are Selinon's, so only nulls are
    checked here.
    """
    for storage in project.storages:
        params = storage_params(storage.import_, storage.classname)
        if params is not None and storage.configuration is not None:
            yield from _configuration_problems(storage, params)


def _configuration_problems(
    storage: Storage, params: tuple[StorageParam, ...]
) -> Iterator[Diagnostic]:
    conf = storage.configuration
    # A configuration that is not a mapping is the class's first argument.
    given = dict(conf) if isinstance(conf, Mapping) else {params[0].name: conf}
    selinon = storage.import_.startswith("selinon.")
    known = {param.name: param for param in params}
    where = f"the configuration of storage {storage.name!r}"
    for key, value in given.items():
        span = storage.configuration_spans.get(key) or storage.value_spans.get(
            "configuration", storage.span
        )
        param = known.get(key)
        if param is None and not selinon:
            yield Diagnostic.error(
                "SC520",
                span,
                f"{where} gives {key!r}, which {storage.classname} does not take",
                hint=did_you_mean(key, known) or f"its parameters: {', '.join(known)}",
            )
        elif param is not None and value is None and not param.nullable:
            removable = not param.required and len(given) > 1
            yield Diagnostic.error(
                "SC520",
                span,
                f"`{key}` in {where} is null; {storage.classname} needs {param.takes}",
                hint=f"write {param.takes} after `{key}:`, e.g. `{key}: {param.example}`"
                + (", or remove the key for the default" if removable else ""),
            )
    for param in params:
        if param.required and param.name not in given and not selinon:
            yield Diagnostic.error(
                "SC520",
                storage.value_spans.get("configuration", storage.span),
                f"{where} has no {param.name!r}, which {storage.classname} needs",
                hint=f"add {param.takes}, e.g. `{param.name}: {param.example}`",
            )


CHECKS = (
    check_storage_task_name,
    check_unused_storages,
    check_shared_classes,
    check_unused_tasks,
    check_retry_countdown,
    check_output_schema_paths,
    check_output_schemas,
    check_storage_configurations,
)
