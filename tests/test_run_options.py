"""`selinonc run`'s limits and views on flows built in temporary directories: --timeout,
--max-nodes, Ctrl-C, the live countdown, a summary that wraps, --show-results, --select."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from selinonc.compiler.cli import run as running
from tests.buildkit import build_files, selinonc

TASKS = """
import pathlib
import time

from selinonc.runtime import SelinonTask


class Quick(SelinonTask):
    def run(self, node_args):
        return {"task": self.task_name, "answer": 42}


class Forever(SelinonTask):
    def run(self, node_args):
        self.retry(countdown=60)


class Sleeper(SelinonTask):
    def run(self, node_args):
        pathlib.Path("sleeping").touch()
        time.sleep(30)


class FailsOnce(SelinonTask):
    def run(self, node_args):
        marker = pathlib.Path(f"failed-{self.task_id}")
        if not marker.exists():
            marker.touch()
            raise ConnectionError("try again")
        return "ok"
"""

STORAGE = """storages:
  - name: Store
    import: selinonc.runtime.storages.memory
    classname: InMemoryStorage
    configuration: {echo: false}
"""


def project(tmp_path: Path, tasks: str, flows: str) -> Path:
    """A configuration of `tasks` (YAML list items) and flows in tmp_path, tasks in runtasks."""
    (tmp_path / "runtasks.py").write_text(TASKS)
    names = re.findall(r"- name: (\w+)", flows)
    config = f"{STORAGE}tasks:\n{tasks}flows: [{', '.join(names)}]\nflow-definitions:\n{flows}"
    (tmp_path / "flows.yaml").write_text(config)
    return tmp_path


def task(name: str, cls: str = "Quick", extra: str = "") -> str:
    return f"  - {{name: {name}, import: runtasks, classname: {cls}, storage: Store{extra}}}\n"


LOOP = """  - name: spin
    edges:
      - {from: [], to: Tick}
      - {from: Tick, to: Tock}
      - from: Tock
        to: Tick
        condition: {name: alwaysTrue}
"""


def loop(tmp_path: Path) -> Path:
    return project(tmp_path, task("Tick") + task("Tock"), LOOP)


# --- --max-nodes ---------------------------------------------------------------------------


def test_a_conditional_loop_stops_at_max_nodes_with_the_summary(tmp_path: Path) -> None:
    done = selinonc("run", "flows.yaml", "--flow", "spin", "--max-nodes", "40", cwd=loop(tmp_path))
    assert done.returncode == 4, done.stderr
    assert "flow spin: node-limit (40 nodes: 40 succeeded)" in done.stdout
    assert "│ Tick │ task │ succeeded │" in done.stdout
    last = " ".join(done.stdout.split("flow spin: stopped after")[-1].split())
    assert last == (
        "0.00 s virtual time: the run was about to start more than its limit of 40 nodes. "
        "Raise the limit with --max-nodes N (0 for none)."
    )


def test_the_default_node_limit_stops_a_loop_at_10000_nodes(tmp_path: Path) -> None:
    done = selinonc("run", "flows.yaml", "--flow", "spin", "--json", cwd=loop(tmp_path))
    assert done.returncode == 4, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "node-limit"
    assert report["reason"] == "the run was about to start more than its limit of 10000 nodes"
    assert len(report["nodes"]) == 10_000


def test_a_long_summary_shows_its_start_and_end_and_counts_the_rest(tmp_path: Path) -> None:
    done = selinonc("run", "flows.yaml", "--flow", "spin", "--max-nodes", "500", cwd=loop(tmp_path))
    assert done.returncode == 4
    assert done.stdout.count("│ Tick │ task │ succeeded │") == 100  # 100 first rows, 100 last
    assert "… 300 nodes not shown; --json lists every node" in done.stdout


# --- --timeout -----------------------------------------------------------------------------


FOREVER = """  - name: main
    edges:
      - {from: [], to: [Quick, Forever]}
"""


def test_a_virtual_timeout_stops_a_run_that_retries_for_ever(tmp_path: Path) -> None:
    cwd = project(tmp_path, task("Quick") + task("Forever", "Forever"), FOREVER)
    done = selinonc("run", "flows.yaml", "--flow", "main", "--timeout", "300", cwd=cwd)
    assert done.returncode == 3, done.stderr
    assert "flow main: timeout (2 nodes: 1 retrying, 1 succeeded)" in done.stdout
    assert "│ Forever │ task │ retrying  │ 6 " in done.stdout
    last = " ".join(done.stdout.split("flow main: timed out after")[-1].split())
    assert last == (
        "300.00 s virtual time: the run reached its time limit of 300 s (virtual time), and "
        "nothing more was started. Raise the limit with --timeout SECONDS."
    )


SLEEPER = """  - name: main
    edges:
      - {from: [], to: [Quick, Sleeper]}
"""


def test_a_real_time_timeout_stops_a_task_that_sleeps(tmp_path: Path) -> None:
    cwd = project(tmp_path, task("Quick") + task("Sleeper", "Sleeper"), SLEEPER)
    done = selinonc(
        "run", "flows.yaml", "--flow", "main", "--real-time", "--timeout", "0.5", "--json", cwd=cwd
    )
    assert done.returncode == 3, done.stderr  # not the end of the 30 s the task sleeps
    report = json.loads(done.stdout)
    assert report["status"] == "timeout"
    assert report["reason"] == "the run reached its time limit of 0.5 s (real time)"
    assert {n["name"]: n["status"] for n in report["nodes"]} == {
        "Quick": "succeeded",
        "Sleeper": "running",
    }


# --- Ctrl-C --------------------------------------------------------------------------------


def test_ctrl_c_prints_what_ran_and_exits_130(tmp_path: Path) -> None:
    cwd = project(tmp_path, task("Quick") + task("Sleeper", "Sleeper"), SLEEPER)
    code = "from selinonc.compiler.cli import main; main()"
    child = subprocess.Popen(
        [sys.executable, "-c", code, "run", "flows.yaml", "--flow", "main", "--real-time"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Python leaves SIGINT ignored when its parent ignored it: give the child Ctrl-C back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 30
        while not (cwd / "sleeping").exists():
            assert child.poll() is None and time.monotonic() < deadline, child.communicate()
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "Traceback" not in err
    assert "flow main: interrupted (2 nodes: 1 running, 1 succeeded)" in out
    assert "│ Sleeper │ task │ running   │" in out
    assert "│ Quick   │ task │ succeeded │" in out
    assert re.search(r"flow main: interrupted after \d+\.\d\d s real time \(Ctrl-C\)", out)


# --- the live view -------------------------------------------------------------------------


def test_the_live_tree_counts_down_while_a_real_time_retry_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = """  - name: main
    edges:
      - {from: [], to: FailsOnce}
"""
    cwd = project(
        tmp_path, task("FailsOnce", "FailsOnce", ", max_retry: 1, retry_countdown: 1"), flows
    )
    monkeypatch.chdir(cwd)
    monkeypatch.syspath_prepend(str(cwd))
    files = build_files("flows.yaml")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    options = running.Options(real_time=True)
    with running.built_system(files) as system:
        outcome = running.run_flow(system, "main", None, options, live=True, console=console)
    assert outcome.report.status == "succeeded"
    shown = set(re.findall(r"next attempt in (\d\.\d) s", screen.getvalue()))
    # The tree is rebuilt about ten times a second while the one-second countdown runs.
    assert len(shown) >= 4, shown


# --- the summary wraps ---------------------------------------------------------------------

LONG = "CheckTheDetachedSignatureOfTheReleaseArchiveAgainstTheKeyring"
WIDE = f"""  - name: analyse_a_release
    edges:
      - {{from: [], to: DownloadUpstreamArchive}}
      - {{from: DownloadUpstreamArchive, to: verify_release_signature}}
  - name: verify_release_signature
    edges:
      - {{from: [], to: {LONG}}}
"""


def test_the_summary_wraps_long_names_at_80_columns(tmp_path: Path) -> None:
    cwd = project(tmp_path, task("DownloadUpstreamArchive") + task(LONG), WIDE)
    done = selinonc(
        "run", "flows.yaml", "--flow", "analyse_a_release", cwd=cwd, env={"COLUMNS": "80"}
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "│ DownloadUpstreamArchive " in done.stdout
    assert "│ verify_release_signature " in done.stdout
    assert "…" not in done.stdout  # nothing is cut
    # The longest name folds over several lines of its column, whole.
    cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    start = next(i for i, cell in enumerate(cells) if cell.startswith("CheckThe"))
    assert "".join(cells[start : start + 3]).startswith(LONG)


# --- --show-results ------------------------------------------------------------------------


RESULTS = """  - name: main
    edges:
      - {from: [], to: Quick}
      - {from: Quick, to: Unkept}
"""


def test_show_results_prints_what_each_node_gave(tmp_path: Path) -> None:
    tasks = task("Quick") + "  - {name: Unkept, import: runtasks, classname: Quick}\n"
    cwd = project(tmp_path, tasks, RESULTS)
    done = selinonc("run", "flows.yaml", "--flow", "main", "--show-results", cwd=cwd)
    assert done.returncode == 0, done.stderr
    results = done.stdout.split("results:\n", 1)[1]
    assert results.startswith('Quick (flow.1):\n{\n  "task": "Quick",\n  "answer": 42\n}\n')
    assert "Unkept (flow.2):\n(not kept: the task has no storage, or a read-only one)" in results
    done = selinonc("run", "flows.yaml", "--flow", "main", "--show-results", "--json", cwd=cwd)
    nodes = {n["name"]: n for n in json.loads(done.stdout)["nodes"]}
    assert nodes["Quick"]["value"] == {"task": "Quick", "answer": 42}
    assert nodes["Unkept"]["value"] is None
    assert nodes["Unkept"]["no_value"] == "not kept: the task has no storage, or a read-only one"


# --- selective runs ------------------------------------------------------------------------


SELECTIVE = """  - name: main
    edges:
      - {from: [], to: A}
      - {from: A, to: B}
      - {from: B, to: C}
      - {from: A, to: D}
      - {from: D, to: sub}
  - name: sub
    edges:
      - {from: [], to: X}
      - {from: X, to: Y}
"""


def selective(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cwd = project(tmp_path, "".join(task(n) for n in "ABCDXY"), SELECTIVE)
    return selinonc("run", "flows.yaml", "--flow", "main", "--json", *args, cwd=cwd)


@pytest.mark.parametrize(
    ("args", "ran"),
    [
        (["--select", "B"], ["A", "B"]),
        (["--select", "B", "--run-subsequent"], ["A", "B", "C"]),
        (["--select", "B", "--select", "D"], ["A", "B", "D"]),
        (["--select", "Y", "--follow-subflows"], ["A", "D", "sub", "X", "Y"]),
    ],
)
def test_select_runs_only_what_leads_to_the_tasks(
    tmp_path: Path, args: list[str], ran: list[str]
) -> None:
    done = selective(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(n["name"] for n in report["nodes"]) == sorted(ran)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--select", "Nope"],
            "'Nope' is not a task of flow package 'selinonc_run_package'; "
            "its tasks are: A, B, C, D, X, Y",
        ),
        (["--select", "Y"], "asks for 'Y', which no path of the flow leads to (follow_subflows"),
        (["--run-subsequent"], "--run-subsequent and --follow-subflows apply to a selective run"),
        (["--follow-subflows"], "add --select"),
    ],
)
def test_select_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = selective(tmp_path, *args)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_help_documents_the_options_and_exit_codes() -> None:
    done = selinonc("run", "--help", env={"COLUMNS": "200"})
    text = " ".join(done.stdout.replace("│", " ").split())
    for option in (
        "--timeout",
        "--max-nodes",
        "--select",
        "--run-subsequent",
        "--follow-subflows",
        "--show-results",
    ):
        assert option in text
    assert "[default: 10000]" in text
    assert "3 when --timeout stopped the run, 4 when --max-nodes stopped it, 130 on Ctrl-C" in text
