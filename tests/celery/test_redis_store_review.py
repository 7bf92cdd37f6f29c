"""A review of the Celery flow journal (issue 9), RedisStore's part: keys that outlive their
flow's retention, and operations on which RedisStore and its twin MemoryStore disagree. Runs
against the Redis at 127.0.0.1:6379, database 4 only (flushed before and after each test).
A test marked xfail(strict) documents a bug that is still there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from selinonc.runtime.celery.memory_store import MemoryStore
from selinonc.runtime.celery.redis_store import RedisStore
from selinonc.runtime.celery.store import FlowMeta, FlowStore
from selinonc.runtime.core.events import NodeFinished
from selinonc.runtime.core.state import FlowState
from selinonc.runtime.tables import Flow
from tests.celery.services import REDIS, require
from tests.runtime.corekit import edge, system
from tests.runtime.test_journal_review import Lab

URL = "redis://127.0.0.1:6379/4"


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    require(REDIS)
    connection = redis.Redis.from_url(URL)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture
def store(client: redis.Redis) -> Iterator[RedisStore]:
    redis_store = RedisStore(URL)
    yield redis_store
    redis_store.close()


def _immortal(client: redis.Redis) -> list[str]:
    """The keys in database 4 that never expire, but for the deadline index (one per package,
    whose members go with what they wait for)."""
    index = ("selinonc:due:", "selinonc:tries:")
    keys = (k.decode() for k in client.scan_iter("*") if client.ttl(k) == -1)
    return sorted(k for k in keys if not k.startswith(index))


# --- 1. writes to a retired family drop or never get its retention ------------------------

NOWAIT_SUB = system(
    Flow(
        name="top",
        queue="d",
        edges=(edge(0, [], ["A"]), edge(1, ["A"], ["sub"])),
        nowait=frozenset({"sub"}),
    ),
    Flow(name="sub", queue="d", edges=(edge(0, [], ["B"]),)),
)
EAGER = system(
    Flow(
        name="top",
        queue="d",
        edges=(edge(0, [], ["A", "L"]),),
        eager_failures=frozenset({"A"}),
    ),
)


def test_a_nowait_sub_flow_that_ends_after_its_flow_leaves_no_immortal_keys(
    client: redis.Redis, store: RedisStore
) -> None:
    lab = Lab(NOWAIT_SUB, store=store)
    top = lab.start("top")
    lab.deliver(lab.fifo.take("start", top)[0])
    lab.deliver(lab.fifo.take("task")[0])  # A: top starts its nowait sub-flow, and ends
    outcome = store.outcome(top, 0)
    assert outcome is not None and outcome["status"] == "succeeded"
    assert not _immortal(client)  # retired: every key of the family has the retention
    lab.drain()  # the sub-flow runs B and ends; its end steps top once more
    assert not _immortal(client)


def test_a_late_completion_after_an_eager_failure_leaves_no_immortal_keys(
    client: redis.Redis, store: RedisStore
) -> None:
    lab = Lab(EAGER, store=store)
    lab.failing.add("A")
    top = lab.start("top")
    lab.deliver(lab.fifo.take("start", top)[0])
    by_name = {m.action["name"]: m for m in lab.fifo.take("task")}
    long_one = by_name["L"].node_id
    assert store.claim(top, long_one, "worker 2", 0, 30).verdict == "ok"  # L starts running
    lab.deliver(by_name["A"])  # A fails: an eager failure ends the flow while L runs
    outcome = store.outcome(top, 0)
    assert outcome is not None and outcome["status"] == "failed"
    assert not _immortal(client)
    # L's claim is its deadline while it runs (the poller sends it again if its worker dies)
    assert client.zrange("selinonc:due:", 0, -1) == [f"n:{long_one}".encode()]
    lab.stepper.complete(top, long_one, NodeFinished(long_one))  # L completes after the end
    assert not _immortal(client)
    assert client.zcard("selinonc:due:") == 0  # what it waited for happened


# --- 2. operations on a flow the store does not know ---------------------------------------

GONE = "0123456789abcdef0123456789abcdef"
NODE = f"{GONE}.1"
OPS: dict[str, Callable[[FlowStore], Any]] = {
    "complete": lambda s: s.complete(GONE, NODE, {"kind": "finished", "node": NODE}),
    "finish": lambda s: s.finish(GONE, {"status": "succeeded", "report": {}, "reason": None}),
    "save_exception": lambda s: s.save_exception(GONE, NODE, {"type": "ValueError"}),
    "extend": lambda s: s.extend(GONE, NODE, "token", 30),
    "leave": lambda s: s.leave(GONE, "token", ["x"]),
    "outbox": lambda s: s.outbox(GONE),
    "load": lambda s: s.load(GONE, -1, -1),
}


def _answer(operation: Callable[[FlowStore], Any], flow_store: FlowStore) -> str:
    try:
        return f"returns {operation(flow_store)!r}"
    except Exception as exc:
        return f"raises {type(exc).__name__}"


@pytest.mark.parametrize("name", list(OPS))
def test_both_stores_answer_alike_for_a_flow_they_do_not_know(
    name: str, client: redis.Redis, store: RedisStore
) -> None:
    in_redis = _answer(OPS[name], store)
    created = _immortal(client)
    in_memory = _answer(OPS[name], MemoryStore())
    assert (in_redis, created) == (in_memory, [])


# --- 3. a flow after its retention ------------------------------------------------------


def test_both_stores_forget_a_flow_after_its_retention(store: RedisStore) -> None:
    memory = MemoryStore()
    answers: list[dict[str, Any]] = []
    for flow_store in (store, memory):
        flow_id = "feedfacefeedfacefeedfacefeedface"
        node = f"{flow_id}.1"
        state = FlowState(flow="top", id=flow_id).to_json()
        flow_store.create(flow_id, FlowMeta("top", flow_id, None), {"state": state})
        flow_store.save_exception(flow_id, node, {"type": "ValueError"})
        flow_store.finish(flow_id, {"status": "succeeded", "report": {}, "reason": None})
        flow_store.retire(flow_id, 1)
        answers.append(
            {
                "meta": flow_store.meta(flow_id),
                "outcome": flow_store.outcome(flow_id, 0),
                "exception": flow_store.exception(flow_id, node),
                "claim": flow_store.claim(flow_id, node, "t", 0, 30, nowait=True).verdict,
            }
        )
    assert answers[0] == answers[1]  # both still know it ...
    time.sleep(1.5)
    memory.now.advance(1.5)  # type: ignore[attr-defined]
    after = [
        {
            "meta": s.meta(flow_id),
            "outcome": s.outcome(flow_id, 0),
            "exception": s.exception(flow_id, node),
            "claim": s.claim(flow_id, node, "t", 0, 30, nowait=True).verdict,
        }
        for s in (store, memory)
    ]
    assert after[0] == after[1], after  # ... and both have forgotten it


# --- 4. a top-level flow in its own family -------------------------------------------------


def test_a_top_level_flow_is_not_a_member_of_its_own_family(
    client: redis.Redis, store: RedisStore
) -> None:
    flow_id = "abcdefabcdefabcdefabcdefabcdefab"
    state = FlowState(flow="top", id=flow_id).to_json()
    assert store.create(flow_id, FlowMeta("top", flow_id, None), {"state": state})
    assert client.smembers(store.key(flow_id, "family")) == set()
