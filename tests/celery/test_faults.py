"""Faults on real Celery workers (issue 10): a worker's main process killed on the Redis broker,
Redis shut down and restarted, bad messages. Each part runs the stress project's flows (a
sub-flow fanning out into items, then a join), every body counting its executions in Redis, and
asserts what test_stress.py does: every flow succeeds, every node the flows report ran once, and
a node ran twice only where its first execution was in a process of the killed worker and never
completed.

Bounds (none is a timed assertion; each is how long a part waits before it calls a flow stuck):
a task whose worker died while running it runs again once its claim lapses (30 s) and the
deadline poller sees it (1 s); one a dead worker held unstarted, once it is `STRESS_REDELIVER`
(20 s here, 120 s by default) overdue. Nothing waits for the Redis broker's visibility timeout
(an hour).

Redis databases 5 and 6 of the machine's Redis are this module's (as test_stress.py's: the two
never run at once); the Redis restarts use a private redis-server on a free port, with AOF.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

from tests.celery import test_stress
from tests.celery.test_stress import _flush, _problems, _report, _run, _workers

FLOWS, ITEMS = 5, 50
NODES = FLOWS * (ITEMS + 2)
REDELIVER = "20"
SLEEP = 0.3  # seconds an item's body takes: the kill finds bodies running

stress = test_stress.stress  # the module-scoped fixture: the project built, its app imported


def test_a_worker_main_process_killed_on_the_redis_broker_reruns_only_what_it_ran(
    stress: dict[str, Any],
) -> None:
    """The Redis broker with its default settings: the killed worker's messages stay unacked
    for the visibility timeout, and the flows end long before it."""
    _flush()
    env = {**stress["env"], "STRESS_REDELIVER": REDELIVER}
    old = dict(os.environ)
    os.environ.update(env)
    broker = env["STRESS_BROKER"]
    try:
        with ExitStack() as stack:
            run_env = {**stress, "env": env}
            workers = _workers(stack, run_env, broker)
            run = _run(
                stress["module"].app,
                stress["module"].driver,
                workers,
                lambda: _workers(stack, run_env, broker, ["w3"]),
                flows=FLOWS,
                items=ITEMS,
                only_main=True,
                sleep=SLEEP,
            )
    finally:
        os.environ.clear()
        os.environ.update(old)
    print(run.summary())
    assert run.killed["after_executions"] < NODES // 2, "killed too late"
    problems = _problems(run, killed=run.killed["pids"], nodes=NODES)
    assert not problems, _report("w1's main process killed (Redis broker)", run, problems)
