"""The flow store in Redis: each operation is one round trip (a Lua script or a pipeline).

Keys of a flow `F` share the hash tag `{F}` (so a Redis Cluster keeps a flow on one node):
`meta` (hash: flow, root, owner), `snap` and `snapseq` (the last snapshot and its step), `seq`
(the last step), `journal` (list of changes since the snapshot) and `jbytes` (its size), `inbox`
(list of events), `outbox` (hash of unpublished actions), `lease`, `nodes` (hash: the node claims,
`_status` and `_retried`), `outcome` and `done` (the end, for waiters), `exceptions` (hash),
`check` (the safety net's claim) and, for a top-level flow, `family` (its sub-flows' ids).
Running flows never expire; `retire` sets a retention on a finished top-level flow and its family.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import redis

from selinonc.runtime.celery.store import (
    Claim,
    Commit,
    Entered,
    FlowMeta,
    LeaseLost,
    Loaded,
    NoSuchFlow,
    StoreError,
)

PREFIX = "selinonc:"
BATCH = 1000  # events one step applies at most (a step stays short; the rest follow)
T = TypeVar("T")
_FLOW_KEYS = (
    "meta",
    "snap",
    "snapseq",
    "seq",
    "journal",
    "jbytes",
    "inbox",
    "outbox",
    "lease",
    "nodes",
    "outcome",
    "done",
    "exceptions",
    "check",
    "family",
    "by",
)

# Every script that writes to a flow first looks for its `meta` (-1: no such flow), and gives
# the keys it writes the flow's remaining retention (a flow retired while a nowait sub-flow or a
# late task still writes to it): keys of a running flow have no TTL, a retired one's all do.
_KEEP = """
local ttl = redis.call('PTTL', KEYS[1])
local function keep(key) if ttl > 0 then redis.call('PEXPIRE', key, ttl) end end
"""

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'flow', ARGV[1], 'root', ARGV[2], 'owner', ARGV[3])
redis.call('SET', KEYS[2], ARGV[4])
redis.call('SET', KEYS[3], 0)
redis.call('SET', KEYS[4], 0)
redis.call('HSET', KEYS[5], '_status', 'new', '_retried', '0')
if ARGV[6] == '1' then
  redis.call('SADD', KEYS[6], ARGV[5])
  local ttl = redis.call('PTTL', KEYS[7])  -- a sub-flow of a retired flow retires with it
  if ttl > 0 then
    for i = 1, 6 do redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
return 1
"""

# KEYS: meta inbox lease seq outbox jbytes nodes by
_ENTER = (
    _KEEP
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[1] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  keep(KEYS[2])
end
if not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then return 0 end
return {
  tonumber(redis.call('GET', KEYS[4]) or '0'),
  redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[4]) - 1),
  redis.call('HLEN', KEYS[5]),
  tonumber(redis.call('GET', KEYS[6]) or '0'),
  redis.call('HGET', KEYS[7], '_status'),
  redis.call('GET', KEYS[8]) or '',
}
"""
)

# KEYS: meta snapseq snap journal
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local snapseq = tonumber(redis.call('GET', KEYS[2]) or '0')
local have = tonumber(ARGV[1])
if have >= snapseq and tonumber(ARGV[2]) == snapseq then
  return {snapseq, false, redis.call('LRANGE', KEYS[4], have - snapseq, -1)}
end
return {snapseq, redis.call('GET', KEYS[3]), redis.call('LRANGE', KEYS[4], 0, -1)}
"""

# KEYS: meta lease seq journal jbytes inbox outbox snap snapseq nodes by
# ARGV: token seq delta consumed snapshot status retried lease_ms [id action]...
_COMMIT = (
    _KEEP
    + """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[3]) or '0') + 1 ~= tonumber(ARGV[2]) then return -1 end
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[8], ARGV[5])
  redis.call('SET', KEYS[9], ARGV[2])
  redis.call('DEL', KEYS[4])
  redis.call('SET', KEYS[5], 0)
else
  redis.call('RPUSH', KEYS[4], ARGV[3])
  redis.call('INCRBY', KEYS[5], string.len(ARGV[3]))
end
redis.call('SET', KEYS[3], ARGV[2])
if tonumber(ARGV[4]) > 0 then redis.call('LTRIM', KEYS[6], ARGV[4], -1) end
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[7], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[10], '_status', ARGV[6], '_retried', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('SET', KEYS[11], ARGV[1])
for i = 3, 11 do keep(KEYS[i]) end
return 1
"""
)

# KEYS: meta lease outbox inbox
_LEAVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
for i = 2, #ARGV do redis.call('HDEL', KEYS[3], ARGV[i]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return redis.call('LLEN', KEYS[4])
"""

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_CLAIM = (
    _NOW
    + """
local st = redis.call('HMGET', KEYS[1], '_status', '_retried', ARGV[1])
if not st[1] then return {'unknown', 0} end
if ARGV[5] ~= '1' and st[1] ~= 'running' then return {'ended', 0} end
if ARGV[5] ~= '1' and st[2] ~= ARGV[3] then return {'abandoned', 0} end
local v = st[3]
if v == 'done' then return {'done', 0} end
if v then
  local sep = string.find(v, ':', 1, true)
  local holder = string.sub(v, 1, sep - 1)
  local expiry = tonumber(string.sub(v, sep + 1))
  if holder ~= ARGV[2] and holder ~= ARGV[6] and expiry > now then
    return {'held', expiry - now}
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[4])))
return {'ok', 0}
"""
)

# KEYS: meta nodes
_EXTEND = (
    _NOW
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local v = redis.call('HGET', KEYS[2], ARGV[1])
if v and string.sub(v, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. ':' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
  return 1
end
return 0
"""
)

# KEYS: meta nodes inbox
_COMPLETE = (
    _KEEP
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[2], ARGV[1]) == 'done' then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], 'done')
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[3], ARGV[2]) end
keep(KEYS[2])
keep(KEYS[3])
return 1
"""
)

# KEYS: meta outcome done
_FINISH = (
    _KEEP
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], '1')
keep(KEYS[2])
keep(KEYS[3])
return 1
"""
)

# KEYS: meta exceptions
_SAVE_EXCEPTION = (
    _KEEP
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
keep(KEYS[2])
return 1
"""
)

# KEYS: check; ARGV: the releasing check's token ('' releases whatever holds it)
_RELEASE_CHECK = """
local holder = redis.call('GET', KEYS[1])
if ARGV[1] ~= '' and holder and holder ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: the family set; ARGV: prefix, root, seconds, then the key suffixes
_RETIRE = """
local ids = redis.call('SMEMBERS', KEYS[1])
table.insert(ids, ARGV[2])
for _, id in ipairs(ids) do
  for i = 4, #ARGV do
    redis.call('EXPIRE', ARGV[1] .. '{' .. id .. '}:' .. ARGV[i], ARGV[3])
  end
end
return #ids
"""


class RedisStore:
    """Flow journals in Redis (see the module docstring for the keys)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._create = self.redis.register_script(_CREATE)
        self._enter = self.redis.register_script(_ENTER)
        self._load = self.redis.register_script(_LOAD)
        self._commit = self.redis.register_script(_COMMIT)
        self._leave = self.redis.register_script(_LEAVE)
        self._claim = self.redis.register_script(_CLAIM)
        self._extend = self.redis.register_script(_EXTEND)
        self._complete = self.redis.register_script(_COMPLETE)
        self._finish = self.redis.register_script(_FINISH)
        self._release_check = self.redis.register_script(_RELEASE_CHECK)
        self._save_exception = self.redis.register_script(_SAVE_EXCEPTION)
        self._retire = self.redis.register_script(_RETIRE)

    def key(self, flow_id: str, kind: str) -> str:
        return f"{PREFIX}{{{flow_id}}}:{kind}"

    def _keys(self, flow_id: str, *kinds: str) -> list[str]:
        return [self.key(flow_id, k) for k in kinds]

    # --- flows ---------------------------------------------------------------------------------

    def create(self, flow_id: str, meta: FlowMeta, state: Mapping[str, Any]) -> bool:
        keys = [*self._keys(flow_id, "meta", "snap", "snapseq", "seq", "nodes")]
        keys += [self.key(meta.root, "family"), self.key(meta.root, "meta")]
        owner = json.dumps(list(meta.owner)) if meta.owner else ""
        sub = "1" if meta.root != flow_id else ""
        args = [meta.flow, meta.root, owner, json.dumps(state), flow_id, sub]
        return bool(self._call(lambda: self._create(keys=keys, args=args)))

    def meta(self, flow_id: str) -> FlowMeta | None:
        raw = self._call(lambda: self.redis.hgetall(self.key(flow_id, "meta")))
        if not raw:
            return None
        data = {_text(k): _text(v) for k, v in raw.items()}
        owner = json.loads(data["owner"]) if data.get("owner") else None
        return FlowMeta(data["flow"], data["root"], (owner[0], owner[1]) if owner else None)

    def enter(
        self, flow_id: str, token: str, event: Mapping[str, Any] | None, lease: float
    ) -> Entered | None:
        kinds = ("meta", "inbox", "lease", "seq", "outbox", "jbytes", "nodes", "by")
        keys = self._keys(flow_id, *kinds)
        args: list[str | int] = [
            json.dumps(event) if event is not None else "",
            token,
            _ms(lease),
            BATCH,
        ]
        got = self._call(lambda: self._enter(keys=keys, args=args))
        self._known(flow_id, got)
        if not got:
            return None
        seq, events, outbox, jbytes, status, by = got
        return Entered(
            int(seq),
            [json.loads(e) for e in events],
            int(outbox),
            int(jbytes),
            _text(status),
            _text(by),
        )

    def load(self, flow_id: str, have: int, snapshot_seq: int) -> Loaded:
        keys = self._keys(flow_id, "meta", "snapseq", "snap", "journal")
        got = self._call(lambda: self._load(keys=keys, args=[have, snapshot_seq]))
        self._known(flow_id, got)
        snapseq, snapshot, deltas = got
        return Loaded(
            int(snapseq),
            json.loads(snapshot) if snapshot else None,
            len(snapshot) if snapshot else 0,
            [json.loads(d) for d in deltas],
        )

    def commit(self, flow_id: str, token: str, commit: Commit, lease: float) -> None:
        kinds = (
            "meta",
            "lease",
            "seq",
            "journal",
            "jbytes",
            "inbox",
            "outbox",
            "snap",
            "snapseq",
            "nodes",
            "by",
        )
        args: list[Any] = [
            token,
            commit.seq,
            json.dumps(commit.delta),
            commit.consumed,
            json.dumps(commit.snapshot) if commit.snapshot is not None else "",
            commit.status,
            str(commit.retried),
            _ms(lease),
        ]
        for action in commit.actions:
            args += [action["id"], json.dumps(action)]
        done = self._call(lambda: self._commit(keys=self._keys(flow_id, *kinds), args=args))
        if done != 1:
            raise LeaseLost(f"flow {flow_id}: the step's lease expired before it committed")

    def outbox(self, flow_id: str) -> list[dict[str, Any]]:
        def read() -> tuple[int, dict[bytes, bytes]]:
            with self.redis.pipeline() as pipe:
                pipe.exists(self.key(flow_id, "meta"))
                pipe.hgetall(self.key(flow_id, "outbox"))
                exists, raw = pipe.execute()
            return int(exists), raw

        exists, raw = self._call(read)
        self._known(flow_id, exists or -1)
        return sorted((json.loads(v) for v in raw.values()), key=lambda a: _order(a["id"]))

    def leave(self, flow_id: str, token: str, published: Sequence[str]) -> int:
        keys = self._keys(flow_id, "meta", "lease", "outbox", "inbox")
        left = int(self._call(lambda: self._leave(keys=keys, args=[token, *published])))
        self._known(flow_id, left)
        return left

    # --- nodes ---------------------------------------------------------------------------------

    def claim(
        self,
        flow_id: str,
        node_id: str,
        token: str,
        retried: int,
        lease: float,
        *,
        nowait: bool = False,
        previous: str | None = None,
    ) -> Claim:
        keys = [self.key(flow_id, "nodes")]
        args: list[str | int] = [
            node_id,
            token,
            str(retried),
            _ms(lease),
            "1" if nowait else "",
            previous or "-",
        ]
        verdict, wait = self._call(lambda: self._claim(keys=keys, args=args))
        return Claim(_text(verdict), wait / 1000)

    def extend(self, flow_id: str, node_id: str, token: str, lease: float) -> bool:
        keys = self._keys(flow_id, "meta", "nodes")
        done = self._call(lambda: self._extend(keys=keys, args=[node_id, token, _ms(lease)]))
        self._known(flow_id, done)
        return bool(done)

    def complete(self, flow_id: str, node_id: str, event: Mapping[str, Any] | None) -> bool:
        keys = self._keys(flow_id, "meta", "nodes", "inbox")
        args = [node_id, json.dumps(event) if event is not None else ""]
        done = self._call(lambda: self._complete(keys=keys, args=args))
        self._known(flow_id, done)
        return bool(done)

    # --- ends ----------------------------------------------------------------------------------

    def finish(self, flow_id: str, outcome: Mapping[str, Any]) -> None:
        keys = self._keys(flow_id, "meta", "outcome", "done")
        self._known(
            flow_id, self._call(lambda: self._finish(keys=keys, args=[json.dumps(outcome)]))
        )

    def outcome(self, flow_id: str, timeout: float | None) -> dict[str, Any] | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        done = self.key(flow_id, "done")
        while True:
            raw = self._call(lambda: self.redis.get(self.key(flow_id, "outcome")))
            if raw is not None:
                data: dict[str, Any] = json.loads(raw)
                return data
            left = 5.0 if deadline is None else min(5.0, deadline - time.monotonic())
            if left <= 0:
                return None
            # Short waits: the connection's socket timeout must not cut a long one.
            if self._call(functools.partial(self.redis.blpop, [done], timeout=left)) is not None:
                self._call(lambda: self.redis.rpush(done, "1"))  # for the next waiter

    def retire(self, root: str, seconds: float) -> None:
        keys = [self.key(root, "family")]
        args: list[str | int] = [PREFIX, root, max(1, int(seconds)), *_FLOW_KEYS]
        self._call(lambda: self._retire(keys=keys, args=args))

    def save_exception(self, flow_id: str, node_id: str, record: Mapping[str, Any]) -> None:
        keys = self._keys(flow_id, "meta", "exceptions")
        args = [node_id, json.dumps(record)]
        self._known(flow_id, self._call(lambda: self._save_exception(keys=keys, args=args)))

    def exception(self, flow_id: str, node_id: str) -> dict[str, Any] | None:
        raw = self._call(lambda: self.redis.hget(self.key(flow_id, "exceptions"), node_id))
        return json.loads(raw) if raw is not None else None

    def claim_check(self, flow_id: str, seconds: float, token: str) -> bool:
        key = self.key(flow_id, "check")
        return bool(self._call(lambda: self.redis.set(key, token, nx=True, px=_ms(seconds))))

    def release_check(self, flow_id: str, token: str | None) -> bool:
        keys = [self.key(flow_id, "check")]
        return bool(self._call(lambda: self._release_check(keys=keys, args=[token or ""])))

    def _known(self, flow_id: str, answer: Any) -> None:
        """A script's answer -1: the store has no such flow."""
        if answer == -1:
            raise NoSuchFlow(f"no flow {flow_id!r} in the flow store {self.url}")

    def close(self) -> None:
        """Close the connections."""
        self.redis.close()

    def _call(self, function: Callable[[], T]) -> T:
        try:
            return function()
        except redis.ConnectionError as exc:
            raise StoreError(f"cannot reach the flow store {self.url}: {exc}") from exc
        except redis.TimeoutError as exc:
            raise StoreError(f"the flow store {self.url} timed out: {exc}") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _order(action_id: str) -> tuple[int, str]:
    """Outbox actions in the order their steps decided them (node ids end in a counter)."""
    _, _, tail = action_id.rpartition(".")
    return (int(tail), action_id) if tail.isdigit() else (1 << 62, action_id)
