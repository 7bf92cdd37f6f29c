"""A user's install: selinonc with the Celery, Redis and SQL extras (no dev extras) in a fresh venv
runs the order-fulfilment example on a real worker, as the example's README says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.buildkit import ROOT
from tests.celery.services import REDIS, require
from tests.celery.workers import run_fulfilment

# What a copy of the source tree leaves out: environments, caches and build products.
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".typecheck",
    "*_cache",
    "__pycache__",
    ".hypothesis",
    "build",
    "dist",
    "*.egg-info",
    "out",
)


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A venv holding `pip install '<copy of the source>[celery,redis,sql]'`, and that copy."""
    base = tmp_path_factory.mktemp("install")
    source = base / "selinonc"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    venv = base / "venv"
    created = _run([sys.executable, "-m", "venv", str(venv)])
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    installed = _run(
        [str(python), "-m", "pip", "install", "--quiet", f"{source}[celery,redis,sql]"],
        timeout=900,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv, source


def test_the_fresh_venv_has_no_dev_extras(fresh_install: tuple[Path, Path]) -> None:
    venv, _ = fresh_install
    for module in ("pytest", "hypothesis", "mypy", "ruff"):
        found = _run([str(venv / "bin" / "python"), "-c", f"import {module}"])
        assert found.returncode != 0, f"{module} is installed: the venv has the dev extras"
    # Neither the source tree nor this test environment leaks into the venv's imports.
    where = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import selinonc.runtime; print(selinonc.runtime.__file__)",
        ],
        cwd="/",
    )
    assert where.returncode == 0, where.stderr
    assert str(venv) in where.stdout


def test_the_order_fulfilment_example_runs_on_a_worker_of_the_fresh_venv(
    fresh_install: tuple[Path, Path],
) -> None:
    require(REDIS)
    venv, source = fresh_install
    example = source / "examples" / "order-fulfilment"
    queues = (
        "orders,inventory,payments,notifications,shipping,order_dispatchers,shipping_dispatchers"
    )
    done, log = run_fulfilment(
        example, queues.split(","), name="fresh", python=str(venv / "bin" / "python")
    )
    assert done.returncode == 0, done.stdout + done.stderr + log
    assert done.stdout.splitlines()[-1] == "fulfil_order: succeeded"
    assert "ModuleNotFoundError" not in log
