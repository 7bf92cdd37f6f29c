"""The Celery app of `make bench-celery`: plain no-op tasks beside the selinonc flows."""

from __future__ import annotations

import os

from celery import Celery

import selinonc.runtime.celery as selinonc_celery

app = Celery("bench", broker=os.environ["BENCH_BROKER"], backend=os.environ["BENCH_BACKEND"])
app.conf.update(
    task_default_queue="bench",
    worker_prefetch_multiplier=4,
    broker_connection_retry_on_startup=True,
    result_extended=False,
)


@app.task(name="bench.noop")  # type: ignore[untyped-decorator]
def noop(*args: object) -> None:
    """Plain Celery's no-op: what `celery.chain` and `chord` run."""
    return None


driver = selinonc_celery.install(app, "benchpkg", store_url=os.environ["BENCH_STORE"])
