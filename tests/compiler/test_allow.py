"""Allowing warnings (`--allow`, `global.allow`): which codes can be allowed, and where."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from selinonc.compiler import pipeline
from selinonc.compiler.diagnostics import (
    CODES,
    COMPAT_WARNINGS,
    WARNING_CODES,
    Diagnostic,
    summary,
)
from selinonc.compiler.source import Span

COMPILER = Path(__file__).parent.parent.parent / "compiler"

PROJECT = """
tasks:
  - {name: Fetch, import: myapp.tasks}
  - {name: Spare, import: myapp.tasks}
storages:
  - {name: Later, import: selinonc.runtime.storages.memory, classname: InMemoryStorage}
flows: [main]
flow-definitions:
  - name: main
    edges:
      - {from: [], to: Fetch}
"""


def _constructed(kind: str) -> Iterator[str]:
    """The codes of every `Diagnostic.<kind>("SC...", ...)` in the compiler's source."""
    for path in sorted(COMPILER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != kind or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value


def test_warning_codes_are_the_codes_only_warnings_are_made_with() -> None:
    warned, errors = set(_constructed("warning")), set(_constructed("error"))
    assert warned == WARNING_CODES
    assert not warned & errors


def test_only_warnings_can_be_allowed() -> None:
    for code in sorted(CODES):
        warning = code in WARNING_CODES
        assert (pipeline.allow_problem(code, compat=False) is None) is warning, code
        compat_warning = warning or code in COMPAT_WARNINGS
        assert (pipeline.allow_problem(code, compat=True) is None) is compat_warning, code
    assert pipeline.allow_problem("SC999", compat=True) == "is not a selinonc diagnostic code"


@pytest.mark.parametrize(
    ("warnings", "allowed", "line"),
    [
        (0, 0, "checked 1 file: no problems found"),
        (0, 1, "checked 1 file: no problems found; 1 warning allowed"),
        (1, 2, "checked 1 file: 1 warning; 2 warnings allowed"),
    ],
)
def test_the_summary_counts_allowed_warnings(warnings: int, allowed: int, line: str) -> None:
    found = [Diagnostic.warning("SC502", Span("f", 1, 1), "m")] * warnings
    assert summary(found, 1, allowed) == line


def test_allow_leaves_out_only_the_warnings_with_that_code(tmp_path: Path) -> None:
    (tmp_path / "flows.yaml").write_text(PROJECT)
    files = [str(tmp_path / "flows.yaml")]
    assert sorted(d.code for d in pipeline.check(files).diagnostics) == ["SC502", "SC504"]
    result = pipeline.check(files, allow=["SC504"])
    assert [d.code for d in result.diagnostics] == ["SC502"]
    assert result.allowed == 1
    built = pipeline.build_package(files, allow=["SC504", "SC502"])
    assert (built.diagnostics, built.allowed) == ((), 2)
    assert built.files is not None


def test_global_allow_and_the_command_line_add_up(tmp_path: Path) -> None:
    (tmp_path / "flows.yaml").write_text(PROJECT + "global: {allow: [SC502]}\n")
    result = pipeline.check([str(tmp_path / "flows.yaml")], allow=["SC504"])
    assert (result.diagnostics, result.allowed) == ((), 2)


def test_a_build_blocker_is_not_allowed_away_in_build(tmp_path: Path) -> None:
    # SC507 (a task module that does not import) is a warning in check, an error in build
    (tmp_path / "flows.yaml").write_text(PROJECT.replace("myapp.tasks", "nowhere_to_be_found"))
    files = [str(tmp_path / "flows.yaml")]
    assert pipeline.check(files, allow=["SC507", "SC502", "SC504"]).diagnostics == ()
    built = pipeline.build_package(files, allow=["SC507", "SC502", "SC504"])
    assert [(d.code, d.severity.value) for d in built.diagnostics] == [("SC507", "error")]


def selinonc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "from selinonc.compiler.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, check=False
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--allow", "SC205"],
            "--allow SC205: SC205 is an error, and only warnings can be allowed",
        ),
        (
            ["--allow", "SC110"],
            "--allow SC110: SC110 is an error without --compat, and only warnings can be allowed",
        ),
        (["--allow", "SC999"], "--allow SC999: SC999 is not a selinonc diagnostic code"),
    ],
)
def test_allowing_a_code_that_is_not_a_warning_is_a_usage_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "flows.yaml").write_text(PROJECT)
    for command in (["check"], ["build", "-o", "pkg"], ["run", "--flow", "main"]):
        done = selinonc(*command, *args, "flows.yaml", cwd=tmp_path)
        assert done.returncode == 2, command
        assert done.stderr == f"selinonc: error: {message}\n"
    assert not (tmp_path / "pkg").exists()


def test_allow_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "flows.yaml").write_text(PROJECT)
    done = selinonc("check", "--allow", "SC502", "--allow", "sc504", "flows.yaml", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (
        0,
        "checked 1 file: no problems found; 2 warnings allowed\n",
    )
    done = selinonc("check", "--allow", "SC502", "--format", "json", "flows.yaml", cwd=tmp_path)
    assert json.loads(done.stdout)["summary"] == {
        "files": 1,
        "errors": 0,
        "warnings": 1,
        "allowed": 1,
    }
    done = selinonc(
        "build", "--allow", "SC502", "--allow", "SC504", "-o", "pkg", "flows.yaml", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "checked 1 file: no problems found; 2 warnings allowed\nwrote pkg:"
    )


def test_run_allows_only_when_it_checks_a_configuration(tmp_path: Path) -> None:
    done = selinonc("run", "--flow", "main", "--package", "pkg", "--allow", "SC502", cwd=tmp_path)
    assert done.returncode == 2
    assert "--allow applies to the configuration run checks" in done.stderr
