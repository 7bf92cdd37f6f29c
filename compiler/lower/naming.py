"""Deterministic, collision-free names in generated modules.

Each generated module has a `Namespace`: the names the compiler itself defines there are reserved
up front, and every imported user function or class gets its own name, or the same name with a
numeric suffix when it is taken. Allocation depends only on the order of requests, which the
lowering stage makes deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from selinonc.compiler.literals import is_identifier
from selinonc.compiler.lower.imports import Import


@dataclass(slots=True)
class Namespace:
    """The names of one generated module."""

    reserved: frozenset[str]
    _taken: set[str] = field(default_factory=set)
    _imports: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._taken.update(self.reserved)

    def fresh(self, wanted: str) -> str:
        """`wanted`, or `wanted_2`, `wanted_3`, ... whichever is free first; now taken."""
        base = wanted if is_identifier(wanted) and not wanted.startswith("__") else f"_{wanted}"
        name, n = base, 1
        while name in self._taken:
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        return name

    def imported(self, module: str, name: str) -> str:
        """The local name of `name` imported from `module` (the same request, the same name)."""
        key = (module, name)
        if key not in self._imports:
            self._imports[key] = self.fresh(name)
        return self._imports[key]

    def imports(self) -> list[Import]:
        """The imports `imported` asked for (see imports.block for their order)."""
        return [
            Import(module, name, None if alias == name else alias)
            for (module, name), alias in self._imports.items()
        ]


def module_name(flow_name: str, taken: set[str]) -> str:
    """The module file name (without .py) of a flow in the generated `flows` package.

    Flow names are identifiers (check SC211) that differ in more than case (SC209); dunder names
    and names the package uses itself get a suffix. `taken` holds lower-cased names, as
    case-insensitive file systems see them.
    """
    name = flow_name if not flow_name.startswith("__") else f"flow{flow_name}"
    while name.lower() in taken:
        name += "_flow"
    taken.add(name.lower())
    return name
