"""Every example flow on a real Celery worker (Redis broker and backend) ends as its scenario
says, as on the embedded executor (which runs every scenario, tests/runtime/test_scenarios.py).
The examples keep results in memory, so the worker runs its tasks on threads of one process."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.buildkit import EXAMPLE_ENV, EXAMPLE_PACKAGES, EXAMPLES
from tests.celery.services import REDIS, require
from tests.celery.workers import run_fulfilment, worker
from tests.scenarios import load, scenarios

PROJECT = EXAMPLES.parent / "tests" / "celery" / "project"
ENV = {
    "E2E_BROKER": "redis://127.0.0.1:6379/14",
    "E2E_BACKEND": "redis://127.0.0.1:6379/15",
    "E2E_STORE": "redis://127.0.0.1:6379/12",
}


@pytest.fixture(scope="module", params=sorted(EXAMPLE_PACKAGES))
def example_app(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    """A worker for the example, and the app the test starts flows with."""
    require(REDIS)
    import redis

    example = str(request.param)
    env = {**ENV, **EXAMPLE_ENV, "EXAMPLE_PACKAGE": EXAMPLE_PACKAGES[example]}
    for db in (12, 14, 15):
        redis.Redis(db=db).flushdb()
    old = dict(os.environ)
    os.environ.update(env)
    sys.path[:0] = [str(EXAMPLES / example), str(PROJECT)]
    try:
        module = importlib.import_module("exampleapp")
        system = module.driver.system
        queues = {t.queue for t in system.tasks.values()} | {f.queue for f in system.flows.values()}
        with worker(
            "exampleapp",
            queues,
            cwd=EXAMPLES / example,
            paths=[EXAMPLES / example, PROJECT],
            env=env,
            concurrency=4,
            pool="threads",
            name=example,
        ):
            yield example, module
        module.driver.store.redis.close()
        module.app.close()
    finally:
        del sys.path[:2]
        package = EXAMPLE_PACKAGES[example].split(".")[0]
        for name in [m for m in sys.modules if m.split(".")[0] in ("exampleapp", package)]:
            del sys.modules[name]
        os.environ.clear()
        os.environ.update(old)


def _countdowns(system: Any, example: str, name: str) -> float:
    """Seconds a scenario spends in retry countdowns: real seconds on Celery. The embedded
    executor runs every scenario on virtual time (tests/runtime/test_scenarios.py)."""
    retries = load(example, name)["expect"].get("task_retries", {})
    return float(sum(n * system.task(task).retry_countdown for task, n in retries.items()))


def test_every_flow_of_the_example_ends_as_its_scenario_says(example_app: tuple[str, Any]) -> None:
    import selinonc.runtime.celery as selinonc_celery

    example, module = example_app
    system = module.driver.system
    by_flow: dict[str, list[str]] = {}
    for e, n in scenarios():
        if e == example:
            by_flow.setdefault(load(e, n)["flow"], []).append(n)
    # Per flow, the scenario with the least waiting: Celery waits countdowns and throttling in
    # real time (per worker process, so runs of one flow would wait for each other).
    names = [min(ns, key=lambda n: (_countdowns(system, example, n), n)) for ns in by_flow.values()]
    handles = {}
    for name in names:  # all at once: the worker runs them side by side
        scenario = load(example, name)
        handles[name] = selinonc_celery.run_flow(
            scenario["flow"], scenario["node_args"], app=module.app
        )
    for name, handle in handles.items():
        expect = load(example, name)["expect"]
        status = handle.wait(120)
        outcome = handle.outcome()
        assert outcome is not None
        report = outcome["report"]
        assert status == ("succeeded" if expect["outcome"] == "succeeded" else "failed"), name
        counted = {k: len(v) for k, v in report["finished_nodes"].items()}
        assert counted == expect["finished_nodes"], name
        failed = {k: len(v) for k, v in report["failed_nodes"].items()}
        assert failed == expect["failed_nodes"], name


def test_the_order_fulfilment_readme_runs_on_celery_as_written() -> None:
    require(REDIS)
    import re
    import subprocess

    example = EXAMPLES / "order-fulfilment"
    readme = (example / "README.md").read_text()
    (queues,) = re.findall(r"^\s+-Q (\S+)$", readme, flags=re.MULTILINE)
    done, _ = run_fulfilment(example, queues.split(","), name="readme")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("started fulfil_order as ")
    assert lines[-1] == "fulfil_order: succeeded"
    # The README's queues are exactly the package's (no queue left without a worker).
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "selinonc.compiler",
            "inspect",
            ".",
            "--task-queues",
            "--dispatcher-queues",
        ],
        cwd=example,
        capture_output=True,
        text=True,
        check=True,
    )
    listed = {line.split(":")[1] for line in done.stdout.split() if ":" in line} - {""}
    assert listed == set(queues.split(","))
