"""The command line: exit codes, text and JSON output, the schema, the version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from selinonc.compiler import __version__
from tests.golden import CASES

EXAMPLES = Path(__file__).parent.parent / "examples"


def selinonc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a fresh interpreter."""
    code = "from selinonc.compiler.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, check=False
    )


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()))
def test_every_example_checks_clean_with_and_without_compat(example: str) -> None:
    for extra in ((), ("--compat",)):
        # From the example's folder, as `make examples` builds it: its task modules import there.
        done = selinonc("check", ".", *extra, cwd=EXAMPLES / example)
        assert done.returncode == 0, done.stdout
        assert done.stdout.endswith("no problems found\n")
        assert done.stderr == ""


def test_errors_exit_1_and_print_what_the_golden_case_pins() -> None:
    case = CASES / "SC205-unknown-node"
    done = selinonc("check", "inputs", cwd=case)
    assert done.returncode == 1
    expected = (case / "expected.txt").read_text().split("\n", 1)[1]
    assert done.stdout == expected


def test_warnings_only_exit_0() -> None:
    done = selinonc("check", "inputs", cwd=CASES / "SC504-unused-task")
    assert done.returncode == 0
    assert "warning[SC504]" in done.stdout


def test_compat_turns_added_checks_into_warnings() -> None:
    case = CASES / "SC304-unconditional-cycle"
    assert selinonc("check", "inputs", cwd=case).returncode == 1
    done = selinonc("check", "--compat", "inputs", cwd=case)
    assert done.returncode == 0
    assert "warning[SC304]" in done.stdout


def test_json_format_holds_every_finding_with_its_position() -> None:
    done = selinonc("check", "--format", "json", "inputs", cwd=CASES / "SC205-unknown-node")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["summary"] == {"files": 2, "errors": 2, "warnings": 0, "allowed": 0}
    first = doc["diagnostics"][0]
    assert first == {
        "code": "SC205",
        "severity": "error",
        "file": "inputs/flows/ingest.yaml",
        "line": 7,
        "column": 13,
        "message": "flow 'ingest' uses 'Resise', which is neither a task nor a flow",
        "hint": "did you mean 'Resize'?",
    }


@pytest.mark.parametrize(
    "args",
    [("check", "does-not-exist.yaml"), ("check",), ("check", "--format", "xml", "x"), ("nope",)],
)
def test_usage_errors_exit_2_without_a_traceback(args: tuple[str, ...], tmp_path: Path) -> None:
    done = selinonc(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr


def test_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = selinonc("check", "empty", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "selinonc: error: empty: directory holds no *.yaml or *.yml file\n"


def test_schema_command_prints_the_packaged_schema() -> None:
    done = selinonc("schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == {"tasks", "flows", "storages", "global", "flow-definitions"}


def test_version() -> None:
    done = selinonc("--version")
    assert (done.returncode, done.stdout) == (0, f"selinonc {__version__}\n")
