"""Stress on real Celery workers (issue 9): 50 concurrent flows, each a foreach of 200 items into
a join, on two prefork worker processes; every node's body counts its executions in Redis.

1. Every flow succeeds and every node ran exactly once.
2. The same on RabbitMQ (which redelivers a dead consumer's unacknowledged messages at once)
   with one worker killed by SIGKILL, main process and pool children, mid-run: every flow
   succeeds, and a node ran twice only where its first execution was in a process of the killed
   worker and never completed. A replacement worker starts after the kill, as a supervisor
   would start one, so that two worker processes run throughout.

Redis databases 5 (broker of part 1, result backend) and 6 (flow store, results, counters) and
the queues `selinonc_stress_*` are this test's alone; it flushes and deletes nothing else.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.buildkit import selinonc
from tests.celery.services import RABBITMQ, REDIS, require
from tests.celery.workers import worker

PROJECT = Path(__file__).parent / "stress_project"
QUEUES = ("selinonc_stress_tasks", "selinonc_stress_dispatchers")
BACKEND_DB, STORE_DB = 5, 6
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
FLOWS = 50
ITEMS = 200
NODES_PER_FLOW = ITEMS + 2  # Split, the items, Join (task nodes: the sub-flow runs no body)
# Two workers of one prefork process each, for a 2-core machine.
WORKERS = ("w1", "w2")
CONCURRENCY = 1
# How long all flows of a part may take before the test gives up on the ones left (no timed
# assertion: a bound on a hang).
WAIT_SECONDS = 900.0
# ... or once no task body has started and no flow has ended for this long.
STALL_SECONDS = 60.0
# Part 2 kills a worker once this share of all executions has started.
KILL_AFTER = 0.2


@pytest.fixture(scope="module")
def stress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The project built into a package, the environment of its app, and the app module."""
    require(REDIS)
    root = tmp_path_factory.mktemp("stress")
    # From the project's folder, where its task modules import (build checks them, SC507).
    done = selinonc("build", "flows.yaml", "-o", str(root / "stresspkg"), cwd=PROJECT)
    assert done.returncode == 0, done.stdout + done.stderr
    backend = f"redis://127.0.0.1:6379/{BACKEND_DB}"
    store = f"redis://127.0.0.1:6379/{STORE_DB}"
    env = {
        "STRESS_BROKER": backend,
        "STRESS_BACKEND": backend,
        "STRESS_STORE": store,
        "STRESS_RESULTS_URL": store,
        "STRESS_COUNTS_URL": store,
        "STRESS_PACKAGE": "stresspkg",
    }
    old = dict(os.environ)
    os.environ.update(env)
    sys.path[:0] = [str(root), str(PROJECT)]
    try:
        app_module = importlib.import_module("stressapp")
        yield {"env": env, "root": root, "module": app_module}
        _close(app_module.app, app_module.driver)
        for client in importlib.import_module("stresstasks")._client:
            client.close()
    finally:
        del sys.path[:2]
        for name in ("stressapp", "stresstasks", "stresspkg"):
            for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[module]
        os.environ.clear()
        os.environ.update(old)


def _close(app: Any, driver: Any) -> None:
    driver.pool.close()
    driver.store.redis.close()
    app.close()


def _flush() -> None:
    import redis

    for db in (BACKEND_DB, STORE_DB):
        with redis.Redis(db=db) as client:
            client.flushdb()


def _delete_queues(app: Any) -> None:
    """This test's queues on the app's broker (RabbitMQ), with any message a failed earlier
    run left there."""
    with app.connection_for_write() as connection:
        for queue in QUEUES:
            connection.default_channel.queue_delete(queue)


def _group(pgid: int) -> set[int]:
    """The processes of a process group (a worker: its main process and pool children)."""
    pids: set[int] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    pids.add(int(entry))
    return pids


@dataclass
class Run:
    """What a part saw: outcomes, the nodes the flows report, every execution of a body."""

    seconds: float
    statuses: dict[str, str]  # flow id -> "succeeded", "failed" or "no outcome"
    reported: set[str]  # task node ids the flows (and their sub-flows) report finished
    executions: dict[str, list[dict[str, str]]]  # node id -> executions in order
    counts: dict[str, int]  # node id -> its counter
    stuck: dict[str, Any]  # flow id -> active nodes, for each flow without an outcome
    errors: list[str]  # the workers' ERROR and CRITICAL log lines
    killed: dict[str, Any] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)  # each worker's log

    def summary(self) -> str:
        runs = Counter(self.counts.values())
        return (
            f"{len(self.statuses)} flows in {self.seconds:.1f} s: "
            f"{dict(Counter(self.statuses.values()))}; {len(self.reported)} nodes reported, "
            f"{len(self.counts)} counters, nodes by executions {dict(sorted(runs.items()))}"
            + (f"; killed {self.killed}" if self.killed else "")
        )


def _reported(driver: Any, report: dict[str, Any]) -> set[str]:
    """The task nodes a flow's report lists as finished, its sub-flows' included (read from
    each sub-flow's own state)."""
    from selinonc.runtime.celery import FlowHandle

    ids: set[str] = set()
    for name, node_ids in report["finished_nodes"].items():
        for node_id in node_ids:
            if driver.system.is_flow(name):
                ids |= _reported(driver, FlowHandle(driver, node_id, name).state())
            else:
                ids.add(node_id)
    return ids


def _executions(client: Any) -> tuple[dict[str, int], dict[str, list[dict[str, str]]]]:
    """Every counter, and every node's executions as the task bodies recorded them."""
    tasks = importlib.import_module("stresstasks")
    count, exec_ = tasks.COUNT, tasks.EXEC
    keys = [k.decode() for k in client.scan_iter(match=count + "*", count=1000)]
    node_ids = [k[len(count) :] for k in keys]
    counts = {n: int(v) for n, v in zip(node_ids, client.mget(keys) if keys else [], strict=True)}
    with client.pipeline(transaction=False) as pipe:
        for node_id in node_ids:
            pipe.hgetall(exec_ + node_id)
        hashes = pipe.execute()
    executions: dict[str, list[dict[str, str]]] = {}
    for node_id, raw in zip(node_ids, hashes, strict=True):
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        executions[node_id] = [
            {
                key: fields[f"{n}:{key}"]
                for key in ("pid", "worker", "body", "done")
                if f"{n}:{key}" in fields
            }
            for n in range(1, counts[node_id] + 1)
        ]
    return counts, executions


def _run(
    app: Any,
    driver: Any,
    workers: dict[str, subprocess.Popen[str]],
    replace: Callable[[], dict[str, subprocess.Popen[str]]] | None = None,
    *,
    flows: int = FLOWS,
    items: int = ITEMS,
    only_main: bool = False,
    sleep: float = 0.0,
    fault: Callable[[], dict[str, Any]] | None = None,
    counters_url: str = f"redis://127.0.0.1:6379/{STORE_DB}",
) -> Run:
    """Start `flows` flows of `items` items (each sleeping `sleep` seconds); with `replace`,
    kill worker w1 mid-run (its main process and pool children, or with `only_main` its main
    process alone) and start the workers it returns in its place (or, with `fault`, call it
    instead: what it returns is the run's `killed`); wait for every flow; what happened."""
    import redis

    from selinonc.runtime.celery import run_flow

    total_key = importlib.import_module("stresstasks").TOTAL
    counters = redis.Redis.from_url(counters_url)
    try:
        start = time.monotonic()
        handles = [
            run_flow("stress", {"items": items, "sleep": sleep}, app=app) for _ in range(flows)
        ]
        killed: dict[str, Any] = {}
        if replace is not None or fault is not None:
            total = flows * (items + 2)
            while int(counters.get(total_key) or 0) < KILL_AFTER * total:
                if time.monotonic() - start > WAIT_SECONDS:
                    pytest.fail(f"fewer than {KILL_AFTER * total:.0f} executions in time")
                time.sleep(0.01)
        if fault is not None:
            killed = fault()
        elif replace is not None:
            victim = workers["w1"]
            pids = _group(victim.pid)
            if only_main:
                os.kill(victim.pid, signal.SIGKILL)
            else:
                os.killpg(victim.pid, signal.SIGKILL)
            victim.wait(10)
            killed = {
                "worker": "w1",
                "pids": pids,
                "after_executions": int(counters.get(total_key) or 0),
                "at_seconds": round(time.monotonic() - start, 1),
            }
            workers.update(replace())
        statuses, stuck = _wait(handles, counters, total_key, start)
        reported: set[str] = set()
        for handle in handles:
            outcome = handle.outcome() if handle.id not in stuck else None
            if outcome is not None:
                reported |= _reported(driver, outcome["report"])
        seconds = time.monotonic() - start
        counts, executions = _executions(counters)
    finally:
        counters.close()
    errors = [
        f"{name}: {line.rstrip()}"
        for name, process in workers.items()
        for line in getattr(process, "log", [])
        if " ERROR/" in line or " CRITICAL/" in line
    ]
    logs = {name: list(getattr(process, "log", [])) for name, process in workers.items()}
    return Run(seconds, statuses, reported, executions, counts, stuck, errors, killed, logs)


def _wait(
    handles: list[Any], counters: Any, total_key: str, start: float
) -> tuple[dict[str, str], dict[str, Any]]:
    import redis

    from selinonc.runtime.celery import StoreError

    """Each flow's status ("succeeded", "failed" or "no outcome"), and the active nodes of each
    flow without an outcome once WAIT_SECONDS have passed or nothing ran for STALL_SECONDS."""
    statuses: dict[str, str] = {}
    pending = list(handles)
    seen, progress = -1, time.monotonic()
    while pending:
        try:
            statuses[pending[0].id] = pending[0].wait(2)
            pending.pop(0)
            progress = time.monotonic()
            continue
        except TimeoutError:
            pass
        except StoreError:  # Redis is down (a fault test): wait for it
            time.sleep(1)
        try:
            executions = int(counters.get(total_key) or 0)
        except redis.ConnectionError:
            executions = seen
        now = time.monotonic()
        if executions != seen:
            seen, progress = executions, now
        elif now - progress > STALL_SECONDS or now - start > WAIT_SECONDS:
            break
    stuck = {}
    for handle in pending:
        statuses[handle.id] = "no outcome"
        stuck[handle.id] = handle.state()["active_nodes"][:3]
    return statuses, stuck


def _workers(
    stack: ExitStack, stress: dict[str, Any], broker: str, names: Iterable[str] = WORKERS
) -> dict[str, subprocess.Popen[str]]:
    """A `celery worker` process (prefork) of the stress app on `broker` for each name, its
    STRESS_WORKER; stopped when `stack` closes."""
    return {
        name: stack.enter_context(
            worker(
                "stressapp",
                QUEUES,
                cwd=PROJECT,
                paths=[stress["root"], PROJECT],
                env={**stress["env"], "STRESS_BROKER": broker, "STRESS_WORKER": name},
                concurrency=CONCURRENCY,
                name=f"stress-{name}",
            )
        )
        for name in names
    }


def _problems(
    run: Run,
    killed: set[int] | None,
    nodes: int = FLOWS * NODES_PER_FLOW,
    *,
    outage: bool = False,
) -> list[str]:
    """Each way the run broke exactly-once. With `killed` (the pids of the killed worker), a
    node may have run twice when its first execution was there and never completed, the second
    elsewhere. With `outage` (the broker and result backend were down a while), an execution
    whose body returned and whose node its flow reports completed, though Celery could not
    store its result (the task_postrun mark)."""
    problems = [
        f"flow {i}: {s}" + (f", active: {run.stuck[i]}" if i in run.stuck else "")
        for i, s in run.statuses.items()
        if s != "succeeded"
    ]
    if len(run.reported) != nodes:
        problems.append(f"{len(run.reported)} nodes reported, not {nodes}")
    if set(run.counts) != run.reported:
        problems.append(
            f"{len(set(run.counts) - run.reported)} counted nodes not reported, "
            f"{len(run.reported - set(run.counts))} reported nodes never counted"
        )

    def by_killed(execution: dict[str, str]) -> bool:
        return (
            killed is not None
            and execution.get("worker") == "w1"
            and int(execution.get("pid", 0)) in killed
        )

    for node_id, executions in sorted(run.executions.items()):
        first, last = executions[0], executions[-1]
        if len(executions) > 2 or (
            len(executions) == 2 and (not by_killed(first) or "done" in first or by_killed(last))
        ):
            problems.append(f"node {node_id} ran {len(executions)} times: {executions}")
        elif "done" not in last and not by_killed(last):
            if outage and "body" in last and node_id in run.reported:
                continue
            # (The kill may end an execution whose outcome reached the flow, before the mark.)
            problems.append(f"node {node_id}: its execution never completed: {executions}")
    return problems


def _report(part: str, run: Run, problems: list[str]) -> str:
    if problems and run.logs:  # the whole story, for whoever reads the failure
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"selinonc-{os.getpid()}-workers.log"
        with path.open("a") as out:
            for name, lines in run.logs.items():
                out.writelines(f"{part} {name}: {line}" for line in lines)
        problems = [*problems, f"(the workers' logs: {path})"]
    shown = "\n".join(problems[:20])
    more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
    errors = "\n".join(run.errors[:10])
    return (
        f"{part}: {run.summary()}\n{len(problems)} problems:\n{shown}{more}\n"
        f"{len(run.errors)} error lines in the workers' logs:\n{errors}"
    )


def test_50_flows_of_a_200_item_foreach_run_every_node_exactly_once(
    stress: dict[str, Any],
) -> None:
    _flush()
    module = stress["module"]
    with ExitStack() as stack:
        workers = _workers(stack, stress, stress["env"]["STRESS_BROKER"])
        run = _run(module.app, module.driver, workers)
    print(run.summary())
    problems = _problems(run, killed=None)
    assert not problems, _report("no kill", run, problems)
    assert set(run.counts.values()) == {1}


def test_a_worker_killed_mid_run_reruns_only_what_it_was_running(
    stress: dict[str, Any],
) -> None:
    require(RABBITMQ)
    _flush()
    app, driver = stress["module"].create(RABBITMQ_URL)
    _delete_queues(app)
    try:
        with ExitStack() as stack:
            workers = _workers(stack, stress, RABBITMQ_URL)
            # A replacement (as a supervisor would start) keeps two workers running.
            run = _run(app, driver, workers, lambda: _workers(stack, stress, RABBITMQ_URL, ["w3"]))
    finally:
        _delete_queues(app)
        _close(app, driver)
    print(run.summary())
    assert run.killed["after_executions"] < FLOWS * NODES_PER_FLOW // 2, "killed too late"
    problems = _problems(run, killed=run.killed["pids"])
    assert not problems, _report("w1 killed", run, problems)
