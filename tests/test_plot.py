"""`selinonc plot` on a wide flow with long conditions: wrapped labels, nowait nodes, its shape.

The fixture `tests/fixtures/plot-wide` has the shape of a real ingestion flow whose plot used to
be one row of one-line conditions, thirteen times wider than high.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from selinonc.compiler import pipeline
from selinonc.compiler.cli import plot
from selinonc.compiler.cli.inputs import expand
from selinonc.compiler.lower.conditions import text as condition_text
from selinonc.compiler.model import Condition, Project
from tests.buildkit import EXAMPLES, selinonc

FIXTURE = Path(__file__).parent / "fixtures" / "plot-wide"
WIDE = "releaseScanFlow"
NOWAIT = [
    "dependencyScanFlow",
    "dependencyScanApiFlow",
    "dependencyScanUrgentFlow",
    "packageScanFlow",
    "packageScanApiFlow",
    "packageScanUrgentFlow",
]
# A quoted DOT string (with its escapes) or a bare ID, as the value of a `label` attribute.
LABEL = re.compile(r'\blabel=("(?:[^"\\]|\\.)*"|[^\s\]"]+)')
ESCAPE = re.compile(r"\\(.)|([^\\])", re.DOTALL)


def require_dot() -> None:
    """Skip without graphviz's `dot`, except in CI, where its absence is a failure."""
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("graphviz's dot is not installed, and CI must render plots")
        pytest.skip("graphviz's dot is not installed")


def project(*inputs: Path) -> Project:
    result = pipeline.check(expand([str(p) for p in inputs]))
    assert result.ok and result.project is not None, result.diagnostics
    return result.project


def label_lines(dot: str) -> list[str]:
    """Every line of every label in DOT text, as graphviz shows it."""
    lines = []
    for raw in LABEL.findall(dot):
        text = raw[1:-1] if raw.startswith('"') else raw
        line = ""
        for escaped, char in ESCAPE.findall(text):
            if escaped in ("l", "n", "r"):  # graphviz's line breaks
                lines.append(line)
                line = ""
            else:
                line += escaped or char
        if line or not text.endswith(("\\l", "\\n", "\\r")):
            lines.append(line)
    return lines


def conditions(proj: Project) -> list[Condition]:
    found: list[Condition] = []
    for flow in proj.flows:
        found += [e.condition for e in flow.edges if e.condition is not None]
        found += [f.condition for f in flow.failures if f.condition is not None]
    return found


def test_long_conditions_are_wrapped_to_the_label_width(tmp_path: Path) -> None:
    done = selinonc("plot", str(FIXTURE), "-o", str(tmp_path), "--format", "dot")
    assert done.returncode == 0, done.stderr
    dot = (tmp_path / f"{WIDE}.dot").read_text()
    longest = max(len(condition_text(c)) for c in conditions(project(FIXTURE)))
    assert longest > 2 * plot.LABEL_WIDTH  # the fixture needs wrapping
    lines = label_lines(dot)
    assert len(lines) > 60
    assert max(len(line) for line in lines) <= plot.LABEL_WIDTH
    # A foreach edge: its `and` of an `or`, one operand a line, then its function.
    assert (
        '_sc_edge_9 [label="(not argsFieldExist(\\l'
        '       key=\\"recursion_depth_limit\\")\\l'
        " or argsFieldGreater(\\l"
        '      key=\\"recursion_depth_limit\\", value=0))\\l'
        "and envEqual(\\l"
        '      env=\\"SCAN_ADMINISTRATION_REGION\\",\\l'
        '      value=\\"ingestion\\")\\l'
        "foreach scanner.dispatcher.foreach.\\l"
        '  iter_dependencies_to_scan\\l"'
    ) in dot
    # A fallback edge's condition is wrapped the same way.
    assert (
        'vulnerability_scan -> report_scan_failure [label="'
        'argsFieldExist(key=\\"report_failures_to\\")\\l'
        "and not argsFieldEqual(\\l"
    ) in dot
    # A short condition stays one centred line.
    assert "_sc_edge_2 [label=always " in dot


@pytest.mark.parametrize("width", [16, 24, 32, 44, 60, 120])
def test_wrapping_only_breaks_lines_and_keeps_every_line_in_the_width(width: int) -> None:
    proj = project(FIXTURE)
    every = conditions(proj)
    for example in ("order-fulfilment", "package-analysis", "image-pipeline"):
        every += conditions(project(EXAMPLES / example))
    for condition in every:
        lines = plot.condition_lines(condition, width)
        assert max(len(line) for line in lines) <= width, lines
        flat = condition_text(condition)
        assert "".join(lines).replace(" ", "") == flat.replace(" ", "")
        assert (len(lines) == 1) == (len(flat) <= width)


def long_value_project(tmp_path: Path) -> Project:
    """A flow whose one condition has a value longer than a line, with backslashes and quotes."""
    value = "a very long value " * 6 + 'C:\\temp\\"quoted" \\l \\N'
    condition = {"name": "argsFieldEqual", "args": {"key": "path", "value": value}}
    edges = [{"from": None, "to": "A"}, {"from": "A", "to": "B", "condition": condition}]
    config = {
        "tasks": [{"name": "A", "import": "m"}, {"name": "B", "import": "m"}],
        "flows": ["f"],
        "flow-definitions": [{"name": "f", "edges": edges}],
    }
    flows = tmp_path / "all.yaml"
    flows.write_text(json.dumps(config))  # JSON is YAML
    return project(flows)


def test_an_argument_longer_than_a_line_is_broken_inside_it(tmp_path: Path) -> None:
    proj = long_value_project(tmp_path)
    (condition,) = conditions(proj)
    lines = plot.condition_lines(condition)
    assert lines[0] == 'argsFieldEqual(key="path",'
    assert len(lines) > 3 and max(len(line) for line in lines) <= plot.LABEL_WIDTH
    # Backslashes in values stay literal in DOT: no `\l` or `\N` escape comes from the YAML.
    (flow,) = proj.flows
    dot = plot.flow_graph(proj, flow, plot.merge_style(None)).source
    shown = "".join(line.strip() for line in label_lines(dot) if "argsFieldEqual" not in line)
    assert shown.replace(" ", "").endswith('C:\\\\temp\\\\"quoted"\\\\l\\\\N\')')


def test_graphviz_shows_backslashes_and_quotes_of_values_as_written(tmp_path: Path) -> None:
    require_dot()
    proj = long_value_project(tmp_path)
    (flow,) = proj.flows
    svg = plot.flow_graph(proj, flow, plot.merge_style(None)).pipe(format="svg").decode()
    assert "C:\\\\temp\\\\&quot;quoted&quot; \\\\l \\\\N&#39;)" in svg


def test_nowait_nodes_are_dashed_noted_and_explained(tmp_path: Path) -> None:
    done = selinonc("plot", str(FIXTURE), "-o", str(tmp_path), "--format", "dot")
    assert done.returncode == 0, done.stderr
    dot = (tmp_path / f"{WIDE}.dot").read_text()
    for name in NOWAIT:  # sub-flows: the flow style with the nowait style laid over it
        assert (
            f'\t{name} [label="{name}\\n(nowait)" color="#7f8c8d" fillcolor="#f6e3c6" '
            f'penwidth=2 shape=box3d style="filled,dashed"]\n'
        ) in dot
    assert '\tfetch_metadata [label=fetch_metadata fillcolor="#dbe9f6" shape=box ' in dot
    assert dot.count("(nowait)") == len(NOWAIT) + 1  # the nodes and the legend
    assert f'label="{WIDE}\\n(nowait): started but never waited for"' in dot
    plain = (tmp_path / "packageScanFlow.dot").read_text()  # no nowait nodes: no legend
    assert "label=packageScanFlow rankdir=TB" in plain and "nowait" not in plain


def test_a_style_file_restyles_nowait_nodes_over_their_own_style(tmp_path: Path) -> None:
    style = tmp_path / "style.yaml"
    style.write_text("nowait:\n  style: bold\n  color: blue\n")
    out = tmp_path / "out"
    done = selinonc("plot", str(FIXTURE), "-o", str(out), "--format", "dot", "--style", str(style))
    assert done.returncode == 0, done.stderr
    dot = (out / f"{WIDE}.dot").read_text()
    assert 'color=blue fillcolor="#f6e3c6" penwidth=2 shape=box3d style="filled,bold"' in dot
    assert "dashed" not in dot.split("dependencyScanFlow [", 1)[1].split("\n", 1)[0]


def test_a_wide_fan_out_is_spread_over_rows_and_storages_go_last() -> None:
    proj = project(FIXTURE)
    flow = next(f for f in proj.flows if f.name == WIDE)
    dot = plot.flow_graph(proj, flow, plot.merge_style(None)).source
    # fetch_metadata starts five edges: rows 1, 2, 3, 1, 2 below it
    assert "fetch_metadata -> _sc_edge_4 [arrowhead=vee]" in dot
    assert "fetch_metadata -> _sc_edge_5 [arrowhead=vee minlen=2]" in dot
    assert "fetch_metadata -> _sc_edge_6 [arrowhead=vee minlen=3]" in dot
    assert "fetch_metadata -> _sc_edge_7 [arrowhead=vee]" in dot
    assert "fetch_metadata -> _sc_edge_8 [arrowhead=vee minlen=2]" in dot
    # the starting edges share the first row
    assert (
        "{\n\t\trank=min\n\t\t_sc_edge_0\n\t\t_sc_edge_1\n\t\t_sc_edge_2\n\t\t_sc_edge_3\n\t}"
        in dot
    )
    # dependency_tree starts three: rows 1, 2, 3
    assert "dependency_tree -> _sc_edge_11 [arrowhead=vee minlen=3]" in dot
    # the one storage, declared once, in the last row, its links not ranking the tasks
    assert dot.count("_sc_storage_ScanResults [label=ScanResults") == 1
    assert "{\n\t\trank=max\n\t\t_sc_storage_ScanResults\n\t}" in dot
    assert (
        dot.count("-> _sc_storage_ScanResults [arrowhead=none constraint=false style=dotted]") == 6
    )


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_the_png_of_a_wide_flow_has_a_bounded_aspect_ratio(tmp_path: Path) -> None:
    require_dot()
    done = selinonc("plot", str(FIXTURE), "-o", str(tmp_path), "--format", "png")
    assert done.returncode == 0, done.stderr
    width, height = png_size(tmp_path / f"{WIDE}.png")
    # One row of one-line conditions was 7918 x 612 pixels.
    assert max(width / height, height / width) <= 2.0, (width, height)
    assert width <= 2600, (width, height)  # 1846 x 1259 with the fonts of the dev machines
