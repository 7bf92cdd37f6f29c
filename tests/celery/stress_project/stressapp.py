"""The Celery app of the stress test: broker (STRESS_BROKER: Redis or RabbitMQ), result backend
and flow store from the environment."""

from __future__ import annotations

import os

from celery import Celery

import selinonc.runtime.celery as selinonc_celery


def create(broker: str) -> tuple[Celery, selinonc_celery.Driver]:
    """A Celery app with the stress package installed, using `broker`."""
    app = Celery("stress", broker=broker, backend=os.environ["STRESS_BACKEND"])
    app.conf.update(worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True)
    driver = selinonc_celery.install(
        app,
        os.environ["STRESS_PACKAGE"],
        store_url=os.environ["STRESS_STORE"],
        # The fault tests (test_faults.py) resend unstarted tasks sooner than the default.
        redeliver_after=float(os.environ.get("STRESS_REDELIVER", "120")),
    )
    return app, driver


app, driver = create(os.environ["STRESS_BROKER"])
