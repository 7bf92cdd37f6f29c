"""Flow states in Redis, shared by every worker: versioned by Redis's WATCH, JSON only.

Each flow instance has one key holding its state, the flow that owns it (for a sub-flow) and an
outbox of the actions its last steps decided but may not have published yet. A step reads the
key under WATCH, runs the core, and writes state and outbox in one transaction; a concurrent
step makes the transaction fail and the step runs again on the new state. So every decision is
made exactly once, and published at least once.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import redis

from selinonc.runtime.core.state import FlowState
from selinonc.runtime.errors import SelinoncError

PREFIX = "selinonc:"
# Finished flows are kept this long, so handles can read their outcome (a day).
KEEP_SECONDS = 24 * 3600
T = TypeVar("T")


class StoreError(SelinoncError):
    """The flow-state store (Redis) cannot be reached or holds something unexpected."""


@dataclass(slots=True)
class Record:
    """What the store keeps of a flow instance."""

    state: FlowState
    owner: tuple[str, str] | None  # (parent flow id, the sub-flow's node id there)


class FlowStore:
    """Flow states, outboxes and outcomes in Redis."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)

    def _key(self, kind: str, flow_id: str) -> str:
        return f"{PREFIX}{kind}:{flow_id}"

    def create(
        self, state: FlowState, owner: tuple[str, str] | None, *, only_new: bool = False
    ) -> None:
        """Store a new flow instance (before its start is published); with `only_new`, keep
        an instance that exists already (a replayed start must not reset a running flow)."""
        value = json.dumps({"state": state.to_json(), "owner": list(owner) if owner else None})
        key = self._key("flow", state.id)
        self._call(lambda: self.redis.set(key, value, ex=KEEP_SECONDS, nx=only_new))

    def load(self, flow_id: str) -> Record | None:
        """A flow instance as it is now (no lock), or None if the store does not know it."""
        raw = self._call(lambda: self.redis.get(self._key("flow", flow_id)))
        return _decode(raw) if raw is not None else None

    def update(
        self, flow_id: str, step: Callable[[Record], list[dict[str, Any]]]
    ) -> tuple[Record, list[dict[str, Any]]]:
        """Run `step` on the flow's record and save it, retrying on a concurrent change.

        `step` changes the record's state in place and returns the actions to publish (as
        JSON data with an "id"); they are saved in the outbox with the state.

        Raises:
            StoreError: when the flow is unknown or Redis is unreachable.
        """
        key, outbox = self._key("flow", flow_id), self._key("outbox", flow_id)

        def attempt() -> tuple[Record, list[dict[str, Any]]] | None:
            with self.redis.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        raise StoreError(f"no flow {flow_id!r} in the flow store {self.url}")
                    record = _decode(raw)
                    actions = step(record)
                    value = {
                        "state": record.state.to_json(),
                        "owner": list(record.owner) if record.owner else None,
                    }
                    text = json.dumps(value)
                    if not actions and text.encode() == (
                        raw if isinstance(raw, bytes) else raw.encode()
                    ):
                        pipe.unwatch()  # a no-op step (a duplicate event): nothing to write
                        return record, []
                    pipe.multi()
                    pipe.set(key, text, ex=KEEP_SECONDS)
                    if actions:
                        now = time.time()
                        pipe.hset(
                            outbox, mapping={a["id"]: json.dumps({**a, "at": now}) for a in actions}
                        )
                        pipe.expire(outbox, KEEP_SECONDS)
                    pipe.execute()
                    return record, actions
                except redis.WatchError:
                    return None

        while True:
            done = self._call(attempt)
            if done is not None:
                return done

    def published(self, flow_id: str, action_ids: list[str]) -> None:
        """Take published actions out of the outbox."""
        if action_ids:
            self._call(lambda: self.redis.hdel(self._key("outbox", flow_id), *action_ids))

    def unpublished(self, flow_id: str, older_than: float) -> list[dict[str, Any]]:
        """Outbox actions older than `older_than` seconds (a step that died before publishing)."""
        raw = self._call(lambda: self.redis.hgetall(self._key("outbox", flow_id)))
        now = time.time()
        actions = [json.loads(v) for v in raw.values()]
        return sorted((a for a in actions if now - a["at"] >= older_than), key=lambda a: a["id"])

    def finish(self, flow_id: str, outcome: Mapping[str, Any]) -> None:
        """Record a top-level flow's outcome and wake whoever waits for it."""
        value = json.dumps(outcome)
        done = self._key("done", flow_id)

        def write() -> None:
            with self.redis.pipeline() as pipe:
                pipe.set(self._key("outcome", flow_id), value, ex=KEEP_SECONDS)
                pipe.rpush(done, "1")
                pipe.expire(done, KEEP_SECONDS)
                pipe.execute()

        self._call(write)

    def outcome(self, flow_id: str, timeout: float | None) -> dict[str, Any] | None:
        """A top-level flow's outcome, waiting up to `timeout` seconds (None: for ever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        done = self._key("done", flow_id)
        while True:
            raw = self._call(lambda: self.redis.get(self._key("outcome", flow_id)))
            if raw is not None:
                data: dict[str, Any] = json.loads(raw)
                return data
            left = 5.0 if deadline is None else min(5.0, deadline - time.monotonic())
            if left <= 0:
                return None
            # Short waits: the connection's socket timeout must not cut a long one.
            if self._call(functools.partial(self.redis.blpop, [done], timeout=left)) is not None:
                self._call(lambda: self.redis.rpush(done, "1"))  # for the next waiter

    def claim_check(self, flow_id: str, seconds: float) -> bool:
        """True for the one step that may schedule the flow's next safety-net check."""
        key = self._key("check", flow_id)
        millis = max(1, int(seconds * 1000))
        return bool(self._call(lambda: self.redis.set(key, "1", nx=True, px=millis)))

    def release_check(self, flow_id: str) -> None:
        self._call(lambda: self.redis.delete(self._key("check", flow_id)))

    def save_exception(self, node_id: str, exception: Mapping[str, Any]) -> None:
        """Keep a failed task's exception, for fallbacks' parent_task_exception()."""
        key = self._key("exception", node_id)
        self._call(lambda: self.redis.set(key, json.dumps(exception), ex=KEEP_SECONDS))

    def exception(self, node_id: str) -> dict[str, Any] | None:
        raw = self._call(lambda: self.redis.get(self._key("exception", node_id)))
        return json.loads(raw) if raw is not None else None

    def _call(self, function: Callable[[], T]) -> T:
        try:
            return function()
        except redis.ConnectionError as exc:
            raise StoreError(f"cannot reach the flow store {self.url}: {exc}") from exc
        except redis.TimeoutError as exc:
            raise StoreError(f"the flow store {self.url} timed out: {exc}") from exc


def _decode(raw: bytes | str) -> Record:
    data = json.loads(raw)
    owner = data.get("owner")
    return Record(FlowState.from_json(data["state"]), (owner[0], owner[1]) if owner else None)
