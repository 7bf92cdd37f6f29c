"""`selinonc run`: the command on every example, its JSON report, exit codes, usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.buildkit import (
    EXAMPLE_ENV,
    EXAMPLE_PACKAGES,
    EXAMPLES,
    build_files,
    selinonc,
    write_package,
)
from tests.scenarios import load, scenarios


@pytest.mark.parametrize(("example", "name"), scenarios())
def test_run_on_the_yaml_reports_the_scenario_outcome(example: str, name: str) -> None:
    scenario = load(example, name)
    done = selinonc(
        "run",
        ".",
        "--flow",
        scenario["flow"],
        "--node-args",
        json.dumps(scenario["node_args"]),
        "--json",
        cwd=EXAMPLES / example,
        env=EXAMPLE_ENV,
    )
    expect = scenario["expect"]
    assert done.returncode == (0 if expect["outcome"] == "succeeded" else 1), done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == expect["outcome"]
    assert report["flow"] == scenario["flow"]
    counted = {k: len(v) for k, v in report["finished_nodes"].items()}
    assert counted == expect["finished_nodes"]
    for node in report["nodes"]:
        assert set(node) >= {"id", "name", "kind", "flow", "status", "parent", "result"}
        if node["kind"] == "task" and node["status"] == "succeeded" and node["result"]:
            assert set(node["result"]) == {"storage", "location"}


@pytest.mark.parametrize("example", sorted(EXAMPLE_PACKAGES))
def test_run_a_built_package_with_a_table_summary(example: str, tmp_path: Path) -> None:
    name = next(n for e, n in scenarios() if e == example)
    scenario = load(example, name)
    args = tmp_path / "args.json"
    args.write_text(json.dumps(scenario["node_args"]))
    done = selinonc(
        "run",
        "--package",
        EXAMPLE_PACKAGES[example],
        "--flow",
        scenario["flow"],
        "--node-args-file",
        str(args),
        cwd=EXAMPLES / example,
        env=EXAMPLE_ENV,
    )
    assert done.returncode == (0 if scenario["expect"]["outcome"] == "succeeded" else 1)
    assert "┃ node" in done.stdout  # the summary table
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith(f"flow {scenario['flow']}: {scenario['expect']['outcome']}")
    assert last.endswith("s virtual time")


def test_a_task_that_raises_shows_its_traceback_in_the_report() -> None:
    scenario = load("order-fulfilment", "malformed_order")
    done = selinonc(
        "run",
        ".",
        "--flow",
        scenario["flow"],
        "--node-args",
        json.dumps(scenario["node_args"]),
        "--json",
        cwd=EXAMPLES / "order-fulfilment",
    )
    assert done.returncode == 1
    report = json.loads(done.stdout)
    failed = [n for n in report["nodes"] if n["status"] == "failed"]
    assert [n["name"] for n in failed] == ["ValidateOrder"]
    assert failed[0]["error"].startswith("Traceback (most recent call last):")
    assert "FatalTaskError" in failed[0]["error"]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["."], "give the flow to run with --flow"),
        (["--flow", "fulfil_order"], "give either the configuration (INPUTS) or --package"),
        ([".", "--flow", "nope"], "no flow 'nope' in flow package"),
        ([".", "--flow", "fulfil_order", "--node-args", "{nope"], "--node-args is not JSON"),
        (
            [".", "--flow", "fulfil_order", "--node-args", "{}", "--node-args-file", "x.json"],
            "not both",
        ),
        (["--package", "no.such.package", "--flow", "f"], "cannot import the flow package"),
    ],
)
def test_usage_errors_exit_2_with_a_message(args: list[str], message: str) -> None:
    done = selinonc("run", *args, cwd=EXAMPLES / "order-fulfilment")
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_configuration_with_errors_exits_1_with_its_diagnostics() -> None:
    case = Path(__file__).parent / "cases" / "SC205-unknown-node"
    done = selinonc("run", "inputs", "--flow", "main", cwd=case)
    assert done.returncode == 1
    assert "error[SC205]" in done.stdout


def _without_deployment_prefix() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DEPLOYMENT_PREFIX"}


@pytest.mark.parametrize(
    "source",
    [
        [".", "--flow", "analyse_package"],
        ["--package", "pkganalysis.flowpkg", "--flow", "analyse_package"],
    ],
)
def test_a_run_in_one_process_needs_no_queue_placeholder_variable(source: list[str]) -> None:
    # Its RebuildArchive queue is "{DEPLOYMENT_PREFIX}_builders": one process routes nothing.
    scenario = load("package-analysis", next(n for e, n in scenarios() if e == "package-analysis"))
    args = ["--node-args", json.dumps(scenario["node_args"]), "--json"]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from selinonc.compiler.cli import main; main()",
            "run",
            *source,
            *args,
        ],
        cwd=EXAMPLES / "package-analysis",
        env=_without_deployment_prefix(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == (0 if scenario["expect"]["outcome"] == "succeeded" else 1), (
        done.stderr
    )
    assert json.loads(done.stdout)["status"] == scenario["expect"]["outcome"]


def test_a_worker_importing_the_package_still_fails_naming_the_variable() -> None:
    # What a Celery worker does at start-up (the executor imported first changes nothing).
    code = "import selinonc.runtime.executor, selinonc.runtime.celery; import pkganalysis.flowpkg"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=EXAMPLES / "package-analysis",
        env=_without_deployment_prefix(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert (
        "selinonc.runtime.errors.PlaceholderError: environment variable 'DEPLOYMENT_PREFIX' is "
        "not set; the queue of task 'RebuildArchive' is '{DEPLOYMENT_PREFIX}_builders', so set "
        "DEPLOYMENT_PREFIX in the worker's environment"
    ) in done.stderr


def test_a_package_that_does_not_import_is_a_usage_error_naming_why(tmp_path: Path) -> None:
    tasks = tmp_path / "brokentasks.py"
    tasks.write_text(
        "from selinonc.runtime import SelinonTask\n\n\n"
        "class T(SelinonTask):\n    def run(self, node_args):\n        return None\n"
    )
    (tmp_path / "flows.yaml").write_text(
        "tasks: [{name: T, import: brokentasks}]\nflows: [main]\n"
        "flow-definitions: [{name: main, edges: [{from: [], to: T}]}]\n"
    )
    files = build_files("flows.yaml", cwd=tmp_path, out_dir=tmp_path / "brokenpkg")
    write_package(files, tmp_path, "brokenpkg")
    tasks.write_text("raise ImportError('no such thing as brokentasks')\n")  # broken since
    done = selinonc("run", "--package", "brokenpkg", "--flow", "main", cwd=tmp_path)
    assert done.returncode == 2
    assert "cannot import the flow package 'brokenpkg': ImportError: no such thing" in done.stderr
    assert "brokentasks.py:1)" in done.stderr
    assert "Traceback" not in done.stderr


def _project(root: Path, classname: str, storages: str = "") -> None:
    """A one-task project whose task class lives in `runapp/tasks.py` under `root`."""
    (root / "runapp").mkdir()
    (root / "runapp" / "__init__.py").write_text("")
    (root / "runapp" / "tasks.py").write_text(
        "from selinonc.runtime import SelinonTask\n\n\n"
        "class Fetch(SelinonTask):\n    def run(self, node_args):\n        return {'n': 1}\n\n\n"
        "class Read(SelinonTask):\n    def run(self, node_args):\n"
        "        return self.parent_task_result('Fetch')\n\n\n"
        "def fetch(node_args):\n    return None\n"
    )
    storage = ", storage: Results" if storages else ""
    (root / "flows.yaml").write_text(
        f"{storages}tasks:\n  - {{name: Fetch, import: runapp.tasks, classname: {classname}"
        f"{storage}}}\n  - {{name: Read, import: runapp.tasks{storage}}}\nflows: [main]\n"
        "flow-definitions:\n  - name: main\n"
        "    edges: [{from: [], to: Fetch}, {from: Fetch, to: Read}]\n"
    )


@pytest.mark.parametrize(
    ("mistake", "printed"),
    [
        (
            {"import": "runapp.taks"},
            "error[SC508]: package 'runapp' has no module 'taks' (the import of task 'Fetch')",
        ),
        ({"classname": "Fecth"}, "hint: did you mean 'Fetch'?"),
        ({"classname": "fetch"}, "error[SC509]: runapp.tasks.fetch, the class of task 'Fetch', is"),
    ],
)
def test_run_on_a_project_with_a_wrong_task_class_prints_the_diagnostic(
    tmp_path: Path, mistake: dict[str, str], printed: str
) -> None:
    _project(tmp_path, mistake.get("classname", "Fetch"))
    if "import" in mistake:
        text = (tmp_path / "flows.yaml").read_text()
        (tmp_path / "flows.yaml").write_text(text.replace("runapp.tasks,", "runapp.taks,", 1))
    done = selinonc("run", "flows.yaml", "--flow", "main", cwd=tmp_path)
    assert done.returncode == 1
    assert printed in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert "selinonc-run-" not in done.stdout + done.stderr  # no temporary file named


def test_a_task_class_changed_into_a_function_after_the_build_fails_with_one_clear_line(
    tmp_path: Path,
) -> None:
    _project(tmp_path, "Fetch")
    built = selinonc("build", "flows.yaml", "-o", "runpkg", cwd=tmp_path)
    assert built.returncode == 0, built.stdout
    tasks = tmp_path / "runapp" / "tasks.py"
    tasks.write_text(
        tasks.read_text().replace("class Fetch(SelinonTask)", "class Old(SelinonTask)")
    )
    tasks.write_text(tasks.read_text() + "\n\nFetch = fetch\n")
    done = selinonc("run", "--package", "runpkg", "--flow", "main", "--json", cwd=tmp_path)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    error = next(n["error"] for n in report["nodes"] if n["name"] == "Fetch")
    assert error.strip().splitlines()[-1] == (
        "selinonc.runtime.errors.TaskClassError: task 'Fetch' cannot run: runapp.tasks.fetch is a "
        "function, not a class; a task is a class that subclasses selinonc.runtime.SelinonTask "
        "and implements run(self, node_args)"
    )
    assert "takes 1 positional argument" not in error


def _server(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize(
    ("port", "storage"),
    [
        (
            6379,
            "{name: Results, import: selinon.storages.redis, classname: Redis, configuration: {"
            "host: 127.0.0.1, "
            "port: 6379, db: 15, charset: utf-8}}",
        ),
        (
            5432,
            "{name: Results, import: selinon.storages.postgresql, classname: PostgreSQL, "
            "configuration: "
            "{connection_string: 'postgresql://postgres@127.0.0.1:5432/test', encoding: utf-8}}",
        ),
    ],
)
def test_selinon_server_storages_store_and_read_results_as_selinonc_storages(
    tmp_path: Path, port: int, storage: str
) -> None:
    if not _server(port):
        pytest.skip(f"no server on 127.0.0.1:{port} (see ARCHITECTURE.md, services)")
    _project(tmp_path, "Fetch", storages=f"storages:\n  - {storage}\n")
    args = ("run", "flows.yaml", "--flow", "main", "--json", "--compat")  # SC512 translates
    done = selinonc(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert {n["name"]: n["status"] for n in report["nodes"]} == {
        "Fetch": "succeeded",
        "Read": "succeeded",
    }
