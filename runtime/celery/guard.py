"""What Celery itself would choke on, refused before it does.

Celery's worker decodes a task message in its consumer, in the worker's main process, before any
task code runs: a body that is not a protocol-2 body (`null`, `{"a": 1}`) raises there and the
worker exits, and the message, unacknowledged, goes back to the queue to stop the next worker.
selinonc's two tasks use `strategy` below (Celery's `Task.Strategy`): it checks the message
first and refuses one it cannot use, acknowledged and logged, never re-queued. Then Celery's own
strategy runs, and the task checks its arguments (messages.py).

Compressed messages are decompressed by kombu as they arrive, before anything can look at them:
`bound_decompression` makes zlib, bzip2 and lzma stop at a size (an 810-byte bzip2 message once
grew a worker to 2 GB), so a bomb becomes a message with an error, which `strategy` refuses.
"""

from __future__ import annotations

import bz2
import logging
import lzma
import zlib
from collections.abc import Callable
from typing import Any

from kombu import compression
from kombu.utils.encoding import ensure_bytes

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # what one message may decompress to
_log = logging.getLogger("selinonc.celery")
_limit = [MAX_MESSAGE_BYTES]


class MessageTooLarge(ValueError):
    """A compressed message that would decompress to more than the limit."""


def _bounded(make: Callable[[], Any], name: str) -> Callable[[Any], bytes]:
    def decompress(body: Any) -> bytes:
        limit = _limit[0]
        out = make().decompress(ensure_bytes(body), limit + 1)
        if len(out) > limit:
            raise MessageTooLarge(f"a {name} message decompresses to more than {limit} bytes")
        return bytes(out)

    return decompress


def bound_decompression(limit: int = MAX_MESSAGE_BYTES) -> None:
    """Make kombu's zlib, bzip2 and lzma decompression (this process's) stop at `limit`."""
    _limit[0] = limit
    bounded = {
        "application/x-gzip": _bounded(zlib.decompressobj, "zlib"),
        "application/x-bz2": _bounded(bz2.BZ2Decompressor, "bzip2"),
        "application/x-lzma": _bounded(lzma.LZMADecompressor, "lzma"),
    }
    for content_type, decoder in bounded.items():
        encoder = compression._encoders.get(content_type)
        if encoder is not None:
            compression._decoders[content_type] = decoder


def problem(message: Any) -> str | None:
    """What makes a message unusable for a selinonc task, or None."""
    if message.errors:
        return f"it cannot be read: {message.errors[0][1]!r}"[:300]
    if not isinstance(message.headers, dict) or not message.headers.get("id"):
        return "its headers are not a protocol-2 task's"
    if message.content_type != "application/json":
        return f"its content type is {message.content_type!r}, not application/json"
    try:
        payload = message.payload
    except Exception as exc:  # kombu's decoding errors are many
        return f"its body is not JSON ({type(exc).__name__}: {exc})"[:300]
    if not (
        isinstance(payload, list)
        and len(payload) == 3
        and isinstance(payload[0], list)
        and isinstance(payload[1], dict)
        and isinstance(payload[2], dict)
    ):
        return "its body is not [args, kwargs, options]"
    return None


def strategy(task: Any, app: Any, consumer: Any, **options: Any) -> Callable[..., Any]:
    """Celery's default strategy for `task`, behind a check of each message."""
    from celery.worker.strategy import default

    handle = default(task, app, consumer, **options)
    driver = getattr(app, "selinonc_driver", None)

    def guarded(message: Any, body: Any, ack: Any, reject: Any, callbacks: Any, **kw: Any) -> Any:
        why = problem(message) if body is None else None
        if why is None:
            return handle(message, body, ack, reject, callbacks, **kw)
        _log.error("refused a %s message: %s", task.name, why)
        if driver is not None:
            try:
                driver.tracer("MESSAGE_REFUSED", {"task": task.name, "reason": why})
            except Exception:  # a tracer's failure must not take the worker down
                _log.exception("selinonc: tracing a refused message failed")
        message.ack_log_error(_log, consumer.connection_errors)
        return None

    return guarded


def tolerate_bad_headers() -> None:
    """Make a virtual transport's (Redis's) message whose headers are not a mapping a message
    without headers, which Celery refuses as an unknown message, instead of an AttributeError
    in kombu that stops the worker (kombu reads `headers.get("compression")` first thing)."""
    from kombu.transport.virtual import base

    original = base.Message.__init__
    if getattr(original, "selinonc", False):
        return

    def __init__(self: Any, payload: Any, channel: Any = None, **kwargs: Any) -> None:
        if isinstance(payload, dict) and not isinstance(payload.get("headers") or {}, dict):
            _log.error("refused a message whose headers are %r", type(payload["headers"]))
            payload = {**payload, "headers": {}}
        original(self, payload, channel, **kwargs)

    __init__.selinonc = True  # type: ignore[attr-defined]
    base.Message.__init__ = __init__  # type: ignore[method-assign]


def guard_released_channels() -> None:
    """A Redis broker connection lost while a task was unacknowledged: Celery's consumer closes
    it in two passes, and the second finds the transport released (`client` None) and raises
    AttributeError, which stops the worker ("Unrecoverable error ... 'hostname'"). Raise the
    connection error kombu expects there instead, which the close already ignores; the message
    is given back after the visibility timeout, and its claim makes that harmless."""
    import redis
    from kombu.transport import redis as transport

    original = transport.Channel._connparams
    if getattr(original, "selinonc", False):
        return

    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        if getattr(self.connection, "client", None) is None:
            raise redis.exceptions.ConnectionError(
                "kombu channel is closed: its broker connection was released"
            )
        return original(self, asynchronous=asynchronous)

    _connparams.selinonc = True  # type: ignore[attr-defined]
    transport.Channel._connparams = _connparams  # type: ignore[method-assign]
