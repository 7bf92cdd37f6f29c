"""Every shell command the READMEs and docs show runs as written (issue 8.8).

Each ```sh block runs as one bash script with `set -e`, from the root of a copy of the
repository, with the venv's `selinonc` first on PATH, as after `make demo`. Lines that need a
Celery worker, and `make` itself, are run by their own tests (tests/celery/test_examples.py,
.ci/run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.buildkit import ROOT

# Commands whose own tests run them: a worker that runs until stopped, a script that needs one.
ELSEWHERE = ("make ", "celery ", "python -m fulfilment.start", "pip install")
DOCUMENTS = sorted(
    [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("examples/*/README.md")]
)
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".typecheck", "*_cache", "__pycache__", ".hypothesis", "build", "*.egg-info"
)


def _blocks(text: str) -> list[str]:
    return re.findall(r"^```(?:sh|bash)\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def _script(block: str) -> str:
    """The block's commands, joined where a line ends in a backslash, minus ELSEWHERE lines."""
    commands: list[str] = []
    for line in block.replace("\\\n", " ").splitlines():
        command = line.strip()
        if command and not command.startswith(ELSEWHERE):
            commands.append(command)
    return "\n".join(commands)


CASES = [
    pytest.param(doc, i, id=f"{doc.relative_to(ROOT)}-{i + 1}")
    for doc in DOCUMENTS
    for i, block in enumerate(_blocks(doc.read_text()))
    if _script(block)
]


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("readme") / "selinonc"
    shutil.copytree(ROOT, root, ignore=IGNORED)
    # The venv `make demo` made, which the README activates: the one running these tests.
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent)
    return root


@pytest.mark.parametrize(("doc", "index"), CASES)
def test_the_block_runs_as_written(doc: Path, index: int, copy: Path) -> None:
    script = _script(_blocks(doc.read_text())[index])
    relative = doc.relative_to(ROOT)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{relative}:\n{script}\n---\n{done.stdout}{done.stderr}"
