"""Import blocks of generated modules, sorted and grouped the way ruff's isort rules want them.

Generated packages pass ruff's default rules: standard library first, then third-party modules
(the runtime, and user modules from other packages), then first-party modules (those of the
top-level package the generated package is written into, as ruff detects them), then relative
imports; `import x` before `from x import y`; names ordered constants, classes, functions;
aliased names on lines of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from selinonc.compiler.literals import INDENT, WIDTH


@dataclass(frozen=True, slots=True, order=True)
class Import:
    """`import module [as alias]` (name None) or `from module import name [as alias]`."""

    module: str
    name: str | None = None
    alias: str | None = None


def _name_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name


def _module_key(module: str) -> tuple[str, str]:
    return module.lower(), module


def _section(imports: Iterable[Import]) -> list[str]:
    items = set(imports)
    lines = []
    for item in sorted((i for i in items if i.name is None), key=lambda i: _module_key(i.module)):
        lines.append(f"import {item.module}" + (f" as {item.alias}" if item.alias else ""))
    froms = [i for i in items if i.name is not None]
    for module in sorted({i.module for i in froms}, key=_module_key):
        names = [i.name for i in froms if i.module == module and not i.alias and i.name]
        if names:
            lines.append(_from_line(module, sorted(names, key=_name_key)))
        aliased = sorted(
            (i for i in froms if i.module == module and i.alias), key=lambda i: i.name or ""
        )
        lines.extend(f"from {module} import {i.name} as {i.alias}" for i in aliased)
    return lines


def _from_line(module: str, names: list[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= WIDTH:
        return line
    return f"from {module} import (\n" + "".join(f"{INDENT}{n},\n" for n in names) + ")"


def block(
    stdlib: Iterable[Import],
    others: Iterable[Import],
    first_party: str | None,
    local: Iterable[Import] = (),
) -> str:
    """The import block: standard library, third party, first party, relative imports; each
    sorted, sections separated by a blank line.

    Args:
        stdlib: imports of the standard library.
        others: every other import; those of the top-level package `first_party` are first
            party, the rest third party.
        first_party: the top-level package the generated package lives in, if any.
        local: relative imports (`from . import x`).
    """
    rest = list(others)
    mine = [i for i in rest if first_party and i.module.split(".")[0] == first_party]
    sections = (stdlib, [i for i in rest if i not in mine], mine, local)
    rendered = ["\n".join(lines) for lines in (_section(s) for s in sections) if lines]
    return "\n\n".join(rendered)
