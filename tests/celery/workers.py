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
