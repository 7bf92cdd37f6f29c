"""SC211: every name that generated code imports or defines is valid Python."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator

from selinonc.compiler.diagnostics import Diagnostic
from selinonc.compiler.model import Cache, FunctionRef, Project, Ref
from selinonc.compiler.source import Span

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MODULE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

# (a dotted module path?, what it is, the name and where it is written)
Named = tuple[bool, str, Ref]


def _ref(name: str, span: Span | None, fallback: Span) -> Ref:
    return Ref(name=name, span=span or fallback)


def _function(what: str, function: FunctionRef) -> Iterator[Named]:
    yield True, f"the module of {what}", Ref(name=function.import_, span=function.import_span)
    yield False, f"the function of {what}", Ref(name=function.name, span=function.name_span)


def _cache(what: str, cache: Cache | None, fallback: Span) -> Iterator[Named]:
    if cache is not None:
        yield True, f"the cache module of {what}", _ref(cache.import_, cache.import_span, fallback)
        yield False, f"the cache class of {what}", _ref(cache.name, cache.name_span, fallback)


def _node_names(project: Project) -> Iterator[Named]:
    for task in project.tasks:
        at = task.value_spans
        what = f"task {task.name!r}"
        yield False, "a task name", Ref(name=task.name, span=task.span)
        # The spans of 10,000 tasks' classes and imports are made only for names that are wrong.
        if "classname" in at and _problem(False, task.classname):  # else: the task name's
            yield False, f"the class of {what}", Ref(name=task.classname, span=at["classname"])
        if _problem(True, task.import_):
            yield True, f"the import of {what}", _ref(task.import_, at.get("import"), task.span)
        if task.selective_run_function is not None:
            yield from _function(
                f"the selective run function of {what}", task.selective_run_function
            )
    for storage in project.storages:
        at = storage.value_spans
        what = f"storage {storage.name!r}"
        yield False, "a storage name", Ref(name=storage.name, span=storage.span)
        if "classname" in at:  # else the class is the storage name, checked just above
            yield False, f"the class of {what}", Ref(name=storage.classname, span=at["classname"])
        yield True, f"the import of {what}", _ref(storage.import_, at.get("import"), storage.span)
        yield from _cache(what, storage.cache, storage.span)
    for ref in project.listed_flows:
        yield False, "a flow name", ref


def _flow_names(project: Project) -> Iterator[Named]:
    for flow in project.flows:
        what = f"flow {flow.name!r}"
        yield from _cache(what, flow.cache, flow.span)
        if flow.sampling is not None:
            sampling = flow.sampling
            yield (
                True,
                f"the sampling module of {what}",
                Ref(name=sampling.import_, span=sampling.import_span),
            )
        for edge in flow.edges:
            if edge.foreach is not None:
                where = f"the foreach of edge #{edge.index + 1} of {what}"
                yield True, where, Ref(name=edge.foreach.import_, span=edge.foreach.import_span)
                yield False, where, Ref(name=edge.foreach.function, span=edge.foreach.function_span)


def _global_names(project: Project) -> Iterator[Named]:
    glob = project.global_
    if glob.predicates_module_span is not None:
        yield (
            True,
            "`predicates_module`",
            Ref(name=glob.predicates_module, span=glob.predicates_module_span),
        )
    for tracer in glob.trace:
        if tracer.function is not None:
            yield from _function("a trace function", tracer.function)


def _problem(is_module: bool, name: str) -> str | None:
    parts = name.split(".") if is_module else [name]
    bad_word = next((p for p in parts if keyword.iskeyword(p)), None)
    if bad_word is not None:
        return f"contains the Python keyword {bad_word!r}"
    if not (MODULE_PATH if is_module else IDENTIFIER).fullmatch(name):
        return "is not a dotted module path" if is_module else "is not a Python identifier"
    return None


def check_python_names(project: Project) -> Iterator[Diagnostic]:
    """SC211: names that generated code imports or defines are valid Python."""
    names = (*_node_names(project), *_flow_names(project), *_global_names(project))
    for is_module, what, ref in names:
        problem = _problem(is_module, ref.name)
        if problem is not None:
            yield Diagnostic.error(
                "SC211",
                ref.span,
                f"name {ref.name!r} ({what}) {problem}; generated code cannot use it",
                hint="use letters, digits and underscores, not starting with a digit"
                + (", parts separated by dots" if is_module else ""),
            )


CHECKS = (check_python_names,)
