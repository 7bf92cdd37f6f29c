"""`selinonc plot`: draw each flow with graphviz: tasks, sub-flows, conditions, storages, fallbacks.

Every edge goes through a small condition node labelled with its condition (a foreach edge has
its own style), so joins and fan-outs read as in the YAML. A long condition is broken into lines
of at most `LABEL_WIDTH` characters at `and`/`or`/`not` and between a predicate's arguments.
Nowait nodes (started, never waited for) have their own style and a note, explained under the
flow's name. Tasks with a storage are linked to it; failures are drawn from the failed nodes to
their fallbacks. The DOT text is deterministic; rendering to SVG or PNG needs graphviz's `dot`.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import graphviz

from selinonc.compiler import literals
from selinonc.compiler.lower.conditions import text as condition_text
from selinonc.compiler.model import (
    AllOf,
    Condition,
    Edge,
    Failure,
    Flow,
    Foreach,
    Leaf,
    Negation,
    Project,
)

# The elements a style file may restyle, with graphviz attributes like the predecessor's look.
# `nowait` is laid over a nowait node's `task` or `flow` attributes; its `style` is added to theirs.
DEFAULT_STYLE: Mapping[str, Mapping[str, str]] = {
    "graph": {"rankdir": "TB", "fontname": "Helvetica"},
    "task": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe9f6"},
    "flow": {"shape": "box3d", "style": "filled", "fillcolor": "#f6e3c6"},
    "nowait": {"style": "dashed", "penwidth": "2", "color": "#7f8c8d"},
    "condition": {
        "shape": "box",
        "style": "rounded,filled",
        "fontname": "Courier",
        "fontsize": "10",
        "fillcolor": "#eeeeee",
    },
    "condition_foreach": {
        "shape": "box",
        "style": "filled,diagonals",
        "fontname": "Courier",
        "fontsize": "10",
        "fillcolor": "#e6f2da",
    },
    "storage": {"shape": "cylinder", "style": "filled", "fillcolor": "#fff4b3"},
    "edge": {"arrowhead": "vee"},
    "store_edge": {"style": "dotted", "arrowhead": "none", "constraint": "false"},
    "fallback_edge": {
        "style": "dashed",
        "color": "#c0392b",
        "fontname": "Courier",
        "fontsize": "10",
    },
    "fallback_true": {"shape": "plaintext", "label": "handled"},
}

# The longest line of a condition label, in characters.
LABEL_WIDTH = 44
# A node with more than FANOUT outgoing edges has them spread over LEVELS rows (like graphviz's
# `unflatten`), so that a wide fan-out of long conditions does not make one very wide row.
FANOUT = 2
LEVELS = 3
INDENT = "  "  # continuation lines of a predicate call or a foreach function
NOWAIT_NOTE = "(nowait)"
NOWAIT_LEGEND = "(nowait): started but never waited for"


class StyleError(ValueError):
    """A style file that cannot be used."""


class PlotError(Exception):
    """A plot that cannot be written or rendered."""


def merge_style(custom: Any) -> dict[str, dict[str, str]]:
    """The default style with a style file's sections laid over it.

    Raises:
        StyleError: for an unknown section or a section that is not a mapping of strings.
    """
    style = {k: dict(v) for k, v in DEFAULT_STYLE.items()}
    if custom is None:
        return style
    if not isinstance(custom, dict):
        raise StyleError("the style file must be a mapping of sections to graphviz attributes")
    for section, attrs in custom.items():
        if section not in style:
            known = ", ".join(sorted(style))
            raise StyleError(f"unknown style section {section!r}; the sections are: {known}")
        if not isinstance(attrs, dict):
            raise StyleError(f"style section {section!r} must be a mapping of attributes")
        if "label" in attrs and section != "fallback_true":
            raise StyleError(f"style section {section!r} sets `label`, which selinonc writes")
        style[section].update({str(k): str(v) for k, v in attrs.items()})
    return style


def condition_lines(condition: Condition | None, width: int = LABEL_WIDTH) -> list[str]:
    """The condition's text broken into lines of at most `width` characters.

    A condition that fits stays on one line. Otherwise each operand of an `and`/`or` starts a
    line with its operator, a parenthesised operand is indented inside its parentheses, and a
    predicate call is broken between its arguments. Only a single argument longer than a line is
    broken inside (at spaces where it has some).
    """
    width = max(width, 8)  # very deep nesting keeps a usable width (its lines may be longer)
    flat = condition_text(condition)
    if condition is None or len(flat) <= width:
        return [flat]
    if isinstance(condition, Leaf):
        args = [f"node={condition.node.name}"] if condition.node is not None else []
        args += [f"{k}={literals.one_line(v)}" for k, v in condition.args.items()]
        if not args:
            return _hard_wrap(flat, width)
        words = [f"{condition.name}(", *(f"{a}, " for a in args[:-1]), f"{args[-1]})"]
        return _pack(words, width)
    if isinstance(condition, Negation):
        return _prefixed(_operand_lines(condition.child, width - 4), "not ", "    ")
    operator = "and " if isinstance(condition, AllOf) else "or "
    lines: list[str] = []
    for i, child in enumerate(condition.children):
        lead = operator if i else ""
        lines += _prefixed(_operand_lines(child, width - len(lead)), lead, " " * len(lead))
    return lines


def _operand_lines(condition: Condition, width: int) -> list[str]:
    """An operand of `and`/`or`/`not`: an `and`/`or` of several operands in parentheses."""
    if not isinstance(condition, Leaf | Negation) and len(condition.children) > 1:
        inner = condition_lines(condition, width - 2)
        lines = _prefixed(inner, "(", " ")
        lines[-1] += ")"
        return lines
    return condition_lines(condition, width)


def _prefixed(lines: list[str], first: str, rest: str) -> list[str]:
    return [(first if i == 0 else rest) + line for i, line in enumerate(lines)]


def _pack(words: Sequence[str], width: int) -> list[str]:
    """Words filled into lines of at most `width`; a line's trailing space is dropped."""
    lines: list[str] = []
    line = ""
    for word in words:
        if not line or len(line) + len(word.rstrip()) <= width:
            line += word
            continue
        lines += _hard_wrap(line.rstrip(), width)
        line = INDENT + word
    return lines + _hard_wrap(line.rstrip(), width)


def _hard_wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    return textwrap.wrap(
        text, width, subsequent_indent=INDENT, break_on_hyphens=False, drop_whitespace=True
    )


def foreach_lines(foreach: Foreach, width: int = LABEL_WIDTH) -> list[str]:
    """`foreach module.function`, broken after a dot when it is too long."""
    parts = f"{foreach.import_}.{foreach.function}".split(".")
    words = ["foreach ", *(f"{p}." for p in parts[:-1]), parts[-1]]
    return _pack(words, width)


def dot_label(lines: Sequence[str]) -> str:
    """Lines as one graphviz label, left-justified when several (backslashes kept literal)."""
    escaped = [line.replace("\\", "\\\\") for line in lines]
    return escaped[0] if len(escaped) == 1 else "".join(line + "\\l" for line in escaped)


def _nowait_attrs(base: Mapping[str, str], nowait: Mapping[str, str]) -> dict[str, str]:
    attrs = {**base, **nowait}
    if "style" in base and "style" in nowait:
        attrs["style"] = f"{base['style']},{nowait['style']}"
    return attrs


def _draw_nodes(
    graph: graphviz.Digraph, project: Project, flow: Flow, style: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """Draw the tasks and sub-flows, and the storages linked to them; return the storages' ids."""
    nowait = {r.name for r in flow.nowait}
    storages: dict[str, None] = {}
    for name in flow.nodes():
        attrs = style["flow" if project.is_flow(name) else "task"]
        if name in nowait:
            graph.node(name, f"{name}\\n{NOWAIT_NOTE}", **_nowait_attrs(attrs, style["nowait"]))
        else:
            graph.node(name, name, **attrs)
        task = project.task(name)
        if task is not None and task.storage is not None:
            storage = f"_sc_storage_{task.storage.name}"  # _sc_ names are reserved (SC209)
            if storage not in storages:
                graph.node(storage, task.storage.name, **style["storage"])
                storages[storage] = None
            graph.edge(name, storage, **style["store_edge"])
    return list(storages)


def _lowered(flow: Flow) -> dict[tuple[str, int], int]:
    """(source, edge index) -> rows to skip: the edges of a wide fan-out spread over rows."""
    fanouts: dict[str, list[int]] = {}
    for edge in flow.edges:
        for source in dict.fromkeys(r.name for r in edge.sources):
            fanouts.setdefault(source, []).append(edge.index)
    return {
        (source, index): i % LEVELS
        for source, indexes in fanouts.items()
        if len(indexes) > FANOUT
        for i, index in enumerate(indexes)
        if i % LEVELS
    }


def _draw_edge(
    graph: graphviz.Digraph,
    edge: Edge,
    lowered: Mapping[tuple[str, int], int],
    style: Mapping[str, Mapping[str, str]],
) -> None:
    point = f"_sc_edge_{edge.index}"
    lines = condition_lines(edge.condition)
    if edge.foreach is not None:
        lines += foreach_lines(edge.foreach)
    section = "condition_foreach" if edge.foreach is not None else "condition"
    graph.node(point, dot_label(lines), **style[section])
    for source in dict.fromkeys(r.name for r in edge.sources):
        if (source, edge.index) in lowered:
            graph.edge(source, point, minlen=str(1 + lowered[source, edge.index]), **style["edge"])
        else:
            graph.edge(source, point, **style["edge"])
    for target in dict.fromkeys(r.name for r in edge.targets):
        graph.edge(point, target, **style["edge"])


def _draw_failure(
    graph: graphviz.Digraph, failure: Failure, style: Mapping[str, Mapping[str, str]]
) -> None:
    if isinstance(failure.fallback, bool):
        handled = f"_sc_handled_{failure.index}"
        graph.node(handled, **style["fallback_true"])
        targets = [handled]
    else:
        targets = list(dict.fromkeys(r.name for r in failure.fallback))
    label = dot_label(condition_lines(failure.condition)) if failure.condition is not None else ""
    for node in dict.fromkeys(r.name for r in failure.nodes):
        for target in targets:
            graph.edge(node, target, label=label, **style["fallback_edge"])


def flow_graph(
    project: Project, flow: Flow, style: Mapping[str, Mapping[str, str]]
) -> graphviz.Digraph:
    """The graph of one flow."""
    title = f"{flow.name}\\n{NOWAIT_LEGEND}" if flow.nowait else flow.name
    graph = graphviz.Digraph(name=flow.name, graph_attr={**style["graph"], "label": title})
    storages = _draw_nodes(graph, project, flow, style)
    lowered = _lowered(flow)
    for edge in flow.edges:
        _draw_edge(graph, edge, lowered, style)
    with graph.subgraph() as top:  # starting edges in the first row, not beside later ones
        top.attr(rank="min")
        for edge in flow.edges:
            if edge.is_starting:
                top.node(f"_sc_edge_{edge.index}")
    with graph.subgraph() as bottom:  # storages in the last row, under the tasks they serve
        bottom.attr(rank="max")
        for storage in storages:
            bottom.node(storage)
    for failure in flow.failures:
        _draw_failure(graph, failure, style)
    return graph


def plot(
    project: Project, out_dir: str, fmt: str, style: Mapping[str, Mapping[str, str]]
) -> tuple[list[str], bool]:
    """Write one file per flow to `out_dir`.

    Returns:
        The paths written, and whether they were rendered (False: `dot` is missing, so the DOT
        text was written instead of `fmt`).
    """
    render = fmt != "dot" and shutil.which("dot") is not None
    written = []
    try:
        os.makedirs(out_dir, exist_ok=True)
        for flow in sorted(project.flows, key=lambda f: f.name):
            graph = flow_graph(project, flow, style)
            base = os.path.join(out_dir, flow.name)
            if render:
                data = graph.pipe(format=fmt)
                path = f"{base}.{fmt}"
                with open(path, "wb") as handle:
                    handle.write(data)
            else:
                path = f"{base}.dot"
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(graph.source)
            written.append(path)
    except OSError as exc:
        raise PlotError(f"cannot write to {out_dir}: {exc.strerror} ({exc.filename})") from exc
    except (graphviz.CalledProcessError, graphviz.ExecutableNotFound) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        text = detail.decode(errors="replace").strip() if isinstance(detail, bytes) else str(detail)
        raise PlotError(f"graphviz could not render the plot: {text or exc}") from exc
    return written, render or fmt == "dot"
