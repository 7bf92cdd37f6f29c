"""Build the typed model from schema-validated documents: defaults, normalised forms, spans."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from selinonc.compiler.load import Document, JsonPath
from selinonc.compiler.model import (
    DEFAULT_CACHES_MODULE,
    DEFAULT_PREDICATES_MODULE,
    DEFAULT_QUEUE,
    DEFAULT_ROUTINES_MODULE,
    DEFAULT_STRATEGIES_MODULE,
    PROPAGATE_OPTIONS,
    AllOf,
    AnyOf,
    Cache,
    Condition,
    Edge,
    Failure,
    Flow,
    Foreach,
    FunctionRef,
    Global,
    Leaf,
    Negation,
    Project,
    Propagate,
    Ref,
    Sampling,
    Selective,
    Storage,
    Task,
    Throttling,
    Tracer,
)
from selinonc.compiler.source import Span


@dataclass(frozen=True, slots=True)
class _At:
    """A position in a document: the data there and how to find spans below it."""

    doc: Document
    path: JsonPath
    data: Any

    @classmethod
    def root(cls, doc: Document, path: JsonPath) -> _At:
        data: Any = doc.data
        for part in path:
            data = data[part]
        return cls(doc, path, data)

    def get(self, key: str | int) -> Any:
        return self.data[key]

    def value(self) -> Any:
        return self.data

    def child(self, key: str | int) -> _At:
        try:
            data = self.data[key]
        except (KeyError, IndexError, TypeError):
            data = None
        return _At(self.doc, (*self.path, key), data)

    def span(self, key: str | int | tuple[str | int, ...] | None = None) -> Span:
        if key is None:
            return self.doc.span(self.path)
        return self.doc.span((*self.path, *(key if isinstance(key, tuple) else (key,))))

    def key_span(self, key: str) -> Span:
        return self.doc.key_span((*self.path, key))

    def option_spans(self) -> Mapping[str, Span]:
        """Where each key of the mapping here was written (made when asked for)."""
        return _Spans(self.doc, self.path, self.data, keys=True)

    def value_spans(self) -> Mapping[str, Span]:
        """Where each value of the mapping here was written (made when asked for)."""
        return _Spans(self.doc, self.path, self.data, keys=False)


class _Spans(Mapping[str, Span]):
    """The spans of a mapping's keys or values, looked up when asked for.

    Checks need them only for what they report, and 10,000 tasks would make 80,000 of them.
    """

    __slots__ = ("_data", "_doc", "_keys", "_path")

    def __init__(self, doc: Document, path: JsonPath, data: Any, *, keys: bool) -> None:
        self._doc, self._path, self._keys = doc, path, keys
        self._data = data if isinstance(data, dict) else {}

    def __getitem__(self, key: str) -> Span:
        if key not in self._data:
            raise KeyError(key)
        path = (*self._path, key)
        return self._doc.key_span(path) if self._keys else self._doc.span(path)

    def __contains__(self, key: object) -> bool:
        return key in self._data  # without making the span

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _refs(at: _At, key: str) -> tuple[Ref, ...]:
    """Names given as a scalar or a list (None, '' and [] give no names)."""
    data = at.value().get(key)
    if data is None or data == "" or isinstance(data, bool):
        return ()
    if isinstance(data, str):
        return (Ref(name=data, span=at.span(key)),)
    sub = at.child(key)
    return tuple(Ref(name=str(item), span=sub.span(i)) for i, item in enumerate(data))


def _function(at: _At, default_import: str = "", default_name: str = "") -> FunctionRef:
    """A `{import, name}` (or `{import, function}`) mapping; missing keys take the defaults."""
    data = at.value()
    name_key = "name" if "name" in data else "function"
    return FunctionRef(
        import_=data.get("import") or default_import,
        name=data.get(name_key) or default_name,
        span=at.span(),
        import_span=at.span("import"),
        name_span=at.span(name_key),
    )


def _condition(at: _At) -> Condition:
    data = at.value()
    if "name" in data:
        args = data.get("args") or {}
        node = data.get("node")
        return Leaf(
            name=data["name"],
            name_span=at.span("name"),
            node=Ref(name=node, span=at.span("node")) if node is not None else None,
            args=args,
            arg_spans=at.child("args").option_spans(),
            span=at.span(),
        )
    # Selinon looks for the keys in the order name, or, not, and (the schema flags the others).
    if "not" in data and "or" not in data:
        return Negation(child=_condition(at.child("not")), span=at.span())
    kind = "or" if "or" in data else "and"
    sub = at.child(kind)
    children = tuple(_condition(sub.child(i)) for i in range(len(data[kind])))
    if kind == "or":
        return AnyOf(children=children, span=at.span())
    return AllOf(children=children, span=at.span())


def _cache(at: _At | None) -> Cache | None:
    if at is None:
        return None
    data = at.value()
    return Cache(
        name=data.get("name", "LRU"),
        import_=data.get("import", DEFAULT_CACHES_MODULE),
        configuration=data.get("configuration") or {"max_cache_size": 0},
        span=at.span(),
        name_span=at.span("name"),
        import_span=at.span("import"),
    )


def _throttling(at: _At, key: str) -> Throttling | None:
    data = at.value().get(key)
    if not data:
        return None
    return Throttling(interval=dict(data), span=at.span(key))


def _opt(at: _At, key: str) -> _At | None:
    return at.child(key) if at.value().get(key) is not None else None


def build_task(at: _At) -> Task:
    """One `tasks` entry."""
    data = at.value()
    storage = data.get("storage")
    readonly = data.get("storage_readonly", data.get("storage_read_only", False))
    selective = _opt(at, "selective_run_function")
    return Task(
        name=data["name"],
        span=at.span("name"),
        import_=data["import"],
        classname=data.get("classname") or data["name"],
        storage=Ref(name=storage, span=at.span("storage")) if storage else None,
        storage_readonly=bool(readonly),
        storage_task_name=data.get("storage_task_name"),
        output_schema=data.get("output_schema"),
        max_retry=data.get("max_retry") or 0,
        retry_countdown=data.get("retry_countdown") or 0,
        queue=data.get("queue"),
        throttling=_throttling(at, "throttling"),
        selective_run_function=_function(selective, DEFAULT_ROUTINES_MODULE, "always_run")
        if selective
        else None,
        option_spans=at.option_spans(),
        value_spans=at.value_spans(),
    )


def build_storage(at: _At) -> Storage:
    """One `storages` entry."""
    data = at.value()
    return Storage(
        name=data["name"],
        span=at.span("name"),
        import_=data["import"],
        classname=data.get("classname") or data["name"],
        configuration=data.get("configuration"),
        cache=_cache(_opt(at, "cache")),
        value_spans=at.value_spans(),
        configuration_spans=_nested_spans(at.child("configuration")),
    )


def _nested_spans(at: _At, prefix: str = "") -> dict[str, Span]:
    """The span of every value below `at`, by path: `key.sub[0]` (what SC701 names)."""
    out: dict[str, Span] = {}
    data = at.value()
    if isinstance(data, dict):
        items: list[tuple[str | int, str]] = [(k, f"{prefix}.{k}" if prefix else k) for k in data]
    elif isinstance(data, list):
        items = [(i, f"{prefix}[{i}]") for i in range(len(data))]
    else:
        return out
    for key, path in items:
        out[path] = at.span(key)
        out.update(_nested_spans(at.child(key), path))
    return out


def build_edge(at: _At, index: int) -> Edge:
    """One `edges` entry of a flow."""
    data = at.value()
    foreach = selective = None
    if data.get("foreach") is not None:
        f = data["foreach"]
        foreach = Foreach(
            import_=f["import"],
            function=f["function"],
            propagate_result=bool(f.get("propagate_result", False)),
            span=at.span("foreach"),
            import_span=at.span(("foreach", "import")),
            function_span=at.span(("foreach", "function")),
        )
    if data.get("selective") is not None:
        sel = at.child("selective")
        run_subsequent = sel.value().get("run_subsequent", False)
        selective = Selective(
            tasks=_refs(sel, "tasks"),
            follow_subflows=bool(sel.value().get("follow_subflows", False)),
            run_subsequent=_refs(sel, "run_subsequent")
            if not isinstance(run_subsequent, bool)
            else run_subsequent,
            span=sel.span(),
        )
    cond = _opt(at, "condition")
    return Edge(
        index=index,
        sources=_refs(at, "from"),
        targets=_refs(at, "to"),
        condition=_condition(cond) if cond else None,
        foreach=foreach,
        selective=selective,
        span=at.span(),
    )


def build_failure(at: _At, index: int) -> Failure:
    """One `failures` entry of a flow."""
    data = at.value()
    cond = _opt(at, "condition")
    fallback = data["fallback"]
    return Failure(
        index=index,
        nodes=_refs(at, "nodes"),
        fallback=fallback if isinstance(fallback, bool) else _refs(at, "fallback"),
        condition=_condition(cond) if cond else None,
        propagate_failure=bool(data.get("propagate_failure", False)),
        span=at.span(),
    )


def _propagate(at: _At, key: str) -> Propagate:
    data = at.value().get(key)
    span = at.span(key) if key in at.value() else None
    if data is None or isinstance(data, bool):
        return Propagate(value=bool(data), span=span)
    return Propagate(value=_refs(at, key), span=span)


def _sampling(at: _At | None) -> Sampling | None:
    if at is None:
        return None
    data = at.value()
    args = data.get("args") or {}
    return Sampling(
        name=data["name"],
        name_span=at.span("name"),
        import_=data.get("import") or DEFAULT_STRATEGIES_MODULE,
        import_span=at.span("import") if "import" in data else at.span(),
        args=args,
        arg_spans=at.child("args").option_spans(),
        span=at.span(),
    )


def build_flow(at: _At) -> Flow:
    """One `flow-definitions` entry."""
    data = at.value()
    eager = data.get("eager_failures")
    return Flow(
        name=data["name"],
        span=at.span("name"),
        edges=tuple(build_edge(at.child("edges").child(i), i) for i in range(len(data["edges"]))),
        failures=tuple(
            build_failure(at.child("failures").child(i), i)
            for i in range(len(data.get("failures") or ()))
        ),
        nowait=_refs(at, "nowait"),
        eager_failures=eager if isinstance(eager, bool) else _refs(at, "eager_failures"),
        node_args_from_first=bool(data.get("node_args_from_first", False)),
        propagate={key: _propagate(at, key) for key in PROPAGATE_OPTIONS},
        max_retry=data.get("max_retry") or 0,
        retry_countdown=data.get("retry_countdown") or 0,
        queue=data.get("queue"),
        sampling=_sampling(_opt(at, "sampling")),
        throttling=_throttling(at, "throttling"),
        cache=_cache(_opt(at, "cache")),
        option_spans=at.option_spans(),
        value_spans=at.value_spans(),
    )


def _tracers(at: _At) -> tuple[Tracer, ...]:
    data = at.value()
    if data is False or data is None:
        return ()
    entries = [at] if isinstance(data, dict) else [at.child(i) for i in range(len(data))]
    out: list[Tracer] = []
    for entry in entries:
        item = entry.value()
        span = entry.span()
        if item.get("logging"):
            out.append(Tracer(kind="logging", span=span))
        if item.get("json"):
            out.append(Tracer(kind="json", span=span))
        if item.get("function"):
            out.append(
                Tracer(
                    kind="function",
                    function=_function(entry.child("function")),
                    span=entry.span("function"),
                )
            )
        if item.get("storage"):
            st = entry.child("storage")
            out.append(
                Tracer(
                    kind="storage",
                    storage=Ref(name=st.get("name"), span=st.span("name")),
                    method=st.value().get("method", "trace"),
                    span=st.span(),
                )
            )
        if "sentry" in item:  # `sentry: {}` means Sentry with its default DSN
            dsn = (item["sentry"] or {}).get("dsn")
            out.append(Tracer(kind="sentry", dsn=dsn, span=entry.span("sentry")))
    return tuple(out)


def build_global(at: _At | None) -> Global:
    """The `global` section, with defaults when it is absent."""
    data = at.value() if at is not None else {}
    return Global(
        predicates_module=data.get("predicates_module") or DEFAULT_PREDICATES_MODULE,
        predicates_module_span=at.span("predicates_module")
        if at is not None and "predicates_module" in data
        else None,
        default_task_queue=data.get("default_task_queue") or DEFAULT_QUEUE,
        default_dispatcher_queue=data.get("default_dispatcher_queue") or DEFAULT_QUEUE,
        migration_dir=data.get("migration_dir"),
        trace=_tracers(at.child("trace")) if at is not None and "trace" in data else (),
        value_spans=at.value_spans() if at is not None else {},
        allow=_refs(at, "allow") if at is not None else (),
    )


def build(nodes: Document, flow_docs: Sequence[Document], files: Sequence[str]) -> Project:
    """Build the project model from the nodes document and the flow documents.

    Args:
        nodes: the document holding `tasks`, `flows`, `storages` and `global`.
        flow_docs: the documents holding `flow-definitions`, in input order.
        files: every input file, for the record.

    Returns:
        The frozen model; names are not resolved (the checks do that).
    """
    top = _At.root(nodes, ())
    data = nodes.data
    tasks = tuple(build_task(top.child("tasks").child(i)) for i in range(len(data["tasks"] or ())))
    storages = tuple(
        build_storage(top.child("storages").child(i))
        for i in range(len(data.get("storages") or ()))
    )
    flows: list[Flow] = []
    for doc in flow_docs:
        defs = _At.root(doc, ("flow-definitions",))
        flows.extend(build_flow(defs.child(i)) for i in range(len(doc.data["flow-definitions"])))
    return Project(
        tasks=tasks,
        storages=storages,
        listed_flows=_refs(top, "flows"),
        flows=tuple(flows),
        global_=build_global(_opt(top, "global")),
        files=tuple(files),
        nodes_file=nodes.source.path,
    )
