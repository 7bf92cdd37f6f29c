"""SC510 to SC512: names of Selinon's package, and the Selinon storages selinonc translates.

The `selinon` package is never installed beside selinonc: each `selinon.*` name either has an
equivalent in selinonc (`compiler.predecessor`) or could only fail on the workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from selinonc.compiler import predecessor
from selinonc.compiler.checks._text import quoted
from selinonc.compiler.diagnostics import Diagnostic, did_you_mean
from selinonc.compiler.model import Cache, Project, Storage
from selinonc.compiler.predecessor import Equivalent
from selinonc.compiler.source import Span

# (the module, where it is written, what names it)
_Named = tuple[str, Span, str]


def _cache(cache: Cache | None, fallback: Span, what: str) -> Iterator[_Named]:
    if cache is not None:
        yield cache.import_, cache.import_span or fallback, f"the cache of {what}"


def _modules(project: Project) -> Iterator[_Named]:
    """Every module the configuration names, but storages' own (their classes matter)."""
    glob = project.global_
    if glob.predicates_module_span is not None:
        yield glob.predicates_module, glob.predicates_module_span, "`predicates_module`"
    for tracer in glob.trace:
        if tracer.function is not None:
            yield tracer.function.import_, tracer.function.import_span, "a trace function"
    for task in project.tasks:
        what = f"task {task.name!r}"
        yield task.import_, task.value_spans.get("import", task.span), what
        if task.selective_run_function is not None:
            function = task.selective_run_function
            yield function.import_, function.import_span, f"the selective run function of {what}"
    for storage in project.storages:
        yield from _cache(storage.cache, storage.span, f"storage {storage.name!r}")
    for flow in project.flows:
        what = f"flow {flow.name!r}"
        yield from _cache(flow.cache, flow.span, what)
        if flow.sampling is not None:
            yield flow.sampling.import_, flow.sampling.import_span, f"the sampling of {what}"
        for edge in flow.edges:
            if edge.foreach is not None:
                where = f"the foreach of edge #{edge.index + 1} of {what}"
                yield edge.foreach.import_, edge.foreach.import_span, where


def check_selinon_modules(project: Project) -> Iterator[Diagnostic]:
    """SC510: a `selinon.*` module outside storages that selinonc has no equivalent of."""
    for module, span, what in _modules(project):
        if predecessor.is_selinon(module) and module not in predecessor.KNOWN_MODULES:
            yield Diagnostic.error(
                "SC510",
                span,
                f"{what} names {module!r}, a module of Selinon, which selinonc neither "
                "replaces nor installs",
                hint=f"selinonc replaces {', '.join(_replaced())}; name your own module or "
                "one of selinonc.runtime's instead",
            )


def _replaced() -> list[str]:
    """The `selinon.*` modules selinonc replaces, each package once (not its `adapter`)."""
    known = predecessor.KNOWN_MODULES
    return sorted(m for m in known if m.rpartition(".")[0] not in known)


def _class_span(storage: Storage) -> Span:
    """The line naming a storage's class: its `classname`, else its `name`."""
    return storage.value_spans.get("classname", storage.span)


def check_selinon_storages(project: Project) -> Iterator[Diagnostic]:
    """SC510: a storage of Selinon's that selinonc has no equivalent of (S3, MongoDB, ...)."""
    for storage in project.storages:
        module, classname = storage.import_, storage.classname
        if not predecessor.is_selinon(module) or (module, classname) in predecessor.STORAGES:
            continue
        message, hint = _no_equivalent(module, classname)
        known = predecessor.storage_classes(module)
        if "classname" not in storage.value_spans and len(known) == 1:
            hint = f"add `classname: {known[0]}` (without it, the class is named like the storage)"
        yield Diagnostic.error(
            "SC510", _class_span(storage), f"storage {storage.name!r}: {message}", hint
        )


def _no_equivalent(module: str, classname: str) -> tuple[str, str]:
    """The message and hint for a Selinon storage class selinonc does not translate."""
    if module in predecessor.WITHOUT_EQUIVALENT:
        _, instead = predecessor.WITHOUT_EQUIVALENT[module]
        return f"selinonc has no equivalent of Selinon's {module}.{classname} yet", instead
    known = predecessor.storage_classes(module)
    if known:
        return (
            f"Selinon's {module!r} has no storage {classname!r}",
            did_you_mean(classname, known) or f"its storage is {quoted(known)}",
        )
    translated = sorted(f"{m}.{c}" for m, c in predecessor.STORAGES if m in _replaced())
    return (
        f"selinonc has no equivalent of Selinon's module {module!r}",
        "selinonc translates Selinon's " + ", ".join(translated),
    )


def check_selinon_storage_translated(project: Project) -> Iterator[Diagnostic]:
    """SC512: Selinon's Redis or PostgreSQL storage, which `--compat` builds as selinonc's."""
    for storage in project.storages:
        equivalent = predecessor.STORAGES.get((storage.import_, storage.classname))
        if equivalent is None or not equivalent.translated:
            continue
        keys = ", ".join(
            old if old == new else f"{old} as {new}" for old, new in equivalent.renamed.items()
        )
        yield Diagnostic.error(
            "SC512",
            _class_span(storage),
            f"storage {storage.name!r} names Selinon's {storage.import_}.{storage.classname}; "
            f"`--compat` builds it as {equivalent.module}.{equivalent.classname}",
            hint=f"to build without --compat, write `import: {equivalent.module}` and "
            f"`classname: {equivalent.classname}` (Selinon's keys carried over: {keys})",
        )


def check_selinon_storage_keys(project: Project) -> Iterator[Diagnostic]:
    """SC511: a key of a translated Selinon storage that its equivalent cannot honour."""
    for storage in project.storages:
        equivalent = predecessor.STORAGES.get((storage.import_, storage.classname))
        if equivalent is None:
            continue
        given = predecessor.as_keywords(equivalent, storage.configuration)
        selinon = f"Selinon's {storage.import_}.{storage.classname}"
        for key, value in given.items():
            problem = _key_problem(selinon, equivalent, key, value)
            if problem is not None:
                message, hint = problem
                span = _key_span(storage, key)
                yield Diagnostic.error("SC511", span, f"storage {storage.name!r}: {message}", hint)
        for key in equivalent.required:
            if given.get(key) is None:
                yield Diagnostic.error(
                    "SC511",
                    storage.value_spans.get("configuration", storage.span),
                    f"storage {storage.name!r}: {selinon} needs `{key}` in its configuration",
                    hint=f"add `{key}:` to `configuration`",
                )


def _key_span(storage: Storage, key: str) -> Span:
    spans = storage.configuration_spans
    return spans.get(key, storage.value_spans.get("configuration", storage.span))


def _key_problem(
    selinon: str, equivalent: Equivalent, key: str, value: Any
) -> tuple[str, str] | None:
    """Why `key: value` does not translate (message, hint), or None when it does."""
    if key not in equivalent.params:
        return (
            f"{selinon} takes no `{key}`",
            did_you_mean(key, equivalent.params) or f"its keys are {quoted(equivalent.params)}",
        )
    if key in equivalent.renamed or value in equivalent.dropped.get(key, ()):
        return None  # carried over, or Selinon's default, which needs no translation
    return (
        f"`{key}: {value!r}` has no equivalent in selinonc's {equivalent.classname}",
        equivalent.instead,
    )


CHECKS = (
    check_selinon_modules,
    check_selinon_storages,
    check_selinon_storage_translated,
    check_selinon_storage_keys,
)
