"""The compiled system: the tables a generated package builds and the runtime reads.

Generated packages instantiate these classes with literals and plain functions only; nothing here
parses or evaluates text. Indexes the scheduler needs (edges by source, failures by node set) are
derived once, when a flow is built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from selinonc.runtime.abi import check_abi
from selinonc.runtime.errors import UnknownFlowError, UnknownStorageError, UnknownTaskError


class Results(Protocol):
    """What a condition or foreach function reads task results from."""

    def get(self, node_name: str) -> Any:
        """The stored result of source task `node_name` of the firing combination."""


# A compiled edge or failure condition: `condition(results, node_args) -> truthy`.
ConditionFunction = Callable[[Results, Any], Any]
# A foreach function: `foreach(results, node_args) -> iterable`, one item per started node set.
ForeachFunction = Callable[[Results, Any], Iterable[Any]]
# A selective run function: `f(flow_name, node_name, node_args, task_names, results)`.
SelectiveFunction = Callable[..., Any]
# A propagate_* option: every sub-flow (True), none (False) or the named ones.
Propagation = bool | frozenset[str]


def covers(option: Propagation, flow_name: str) -> bool:
    """True when a propagate_* option applies to the sub-flow `flow_name`."""
    return option if isinstance(option, bool) else flow_name in option


@dataclass(frozen=True, slots=True, kw_only=True)
class Selective:
    """An edge that starts its sub-flow as a selective run of `task_names`."""

    task_names: tuple[str, ...]
    follow_subflows: bool = False
    run_subsequent: bool | tuple[str, ...] = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Foreach:
    """An edge's fan-out: start the edge's targets once per item `function` yields."""

    function: ForeachFunction
    text: str  # "module.function", for traces and plots
    propagate_result: bool = False  # each item becomes a sub-flow's node_args


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """One edge of a flow. `index` is its YAML position; `id` is opaque and content-derived.

    Where the edge is in the YAML is in the package's `origins` (`System.origin`), not here, so
    that a flow's module changes only when the flow does.
    """

    index: int
    id: str
    sources: tuple[str, ...]  # empty for a starting edge
    targets: tuple[str, ...]  # repeats start several instances
    condition: ConditionFunction | None = None  # None: always true
    condition_text: str = "always"
    foreach: Foreach | None = None
    selective: Selective | None = None
    # the source names, each once, in order (derived)
    distinct_sources: tuple[str, ...] = field(init=False, repr=False, compare=False)

    @property
    def is_starting(self) -> bool:
        """True for an edge with no sources."""
        return not self.sources

    def __post_init__(self) -> None:
        object.__setattr__(self, "distinct_sources", tuple(dict.fromkeys(self.sources)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """One `failures` entry: when every node of `nodes` failed, start `fallback`."""

    index: int
    nodes: frozenset[str]
    fallback: tuple[str, ...] | bool  # True: mark the failure handled and start nothing
    condition: ConditionFunction | None = None
    condition_text: str = "always"
    propagate_failure: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Sampling:
    """A dispatcher sampling strategy: `function(status, **args)` gives the next delay."""

    name: str
    function: Callable[..., float | None]
    args: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, status: Mapping[str, Any]) -> float | None:
        return self.function(status, **self.args)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cache:
    """A cache object, created on first use by `create()`."""

    name: str
    create: Callable[[], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Storage:
    """A result storage, created (and connected) on first use by `create()`."""

    name: str
    create: Callable[[], Any]
    cache: Cache | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """A task: its class and everything the runtime needs to run and route it."""

    name: str
    cls: type[Any]
    queue: str
    storage: str | None = None
    storage_readonly: bool = False
    storage_task_name: str = ""  # the name results are stored under; the task name if empty
    output_schema: Mapping[str, Any] | None = None  # a JSON Schema the result must satisfy
    max_retry: int = 0
    retry_countdown: float = 0
    throttling: timedelta | None = None
    selective_run_function: SelectiveFunction | None = None

    @property
    def stored_as(self) -> str:
        """The task name used with the storage (`storage_task_name`, else the name)."""
        return self.storage_task_name or self.name

    @property
    def stores_results(self) -> bool:
        """True when the task's results are written to its storage."""
        return self.storage is not None and not self.storage_readonly


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """A flow: its edges, failures and options, with the indexes the scheduler uses."""

    name: str
    queue: str  # the dispatcher queue
    edges: tuple[Edge, ...]
    failures: tuple[Failure, ...] = ()
    nowait: frozenset[str] = frozenset()
    eager_failures: bool | frozenset[str] = False
    node_args_from_first: bool = False
    propagate_node_args: Propagation = False
    propagate_parent: Propagation = False
    propagate_finished: Propagation = False
    propagate_compound_finished: Propagation = False
    propagate_failures: Propagation = False
    propagate_compound_failures: Propagation = False
    propagate_parent_failures: Propagation = False
    max_retry: int = 0
    retry_countdown: float = 0
    sampling: Sampling | None = None  # None: the runtime's default strategy
    throttling: timedelta | None = None
    cache: Cache | None = None
    # sha256 of the flow's generated module (this value left out): the flow's version
    digest: str = ""

    starting_edges: tuple[Edge, ...] = field(init=False, repr=False, compare=False)
    edges_from: Mapping[str, tuple[Edge, ...]] = field(init=False, repr=False, compare=False)
    failures_of: Mapping[frozenset[str], tuple[Failure, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        edges_from: dict[str, list[Edge]] = {}
        for edge in self.edges:
            for source in dict.fromkeys(edge.sources):
                edges_from.setdefault(source, []).append(edge)
        failures_of: dict[frozenset[str], list[Failure]] = {}
        for failure in self.failures:
            failures_of.setdefault(failure.nodes, []).append(failure)
        object.__setattr__(self, "starting_edges", tuple(e for e in self.edges if e.is_starting))
        object.__setattr__(self, "edges_from", {k: tuple(v) for k, v in edges_from.items()})
        object.__setattr__(self, "failures_of", {k: tuple(v) for k, v in failures_of.items()})

    def is_eager_failure(self, node_name: str) -> bool:
        """True when a failure of `node_name` fails the flow at once."""
        if isinstance(self.eager_failures, bool):
            return self.eager_failures
        return node_name in self.eager_failures


@dataclass(frozen=True, slots=True, kw_only=True)
class Tracer:
    """One `global.trace` entry: kind is logging, json, function, storage or sentry."""

    kind: str
    function: Callable[[Any, Mapping[str, Any]], Any] | None = None
    storage: str | None = None
    method: str = "trace"
    dsn: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The `global` section, placeholders resolved."""

    default_task_queue: str = "celery"
    default_dispatcher_queue: str = "celery"
    migration_dir: str | None = None
    tracers: tuple[Tracer, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class System:
    """A whole compiled configuration, as a generated package's `SYSTEM` exposes it."""

    package: str
    abi: int
    compiler_version: str
    tasks: Mapping[str, Task]
    flows: Mapping[str, Flow]
    storages: Mapping[str, Storage]
    settings: Settings
    # sha256 of each generated module but the flows' (which carry their own), by module name
    digests: Mapping[str, str] = field(default_factory=dict)
    # "file.yaml:line" of each definition, by "flow F", "edge F <index>", "failure F <index>",
    # "task T" or "storage S": kept apart so that moving YAML lines changes one module only
    origins: Mapping[str, str] = field(default_factory=dict)
    # the package's version: one digest of every module's digest (derived)
    digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_abi(self.package, self.abi)
        parts = {**self.digests, **{f"flows.{n}": f.digest for n, f in self.flows.items()}}
        text = "\n".join(f"{name} {parts[name]}" for name in sorted(parts))
        object.__setattr__(self, "digest", hashlib.sha256(text.encode()).hexdigest())

    def origin(self, kind: str, *names: str) -> str:
        """Where a definition is in the YAML (`file:line`), or "" when the package does not say.

        `kind` is flow, edge, failure, task or storage; an edge or a failure is named by its
        flow and its index, e.g. `system.origin("edge", "main", "0")`.
        """
        return self.origins.get(" ".join((kind, *names)), "")

    def task(self, name: str) -> Task:
        """The task `name`.

        Raises:
            UnknownTaskError: when the package has no such task.
        """
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownTaskError(f"no task {name!r} in flow package {self.package!r}") from None

    def flow(self, name: str) -> Flow:
        """The flow `name`.

        Raises:
            UnknownFlowError: when the package has no such flow.
        """
        try:
            return self.flows[name]
        except KeyError:
            known = ", ".join(sorted(self.flows))
            raise UnknownFlowError(
                f"no flow {name!r} in flow package {self.package!r}; its flows are: {known}"
            ) from None

    def storage(self, name: str) -> Storage:
        """The storage `name`.

        Raises:
            UnknownStorageError: when the package has no such storage.
        """
        try:
            return self.storages[name]
        except KeyError:
            raise UnknownStorageError(
                f"no storage {name!r} in flow package {self.package!r}"
            ) from None

    def is_flow(self, name: str) -> bool:
        """True if `name` is a flow of the package."""
        return name in self.flows

    def queue_of(self, node_name: str) -> str:
        """The queue a node's message goes to: a task's queue or a flow's dispatcher queue."""
        if node_name in self.flows:
            return self.flows[node_name].queue
        return self.task(node_name).queue
