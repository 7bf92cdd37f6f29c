"""Lower one flow to the context of its module: condition functions, edge and failure tables."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from selinonc.compiler import builtins, literals, signatures
from selinonc.compiler.lower import conditions
from selinonc.compiler.lower.imports import Import, block
from selinonc.compiler.lower.naming import Namespace
from selinonc.compiler.lower.support import (
    constructor,
    factory,
    queue_expr,
    timedelta_expr,
)
from selinonc.compiler.model import Condition, Edge, Failure, Flow, Project, Propagate, Ref
from selinonc.compiler.source import Span

# Names the flow module defines or imports from the runtime itself.
_RESERVED = frozenset(
    {
        "Any",
        "Cache",
        "DIGEST",
        "EDGES",
        "Edge",
        "FAILURES",
        "Failure",
        "Flow",
        "FLOW",
        "Foreach",
        "Results",
        "Sampling",
        "Selective",
        "expand",
        "predicates",
        "timedelta",
    }
)
_RUNTIME_NAMES = frozenset(
    {"Cache", "Edge", "Failure", "Flow", "Foreach", "Results", "Sampling", "Selective"}
)
# `def <name>(results: Results, node_args: Any) -> bool:` stays within 88 columns.
_MAX_NAME = 41


def edge_id(edge: Edge) -> str:
    """An opaque id derived from the edge's content, not its position in the YAML list."""
    content: dict[str, Any] = {
        "from": [r.name for r in edge.sources],
        "to": [r.name for r in edge.targets],
        "condition": conditions.canonical(edge.condition),
    }
    if edge.foreach is not None:
        content["foreach"] = [edge.foreach.import_, edge.foreach.function]
        content["propagate_result"] = edge.foreach.propagate_result
    if edge.selective is not None:
        sel = edge.selective
        subsequent = sel.run_subsequent
        content["selective"] = {
            "tasks": [r.name for r in sel.tasks],
            "follow_subflows": sel.follow_subflows,
            "run_subsequent": subsequent
            if isinstance(subsequent, bool)
            else [r.name for r in subsequent],
        }
    text = json.dumps(content, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def failure_id(failure: Failure) -> str:
    """An opaque id derived from the failure's content, like `edge_id`."""
    fallback = failure.fallback
    content: dict[str, Any] = {
        "nodes": sorted(r.name for r in failure.nodes),
        "fallback": fallback if isinstance(fallback, bool) else [r.name for r in fallback],
        "condition": conditions.canonical(failure.condition),
        "propagate_failure": failure.propagate_failure,
    }
    text = json.dumps(content, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _readable_name(kind: str, owner: Edge | Failure) -> str:
    """`when_A_to_B` for an edge, `fallback_A_to_F` for a failure."""
    sources = owner.sources if isinstance(owner, Edge) else owner.nodes
    targets = owner.targets if isinstance(owner, Edge) else owner.fallback
    source = "_".join(r.name for r in sources) or "start"
    target = "nothing" if isinstance(targets, bool) else "_".join(r.name for r in targets)
    return f"{kind}_{source}_to_{target}"


def function_names(flow: Flow) -> dict[int, str]:
    """The name of each condition function, by `id()` of its edge or failure.

    Names come from content, never positions, so inserting an edge renames nothing else: the
    readable name when it is short and unique in the flow, else the readable name cut short
    plus the first 8 digits of the edge's (or failure's) content-derived id.
    """
    owners: list[tuple[str, Edge | Failure, str]] = [
        ("when", e, edge_id(e)) for e in flow.edges if e.condition is not None
    ]
    owners += [("fallback", f, failure_id(f)) for f in flow.failures if f.condition is not None]
    readable = [_readable_name(kind, owner) for kind, owner, _ in owners]
    counts = {name: readable.count(name) for name in readable}
    names: dict[int, str] = {}
    for (_, owner, ident), name in zip(owners, readable, strict=True):
        if counts[name] > 1 or len(name) > _MAX_NAME:
            name = f"{name[: _MAX_NAME - 9].rstrip('_')}_{ident[:8]}"
        names[id(owner)] = name
    return names


def _names(refs: tuple[Ref, ...]) -> str:
    return literals.block(tuple(r.name for r in refs), 0, 2)


def _frozenset(names: list[str]) -> str:
    return "frozenset({" + ", ".join(literals.string(n) for n in sorted(set(names))) + "})"


class _FlowLowering:
    """The state of lowering one flow: its namespace and the functions written so far."""

    def __init__(self, project: Project, flow: Flow) -> None:
        self.project, self.flow = project, flow
        self.names = Namespace(_RESERVED)
        self.function_names = function_names(flow)
        self.origins: list[tuple[str, Span]] = []  # (key in ORIGINS, where in the YAML)
        self.functions: list[str] = []
        self.uses: set[str] = {"Flow"}  # the runtime names the module needs
        self.ids: dict[str, int] = {}  # edge ids given so far, with how often
        module = project.global_.predicates_module
        catalog = signatures.predicates(module)
        self.predicates = conditions.Predicates(
            alias="predicates", params={n: s.params for n, s in catalog.functions.items()}
        )
        self.predicates_module = builtins.runtime_module(module)

    def unique(self, identity: str) -> str:
        """An edge id; the second of two identical edges gets `-2`, and so on."""
        n = self.ids.get(identity, 0) + 1
        self.ids[identity] = n
        return identity if n == 1 else f"{identity}-{n}"

    def condition(self, kind: str, owner: Edge | Failure, cond: Condition | None) -> str | None:
        if cond is None:
            return None
        sources = owner.sources if isinstance(owner, Edge) else owner.nodes
        self.uses.update({"Results", "Any"})
        name = self.names.fresh(self.function_names[id(owner)])
        self.functions.append(
            f"def {name}(results: Results, node_args: Any) -> bool:\n"
            + conditions.body(cond, sources, self.predicates)
            + "\n"
        )
        return name

    def edge(self, edge: Edge) -> str:
        self.uses.add("Edge")
        ident = self.unique(edge_id(edge))
        self.origins.append((f"edge {self.flow.name} {edge.index}", edge.span))
        fields = [
            ("index", repr(edge.index)),
            ("id", literals.string(ident)),
            ("sources", _names(edge.sources)),
            ("targets", _names(edge.targets)),
        ]
        function = self.condition("when", edge, edge.condition)
        if function is not None:
            fields.append(("condition", function))
            fields.append(("condition_text", literals.block(conditions.text(edge.condition), 0, 2)))
        if edge.foreach is not None:
            fe = edge.foreach
            local = self.names.imported(fe.import_, fe.function)
            foreach = [
                ("function", local),
                ("text", literals.string(f"{fe.import_}.{fe.function}")),
            ]
            if fe.propagate_result:
                foreach.append(("propagate_result", "True"))
            fields.append(("foreach", constructor("Foreach", foreach, 2)))
            self.uses.add("Foreach")
        if edge.selective is not None:
            fields.append(("selective", self.selective(edge)))
        return "    " + constructor("Edge", fields, 1) + ","

    def selective(self, edge: Edge) -> str:
        assert edge.selective is not None
        self.uses.add("Selective")
        sel = edge.selective
        fields = [("task_names", _names(sel.tasks))]
        if sel.follow_subflows:
            fields.append(("follow_subflows", "True"))
        if sel.run_subsequent is True:
            fields.append(("run_subsequent", "True"))
        elif not isinstance(sel.run_subsequent, bool) and sel.run_subsequent:
            fields.append(("run_subsequent", _names(sel.run_subsequent)))
        return constructor("Selective", fields, 2)

    def failure(self, failure: Failure) -> str:
        self.uses.add("Failure")
        fallback = "True" if isinstance(failure.fallback, bool) else _names(failure.fallback)
        fields = [
            ("index", repr(failure.index)),
            ("nodes", _frozenset([r.name for r in failure.nodes])),
            ("fallback", fallback),
        ]
        function = self.condition("fallback", failure, failure.condition)
        if function is not None:
            fields.append(("condition", function))
            fields.append(
                ("condition_text", literals.block(conditions.text(failure.condition), 0, 2))
            )
        if failure.propagate_failure:
            fields.append(("propagate_failure", "True"))
        self.origins.append((f"failure {self.flow.name} {failure.index}", failure.span))
        return "    " + constructor("Failure", fields, 1) + ","

    def options(self) -> list[tuple[str, str]]:
        flow = self.flow
        fields: list[tuple[str, str]] = []
        if flow.nowait:
            fields.append(("nowait", _frozenset([r.name for r in flow.nowait])))
        if flow.eager_failures is True:
            fields.append(("eager_failures", "True"))
        elif not isinstance(flow.eager_failures, bool) and flow.eager_failures:
            fields.append(("eager_failures", _frozenset([r.name for r in flow.eager_failures])))
        if flow.node_args_from_first:
            fields.append(("node_args_from_first", "True"))
        for key in sorted(flow.propagate):
            value = _propagation(flow.propagate[key])
            if value is not None:
                fields.append((key, value))
        if flow.max_retry:
            fields.append(("max_retry", repr(flow.max_retry)))
        if flow.retry_countdown:
            fields.append(("retry_countdown", repr(flow.retry_countdown)))
        if flow.sampling is not None:
            fields.append(("sampling", self.sampling()))
        if flow.throttling is not None:
            fields.append(("throttling", timedelta_expr(flow.throttling.interval, 1)))
            self.uses.add("timedelta")
        if flow.cache is not None:
            fields.append(("cache", self.cache()))
        return fields

    def sampling(self) -> str:
        sampling = self.flow.sampling
        assert sampling is not None
        self.uses.add("Sampling")
        module = builtins.runtime_module(sampling.import_)
        fields = [
            ("name", literals.string(sampling.name)),
            ("function", self.names.imported(module, sampling.name)),
        ]
        if sampling.args:
            fields.append(("args", literals.block(dict(sampling.args), 13, 2)))
        return constructor("Sampling", fields, 1)

    def cache(self) -> str:
        cache = self.flow.cache
        assert cache is not None
        self.uses.update({"Cache", "Any"})
        name = self.names.fresh("create_cache")
        self.functions.append(
            factory(
                name,
                builtins.runtime_module(cache.import_),
                cache.name,
                dict(cache.configuration),
                f"the node-state cache of flow {self.flow.name!r}",
            )
        )
        return constructor("Cache", [("name", literals.string(cache.name)), ("create", name)], 1)


def _propagation(option: Propagate) -> str | None:
    if option.value is True:
        return "True"
    if isinstance(option.value, bool) or not option.value:
        return None
    return _frozenset([r.name for r in option.value])


def lower_flow(project: Project, flow: Flow, first_party: str | None) -> Mapping[str, Any]:
    """The context of one flow's module (see templates/flow.py.j2), and under "origins" the
    (key, span) of the flow's edges and failures for the package's `origins.py`."""
    lowering = _FlowLowering(project, flow)
    edges = [lowering.edge(edge) for edge in flow.edges]
    failures = [lowering.failure(failure) for failure in flow.failures]
    queue = flow.queue or project.global_.default_dispatcher_queue
    where = f"the dispatcher queue of flow {flow.name!r}"
    if flow.queue is None:
        where += " (global.default_dispatcher_queue)"
    fields = [
        ("name", literals.string(flow.name)),
        ("queue", queue_expr(queue, where)),
        ("edges", "EDGES"),
    ]
    if failures:
        fields.append(("failures", "FAILURES"))
    fields += lowering.options()
    fields.append(("digest", "DIGEST"))
    flow_text = constructor("Flow", fields, 0)
    uses = lowering.uses
    if any(value.startswith("expand(") for _, value in fields):
        uses.add("expand")
    stdlib = [Import("typing", "Any")] if "Any" in uses else []
    if "timedelta" in uses:
        stdlib.append(Import("datetime", "timedelta"))
    runtime = [Import("selinonc.runtime.tables", name) for name in uses & _RUNTIME_NAMES]
    if "expand" in uses:
        runtime.append(Import("selinonc.runtime.placeholders", "expand"))
    if "Results" in uses:  # a condition calls predicates
        runtime.append(_predicates_import(lowering.predicates_module))
    return {
        "name": flow.name,
        "imports": block(stdlib, [*runtime, *lowering.names.imports()], first_party),
        "functions": lowering.functions,
        "edges": edges,
        "failures": failures,
        "flow": flow_text,
        "origins": lowering.origins,
    }


def _predicates_import(module: str) -> Import:
    package, _, name = module.rpartition(".")
    if name == "predicates" and package:
        return Import(package, "predicates")
    return Import(module, None, None if module == "predicates" else "predicates")
