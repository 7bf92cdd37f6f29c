"""A Celery app for an example's checked-in package (EXAMPLE_PACKAGE), for end-to-end tests."""

from __future__ import annotations

import os

from celery import Celery

import selinonc.runtime.celery as selinonc_celery

app = Celery("example", broker=os.environ["E2E_BROKER"], backend=os.environ["E2E_BACKEND"])
app.conf.update(worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True)
driver = selinonc_celery.install(
    app, os.environ["EXAMPLE_PACKAGE"], store_url=os.environ["E2E_STORE"]
)
