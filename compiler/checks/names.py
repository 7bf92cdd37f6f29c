"""Name checks (SC2xx): every name defined once, every reference resolved, names usable in code."""

from __future__ import annotations

from collections.abc import Iterator

from selinonc.compiler.checks import _names
from selinonc.compiler.checks._names import renamed_flows
from selinonc.compiler.diagnostics import Diagnostic, Speller, did_you_mean
from selinonc.compiler.model import Flow, Project

RESERVED_PREFIX = "_sc_"


def check_nodes_defined_once(project: Project) -> Iterator[Diagnostic]:
    """SC201: task names, and task and flow names together, are unique (checklist 8)."""
    first: dict[str, str] = {}
    named = [(t.name, t.span, "task") for t in project.tasks]
    named += [(r.name, r.span, "flow") for r in project.listed_flows]
    for name, span, kind in named:
        if name not in first:
            first[name] = kind
        elif first[name] == kind:
            where = "under `tasks`" if kind == "task" else "in `flows`"
            yield Diagnostic.error(
                "SC201", span, f"{kind} {name!r} is listed twice {where}", hint="remove one"
            )
        else:
            yield Diagnostic.error(
                "SC201",
                span,
                f"{kind} name {name!r} is already used by a {first[name]}",
                hint="tasks and flows share one namespace; rename one of them",
            )


def check_flows_defined_once(project: Project) -> Iterator[Diagnostic]:
    """SC202: a flow has one definition (checklist 6)."""
    seen: dict[str, Flow] = {}
    for flow in project.flows:
        if flow.name in seen:
            other = seen[flow.name].span
            yield Diagnostic.error(
                "SC202",
                flow.span,
                f"flow {flow.name!r} is defined twice (first at {other})",
                hint="merge the two definitions or rename one flow",
            )
        else:
            seen[flow.name] = flow


def check_definitions_are_listed(project: Project) -> Iterator[Diagnostic]:
    """SC203: every flow definition names a flow listed in `flows` (checklist 4).

    Uses of the unlisted flow elsewhere are not reported again (see `_names`).
    """
    renamed = {f.name: listed for listed, f in renamed_flows(project).items()}
    for flow in project.flows:
        if project.is_flow(flow.name):
            continue
        users = _users(project, flow.name)
        used = f" ({_flows_phrase(users)} {_verb(users)} it)" if users else ""
        yield Diagnostic.error(
            "SC203",
            flow.span,
            f"flow {flow.name!r} is defined but not listed in `flows`{used}",
            hint=_unlisted_hint(project, flow.name, renamed.get(flow.name)),
        )


def _users(project: Project, name: str) -> list[str]:
    """The flows whose edges, failures or options name `name`, in input order."""
    users = [
        f.name
        for f in project.flows
        if any(r.name == name for r in (*_names.flow_refs(f), *_names.option_refs(f)))
    ]
    return list(dict.fromkeys(users))


def _unlisted_hint(project: Project, name: str, listed_as: str | None) -> str:
    """How to list a flow: where `flows` is, or the listed name it was probably meant to be."""
    if listed_as is not None:
        where = next((f" (at {r.span})" for r in project.listed_flows if r.name == listed_as), "")
        return (
            f"did you mean {listed_as!r}? `flows` lists {listed_as!r}{where}, which has no "
            "definition; use one spelling in both places"
        )
    at = f" (at {project.listed_flows[0].span})" if project.listed_flows else ""
    add = f"add {name!r} to the `flows` list of the nodes file{at}"
    meant = did_you_mean(name, (r.name for r in project.listed_flows))
    if meant is not None:
        return f"{meant} If not, {add}"
    return f"{add}: only listed flows run and start as sub-flows"


def _flows_phrase(names: list[str]) -> str:
    """`flow 'a'`, `flows 'a' and 'b'`, `flows 'a', 'b', 'c' and 2 more`."""
    if len(names) == 1:
        return f"flow {names[0]!r}"
    shown = [repr(n) for n in names[:3]]
    if len(names) > 3:
        return "flows " + ", ".join(shown) + f" and {len(names) - 3} more"
    return "flows " + ", ".join(shown[:-1]) + " and " + shown[-1]


def _verb(names: list[str]) -> str:
    return "uses" if len(names) == 1 else "use"


def check_listed_flows_defined(project: Project) -> Iterator[Diagnostic]:
    """SC204: every listed flow has a definition (checklist 5)."""
    renamed = renamed_flows(project)  # SC203 at the definition names the listed flow
    for ref in project.listed_flows:
        if project.flow(ref.name) is None and ref.name not in renamed:
            yield Diagnostic.error(
                "SC204",
                ref.span,
                f"flow {ref.name!r} is listed in `flows` but has no definition",
                hint="add it to `flow-definitions` in a flow file, or remove it from `flows`",
            )


def check_node_references(project: Project) -> Iterator[Diagnostic]:
    """SC205: edges, failures, nowait and eager_failures name existing tasks or flows.

    A use explained by a mistake at a definition (a misspelt task, an unlisted flow) is left
    to the diagnostic of that definition.
    """
    known = Speller([t.name for t in project.tasks] + [r.name for r in project.listed_flows])
    misspelt = _names.misspelt_definitions(project)
    for flow in project.flows:
        for ref in _names.flow_refs(flow):
            if project.is_node(ref.name) or ref.name in misspelt:
                continue
            if _names.is_unlisted_definition(project, ref.name):
                continue
            yield Diagnostic.error(
                "SC205",
                ref.span,
                f"flow {flow.name!r} uses {ref.name!r}, which is neither a task nor a flow",
                hint=known.did_you_mean(ref.name) or "define it under `tasks` or `flows`",
            )


def check_misspelt_tasks(project: Project) -> Iterator[Diagnostic]:
    """SC205, once at the definition: a task no flow uses, while the flows use a close name."""
    for miss in _names.misspelt_definitions(project).values():
        users = list(dict.fromkeys(flow.name for flow, _ in miss.uses))
        first = miss.uses[0][1].span
        count = len(miss.uses)
        fixes = f"its use at {first}" if count == 1 else f"all {count} uses (the first at {first})"
        yield Diagnostic.error(
            "SC205",
            miss.task.span,
            f"task {miss.task.name!r} is used in no flow, but {_flows_phrase(users)} "
            f"{_verb(users)} {miss.used_as!r}, which is not defined",
            hint=f"did you mean {miss.used_as!r}? renaming the task fixes {fixes}",
        )


def check_storage_references(project: Project) -> Iterator[Diagnostic]:
    """SC206: tasks and storage tracers name existing storages (checklist 13)."""
    known = Speller(s.name for s in project.storages)
    refs = [(t.storage, f"task {t.name!r}") for t in project.tasks if t.storage is not None]
    refs += [(tr.storage, "a storage tracer") for tr in project.global_.trace if tr.storage]
    for ref, user in refs:
        if project.storage(ref.name) is None:
            yield Diagnostic.error(
                "SC206",
                ref.span,
                f"{user} uses storage {ref.name!r}, which is not defined",
                hint=known.did_you_mean(ref.name) or "define it under `storages`",
            )


def check_storages_defined_once(project: Project) -> Iterator[Diagnostic]:
    """SC207: storage names are unique (Selinon silently keeps both)."""
    seen: set[str] = set()
    for storage in project.storages:
        if storage.name in seen:
            yield Diagnostic.error(
                "SC207",
                storage.span,
                f"storage {storage.name!r} is defined twice",
                hint="rename one; tasks could not tell which one they use",
            )
        seen.add(storage.name)


def check_storage_node_clash(project: Project) -> Iterator[Diagnostic]:
    """SC208: a storage is not named like a task or flow."""
    for storage in project.storages:
        if project.is_node(storage.name):
            kind = "task" if project.is_task(storage.name) else "flow"
            yield Diagnostic.error(
                "SC208",
                storage.span,
                f"storage {storage.name!r} has the name of a {kind}",
                hint=f"give the storage a name of its own, e.g. {storage.name + 'Storage'!r}",
            )


def check_generated_name_clashes(project: Project) -> Iterator[Diagnostic]:
    """SC209: names that would clash in the generated package."""
    by_lower: dict[str, str] = {}
    for ref in project.listed_flows:
        other = by_lower.setdefault(ref.name.lower(), ref.name)
        if other != ref.name:
            yield Diagnostic.error(
                "SC209",
                ref.span,
                f"flows {other!r} and {ref.name!r} differ only in case; their generated "
                "modules would be one file on case-insensitive file systems",
                hint="rename one of the flows",
            )
    names = [(t.name, t.span) for t in project.tasks] + [(s.name, s.span) for s in project.storages]
    names += [(r.name, r.span) for r in project.listed_flows]
    for name, span in names:
        if name.startswith(RESERVED_PREFIX):
            yield Diagnostic.error(
                "SC209",
                span,
                f"name {name!r} starts with {RESERVED_PREFIX!r}, which generated code reserves",
                hint="rename it",
            )


CHECKS = (
    check_nodes_defined_once,
    check_flows_defined_once,
    check_definitions_are_listed,
    check_listed_flows_defined,
    check_node_references,
    check_misspelt_tasks,
    check_storage_references,
    check_storages_defined_once,
    check_storage_node_clash,
    check_generated_name_clashes,
)
