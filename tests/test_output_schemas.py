"""`output_schema` paths: only files in the nodes file's folder or below are read (SC513)."""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selinonc.compiler import pipeline
from tests.buildkit import ROOT, build_files, selinonc

# Line 4 of the nodes file is the task's `output_schema`; its value starts in column 20.
NODES = """tasks:
  - name: A
    import: tests.injection_support
    output_schema: {path}
    classname: Recorder
flows: [main]
flow-definitions:
  - name: main
    edges:
      - {{from: [], to: A}}
"""
SECRET = '{"title": "the secret of the machine", "type": "object"}'
VALID = '{"type": "object"}'
# The task class is tests.injection_support.Recorder, which build imports (SC507).
ENV = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _project(tmp_path: Path, path: str) -> Path:
    """A project in tmp_path/project with a valid schema in schemas/, and a secret outside."""
    project = tmp_path / "project"
    (project / "schemas").mkdir(parents=True)
    (project / "schemas" / "a.json").write_text(VALID)
    (tmp_path / "secret.json").write_text(SECRET)
    (project / "schemas" / "link.json").symlink_to(tmp_path / "secret.json")
    (project / "flows.yaml").write_text(NODES.format(path=path))
    return project


def _everything_written(root: Path) -> str:
    return "".join(p.read_text() for p in sorted(root.rglob("*")) if p.is_file())


@pytest.fixture(
    params=[
        ("../secret.json", "goes up out of the nodes file's folder"),
        ("schemas/../../secret.json", "goes up out of the nodes file's folder"),
        ("{secret}", "is an absolute path"),
        ("schemas/link.json", "leads out of the nodes file's folder through a symbolic link"),
    ],
    ids=["dotdot", "dotdot-inside-a-path", "absolute", "symlink"],
)
def escape(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, str]:
    """A project whose schema path leads to tmp_path/secret.json, and the reason SC513 gives."""
    path, reason = request.param
    path = path.format(secret=tmp_path / "secret.json")
    return _project(tmp_path, path), path, reason


@pytest.mark.parametrize(
    "args",
    [("check",), ("check", "--compat"), ("build", "-o", "pkg"), ("build", "--compat", "-o", "pkg")],
)
def test_a_schema_path_out_of_the_folder_is_an_error_at_its_line(
    escape: tuple[Path, str, str], args: tuple[str, ...]
) -> None:
    project, path, reason = escape
    done = selinonc(*args, "flows.yaml", cwd=project, env=ENV)
    assert done.returncode == 1
    assert (
        f"flows.yaml:4:20: error[SC513]: output schema {path!r} of task 'A' {reason}; "
        "selinonc reads output schemas only from '.' (the nodes file's folder) and below\n"
        in done.stdout
    )
    assert "hint: move the schema under '.'" in done.stdout
    assert "SC506" not in done.stdout
    assert "the secret" not in done.stdout + done.stderr
    assert not (project / "pkg").exists()


def test_build_check_does_not_show_a_schema_out_of_the_folder(
    escape: tuple[Path, str, str],
) -> None:
    project, path, _ = escape
    (project / "flows.yaml").write_text(NODES.format(path="schemas/a.json"))
    assert selinonc("build", "flows.yaml", "-o", "pkg", cwd=project, env=ENV).returncode == 0
    before = _everything_written(project / "pkg")
    (project / "flows.yaml").write_text(NODES.format(path=path))
    done = selinonc("build", "flows.yaml", "-o", "pkg", "--check", cwd=project, env=ENV)
    assert done.returncode == 1
    assert "error[SC513]" in done.stdout
    assert "the secret" not in done.stdout + done.stderr
    assert _everything_written(project / "pkg") == before


@pytest.fixture()
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The real paths of every file `open` opens while the test runs."""
    paths: list[str] = []
    real_open = builtins.open

    def spy(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)):
            paths.append(os.path.realpath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    yield paths


def test_a_schema_out_of_the_folder_is_never_opened(
    escape: tuple[Path, str, str], opened: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, _, _ = escape
    monkeypatch.chdir(project)
    for compat in (False, True):
        checked = pipeline.check(["flows.yaml"], compat=compat)
        built = pipeline.build_package(["flows.yaml"], compat=compat, allow=["SC507"])
        assert [d.code for d in checked.diagnostics] == ["SC513"]
        assert [d.code for d in built.diagnostics] == ["SC513"]
        assert built.files is None
    assert opened  # the spy saw the nodes file
    assert os.path.realpath(project.parent / "secret.json") not in opened


@pytest.mark.parametrize(
    "path",
    ["schemas/sub/b.json", "./schemas/sub/b.json", "schemas/../schemas/sub/b.json", "inside.json"],
)
def test_a_schema_in_a_subfolder_is_embedded(tmp_path: Path, path: str) -> None:
    project = _project(tmp_path, path)
    (project / "schemas" / "sub").mkdir()
    (project / "schemas" / "sub" / "b.json").write_text('{"type": "array"}')
    (project / "inside.json").symlink_to(project / "schemas" / "sub" / "b.json")  # stays inside
    files = build_files("flows.yaml", cwd=project)
    assert f'"{path}": {{"type": "array"}}' in files["tasks.py"]
    assert "the secret" not in "".join(files.values())


def test_a_nodes_folder_reached_through_a_symbolic_link_keeps_its_schemas(tmp_path: Path) -> None:
    project = _project(tmp_path, "schemas/a.json")
    (tmp_path / "link").symlink_to(project)
    files = build_files("link/flows.yaml", cwd=tmp_path)
    assert '"schemas/a.json": {"type": "object"}' in files["tasks.py"]


def test_lowering_refuses_a_schema_out_of_the_folder(
    escape: tuple[Path, str, str], opened: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # SC513 stops the build first; lowering checks again rather than trust its caller.
    from selinonc.compiler.lower.package import output_schemas

    project, _, _ = escape
    monkeypatch.chdir(project)
    model = pipeline.check(["flows.yaml"]).project
    assert model is not None
    with pytest.raises(ValueError, match="SC513"):
        output_schemas(model)
    assert os.path.realpath(project.parent / "secret.json") not in opened
