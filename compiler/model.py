"""The typed, frozen model of a flow configuration, built from validated YAML data.

Names are kept as `Ref`s (the name as written plus where it was written); resolving them is the
job of the checks, so the model can describe a broken configuration precisely. Values the
language allows in several forms are normalised here (a scalar `to` becomes a one-item tuple).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from selinonc.compiler.source import Span

DEFAULT_QUEUE = "celery"
DEFAULT_PREDICATES_MODULE = "selinonc.runtime.predicates"
DEFAULT_STRATEGIES_MODULE = "selinonc.runtime.strategies"
DEFAULT_CACHES_MODULE = "selinonc.runtime.caches"
DEFAULT_ROUTINES_MODULE = "selinonc.runtime.routines"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ref:
    """A name used somewhere, with the span where it was written."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Leaf:
    """A predicate call: `{name, node?, args?}`."""

    name: str
    name_span: Span
    node: Ref | None
    args: Mapping[str, Any]
    arg_spans: Mapping[str, Span]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class AllOf:
    """`{and: [...]}`."""

    children: tuple[Condition, ...]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyOf:
    """`{or: [...]}`."""

    children: tuple[Condition, ...]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Negation:
    """`{not: {...}}`."""

    child: Condition
    span: Span


Condition = Leaf | AllOf | AnyOf | Negation


@dataclass(frozen=True, slots=True, kw_only=True)
class Foreach:
    """An edge's fan-out: `function` from `import` yields one item per started node set."""

    import_: str
    function: str
    propagate_result: bool
    span: Span
    import_span: Span
    function_span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Selective:
    """An edge that starts its sub-flow as a selective run of `tasks`."""

    tasks: tuple[Ref, ...]
    follow_subflows: bool
    run_subsequent: bool | tuple[Ref, ...]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """One entry of a flow's `edges`; `index` is its position in the YAML list."""

    index: int
    sources: tuple[Ref, ...]
    targets: tuple[Ref, ...]
    condition: Condition | None
    foreach: Foreach | None
    selective: Selective | None
    span: Span

    @property
    def is_starting(self) -> bool:
        """True for an edge with no sources (`from` null, '' or [])."""
        return not self.sources


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """One entry of a flow's `failures`: when all `nodes` failed, start `fallback`."""

    index: int
    nodes: tuple[Ref, ...]
    fallback: tuple[Ref, ...] | bool  # True: mark handled, start nothing
    condition: Condition | None
    propagate_failure: bool
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Propagate:
    """A propagate_* option: all sub-flows (True), none (False) or the listed ones."""

    value: bool | tuple[Ref, ...]
    span: Span | None

    def names(self) -> tuple[Ref, ...]:
        """The listed flows, empty for a boolean value."""
        return () if isinstance(self.value, bool) else self.value

    def covers(self, name: str) -> bool:
        """True if the option applies to the flow `name`."""
        if isinstance(self.value, bool):
            return self.value
        return any(ref.name == name for ref in self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cache:
    """A cache object of a storage or flow (`LRU` of size 0 unless configured)."""

    name: str
    import_: str
    configuration: Mapping[str, Any]
    span: Span | None
    name_span: Span | None
    import_span: Span | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sampling:
    """A flow's dispatcher sampling strategy; None in the flow means selinonc's default."""

    name: str
    name_span: Span
    import_: str
    import_span: Span
    args: Mapping[str, Any]
    arg_spans: Mapping[str, Span]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Throttling:
    """A minimum interval between starts, as `datetime.timedelta` keyword arguments."""

    interval: Mapping[str, float]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionRef:
    """A function named by module and attribute (`selective_run_function`, trace functions)."""

    import_: str
    name: str
    span: Span
    import_span: Span
    name_span: Span


PROPAGATE_OPTIONS = (
    "propagate_node_args",
    "propagate_parent",
    "propagate_finished",
    "propagate_compound_finished",
    "propagate_failures",
    "propagate_compound_failures",
    "propagate_parent_failures",
)


# Flows and projects compare and hash by identity, so analyses can be memoised per object.
@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Flow:
    """One entry of `flow-definitions`."""

    name: str
    span: Span
    edges: tuple[Edge, ...]
    failures: tuple[Failure, ...]
    nowait: tuple[Ref, ...]
    eager_failures: bool | tuple[Ref, ...]
    node_args_from_first: bool
    propagate: Mapping[str, Propagate]  # every key of PROPAGATE_OPTIONS
    max_retry: int
    retry_countdown: int
    queue: str | None
    sampling: Sampling | None
    throttling: Throttling | None
    cache: Cache | None
    option_spans: Mapping[str, Span]  # where each option's key was written
    value_spans: Mapping[str, Span]  # where each option's value was written

    def nodes(self) -> tuple[str, ...]:
        """Names of every node the flow mentions in edges and failures, first use first."""
        seen: dict[str, None] = {}
        for edge in self.edges:
            for ref in (*edge.sources, *edge.targets):
                seen.setdefault(ref.name)
        for failure in self.failures:
            seen.update((ref.name, None) for ref in failure.nodes)
            if not isinstance(failure.fallback, bool):
                seen.update((ref.name, None) for ref in failure.fallback)
        return tuple(seen)


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One entry of `tasks`."""

    name: str
    span: Span
    import_: str
    classname: str
    storage: Ref | None
    storage_readonly: bool
    storage_task_name: str | None
    output_schema: str | None
    max_retry: int
    retry_countdown: int
    queue: str | None
    throttling: Throttling | None
    selective_run_function: FunctionRef | None
    option_spans: Mapping[str, Span]  # where each option's key was written
    value_spans: Mapping[str, Span]  # where each option's value was written


@dataclass(frozen=True, slots=True, kw_only=True)
class Storage:
    """One entry of `storages`."""

    name: str
    span: Span
    import_: str
    classname: str
    configuration: Any
    cache: Cache | None
    value_spans: Mapping[str, Span]  # where each option's value was written
    # where each value inside `configuration` was written, by path (`a.b[0]`)
    configuration_spans: Mapping[str, Span] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tracer:
    """One entry of `global.trace`: kind is logging, json, function, storage or sentry."""

    kind: str
    function: FunctionRef | None = None
    storage: Ref | None = None
    method: str = "trace"
    dsn: str | None = None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Global:
    """The `global` section."""

    predicates_module: str
    predicates_module_span: Span | None
    default_task_queue: str
    default_dispatcher_queue: str
    migration_dir: str | None
    trace: tuple[Tracer, ...]
    value_spans: Mapping[str, Span]  # where each option's value was written
    allow: tuple[Ref, ...] = ()  # warning codes not to report (`allow`), where each is written


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Project:
    """A whole configuration: every task, storage and flow, from one or more files."""

    tasks: tuple[Task, ...]
    storages: tuple[Storage, ...]
    listed_flows: tuple[Ref, ...]  # the `flows` list of the nodes file
    flows: tuple[Flow, ...]  # the definitions, in input order (duplicates kept for checks)
    global_: Global
    files: tuple[str, ...]
    nodes_file: str

    _tasks: Mapping[str, Task] = field(init=False, repr=False, compare=False)
    _flows: Mapping[str, Flow] = field(init=False, repr=False, compare=False)
    _storages: Mapping[str, Storage] = field(init=False, repr=False, compare=False)
    _listed: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Indexes by name (first definition wins), so lookups stay O(1) on 10,000 tasks.
        def first(items: tuple[Any, ...]) -> dict[str, Any]:
            index: dict[str, Any] = {}
            for item in items:
                index.setdefault(item.name, item)
            return index

        object.__setattr__(self, "_tasks", first(self.tasks))
        object.__setattr__(self, "_flows", first(self.flows))
        object.__setattr__(self, "_storages", first(self.storages))
        object.__setattr__(self, "_listed", frozenset(r.name for r in self.listed_flows))

    def task(self, name: str) -> Task | None:
        """The first task called `name`, if any."""
        return self._tasks.get(name)

    def flow(self, name: str) -> Flow | None:
        """The first definition of flow `name`, if any."""
        return self._flows.get(name)

    def storage(self, name: str) -> Storage | None:
        """The first storage called `name`, if any."""
        return self._storages.get(name)

    def is_flow(self, name: str) -> bool:
        """True if `name` is listed in `flows`."""
        return name in self._listed

    def is_task(self, name: str) -> bool:
        """True if `name` is a task."""
        return name in self._tasks

    @property
    def input_dir(self) -> str:
        """The nodes file's directory, as the command line names it ("" for the current one)."""
        return os.path.dirname(self.nodes_file)

    def input_path(self, path: str) -> str:
        """A path the YAML gives (an `output_schema`), relative to the nodes file's directory."""
        return path if os.path.isabs(path) else os.path.join(self.input_dir, path)

    def is_node(self, name: str) -> bool:
        """True if `name` is a task or a listed flow."""
        return name in self._tasks or name in self._listed
