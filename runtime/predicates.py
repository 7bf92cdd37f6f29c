"""The built-in predicates of edge and failure conditions (the predecessor's, corrected).

Result predicates take the source task's result as `message`; `args*` predicates take the flow's
arguments as `node_args`. `key` names a field, or is a list naming a path of fields. A predicate
that cannot read its field is false: it never raises. Corrections (decisions.md, runtime 1):
`empty`/`argsEmpty` are true for empty values, `*LenGreaterEqual` is `>=` and `*LenLessEqual` is
`<=`, and booleans are not integers for `isInt`/`fieldInt`.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

_MISSING = object()
# A field name, or a path of names and list indexes (`[a, b, 0]`).
Key = str | int | Sequence[str | int]


def _field(value: Any, key: Key) -> Any:
    """The field at `key` (a name or a path), or _MISSING when any step is absent."""
    path = [key] if isinstance(key, str | int) else list(key)
    try:
        for step in path:
            value = value[step]
    except (KeyError, IndexError, TypeError):
        return _MISSING
    return value


def _test(value: Any, key: Key, check: Callable[[Any], Any]) -> bool:
    found = _field(value, key)
    if found is _MISSING:
        return False
    try:
        return bool(check(found))
    except Exception:
        return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _url_part(part: str) -> Callable[[Any, Any], bool]:
    def check(found: Any, wanted: Any) -> bool:
        return bool(getattr(urllib.parse.urlparse(found), part) == wanted)

    return check


# --- constants and the environment ---------------------------------------------------------


def alwaysTrue() -> bool:
    """Always true."""
    return True


def alwaysFalse() -> bool:
    """Always false."""
    return False


def envExist(env: str) -> bool:
    """True when the environment variable `env` is set."""
    return env in os.environ


def envEqual(env: str, value: str) -> bool:
    """True when the environment variable `env` equals `value`."""
    return os.environ.get(env) == value


def httpStatus(host: str, path: str, status: int) -> bool:
    """True when a HEAD request to http://host/path answers with `status`."""
    from http.client import HTTPConnection  # imported when used: it costs workers 30 ms

    try:
        connection = HTTPConnection(host, timeout=10)
        connection.request("HEAD", path)
        return connection.getresponse().status == status
    except Exception:
        return False


# --- the whole result ----------------------------------------------------------------------


def empty(message: Any) -> bool:
    """True when the result is empty (None, "", [], {}, 0)."""
    try:
        return not message
    except Exception:
        return False


def isBool(message: Any) -> bool:
    """True when the result is a boolean."""
    return isinstance(message, bool)


def isDict(message: Any) -> bool:
    """True when the result is a mapping."""
    return isinstance(message, dict)


def isFloat(message: Any) -> bool:
    """True when the result is a float."""
    return isinstance(message, float)


def isInt(message: Any) -> bool:
    """True when the result is an integer (booleans are not)."""
    return _is_int(message)


def isList(message: Any) -> bool:
    """True when the result is a list."""
    return isinstance(message, list)


def isNone(message: Any) -> bool:
    """True when the result is None."""
    return message is None


def isStr(message: Any) -> bool:
    """True when the result is a string."""
    return isinstance(message, str)


# --- one field of the result ---------------------------------------------------------------


def fieldExist(message: Any, key: Key) -> bool:
    """True when the field exists."""
    return _field(message, key) is not _MISSING


def fieldBool(message: Any, key: Key) -> bool:
    """True when the field is a boolean."""
    return _test(message, key, lambda v: isinstance(v, bool))


def fieldDict(message: Any, key: Key) -> bool:
    """True when the field is a mapping."""
    return _test(message, key, lambda v: isinstance(v, dict))


def fieldFloat(message: Any, key: Key) -> bool:
    """True when the field is a float."""
    return _test(message, key, lambda v: isinstance(v, float))


def fieldInt(message: Any, key: Key) -> bool:
    """True when the field is an integer (booleans are not)."""
    return _test(message, key, _is_int)


def fieldList(message: Any, key: Key) -> bool:
    """True when the field is a list."""
    return _test(message, key, lambda v: isinstance(v, list))


def fieldNone(message: Any, key: Key) -> bool:
    """True when the field exists and is None."""
    return _test(message, key, lambda v: v is None)


def fieldStr(message: Any, key: Key) -> bool:
    """True when the field is a string."""
    return _test(message, key, lambda v: isinstance(v, str))


def fieldEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the field equals `value`."""
    return _test(message, key, lambda v: v == value)


def fieldNotEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the field exists and differs from `value`."""
    return _test(message, key, lambda v: v != value)


def fieldGreater(message: Any, key: Key, value: Any) -> bool:
    """True when the field is greater than `value`."""
    return _test(message, key, lambda v: v > value)


def fieldGreaterEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the field is greater than or equal to `value`."""
    return _test(message, key, lambda v: v >= value)


def fieldLess(message: Any, key: Key, value: Any) -> bool:
    """True when the field is less than `value`."""
    return _test(message, key, lambda v: v < value)


def fieldLessEqual(message: Any, key: Key, value: Any) -> bool:
    """True when the field is less than or equal to `value`."""
    return _test(message, key, lambda v: v <= value)


def fieldContain(message: Any, key: Key, value: Any) -> bool:
    """True when `value` is in the field."""
    return _test(message, key, lambda v: value in v)


def fieldLenEqual(message: Any, key: Key, length: int) -> bool:
    """True when the field's length is `length`."""
    return _test(message, key, lambda v: len(v) == length)


def fieldLenNotEqual(message: Any, key: Key, length: int) -> bool:
    """True when the field has a length other than `length`."""
    return _test(message, key, lambda v: len(v) != length)


def fieldLenGreater(message: Any, key: Key, length: int) -> bool:
    """True when the field's length is greater than `length`."""
    return _test(message, key, lambda v: len(v) > length)


def fieldLenGreaterEqual(message: Any, key: Key, length: int) -> bool:
    """True when the field's length is at least `length`."""
    return _test(message, key, lambda v: len(v) >= length)


def fieldLenLess(message: Any, key: Key, length: int) -> bool:
    """True when the field's length is less than `length`."""
    return _test(message, key, lambda v: len(v) < length)


def fieldLenLessEqual(message: Any, key: Key, length: int) -> bool:
    """True when the field's length is at most `length`."""
    return _test(message, key, lambda v: len(v) <= length)


def fieldUrlScheme(message: Any, key: Key, scheme: str) -> bool:
    """True when the field is a URL with scheme `scheme`."""
    return _test(message, key, lambda v: _url_part("scheme")(v, scheme))


def fieldUrlNetloc(message: Any, key: Key, netloc: str) -> bool:
    """True when the field is a URL with network location `netloc`."""
    return _test(message, key, lambda v: _url_part("netloc")(v, netloc))


def fieldUrlPath(message: Any, key: Key, path: str) -> bool:
    """True when the field is a URL with path `path`."""
    return _test(message, key, lambda v: _url_part("path")(v, path))


# --- the flow's arguments --------------------------------------------------------------------
# The same predicates over `node_args`; each is its result twin with the argument renamed.


def argsEmpty(node_args: Any) -> bool:
    """True when the flow's arguments are empty."""
    return empty(node_args)


def argsIsBool(node_args: Any) -> bool:
    """True when the flow's arguments are a boolean."""
    return isBool(node_args)


def argsIsDict(node_args: Any) -> bool:
    """True when the flow's arguments are a mapping."""
    return isDict(node_args)


def argsIsFloat(node_args: Any) -> bool:
    """True when the flow's arguments are a float."""
    return isFloat(node_args)


def argsIsInt(node_args: Any) -> bool:
    """True when the flow's arguments are an integer (booleans are not)."""
    return isInt(node_args)


def argsIsList(node_args: Any) -> bool:
    """True when the flow's arguments are a list."""
    return isList(node_args)


def argsIsNone(node_args: Any) -> bool:
    """True when the flow has no arguments (None)."""
    return isNone(node_args)


def argsIsStr(node_args: Any) -> bool:
    """True when the flow's arguments are a string."""
    return isStr(node_args)


def argsFieldExist(node_args: Any, key: Key) -> bool:
    """True when the field exists in the flow's arguments."""
    return fieldExist(node_args, key)


def argsFieldBool(node_args: Any, key: Key) -> bool:
    """True when the argument field is a boolean."""
    return fieldBool(node_args, key)


def argsFieldDict(node_args: Any, key: Key) -> bool:
    """True when the argument field is a mapping."""
    return fieldDict(node_args, key)


def argsFieldFloat(node_args: Any, key: Key) -> bool:
    """True when the argument field is a float."""
    return fieldFloat(node_args, key)


def argsFieldInt(node_args: Any, key: Key) -> bool:
    """True when the argument field is an integer (booleans are not)."""
    return fieldInt(node_args, key)


def argsFieldList(node_args: Any, key: Key) -> bool:
    """True when the argument field is a list."""
    return fieldList(node_args, key)


def argsFieldNone(node_args: Any, key: Key) -> bool:
    """True when the argument field exists and is None."""
    return fieldNone(node_args, key)


def argsFieldStr(node_args: Any, key: Key) -> bool:
    """True when the argument field is a string."""
    return fieldStr(node_args, key)


def argsFieldEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the argument field equals `value`."""
    return fieldEqual(node_args, key, value)


def argsFieldNotEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the argument field exists and differs from `value`."""
    return fieldNotEqual(node_args, key, value)


def argsFieldGreater(node_args: Any, key: Key, value: Any) -> bool:
    """True when the argument field is greater than `value`."""
    return fieldGreater(node_args, key, value)


def argsFieldGreaterEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the argument field is greater than or equal to `value`."""
    return fieldGreaterEqual(node_args, key, value)


def argsFieldLess(node_args: Any, key: Key, value: Any) -> bool:
    """True when the argument field is less than `value`."""
    return fieldLess(node_args, key, value)


def argsFieldLessEqual(node_args: Any, key: Key, value: Any) -> bool:
    """True when the argument field is less than or equal to `value`."""
    return fieldLessEqual(node_args, key, value)


def argsFieldContain(node_args: Any, key: Key, value: Any) -> bool:
    """True when `value` is in the argument field."""
    return fieldContain(node_args, key, value)


def argsFieldLenEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the argument field's length is `length`."""
    return fieldLenEqual(node_args, key, length)


def argsFieldLenNotEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the argument field has a length other than `length`."""
    return fieldLenNotEqual(node_args, key, length)


def argsFieldLenGreater(node_args: Any, key: Key, length: int) -> bool:
    """True when the argument field's length is greater than `length`."""
    return fieldLenGreater(node_args, key, length)


def argsFieldLenGreaterEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the argument field's length is at least `length`."""
    return fieldLenGreaterEqual(node_args, key, length)


def argsFieldLenLess(node_args: Any, key: Key, length: int) -> bool:
    """True when the argument field's length is less than `length`."""
    return fieldLenLess(node_args, key, length)


def argsFieldLenLessEqual(node_args: Any, key: Key, length: int) -> bool:
    """True when the argument field's length is at most `length`."""
    return fieldLenLessEqual(node_args, key, length)


def argsFieldUrlScheme(node_args: Any, key: Key, scheme: str) -> bool:
    """True when the argument field is a URL with scheme `scheme`."""
    return fieldUrlScheme(node_args, key, scheme)


def argsFieldUrlNetloc(node_args: Any, key: Key, netloc: str) -> bool:
    """True when the argument field is a URL with network location `netloc`."""
    return fieldUrlNetloc(node_args, key, netloc)


def argsFieldUrlPath(node_args: Any, key: Key, path: str) -> bool:
    """True when the argument field is a URL with path `path`."""
    return fieldUrlPath(node_args, key, path)
