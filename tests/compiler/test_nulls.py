"""Null anywhere: every value of a configuration that uses every key, set to null in turn,
gives diagnostics or a package, never an exception (`selinonc check` prints no traceback)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from selinonc.compiler import pipeline

RICH = """
tasks:
  - name: Fetch
    import: myapp.tasks
    classname: FetchTask
    storage: Files
    storage_task_name: fetched
    output_schema: schema.json
    queue: "{PREFIX}_fetch"
    max_retry: 2
    retry_countdown: 3
    throttling: {seconds: 2}
    selective_run_function: {name: always_run, import: selinon.routines}
  - {name: Store, import: myapp.tasks, storage: Redis}
  - {name: Keep, import: myapp.tasks, storage: Sql}
storages:
  - name: Files
    import: selinonc.runtime.storages.filesystem
    classname: Filesystem
    configuration: {path: /tmp/results}
    cache: {name: LRU, import: selinon.caches, configuration: {max_cache_size: 3}}
  - name: Redis
    import: selinonc.runtime.storages.redis
    classname: RedisStorage
    configuration: {url: "redis://localhost/0", key_prefix: "r:", expire: 10}
  - name: Sql
    import: selinonc.runtime.storages.sql
    classname: SQLStorage
    configuration: {url: "sqlite:///r.db", table: results}
  - name: Mem
    import: selinon.storages.memory
    classname: InMemoryStorage
    configuration: {echo: false}
global:
  predicates_module: selinon.predicates
  default_task_queue: tasks
  default_dispatcher_queue: dispatch
  migration_dir: migrations
  trace:
    - logging: true
    - sentry: {dsn: "http://key@sentry/1"}
    - storage: {name: Mem, method: trace}
flows: [main, sub]
flow-definitions:
  - name: main
    queue: main_queue
    propagate_node_args: [sub]
    propagate_parent: [sub]
    max_retry: 1
    retry_countdown: 1
    sampling: {name: constant, import: selinon.strategies, args: {retry: 2}}
    cache: {name: LRU, import: selinon.caches, configuration: {max_cache_size: 3}}
    edges:
      - {from: null, to: Fetch}
      - from: Fetch
        to: Store
        condition:
          and:
            - {name: fieldEqual, node: Fetch, args: {key: a, value: 1}}
            - not: {name: argsFieldExist, args: {key: [a, b]}}
            - {name: httpStatus, args: {host: h, path: /p, status: 200}}
      - {from: Store, to: Keep}
      - from: Fetch
        to: sub
        foreach: {import: myapp.each, function: items, propagate_result: false}
    failures:
      - {nodes: [Fetch], fallback: [Keep], condition: {name: envExist, args: {env: X}}}
  - name: sub
    edges:
      - {from: [], to: [Store]}
"""


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield from _paths(value, (*path, key))


PATHS = list(_paths(yaml.safe_load(RICH)))


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value


def test_the_configuration_itself_checks_clean(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text('{"type": "object"}')
    (tmp_path / "flows.yaml").write_text(RICH)
    result = pipeline.check([str(tmp_path / "flows.yaml")])
    assert result.ok, [d.code for d in result.diagnostics]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: ".".join(map(str, p)))
def test_null_gives_diagnostics_never_an_exception(tmp_path: Path, path: tuple[Any, ...]) -> None:
    data = yaml.safe_load(RICH)
    _set(data, path, None)
    (tmp_path / "schema.json").write_text('{"type": "object"}')
    (tmp_path / "flows.yaml").write_text(yaml.safe_dump(copy.deepcopy(data)))
    files = [str(tmp_path / "flows.yaml")]
    pipeline.check(files)
    pipeline.build_package(files)


@pytest.mark.parametrize(
    ("storage", "key"),
    [(0, "path"), (1, "key_prefix"), (2, "url"), (2, "table")],
)
def test_null_for_a_value_a_storage_needs_names_the_key(
    tmp_path: Path, storage: int, key: str
) -> None:
    data = yaml.safe_load(RICH)
    data["storages"][storage]["configuration"][key] = None
    (tmp_path / "schema.json").write_text('{"type": "object"}')
    (tmp_path / "flows.yaml").write_text(yaml.safe_dump(data))
    found = pipeline.check([str(tmp_path / "flows.yaml")]).diagnostics
    assert [(d.code, d.message.split(" ", 1)[0]) for d in found if d.code == "SC520"] == [
        ("SC520", f"`{key}`")
    ]
