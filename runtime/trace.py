"""Tracing: the predecessor's 53 events (their names and numbers are API) and the tracers.

A tracer is called with `(event_number, message)`, the message a JSON-ready dict that holds the
event's name under "event". An exception in a tracer is logged and swallowed.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from selinonc.runtime.placeholders import require

EVENTS: tuple[str, ...] = (
    "DISPATCHER_WAKEUP", "FLOW_SCHEDULE", "FLOW_START", "TASK_SCHEDULE", "TASK_START",
    "SUBFLOW_SCHEDULE", "TASK_END", "NODE_SUCCESSFUL", "TASK_DISCARD_RESULT", "TASK_FAILURE",
    "TASK_RETRY", "FLOW_FAILURE", "DISPATCHER_FAILURE", "NODE_FAILURE", "FALLBACK_START",
    "DISPATCHER_RETRY", "FLOW_END", "STORAGE_CONNECT", "STORAGE_DISCONNECT", "STORAGE_RETRIEVE",
    "STORAGE_RETRIEVED", "STORAGE_STORE", "STORAGE_STORED", "EDGE_COND_FALSE", "FOREACH_RESULT",
    "NODE_STATE_CACHE_GET", "NODE_STATE_CACHE_ADD", "NODE_STATE_CACHE_MISS",
    "NODE_STATE_CACHE_HIT", "TASK_RESULT_CACHE_GET", "TASK_RESULT_CACHE_ADD",
    "TASK_RESULT_CACHE_MISS", "TASK_RESULT_CACHE_HIT", "SELECTIVE_OMIT_EDGE",
    "SELECTIVE_OMIT_NODE", "SELECTIVE_RUN_FUNC", "SELECTIVE_TASK_REUSE", "STORAGE_STORE_ERROR",
    "STORAGE_OMIT_STORE_ERROR", "FALLBACK_COND_FALSE", "FALLBACK_COND_TRUE",
    "NODE_STATE_CACHE_ISSUE", "TASK_RESULT_CACHE_ISSUE", "STORAGE_ISSUE", "RESULT_BACKEND_ISSUE",
    "FLOW_RETRY", "MIGRATION", "MIGRATION_SKEW", "MIGRATION_TAINTED_FLOW", "MIGRATION_ERROR",
    "EAGER_FAILURE", "STORAGE_DELETE", "STORAGE_DELETED",
)  # fmt: skip
NUMBER: Mapping[str, int] = {name: i for i, name in enumerate(EVENTS)}
WARN_EVENTS = frozenset(
    {
        "TASK_FAILURE", "TASK_RETRY", "FLOW_FAILURE", "NODE_FAILURE", "DISPATCHER_RETRY",
        "STORAGE_OMIT_STORE_ERROR", "NODE_STATE_CACHE_ISSUE", "TASK_RESULT_CACHE_ISSUE",
        "STORAGE_ISSUE", "RESULT_BACKEND_ISSUE", "FLOW_RETRY", "MIGRATION_SKEW",
        "MIGRATION_TAINTED_FLOW", "MIGRATION_ERROR", "EAGER_FAILURE",
    }
)  # fmt: skip

TraceFunction = Callable[[int, Mapping[str, Any]], Any]
_log = logging.getLogger("selinonc.trace")


def logging_tracer(event: int, message: Mapping[str, Any]) -> None:
    """Log `SELINON <host> - EVENT : {json}`: WARNING for warning events, ERROR for
    DISPATCHER_FAILURE, INFO for the rest."""
    name = EVENTS[event]
    level = logging.INFO
    if name in WARN_EVENTS:
        level = logging.WARNING
    elif name == "DISPATCHER_FAILURE":
        level = logging.ERROR
    text = json.dumps(message, sort_keys=True, default=repr)
    _log.log(level, "SELINON %s - %s : %s", socket.gethostname(), name, text)


def json_tracer(event: int, message: Mapping[str, Any]) -> None:
    """One JSON object per line: standard output, standard error for warning events."""
    stream = sys.stderr if EVENTS[event] in WARN_EVENTS else sys.stdout
    print(json.dumps(message, sort_keys=True, default=repr), file=stream, flush=True)


class Tracer:
    """Calls every trace function for every event; one that raises is logged, not fatal."""

    def __init__(self, functions: Sequence[TraceFunction] = ()) -> None:
        self.functions = list(functions)

    def __call__(self, name: str, details: Mapping[str, Any]) -> None:
        if not self.functions:
            return
        number = NUMBER[name]
        message = {"event": name, **details}
        for function in self.functions:
            try:
                function(number, message)
            except Exception:
                _log.exception("tracer %r failed on %s; event ignored", function, name)


def tracer_for(system: Any, pool: Any) -> Tracer:
    """The tracer a package's `global.trace` asks for (logging, json, function, storage,
    sentry), to trace through `pool`'s storages."""
    functions: list[TraceFunction] = []
    for spec in system.settings.tracers:
        if spec.kind == "logging":
            functions.append(logging_tracer)
        elif spec.kind == "json":
            functions.append(json_tracer)
        elif spec.kind == "function" and spec.function is not None:
            functions.append(spec.function)
        elif spec.kind == "storage" and spec.storage is not None:
            functions.append(_storage_tracer(pool, spec.storage, spec.method))
        elif spec.kind == "sentry":
            functions.append(_sentry_tracer(spec.dsn))
    return Tracer(functions)


def _storage_tracer(pool: Any, storage: str, method: str) -> TraceFunction:
    def trace(event: int, message: Mapping[str, Any]) -> None:
        getattr(pool.connected(storage), method)(event, message)

    return trace


def _sentry_tracer(dsn: str | None) -> TraceFunction:
    """Report failures to Sentry (sentry_sdk must be installed; the predecessor sent nothing)."""
    if dsn is not None:
        require(dsn)  # a DSN left unresolved by a one-process import is needed now
    try:
        import sentry_sdk  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        _log.warning("global.trace asks for Sentry, but sentry_sdk is not installed")
        return lambda event, message: None
    sentry_sdk.init(dsn=dsn)
    failures = {"TASK_FAILURE", "FLOW_FAILURE", "DISPATCHER_FAILURE", "STORAGE_ISSUE"}

    def trace(event: int, message: Mapping[str, Any]) -> None:
        if EVENTS[event] in failures:
            sentry_sdk.capture_message(json.dumps(message, sort_keys=True, default=repr), "error")

    return trace
