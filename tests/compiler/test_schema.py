"""The schema stage: the schema itself, and diagnostics that point at YAML in plain words."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from selinonc.compiler.diagnostics import CODES, Diagnostic
from selinonc.compiler.load import Document, load_text
from selinonc.compiler.schema import (
    NODE_NAME_PATTERN,
    load_schema,
    schema_file_problem,
    validate,
)
from selinonc.compiler.source import SourceFile

Found = list[tuple[str, int, int, str]]

FULL = """\
global:
  predicates_module: selinonc.runtime.predicates
  default_task_queue: "{PREFIX}_tasks"
  default_dispatcher_queue: dispatch
  migration_dir: migrations
  allow: [SC502]
  trace:
    - logging: true
    - json: true
    - function: {import: myapp.trace, name: on_event}
    - storage: {name: Results, method: trace}
    - sentry: {dsn: "{SENTRY_DSN}"}
storages:
  - name: Results
    import: selinonc.runtime.storages.memory
    classname: InMemoryStorage
    configuration: {echo: false}
    cache: {name: LRU, import: selinonc.runtime.caches, configuration: {max_cache_size: 10}}
tasks:
  - name: Fetch
    import: myapp.tasks
    classname: FetchTask
    storage: Results
    storage_readonly: false
    storage_task_name: FetchResult
    output_schema: schemas/fetch.json
    max_retry: 2
    retry_countdown: 5
    queue: fetch
    throttling: {weeks: 0, days: 0, hours: 0, minutes: 1, seconds: 2.5, milliseconds: 0,
                 microseconds: 0}
    selective_run_function: {name: always_run, import: myapp.selective}
  - name: Parse
    import: myapp.tasks
    storage: Results
    storage_read_only: true
    selective_run_function: {function: reuse, import: myapp.selective}
  - name: Report
    import: myapp.tasks
flows: [main, sub]
flow-definitions:
  - name: main
    edges:
      - from:
        to: Fetch
      - from: Fetch
        to: [Parse, sub]
        condition:
          or:
            - {name: fieldEqual, node: Fetch, args: {key: status, value: ok}}
            - and:
                - not: {name: argsFieldExist, args: {key: dry_run}}
                - {name: alwaysTrue}
      - from: [Parse]
        to: sub
        foreach: {import: myapp.foreach, function: items, propagate_result: true}
      - from: Parse
        to: sub
        selective: {tasks: [Report], follow_subflows: true, run_subsequent: [sub]}
    failures:
      - nodes: Fetch
        fallback: Report
        condition: {name: argsFieldExist, args: {key: retry}}
        propagate_failure: false
      - nodes: [Parse, sub]
        fallback: true
    nowait: Report
    eager_failures: [Parse]
    node_args_from_first: false
    propagate_node_args: false
    propagate_parent: [sub]
    propagate_finished: sub
    propagate_compound_finished: null
    propagate_failures: true
    propagate_compound_failures: false
    propagate_parent_failures: [sub]
    max_retry: 1
    retry_countdown: 10
    queue: dispatch_main
    sampling: {name: constant, import: selinonc.runtime.strategies, args: {retry: 2}}
    throttling: {seconds: 1}
    cache: {name: LRU, import: selinonc.runtime.caches, configuration: {max_cache_size: 5}}
  - name: sub
    eager_failures: true
    edges:
      - {from: '', to: Report}
      - {from: [], to: [Report, Report]}
"""


def _doc(text: str) -> Document:
    doc, problems = load_text(SourceFile("f.yaml", text))
    assert problems == []
    assert doc is not None
    return doc


def _found(text: str) -> Found:
    return [(d.code, d.span.line, d.span.col, d.message) for d in validate(_doc(text))]


def _subschemas(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in the schema, the root included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subschemas(value)


def _keys(data: Any) -> set[str]:
    """Every mapping key in loaded data, at any depth."""
    if isinstance(data, dict):
        return set(data).union(*(_keys(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(_keys(v) for v in data))
    return set()


# --- the schema itself ----------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema_without_outside_references() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    refs = [s["$ref"] for s in _subschemas(schema) if "$ref" in s]
    assert refs
    assert all(ref.startswith("#/$defs/") for ref in refs)
    assert load_schema() is schema


def test_every_object_is_closed_and_every_property_is_described() -> None:
    for sub in _subschemas(load_schema()):
        properties = sub.get("properties")
        if not isinstance(properties, dict):
            continue
        assert sub.get("additionalProperties") is False, sorted(properties)
        for name, prop in properties.items():
            assert isinstance(prop.get("description"), str) and prop["description"], name


def test_top_level_allows_exactly_the_five_sections_all_optional() -> None:
    schema = load_schema()
    assert sorted(schema["properties"]) == [
        "flow-definitions",
        "flows",
        "global",
        "storages",
        "tasks",
    ]
    assert "required" not in schema
    assert _found("flows: [f]\n") == []


def test_node_name_pattern_is_the_one_messages_explain() -> None:
    assert load_schema()["$defs"]["node_name"]["pattern"] == NODE_NAME_PATTERN


def test_custom_codes_are_known_codes() -> None:
    codes = {s["x-selinonc-code"] for s in _subschemas(load_schema()) if "x-selinonc-code" in s}
    assert codes == {"SC616", "SC617"}
    assert codes <= set(CODES)


# --- valid input ----------------------------------------------------------------------------


def test_full_configuration_using_every_key_validates_clean() -> None:
    doc = _doc(FULL)
    assert validate(doc) == []
    names = {n for s in _subschemas(load_schema()) for n in s.get("properties", {})}
    assert names - _keys(doc.data) == set(), "FULL should use every key of the language"


@pytest.mark.parametrize(
    "text",
    [
        "tasks:\n  - {name: A, import: m, storage_readonly: true}\n",
        "tasks:\n  - {name: A, import: m, storage_read_only: true}\n",
        "tasks:\n  - {name: A, import: m, selective_run_function: {name: f, import: m}}\n",
        "tasks:\n  - {name: A, import: m, selective_run_function: {function: f, import: m}}\n",
        "tasks:\n  - {name: A, import: m, selective_run_function: {function: f}}\n",
        "tasks:\n  - {name: A, import: m, selective_run_function: null, queue: null}\n",
    ],
)
def test_both_spellings_are_accepted(text: str) -> None:
    assert _found(text) == []


@pytest.mark.parametrize(
    "edge",
    ["{from: null, to: A}", "{from: '', to: A}", "{from: [], to: A}", "{from: [A, B], to: [C, C]}"],
)
def test_starting_edges_and_repeated_destinations_are_accepted(edge: str) -> None:
    assert _found(f"flow-definitions:\n  - name: f\n    edges:\n      - {edge}\n") == []


@pytest.mark.parametrize(
    "option",
    [
        "nowait: null",
        "failures: []",
        "failures: null",
        "eager_failures: true",
        "eager_failures: [A, B]",
        "propagate_parent: null",
        "propagate_finished: [f2]",
        "sampling: null",
        "throttling: {}",
        "retry_countdown: 0",
    ],
)
def test_flow_options_the_predecessor_accepts_validate(option: str) -> None:
    edges = "    edges:\n      - {from: '', to: A}\n"
    text = f"flow-definitions:\n  - name: f\n    {option}\n" + edges
    assert _found(text) == []


@pytest.mark.parametrize("configuration", ["{host: x}", "redis://x", "[a]", "1", "true"])
def test_storage_configuration_may_be_any_non_empty_value(configuration: str) -> None:
    text = f"storages:\n  - {{name: S, import: m, configuration: {configuration}}}\n"
    assert _found(text) == []


@pytest.mark.parametrize(
    "storage",
    [
        "{name: M, import: selinonc.runtime.storages.memory, classname: InMemoryStorage}",
        "{name: M, import: selinon.storages.memory, classname: InMemoryStorage}",
        "{name: InMemoryStorage, import: selinon.storages.memory}",
    ],
)
def test_the_in_memory_storage_may_leave_its_configuration_out(storage: str) -> None:
    assert _found(f"storages:\n  - {storage}\n") == []


@pytest.mark.parametrize(
    "storage",
    [
        "{name: M, import: selinonc.runtime.storages.filesystem, classname: Filesystem}",
        "{name: M, import: selinon.storages.memory, classname: Memory}",
        "{name: M, import: myapp.storages, classname: InMemoryStorage}",
        "{name: InMemoryStorage, import: selinon.storages.memory, classname: Other}",
    ],
)
def test_other_storages_need_a_configuration(storage: str) -> None:
    found = _found(f"storages:\n  - {storage}\n")
    assert [(code, message.rsplit(" ", 1)[-1]) for code, *_, message in found] == [
        ("SC112", "'configuration'")
    ]


@pytest.mark.parametrize(
    ("allow", "problem"),
    [
        (
            "[sc502]",
            "SC113 2:11 item #1 of 'allow' in the global section does not have the required "
            'form: "sc502"',
        ),
        (
            "SC502",
            "SC111 2:10 'allow' in the global section must be a list, not a string (\"SC502\")",
        ),
    ],
)
def test_global_allow_is_a_list_of_codes(allow: str, problem: str) -> None:
    assert [
        f"{c} {line}:{col} {m}" for c, line, col, m in _found(f"global:\n  allow: {allow}\n")
    ] == [problem]


# --- broken input: exact code, line, column and message --------------------------------------

BROKEN: list[tuple[str, str, list[str]]] = [
    (
        "unknown-task-key",
        "tasks:\n  - name: fetch\n    import: m\n    retries: 3\n",
        [
            "SC110 4:5 unknown key 'retries' in task 'fetch'",
        ],
    ),
    (
        "unknown-top-level-key",
        "tsks: []\n",
        [
            "SC110 1:1 unknown key 'tsks' at the top level",
        ],
    ),
    (
        "wrong-type",
        'tasks:\n  - name: fetch\n    import: m\n    max_retry: "3"\n',
        [
            "SC111 4:16 'max_retry' in task 'fetch' must be an integer or null, "
            'not a string ("3")',
        ],
    ),
    (
        "wrong-type-boolean",
        "tasks:\n  - {name: fetch, import: m, storage_readonly: 1}\n",
        [
            "SC111 2:48 'storage_readonly' in task 'fetch' must be true or false, not an integer "
            "(1)",
        ],
    ),
    (
        "negative-task-retry",
        "tasks:\n  - {name: fetch, import: m, max_retry: -1}\n",
        [
            "SC113 2:41 'max_retry' in task 'fetch' must be at least 0, not -1",
        ],
    ),
    (
        "missing-key",
        "tasks:\n  - name: fetch\n    classname: Fetch\n",
        [
            "SC112 2:5 task 'fetch' is missing the required key 'import'",
        ],
    ),
    (
        "missing-name-of-unnamed-task",
        "tasks:\n  - import: m\n",
        [
            "SC112 2:5 task #1 is missing the required key 'name'",
        ],
    ),
    (
        "bad-node-name",
        "flows: [ok, 2fast]\n",
        [
            "SC113 1:13 item #2 of 'flows' at the top level must be a name made of letters, digits "
            'and underscores that does not start with a digit, not "2fast"',
        ],
    ),
    (
        "missing-from",
        "flow-definitions:\n  - name: f\n    edges:\n      - to: A\n",
        [
            "SC112 4:9 edge #1 of flow 'f' is missing the required key 'from'",
        ],
    ),
    (
        "empty-to",
        "flow-definitions:\n  - name: f\n    edges:\n      - {from: A, to: []}\n",
        [
            "SC114 4:23 'to' in edge #1 of flow 'f' must not be an empty list",
        ],
    ),
    (
        "empty-string-to",
        "flow-definitions:\n  - name: f\n    edges:\n      - {from: A, to: ''}\n",
        [
            "SC113 4:23 'to' in edge #1 of flow 'f' must not be an empty string",
        ],
    ),
    (
        "no-edges",
        "flow-definitions:\n  - name: f\n    edges: []\n",
        [
            "SC114 3:12 'edges' in flow 'f' must not be an empty list",
        ],
    ),
    (
        "empty-and",
        "flow-definitions:\n  - name: f\n    edges:\n      - from: A\n        to: B\n"
        "        condition: {and: []}\n",
        [
            "SC114 6:26 'and' in the condition of edge #1 of flow 'f' must not be an empty list",
        ],
    ),
    (
        "null-condition",
        "flow-definitions:\n  - name: f\n    edges:\n      - from: A\n        to: B\n"
        "        condition: null\n",
        [
            "SC111 6:20 the condition of edge #1 of flow 'f' must be a mapping, not null",
        ],
    ),
    (
        "condition-without-a-kind",
        "flow-definitions:\n  - name: f\n    edges:\n      - from: A\n        to: B\n"
        "        condition: {node: A}\n",
        [
            "SC112 6:20 the condition of edge #1 of flow 'f' needs one of the keys 'name', 'and', "
            "'or' or 'not'",
        ],
    ),
    (
        "not-takes-one-condition",
        "flow-definitions:\n  - name: f\n    edges:\n      - from: A\n        to: B\n"
        "        condition: {not: [{name: alwaysTrue}]}\n",
        [
            "SC111 6:26 a condition nested in the condition of edge #1 of flow 'f' must be a "
            "mapping, not a list",
        ],
    ),
    (
        "predicate-with-a-composite-key",
        "flow-definitions:\n  - name: f\n    edges:\n      - from: A\n        to: B\n"
        "        condition: {name: alwaysTrue, or: []}\n",
        [
            "SC110 6:39 unknown key 'or' in the condition of edge #1 of flow 'f'",
        ],
    ),
    (
        "nested-typo",
        "flow-definitions:\n  - name: f\n    edges:\n      - from: A\n        to: B\n"
        "        condition: {or: [{nme: x}]}\n",
        [
            "SC112 6:26 a condition nested in the condition of edge #1 of flow 'f' needs one of "
            "the keys 'name', 'and', 'or' or 'not'",
            "SC110 6:27 unknown key 'nme' in a condition nested in the condition of edge #1 of "
            "flow 'f'",
        ],
    ),
    (
        "fallback-false",
        "flow-definitions:\n  - name: f\n    edges: [{from: '', to: A}]\n"
        "    failures:\n      - nodes: A\n        fallback: false\n",
        [
            "SC113 6:19 'fallback' in failure #1 of flow 'f' must not be false",
        ],
    ),
    (
        "failure-without-fallback",
        "flow-definitions:\n  - name: f\n    edges: [{from: '', to: A}]\n"
        "    failures:\n      - nodes: [A]\n",
        [
            "SC112 5:9 failure #1 of flow 'f' is missing the required key 'fallback'",
        ],
    ),
    (
        "trace-null",
        "global:\n  trace: null\n",
        [
            "SC111 2:10 'trace' in the global section must be a boolean, a mapping or a list, not "
            "null",
        ],
    ),
    (
        "trace-true",
        "global:\n  trace: true\n",
        [
            "SC113 2:10 'trace' in the global section must not be true",
        ],
    ),
    (
        "trace-entry-typo",
        "global:\n  trace:\n    - logging: true\n    - storage: {name: S, methd: x}\n",
        [
            "SC110 4:26 unknown key 'methd' in 'storage' of trace entry #2 of the global section",
        ],
    ),
    (
        "throttling-bad-key",
        "tasks:\n  - name: fetch\n    import: m\n    throttling: {secs: 10}\n",
        [
            "SC110 4:18 unknown key 'secs' in 'throttling' of task 'fetch'",
        ],
    ),
    (
        "throttling-string",
        "tasks:\n  - name: fetch\n    import: m\n    throttling: {seconds: '10'}\n",
        [
            "SC111 4:27 'seconds' in 'throttling' of task 'fetch' must be a number, not a string "
            '("10")',
        ],
    ),
    (
        "throttling-negative",
        "tasks:\n  - name: fetch\n    import: m\n    throttling: {minutes: -1}\n",
        [
            "SC617 4:27 'minutes' in 'throttling' of task 'fetch' must be at least 0, not -1",
        ],
    ),
    (
        "negative-flow-retry",
        "flow-definitions:\n  - name: f\n    max_retry: -1\n    retry_countdown: -5\n"
        "    edges: [{from: '', to: A}]\n",
        [
            "SC617 3:16 'max_retry' in flow 'f' must be at least 0, not -1",
            "SC617 4:22 'retry_countdown' in flow 'f' must be at least 0, not -5",
        ],
    ),
    (
        "flow-retry-string",
        "flow-definitions:\n  - name: f\n    max_retry: many\n    edges: [{from: '', to: A}]\n",
        [
            "SC111 3:16 'max_retry' in flow 'f' must be an integer, not a string (\"many\")",
        ],
    ),
    (
        "node-args-from-first-not-bool",
        "flow-definitions:\n  - name: f\n    node_args_from_first: 1\n"
        "    edges: [{from: '', to: A}]\n",
        [
            "SC616 3:27 'node_args_from_first' in flow 'f' must be true or false, not an integer "
            "(1)",
        ],
    ),
    (
        "both-readonly-spellings",
        "tasks:\n  - name: fetch\n    import: m\n    storage_readonly: true\n"
        "    storage_read_only: true\n",
        [
            "SC113 5:5 task 'fetch' has both 'storage_read_only' and 'storage_readonly'",
        ],
    ),
    (
        "both-selective-function-spellings",
        "tasks:\n  - name: fetch\n    import: m\n"
        "    selective_run_function: {name: a, function: b}\n",
        [
            "SC113 4:39 'selective_run_function' of task 'fetch' has both 'function' and 'name'",
        ],
    ),
    (
        "storage-configuration",
        "storages:\n  - {name: A, import: m, configuration: {}}\n"
        "  - {name: B, import: m, configuration: 0}\n  - {name: C, import: m}\n",
        [
            "SC114 2:41 'configuration' in storage 'A' must not be an empty mapping",
            "SC113 3:41 'configuration' in storage 'B' must not be false or 0",
            "SC112 4:5 storage 'C' is missing the required key 'configuration'",
        ],
    ),
    (
        "sampling-without-name",
        "flow-definitions:\n  - name: f\n    sampling: {args: {retry: 1}}\n"
        "    edges: [{from: '', to: A}]\n",
        [
            "SC112 3:15 'sampling' of flow 'f' is missing the required key 'name'",
        ],
    ),
    (
        "foreach-typo",
        "flow-definitions:\n  - name: f\n    edges:\n"
        "      - {from: A, to: B, foreach: {import: m, function: f, propagate: true}}\n",
        [
            "SC110 4:60 unknown key 'propagate' in 'foreach' of edge #1 of flow 'f'",
        ],
    ),
    (
        "non-json-values",
        "tasks:\n  - name: fetch\n    import: m\n    max_retry: 2024-01-31\n"
        "    retry_countdown: .nan\n",
        [
            "SC111 4:16 'max_retry' in task 'fetch' must be an integer or null, "
            "not a date (2024-01-31)",
            "SC111 5:22 'retry_countdown' in task 'fetch' must be an integer or null, "
            "not a number (.nan)",
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_snippet_gives_exact_diagnostics(text: str, expected: list[str]) -> None:
    assert [
        f"{code} {line}:{col} {message}" for code, line, col, message in _found(text)
    ] == expected


STORAGE_CONFIGURATION_HINT = (
    "give the keyword arguments of the storage's class, e.g. `configuration: {url: "
    "'redis://localhost:6379/0'}`; only the in-memory storage (InMemoryStorage) may leave "
    "`configuration` out"
)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("tasks:\n  - {name: A, import: m, max_retries: 1}\n", "did you mean 'max_retry'?"),
        ("tsks: []\n", "did you mean 'tasks'?"),
        ("tasks:\n  - {name: A, import: m, throttling: {secs: 1}}\n", "did you mean 'seconds'?"),
        (
            "storages:\n  - {name: S, import: m, configuration: 1, cache: {size: 1}}\n",
            "known keys here: configuration, import, name",
        ),
        (
            "flow-definitions:\n  - {name: f, edges: [{from: A, to: B}], max_retry: '2'}\n",
            "write the number without quotes",
        ),
        (
            "flow-definitions:\n  - {name: f, edges: [{to: B}]}\n",
            "write `from: []` for a starting edge",
        ),
        ("storages:\n  - {name: S, import: m}\n", STORAGE_CONFIGURATION_HINT),
        ("storages:\n  - {name: S, import: m, configuration: {}}\n", STORAGE_CONFIGURATION_HINT),
        ("storages:\n  - {name: S, import: m, configuration: ''}\n", STORAGE_CONFIGURATION_HINT),
        ("storages:\n  - {name: S, import: m, configuration: 0}\n", STORAGE_CONFIGURATION_HINT),
    ],
)
def test_hints(text: str, hint: str) -> None:
    (diagnostic,) = validate(_doc(text))
    assert diagnostic.hint == hint


def test_a_top_level_that_is_not_a_mapping_is_a_type_error() -> None:
    doc = Document(SourceFile("f.yaml", "- a\n"), ["a"], {}, {})
    assert [(d.code, d.message) for d in validate(doc)] == [
        ("SC111", "the top level must be a mapping, not a list"),
    ]


# --- never raises ---------------------------------------------------------------------------

ODD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**300), 2**300),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.dates(),
    st.datetimes(),
    st.sampled_from(["name", "and", "or", "not", "", "A", "2x", "-1"]),
    st.just(math.inf),
    st.builds(pow, st.just(10), st.just(5000)),
)
KEYS = st.sampled_from(
    [
        "tasks",
        "flows",
        "storages",
        "global",
        "flow-definitions",
        "name",
        "import",
        "edges",
        "from",
        "to",
        "condition",
        "and",
        "or",
        "not",
        "args",
        "node",
        "failures",
        "nodes",
        "fallback",
        "trace",
        "throttling",
        "seconds",
        "max_retry",
        "selective",
        "x",
    ]
)
ODD_DATA = st.recursive(
    ODD_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(KEYS | st.integers(0, 2) | st.none(), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.dictionaries(KEYS, ODD_DATA, max_size=5) | ODD_DATA)
def test_any_data_gives_sorted_unique_diagnostics_and_never_raises(data: Any) -> None:
    doc = Document(SourceFile("f.yaml", ""), data, {}, {})
    found = validate(doc)
    assert found == sorted(set(found), key=Diagnostic.sort_key)
    assert all(d.code in CODES and d.message for d in found)
    assert not any("{'" in d.message or "validator" in d.message for d in found)


# --- output schema files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "the file does not exist"),
        (
            '{"type": "object"',
            "the file is not valid JSON (Expecting ',' delimiter at line 1, column 18)",
        ),
        ("[1]", "the file holds a list, not a JSON Schema (a mapping)"),
        (
            '{"type": "objekt"}',
            "it is not a valid JSON Schema: the value at 'type' is not allowed (\"objekt\")",
        ),
        ('{"type": "object", "required": ["url"]}', None),
        ("true", None),
        ('{"$schema": "https://example.com/unknown-dialect", "type": "string"}', None),
        (json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "items": [{}]}), None),
    ],
)
def test_schema_file_problem(tmp_path: Path, content: str | None, problem: str | None) -> None:
    path = tmp_path / "out.json"
    if content is not None:
        path.write_text(content)
    assert schema_file_problem(str(path)) == problem
