"""Real `celery worker` processes for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

CELERY = str(Path(sys.executable).parent / "celery")


@contextmanager
def worker(
    app: str,
    queues: Iterable[str],
    *,
    cwd: Path,
    paths: Iterable[Path],
    env: Mapping[str, str],
    concurrency: int = 2,
    pool: str = "prefork",
    name: str = "w1",
    celery: str = CELERY,
) -> Iterator[subprocess.Popen[str]]:
    """A worker of `app` consuming `queues`, ready when the block starts; stopped after it.

    `celery` is the `celery` program to run: this environment's, or another venv's.
    """
    environment = {
        **os.environ,
        **env,
        "PYTHONPATH": os.pathsep.join([*map(str, paths), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        celery,
        "-A",
        app,
        "worker",
        "-Q",
        ",".join(sorted(set(queues))),
        "-c",
        str(concurrency),
        "-P",
        pool,
        "-n",
        f"{name}@%h",
        "-l",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if " ready." in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the worker did not start:\n" + "".join(lines[-60:]))
        process.log = lines  # type: ignore[attr-defined]
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        with contextlib.suppress(OSError, ValueError):
            process.stdout.close()  # type: ignore[union-attr]


def wait_for(path: Path, timeout: float = 30) -> str:
    """The text of a file once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise TimeoutError(f"{path} did not appear in {timeout} s")


# Where the order-fulfilment example keeps its broker, backend and flow states in these tests.
FULFILMENT_ENV = {
    "FULFILMENT_BROKER": "redis://127.0.0.1:6379/14",
    "FULFILMENT_BACKEND": "redis://127.0.0.1:6379/15",
    "FULFILMENT_STORE": "redis://127.0.0.1:6379/12",
}


def run_fulfilment(
    example: Path, queues: Iterable[str], *, name: str, python: str = sys.executable
) -> tuple[subprocess.CompletedProcess[str], str]:
    """The example's README on Celery: a worker of `fulfilment.celeryapp` on `queues`, then
    `python -m fulfilment.start scenarios/happy_path.json`; its result and the worker's log.

    `python` is the interpreter to use, its venv's `celery` the worker.
    """
    import redis

    for db in (12, 14, 15):
        redis.Redis(db=db).flushdb()
    with worker(
        "fulfilment.celeryapp",
        queues,
        cwd=example,
        paths=[example],
        env=FULFILMENT_ENV,
        concurrency=4,
        pool="threads",
        name=name,
        celery=str(Path(python).parent / "celery"),
    ) as process:
        done = subprocess.run(
            [python, "-m", "fulfilment.start", "scenarios/happy_path.json"],
            cwd=example,
            env={**os.environ, **FULFILMENT_ENV, "PYTHONPATH": str(example)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        log = "".join(process.log)  # type: ignore[attr-defined]
    return done, log
