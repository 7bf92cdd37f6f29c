"""The Celery app of the end-to-end tests: broker, backend and store from the environment."""

from __future__ import annotations

import os

from celery import Celery

import selinonc.runtime.celery as selinonc_celery

app = Celery("e2e", broker=os.environ["E2E_BROKER"], backend=os.environ["E2E_BACKEND"])
app.conf.update(
    # The broker's default visibility timeout: selinonc never waits for it (issue 10).
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)
driver = selinonc_celery.install(app, os.environ["E2E_PACKAGE"], store_url=os.environ["E2E_STORE"])
