"""The schema stage: check loaded YAML against schemas/selinonc.schema.json, in plain words."""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from importlib.resources import files
from typing import TYPE_CHECKING, Any, cast

import jsonschema_rs

from selinonc.compiler.diagnostics import Diagnostic, did_you_mean, join_or, settle
from selinonc.compiler.load import Document, JsonPath

if TYPE_CHECKING:
    # jsonschema itself is imported only to explain invalid data: it costs a tenth of a second
    # of start-up, and valid configurations never need it (jsonschema-rs gives the verdict).
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = "selinonc.schema.json"
CODE_KEYWORD = "x-selinonc-code"
NODE_NAME_PATTERN = "^[_a-zA-Z][_a-zA-Z0-9]*$"

_TYPE_WORDS: Mapping[str, str] = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}
# Lists whose items are named by their `name` key, and how to call an item without one.
_NAMED_LISTS: Mapping[str, tuple[str, str]] = {
    "tasks": ("task", "task"),
    "storages": ("storage", "storage"),
    "flow-definitions": ("flow", "flow definition"),
}
_FLOW_PARTS: Mapping[str, str] = {"edges": "edge", "failures": "failure"}
# A storage class is created with its configuration; only the in-memory one needs none.
_STORAGE_CONFIGURATION_HINT = (
    "give the keyword arguments of the storage's class, e.g. `configuration: {url: "
    "'redis://localhost:6379/0'}`; only the in-memory storage (InMemoryStorage) may leave "
    "`configuration` out"
)
_REQUIRED_HINTS: Mapping[str, str] = {
    "from": "write `from: []` for a starting edge",
    "fallback": "name the nodes to start, or write `fallback: true` to start nothing",
    "configuration": _STORAGE_CONFIGURATION_HINT,  # only storages require it
}
_MAX_SHOWN = 40
# Python refuses to print integers of more than 4300 digits, and jsonschema prints every value
# it rejects; YAML hex literals can be that long. Such integers are wrapped before validation.
_MAX_INT_BITS = 4096
_MAX_SCHEMA_BYTES = 16 * 1024 * 1024

Handler = Callable[[Document, "ValidationError", JsonPath], Iterator[Diagnostic]]


@functools.cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema of the whole YAML language (package data; cached, do not mutate)."""
    text = files("selinonc.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return cast(dict[str, Any], json.loads(text))


@functools.cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema())


def validate(doc: Document) -> list[Diagnostic]:
    """Check one loaded document against the schema.

    Args:
        doc: a document from `load`, with spans for its keys and values.

    Returns:
        One diagnostic per problem, each pointing at its YAML position, sorted.
    """
    if _fast_valid(doc.data):
        return []
    found: set[Diagnostic] = set()
    for error in _validator().iter_errors(_printable(doc.data)):
        found.update(_diagnose(doc, error))
    return settle(found)


@functools.cache
def _fast_validator() -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(load_schema())


def _fast_valid(data: Any) -> bool:
    """True when jsonschema-rs finds the data valid (150x faster than jsonschema on 10,000 tasks).

    Only the verdict is taken from it; every diagnostic comes from jsonschema, which explains
    errors in detail. Data it cannot take (dates, huge integers) goes the slow way.
    """
    try:
        return bool(_fast_validator().is_valid(data))
    except Exception:
        return False


class _LargeInt(int):
    """An integer too long to print in decimal, which prints as a short description instead."""

    def __repr__(self) -> str:
        return "<a very large integer>"

    __str__ = __repr__


def _printable(value: Any) -> Any:
    """`value`, with every integer too long to print wrapped in `_LargeInt` (copied if needed)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _LargeInt(value) if value.bit_length() > _MAX_INT_BITS else value
    if isinstance(value, dict):
        mapping = {key: _printable(item) for key, item in value.items()}
        changed = any(mapping[key] is not item for key, item in value.items())
        return mapping if changed else value
    if isinstance(value, list):
        items = [_printable(item) for item in value]
        changed = any(new is not old for new, old in zip(items, value, strict=True))
        return items if changed else value
    return value


def _diagnose(doc: Document, error: ValidationError) -> Iterator[Diagnostic]:
    """Turn one validation error into diagnostics (most errors give exactly one)."""
    keyword = error.validator if isinstance(error.validator, str) else ""
    handler = _HANDLERS.get(keyword, _other)
    yield from handler(doc, error, tuple(error.absolute_path))


def _code(error: ValidationError, default: str) -> str:
    """The code for an error: the failing subschema's `x-selinonc-code`, else `default`."""
    schema = error.schema
    if isinstance(schema, Mapping):
        code = schema.get(CODE_KEYWORD)
        if isinstance(code, str):
            return code
    return default


def _schema_dict(error: ValidationError) -> Mapping[str, Any]:
    return error.schema if isinstance(error.schema, Mapping) else {}


def _values(error: ValidationError) -> list[Any]:
    """The failing keyword's value as a list (a `type` is one name or a list of names)."""
    value = error.validator_value
    return list(value) if isinstance(value, (list, tuple)) else [value]


# --- one handler per JSON Schema keyword --------------------------------------------------


def _unknown_keys(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    instance = error.instance
    if not isinstance(instance, Mapping):
        return
    known = sorted(str(key) for key in _schema_dict(error).get("properties", {}))
    where = f"in {_owner(doc.data, path)}" if path else "at the top level"
    for key in instance:
        if key in known:
            continue
        hint = did_you_mean(str(key), known)
        if hint is None and known:
            hint = "known keys here: " + ", ".join(known)
        yield Diagnostic.error(
            _code(error, "SC110"),
            doc.key_span((*path, key)),
            f"unknown key {_quoted(key)} {where}",
            hint=hint,
        )


def _wrong_type(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    names = [str(name) for name in _values(error)]
    if names == ["boolean"]:
        expected = "true or false"
    else:
        expected = join_or([_TYPE_WORDS.get(name, name) for name in names])
    value = error.instance
    yield Diagnostic.error(
        _code(error, "SC111"),
        doc.span(path),
        f"{_subject(doc.data, path)} must be {expected}, not {_described(value)}",
        hint=_type_hint(value, names),
    )


def _missing_keys(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    instance = error.instance
    if not isinstance(instance, Mapping):
        return
    owner = _owner(doc.data, path)
    for key in _values(error):
        if key not in instance:
            yield Diagnostic.error(
                _code(error, "SC112"),
                doc.span(path),
                f"{owner} is missing the required key {_quoted(key)}",
                hint=_REQUIRED_HINTS.get(key),
            )


def _empty(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    least = error.validator_value
    container = "list" if error.validator == "minItems" else "mapping"
    subject = _subject(doc.data, path)
    if least == 1:
        message = f"{subject} must not be an empty {container}"
    else:
        items = "items" if container == "list" else "keys"
        message = f"{subject} must have at least {least} {items}"
    yield Diagnostic.error(_code(error, "SC114"), doc.span(path), message, _value_hint(path))


def _bad_string(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    subject = _subject(doc.data, path)
    if error.validator == "minLength":
        message = f"{subject} must not be an empty string"
    elif error.validator_value == NODE_NAME_PATTERN:
        message = (
            f"{subject} must be a name made of letters, digits and underscores that does "
            f"not start with a digit, not {_shown(error.instance)}"
        )
    else:
        message = f"{subject} does not have the required form: {_shown(error.instance)}"
    yield Diagnostic.error(_code(error, "SC113"), doc.span(path), message, _value_hint(path))


def _out_of_range(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    words = {
        "minimum": "at least",
        "exclusiveMinimum": "more than",
        "maximum": "at most",
        "exclusiveMaximum": "less than",
    }
    bound = f"{words.get(str(error.validator), 'within')} {_shown(error.validator_value)}"
    yield Diagnostic.error(
        _code(error, "SC113"),
        doc.span(path),
        f"{_subject(doc.data, path)} must be {bound}, not {_shown(error.instance)}",
    )


def _not_allowed(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    if error.validator == "const":
        allowed = _shown(error.validator_value)
    else:
        allowed = "one of " + ", ".join(_shown(v) for v in _values(error))
    yield Diagnostic.error(
        _code(error, "SC113"),
        doc.span(path),
        f"{_subject(doc.data, path)} must be {allowed}, not {_shown(error.instance)}",
    )


def _forbidden(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    """A `not`: either two spellings of one key, or a value that is excluded."""
    negated = error.validator_value if isinstance(error.validator_value, Mapping) else {}
    schema_path = list(error.relative_schema_path)
    if "required" in negated and schema_path[-3:-2] == ["dependentSchemas"]:
        key = schema_path[-2]
        first, second = sorted([str(key), *map(str, negated["required"])])
        yield Diagnostic.error(
            _code(error, "SC113"),
            doc.key_span((*path, key)),
            f"{_owner(doc.data, path)} has both {first!r} and {second!r}",
            hint="they are two spellings of the same key; keep one",
        )
        return
    values = [negated["const"]] if "const" in negated else list(negated.get("enum", []))
    excluded = " or ".join(_shown(v) for v in values) or _shown(error.instance)
    yield Diagnostic.error(
        _code(error, "SC113"),
        doc.span(path),
        f"{_subject(doc.data, path)} must not be {excluded}",
        _value_hint(path),
    )


def _alternatives(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    """An `anyOf`/`oneOf`: name the keys when each choice is a required key, else the best."""
    context = list(error.context or [])
    if context and all(e.validator == "required" for e in context):
        keys = [str(key) for e in context for key in _values(e)]
        yield Diagnostic.error(
            _code(error, "SC112"),
            doc.span(path),
            f"{_owner(doc.data, path)} needs one of the keys {join_or(map(_quoted, keys))}",
        )
        return
    from jsonschema.exceptions import best_match

    best = best_match(context)
    if best is None:
        yield from _other(doc, error, path)
    else:
        yield from _diagnose(doc, best)


def _other(doc: Document, error: ValidationError, path: JsonPath) -> Iterator[Diagnostic]:
    yield Diagnostic.error(
        _code(error, "SC113"),
        doc.span(path),
        f"{_subject(doc.data, path)} has a value that is not allowed here",
    )


def _value_hint(path: JsonPath) -> str | None:
    """A hint for a value that is empty or excluded, where the value's place suggests one."""
    if len(path) == 3 and path[0] == "storages" and path[2] == "configuration":
        return _STORAGE_CONFIGURATION_HINT
    if path[:2] == ("global", "allow"):
        return "write a code as diagnostics show it, e.g. SC502"
    return None


_HANDLERS: Mapping[str, Handler] = {
    "additionalProperties": _unknown_keys,
    "type": _wrong_type,
    "required": _missing_keys,
    "minItems": _empty,
    "minProperties": _empty,
    "minLength": _bad_string,
    "pattern": _bad_string,
    "minimum": _out_of_range,
    "exclusiveMinimum": _out_of_range,
    "maximum": _out_of_range,
    "exclusiveMaximum": _out_of_range,
    "enum": _not_allowed,
    "const": _not_allowed,
    "not": _forbidden,
    "anyOf": _alternatives,
    "oneOf": _alternatives,
}


# --- naming places in the document ----------------------------------------------------------


def _subject(data: Any, path: JsonPath) -> str:
    """Plain words for the value at `path`, e.g. "'max_retry' in task 'fetch'"."""
    named = _named(data, path)
    if named is not None:
        return named
    parent, last = path[:-1], path[-1]
    if isinstance(last, int):
        return f"item #{last + 1} of {_subject(data, parent)}"
    if not parent:
        return f"{_quoted(last)} at the top level"
    return f"{_quoted(last)} in {_owner(data, parent)}"


def _owner(data: Any, path: JsonPath) -> str:
    """Plain words for the mapping at `path`, e.g. "task 'fetch'" or "'cache' of flow 'f'"."""
    named = _named(data, path)
    if named is not None:
        return named
    parent, last = path[:-1], path[-1]
    if isinstance(last, int):
        return f"item #{last + 1} of {_subject(data, parent)}"
    if not parent:
        return f"{_quoted(last)} at the top level"
    return f"{_quoted(last)} of {_owner(data, parent)}"


def _named(data: Any, path: JsonPath) -> str | None:
    """The names users know places by: "task 'fetch'", "edge #2 of flow 'f'", conditions...

    Positions in lists are 1-based ("#1" is the first), as in the messages of later stages.
    """
    if not path:
        return "the top level"
    if path == ("global",):
        return "the global section"
    if len(path) == 3 and path[:2] == ("global", "trace") and isinstance(path[2], int):
        return f"trace entry #{path[2] + 1} of the global section"
    if len(path) == 2 and isinstance(path[1], int) and path[0] in _NAMED_LISTS:
        kind, unnamed = _NAMED_LISTS[str(path[0])]
        name = _at(data, (*path, "name"))
        if isinstance(name, str) and name:
            return f"{kind} {_quoted(_clip(name))}"
        return f"{unnamed} #{path[1] + 1}"
    if len(path) == 4 and path[0] == "flow-definitions" and isinstance(path[3], int):
        part = _FLOW_PARTS.get(str(path[2]))
        if part is not None:
            return f"{part} #{path[3] + 1} of {_named(data, path[:2])}"
    if len(path) >= 5 and path[4] == "condition":
        return _named_condition(data, path)
    return None


def _named_condition(data: Any, path: JsonPath) -> str | None:
    """Name the condition of an edge or failure, or a condition nested inside it."""
    part = _named(data, path[:4])
    if part is None:
        return None
    root = f"the condition of {part}"
    rest = path[5:]
    while rest:
        if rest[0] == "not":
            rest = rest[1:]
        elif rest[0] in ("and", "or") and len(rest) > 1 and isinstance(rest[1], int):
            rest = rest[2:]
        else:
            return None  # inside a predicate's arguments: not a condition
    return root if len(path) == 5 else f"a condition nested in {root}"


def _at(data: Any, path: JsonPath) -> Any:
    """The value at `path`, or None when the path does not exist."""
    for step in path:
        in_mapping = isinstance(data, Mapping) and step in data
        in_list = isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data)
        if not (in_mapping or in_list):
            return None
        data = data[step]
    return data


# --- describing values ----------------------------------------------------------------------


def _kind(value: Any) -> str:
    """The kind of a loaded value in plain words ("a string", "a date", "null", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, datetime.datetime):
        return "a date and time"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    kinds = {int: "an integer", float: "a number", str: "a string", dict: "a mapping"}
    for cls, word in kinds.items():
        if isinstance(value, cls):
            return word
    return "a list" if isinstance(value, (list, tuple)) else f"a {type(value).__name__}"


def _described(value: Any) -> str:
    """The kind of a value, with the value itself when it is a short scalar."""
    kind = _kind(value)
    if value is None or isinstance(value, (Mapping, list, tuple, bytes, bytearray)):
        return kind  # binary data would show as a Python repr
    return f"{kind} ({_shown(value)})"


def _shown(value: Any) -> str:
    """A value as a user would write it: JSON-like strings, YAML-like true/null/.nan."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return json.dumps(_clip(value), ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        return "a very large integer"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (Mapping, list, tuple)):
        return _kind(value)
    return _clip(str(value))


def _quoted(key: object) -> str:
    """A key or name in single quotes, as messages name them."""
    return repr(key) if isinstance(key, str) else repr(str(key))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _type_hint(value: Any, wanted: list[str]) -> str | None:
    """A hint for the common slip of quoting a number or a boolean."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if {"integer", "number"} & set(wanted) and _is_number(text):
        return "write the number without quotes"
    if "boolean" in wanted and text.lower() in ("true", "false"):
        return "write true or false without quotes"
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- output schema files of tasks -----------------------------------------------------------


def schema_path_problem(folder: str, path: str) -> str | None:
    """Why a task's `output_schema` path leads out of `folder` (the nodes file's), or None.

    Only files in the folder or below are read: the schema is embedded in the package and shown
    by `build --check`, so a path must not reach other files of the machine (SC513). Absolute
    paths are refused even inside the folder, so that the package does not depend on where the
    project lies. A relative path counts where it resolves, after symbolic links and `..`
    (`schemas/../x.json` is inside). Nothing is read here.

    Args:
        folder: the nodes file's directory ("" for the current one).
        path: the path as the YAML gives it.

    Returns:
        "is an absolute path", "goes up out of the nodes file's folder" or "leads out of the
        nodes file's folder through a symbolic link"; None when the path stays inside.
    """
    if os.path.isabs(path):
        return "is an absolute path"
    if "\0" in path:  # no file has such a name: SC506 says it does not exist
        return None
    root = os.path.realpath(folder or os.curdir)
    if _inside(root, os.path.realpath(os.path.join(root, path))):
        return None
    if not _inside(root, os.path.normpath(os.path.join(root, path))):
        return "goes up out of the nodes file's folder"
    return "leads out of the nodes file's folder through a symbolic link"


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def schema_file_problem(path: str) -> str | None:
    """What is wrong with a task's `output_schema` file, or None when it is a valid JSON Schema.

    Args:
        path: the file's path, already resolved by the caller.

    Returns:
        A short plain-words problem ("the file does not exist", ...), or None.
    """
    try:
        if not os.path.exists(path):
            return "the file does not exist"
        if not os.path.isfile(path):  # a directory, a FIFO, /dev/zero...
            return "it is not a regular file"
        if os.path.getsize(path) > _MAX_SCHEMA_BYTES:
            return f"the file is larger than {_MAX_SCHEMA_BYTES:,} bytes"
        with open(path, encoding="utf-8") as handle:
            text = handle.read(_MAX_SCHEMA_BYTES)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL in the path
        return f"the file cannot be read ({type(exc).__name__})"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"the file is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    except ValueError as exc:  # an integer too long for Python to read
        return f"the file cannot be read as JSON ({exc})"
    except RecursionError:
        return "the file is nested too deeply to be a JSON Schema"
    if not isinstance(data, (dict, bool)):
        return f"the file holds {_kind(data)}, not a JSON Schema (a mapping)"
    if isinstance(data, dict) and not isinstance(data.get("$schema", ""), str):
        return "its '$schema' is not a string"
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    cls = validator_for(data, default=Draft202012Validator)
    try:
        error = best_match(cls(cls.META_SCHEMA).iter_errors(data))
    except RecursionError:
        return "the file is nested too deeply to be a JSON Schema"
    if error is None:
        return None
    where = "/".join(str(step) for step in error.absolute_path)
    at = f"the value at {where!r}" if where else "the top level"
    return f"it is not a valid JSON Schema: {at} is not allowed ({_shown(error.instance)})"
