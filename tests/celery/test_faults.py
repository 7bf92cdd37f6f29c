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

import base64
import bz2
import contextlib
import importlib
import json
import os
import pickle
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import redis

from selinonc.runtime.celery import run_flow, steps
from tests.celery import test_stress
from tests.celery.services import REDIS, require
from tests.celery.test_stress import _close, _flush, _problems, _report, _run, _workers

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
    # Flows start here too: this process's driver (imported before STRESS_REDELIVER was set)
    # schedules their starts' deadlines, which must match the workers'.
    stepper = stress["module"].driver.stepper
    stepper.redeliver_after = float(REDELIVER)
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
        stepper.redeliver_after = steps.REDELIVER_SECONDS
        os.environ.clear()
        os.environ.update(old)
    print(run.summary())
    assert run.killed["after_executions"] < NODES // 2, "killed too late"
    problems = _problems(run, killed=run.killed["pids"], nodes=NODES)
    assert not problems, _report("w1's main process killed (Redis broker)", run, problems)


class PrivateRedis:
    """A redis-server of this test's own on a free port, with AOF (every write synced), that a
    test can shut down and start again."""

    def __init__(self, directory: Path, *, aof: bool = True) -> None:
        self.directory = directory
        self.aof = aof
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--appendonly", "yes" if self.aof else "no", "--save", ""]
        command += ["--appendfsync", "always"]
        command += ["--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        client = redis.Redis(port=self.port)
        try:
            for _ in range(100):
                with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError):
                    if client.ping():
                        return
                time.sleep(0.1)
            raise RuntimeError("the private redis-server did not start")
        finally:
            client.close()

    def shutdown(self) -> None:
        """SHUTDOWN: Redis syncs its AOF and exits."""
        client = redis.Redis(port=self.port)
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown()
        client.close()
        assert self.process is not None
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


REDIS_SERVER = shutil.which("redis-server") or "redis-server"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    require(REDIS)
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def _private_env(stress: dict[str, Any], server: PrivateRedis) -> dict[str, str]:
    return {
        **stress["env"],
        "STRESS_BROKER": server.url(0),
        "STRESS_BACKEND": server.url(1),
        "STRESS_STORE": server.url(2),
        "STRESS_RESULTS_URL": server.url(2),
        # The bodies' counters stay on the machine's Redis: what they count must not fail.
        "STRESS_COUNTS_URL": f"redis://127.0.0.1:6379/{test_stress.STORE_DB}",
        "STRESS_REDELIVER": REDELIVER,
    }


def _restart_run(stress: dict[str, Any], server: PrivateRedis, down: float) -> Any:
    """The flows on the private Redis (broker, backend, flow store, results), which is shut
    down once a fifth of the executions have started and started again `down` seconds later."""
    env = _private_env(stress, server)
    old = dict(os.environ)
    os.environ.update(env)
    _flush()
    app, driver = stress["module"].create(env["STRESS_BROKER"])

    def fault() -> dict[str, Any]:
        started = time.monotonic()
        server.shutdown()
        time.sleep(down)
        server.start()
        return {"redis back after seconds": round(time.monotonic() - started, 1)}

    try:
        with ExitStack() as stack:
            run_env = {**stress, "env": env}
            workers = _workers(stack, run_env, env["STRESS_BROKER"])
            run = _run(
                app,
                driver,
                workers,
                flows=FLOWS,
                items=ITEMS,
                sleep=SLEEP,
                fault=fault,
                counters_url=env["STRESS_COUNTS_URL"],
            )
            exited = {n: p.returncode for n, p in workers.items() if p.poll() is not None}
            unacked = _live_unacked(server.url(0), driver)
    finally:
        _close(app, driver)
        os.environ.clear()
        os.environ.update(old)
    print(run.summary(), "exited:", exited, "unacked:", unacked)
    return run, exited, unacked


def _live_unacked(broker: str, driver: Any) -> list[str]:
    """The messages the broker holds unacknowledged (given back after its visibility timeout)
    whose flow has not ended: an ack lost with the connection leaves a message there, and its
    redelivery must find nothing left to do."""
    live = []
    with redis.Redis.from_url(broker) as client:
        for raw in client.hvals("unacked"):
            message = json.loads(raw)[0]
            body = base64.b64decode(message["body"])
            kwargs = json.loads(body)[1]
            if driver.store.outcome(kwargs["flow_id"], 0) is None:
                live.append(f"{message['headers']['task']} {kwargs}")
    return live


@pytest.mark.parametrize("down", [3.0, 30.0], ids=["restart", "down-30s"])
def test_every_flow_ends_after_redis_is_shut_down_and_started_again(
    stress: dict[str, Any], private_redis: PrivateRedis, down: float
) -> None:
    run, exited, unacked = _restart_run(stress, private_redis, down)
    assert not exited, f"workers exited: {exited}\n" + _report("Redis restarted", run, [])
    problems = _problems(run, killed=None, nodes=NODES, outage=True)
    assert not problems, _report(f"Redis down {down} s", run, problems)
    assert not unacked, f"unacknowledged messages of flows still running: {unacked}"


# --- bad messages -----------------------------------------------------------------------------


def _bomb() -> bytes:
    """About 240 bytes of bzip2 that decompress to 300 MB of zeros."""
    compressor = bz2.BZ2Compressor()
    chunk = b"\0" * (1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(300)) + compressor.flush()


def _headers(task: str) -> dict[str, Any]:
    return {"lang": "py", "task": task, "id": uuid.uuid4().hex, "retries": 0, "eta": None}


D, T = "selinonc.dispatcher", "selinonc.task"
OPTIONS = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
# (what, task, body, content type, extra headers): each addressed to a selinonc task.
BAD: list[tuple[str, str, bytes, str, dict[str, Any]]] = [
    ("null body", D, b"null", "application/json", {}),
    ("object body", D, b'{"a": 1}', "application/json", {}),
    ("short body", T, b"[1]", "application/json", {}),
    ("unknown kwargs", D, json.dumps([[], {"x": 1}, OPTIONS]).encode(), "application/json", {}),
    ("positional args", T, json.dumps([["a"], {}, OPTIONS]).encode(), "application/json", {}),
    ("kwargs a string", D, b'[[], "x", {}]', "application/json", {}),
    ("not JSON", T, b"\xff\xfe{", "application/json", {}),
    ("pickle", D, pickle.dumps(([], {}, {})), "application/x-python-serialize", {}),
    ("bzip2 bomb", D, _bomb(), "application/json", {"compression": "application/x-bz2"}),
    (
        "bad flow id",
        D,
        json.dumps([[], {"flow_id": "../x", "event": "start"}, OPTIONS]).encode(),
        "application/json",
        {},
    ),
    (
        "unknown flow",
        D,
        json.dumps([[], {"flow_id": "0" * 32, "event": "start"}, OPTIONS]).encode(),
        "application/json",
        {},
    ),
]


def _publish(app: Any, queue: str, body: bytes, content_type: str, headers: dict[str, Any]) -> None:
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        message = channel.prepare_message(
            body, content_type=content_type, content_encoding="utf-8", headers=headers
        )
        channel.basic_publish(message, exchange="", routing_key=queue)


def test_bad_and_forged_messages_never_stop_a_worker_or_run_a_node_twice(
    stress: dict[str, Any],
) -> None:
    _flush()
    module = stress["module"]
    app, driver = module.app, module.driver
    queues = {D: test_stress.QUEUES[1], T: test_stress.QUEUES[0]}
    forged: dict[str, Any] = {}

    def forge() -> dict[str, Any]:
        """Mid-run: every bad message, then forged ones naming a live node."""
        for _, task, body, content_type, extra in BAD:
            _publish(app, queues[task], body, content_type, {**_headers(task), **extra})
        with redis.Redis.from_url(stress["env"]["STRESS_STORE"]) as client:
            key = next(client.scan_iter(match="selinonc:due:*"))
            members = [m.decode() for m in client.zrange(key, 0, -1)]
        node = next(m[2:] for m in members if m.startswith("n:"))  # a live task node
        flow_id = node.rpartition(".")[0]
        job = {
            "flow_id": flow_id,
            "flow_name": "fan",
            "node_id": node,
            "name": "Join",  # the node is an Item: a forged task name
            "node_args": {"evil": True},
            "parent": {},
        }
        app.send_task(T, kwargs=job, queue=queues[T])
        event = f"node-finished:{node}:{uuid.uuid4().hex}"  # not the node's claim
        app.send_task(D, kwargs={"flow_id": flow_id, "event": event}, queue=queues[D])
        forged.update(node=node)
        return {"forged": node}

    with ExitStack() as stack:
        workers = _workers(stack, stress, stress["env"]["STRESS_BROKER"])
        run = _run(app, driver, workers, flows=FLOWS, items=ITEMS, sleep=SLEEP, fault=forge)
        exited = {n: p.returncode for n, p in workers.items() if p.poll() is not None}
        logs = [line for p in workers.values() for line in getattr(p, "log", [])]
    print(run.summary())
    assert not exited, f"workers exited: {exited}"
    problems = _problems(run, killed=None, nodes=NODES)
    assert not problems, _report("bad messages", run, problems)
    assert run.counts[forged["node"]] == 1  # the forged messages ran nothing
    refused = [line for line in logs if "refused a selinonc." in line]
    # All but two: the bomb is refused by Celery as undecodable (kombu's bounded bzip2 stops
    # it), the message for an unknown flow is dropped (a warning).
    assert len(refused) >= len(BAD) - 2, "\n".join(refused)
    assert any("decompresses to more than" in line for line in logs)
    assert any("dropped start for flow " + "0" * 32 in line for line in logs)
    with redis.Redis.from_url(stress["env"]["STRESS_BROKER"]) as client:
        assert client.hlen("unacked") == 0
        assert all(client.llen(q) == 0 for q in queues.values())


def test_a_redis_that_restarts_empty_fails_every_wait_with_a_named_error(
    stress: dict[str, Any], tmp_path: Path
) -> None:
    """No persistence: the flows are gone. Their handles say so at once (FlowLost), instead of
    waiting out their timeout, and the workers keep running for the next flows."""
    from selinonc.runtime.celery import FlowLost

    require(REDIS)
    server = PrivateRedis(tmp_path, aof=False)
    server.start()
    env = _private_env(stress, server)
    old = dict(os.environ)
    os.environ.update(env)
    _flush()
    app, driver = stress["module"].create(env["STRESS_BROKER"])
    try:
        with ExitStack() as stack:
            stack.callback(server.stop)
            workers = _workers(stack, {**stress, "env": env}, env["STRESS_BROKER"])
            handles = [
                run_flow("stress", {"items": ITEMS, "sleep": SLEEP}, app=app) for _ in range(3)
            ]
            time.sleep(3)
            server.shutdown()
            server.start()  # empty
            for handle in handles:
                started = time.monotonic()
                with pytest.raises(FlowLost, match="appendonly yes"):
                    handle.wait(120)
                assert time.monotonic() - started < 30  # named at once, not after 120 s
            after = run_flow("stress", {"items": 5}, app=app)  # the workers run on
            assert after.wait(120) == "succeeded"
            exited = {n: p.returncode for n, p in workers.items() if p.poll() is not None}
            assert not exited, f"workers exited: {exited}"
    finally:
        _close(app, driver)
        os.environ.clear()
        os.environ.update(old)


def test_a_broker_connection_lost_with_a_message_unacknowledged_closes_cleanly(
    private_redis: PrivateRedis,
) -> None:
    """Celery's consumer, on a lost connection, collects and then closes it; with an acks_late
    message unacknowledged, a BRPOP outstanding and a fanout (remote control) channel, kombu
    5.7's second close dereferenced the released transport and the worker exited. The close
    Celery runs, step by step (guard.guard_released_channels keeps it clean)."""
    kombu: Any = importlib.import_module("kombu")  # untyped: used as Any
    Connection, Queue = kombu.Connection, kombu.Queue
    Broadcast = importlib.import_module("kombu.common").Broadcast

    from selinonc.runtime.celery import guard

    guard.guard_released_channels()
    url = private_redis.url(0)
    queue = Queue("selinonc_faults_close")
    with Connection(url) as producer:
        producer.Producer().publish({"n": 1}, routing_key=queue.name, declare=[queue])
    connection = Connection(url)
    got: list[Any] = []
    consumer = connection.Consumer([queue], callbacks=[lambda body, m: got.append(m)])
    consumer.qos(prefetch_count=2)
    consumer.consume()
    control = connection.Consumer(
        [Broadcast("selinonc_faults_control")],
        channel=connection.channel(),
        callbacks=[lambda body, m: None],
    )
    control.consume()
    while not got:
        connection.drain_events(timeout=2)  # delivered, not acknowledged
    with contextlib.suppress(socket.timeout):
        connection.drain_events(timeout=0.2)  # a BRPOP left outstanding
    private_redis.shutdown()
    with contextlib.suppress(Exception):
        connection.collect(socket_timeout=2)  # consumer.py: connection.collect() ...
    connection.close()  # ... then close(), which may raise only connection errors
    private_redis.start()
