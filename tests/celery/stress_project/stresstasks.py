"""Tasks of the stress project: each execution of a task body is recorded in Redis.

For each node id (`self.task_id`) an execution adds 1 to `stress:count:<id>` and writes, in the
hash `stress:exec:<id>`, fields `<n>:pid` and `<n>:worker` (the process that ran execution `n`
and the `STRESS_WORKER` name of its worker), `<n>:body` when the body returned, and `<n>:done`
when the Celery task around the body returned, the node's outcome applied to its flow (the
task_postrun handler below)."""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from celery.signals import task_postrun

from selinonc.runtime import SelinonTask

COUNT = "stress:count:"
EXEC = "stress:exec:"
TOTAL = "stress:total"  # executions started, all nodes together

_client: list[redis.Redis] = []
# node id -> the number of its execution running in this process (one at a time in prefork)
_running: dict[str, int] = {}


def client() -> redis.Redis:
    """This process's connection to the counters' database (STRESS_COUNTS_URL)."""
    if not _client:
        _client.append(redis.Redis.from_url(os.environ["STRESS_COUNTS_URL"], socket_timeout=10))
    return _client[0]


# One atomic step, so that a process killed mid-way leaves no execution counted but unrecorded.
_BEGIN = """
local n = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], n .. ':pid', ARGV[1], n .. ':worker', ARGV[2])
redis.call('INCR', KEYS[3])
return n
"""


def begin(node_id: str) -> None:
    """Count an execution of `node_id`'s body and record the process running it."""
    keys = [COUNT + node_id, EXEC + node_id, TOTAL]
    args = [str(os.getpid()), os.environ["STRESS_WORKER"]]
    _running[node_id] = int(client().eval(_BEGIN, len(keys), *keys, *args))


def end(node_id: str) -> None:
    """The body of `node_id`'s running execution returned."""
    client().hset(EXEC + node_id, f"{_running[node_id]}:body", 1)


def completed(ok: bool) -> None:
    """The Celery task that ran the body in this process returned (`ok`: successfully, so
    the node's outcome was applied to its flow). A skipped message ran no body: no entry."""
    while _running:
        node_id, n = _running.popitem()
        if ok:
            client().hset(EXEC + node_id, f"{n}:done", 1)


def _postrun(state: str | None = None, **_: Any) -> None:
    """A Celery task returned in this process; if it ran a body, that execution completed when
    the task succeeded (a prefork process runs one task at a time: the body was this task's)."""
    completed(state == "SUCCESS")


task_postrun.connect(_postrun, weak=False)


def split_items(results: Any, node_args: Any) -> list[int]:
    """The foreach of `fan`: the items Split returned."""
    items: list[int] = results.get("Split")
    return items


class Split(SelinonTask):
    def run(self, node_args: Any) -> Any:
        begin(self.task_id)
        items = list(range(int(node_args["items"])))
        end(self.task_id)
        return items


class Item(SelinonTask):
    def run(self, node_args: Any) -> Any:
        begin(self.task_id)
        time.sleep(float(node_args.get("sleep", 0)))  # the fault tests' items take a while
        end(self.task_id)


class Join(SelinonTask):
    def run(self, node_args: Any) -> Any:
        begin(self.task_id)
        end(self.task_id)
