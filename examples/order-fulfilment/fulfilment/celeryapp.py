"""The Celery app of the order fulfilment: Redis as broker and result backend.

    celery -A fulfilment.celeryapp worker -P threads -c 4 \\
        -Q orders,inventory,payments,notifications,shipping,order_dispatchers,shipping_dispatchers

The example keeps results in memory (InMemoryStorage), so one worker process runs every task,
on threads. With a Redis or SQL storage in nodes.yaml, any number of prefork workers can.
"""

from __future__ import annotations

import os

from celery import Celery

import selinonc.runtime.celery as selinonc_celery

BROKER = os.environ.get("FULFILMENT_BROKER", "redis://127.0.0.1:6379/0")
BACKEND = os.environ.get("FULFILMENT_BACKEND", "redis://127.0.0.1:6379/1")

app = Celery("fulfilment", broker=BROKER, backend=BACKEND)
app.conf.update(broker_connection_retry_on_startup=True, worker_prefetch_multiplier=1)
# Flow states live in Redis too (the backend's server, unless FULFILMENT_STORE says otherwise).
driver = selinonc_celery.install(
    app, "fulfilment.flowpkg", store_url=os.environ.get("FULFILMENT_STORE", BACKEND)
)
