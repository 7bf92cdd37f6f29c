"""Flows on real Celery workers: Redis and RabbitMQ brokers, results in PostgreSQL and Redis,
fan-out, retries, fallbacks, sub-flows, and a worker process killed in the middle of a task."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selinonc.runtime import UnknownFlowError
from tests.buildkit import selinonc
from tests.celery.services import POSTGRESQL, RABBITMQ, REDIS, require
from tests.celery.workers import wait_for, worker

PROJECT = Path(__file__).parent / "project"
QUEUES = ("e2e_tasks", "e2e_dispatchers")
REDIS_DBS = {"E2E_BROKER": 10, "E2E_BACKEND": 11, "E2E_STORE": 12, "E2E_RESULTS_URL": 13}


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The project built into a package, the environment of its app, and the app itself."""
    require(REDIS, POSTGRESQL)
    import redis

    root = tmp_path_factory.mktemp("e2e")
    # From the project's folder, where its task modules import (build checks them, SC507).
    done = selinonc("build", "flows.yaml", "-o", str(root / "e2epkg"), cwd=PROJECT)
    assert done.returncode == 0, done.stdout + done.stderr
    env = {name: f"redis://127.0.0.1:6379/{db}" for name, db in REDIS_DBS.items()}
    env.update(
        E2E_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        E2E_PACKAGE="e2epkg",
        E2E_DIR=str(root),
    )
    for db in REDIS_DBS.values():
        redis.Redis(db=db).flushdb()
    old = dict(os.environ)
    os.environ.update(env)
    sys.path[:0] = [str(root), str(PROJECT)]
    try:
        app_module = importlib.import_module("e2eapp")
        yield {"env": env, "root": root, "app": app_module.app, "driver": app_module.driver}
        app_module.driver.pool.close()
        app_module.driver.store.close()
        app_module.app.close()
    finally:
        del sys.path[:2]
        for name in ("e2eapp", "e2etasks", "e2epkg"):
            for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[module]
        os.environ.clear()
        os.environ.update(old)


@pytest.fixture(scope="module")
def redis_worker(e2e: dict[str, Any]) -> Iterator[Any]:
    with worker("e2eapp", QUEUES, cwd=PROJECT, paths=[e2e["root"], PROJECT], env=e2e["env"]) as w:
        yield w


def _run(e2e: dict[str, Any], flow: str, node_args: Any = None, timeout: float = 60) -> Any:
    import selinonc.runtime.celery as selinonc_celery

    handle = selinonc_celery.run_flow(flow, node_args, app=e2e["app"])
    status = handle.wait(timeout)
    return handle, status


def _result(handle: Any, task: str, flow: str | None = None) -> Any:
    """The stored result of the (single) `task` of the flow or of its sub-flow `flow`."""
    report = handle.outcome()["report"]
    if flow is not None:  # a sub-flow's report is its own outcome
        (sub_id,) = report["finished_nodes"][flow]
        report = handle.driver.store.outcome(sub_id, 0)["report"]
    (node_id,) = report["finished_nodes"][task]
    return handle.driver.pool.retrieve(report["flow"], task, node_id)


def test_a_result_stored_in_postgresql_is_read_back_by_a_later_task(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    handle, status = _run(e2e, "store_and_read", {"order": 7})
    assert status == "succeeded"
    produced = _result(handle, "Produce")
    assert produced["produced"] == {"order": 7}
    consumed = _result(handle, "Consume")  # stored in Redis
    assert consumed["consumed"] == {"Produce": produced}
    import sqlalchemy as sa

    engine = sa.create_engine(e2e["env"]["E2E_POSTGRES_URL"])
    with engine.connect() as connection:
        (row,) = connection.execute(
            sa.text("select task_name, state from selinonc_e2e_results where task_id = :id"),
            {"id": produced["by"]},
        ).all()
    engine.dispose()
    assert tuple(row) == ("Produce", "finished")


def test_a_foreach_over_100_items_then_a_task_that_reads_them_all(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    handle, status = _run(e2e, "fan_out", {"count": 100})
    assert status == "succeeded"
    collected = _result(handle, "Collect")
    squares = sorted(item["square"] for item in collected["items"]["Item"])
    assert squares == [i * i for i in range(1, 101)]


def test_task_retries_until_the_task_succeeds(e2e: dict[str, Any], redis_worker: Any) -> None:
    handle, status = _run(e2e, "retries")
    assert status == "succeeded"
    assert _result(handle, "Flaky") == {"attempts": 3}


def test_a_failure_runs_its_fallback_which_reads_the_exception(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    handle, status = _run(e2e, "fallback")
    assert status == "succeeded"
    report = handle.outcome()["report"]
    assert report["handled_failures"].keys() == {"Explode"}
    assert _result(handle, "Recover") == {"recovered_from": "ValueError('exploded on purpose')"}


def test_a_sub_flow_gets_arguments_and_parent_and_passes_its_nodes_on(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    handle, status = _run(e2e, "parent", {"order": 9})
    assert status == "succeeded"
    produced = _result(handle, "Produce")
    consumed = _result(handle, "Consume", flow="child")
    assert consumed == {"consumed": {"Produce": produced}, "node_args": {"order": 9}}
    assert _result(handle, "Collect") == {"child": {"Consume": [consumed]}}


def test_a_flow_survives_a_worker_process_killed_in_the_middle_of_a_task(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    import selinonc.runtime.celery as selinonc_celery

    handle = selinonc_celery.run_flow("survives_kill", app=e2e["app"])
    pid = int(wait_for(e2e["root"] / "slow.pid"))
    assert handle.state()["active_nodes"][0]["name"] == "Slow"
    os.kill(pid, signal.SIGKILL)
    assert handle.wait(90) == "succeeded"
    assert _result(handle, "Slow")["pid"] != pid  # it ran again, in another process


def test_an_unknown_flow_is_refused_and_waiting_for_a_flow_the_store_lacks_fails_at_once(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    import selinonc.runtime.celery as selinonc_celery

    with pytest.raises(UnknownFlowError, match="no flow 'nope'"):
        selinonc_celery.run_flow("nope", app=e2e["app"])
    handle = selinonc_celery.run_flow("store_and_read", app=e2e["app"])
    never = selinonc_celery.FlowHandle(handle.driver, "no-such-flow-id", "store_and_read")
    started = time.monotonic()
    with pytest.raises(selinonc_celery.FlowLost, match=r"not in the flow store .*appendonly"):
        never.wait(30)
    assert time.monotonic() - started < 10  # named at once, not after the timeout
    with pytest.raises(selinonc_celery.FlowLost):
        never.state()
    assert handle.wait(60) == "succeeded"
    assert handle.state()["status"] == "succeeded"


def test_flows_run_with_rabbitmq_as_the_broker(e2e: dict[str, Any]) -> None:
    require(RABBITMQ)
    env = {**e2e["env"], "E2E_BROKER": "amqp://guest:guest@127.0.0.1:5672//"}
    with worker(
        "e2eapp", QUEUES, cwd=PROJECT, paths=[e2e["root"], PROJECT], env=env, name="rabbit"
    ):
        from celery import Celery

        import selinonc.runtime.celery as selinonc_celery

        app = Celery("e2e-rabbit", broker=env["E2E_BROKER"], backend=env["E2E_BACKEND"])
        try:
            driver = selinonc_celery.install(app, "e2epkg", store_url=env["E2E_STORE"])
            handle = selinonc_celery.run_flow("fan_out", {"count": 20}, app=app)
            assert handle.wait(60) == "succeeded"
            outcome = handle.outcome()
            assert outcome is not None
            finished = outcome["report"]["finished_nodes"]
            assert (
                sum(len(ids) for name, ids in finished.items() if driver.system.is_flow(name)) == 1
            )
        finally:
            driver.store.close()
            app.close()


def test_the_safety_net_publishes_what_a_dead_step_saved_but_never_sent(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    """A step that saved its decision and died before publishing: the check finds the outbox."""
    import time

    import selinonc.runtime.celery as selinonc_celery
    from selinonc.runtime.celery.steps import Stepper
    from selinonc.runtime.celery.store import FlowMeta
    from selinonc.runtime.core.events import Start
    from selinonc.runtime.core.state import FlowState

    driver = e2e["driver"]
    flow_id = os.urandom(16).hex()  # a flow id, as uuid4().hex
    state = FlowState(flow="store_and_read", id=flow_id, node_args=1)
    driver.stepper.create(flow_id, state, FlowMeta("store_and_read", flow_id, None))

    class Died(BaseException):
        """The step's process died between saving its decision and publishing it."""

    class Dying:
        def task(self, *args: Any) -> None:
            raise Died

        def start(self, *args: Any) -> None:
            raise Died

        def timer(self, *args: Any) -> None:
            raise Died

        def check(self, *args: Any) -> None:
            pass

    stepper = Stepper(
        driver.system, driver.store, Dying(), driver.pool.retrieve, driver.tracer, retention=60
    )
    stepper.lease = 0.5  # the dead step's lease lapses soon
    with pytest.raises(Died):
        stepper.step(flow_id, Start())
    assert [a["name"] for a in driver.store.outbox(flow_id)] == ["Produce"]
    time.sleep(0.6)
    driver.dispatcher.apply_async(
        kwargs={"flow_id": flow_id, "event": "check"}, queue="e2e_dispatchers"
    )
    handle = selinonc_celery.FlowHandle(driver, flow_id, "store_and_read")
    assert handle.wait(30) == "succeeded"


def test_a_nowait_task_runs_though_the_flow_does_not_wait_for_it(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    handle, status = _run(e2e, "with_nowait")
    assert status == "succeeded"
    report = handle.outcome()["report"]
    (marker_id,) = report["nowait_nodes"]["Marker"]
    assert wait_for(e2e["root"] / f"marker-{marker_id}") == "with_nowait"


def test_a_foreach_item_that_is_not_json_fails_the_flow_as_a_dispatcher_failure(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    handle, status = _run(e2e, "bad_foreach")
    assert status == "failed"
    outcome = handle.outcome()
    assert outcome["reason"].startswith("dispatcher failure: a message is not JSON data")
    assert outcome["report"]["finished_nodes"].keys() == {"Produce"}


def test_a_task_calling_sys_exit_fails_and_its_worker_lives_on(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    seen = len(redis_worker.log)
    handle, status = _run(e2e, "exits")
    assert status == "failed"
    assert handle.outcome()["report"]["failed_nodes"].keys() == {"Exits"}
    assert not any("WorkerLostError" in line for line in redis_worker.log[seen:])


def test_a_sub_flow_task_reads_its_parent_s_result_from_a_storage_keyed_by_flow(
    e2e: dict[str, Any], redis_worker: Any
) -> None:
    handle, status = _run(e2e, "files_parent", {"n": 1})
    assert status == "succeeded"
    produced = _result(handle, "ProduceFile")
    (path,) = (e2e["root"] / "files" / "files_parent" / "ProduceFile").glob("*.json")
    assert path.stem == produced["by"]
    consumed = _result(handle, "ConsumeFile", flow="files_child")
    assert consumed["consumed"] == {"ProduceFile": produced}
