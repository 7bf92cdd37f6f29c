"""The flow store in Redis: each operation is one round trip (a Lua script or a pipeline).

Keys of a flow `F` share the hash tag `{F}` (so a Redis Cluster keeps a flow on one node):
`meta` (hash: flow, root, owner), `snap` and `snapseq` (the last snapshot and its step), `seq`
(the last step), `journal` (list of changes since the snapshot) and `jbytes` (its size), `inbox`
(list of events), `outbox` (hash of unpublished actions), `lease`, `nodes` (hash: the node claims,
`_status` and `_retried`), `outcome` and `done` (the end, for waiters), `exceptions` (hash),
`check` (the safety net's claim), `sent` (hash: published tasks not done yet) and, for a
top-level flow, `family` (its sub-flows' ids). Running flows never expire; `retire` sets a
retention on a finished top-level flow and its family. The deadlines of one package's flows are
a sorted set `selinonc:due:<namespace>` (member -> when it is overdue, in ms) and the hash
`selinonc:tries:<namespace>` (how often the poller took a member).
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
    Due,
    Entered,
    FlowMeta,
    LeaseLost,
    Loaded,
    NoSuchFlow,
    StoreError,
    flow_of,
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
    "sent",
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

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: meta lease outbox inbox nodes sent due tries
# ARGV: token, the number k of published tasks, k pairs (node id, ms until it must be claimed),
# then every published action's id
_LEAVE = (
    _KEEP
    + _NOW
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local k = tonumber(ARGV[2])
for i = 0, k - 1 do
  local id = ARGV[3 + 2 * i]
  local action = redis.call('HGET', KEYS[3], id)
  local claim = redis.call('HGET', KEYS[5], id)
  if action and claim ~= 'done' then
    redis.call('HSET', KEYS[6], id, action)
    keep(KEYS[6])
    local lapsed = not claim
    if claim then
      lapsed = tonumber(string.sub(claim, string.find(claim, ':', 1, true) + 1)) <= now
    end
    if lapsed then  -- a live claim taken meanwhile set its own deadline
      redis.call('ZADD', KEYS[7], now + tonumber(ARGV[4 + 2 * i]), 'n:' .. id)
      redis.call('HDEL', KEYS[8], 'n:' .. id)
    end
  end
end
for i = 3 + 2 * k, #ARGV do redis.call('HDEL', KEYS[3], ARGV[i]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return redis.call('LLEN', KEYS[4])
"""
)

# Forget a node's sent action and deadline (KEYS: nodes sent due tries; ARGV[1]: node id).
_FORGET_NODE = """
local function forget(id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], 'n:' .. id)
  redis.call('HDEL', KEYS[4], 'n:' .. id)
end
"""

# KEYS: nodes sent due tries outbox
# ARGV: node id, token, attempt, lease ms, nowait, previous, the task the message names
_CLAIM = (
    _NOW
    + _FORGET_NODE
    + """
local st = redis.call('HMGET', KEYS[1], '_status', '_retried', ARGV[1])
if not st[1] then return {'unknown', 0} end
if st[3] == 'done' then
  forget(ARGV[1])
  return {'done', 0}
end
local action = redis.call('HGET', KEYS[2], ARGV[1]) or redis.call('HGET', KEYS[5], ARGV[1])
if not action then return {'unsent', 0} end
local sent = cjson.decode(action)
if ARGV[7] ~= '' and sent['name'] ~= ARGV[7] then return {'mismatch', 0} end
local verdict = nil
if ARGV[5] ~= '1' and st[1] ~= 'running' then verdict = 'ended'
elseif ARGV[5] ~= '1' and st[2] ~= ARGV[3] then verdict = 'abandoned' end
if verdict then
  -- only the message of what was sent forgets it (a forged attempt number does not)
  if tostring(sent['retried'] or 0) == ARGV[3] then forget(ARGV[1]) end
  return {verdict, 0}
end
local v = st[3]
if v then
  local sep = string.find(v, ':', 1, true)
  local holder = string.sub(v, 1, sep - 1)
  local expiry = tonumber(string.sub(v, sep + 1))
  if holder ~= ARGV[2] and holder ~= ARGV[6] and expiry > now then
    return {'held', expiry - now}
  end
end
local expiry = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. expiry)
redis.call('ZADD', KEYS[3], expiry, 'n:' .. ARGV[1])
redis.call('HDEL', KEYS[4], 'n:' .. ARGV[1])
return {'ok', 0, action}
"""
)

# KEYS: meta nodes due
_EXTEND = (
    _NOW
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local v = redis.call('HGET', KEYS[2], ARGV[1])
if v and string.sub(v, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. ':' then
  local expiry = now + tonumber(ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. expiry)
  redis.call('ZADD', KEYS[3], expiry, 'n:' .. ARGV[1])
  return 1
end
return 0
"""
)

# KEYS: meta inbox nodes sent due tries; ARGV: node id, event, the reporting claim's token
_COMPLETE = (
    _KEEP
    + """
local function forget(id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('ZREM', KEYS[5], 'n:' .. id)
  redis.call('HDEL', KEYS[6], 'n:' .. id)
end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local v = redis.call('HGET', KEYS[3], ARGV[1])
if v == 'done' then return 0 end
if ARGV[3] ~= '' and (not v or string.sub(v, 1, string.len(ARGV[3]) + 1) ~= ARGV[3] .. ':') then
  return -2  -- not from the run that holds the node's claim
end
redis.call('HSET', KEYS[3], ARGV[1], 'done')
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[2]) end
forget(ARGV[1])
keep(KEYS[3])
keep(KEYS[2])
return 1
"""
)

# KEYS: nodes sent due tries outbox; ARGV: node id. A sent task whose claim is not live (in
# `sent`, or still in the outbox while its step publishes): its action,
# the flow's status and attempt; nothing (and no deadline) when it is done or gone.
_SENT = (
    _NOW
    + _FORGET_NODE
    + """
local st = redis.call('HMGET', KEYS[1], '_status', '_retried', ARGV[1])
local action = redis.call('HGET', KEYS[2], ARGV[1]) or redis.call('HGET', KEYS[5], ARGV[1])
if not st[1] or not action or st[3] == 'done' then
  forget(ARGV[1])
  return false
end
local v = st[3]
if v then
  local sep = string.find(v, ':', 1, true)
  local expiry = tonumber(string.sub(v, sep + 1))
  if expiry > now then  -- renewed meanwhile: due when it lapses
    redis.call('ZADD', KEYS[3], expiry, 'n:' .. ARGV[1])
    redis.call('HDEL', KEYS[4], 'n:' .. ARGV[1])
    return false
  end
end
return {action, st[1], st[2]}
"""
)

# KEYS: due tries; ARGV: member, ms from now ('' unschedules)
_SCHEDULE = (
    _NOW
    + """
if ARGV[2] == '' then redis.call('ZREM', KEYS[1], ARGV[1])
else redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""
)

# KEYS: due tries; ARGV: limit, resend ms, most ms
_DUE = (
    _NOW
    + """
local out = {}
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(members) do
  local n = redis.call('HINCRBY', KEYS[2], m, 1)
  local wait = math.min(tonumber(ARGV[2]) * 2 ^ math.min(n - 1, 30), tonumber(ARGV[3]))
  redis.call('ZADD', KEYS[1], now + math.floor(wait), m)
  table.insert(out, m)
  table.insert(out, n - 1)
end
return out
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

    def __init__(self, url: str, namespace: str = "") -> None:
        self.url = url
        self.namespace = namespace  # whose deadlines (one package's) this store polls
        self._due_keys = [f"{PREFIX}due:{namespace}", f"{PREFIX}tries:{namespace}"]
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
        self._sent = self.redis.register_script(_SENT)
        self._schedule = self.redis.register_script(_SCHEDULE)
        self._due = self.redis.register_script(_DUE)

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

    def leave(
        self,
        flow_id: str,
        token: str,
        published: Sequence[str],
        tasks: Mapping[str, float] | None = None,
    ) -> int:
        keys = self._keys(flow_id, "meta", "lease", "outbox", "inbox", "nodes", "sent")
        keys += self._due_keys
        args: list[str | int] = [token, len(tasks or ())]
        for node_id, after in (tasks or {}).items():
            args += [node_id, _ms(after)]
        args += list(published)
        left = int(self._call(lambda: self._leave(keys=keys, args=args)))
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
        name: str = "",
    ) -> Claim:
        keys = [*self._keys(flow_id, "nodes", "sent"), *self._due_keys, self.key(flow_id, "outbox")]
        args: list[str | int] = [
            node_id,
            token,
            str(retried),
            _ms(lease),
            "1" if nowait else "",
            previous or "-",
            name,
        ]
        got = self._call(lambda: self._claim(keys=keys, args=args))
        action = json.loads(got[2]) if len(got) > 2 else None
        return Claim(_text(got[0]), got[1] / 1000, action)

    def extend(self, flow_id: str, node_id: str, token: str, lease: float) -> bool:
        keys = [*self._keys(flow_id, "meta", "nodes"), self._due_keys[0]]
        done = self._call(lambda: self._extend(keys=keys, args=[node_id, token, _ms(lease)]))
        self._known(flow_id, done)
        return bool(done)

    def complete(
        self,
        flow_id: str,
        node_id: str,
        event: Mapping[str, Any] | None,
        by: str | None = None,
    ) -> bool:
        keys = [*self._keys(flow_id, "meta", "inbox", "nodes", "sent"), *self._due_keys]
        args = [node_id, json.dumps(event) if event is not None else "", by or ""]
        done = self._call(lambda: self._complete(keys=keys, args=args))
        self._known(flow_id, done)
        return bool(done == 1)

    def sent(self, node_id: str) -> dict[str, Any] | None:
        flow_id = flow_of(node_id)
        keys = [*self._keys(flow_id, "nodes", "sent"), *self._due_keys, self.key(flow_id, "outbox")]
        got = self._call(lambda: self._sent(keys=keys, args=[node_id]))
        if not got:
            return None
        action: dict[str, Any] = json.loads(got[0])
        return {**action, "status": _text(got[1]), "attempt": int(got[2])}

    # --- deadlines -----------------------------------------------------------------------------

    def schedule(self, member: str, after: float) -> None:
        args: list[str | int] = [member, _ms(after)]
        self._call(lambda: self._schedule(keys=self._due_keys, args=args))

    def unschedule(self, member: str) -> None:
        self._call(lambda: self._schedule(keys=self._due_keys, args=[member, ""]))

    def due(self, limit: int, resend: float, most: float) -> list[Due]:
        args = [limit, _ms(resend), _ms(most)]
        got = self._call(lambda: self._due(keys=self._due_keys, args=args))
        return [Due(_text(got[i]), int(got[i + 1])) for i in range(0, len(got), 2)]

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
