"""Safety of generated code: YAML strings reach it as inert literals or are rejected.

Every hostile string is put in every place a YAML string reaches generated code. Each build
either reports an error diagnostic, or gives a package that imports and holds the string exactly
(and never runs it: the payloads would create a file).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selinonc.compiler import emit
from tests.buildkit import build, errors, imported

PAYLOAD = "__import__('pathlib').Path('PWNED').touch()"
HOSTILE = [
    "it's",
    'say "hi"',
    "both ' and \"",
    '"""',
    "'''",
    '""" + ' + PAYLOAD + ' + """',
    "line one\nline two",
    "carriage\rreturn",
    "tab\tand form\x0cfeed",
    "back\\slash\\",
    "trailing backslash \\",
    "nul \x00 byte",
    PAYLOAD,
    '"); ' + PAYLOAD + '; ("',
    "\n" + PAYLOAD + "\n#",
    "# a comment?",
    "é ü 日本語 🎉",
    "right\u202eto-left override",
    "line\u2028separator",
    "x" * 100_000,
    "",
]
BRACES = ["{", "}", "{ENV_THAT_IS_NOT_SET_ANYWHERE}", "{__import__('os')}", "{0}", "{a.b}"]


def _yaml(value: Any) -> str:
    """A YAML scalar for `value`: JSON's double-quoted strings are YAML too.

    Non-ASCII characters stay as they are (YAML's `\\u` escapes cannot pair surrogates), except
    the ones YAML 1.1 reads as line breaks.
    """
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\x85")


def _config(place: str, value: str) -> str:
    """A configuration that puts `value` in `place`."""
    task_queue = _yaml(value) if place == "task queue" else '"tasks"'
    flow_queue = _yaml(value) if place == "flow queue" else '"dispatch"'
    migration = f"\n  migration_dir: {_yaml(value)}" if place == "migration_dir" else ""
    sentry = f"\n  trace:\n    sentry:\n      dsn: {_yaml(value)}" if place == "sentry" else ""
    alias = f"\n    storage_task_name: {_yaml(value)}" if place == "storage_task_name" else ""
    conf_key = _yaml(value) if place == "configuration key" else '"plain"'
    conf_value = _yaml(value) if place == "configuration value" else '"x"'
    positional = place == "positional configuration"
    configuration = _yaml(value) if positional else f"{{{conf_key}: {conf_value}}}"
    arg = _yaml(value) if place == "predicate argument" else '"ok"'
    sampling = (
        f"\n    sampling: {{name: constant, args: {{retry: {_yaml(value)}}}}}"
        if place == "sampling argument"
        else ""
    )
    return f"""global:
  default_task_queue: "tasks"{migration}{sentry}
storages:
  - name: Store
    import: tests.injection_support
    classname: Recorder
    configuration: {configuration}
tasks:
  - name: A
    import: tests.injection_support
    classname: Recorder
    storage: Store
    queue: {task_queue}{alias}
  - name: B
    import: tests.injection_support
    classname: Recorder
flows: [main]
flow-definitions:
  - name: main
    queue: {flow_queue}{sampling}
    edges:
      - {{from: [], to: A}}
      - from: A
        to: B
        condition: {{name: fieldEqual, args: {{key: {arg}, value: {arg}}}}}
"""


PLACES = [
    "task queue",
    "flow queue",
    "migration_dir",
    "sentry",
    "storage_task_name",
    "configuration key",
    "configuration value",
    "positional configuration",
    "predicate argument",
    "sampling argument",
]


def _read_back(system: Any, place: str) -> Iterator[Any]:
    """The value the package holds in `place`."""
    task, flow = system.task("A"), system.flow("main")
    if place == "task queue":
        yield task.queue
    elif place == "flow queue":
        yield flow.queue
    elif place == "migration_dir":
        yield system.settings.migration_dir
    elif place == "sentry":
        yield system.settings.tracers[0].dsn
    elif place == "storage_task_name":
        yield task.stored_as
    elif place == "configuration key":
        yield from system.storage("Store").create().kwargs
    elif place == "configuration value":
        yield system.storage("Store").create().kwargs["plain"]
    elif place == "positional configuration":
        yield system.storage("Store").create().args[0]
    elif place == "predicate argument":
        edge = flow.edges[1]
        probe = {"A": {PLACE_VALUE[0]: PLACE_VALUE[0]}}
        assert edge.condition(probe, None) is True  # reads the field named by the value
        assert edge.condition({"A": {}}, None) is False
        yield PLACE_VALUE[0]
    elif place == "sampling argument":
        yield flow.sampling.args["retry"]


PLACE_VALUE: list[str] = [""]
PLACEHOLDER_PLACES = frozenset({"task queue", "flow queue", "migration_dir", "sentry"})


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("value", HOSTILE + BRACES, ids=lambda v: repr(v)[:30])
def test_a_hostile_string_is_rejected_or_kept_as_an_inert_literal(
    place: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flows.yaml").write_text(_config(place, value), encoding="utf-8")
    result = build("flows.yaml", out_dir=tmp_path / "pkg")
    if result.files is None:
        assert errors(result), "a build without files must say why"
        return
    emit.write(result.files, str(tmp_path / "pkg"))
    PLACE_VALUE[0] = value
    # An empty queue or storage_task_name means the default, as in the predecessor (§8, 18).
    defaults = {"task queue": "tasks", "flow queue": "celery", "storage_task_name": "A"}
    expected = defaults.get(place, value) if value == "" else value
    if place in PLACEHOLDER_PLACES:  # `{VAR}` there is a placeholder, resolved at import
        monkeypatch.setenv("ENV_THAT_IS_NOT_SET_ANYWHERE", "resolved")
        expected = expected.replace("{ENV_THAT_IS_NOT_SET_ANYWHERE}", "resolved")
    with imported(tmp_path, "pkg", Path(__file__).parent.parent) as package:
        assert list(_read_back(package.SYSTEM, place)) == [expected]
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("value", BRACES[:2] + BRACES[3:])
def test_malformed_placeholders_are_rejected_before_code_generation(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flows.yaml").write_text(_config("task queue", value), encoding="utf-8")
    result = build("flows.yaml")
    assert result.files is None
    assert [d.code for d in errors(result)] == ["SC621"]


@pytest.mark.parametrize("value", [PAYLOAD, "a.b; import os", "os\nimport sys", "x y", "1abc"])
@pytest.mark.parametrize("key", ["name", "import", "classname"])
def test_hostile_names_are_rejected(
    key: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    task_b = "  - name: B\n    import: tests.injection_support\n    classname: Recorder"
    written = {"name": "name: B", "import": "import: tests.injection_support"}
    line = written.get(key, "classname: Recorder")
    hostile_b = task_b.replace(line, f"{key}: {_yaml(value)}")
    config = _config("task queue", "tasks").replace(task_b, hostile_b)
    assert config.count(_yaml(value)) == 1
    (tmp_path / "flows.yaml").write_text(config, encoding="utf-8")
    result = build("flows.yaml")
    assert result.files is None
    assert {d.code for d in errors(result)} & {"SC113", "SC211"}  # schema pattern or name check
    assert not (tmp_path / "PWNED").exists()
