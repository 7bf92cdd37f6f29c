"""`selinonc plot`: draw each flow with graphviz: tasks, sub-flows, conditions, storages, fallbacks.

Every edge goes through a small condition node labelled with its condition (a foreach edge has
its own style), so joins and fan-outs read as in the YAML. Tasks with a storage are linked to it;
failures are drawn from the failed nodes to their fallbacks. The DOT text is deterministic;
rendering to SVG or PNG needs graphviz's `dot` program.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

import graphviz

from selinonc.compiler.lower.conditions import text as condition_text
from selinonc.compiler.model import Flow, Project

# The elements a style file may restyle, with graphviz attributes like the predecessor's look.
DEFAULT_STYLE: Mapping[str, Mapping[str, str]] = {
    "graph": {"rankdir": "TB", "fontname": "Helvetica"},
    "task": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe9f6"},
    "flow": {"shape": "box3d", "style": "filled", "fillcolor": "#f6e3c6"},
    "condition": {"shape": "diamond", "fontsize": "10", "style": "filled", "fillcolor": "#eeeeee"},
    "condition_foreach": {
        "shape": "hexagon",
        "fontsize": "10",
        "style": "filled",
        "fillcolor": "#e6f2da",
    },
    "storage": {"shape": "cylinder", "style": "filled", "fillcolor": "#fff4b3"},
    "edge": {"arrowhead": "vee"},
    "store_edge": {"style": "dotted", "arrowhead": "none"},
    "fallback_edge": {"style": "dashed", "color": "#c0392b"},
    "fallback_true": {"shape": "plaintext", "label": "handled"},
}


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


def flow_graph(
    project: Project, flow: Flow, style: Mapping[str, Mapping[str, str]]
) -> graphviz.Digraph:
    """The graph of one flow."""
    graph = graphviz.Digraph(name=flow.name, graph_attr={**style["graph"], "label": flow.name})
    for name in flow.nodes():
        kind = "flow" if project.is_flow(name) else "task"
        graph.node(name, name, **style[kind])
        task = project.task(name)
        if task is not None and task.storage is not None:
            storage = f"_sc_storage_{task.storage.name}"  # _sc_ names are reserved (SC209)
            graph.node(storage, task.storage.name, **style["storage"])
            graph.edge(name, storage, **style["store_edge"])
    for edge in flow.edges:
        point = f"_sc_edge_{edge.index}"
        label = condition_text(edge.condition)
        if edge.foreach is not None:
            label = f"{label}\nforeach {edge.foreach.import_}.{edge.foreach.function}"
        section = "condition_foreach" if edge.foreach is not None else "condition"
        graph.node(point, label, **style[section])
        for source in dict.fromkeys(r.name for r in edge.sources):
            graph.edge(source, point, **style["edge"])
        for target in dict.fromkeys(r.name for r in edge.targets):
            graph.edge(point, target, **style["edge"])
    for failure in flow.failures:
        if isinstance(failure.fallback, bool):
            handled = f"_sc_handled_{failure.index}"
            graph.node(handled, **style["fallback_true"])
            targets = [handled]
        else:
            targets = list(dict.fromkeys(r.name for r in failure.fallback))
        label = condition_text(failure.condition) if failure.condition is not None else ""
        for node in dict.fromkeys(r.name for r in failure.nodes):
            for target in targets:
                graph.edge(node, target, label=label, **style["fallback_edge"])
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
