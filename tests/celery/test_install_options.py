"""What `install()` sets on a Celery app (issue 10): the Redis broker's visibility timeout, which
must outlast the longest task time limit, and the bootstep that polls the deadline index."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

import selinonc.runtime.celery as selinonc_celery
from selinonc.runtime.celery import poller
from selinonc.runtime.errors import ConfigurationError

EXAMPLE = Path(__file__).parents[2] / "examples" / "order-fulfilment"
STORE = "redis://127.0.0.1:6379/13"  # never reached: nothing here runs a flow


@pytest.fixture(autouse=True)
def _example_on_path() -> Iterator[None]:
    sys.path.insert(0, str(EXAMPLE))
    yield
    sys.path.remove(str(EXAMPLE))


def _installed(broker: str, **conf: object) -> Celery:
    app = Celery("options", broker=broker)
    app.conf.update(conf)
    selinonc_celery.install(app, "fulfilment.flowpkg", store_url=STORE)
    return app


def test_the_redis_broker_gets_a_visibility_timeout_that_outlasts_the_longest_time_limit() -> None:
    assert _installed("redis://x/0").conf.broker_transport_options == {
        "visibility_timeout": selinonc_celery.VISIBILITY_SECONDS
    }
    long = _installed("redis://x/0", task_time_limit=7200)
    assert long.conf.broker_transport_options["visibility_timeout"] == 7200 + 300


def test_a_visibility_timeout_the_app_sets_is_kept_and_other_brokers_get_none() -> None:
    mine = _installed("redis://x/0", broker_transport_options={"visibility_timeout": 45})
    assert mine.conf.broker_transport_options == {"visibility_timeout": 45}
    assert not _installed("amqp://guest@x//").conf.broker_transport_options


def test_workers_of_the_app_poll_the_deadline_index() -> None:
    app = _installed("redis://x/0")
    steps = [s for s in app.steps["worker"] if s.__name__ == "DeadlinePoller"]
    assert len(steps) == 1
    assert steps[0].__module__ == poller.__name__


@pytest.mark.parametrize("value", [0, -1.0])
def test_redeliver_after_must_be_positive(value: float) -> None:
    with pytest.raises(ConfigurationError, match="redeliver_after must be positive"):
        selinonc_celery.install(
            Celery("options"), "fulfilment.flowpkg", store_url=STORE, redeliver_after=value
        )
