"""Generate the synthetic benchmark configuration: N flows of 50 tasks, each calling the last."""

from __future__ import annotations

from pathlib import Path

TASKS_PER_FLOW = 50


def _condition(flow: int, task: int, two_sources: bool) -> list[str]:
    """An `and`/`or`/`not` condition reading the previous task's result and the flow args."""
    node = f"T{flow}_{task - 1}"
    if two_sources:
        return [
            "        condition:",
            "          and:",
            f"            - {{name: fieldEqual, node: {node}, args: {{key: status, value: ok}}}}",
            "            - not: {name: argsFieldExist, args: {key: skip}}",
        ]
    return [
        "        condition:",
        "          or:",
        f"            - {{name: fieldExist, node: {node}, args: {{key: status}}}}",
        "            - {name: argsFieldEqual, args: {key: [mode, name], value: full}}",
    ]


def _flow(i: int) -> list[str]:
    lines = [f"  - name: flow{i}", "    edges:", "      - from:", f"        to: T{i}_0"]
    for j in range(1, TASKS_PER_FLOW):
        two = j >= 2 and j % 3 == 0
        sources = f"[T{i}_{j - 1}, T{i}_{j - 2}]" if two else f"T{i}_{j - 1}"
        lines += [f"      - from: {sources}", f"        to: T{i}_{j}", *_condition(i, j, two)]
    if i > 0:
        lines += [f"      - from: T{i}_{TASKS_PER_FLOW - 1}", f"        to: flow{i - 1}"]
    return lines


def generate(n_flows: int, out: Path) -> list[Path]:
    """Write nodes.yaml and flows.yaml for `n_flows` flows under `out`; return the two paths."""
    out.mkdir(parents=True, exist_ok=True)
    nodes = [
        "storages:",
        "  - name: Results",
        "    import: myapp.storages",
        "    classname: ResultStorage",
        "    configuration: {url: 'redis://localhost'}",
        "tasks:",
    ]
    for i in range(n_flows):
        for j in range(TASKS_PER_FLOW):
            nodes += [
                f"  - name: T{i}_{j}",
                "    import: myapp.tasks",
                f"    classname: Step{j}",
                "    storage: Results",
            ]
    nodes += ["flows:"] + [f"  - flow{i}" for i in range(n_flows)]
    flows = ["flow-definitions:"]
    for i in range(n_flows):
        flows += _flow(i)
    paths = [out / "nodes.yaml", out / "flows.yaml"]
    paths[0].write_text("\n".join(nodes) + "\n")
    paths[1].write_text("\n".join(flows) + "\n")
    return paths
