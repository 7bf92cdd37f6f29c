"""Names the flows use that nothing defines, and the one definition that explains them.

One mistake gets one diagnostic. A task defined as 'ValidateOrdr' and used as 'ValidateOrder'
in five edges is one misspelt definition, not five unknown names; a flow defined but missing
from `flows` is one SC203, not an unknown name at each of its uses. The name checks report the
explaining diagnostic, and every check that would report a use it explains skips that use.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from selinonc.compiler.diagnostics import Speller
from selinonc.compiler.model import PROPAGATE_OPTIONS, Flow, Project, Ref, Task


def flow_refs(flow: Flow) -> Iterator[Ref]:
    """Every node name a flow definition refers to, in YAML order."""
    for edge in flow.edges:
        yield from edge.sources
        yield from edge.targets
    for failure in flow.failures:
        yield from failure.nodes
        if not isinstance(failure.fallback, bool):
            yield from failure.fallback
    yield from flow.nowait
    if not isinstance(flow.eager_failures, bool):
        yield from flow.eager_failures


def option_refs(flow: Flow) -> Iterator[Ref]:
    """The flow and node names in propagate_* options and selective runs, in YAML order."""
    for option in PROPAGATE_OPTIONS:
        yield from flow.propagate[option].names()
    for edge in flow.edges:
        if edge.selective is not None:
            yield from edge.selective.tasks
            if not isinstance(edge.selective.run_subsequent, bool):
                yield from edge.selective.run_subsequent


def is_unlisted_definition(project: Project, name: str) -> bool:
    """True for a flow defined in `flow-definitions` but not listed in `flows` (SC203)."""
    return not project.is_node(name) and project.flow(name) is not None


@dataclass(frozen=True, slots=True)
class Misspelling:
    """A task no flow uses, and the undefined name the flows use where they mean it."""

    task: Task
    used_as: str
    uses: tuple[tuple[Flow, Ref], ...]  # every use of `used_as`, in flow and YAML order

    @property
    def at_definition(self) -> bool:
        """True when the definition is the odd one out: several uses agree on another spelling.

        With a single use nothing tells which spelling is meant, so the use is reported (with
        a hint naming the task) and the definition is taken as written.
        """
        return len(self.uses) > 1


def _mutual_matches(wanted: Sequence[str], offered: Sequence[str]) -> dict[str, str]:
    """`wanted -> offered` for the pairs that are each other's closest match.

    Mutual matching pairs each name at most once, so two uses spelt differently never both
    blame the same definition. Past the Speller's limit (MAX_SUGGESTED_WORDS) names are left
    unpaired.
    """
    pairs: dict[str, str] = {}
    to_offered, to_wanted = Speller(offered), Speller(wanted)
    for word in wanted:
        match = to_offered.closest(word)
        if match is not None and to_wanted.closest(match) == word:
            pairs[word] = match
    return pairs


@functools.lru_cache(maxsize=8)
def misspellings(project: Project) -> Mapping[str, Misspelling]:
    """Undefined names used in flows that are misspellings of a task no flow uses, by name.

    A name is paired with an unused task only when that task is the closest of all nodes to
    it: a name closer to a task the flows do use is a typo in that use. Memoised per project:
    several checks ask.
    """
    unknown: dict[str, list[tuple[Flow, Ref]]] = {}
    used: set[str] = set()
    for flow in project.flows:
        for ref in flow_refs(flow):
            used.add(ref.name)
            if not project.is_node(ref.name) and project.flow(ref.name) is None:
                unknown.setdefault(ref.name, []).append((flow, ref))
    if not unknown:  # the common case, and the only one on a large valid project
        return {}
    nodes = [t.name for t in project.tasks] + [r.name for r in project.listed_flows]
    unused = {t.name: t for t in project.tasks if t.name not in used and project.task(t.name) is t}
    found: dict[str, Misspelling] = {}
    to_nodes = Speller(nodes)
    for name, task_name in _mutual_matches(list(unknown), list(unused)).items():
        if to_nodes.closest(name) == task_name:
            found[name] = Misspelling(unused[task_name], name, tuple(unknown[name]))
    return found


def misspelt_definitions(project: Project) -> Mapping[str, Misspelling]:
    """The misspellings reported once at the task's definition, by the name the flows use."""
    return {name: m for name, m in misspellings(project).items() if m.at_definition}


def paired_task_names(project: Project) -> frozenset[str]:
    """The unused tasks some undefined name is a misspelling of (SC205 explains them)."""
    return frozenset(m.task.name for m in misspellings(project).values())


@functools.lru_cache(maxsize=8)
def renamed_flows(project: Project) -> Mapping[str, Flow]:
    """Listed flows without a definition whose definition is written under a close name.

    `flows: [main]` with a definition named 'mian' is one mistake: SC203 at the definition
    reports it, and the listed name gets no SC204 of its own.
    """
    missing = [r.name for r in project.listed_flows if project.flow(r.name) is None]
    unlisted = [f.name for f in project.flows if is_unlisted_definition(project, f.name)]
    if not missing or not unlisted:
        return {}
    pairs = _mutual_matches(missing, unlisted)
    return {listed: f for listed, name in pairs.items() if (f := project.flow(name)) is not None}
