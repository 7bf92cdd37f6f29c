"""Placeholders of a one-process run: a missing variable gives a marked value instead of an
error, only while importing for the embedded executor; a value that is needed still fails."""

from __future__ import annotations

import dataclasses

import pytest

from selinonc.runtime import PlaceholderError
from selinonc.runtime.executor import Executor, importing_for_one_process
from selinonc.runtime.placeholders import Unresolved, deferred, expand, require
from selinonc.runtime.tables import Edge, Flow, Settings, Tracer
from tests.runtime import corekit

ENV = {"SET": "prod"}


def test_a_missing_variable_fails_outside_a_one_process_import() -> None:
    with pytest.raises(PlaceholderError, match="environment variable 'UNSET' is not set"):
        expand("{UNSET}_tasks", "the queue of task 'T'", ENV)


def test_a_missing_variable_is_marked_while_importing_for_one_process() -> None:
    with importing_for_one_process():
        value = expand("{SET}_{UNSET}_{{x}}", "the queue of task 'T'", ENV)
    assert value == "prod_<unset UNSET>_{x}"
    assert isinstance(value, Unresolved)
    with pytest.raises(PlaceholderError) as caught:
        require(value)
    assert str(caught.value) == (
        "environment variable 'UNSET' is not set; the queue of task 'T' is "
        "'{SET}_{UNSET}_{{x}}', so set UNSET in the worker's environment before importing the "
        "flow package"
    )


def test_resolved_values_are_plain_strings_and_leniency_ends_with_the_import() -> None:
    with deferred():
        value = expand("{SET}_tasks", "a queue", ENV)
    assert type(value) is str and require(value) == "prod_tasks"
    with pytest.raises(PlaceholderError):  # the context is over: strict again
        expand("{UNSET}", "a queue", ENV)


def test_a_sentry_dsn_left_unresolved_fails_when_the_executor_needs_it() -> None:
    with importing_for_one_process():
        dsn = expand("{UNSET_SENTRY_DSN}", "the Sentry DSN (global.trace.sentry.dsn)", {})
    flow = Flow(name="main", queue="d", edges=(Edge(index=0, id="0", sources=(), targets=("A",)),))
    system = dataclasses.replace(
        corekit.system(flow), settings=Settings(tracers=(Tracer(kind="sentry", dsn=dsn),))
    )
    with pytest.raises(PlaceholderError, match="'UNSET_SENTRY_DSN' is not set; the Sentry DSN"):
        Executor(system)
