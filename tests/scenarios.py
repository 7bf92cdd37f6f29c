"""Run an example's scenario (scenarios/*.json) on the embedded executor and compare outcomes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selinonc.runtime.executor import Executor, RunReport
from tests.buildkit import EXAMPLE_PACKAGES, EXAMPLES, imported


def scenarios() -> list[tuple[str, str]]:
    """(example, scenario name) of every scenario file."""
    return sorted(
        (example, path.stem)
        for example in EXAMPLE_PACKAGES
        for path in (EXAMPLES / example / "scenarios").glob("*.json")
    )


def load(example: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (EXAMPLES / example / "scenarios" / f"{name}.json").read_text()
    )
    return data


@contextmanager
def example_system(example: str) -> Iterator[Any]:
    """The example's checked-in package's SYSTEM, imported with the example on sys.path."""
    with imported(EXAMPLES / example, EXAMPLE_PACKAGES[example]) as package:
        yield package.SYSTEM


def run(example: str, name: str, workers: int = 1) -> tuple[RunReport, Executor]:
    scenario = load(example, name)
    with example_system(example) as system:
        executor = Executor(system, workers=workers)
        report = executor.run(scenario["flow"], scenario.get("node_args"))
    return report, executor


def observed(report: RunReport, executor: Executor) -> dict[str, Any]:
    """The run described in the terms of a scenario's `expect`."""
    top = [n for n in report.nodes.values() if n.flow_id == report.id]
    finished = Counter(
        n.name for n in top if n.status == "succeeded" and not n.nowait and not _handled(report, n)
    )
    failed = Counter(n.name for n in top if n.id in _ids(report.flow_report["failed_nodes"]))
    tasks = [n for n in report.nodes.values() if n.kind == "task"]
    subflows: dict[str, Counter[str]] = {}
    for n in report.nodes.values():
        if n.kind == "flow" and n.status in ("succeeded", "failed"):
            subflows.setdefault(n.name, Counter())[
                "succeeded" if n.status == "succeeded" else "failed"
            ] += 1
    results: dict[str, list[Any]] = {}
    for n in tasks:
        if n.status == "succeeded" and n.result is not None:
            task = executor.system.task(n.name)
            results.setdefault(n.name, []).append(
                executor.pool.retrieve(n.flow, n.name, n.id) if task.storage else None
            )
    return {
        "outcome": report.status,
        "finished_nodes": dict(finished),
        "failed_nodes": dict(failed),
        "subflows": {k: dict(v) for k, v in subflows.items()},
        "tasks_succeeded": dict(Counter(n.name for n in tasks if n.status == "succeeded")),
        "tasks_failed": dict(Counter(n.name for n in tasks if n.status == "failed")),
        "task_retries": {n.name: n.retries for n in tasks if n.retries},
        "nowait_started": dict(
            Counter(n.name for n in tasks if n.nowait and n.status == "succeeded")
        ),
        "results": results,
    }


def _ids(nodes: dict[str, list[str]]) -> set[str]:
    return {i for ids in nodes.values() for i in ids}


def _handled(report: RunReport, node: Any) -> bool:
    return node.id not in _ids(report.flow_report.get("finished_nodes", {}))


def mismatches(expect: dict[str, Any], seen: dict[str, Any]) -> list[str]:
    """How the observed run differs from the expectation (empty when it matches)."""
    problems = []
    for key, wanted in expect.items():
        if key == "results":
            for task, fields in wanted.items():
                got = seen["results"].get(task)
                if not got or len(got) != 1:
                    problems.append(f"results: {task} ran {len(got or [])} times, expected once")
                    continue
                for field, value in fields.items():
                    if not isinstance(got[0], dict) or got[0].get(field) != value:
                        problems.append(f"results: {task}.{field} = {got[0]!r}, expected {value!r}")
        elif seen.get(key) != wanted:
            problems.append(f"{key}: {seen.get(key)!r}, expected {wanted!r}")
    return problems


def scenario_path(example: str, name: str) -> Path:
    return EXAMPLES / example / "scenarios" / f"{name}.json"
