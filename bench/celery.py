"""`make bench-celery`: selinonc flows beside plain Celery in the same run, on one Redis and one
worker of concurrency 2 (the table of issue 9):

| case                                         | against                  | target           |
|----------------------------------------------|--------------------------|------------------|
| chain of 5 no-ops                            | `celery.chain`           | <= 1.0x          |
| 1 -> N -> 1 through a foreach sub-flow,      | `chord` of N no-ops and  | <= 1.0x each     |
| N = 100, 1,000 and 5,000                     | a no-op body             |                  |
| 200 concurrent 5-chains                      | 200 `celery.chain`s      | <= 1.2x          |
| Redis bytes written per item                 | chord's                  | at 5,000 items   |
|                                              |                          | within 1.5x of   |
|                                              |                          | the 100 figure   |

The fan-out flow `fanN` is Start, then a sub-flow `spreadN` whose foreach starts N `item`
sub-flows of one no-op task each, then Join when the spread has ended (flows.yaml).

Each case prints both sides' seconds (the median of RUNS runs a side, interleaved), their ratio
and target, and what each sent to Redis: the deltas of `INFO stats` `total_net_input_bytes` (bytes
written) and `total_commands_processed` (commands, the round trips at most) around each run, per
item (per flow for chains). A run's window lasts until its traffic has ended: SETTLE seconds
after the last result and then until the broker holds no message, so the safety-net checks a
flow leaves behind (messages with a countdown, held unacknowledged until they run) count for
that flow; the worker's idle polling during that wait, measured beforehand, is taken out, and
so are the meter's own commands. Then the Redis memory (`INFO memory` `used_memory` delta)
and the key counts after 1,000 finished 5-chains of each kind.

Times depend on how busy the machine is; bytes and commands do not, as long as nobody else
uses the server: `INFO stats` counts every client. So the benchmark starts a `redis-server` of
its own on a free port (stopped at the end); `--redis-port 6379` runs it on the shared server
instead, where a run during which a client of another database was active (the tests use 10-15)
is marked. Only databases 7, 8 and 9 are used (flushed before and after). Exits 1 when a run
fails (a flow or a chord does not succeed), never because of a figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).parent.parent
PROJECT = Path(__file__).parent / "celery_project"
OUT = Path(__file__).parent / "out" / "celery"
BROKER_DB, BACKEND_DB, STORE_DB = 7, 8, 9
DATABASES = (BROKER_DB, BACKEND_DB, STORE_DB)
# Runs a side of each case (their median is reported): Celery's traffic varies from run to run
# with its polling, more than selinonc's does.
RUNS = {"chain": 5, 100: 5, 1_000: 3, 5_000: 1, "chains": 3}
SIZES = (100, 1_000, 5_000)
CHAINS = 200
MEMORY_FLOWS = 1_000
# A run's window stays open SETTLE seconds after its last result, then until the broker holds
# no message (the queue is empty and nothing is unacknowledged), at most SETTLE_MAX seconds.
SETTLE = 0.5
SETTLE_MAX = 60.0
QUEUE = "bench"
IDLE_SECONDS = 3.0
SAMPLE_SECONDS = 0.2


class RunFailed(Exception):
    """A flow or a Celery canvas did not succeed."""


def _timeout(count: int) -> float:
    """Seconds a run of `count` items or flows may take before it counts as failed."""
    return 60.0 + 0.2 * count


def _celery_wait(result: Any, timeout: float) -> None:
    """`result.get()`, tolerating the Redis result backend's lost notifications (a `get()` that
    waits for ever for a result that is stored, celery/celery#4039): whenever one has not come
    for a second, the stored state is read (one command)."""
    from celery.exceptions import TimeoutError as NoResult

    deadline = time.monotonic() + timeout
    while True:
        try:
            result.get(timeout=1.0)
            return
        except NoResult:
            if result.state == "SUCCESS":
                return
            if time.monotonic() > deadline:
                raise


def _request_bytes(*args: str) -> int:
    """The size of a command as a client sends it (RESP)."""
    return len(f"*{len(args)}\r\n") + sum(len(f"${len(a)}\r\n{a}\r\n") for a in args)


INFO_BYTES = _request_bytes("INFO", "stats")
CLIENT_LIST_BYTES = _request_bytes("CLIENT", "LIST")
HELD_BYTES = _request_bytes("HLEN", "unacked") + _request_bytes("LLEN", QUEUE)


@dataclass(frozen=True)
class Measure:
    """One measured run: its seconds, and what the server received meanwhile."""

    seconds: float
    bytes: float
    commands: float
    foreign: frozenset[int]  # other databases whose clients were active during the run


class _Watcher(threading.Thread):
    """Samples CLIENT LIST during a window: a client of another database that was active in the
    last second means another user's traffic is in the INFO stats deltas."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.calls = 0
        self.foreign: set[int] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for entry in self.client.client_list():
                db = int(entry["db"])
                if db not in DATABASES and int(entry["idle"]) == 0:
                    self.foreign.add(db)
            self.calls += 1
            self.done.wait(SAMPLE_SECONDS)


class Meter:
    """`INFO stats` deltas around runs, on connections of the benchmark's own databases."""

    def __init__(self, url: str, broker_url: str) -> None:
        self.redis = redis.Redis.from_url(url)
        self.watching = redis.Redis.from_url(url)
        self.broker = redis.Redis.from_url(broker_url)
        for connection in (self.redis, self.watching, self.broker):
            connection.ping()  # connect now: a connection's handshake is not a run's traffic
        self.idle_bytes = self.idle_commands = 0.0  # per second, from calibrate()

    def counters(self) -> tuple[int, int]:
        stats = self.redis.info("stats")
        return int(stats["total_net_input_bytes"]), int(stats["total_commands_processed"])

    def settle(self) -> int:
        """Wait until a run's trailing traffic has ended: SETTLE seconds, then until the broker
        holds no message (the worker keeps a message with a countdown unacknowledged until it
        runs: a flow's next safety-net check). Returns how often it looked (2 commands each)."""
        time.sleep(SETTLE)
        deadline, looks = time.monotonic() + SETTLE_MAX, 0
        while time.monotonic() < deadline:
            looks += 1
            pipe = self.broker.pipeline(transaction=False)
            pipe.hlen("unacked")
            pipe.llen(QUEUE)
            held = pipe.execute()
            if not any(held):
                break
            time.sleep(0.1)
        return looks

    def measure(self, run: Callable[[], None], *, settle: bool = True) -> Measure:
        """Run `run`, wait for its trailing traffic, and count it all."""
        before = self.counters()
        watcher = _Watcher(self.watching)
        watcher.start()
        start = time.perf_counter()
        looks = 0
        try:
            run()
            seconds = time.perf_counter() - start
            if settle:
                looks = self.settle()
            waited = time.perf_counter() - start - seconds
        finally:
            watcher.done.set()
            watcher.join()
        after = self.counters()
        # The window's INFO (the first one is counted in `after`'s commands, the second in its
        # bytes), the watcher's CLIENT LISTs, the looks at the broker, and the idle polling while
        # waiting to settle.
        own_bytes = (
            INFO_BYTES
            + watcher.calls * CLIENT_LIST_BYTES
            + looks * HELD_BYTES
            + self.idle_bytes * waited
        )
        own_commands = 1 + watcher.calls + 2 * looks + self.idle_commands * waited
        return Measure(
            seconds,
            after[0] - before[0] - own_bytes,
            after[1] - before[1] - own_commands,
            frozenset(watcher.foreign),
        )

    def calibrate(self) -> Measure:
        """The server's traffic per second while nothing runs: the worker polling its queues."""
        idle = self.measure(lambda: time.sleep(IDLE_SECONDS), settle=False)
        self.idle_bytes = idle.bytes / idle.seconds
        self.idle_commands = idle.commands / idle.seconds
        return idle


@dataclass
class Case:
    label: str
    group: str  # a side that fails a case is not run in the later cases of its group
    per: str  # "flow" or "item": what the bytes and commands are divided by
    count: int
    runs: int
    target: float
    sides: dict[str, Callable[[], None]]
    measures: dict[str, list[Measure]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def median(self, side: str, what: str) -> float | None:
        values = [getattr(m, what) for m in self.measures.get(side, [])]
        return statistics.median(values) if values else None

    def per_unit(self, side: str, what: str) -> float | None:
        value = self.median(side, what)
        return None if value is None else value / self.count

    def foreign(self) -> set[int]:
        return {db for ms in self.measures.values() for m in ms for db in m.foreign}


@dataclass(frozen=True)
class Memory:
    """Redis after a batch of finished flows: the used_memory delta and the benchmark's keys."""

    seconds: float
    used_memory: int
    keys: dict[int, int]  # database -> DBSIZE
    key_bytes: dict[int, int]  # database -> the sum of MEMORY USAGE of its keys


def _run_cases(cases: list[Case], meter: Meter, recover: Callable[[], None]) -> None:
    """Run each case's sides in turn; after a failed run, `recover` gives the next run a fresh
    worker and emptied databases (what the failed flow left running would count for it)."""
    failed: dict[tuple[str, str], str] = {}  # (group, side) -> the case it failed in
    for case in cases:
        print(f"  running {case.label} ({case.runs} run(s) a side) ...", flush=True)
        for side in case.sides:
            if (case.group, side) in failed:
                case.failures.append(f"{side}: not run, it failed {failed[case.group, side]}")
        for run in range(case.runs):
            order = list(case.sides.items())
            for side, function in order if run % 2 == 0 else reversed(order):
                if (case.group, side) in failed:
                    continue
                try:
                    measure = meter.measure(function)
                except Exception as exc:  # the flow failed or timed out: report, go on
                    failed[case.group, side] = case.label
                    case.failures.append(f"{side}: {type(exc).__name__}: {exc}")
                    print(f"    FAILED {side}: {type(exc).__name__}: {exc}", flush=True)
                    recover()
                    continue
                case.measures.setdefault(side, []).append(measure)
                print(
                    f"    {side:<9}{measure.seconds:9.3f} s{measure.bytes / case.count:>12,.0f} B"
                    f"{measure.commands / case.count:>9,.1f} commands per {case.per}",
                    flush=True,
                )


def _memory(client: Callable[[int], redis.Redis], meter: Meter, run: Callable[[], None]) -> Memory:
    """Run a batch of flows on emptied result and store databases; what stays in Redis."""
    meter.settle()  # the earlier runs' last checks
    for db in (BACKEND_DB, STORE_DB):
        client(db).flushdb()
    before = int(client(STORE_DB).info("memory")["used_memory"])
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    meter.settle()
    after = int(client(STORE_DB).info("memory")["used_memory"])
    keys, key_bytes = {}, {}
    for db in (BACKEND_DB, STORE_DB):
        connection = client(db)
        keys[db] = int(connection.dbsize())
        pipe = connection.pipeline(transaction=False)
        for key in connection.scan_iter(count=1000):
            pipe.memory_usage(key)
        key_bytes[db] = sum(int(size or 0) for size in pipe.execute())
    return Memory(seconds, after - before, keys, key_bytes)


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    return "-" if ours is None or not theirs else f"{ours / theirs:.2f}x"


def _report(cases: list[Case], memory: Mapping[str, Memory], idle: Measure) -> None:
    ours, theirs = "selinonc", "Celery"
    width = max(len(c.label) for c in cases) + 2
    foreign = {db for c in cases for db in c.foreign()}
    print("\nRedis traffic: INFO stats deltas per item (per flow for chains), medians")
    print(
        f"  {'case':<{width}}{'per':<6}{'bytes selinonc':>15}{'Celery':>10}{'ratio':>8}"
        f"{'commands selinonc':>19}{'Celery':>9}{'ratio':>8}"
    )
    for case in cases:
        mark = " *" if case.foreign() else ""
        b_ours, b_theirs = case.per_unit(ours, "bytes"), case.per_unit(theirs, "bytes")
        c_ours, c_theirs = case.per_unit(ours, "commands"), case.per_unit(theirs, "commands")
        print(
            f"  {case.label:<{width}}{case.per:<6}{_number(b_ours):>15}{_number(b_theirs):>10}"
            f"{_ratio(b_ours, b_theirs):>8}{_number(c_ours, 1):>19}{_number(c_theirs, 1):>9}"
            f"{_ratio(c_ours, c_theirs):>8}{mark}"
        )
    fans = {c.count: c for c in cases if c.per == "item"}
    small, large = fans[min(fans)], fans[max(fans)]
    growth = {
        side: _ratio(large.per_unit(side, "bytes"), small.per_unit(side, "bytes"))
        for side in (ours, theirs)
    }
    print(
        f"\n  bytes per item at {large.count:,} items / at {small.count:,}: selinonc "
        f"{growth[ours]}, chord {growth[theirs]} (target: selinonc within 1.50x)"
    )
    print(
        f"  (idle server: {idle.bytes / idle.seconds:,.0f} B/s, "
        f"{idle.commands / idle.seconds:.1f} commands/s, taken out of each run's settle wait)"
    )
    if foreign:
        dbs = ", ".join(str(db) for db in sorted(foreign))
        print(
            f"  * other clients (databases {dbs}) were active on this Redis during the run: "
            "its bytes and commands include theirs (without --redis-port they would not)"
        )

    print("\nTime: seconds, median of the runs (runs a side)")
    print(
        f"  {'case':<{width}}{'runs':>5}{'selinonc s':>11}{'Celery s':>10}{'ratio':>8}{'target':>9}"
    )
    for case in cases:
        s_ours, s_theirs = case.median(ours, "seconds"), case.median(theirs, "seconds")
        met, target = "", f"<= {case.target:.1f}x"
        if s_ours is not None and s_theirs:
            met = "  met" if s_ours / s_theirs <= case.target else "  not met"
        print(
            f"  {case.label:<{width}}{case.runs:>5}{_number(s_ours, 3):>11}"
            f"{_number(s_theirs, 3):>10}{_ratio(s_ours, s_theirs):>8}{target:>9}{met}"
        )

    print(
        f"\nRedis after {MEMORY_FLOWS:,} finished top-level 5-chains (result db {BACKEND_DB} "
        f"and store db {STORE_DB} emptied before)"
    )
    print(
        f"  {'':<{width}}{'used_memory +':>14}{'keys db 9':>11}{'keys db 8':>11}"
        f"{'bytes db 9':>12}{'bytes db 8':>12}{'seconds':>9}"
    )
    for side, figures in memory.items():
        print(
            f"  {side:<{width}}{figures.used_memory:>14,}{figures.keys[STORE_DB]:>11,}"
            f"{figures.keys[BACKEND_DB]:>11,}{figures.key_bytes[STORE_DB]:>12,}"
            f"{figures.key_bytes[BACKEND_DB]:>12,}{figures.seconds:>9.2f}"
        )
    print("  (bytes db N: the sum of MEMORY USAGE over that database's keys)")


@contextmanager
def _private_redis() -> Iterator[int]:
    """A redis-server of the benchmark's own on a free port, stopped afterwards."""
    server = shutil.which("redis-server")
    if server is None:
        sys.exit("bench-celery starts a redis-server (or give --redis-port): none on the PATH")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [server, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    process = subprocess.Popen(
        [*command, "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _build() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "selinonc.compiler", "build", str(PROJECT / "flows.yaml")]
    build = subprocess.run(
        [*command, "-o", str(OUT / "benchpkg")],
        cwd=PROJECT,  # where its task modules import: build checks them (SC507)
        capture_output=True,
        text=True,
        check=False,
    )
    if build.returncode != 0:
        sys.exit(build.stdout + build.stderr)


def bench(port: int) -> int:
    """Run every case on the Redis at `port`; return the exit status."""
    base = f"redis://127.0.0.1:{port}"
    env = {
        "BENCH_BROKER": f"{base}/{BROKER_DB}",
        "BENCH_BACKEND": f"{base}/{BACKEND_DB}",
        "BENCH_STORE": f"{base}/{STORE_DB}",
    }
    os.environ.update(env)
    clients: dict[int, redis.Redis] = {}

    def client(db: int) -> redis.Redis:
        return clients.setdefault(db, redis.Redis(port=port, db=db))

    for db in DATABASES:
        client(db).flushdb()
    sys.path[:0] = [str(OUT), str(PROJECT), str(ROOT)]
    from app import app, noop  # type: ignore[import-not-found]
    from celery import chain, chord

    import selinonc.runtime.celery as selinonc_celery
    from tests.celery.workers import worker  # the end-to-end tests' worker fixture

    def chains(count: int) -> Callable[[], None]:
        def run() -> None:
            results = [chain(*(noop.si() for _ in range(5))).apply_async() for _ in range(count)]
            for result in results:
                _celery_wait(result, _timeout(count))

        return run

    def fan(count: int) -> Callable[[], None]:
        def run() -> None:
            signature = chord([noop.si() for _ in range(count)], noop.si())
            _celery_wait(signature.apply_async(), _timeout(count))

        return run

    def flows(name: str, count: int = 1, size: int = 1) -> Callable[[], None]:
        """`count` concurrent flows `name` of `size` items each."""

        def run() -> None:
            handles = [selinonc_celery.run_flow(name, app=app) for _ in range(count)]
            for handle in handles:
                status = handle.wait(_timeout(size))
                if status != "succeeded":
                    raise RunFailed(f"flow {name} ({handle.id}) ended {status}")

        return run

    def sides(plain: Callable[[], None], ours: Callable[[], None]) -> dict[str, Callable[[], None]]:
        return {"Celery": plain, "selinonc": ours}

    cases = [
        Case(
            "chain of 5 no-ops",
            "chain",
            "flow",
            1,
            RUNS["chain"],
            1.0,
            sides(chains(1), flows("chain5")),
        )
    ]
    cases += [
        Case(
            f"1 -> {size:,} -> 1 foreach",
            "fan",
            "item",
            size,
            RUNS[size],
            1.0,
            sides(fan(size), flows(f"fan{size}", size=size)),
        )
        for size in SIZES
    ]
    cases.append(
        Case(
            f"{CHAINS} concurrent 5-chains",
            "chains",
            "flow",
            CHAINS,
            RUNS["chains"],
            1.2,
            sides(chains(CHAINS), flows("chain5", CHAINS, CHAINS)),
        )
    )

    paths = [OUT, PROJECT, ROOT]
    workers = ExitStack()

    running: list[Any] = []  # the worker process; its output lines are its `log`

    def start_worker() -> None:
        running[:] = [
            workers.enter_context(
                worker("app", ["bench"], cwd=PROJECT, paths=paths, env=env, concurrency=2)
            )
        ]
        for warm_up in (chains(1), flows("chain5"), fan(100)):
            warm_up()  # connections, imports, the worker's first messages
        meter.settle()

    def restart_worker() -> None:
        """After a failed run: show what the worker complained of, start afresh."""
        log: list[str] = getattr(running[0], "log", []) if running else []
        marks = ("ERROR", "WARNING", "CRITICAL", "Traceback")
        for line in [line for line in log if any(m in line for m in marks)][-10:]:
            print(f"      worker: {line.rstrip()}")
        print("    (a new worker, emptied databases)", flush=True)
        workers.close()
        for db in DATABASES:
            client(db).flushdb()
        start_worker()

    meter = Meter(env["BENCH_STORE"], env["BENCH_BROKER"])
    with workers:
        print(
            f"selinonc on Celery beside plain Celery: one Redis ({base}, databases 7-9), "
            "one worker of concurrency 2"
        )
        start_worker()
        idle = meter.calibrate()
        _run_cases(cases, meter, restart_worker)
        memory: dict[str, Memory] = {}
        print(f"  running {MEMORY_FLOWS:,} 5-chains a side for the memory ...", flush=True)
        memory_failures = []
        for side, run in sides(
            chains(MEMORY_FLOWS), flows("chain5", MEMORY_FLOWS, MEMORY_FLOWS)
        ).items():
            try:
                memory[side] = _memory(client, meter, run)
            except Exception as exc:  # the flows failed or timed out: report, go on
                memory_failures.append(f"{side}: {type(exc).__name__}: {exc}")
                print(f"    FAILED {side}: {type(exc).__name__}: {exc}", flush=True)
                restart_worker()
        _report(cases, memory, idle)
    for db in DATABASES:
        client(db).flushdb()
    failures = [f"{c.label}, {f}" for c in cases for f in c.failures] + memory_failures
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.celery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--redis-port",
        type=int,
        metavar="PORT",
        help="use the Redis already running on 127.0.0.1:PORT (databases 7-9) instead of a "
        "private redis-server: other clients' traffic then counts in the bytes and commands",
    )
    options = parser.parse_args()
    _build()
    if options.redis_port is not None:
        sys.exit(bench(options.redis_port))
    with _private_redis() as port:
        sys.exit(bench(port))


if __name__ == "__main__":
    main()
