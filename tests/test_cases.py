"""Golden cases: every check code has a case folder whose exact diagnostics are pinned."""

from __future__ import annotations

import pytest

from selinonc.compiler import pipeline
from selinonc.compiler.cli.inputs import expand
from selinonc.compiler.diagnostics import CODES
from tests.golden import CASES, EXPECTED, INPUTS, case_names, case_options, chdir, run_case


@pytest.mark.parametrize("name", case_names())
def test_case_output_is_exact_and_stable(name: str) -> None:
    first = run_case(name)
    second = run_case(name)
    assert first == second, "checking the same input twice gave different output"
    text, code = first
    expected = (CASES / name / EXPECTED).read_text()
    assert f"# exit {code}\n{text}" == expected, "run `make golden` if the change is intended"


@pytest.mark.parametrize("name", [n for n in case_names() if n.startswith("SC")])
def test_case_reports_its_own_code(name: str) -> None:
    code = name.split("-", 1)[0]
    text, _ = run_case(name)
    assert f"[{code}]" in text


def test_every_code_has_a_golden_case() -> None:
    covered = {name.split("-", 1)[0] for name in case_names()}
    missing = sorted(set(CODES) - covered)
    assert not missing, f"codes without a golden case in tests/cases/: {missing}"


@pytest.mark.parametrize("name", case_names())
def test_case_builds_the_same_bytes_twice(name: str) -> None:
    with chdir(CASES / name):
        files = expand([INPUTS])
        compat, allow = case_options(name)
        first = pipeline.build_package(files, compat=compat, allow=allow)
        second = pipeline.build_package(files, compat=compat, allow=allow)
    assert first.diagnostics == second.diagnostics
    assert first.files == second.files
    if first.files is not None:  # a case without errors gives a package; it compiled in emit
        assert "__init__.py" in first.files
