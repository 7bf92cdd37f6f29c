"""`selinonc inspect`: what a configuration holds (queues, tasks, flows, storages) as data."""

from __future__ import annotations

from typing import Any

from selinonc.compiler.model import Flow, Project

SECTIONS = ("task_queues", "dispatcher_queues", "tasks", "flows", "storages")


def describe(project: Project) -> dict[str, Any]:
    """Every section of `inspect`, sorted by name; queues as written (placeholders kept)."""
    glob = project.global_
    tasks = sorted(project.tasks, key=lambda t: t.name)
    flows = sorted(project.flows, key=lambda f: f.name)
    in_flows: dict[str, list[str]] = {}
    for flow in flows:
        for node in flow.nodes():
            in_flows.setdefault(node, []).append(flow.name)
    return {
        "task_queues": {t.name: t.queue or glob.default_task_queue for t in tasks},
        "dispatcher_queues": {f.name: f.queue or glob.default_dispatcher_queue for f in flows},
        "tasks": [
            {
                "name": t.name,
                "import": t.import_,
                "class": t.classname,
                "queue": t.queue or glob.default_task_queue,
                "storage": t.storage.name if t.storage else None,
                "storage_readonly": t.storage_readonly,
                "storage_task_name": t.storage_task_name or t.name,
                "max_retry": t.max_retry,
                "retry_countdown": t.retry_countdown,
                "throttling": dict(t.throttling.interval) if t.throttling else None,
                "output_schema": t.output_schema,
                "flows": in_flows.get(t.name, []),
            }
            for t in tasks
        ],
        "flows": [_flow(project, f) for f in flows],
        "storages": [
            {
                "name": s.name,
                "import": s.import_,
                "class": s.classname,
                "tasks": sorted(t.name for t in tasks if t.storage and t.storage.name == s.name),
            }
            for s in sorted(project.storages, key=lambda s: s.name)
        ],
    }


def _flow(project: Project, flow: Flow) -> dict[str, Any]:
    nodes = flow.nodes()
    return {
        "name": flow.name,
        "queue": flow.queue or project.global_.default_dispatcher_queue,
        "edges": len(flow.edges),
        "failures": len(flow.failures),
        "tasks": sorted(n for n in nodes if project.is_task(n)),
        "subflows": sorted(n for n in nodes if project.is_flow(n)),
        "sampling": flow.sampling.name if flow.sampling else "default",
    }


def text(description: dict[str, Any], sections: tuple[str, ...]) -> str:
    """The text form: `name:queue` lines for queue sections (like the predecessor's), else a
    short line per task, flow or storage."""
    single = len(sections) == 1
    out: list[str] = []
    for section in sections:
        if not single:
            out.append(f"{section.replace('_', ' ')}:")
        indent = "" if single else "  "
        value = description[section]
        if isinstance(value, dict):
            out += [f"{indent}{name}:{queue}" for name, queue in value.items()]
        else:
            out += [indent + _line(section, item) for item in value]
    return "\n".join(out)


def _line(section: str, item: dict[str, Any]) -> str:
    if section == "tasks":
        storage = f", storage {item['storage']}" if item["storage"] else ""
        return (
            f"{item['name']}: {item['import']}.{item['class']}, queue {item['queue']}{storage}, "
            f"in {', '.join(item['flows']) or 'no flow'}"
        )
    if section == "flows":
        subflows = f", sub-flows {', '.join(item['subflows'])}" if item["subflows"] else ""
        return (
            f"{item['name']}: queue {item['queue']}, {item['edges']} edges, "
            f"{len(item['tasks'])} tasks{subflows}"
        )
    return f"{item['name']}: {item['import']}.{item['class']}, used by {', '.join(item['tasks'])}"
