"""`selinonc build`: the examples' packages, their tables against the YAML, --check, file safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from selinonc.compiler import emit
from selinonc.runtime.tables import System
from tests.buildkit import (
    EXAMPLE_ENV,
    EXAMPLE_PACKAGES,
    EXAMPLES,
    build_files,
    imported,
    selinonc,
    write_package,
)


def _example_package_dir(example: str) -> Path:
    return EXAMPLES / example / Path(*EXAMPLE_PACKAGES[example].split("."))


def _names(value: Any) -> list[str]:
    """A YAML node list as the language allows it: a name, a list, or nothing."""
    if value is None or value == "" or isinstance(value, bool):
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _option(value: Any) -> bool | frozenset[str]:
    """A node-list option as the tables hold it: True, the names, or False for none."""
    return True if value is True else frozenset(_names(value)) or False


def _yaml(example: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The nodes section and the flow definitions of an example, read plainly with PyYAML."""
    nodes: dict[str, Any] = {}
    flows: list[dict[str, Any]] = []
    for path in sorted((EXAMPLES / example).rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if "tasks" in data:
            nodes = data
        flows.extend(data.get("flow-definitions", []))
    return nodes, flows


@pytest.fixture(scope="module", params=sorted(EXAMPLE_PACKAGES))
def example(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def system(example: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    root = EXAMPLES / example
    with imported(root, EXAMPLE_PACKAGES[example]) as package:
        yield package.SYSTEM


def test_the_checked_in_example_packages_are_what_the_yaml_gives(example: str) -> None:
    files = build_files(".", cwd=EXAMPLES / example, out_dir=_example_package_dir(example))
    difference = emit.compare(files, str(_example_package_dir(example)))
    assert difference.current, "run `make examples`:\n" + difference.diff


def test_example_package_tasks_match_the_yaml(example: str, system: System) -> None:
    nodes, _ = _yaml(example)
    default_queue = (nodes.get("global") or {}).get("default_task_queue", "celery")
    assert sorted(system.tasks) == sorted(t["name"] for t in nodes["tasks"])
    for spec in nodes["tasks"]:
        task = system.task(spec["name"])
        assert task.cls.__name__ == spec.get("classname", spec["name"])
        assert task.cls.__module__ == spec["import"]
        queue = spec.get("queue", default_queue).format(**EXAMPLE_ENV)
        assert task.queue == queue
        assert task.storage == spec.get("storage")
        assert task.storage_readonly == spec.get("storage_readonly", False)
        assert task.stored_as == spec.get("storage_task_name", spec["name"])
        assert task.max_retry == spec.get("max_retry", 0)
        assert task.retry_countdown == spec.get("retry_countdown", 0)
        expected = timedelta(**spec["throttling"]) if "throttling" in spec else None
        assert task.throttling == expected
    assert sorted(system.storages) == sorted(s["name"] for s in nodes.get("storages", []))


def test_example_package_flows_match_the_yaml(example: str, system: System) -> None:
    nodes, flows = _yaml(example)
    default_queue = (nodes.get("global") or {}).get("default_dispatcher_queue", "celery")
    assert sorted(system.flows) == sorted(nodes["flows"])
    for spec in flows:
        flow = system.flow(spec["name"])
        assert flow.queue == spec.get("queue", default_queue).format(**EXAMPLE_ENV)
        assert [e.index for e in flow.edges] == list(range(len(spec["edges"])))
        for edge, edge_spec in zip(flow.edges, spec["edges"], strict=True):
            assert list(edge.sources) == _names(edge_spec["from"])
            assert list(edge.targets) == _names(edge_spec["to"])
            assert (edge.condition is None) == ("condition" not in edge_spec)
            foreach = edge_spec.get("foreach")
            assert (edge.foreach is None) == (foreach is None)
            if foreach is not None and edge.foreach is not None:
                assert edge.foreach.function.__name__ == foreach["function"]
                assert edge.foreach.function.__module__ == foreach["import"]
                assert edge.foreach.propagate_result == foreach.get("propagate_result", False)
        failures = spec.get("failures", [])
        assert [sorted(f.nodes) for f in flow.failures] == [
            sorted(_names(f["nodes"])) for f in failures
        ]
        assert [f.fallback for f in flow.failures] == [
            True if f["fallback"] is True else tuple(_names(f["fallback"])) for f in failures
        ]
        assert flow.nowait == frozenset(_names(spec.get("nowait")))
        assert flow.eager_failures == _option(spec.get("eager_failures"))
        for option in ("propagate_node_args", "propagate_parent", "propagate_finished"):
            assert getattr(flow, option) == _option(spec.get(option))
        assert flow.max_retry == spec.get("max_retry", 0)


def test_the_edge_ids_of_the_examples_are_unique_and_stable(example: str, system: System) -> None:
    for flow in system.flows.values():
        ids = [edge.id for edge in flow.edges]
        assert len(set(ids)) == len(ids)
        assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_compiled_conditions_decide_like_the_yaml_says(monkeypatch: pytest.MonkeyPatch) -> None:
    with imported(EXAMPLES / "order-fulfilment", "fulfilment.flowpkg") as package:
        flow = package.SYSTEM.flow("fulfil_order")
        by_target = {edge.targets: edge for edge in flow.edges}

        class Results(dict[str, Any]):
            pass

        def holds(target: str, results: dict[str, Any], node_args: Any = None) -> bool:
            condition = by_target[(target,)].condition
            assert condition is not None
            return bool(condition(Results(results), node_args))

        valid = {"ValidateOrder": {"valid": True, "total_cents": 60000}}
        assert holds("FlagHighValueOrder", valid)
        assert not holds("FlagHighValueOrder", {"ValidateOrder": {"valid": True, "total_cents": 1}})
        assert not holds("FlagHighValueOrder", {"ValidateOrder": {"valid": False}})
        assert holds("RejectOrder", {"ValidateOrder": {"valid": False}})
        assert holds("ship_order", {"ChargePayment": {"status": "invoiced"}})
        assert not holds("ship_order", {"ChargePayment": {"status": "declined"}})
        assert holds("EmailReceipt", {}, {"customer": {"email": "a@b"}})
        assert not holds("EmailReceipt", {}, {"customer": {}})


def test_importing_a_package_imports_no_compiler_side_library() -> None:
    banned = ("yaml", "jsonschema", "jinja2", "selinonc.compiler", "typer", "celery")
    code = (
        "import json, sys\n"
        "import pkganalysis.flowpkg as p\n"
        "assert p.SYSTEM.flows\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {banned!r}"
        f" or m.startswith('selinonc.compiler'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=EXAMPLES / "package-analysis",
        env={**os.environ, **EXAMPLE_ENV, "PYTHONPATH": str(EXAMPLES / "package-analysis")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_missing_placeholder_variable_stops_the_import_naming_it_and_the_queue() -> None:
    code = "import pkganalysis.flowpkg"
    env = {k: v for k, v in os.environ.items() if k != "DEPLOYMENT_PREFIX"}
    env["PYTHONPATH"] = str(EXAMPLES / "package-analysis")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("selinonc.runtime.errors.PlaceholderError: environment variable")
    assert "'DEPLOYMENT_PREFIX'" in last
    assert "the queue of task 'RebuildArchive' is '{DEPLOYMENT_PREFIX}_builders'" in last


def test_generated_code_passes_ruff_with_its_default_rules() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    dirs = [str(_example_package_dir(e)) for e in sorted(EXAMPLE_PACKAGES)]
    done = subprocess.run(
        [str(ruff), "check", "--isolated", "--no-cache", *dirs],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_check_mode_passes_on_a_current_package_and_writes_nothing(tmp_path: Path) -> None:
    example = EXAMPLES / "order-fulfilment"
    assert selinonc("build", ".", "-o", str(tmp_path / "pkg"), cwd=example).returncode == 0
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    done = selinonc("build", ".", "-o", str(tmp_path / "pkg"), "--check", cwd=example)
    assert done.returncode == 0, done.stdout
    assert done.stdout == f"{tmp_path / 'pkg'} is current (10 files)\n"
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_check_mode_catches_a_one_character_hand_edit(tmp_path: Path) -> None:
    example = EXAMPLES / "order-fulfilment"
    out = tmp_path / "pkg"
    assert selinonc("build", ".", "-o", str(out), cwd=example).returncode == 0
    tasks = out / "tasks.py"
    tasks.write_text(tasks.read_text().replace("max_retry=3", "max_retry=4"))
    done = selinonc("build", ".", "-o", str(out), "--check", cwd=example)
    assert done.returncode == 1
    assert f"--- {tasks}\n+++ {tasks}\n" in done.stdout
    assert "-        max_retry=4,\n+        max_retry=3,\n" in done.stdout
    assert done.stdout.endswith(
        "is not what the inputs give: 1 differ; run `selinonc build` again\n"
    )
    assert "max_retry=4" in tasks.read_text()  # --check wrote nothing


def test_check_mode_catches_extra_and_missing_files(tmp_path: Path) -> None:
    example = EXAMPLES / "order-fulfilment"
    out = tmp_path / "pkg"
    assert selinonc("build", ".", "-o", str(out), cwd=example).returncode == 0
    (out / "flows" / "ship_order.py").unlink()
    (out / "flows" / "old_flow.py").write_text("# Generated by selinonc 0.0.1\n")
    done = selinonc("build", ".", "-o", str(out), "--check", cwd=example)
    assert done.returncode == 1
    assert "+++ /dev/null" in done.stdout and "--- /dev/null" in done.stdout
    assert "1 missing, 1 extra" in done.stdout
    assert not (out / "flows" / "ship_order.py").exists()


def test_build_replaces_stale_files_and_removes_only_files_it_generated(tmp_path: Path) -> None:
    example = EXAMPLES / "order-fulfilment"
    out = tmp_path / "pkg"
    assert selinonc("build", ".", "-o", str(out), cwd=example).returncode == 0
    (out / "flows" / "old_flow.py").write_text("# Generated by selinonc 0.0.1\nX = 1\n")
    (out / "README.md").write_text("notes of the team\n")
    (out / "tasks.py").write_text("# edited\n")
    done = selinonc("build", ".", "-o", str(out), cwd=example)
    assert done.returncode == 0, done.stderr
    assert "10 files, 1 changed, 1 removed" in done.stdout
    assert "left 1 file(s) selinonc did not generate: README.md" in done.stdout
    assert not (out / "flows" / "old_flow.py").exists()
    assert (out / "README.md").read_text() == "notes of the team\n"
    again = selinonc("build", ".", "-o", str(out), cwd=example)
    assert "0 changed, 0 removed" in again.stdout


def test_build_refuses_to_overwrite_a_directory_it_did_not_generate(tmp_path: Path) -> None:
    src = tmp_path / "myapp"
    src.mkdir()
    (src / "__init__.py").write_text("VALUE = 'the team wrote this'\n")
    done = selinonc("build", ".", "-o", str(src), cwd=EXAMPLES / "order-fulfilment")
    assert done.returncode == 1
    assert "is not a package selinonc generated" in done.stderr
    assert "Traceback" not in done.stderr
    assert (src / "__init__.py").read_text() == "VALUE = 'the team wrote this'\n"
    assert sorted(p.name for p in src.iterdir()) == ["__init__.py"]


def test_build_reports_diagnostics_and_writes_nothing_on_errors(tmp_path: Path) -> None:
    case = Path(__file__).parent / "cases" / "SC205-unknown-node"
    done = selinonc("build", "inputs", "-o", str(tmp_path / "pkg"), cwd=case)
    assert done.returncode == 1
    assert "error[SC205]" in done.stdout
    assert not (tmp_path / "pkg").exists()


def test_a_written_package_imports_from_where_it_was_written(tmp_path: Path) -> None:
    files = build_files(".", cwd=EXAMPLES / "image-pipeline", out_dir=tmp_path / "imgpkg")
    write_package(files, tmp_path, "imgpkg")
    with imported(tmp_path, "imgpkg", EXAMPLES / "image-pipeline") as package:
        assert package.SYSTEM.package == "imgpkg"
        assert "process_image" in package.SYSTEM.flows


CUSTOM = """global:
  predicates_module: {module}
tasks:
  - {{name: A, import: tests.injection_support, classname: Recorder, storage: S}}
  - {{name: B, import: tests.injection_support, classname: Recorder}}
storages:
  - {{name: S, import: tests.injection_support, classname: Recorder, configuration: {{a: 1}}}}
flows: [main]
flow-definitions:
  - name: main
    edges:
      - {{from: [], to: A}}
      - from: A
        to: B
        condition:
          or:
            - {{name: {name}, args: {args}}}
            - not: {{name: alwaysTrue}}
"""


def test_a_custom_predicates_module_is_imported_by_the_generated_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "team_predicates.py").write_text(
        "def alwaysTrue():\n    return True\n\n"
        "def hasTag(message, tag, node_args=None):\n"
        "    return tag in message['tags'] and node_args != 'skip'\n"
    )
    config = CUSTOM.format(module="team_predicates", name="hasTag", args="{tag: urgent}")
    (tmp_path / "flows.yaml").write_text(config)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    files = build_files("flows.yaml", out_dir=tmp_path / "pkg")
    flow_module = files["flows/main.py"]
    assert "import team_predicates as predicates\n" in flow_module
    assert 'predicates.hasTag(message=results.get("A"), node_args=node_args, tag="urgent")' in (
        flow_module
    )
    write_package(files, tmp_path, "pkg")
    with imported(tmp_path, "pkg", Path(__file__).parent.parent) as package:
        condition = package.SYSTEM.flow("main").edges[1].condition
        assert condition({"A": {"tags": ["urgent"]}}, None)
        assert not condition({"A": {"tags": ["urgent"]}}, "skip")
        assert not condition({"A": {"tags": []}}, None)


def test_selinon_module_names_compile_to_the_selinonc_runtime(tmp_path: Path) -> None:
    config = CUSTOM.format(
        module="selinon.predicates", name="fieldEqual", args="{key: k, value: 1}"
    )
    (tmp_path / "flows.yaml").write_text(config)
    files = build_files("flows.yaml", cwd=tmp_path)
    assert "from selinonc.runtime import predicates\n" in files["flows/main.py"]
    assert "selinon." not in files["flows/main.py"].replace("selinonc", "")


def test_a_custom_predicates_module_that_does_not_import_blocks_the_build(tmp_path: Path) -> None:
    config = CUSTOM.format(module="no_such_predicates_module", name="x", args="{}")
    (tmp_path / "flows.yaml").write_text(config)
    done = selinonc("build", "flows.yaml", "-o", "pkg", cwd=tmp_path)
    assert done.returncode == 1
    assert "error[SC408]" in done.stdout
    assert "`selinonc build` imports custom predicate and strategy modules" in done.stdout
    assert not (tmp_path / "pkg").exists()


SMALL = """tasks:
  - {{name: A, import: tests.injection_support, classname: Recorder{task}}}
flows: [main]
flow-definitions:
  - name: main{flow}
    edges:
      - {{from: [], to: A}}
      - {{from: A, to: A, condition: {{name: argsFieldExist, args: {{key: {key}}}}}}}
"""


def _small(tmp_path: Path, task: str = "", flow: str = "", key: str = "k") -> Path:
    (tmp_path / "flows.yaml").write_text(SMALL.format(task=task, flow=flow, key=key))
    return tmp_path / "flows.yaml"


@pytest.mark.parametrize(
    ("task", "flow", "message"),
    [
        (", max_retry: 0x" + "f" * 4000, "", "`max_retry` of task 'A' is too large"),
        (", throttling: {seconds: .inf}", "", "the throttling of task 'A' cannot be a duration"),
        ("", "\n    throttling: {days: 1000000000}", "the throttling of flow 'main' cannot be a"),
    ],
)
def test_values_the_runtime_cannot_use_are_errors_not_tracebacks(
    tmp_path: Path, task: str, flow: str, message: str
) -> None:
    _small(tmp_path, task=task, flow=flow)
    done = selinonc("build", "flows.yaml", "-o", "pkg", cwd=tmp_path)
    assert done.returncode == 1
    assert "error[SC701]" in done.stdout and message in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_huge_integer_argument_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    _small(tmp_path, key="0x" + "f" * 4000)
    done = selinonc("check", "flows.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert "an integer of more than 4,000 digits" in done.stdout
    assert "Traceback" not in done.stderr


def test_names_the_flow_module_defines_are_not_taken_by_imports(tmp_path: Path) -> None:
    (tmp_path / "strat.py").write_text("def FAILURES(status, x):\n    return None\n")
    flow = "\n    sampling: {name: FAILURES, import: strat, args: {x: 1}}" + (
        "\n    failures: [{nodes: A, fallback: true}]"
    )
    _small(tmp_path, flow=flow)
    files = build_files("flows.yaml", cwd=tmp_path)
    assert "from strat import FAILURES as FAILURES_2" in files["flows/main.py"]
    write_package(files, tmp_path, "pkg")
    with imported(tmp_path, "pkg", Path(__file__).parent.parent) as package:
        flow_table = package.SYSTEM.flow("main")
        assert flow_table.sampling.function.__name__ == "FAILURES"
        assert isinstance(flow_table.failures, tuple) and flow_table.failures[0].fallback is True


def test_caches_of_storages_and_flows_are_created_from_the_runtime(tmp_path: Path) -> None:
    (tmp_path / "flows.yaml").write_text(
        "storages:\n  - {name: S, import: selinon.storages.memory, classname: InMemoryStorage,"
        " configuration: {echo: false}, cache: {name: LRU, configuration: {max_cache_size: 3}}}\n"
        + SMALL.format(
            task=", storage: S",
            flow="\n    cache: {name: FIFO, configuration: {max_cache_size: 2}}",
            key="k",
        )
    )
    files = build_files("flows.yaml", cwd=tmp_path)
    assert "from selinonc.runtime.storages.memory import InMemoryStorage" in files["storages.py"]
    write_package(files, tmp_path, "pkg")
    with imported(tmp_path, "pkg", Path(__file__).parent.parent) as package:
        storage = package.SYSTEM.storage("S")
        assert type(storage.cache.create()).__name__ == "LRU"
        assert storage.cache.create().max_cache_size == 3
        assert type(package.SYSTEM.flow("main").cache.create()).__name__ == "FIFO"


def test_a_configuration_without_storages_gives_ruff_clean_code(tmp_path: Path) -> None:
    _small(tmp_path)
    write_package(build_files("flows.yaml", cwd=tmp_path), tmp_path, "pkg")
    ruff = Path(sys.executable).parent / "ruff"
    for args in (["check", "--isolated", "--no-cache"], ["format", "--isolated", "--check"]):
        done = subprocess.run(
            [
                str(ruff),
                *args,
                str(tmp_path / "pkg" / "storages.py"),
                str(tmp_path / "pkg" / "flows" / "__init__.py"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout


def test_identical_edges_get_different_ids(tmp_path: Path) -> None:
    (tmp_path / "flows.yaml").write_text(
        SMALL.format(task="", flow="", key="k") + "      - {from: [], to: A}\n" * 2
    )
    files = build_files("flows.yaml", cwd=tmp_path)
    write_package(files, tmp_path, "pkg")
    with imported(tmp_path, "pkg", Path(__file__).parent.parent) as package:
        ids = [e.id for e in package.SYSTEM.flow("main").edges]
    assert len(set(ids)) == 4 and ids[2:] == [ids[0] + "-2", ids[0] + "-3"]


def test_check_mode_ignores_files_selinonc_did_not_generate(tmp_path: Path) -> None:
    example = EXAMPLES / "order-fulfilment"
    out = tmp_path / "pkg"
    assert selinonc("build", ".", "-o", str(out), cwd=example).returncode == 0
    (out / "py.typed").write_text("")
    (out / "helpers.py").write_text("HELP = 1\n")
    done = selinonc("build", ".", "-o", str(out), "--check", cwd=example)
    assert done.returncode == 0, done.stdout
    assert "2 file(s) selinonc did not generate are not compared: helpers.py, py.typed" in (
        done.stderr
    )
    assert selinonc("build", ".", "-o", str(out), cwd=example).returncode == 0
    assert (out / "helpers.py").read_text() == "HELP = 1\n"


def test_output_schemas_are_found_next_to_the_nodes_file_whatever_the_cwd(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "schemas").mkdir(parents=True)
    (project / "schemas" / "a.json").write_text('{"type": "object"}')
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "a.json").write_text('{"type": "array"}')  # a decoy in the cwd
    (project / "flows.yaml").write_text(
        SMALL.format(task=", output_schema: schemas/a.json", flow="", key="k")
    )
    here = build_files("flows.yaml", cwd=project)
    there = build_files("project/flows.yaml", cwd=tmp_path)
    assert here == there
    assert '"schemas/a.json": {"type": "object"}' in here["tasks.py"]


def test_build_json_keeps_stdout_for_the_json_document(tmp_path: Path) -> None:
    _small(tmp_path, task=", retry_countdown: 5")  # SC505, a warning
    # The task class is tests.injection_support.Recorder, which build imports (SC507).
    path = os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")])
    args = ("build", "flows.yaml", "-o", "pkg", "--format", "json")
    done = selinonc(*args, cwd=tmp_path, env={"PYTHONPATH": path})
    assert done.returncode == 0
    assert json.loads(done.stdout)["diagnostics"][0]["code"] == "SC505"
    assert done.stderr.startswith("wrote pkg:")


def test_generated_files_are_readable_by_the_workers_group_and_others(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        done = selinonc("build", ".", "-o", str(tmp_path / "pkg"), cwd=EXAMPLES / "image-pipeline")
    finally:
        os.umask(old)
    assert done.returncode == 0
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "pkg").rglob("*.py")}
    assert set(modes.values()) == {0o644}


def test_build_json_without_findings_is_still_a_json_document(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    example = EXAMPLES / "order-fulfilment"
    done = selinonc("build", ".", "-o", str(out), "--format", "json", cwd=example)
    assert json.loads(done.stdout)["diagnostics"] == []
    check = selinonc("build", ".", "-o", str(out), "--check", "--format", "json", cwd=example)
    assert check.returncode == 0
    assert json.loads(check.stdout)["summary"]["errors"] == 0
    assert "is current" in check.stderr


def test_selinon_storages_build_to_the_selinonc_storages_with_their_keys_translated(
    tmp_path: Path,
) -> None:
    # Imported first: `imported` forgets the modules the package imports, and a second import
    # would make other classes.
    from selinonc.runtime.storages.filesystem import Filesystem
    from selinonc.runtime.storages.memory import InMemoryStorage
    from selinonc.runtime.storages.redis import RedisStorage
    from selinonc.runtime.storages.sql import SQLStorage

    case = Path(__file__).parent / "cases" / "SC512-selinon-storages-translated-compat"
    done = selinonc("build", "inputs", "-o", str(tmp_path / "pkg"), "--compat", cwd=case)
    assert done.returncode == 0, done.stdout  # SC512 warnings: the storages are translated
    files = {
        str(p.relative_to(tmp_path / "pkg")): p.read_text()
        for p in (tmp_path / "pkg").rglob("*.py")
    }
    assert "selinon." not in files["storages.py"]  # Selinon is never a dependency (issue 8.6)
    with imported(tmp_path, "pkg") as package:
        created = {name: s.create() for name, s in package.SYSTEM.storages.items()}
    redis = created["Redis"]
    assert isinstance(redis, RedisStorage)
    # host, port and db carry over; `password: null`, `charset: utf-8`, `errors: strict` are
    # Selinon's defaults and are dropped.
    assert redis.options == {"host": "{REDIS_HOST}", "port": 6379, "db": 1, "password": None}
    postgres = created["PostgreSQL"]
    assert isinstance(postgres, SQLStorage)
    # connection_string becomes url, for the psycopg driver `selinonc[sql]` installs.
    assert postgres.url_template == (
        "postgresql+psycopg://postgres:postgres@{POSTGRES_HOST}:5432/postgres"
    )
    assert postgres.echo is False
    adapter = created["Adapter"]  # a configuration that is not a mapping: the first argument
    assert isinstance(adapter, SQLStorage)
    assert adapter.url_template == "postgresql+psycopg://postgres@localhost/test"
    assert isinstance(created["Memory"], InMemoryStorage)
    filesystem = created["Filesystem"]
    assert isinstance(filesystem, Filesystem) and filesystem.template == "/var/lib/results"


def test_a_task_module_build_cannot_import_blocks_the_build(tmp_path: Path) -> None:
    case = Path(__file__).parent / "cases" / "SC507-task-module-unimportable"
    done = selinonc("build", "inputs", "-o", str(tmp_path / "pkg"), cwd=case)
    assert done.returncode == 1
    assert "error[SC507]: cannot import module 'sc507_needs_settings'" in done.stdout
    assert "hint: `selinonc build` imports task modules to check their classes" in done.stdout
    assert not (tmp_path / "pkg").exists()
    checked = selinonc("check", "inputs", cwd=case)  # where check only warns
    assert checked.returncode == 0 and "warning[SC507]" in checked.stdout
